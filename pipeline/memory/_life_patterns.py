"""The pattern families about the shopper's life: pets, household, diet, allergies, home and
handedness (budget, brand, size and use are in _patterns.py, which puts all of them in order). Pure."""

from __future__ import annotations

import re

from pipeline.memory._grammar import BE, NUMBER, NUMBERS, OFTEN, START, Rule, compile_rules, fixed, group

# ---- pets --------------------------------------------------------------------------------------------

_DOG_BREEDS = ("labrador", "lab", "retriever", "poodle", "beagle", "terrier", "husky", "shepherd", "bulldog", "frenchie",
               "chihuahua", "dachshund", "corgi", "pug", "doodle", "goldendoodle", "labradoodle", "collie", "spaniel",
               "greyhound", "whippet", "rottweiler", "mastiff", "pit bull", "pitbull", "shih tzu", "yorkie", "schnauzer",
               "dalmatian", "great dane", "sheepdog", "hound", "mutt", "boxer", "pomeranian", "maltese", "cockapoo")
_PET_OF = {"dog": "dog", "dogs": "dog", "puppy": "puppy", "puppies": "puppy", "pup": "puppy", "pups": "puppy",
           "doggo": "dog", "pooch": "dog", "cat": "cat", "cats": "cat", "kitty": "cat",
           "kitten": "kitten", "kittens": "kitten", "rabbit": "rabbit", "rabbits": "rabbit", "bunny": "rabbit",
           "bunnies": "rabbit", "hamster": "hamster", "hamsters": "hamster", "guinea pig": "guinea pig",
           "guinea pigs": "guinea pig", "bird": "bird", "birds": "bird", "parrot": "parrot", "parrots": "parrot",
           "budgie": "bird", "parakeet": "bird", "fish": "fish", "goldfish": "fish", "turtle": "turtle",
           "tortoise": "turtle", "lizard": "lizard", "gecko": "lizard", "snake": "snake", "horse": "horse",
           "horses": "horse", "ferret": "ferret", "chickens": "chicken", **{b: "dog" for b in _DOG_BREEDS},
           **{b + "s": "dog" for b in _DOG_BREEDS}}
_PET = "(?P<pet>" + "|".join(sorted((re.escape(p) for p in _PET_OF), key=len, reverse=True)) + ")"
_PET_GOODS = r"(?![\w-])(?!\s+(?:beds?|food|foods|toys?|crates?|leash|harness|collars?|bowls?|treats?|trees?|litter|doors?|gates?|houses?" \
    r"|carriers?|hair|shampoo|brush|kennel|cage|tank|feeder|fountain|sitter|walker|walking|stuff|supplies)\b)"
_PET_RULES = [
    rf"\b(?:i|we)(?:\s+(?:also|still|now|just|recently))?(?:\s+(?:have|own|got|adopted|rescued|foster|keep|raise)|'ve\s+(?:got|adopted)|\s+have\s+got)"
    rf"\s+(?:{NUMBER}\s+)?(?:[\w-]+\s+){{0,3}}?{_PET}{_PET_GOODS}",
    rf"\b(?:my|our)\s+(?:[\w-]+\s+){{0,2}}?{_PET}{_PET_GOODS}",
    rf"\bi(?:'m|\s+am)\s+a\s+(?:proud\s+)?{_PET}\s+(?:owner|mom|mum|dad|parent)",
]
_PET_MORE = rf"\s*(?:,|and|&|plus)\s*(?:and\s+)?(?:{NUMBER}\s+)?(?:[\w-]+\s+)?{_PET}{_PET_GOODS}"

# ---- household ---------------------------------------------------------------------------------------

_WHO = {"kid": "kid", "kids": "kids", "child": "kid", "children": "kids", "toddler": "toddler", "toddlers": "toddlers",
        "baby": "baby", "babies": "babies", "newborn": "baby", "newborns": "babies", "infant": "baby", "infants": "babies",
        "teenager": "teenager", "teenagers": "teenagers", "teen": "teenager", "teens": "teenagers", "twins": "twins",
        "son": "son", "sons": "sons", "daughter": "daughter", "daughters": "daughters", "boys": "boys", "girls": "girls"}
