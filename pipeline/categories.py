"""Coarse product categories, inferred: the catalog has no category paths (../shared/data/README.md).

    infer_category(product)          -> str   one of CATEGORIES, from the `binding` attribute or the title
    review_set_category(review_set)  -> str   one of CATEGORIES, from a review set's own source category

Keyword rules over the title and the `binding` attribute: deterministic and cheap, but a guess, so it
is labelled *inferred* wherever the store keeps it (category_source "inferred"), and documented in
docs/store.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline.catalog import Product, ReviewSet

CATEGORIES: tuple[str, ...] = (
    "appliance_parts",
    "automotive",
    "baby",
    "beauty",
    "clothing",
    "computers",
    "electronics",
    "grocery",
    "health",
    "home_kitchen",
    "musical_instruments",
    "office",
    "patio_garden",
    "pet_supplies",
    "software",
    "sports_outdoors",
    "tools_home_improvement",
    "toys_games",
    "video_games",
    "other",
)
"""Coarse categories, slugs. "other" is what no rule matched."""

# The `binding` attribute is Amazon's own product group, so it wins over title keywords.
_BINDING_CATEGORY: Mapping[str, str] = {
    "kitchen": "home_kitchen",
    "health_and_beauty": "health",
    "office_product": "office",
    "lawn_and_garden": "patio_garden",
    "wireless_phone_accessory": "electronics",
    "automotive": "automotive",
    "sports": "sports_outdoors",
    "sports_apparel": "clothing",
    "apparel": "clothing",
    "toy": "toys_games",
    "game_video": "video_games",
    "grocery": "grocery",
    "pc": "computers",
    "dvd_rom": "software",
    "cd_rom": "software",
    "consumer_electronics": "electronics",
    "home_improvement": "tools_home_improvement",
    "baby_product": "baby",
}

# Ordered: the first rule with a keyword in the title wins, so specific rules come before broad ones
# ("replacement filter" is a part before "vacuum" makes it an appliance). Keywords match whole words
# of the lower-cased title; a trailing "*" matches any ending.
_TITLE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("video_games", ("playstation", "xbox", "nintendo", "gamecube", "wii", "ps2", "ps3", "ps4")),
    ("software", ("software", "windows", "microsoft office", "cd-rom", "dvd-rom", "mysoftware")),
    ("appliance_parts", (
        "part number", "replacement part*", "genuine part*", "filter", "filters", "gasket",
        "igniter", "control panel", "valve", "replacement",
    )),
    ("pet_supplies", ("pet*", "dog*", "cat", "cats", "puppy", "puppies", "kitten*", "aquarium",
                      "litter*", "parrot", "bird", "reptile", "turtle", "fish")),
    ("baby", ("baby", "infant*", "crib", "toddler*", "nursery", "playard", "stroller", "nurser")),
    ("toys_games", ("toy", "toys", "lego", "puzzle*", "game", "games", "doll*", "play",
                    "kids", "melissa & doug", "ages", "playset", "board game", "plush")),
    ("musical_instruments", ("guitar*", "amp", "drum*", "cajon", "piano", "keyboard stand",
                             "music stand", "sheet music", "ukulele", "violin", "microphone*",
                             "xlr", "strings")),
    ("automotive", ("car", "truck", "auto", "automotive", "trailer", "rv", "tire*", "motorcycle",
                    "fuel filter", "oil filter", "battery charger", "jack", "undercoating", "horn")),
    ("computers", ("laptop*", "computer*", "printer*", "scanner", "monitor*", "usb", "keyboard",
                   "mouse", "ink", "toner", "router", "hard drive", "ethernet", "memory card",
                   "flash memory", "microsd*")),
    ("electronics", ("tv", "television", "headset*", "headphone*", "speaker*", "camera*",
                     "binocular*", "telephone", "phone", "calculator", "radio", "tripod",
                     "batter*", "charger", "cable", "power cord", "hdmi", "remote", "lens")),
    ("beauty", ("makeup", "hair", "nail*", "manicure", "pedicure", "facial", "skin*", "lotion",
                "shampoo", "perfume", "fragrance", "cosmetic*", "mirror", "flat iron", "sunscreen",
                "mask")),
    ("health", ("vitamin*", "supplement*", "capsule*", "tablets", "caps", "blood pressure",
                "sphygmomanometer", "massager", "medical", "first aid", "toilet safety", "support",
                "brace", "pain", "herb", "herbal")),
    ("grocery", ("tea", "coffee", "chocolate*", "candy", "lollipop*", "cookie*", "snack*",
                 "rice", "milk", "cheese", "sauce", "spice*", "flour", "honey", "food",
                 "beverage", "cake", "juice", "gluten-free", "vegan")),
    ("clothing", ("shirt*", "pants", "jacket", "coat", "dress", "shoe*", "boot*", "sock*", "glove*",
                  "hat", "cap", "apparel", "jewelry", "bracelet", "necklace", "men's", "women's")),
    ("sports_outdoors", ("golf", "bike", "bicycle", "basketball", "backboard", "fitness",
                         "workout", "yoga", "swim", "camping", "tent", "hunting", "fishing", "recoil",
                         "sport*", "outdoor*", "snow", "ski")),
    ("patio_garden", ("garden*", "lawn", "grill*", "patio", "pool", "fertilizer", "soil", "seed*",
                      "plant*", "trimmer", "blower", "mower", "hose", "sprouter")),
    ("office", ("pen", "pens", "pencil*", "paper", "labels", "envelope*", "stapler", "binder*",
                "office", "cards", "ink", "marker*", "notebook*", "crayon*", "art", "canvas",
                "watercolor*", "dry erase", "laminating")),
    ("tools_home_improvement", ("tool*", "drill", "saw", "sander", "nail gun", "glue", "adhesive",
                                "caulk", "putty", "paint", "hardware", "stain", "epoxy", "thermostat", "toilet",
                                "driver", "lock", "tape", "blade*", "screw*", "wrench", "pump*",
                                "fan", "vent", "light", "lamp", "heater", "hanger", "weatherstrip")),
    ("home_kitchen", ("kitchen", "cookware", "pan", "pot", "wok", "roaster", "knife", "knives",
                      "flatware", "kettle", "blender", "mixer", "oven", "microwave", "cup*",
                      "bottle*", "towel*", "bed*", "mattress", "pillow*", "curtain*", "rug",
                      "vacuum*", "washer", "dryer", "sewing", "storage", "furniture", "table",
                      "chair", "lamp", "clock", "distiller", "cooker", "armoire", "freezer", "refrigerator",
                      "tray", "stool", "tote", "carpet", "cleaner", "odor")),
)


def _compile(keyword: str) -> str:
    if keyword.endswith("*"):
        return rf"\b{re.escape(keyword[:-1])}\w*"
    return rf"\b{re.escape(keyword)}\b"


_TITLE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (category, re.compile("|".join(_compile(k) for k in keywords)))
    for category, keywords in _TITLE_RULES
)


def infer_category(product: Product) -> str:
    """A coarse category (one of CATEGORIES) inferred from the `binding` attribute, else the title.

    Deterministic and cheap; it is a guess, so the store keeps it with category_source "inferred".
    """
    binding = product.attribute("binding")
    if binding is not None:
        for part in binding.split(";"):
            category = _BINDING_CATEGORY.get(part.strip())
            if category is not None:
                return category
    title = product.title.lower()
    for category, pattern in _TITLE_PATTERNS:
        if pattern.search(title):
            return category
    return "other"


_REVIEW_SET_CATEGORY: Mapping[str, str] = {
    "Clothing, Shoes & Jewelry": "clothing",
    "Electronics": "electronics",
    "Health & Personal Care": "health",
    "Home & Kitchen": "home_kitchen",
    "Laptop bags & cases": "computers",
    "Bluetooth headsets": "electronics",
    "Boots": "clothing",
    "Keyboards": "computers",
    "Televisions": "electronics",
    "Vacuums": "home_kitchen",
}


def review_set_category(review_set: ReviewSet) -> str:
    """The coarse category (one of CATEGORIES) of a review set's own source category; "other" if new."""
    return _REVIEW_SET_CATEGORY.get(review_set.category, "other")
