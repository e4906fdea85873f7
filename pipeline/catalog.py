"""The real catalog: product pages and review sets from ../shared/data/catalog, as frozen records.

    read_catalog(shared_data)        -> Catalog (every product, review set and malformed line)
    read_products(path, malformed)   -> Iterator[Product]     streaming, one line at a time
    read_review_sets(path, malformed)-> Iterator[ReviewSet]
    infer_category(product)          -> str                   one of CATEGORIES, inferred from the text

A malformed line (bad JSON, a missing or mistyped field) never stops a reader: it is recorded as a
`MalformedLine(line_no, reason)` in the list the caller passes, and reading goes on. Line numbers
start at 1. Reading is plain synchronous file I/O (the files total about 9 MiB); async callers run
`read_catalog` in a thread.

The data has no prices, ratings or category paths (see ../shared/data/README.md). `infer_category`
gives a coarse category from keyword rules over the title and the `binding` attribute; it is labelled
*inferred* wherever the store keeps it, and documented in docs/store.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

PRODUCTS_FILE = Path("catalog") / "products.jsonl"
REVIEW_SETS_FILE = Path("catalog") / "review_sets.jsonl"


@dataclass(frozen=True)
class Attribute:
    """A semi-structured attribute, e.g. name "item_weight", value "0.18 kilograms (0.4 pounds)"."""

    name: str
    value: str
    """A readable rendering of the source text; "" when the source attribute is empty."""


@dataclass(frozen=True)
class QAPair:
    """A community question and its answer, from the product page."""

    question: str
    answer: str


@dataclass(frozen=True)
class Product:
    """One product page from products.jsonl. Snippet texts are lower-cased in the source."""

    asin: str
    title: str
    attributes: tuple[Attribute, ...] = ()
    bullets: tuple[str, ...] = ()
    description: tuple[str, ...] = ()
    reviews: tuple[str, ...] = ()
    """Review *sentences*, not whole reviews (ePQA keeps one sentence per candidate)."""
    community_qa: tuple[QAPair, ...] = ()

    def attribute(self, name: str) -> str | None:
        """The value of the first attribute called `name`, or None."""
        for attr in self.attributes:
            if attr.name == name:
                return attr.value
        return None


@dataclass(frozen=True)
class Review:
    """A full customer review; `rating` is 1-5 stars, present only for the Copycat/FewSum sets."""

    review_id: str
    text: str
    rating: int | None = None


@dataclass(frozen=True)
class ReviewSet:
    """Full reviews of one product that has no page in products.jsonl (no title either)."""

    asin: str
    category: str
    """The source's own category, e.g. "Home & Kitchen" or "Bluetooth headsets"."""
    source: str
    """copycat_fewsum | oposum"""
    licence: str
    reviews: tuple[Review, ...]


@dataclass(frozen=True)
class MalformedLine:
    """A line a reader skipped, and why."""

    line_no: int
    reason: str


@dataclass(frozen=True)
class Catalog:
    """Everything under catalog/, read in file order."""

    products: tuple[Product, ...]
    review_sets: tuple[ReviewSet, ...]
    malformed: tuple[tuple[str, MalformedLine], ...]
    """(file name, line) for every skipped line of either file."""


class _Malformed(Exception):
    """A record that does not have the documented fields; caught per line."""


def read_catalog(shared_data: Path) -> Catalog:
    """Read both catalog files under `shared_data`.

    Raises ConfigError when a file is missing or unreadable (the folder comes from AISLE_SHARED_DATA).
    Malformed lines do not raise; they are listed in `Catalog.malformed`.
    """
    bad_products: list[MalformedLine] = []
    bad_sets: list[MalformedLine] = []
    products = tuple(read_products(shared_data / PRODUCTS_FILE, bad_products))
    review_sets = tuple(read_review_sets(shared_data / REVIEW_SETS_FILE, bad_sets))
    malformed = tuple(("products.jsonl", m) for m in bad_products) + tuple(
        ("review_sets.jsonl", m) for m in bad_sets
    )
    return Catalog(products=products, review_sets=review_sets, malformed=malformed)