_WHO_WORD = "(?P<who>" + "|".join(sorted(_WHO, key=len, reverse=True)) + ")"
_KID_GOODS = r"(?![\w-])(?!\s+(?:monitor|gate|stroller|seat|bottles?|carrier|food|toys?|clothes|shower|proof|safe|friendly)\b)"
_HAVE = r"(?:\s+(?:have|got)|'ve\s+got|\s+have\s+got)"
_HOUSEHOLD_RULES = [
    (rf"\b(?:i|we)(?:{BE}\s+(?:expecting|pregnant)|{_HAVE}\s+a\s+baby\s+on\s+the\s+way)|\bbaby\s+on\s+the\s+way", fixed("baby on the way")),
    (rf"\b(?:i|we){_HAVE}\s+(?:a|an|one)\s+(?P<age>\d{{1,2}}|one|two|three|four|five|six|seven|eight|nine|ten)[\s-]*(?P<unit>year|month|week)s?[\s-]*old\b", None),
    (rf"\b(?:we{BE}\s+a|(?:our|my)\s+family\s+is\s+(?:a\s+)?|i\s+have\s+a|i'?m\s+a)\s*family\s+of\s+(?P<n>\d|two|three|four|five|six|seven|eight)\b", None),
    (r"\b(?:i|we)(?:\s+just|\s+recently)?\s+had\s+(?:a|our)\s+(?:first\s+|second\s+|third\s+|new\s+)?(?P<who>baby|son|daughter|kid|child)\b", None),
    (rf"{START}(?:a\s+)?family\s+of\s+(?P<n>\d|two|three|four|five|six|seven|eight)\b", None),
    (r"\bthere\s+are\s+(?P<n>\d|two|three|four|five|six|seven|eight)\s+of\s+us\b", None),
    (rf"\b(?:i|we){_HAVE}\s+(?P<n>a|an|one|two|three|four|five|six|\d)?\s*(?:(?:young|little|small|teenage|grown|newborn|twin)\s+)?{_WHO_WORD}{_KID_GOODS}", None),
    (rf"\bi\s+live\s+(?:alone|by\s+myself|on\s+my\s+own)\b|{START}it'?s\s+just\s+me(?=\s*(?:$|[.!?;,]))", fixed("lives alone")),
    (r"\b(?:it'?s\s+just\s+me\s+and|i\s+live\s+with)\s+my\s+(?:husband|wife|partner|boyfriend|girlfriend|fianc\w*|spouse)\b", fixed("couple")),
    (r"\b(?:my\s+(?:husband|wife|partner|boyfriend|girlfriend|fianc\w*|spouse)\s+and\s+i|me\s+and\s+my\s+(?:husband|wife|partner"
     r"|boyfriend|girlfriend|fianc\w*|spouse))\s+(?:live|share|rent|own)\b", fixed("couple")),
    (r"\b(?:i|we)\s+(?:live|share\s+(?:a|an|my|our|the)?\s*(?:\w+\s+){0,2}?(?:place|apartment|flat|house|home|condo))\s+with\s+(?:\w+\s+)?"
     r"(?:roommates|flatmates|housemates)\b", fixed("roommates")),
    (r"\bi(?:'m|\s+am)\s+a\s+(?:(?:single|stay-at-home|busy|working)\s+)*(?:mom|mum|dad|mother|father|parent)\s+of\s+(?P<n>two|three|four|five|\d)\b", None),
    (r"\bi(?:'m|\s+am)\s+a\s+(?:new|first-time)\s+(?:mom|mum|dad|mother|father|parent)\b", fixed("baby")),
    (rf"\bmy\s+(?:(?:little|young|newborn|teenage)\s+)?(?P<who>toddler|baby|newborn|kids|children|twins|teenagers){_KID_GOODS}", None),
]

_HOUSEHOLD_MORE = rf"\s*(?:,|and|&)\s*(?:and\s+)?(?P<n>a|an|one|two|three|four|five|six|\d)?\s*(?:(?:young|little|small|teenage|grown|newborn|twin)\s+)?{_WHO_WORD}{_KID_GOODS}"


def _household(match: re.Match[str]) -> str | None:
    found = match.groupdict()
    if found.get("age"):
        age = {v: k for k, v in NUMBERS.items()}.get(found["age"].lower(), found["age"])
        return f"{age}-{found['unit'].lower()}-old"
    count = (found.get("n") or "").lower()
    count = NUMBERS.get(count, count)
    if "family of" in match.group(0).lower() or "of us" in match.group(0).lower():
        return f"family of {count}"
    if found.get("who") is None:
        return f"{count} kids"  # "a mom of three"
    who = _WHO[found["who"].lower()]
    return who if count in ("", "a", "an", "one") else f"{count} {who}"


# ---- diet --------------------------------------------------------------------------------------------

_DIETS = {"vegetarian": "vegetarian", "veggie": "vegetarian", "vegan": "vegan", "plant-based": "plant-based",
          "plant based": "plant-based", "pescatarian": "pescatarian", "pescetarian": "pescatarian",
          "gluten-free": "gluten-free", "gluten free": "gluten-free", "celiac": "gluten-free", "coeliac": "gluten-free",
          "gluten intolerant": "gluten-free", "gluten-intolerant": "gluten-free", "dairy-free": "dairy-free",
          "dairy free": "dairy-free", "lactose intolerant": "lactose-free", "lactose-intolerant": "lactose-free",
          "lactose-free": "lactose-free", "lactose free": "lactose-free", "keto": "keto", "ketogenic": "keto",
          "paleo": "paleo", "halal": "halal", "kosher": "kosher", "low-carb": "low-carb", "low carb": "low-carb",
          "diabetic": "diabetic", "sugar-free": "sugar-free", "whole30": "whole30"}
_DIET = "(?P<diet>" + "|".join(sorted((re.escape(d) for d in _DIETS), key=len, reverse=True)) + r")\b"
_NO_FOOD = {"meat": "vegetarian", "red meat": "no red meat", "gluten": "gluten-free", "wheat": "gluten-free",
            "dairy": "dairy-free", "lactose": "lactose-free", "pork": "no pork", "animal products": "vegan",
            "sugar": "sugar-free", "carbs": "low-carb"}
_DIET_RULES = [
    (rf"\b(?:i|we){BE}(?:\s+(?:a|an|strictly|strict|fully|mostly|now|also|completely|totally|pretty\s+much|basically))*\s+{_DIET}", group("diet", _DIETS)),
    (rf"\b(?:i|we)(?:'ve|\s+have)\s+(?:been|gone|become|turned)\s+(?:a\s+)?{_DIET}", group("diet", _DIETS)),
    (rf"\b(?:i|we){BE}\s+(?:doing|following|eating)\s+(?:a\s+)?{_DIET}", group("diet", _DIETS)),
    (rf"{START}(?P<food>{'|'.join(_NO_FOOD)})\s+(?:makes\s+me\s+(?:sick|ill|bloated)|doesn'?t\s+agree\s+with\s+me|upsets\s+my\s+stomach)",
     group("food", _NO_FOOD)),
    (rf"\b(?:i|we)\s+{OFTEN}(?:eat|keep|follow|do|went|eat\s+only)\s+(?:a\s+)?(?:strict\s+|strictly\s+)?{_DIET}", group("diet", _DIETS)),
    (rf"\b(?:i|we){BE}\s+on\s+(?:a|the)\s+(?:strict\s+)?{_DIET}", group("diet", _DIETS)),
    (r"\b(?:i|we)(?:\s+have|'ve\s+got)\s+(?:a\s+)?(?P<diet>celiac|coeliac)(?:\s+disease)?", group("diet", _DIETS)),
    (r"\b(?:i|we)(?:\s+have|'ve\s+got)\s+(?:a\s+)?(?P<food>gluten|lactose)\s+intolerance", group("food", _NO_FOOD)),
    (rf"\b(?:i|we)\s+{OFTEN}(?:(?:don'?t|do\s+not|never|can'?t|cannot|no\s+longer)\s+(?:eat|have|do|consume|tolerate|digest)|avoid|(?:stay|keep)\s+away\s+from|cut\s+out)"
     rf"\s+(?:any\s+)?(?P<food>{'|'.join(sorted(_NO_FOOD, key=len, reverse=True))})\b", group("food", _NO_FOOD)),
    (rf"{START}as\s+(?:a|an)\s+{_DIET}", group("diet", _DIETS)),
    (rf"{START}no\s+(?P<food>{'|'.join(sorted(_NO_FOOD, key=len, reverse=True))})\s+for\s+(?:me|us)\b", group("food", _NO_FOOD)),
]
_DIET_MORE = rf"\s*(?:,|and|&)\s*(?:and\s+)?(?:also\s+)?(?:a\s+)?{_DIET}"