def read_products(path: Path, malformed: list[MalformedLine] | None = None) -> Iterator[Product]:
    """Yield each well-formed product of a products.jsonl file, appending bad lines to `malformed`.

    Raises ConfigError if the file cannot be opened or read.
    """
    for line_no, record in _records(path, malformed):
        try:
            yield _product(record)
        except _Malformed as exc:
            _note(malformed, line_no, str(exc))


def read_review_sets(path: Path, malformed: list[MalformedLine] | None = None) -> Iterator[ReviewSet]:
    """Yield each well-formed review set of a review_sets.jsonl file, appending bad lines to `malformed`.

    Raises ConfigError if the file cannot be opened or read.
    """
    for line_no, record in _records(path, malformed):
        try:
            yield _review_set(record)
        except _Malformed as exc:
            _note(malformed, line_no, str(exc))


# --- inferred categories --------------------------------------------------------------------------

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


# --- parsing --------------------------------------------------------------------------------------


def _records(path: Path, malformed: list[MalformedLine] | None) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot open catalog file {path}: {exc}") from exc
    with handle:
        line_no = 0
        while True:
            try:
                line = handle.readline()
            except (OSError, UnicodeDecodeError) as exc:
                # A decode error leaves the stream unusable, so the file ends here.
                _note(malformed, line_no + 1, f"unreadable: {exc}")
                return
            if not line:
                return
            line_no += 1
            if not line.strip():
                _note(malformed, line_no, "empty line")
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                _note(malformed, line_no, f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(record, dict):
                _note(malformed, line_no, f"expected a JSON object, got {type(record).__name__}")
                continue
            yield line_no, record


def _note(malformed: list[MalformedLine] | None, line_no: int, reason: str) -> None:
    if malformed is not None:
        malformed.append(MalformedLine(line_no=line_no, reason=reason))


def _str(record: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _Malformed(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def _list(record: Mapping[str, Any], key: str) -> list[Any]:
    value = record.get(key, [])
    if not isinstance(value, list):
        raise _Malformed(f"field {key!r} must be a list, got {type(value).__name__}")
    return value


def _objects(record: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = _list(record, key)
    for item in items:
        if not isinstance(item, dict):
            raise _Malformed(f"every item of {key!r} must be an object")
    return items


def _strings(record: Mapping[str, Any], key: str) -> tuple[str, ...]:
    items = _list(record, key)
    for item in items:
        if not isinstance(item, str):
            raise _Malformed(f"every item of {key!r} must be a string")
    return tuple(items)


def _product(record: Mapping[str, Any]) -> Product:
    asin = _str(record, "asin")
    if not asin:
        raise _Malformed("field 'asin' is empty")
    return Product(
        asin=asin,
        title=_str(record, "title"),
        attributes=tuple(
            Attribute(name=_str(a, "name"), value=_str(a, "value", required=False))
            for a in _objects(record, "attributes")
        ),
        bullets=_strings(record, "bullets"),
        description=_strings(record, "description"),
        reviews=tuple(_str(r, "text") for r in _objects(record, "reviews")),
        community_qa=tuple(
            QAPair(question=_str(q, "question"), answer=_str(q, "answer"))
            for q in _objects(record, "community_qa")
        ),
    )


def _rating(review: Mapping[str, Any]) -> int | None:
    rating = review.get("rating")
    if rating is None:
        return None
    # bool is an int subclass; a JSON true is not a star rating.
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise _Malformed(f"rating must be an integer 1-5, got {rating!r}")
    return rating


def _review_set(record: Mapping[str, Any]) -> ReviewSet:
    asin = _str(record, "asin")
    if not asin:
        raise _Malformed("field 'asin' is empty")
    return ReviewSet(
        asin=asin,
        category=_str(record, "category"),
        source=_str(record, "source"),
        licence=_str(record, "licence"),
        reviews=tuple(
            Review(review_id=_str(r, "review_id"), text=_str(r, "text"), rating=_rating(r))
            for r in _objects(record, "reviews")
        ),
    )