# ---- allergies ---------------------------------------------------------------------------------------

_STOP = r"(?:so|but|and|or|which|that|are|is|was|the|these|this|it|they|i|we|my|in|on|at|for|with|too|as|though|now|too|any|anything|please|if)"
_ALLERGEN = rf"(?:(?:both|either|all|most)\s+)?(?P<item>(?!{_STOP}\b)[a-z][a-z-]*(?:\s+(?!{_STOP}\b)(?![a-z]+ly\b)[a-z][a-z-]*)?)"
_ALLERGENS = {"peanut": "peanuts", "nut": "nuts", "tree nut": "tree nuts", "egg": "eggs", "almond": "almonds",
              "cashew": "cashews", "strawberry": "strawberries", "bee sting": "bee stings", "fragrance": "fragrances"}
_ALLERGY_RULES = [
    rf"\b(?:i|we){BE}(?:\s+(?:very|severely|really|also|highly|extremely|deathly|super|mildly|slightly))*\s+allergic\s+to\s+(?:the\s+|some\s+|most\s+|all\s+)?{_ALLERGEN}",
    rf"\b(?:i|we)(?:\s+have|'ve\s+got|\s+got|\s+suffer\s+from)\s+(?:a\s+|an\s+|some\s+)?(?:(?:severe|mild|bad|serious|strong|slight|life-threatening)\s+)?{_ALLERGEN}\s+allerg(?:y|ies)",
    rf"\bmy\s+(?:(?:severe|mild|bad|serious)\s+)?{_ALLERGEN}\s+allerg(?:y|ies)",
    rf"\b(?:i|we)(?:\s+have|'ve\s+got|\s+get|\s+suffer\s+from)\s+(?:\w+\s+)?allerg(?:y|ies)\s+to\s+{_ALLERGEN}",
    rf"\b(?:i|we)(?:{BE}\s+(?:\w+\s+)?sensitive\s+to|\s+{OFTEN}(?:react|break\s+out)\s+(?:\w+\s+)?(?:to|from))\s+{_ALLERGEN}",
    rf"{START}(?:(?:very|severely|deathly|also|super)\s+)?allergic\s+to\s+(?:the\s+|some\s+|most\s+|all\s+)?{_ALLERGEN}",
    rf"{START}as\s+(?:someone|somebody|a\s+person)\s+with\s+(?:a|an)\s+(?:(?:severe|bad|serious)\s+)?{_ALLERGEN}\s+allergy",
]
_ALLERGY_MORE = rf"\s*(?:,|and|&|or)\s*(?:and\s+|or\s+)?{_ALLERGEN}"


def _allergen(match: re.Match[str]) -> str | None:
    raw = " ".join(match.group("item").lower().split())
    return _ALLERGENS.get(raw, raw)


# ---- home ----------------------------------------------------------------------------------------------

_ROOMY = {"small": "small", "tiny": "small", "little": "small", "cramped": "small", "compact": "small", "narrow": "small",
          "big": "large", "large": "large", "huge": "large", "spacious": "large"}
_DWELLINGS = {"apartment": "apartment", "flat": "apartment", "studio apartment": "studio apartment", "studio": "studio apartment",
              "studio flat": "studio apartment", "condo": "condo", "house": "house", "home": "home", "place": "home",
              "townhouse": "townhouse", "dorm": "dorm", "dorm room": "dorm", "loft": "loft", "cabin": "cabin", "rv": "rv",
              "camper van": "rv", "tiny house": "tiny house", "mobile home": "mobile home", "space": "space",
              "kitchen": "kitchen", "bedroom": "bedroom", "room": "room", "bathroom": "bathroom", "living room": "living room",
              "garage": "garage", "yard": "yard", "garden": "garden", "balcony": "balcony", "farm": "farm", "ranch": "ranch",
              "boat": "boat", "houseboat": "boat"}
_ROOMY_WORD = "|".join(_ROOMY)
_LIVE_IN = r"apartment|flat|studio\s+apartment|studio\s+flat|studio|condo|house|home|townhouse|dorm\s+room|dorm|loft|cabin|rv|camper\s+van|tiny\s+house|mobile\s+home|space"
_HOME_RULES = [
    rf"\b(?:i|we)\s+(?:live|stay)\s+on\s+(?:a|an|the|my|our)\s+(?:(?P<roomy>{_ROOMY_WORD})\s+)?(?P<dwelling>farm|ranch|boat|houseboat)\b",
    rf"\b(?:i|we)(?:\s+(?:live|stay)\s+in|{BE}\s+in|\s+rent|\s+own|\s+share|(?:\s+just|'ve\s+just|\s+recently)?\s+moved\s+(?:in)?to|\s+have)\s+"
    rf"(?:a|an|the|my|our)?\s*(?:(?P<roomy>{_ROOMY_WORD})\s+)?(?:(?:new|old|rented|shared|\w+-bed(?:room)?|\d+\s+bed(?:room)?|(?:one|two|three|four)\s+bed(?:room)?)\s+)*(?P<dwelling>{_LIVE_IN})\b"
    r"(?=\s*(?:$|[,.;!?]|(?:with|and|so|in|that|but|now|which|where|near|by|downtown|for)\b))",
    rf"\b(?:my|our)\s+(?P<dwelling>{'|'.join(sorted(_DWELLINGS, key=len, reverse=True))})\s+is\s+"
    rf"(?:(?:really|very|pretty|quite|so|super|rather|a\s+bit|kind\s+of)\s+)*(?P<roomy>{_ROOMY_WORD})\b",
    r"\b(?:i|we)(?:\s+(?:don'?t|do\s+not)\s+have\s+(?:much|a\s+lot\s+of|enough|any)|(?:\s+have|'ve\s+got)\s+(?:very\s+)?(?:limited|little|not\s+much))"
    r"\s+(?:space|room|storage)\b",
]


def _home(match: re.Match[str]) -> str | None:
    found = match.groupdict()
    if not found.get("dwelling"):
        return "small space"
    said = " ".join(found["dwelling"].lower().split())
    if found.get("roomy") and f"{found['roomy'].lower()} {said}" in _DWELLINGS:
        return _DWELLINGS[f"{found['roomy'].lower()} {said}"]  # "a tiny house" is a kind of home
    dwelling = _DWELLINGS[said]
    roomy = _ROOMY.get((found.get("roomy") or "").lower(), "")
    return f"{roomy} {dwelling}".strip()


# ---- handedness --------------------------------------------------------------------------------------

_HAND_RULES = [
    r"\bi(?:'m|\s+am)\s+(?:a\s+)?(?P<side>left|right)[\s-]?hand(?:ed|er)\b",
    r"\bi(?:'m|\s+am)\s+a\s+(?:lefty|leftie|southpaw)\b",
    r"\bi\s+(?:write|eat|play)\s+(?:with\s+my\s+)?left(?:\s+hand|-handed)?\b",
]


def _hand(match: re.Match[str]) -> str | None:
    side = (match.groupdict().get("side") or "left").lower()
    return f"{side}-handed"


LIFE_RULES: tuple[Rule, ...] = (
    *compile_rules("pets", _PET_RULES, group("pet", _PET_OF), more=_PET_MORE),
    *(Rule("household", re.compile(p, re.IGNORECASE), value or _household, re.compile(_HOUSEHOLD_MORE, re.IGNORECASE))
      for p, value in _HOUSEHOLD_RULES),
    *(Rule("diet", re.compile(p, re.IGNORECASE), value, re.compile(_DIET_MORE, re.IGNORECASE) if "(?P<diet>" in p else None)
      for p, value in _DIET_RULES),
    *compile_rules("allergies", _ALLERGY_RULES, _allergen, more=_ALLERGY_MORE),
    *compile_rules("home", _HOME_RULES, _home),
    *compile_rules("handedness", _HAND_RULES, _hand),
)
"""The families of this module, key by key, in the order RULES takes them."""
