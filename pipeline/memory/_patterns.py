"""One pattern family per preference key, and the value each match stands for. Pure.

Every pattern starts at the shopper as subject ("I", "we", "my", "our"), so other people's tastes
("my friend likes Sony", "she's vegan") never match; the negation, question and hypothetical guards
live in pipeline/memory/_clauses.py. `Rule.value` turns a match into the stored value; list keys
(pets, use, diet, allergies) also read what follows a match ("a dog and a cat", "vegan and gluten
free") with `Rule.more`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.alerts.phrases import parse_decimal_cents

LIST_KEYS = frozenset({"pets", "use", "diet", "allergies"})
"""Keys whose value may name several things, comma-separated ("dog, cat")."""

_I = re.IGNORECASE
_START = r"(?:^|(?<=[.!?;,\n]))\s*"
"""The start of a clause (patterns that only count there)."""
_NUMBERS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight",
            "9": "nine", "10": "ten"}
_NUMBER = r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2}|a couple of|several|some)"
_BE = r"(?:'m|\s+am|'re|\s+are)"
_OFTEN = r"(?:(?:really|usually|always|mostly|generally|typically|normally|just|only|also|still|often|regularly|"\
    r"sometimes|definitely|absolutely|pretty much|kind of|kinda|tend to)\s+)*"


@dataclass(frozen=True)
class Rule:
    key: str
    pattern: re.Pattern[str]
    value: Callable[[re.Match[str]], str | None]
    more: re.Pattern[str] | None = None
    """For list keys: one more item right after a match (its `value` read the same way)."""


def _group(name: str, table: dict[str, str] | None = None) -> Callable[[re.Match[str]], str | None]:
    def read(match: re.Match[str]) -> str | None:
        raw = " ".join((match.group(name) or "").lower().split())
        return table.get(raw, raw) if table is not None else raw or None
    return read


def _fixed(value: str) -> Callable[[re.Match[str]], str | None]:
    return lambda match: value


# ---- budget ---------------------------------------------------------------------------------------

_NOT_MONEY = r"(?!\s*(?:%|percent|minutes?|hours?|days?|weeks?|months?|years?|lbs?|pounds?|kg|miles?|km|inch|inches|ft|feet|oz|gb|tb|watts?|times?|people|kids|items?|pairs?|packs?|pk|sets?|pieces?)\b)"
_MONEY = rf"(?:\$?\s?\d[\d,]*(?:\.\d{{1,2}})?\s?(?:-|–|to)\s?)?(?P<money>\$\s?\d[\d,]*(?:\.\d{{1,2}})?(?:\s?k\b)?|\d[\d,]*(?:\.\d{{1,2}})?(?:\s?k\b)?\s?(?:dollars|bucks|usd)\b|\d[\d,]*(?:\.\d{{1,2}})?\b{_NOT_MONEY})"
_GAP = r"(?:(?!\b(?:was|were|used|would|could|might)\b)[^.?!;$\d]){0,30}?"
"""A sum of money; of a range ("20-30 bucks") the upper end. Words between what announces a budget and its amount ("my budget is always tight, like $20"); a
past or a supposed budget ("my budget was $80", "would be") is not the shopper's budget now."""


def _cents(match: re.Match[str]) -> str | None:
    raw = match.group("money").lower().replace("$", "").replace("dollars", "").replace("bucks", "").replace("usd", "")
    raw = raw.strip()
    thousands = raw.endswith("k")
    raw = raw.rstrip("k ").strip()
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?", raw):
        raw = raw.replace(",", "")
    cents = parse_decimal_cents(raw)
    if cents is None:
        return None
    return str(cents * 1000 if thousands else cents)


_BUDGET = [
    # "my budget is usually under $30", "my spending limit is $120", "our budget is $300 or less"
    rf"\b(?:my|our)\s+(?:\w+\s+)?(?:budget|max|maximum|limit|price\s+range|cap|ceiling)\b{_GAP}{_MONEY}",
    # "budget is around $150", "budget: $60", "Max budget $40", "Spending cap for me is $70" (a clause's start)
    rf"{_START}(?:(?:the|max|maximum|total)\s+)?(?:budget|spending\s+(?:cap|limit)|price\s+(?:cap|limit))"
    rf"(?:'s|\s+is|\s*:|\s+of|\s+for\s+(?:me|us)(?:\s+is)?)?\s+(?:(?:about|around|roughly|usually|only|like|up\s+to|under|below)\s+)*{_MONEY}",
    # "I'm on a tight budget, around $20", "i'm on a budget of 30 usd", "I'm a student on a budget of $40"
    rf"\b(?:i|we){_BE}\s+(?:[\w-]+\s+){{0,3}}?(?:on|working\s+with|sticking\s+to)\s+(?:a|an|my|our)?\s*(?:\w+\s+){{0,2}}budget\b{_GAP}{_MONEY}",
    rf"\b(?:i|we)(?:'ve|\s+have)?\s+{_OFTEN}(?:set|put)\s+aside\s+(?:about\s+|around\s+|roughly\s+)?{_MONEY}",
    # "I can spend up to 80 dollars", "I typically don't go above $50", "I'd like to stay under $35"
    rf"\b(?:i|we)(?:'d|'ll|'m|'re|'ve)?\s+(?:[\w']+\s+){{0,3}}?(?:spend(?:ing)?|pay(?:ing)?|afford|go(?:ing)?\s+(?:above|over|beyond|past)"
    rf"|stay\s+(?:under|below|within|around|at)|keep\s+(?:it|things|purchases|spending|costs?|prices?)|cap\s+(?:it|things|spending)"
    rf"|budget|top\s+out)\b{_GAP}{_MONEY}",
    # "I have about $45 to spend"
    rf"\b(?:i|we)(?:'ve)?\s+{_OFTEN}(?:have|got|have\s+got)\s+(?:about\s+|around\s+|roughly\s+|only\s+|maybe\s+|up\s+to\s+|just\s+)?"
    rf"{_MONEY}\s+(?:to\s+(?:spend|play\s+with|work\s+with)|in\s+total|total|budget|max|for\s+(?:this|it|that|gifts?|a\s+gift))",
    # "I'm broke, nothing over $15", "money is tight, $25 tops"
    rf"\b(?:(?:i|we){_BE}\s+(?:\w+\s+)?(?:broke|tight\s+on\s+(?:money|cash))|money(?:'s|\s+is)\s+(?:\w+\s+)?tight)\b{_GAP}{_MONEY}",
    rf"{_START}(?:nothing|not\s+a\s+penny)\s+(?:over|above|more\s+than)\s+{_MONEY}",
    # "$50 is my max", "anything over $100 is too much for me"
    rf"{_MONEY}\s+(?:is|'s)\s+(?:my|our)\s+(?:budget|max|maximum|limit)",
    rf"{_START}anything\s+(?:over|above|more\s+than)\s+{_MONEY}\s+is\s+(?:too\s+(?:much|expensive|pricey|steep)|out\s+of\s+(?:my|our)\s+budget)",
]

# ---- brand (the brand itself keeps its case: "I prefer lighter ones" names no brand) ---------------

_BRAND = r"(?P<brand>(?:The\s+)?[A-Z][\w&'+-]*(?:\s+[A-Z][\w&'+-]*)?)"
_ANY_CASE_BRAND = r"(?P<lower>[a-z][\w&'+-]*(?:\s+(?!(?:and|but|so|because|for|i|we)\b)[a-z][\w&'+-]*)?)(?=\s*(?:$|[.!?;,]))"
"""After "my favourite brand is", a brand written in lower case ("north face") is still one."""
_NOT_BRANDS = frozenset({"I", "It", "The", "This", "That", "Them", "They", "Those", "These", "A", "An", "My", "Your",
                         "One", "Both", "All", "Everything", "Anything", "Something", "Nothing", "Him", "Her", "You"})
_BRAND_RULES = [
    rf"(?i:\b(?:i|we)\s+{_OFTEN}(?:prefer|like|love|trust|buy|(?:end\s+up\s+|keep\s+)?buying|wear|go\s+(?:with|for)|stick\s+(?:with|to)|swear\s+by|rely\s+on)\s+{_OFTEN}){_BRAND}",
    rf"(?i:\b(?:i|we)(?:'m|\s+am|'re)?\b[^.?!;,]{{0,40}}?\band\s+{_OFTEN}(?:like|love|prefer|trust|buy)\s+{_OFTEN}){_BRAND}",
    rf"(?i:\b(?:i|we){_BE}\s+team\s+){_BRAND}",
    rf"(?i:\b(?:i|we)(?:'ve|\s+have)\s+(?:always\s+)?(?:liked|loved|trusted|preferred|stuck\s+with|gone\s+with|bought)\s+){_BRAND}",
    rf"(?i:\b(?:i|we){_BE}\s+(?:(?:a|an|such\s+a|really|very|huge|big|massive|long-?time|loyal|die-?hard)\s+)*(?:fan\s+of|loyal\s+to|devoted\s+to|into)\s+){_BRAND}",
    rf"(?i:{_START}(?:(?:a|huge|big|massive|long-?time|loyal|die-?hard)\s+)*fan\s+of\s+){_BRAND}",
    rf"(?i:(?:\b(?:i|we)(?:{_BE}|(?:'ve|\s+have)\s+been)|{_START}been)\s+(?:a|an)\s+(?:(?:huge|big|massive|long-?time|loyal|die-?hard|total)\s+)*){_BRAND}"
    r"(?i:\s+(?:person|guy|girl|fan|loyalist|household|family|user|customer|house|shooter|owner|buyer))\b",
    rf"(?i:\bmy\s+(?:favou?rite|preferred|go-to|usual)\s+brand\s+(?:is|has\s+always\s+been|has\s+been)\s+)(?:{_BRAND}|{_ANY_CASE_BRAND})",
    rf"{_BRAND}(?i:\s+(?:is|has\s+always\s+been)\s+my\s+(?:favou?rite|preferred|go-to)\s+brand)",
]


def _brand(match: re.Match[str]) -> str | None:
    if "lower" in match.re.groupindex and match.group("lower"):
        return " ".join(word.capitalize() for word in match.group("lower").split())
    brand = " ".join(match.group("brand").split())
    if brand.lower() in _SIZE_NAMES:
        return None  # "I wear XL"
    if brand.endswith("'s") and re.match(r"\s+[a-z]", match.string[match.end("brand"):]):
        brand = brand[:-2]  # "I love Apple's design"; "I buy mostly Levi's" keeps the name
    return None if brand in _NOT_BRANDS or brand.split()[0] in _NOT_BRANDS - {"The"} else brand


# ---- size ------------------------------------------------------------------------------------------

_SIZE_NAMES = frozenset({"xs", "s", "m", "l", "xl", "xxl", "xxxl", "xxs"})
_SIZES = {"small": "S", "medium": "M", "large": "L", "x-large": "XL", "extra large": "XL", "extra-large": "XL",
          "x-small": "XS", "extra small": "XS", "extra-small": "XS"}
_SIZE_WORD = r"(?:xx?s|s|m|l|xx?l|xxxl|small|medium|large|x-large|extra[- ]large|x-small|extra[- ]small)"
_SIZE = rf"(?P<size>\d{{1,2}}(?:\.5)?(?![\d.]){_NOT_MONEY}|{_SIZE_WORD}\b)"
_GENDERED = r"(?:women'?s|men'?s|womens|mens|kids'?|boys'?|girls'?|ladies'?)"
_SIZE_RULES = [
    rf"\b(?:my|our)\s+(?:(?:usual|normal|shoe|dress|shirt|t-shirt|pants?|ring|jeans|jacket|coat|clothing|clothes|glove|hat|bra|waist)\s+)?"
    rf"size\s+is\s+(?:usually\s+|normally\s+|about\s+|around\s+)?(?:a\s+|an\s+)?(?:size\s+)?{_SIZE}",
    rf"\bi\s+{_OFTEN}(?:wear|take|fit)\s+(?:(?:in|into)\s+)?(?:a\s+|an\s+)?(?:{_GENDERED}\s+)?(?:size\s+)?{_SIZE}",
    rf"\bi\s+{_OFTEN}(?:get|buy|order)\s+(?:a\s+|an\s+)(?:{_GENDERED}\s+)?(?:size\s+)?{_SIZE}",
    rf"{_START}(?:(?:shoe|dress|shirt|pants?|ring|jeans|jacket|coat)\s+)?size\s+{_SIZE}\s+here\b",
    rf"{_START}(?:a\s+|an\s+)?(?:size\s+)?{_SIZE}\s+(?:usually\s+|always\s+)?(?:fits|suits)\s+me\b",
    rf"\bi(?:'m|\s+am)\s+{_OFTEN}(?:a\s+|an\s+)?size\s+{_SIZE}",
    rf"\bi(?:'m|\s+am)\s+{_OFTEN}(?:a\s+|an\s+)?(?P<size>\d{{1,2}}(?:\.5)?)\s+(?=(?:in|for|waist|inseam|chest|neck|wide|regular|long|short)\b)",
    rf"\bi(?:'m|\s+am)\s+{_OFTEN}(?:a\s+|an\s+)?(?P<size>{_SIZE_WORD})(?=\s+(?:in|for)\b|\s*(?:$|[.!?;,]))",
]


def _size(match: re.Match[str]) -> str | None:
    raw = " ".join(match.group("size").lower().split())
    return _SIZES.get(raw, raw.upper())


# ---- use (hobbies and activities) ------------------------------------------------------------------

_HOBBY_FORMS: dict[str, tuple[str, ...]] = {
    # canonical: (gerund or noun, activity nouns, person nouns, verbs)
    "hiking": ("hiking", "hiker", "hike"), "running": ("running", "jogging", "runner", "jogger", "marathons", "run", "jog"),
    "camping": ("camping", "camper", "camp"), "cycling": ("cycling", "biking", "cyclist", "biker", "cycle", "bike"),
    "gaming": ("gaming", "gamer", "video games", "game"), "swimming": ("swimming", "swimmer", "swim"), "yoga": ("yoga",),
    "fishing": ("fishing", "fisherman", "angler", "fish"), "skiing": ("skiing", "skier", "ski"),
    "snowboarding": ("snowboarding", "snowboarder", "snowboard"), "climbing": ("climbing", "climber", "climb"),
    "cooking": ("cooking", "cook"), "baking": ("baking", "baker", "bake"),
    "travel": ("traveling", "travelling", "travel", "traveler", "traveller"), "gardening": ("gardening", "gardener", "garden"),
    "photography": ("photography", "photographer"), "woodworking": ("woodworking", "woodworker"),
    "knitting": ("knitting", "knitter", "knit"), "sewing": ("sewing", "sew"), "surfing": ("surfing", "surfer", "surf"),
    "golf": ("golf", "golfing", "golfer"), "tennis": ("tennis",), "hunting": ("hunting", "hunter", "hunt"),
    "weightlifting": ("weightlifting", "weight lifting", "weight training", "lifting weights", "lift weights"),
    "fitness": ("working out", "work out", "the gym"), "reading": ("reading", "reader"),
}
_HOBBY_OF = {form: name for name, forms in _HOBBY_FORMS.items() for form in forms}
_HOBBY_OF.update({"ride": "cycling", "bike ride": "cycling", "bicycle": "cycling"})
_VERBS = frozenset({"game", "lift weights", "work out", "hike", "run", "jog", "camp", "cycle", "bike", "swim", "fish", "ski", "snowboard", "climb", "cook", "bake",
                    "travel", "garden", "knit", "sew", "surf", "golf", "hunt"})
_ANY_HOBBY = "|".join(sorted((re.escape(f) for f in _HOBBY_OF), key=len, reverse=True))
_VERB_HOBBY = "|".join(sorted(_VERBS, key=len, reverse=True))
_HOBBY = rf"(?P<hobby>{_ANY_HOBBY})\b"
_TRANSITIVE = r"(?!\s+(?-i:[A-Z]))(?!\s+(?:an?|the|my|our|your|his|her|their|this|that|these|those|it|them|out|into|errands)\b(?!\s+(?:lot|bunch|few|ton)\b))"
_USE_RULES = [
    rf"\b(?:i|we)\s+{_OFTEN}(?:love|like|enjoy|adore)\s+(?:to\s+)?{_HOBBY}",
    rf"\b(?:i|we)\s+{_OFTEN}go\s+{_HOBBY}",
    rf"\b(?:i|we){_BE}\s+{_OFTEN}(?:(?:big|huge)\s+)?into\s+{_HOBBY}",
    rf"\b(?:i|we)\s+{_OFTEN}do\s+(?:a\s+lot\s+of\s+|lots\s+of\s+|some\s+|a\s+bit\s+of\s+)?{_HOBBY}",
    rf"\bi(?:'m|\s+am)\s+(?:a|an)\s+(?:(?:keen|avid|big|huge|serious|passionate|amateur|professional|pro|hobby|weekend|casual"
    rf"|long-distance|trail|home|beginner|new|frequent|ultra)\s+)*{_HOBBY}",
    rf"\b(?:i|we)\s+{_OFTEN}(?P<hobby>{_VERB_HOBBY})\b{_TRANSITIVE}",
    rf"\b(?:i|we)\s+{_OFTEN}play\s+(?:a\s+lot\s+of\s+)?(?:(?P<hobby>golf|tennis|video\s+games)|(?:pc|computer|console)\s+games)",
    rf"\bmy\s+(?:main\s+|favou?rite\s+|big\s+)?(?:hobby\s+is|hobbies\s+are)\s+{_HOBBY}",
    rf"{_START}{_HOBBY}\s+is\s+my\s+(?:main\s+|favou?rite\s+|big\s+)?(?:hobby|passion|thing)",
    rf"\bi\s+use\s+(?:it|them|this|one|something|these)\s+for\s+{_HOBBY}",
    rf"\b(?:i|we)\s+{_OFTEN}spend\s+(?:my\s+|our\s+|most\s+|a\s+lot\s+of\s+|all\s+|every\s+)?(?:weekends?|evenings?|mornings?"
    rf"|summers?|winters?|free\s+time|spare\s+time|time|days?|holidays?|vacations?)\s+{_HOBBY}",
    rf"\b(?:i|we)\s+{_OFTEN}go\s+(?:for\s+(?:a\s+)?|to\s+)(?P<hobby>run|jog|hike|swim|bike\s+ride|ride|the\s+gym)\b",
    rf"\b(?:i|we)\s+{_OFTEN}(?:commute|get\s+around|ride)\s+(?:by|on\s+(?:my|a))\s+(?P<hobby>bike|bicycle)\b",
]
_WORK_FROM_HOME = r"\bi\s+(?:mostly\s+|usually\s+)?(?:work|am\s+working|'m\s+working)\s+(?:from\s+home|remotely)"


def _hobby(match: re.Match[str]) -> str | None:
    raw = " ".join((match.group("hobby") or "video games").lower().split())
    return _HOBBY_OF.get(raw)


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
    rf"\s+(?:{_NUMBER}\s+)?(?:[\w-]+\s+){{0,3}}?{_PET}{_PET_GOODS}",
    rf"\b(?:my|our)\s+(?:[\w-]+\s+){{0,2}}?{_PET}{_PET_GOODS}",
    rf"\bi(?:'m|\s+am)\s+a\s+(?:proud\s+)?{_PET}\s+(?:owner|mom|mum|dad|parent)",
]
_PET_MORE = rf"\s*(?:,|and|&|plus)\s*(?:and\s+)?(?:{_NUMBER}\s+)?(?:[\w-]+\s+)?{_PET}{_PET_GOODS}"

# ---- household ---------------------------------------------------------------------------------------

_WHO = {"kid": "kid", "kids": "kids", "child": "kid", "children": "kids", "toddler": "toddler", "toddlers": "toddlers",
        "baby": "baby", "babies": "babies", "newborn": "baby", "newborns": "babies", "infant": "baby", "infants": "babies",
        "teenager": "teenager", "teenagers": "teenagers", "teen": "teenager", "teens": "teenagers", "twins": "twins",
        "son": "son", "sons": "sons", "daughter": "daughter", "daughters": "daughters", "boys": "boys", "girls": "girls"}
_WHO_WORD = "(?P<who>" + "|".join(sorted(_WHO, key=len, reverse=True)) + ")"
_KID_GOODS = r"(?![\w-])(?!\s+(?:monitor|gate|stroller|seat|bottles?|carrier|food|toys?|clothes|shower|proof|safe|friendly)\b)"
_HAVE = r"(?:\s+(?:have|got)|'ve\s+got|\s+have\s+got)"
_HOUSEHOLD_RULES = [
    (rf"\b(?:i|we)(?:{_BE}\s+(?:expecting|pregnant)|{_HAVE}\s+a\s+baby\s+on\s+the\s+way)|\bbaby\s+on\s+the\s+way", _fixed("baby on the way")),
    (rf"\b(?:i|we){_HAVE}\s+(?:a|an|one)\s+(?P<age>\d{{1,2}}|one|two|three|four|five|six|seven|eight|nine|ten)[\s-]*(?P<unit>year|month|week)s?[\s-]*old\b", None),
    (rf"\b(?:we{_BE}\s+a|(?:our|my)\s+family\s+is\s+(?:a\s+)?|i\s+have\s+a|i'?m\s+a)\s*family\s+of\s+(?P<n>\d|two|three|four|five|six|seven|eight)\b", None),
    (r"\b(?:i|we)(?:\s+just|\s+recently)?\s+had\s+(?:a|our)\s+(?:first\s+|second\s+|third\s+|new\s+)?(?P<who>baby|son|daughter|kid|child)\b", None),
    (rf"{_START}(?:a\s+)?family\s+of\s+(?P<n>\d|two|three|four|five|six|seven|eight)\b", None),
    (r"\bthere\s+are\s+(?P<n>\d|two|three|four|five|six|seven|eight)\s+of\s+us\b", None),
    (rf"\b(?:i|we){_HAVE}\s+(?P<n>a|an|one|two|three|four|five|six|\d)?\s*(?:(?:young|little|small|teenage|grown|newborn|twin)\s+)?{_WHO_WORD}{_KID_GOODS}", None),
    (rf"\bi\s+live\s+(?:alone|by\s+myself|on\s+my\s+own)\b|{_START}it'?s\s+just\s+me(?=\s*(?:$|[.!?;,]))", _fixed("lives alone")),
    (r"\b(?:it'?s\s+just\s+me\s+and|i\s+live\s+with)\s+my\s+(?:husband|wife|partner|boyfriend|girlfriend|fianc\w*|spouse)\b", _fixed("couple")),
    (r"\b(?:my\s+(?:husband|wife|partner|boyfriend|girlfriend|fianc\w*|spouse)\s+and\s+i|me\s+and\s+my\s+(?:husband|wife|partner"
     r"|boyfriend|girlfriend|fianc\w*|spouse))\s+(?:live|share|rent|own)\b", _fixed("couple")),
    (r"\b(?:i|we)\s+(?:live|share\s+(?:a|an|my|our|the)?\s*(?:\w+\s+){0,2}?(?:place|apartment|flat|house|home|condo))\s+with\s+(?:\w+\s+)?"
     r"(?:roommates|flatmates|housemates)\b", _fixed("roommates")),
    (r"\bi(?:'m|\s+am)\s+a\s+(?:(?:single|stay-at-home|busy|working)\s+)*(?:mom|mum|dad|mother|father|parent)\s+of\s+(?P<n>two|three|four|five|\d)\b", None),
    (r"\bi(?:'m|\s+am)\s+a\s+(?:new|first-time)\s+(?:mom|mum|dad|mother|father|parent)\b", _fixed("baby")),
    (rf"\bmy\s+(?:(?:little|young|newborn|teenage)\s+)?(?P<who>toddler|baby|newborn|kids|children|twins|teenagers){_KID_GOODS}", None),
]

_HOUSEHOLD_MORE = rf"\s*(?:,|and|&)\s*(?:and\s+)?(?P<n>a|an|one|two|three|four|five|six|\d)?\s*(?:(?:young|little|small|teenage|grown|newborn|twin)\s+)?{_WHO_WORD}{_KID_GOODS}"


def _household(match: re.Match[str]) -> str | None:
    found = match.groupdict()
    if found.get("age"):
        age = {v: k for k, v in _NUMBERS.items()}.get(found["age"].lower(), found["age"])
        return f"{age}-{found['unit'].lower()}-old"
    count = (found.get("n") or "").lower()
    count = _NUMBERS.get(count, count)
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
    (rf"\b(?:i|we){_BE}(?:\s+(?:a|an|strictly|strict|fully|mostly|now|also|completely|totally|pretty\s+much|basically))*\s+{_DIET}", _group("diet", _DIETS)),
    (rf"\b(?:i|we)(?:'ve|\s+have)\s+(?:been|gone|become|turned)\s+(?:a\s+)?{_DIET}", _group("diet", _DIETS)),
    (rf"\b(?:i|we){_BE}\s+(?:doing|following|eating)\s+(?:a\s+)?{_DIET}", _group("diet", _DIETS)),
    (rf"{_START}(?P<food>{'|'.join(_NO_FOOD)})\s+(?:makes\s+me\s+(?:sick|ill|bloated)|doesn'?t\s+agree\s+with\s+me|upsets\s+my\s+stomach)",
     _group("food", _NO_FOOD)),
    (rf"\b(?:i|we)\s+{_OFTEN}(?:eat|keep|follow|do|went|eat\s+only)\s+(?:a\s+)?(?:strict\s+|strictly\s+)?{_DIET}", _group("diet", _DIETS)),
    (rf"\b(?:i|we){_BE}\s+on\s+(?:a|the)\s+(?:strict\s+)?{_DIET}", _group("diet", _DIETS)),
    (r"\b(?:i|we)(?:\s+have|'ve\s+got)\s+(?:a\s+)?(?P<diet>celiac|coeliac)(?:\s+disease)?", _group("diet", _DIETS)),
    (r"\b(?:i|we)(?:\s+have|'ve\s+got)\s+(?:a\s+)?(?P<food>gluten|lactose)\s+intolerance", _group("food", _NO_FOOD)),
    (rf"\b(?:i|we)\s+{_OFTEN}(?:(?:don'?t|do\s+not|never|can'?t|cannot|no\s+longer)\s+(?:eat|have|do|consume|tolerate|digest)|avoid|(?:stay|keep)\s+away\s+from|cut\s+out)"
     rf"\s+(?:any\s+)?(?P<food>{'|'.join(sorted(_NO_FOOD, key=len, reverse=True))})\b", _group("food", _NO_FOOD)),
    (rf"{_START}as\s+(?:a|an)\s+{_DIET}", _group("diet", _DIETS)),
    (rf"{_START}no\s+(?P<food>{'|'.join(sorted(_NO_FOOD, key=len, reverse=True))})\s+for\s+(?:me|us)\b", _group("food", _NO_FOOD)),
]
_DIET_MORE = rf"\s*(?:,|and|&)\s*(?:and\s+)?(?:also\s+)?(?:a\s+)?{_DIET}"

# ---- allergies ---------------------------------------------------------------------------------------

_STOP = r"(?:so|but|and|or|which|that|are|is|was|the|these|this|it|they|i|we|my|in|on|at|for|with|too|as|though|now|too|any|anything|please|if)"
_ALLERGEN = rf"(?:(?:both|either|all|most)\s+)?(?P<item>(?!{_STOP}\b)[a-z][a-z-]*(?:\s+(?!{_STOP}\b)(?![a-z]+ly\b)[a-z][a-z-]*)?)"
_ALLERGENS = {"peanut": "peanuts", "nut": "nuts", "tree nut": "tree nuts", "egg": "eggs", "almond": "almonds",
              "cashew": "cashews", "strawberry": "strawberries", "bee sting": "bee stings", "fragrance": "fragrances"}
_ALLERGY_RULES = [
    rf"\b(?:i|we){_BE}(?:\s+(?:very|severely|really|also|highly|extremely|deathly|super|mildly|slightly))*\s+allergic\s+to\s+(?:the\s+|some\s+|most\s+|all\s+)?{_ALLERGEN}",
    rf"\b(?:i|we)(?:\s+have|'ve\s+got|\s+got|\s+suffer\s+from)\s+(?:a\s+|an\s+|some\s+)?(?:(?:severe|mild|bad|serious|strong|slight|life-threatening)\s+)?{_ALLERGEN}\s+allerg(?:y|ies)",
    rf"\bmy\s+(?:(?:severe|mild|bad|serious)\s+)?{_ALLERGEN}\s+allerg(?:y|ies)",
    rf"\b(?:i|we)(?:\s+have|'ve\s+got|\s+get|\s+suffer\s+from)\s+(?:\w+\s+)?allerg(?:y|ies)\s+to\s+{_ALLERGEN}",
    rf"\b(?:i|we)(?:{_BE}\s+(?:\w+\s+)?sensitive\s+to|\s+{_OFTEN}(?:react|break\s+out)\s+(?:\w+\s+)?(?:to|from))\s+{_ALLERGEN}",
    rf"{_START}(?:(?:very|severely|deathly|also|super)\s+)?allergic\s+to\s+(?:the\s+|some\s+|most\s+|all\s+)?{_ALLERGEN}",
    rf"{_START}as\s+(?:someone|somebody|a\s+person)\s+with\s+(?:a|an)\s+(?:(?:severe|bad|serious)\s+)?{_ALLERGEN}\s+allergy",
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
    rf"\b(?:i|we)(?:\s+(?:live|stay)\s+in|{_BE}\s+in|\s+rent|\s+own|\s+share|(?:\s+just|'ve\s+just|\s+recently)?\s+moved\s+(?:in)?to|\s+have)\s+"
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


def _compile(key: str, patterns: list[str], value: Callable[[re.Match[str]], str | None], flags: int = _I,
             more: str | None = None) -> list[Rule]:
    return [Rule(key, re.compile(p, flags), value, re.compile(more, flags) if more else None) for p in patterns]


RULES: tuple[Rule, ...] = (
    *_compile("budget_cents", _BUDGET, _cents),
    *_compile("brand", _BRAND_RULES, _brand, flags=0),
    *_compile("size", _SIZE_RULES, _size),
    *_compile("use", [*_USE_RULES, _WORK_FROM_HOME], lambda m: "working from home" if "hobby" not in m.re.groupindex else _hobby(m),
              more=rf"\s*(?:,|and|&)\s*(?:and\s+)?{_HOBBY}"),
    *_compile("pets", _PET_RULES, _group("pet", _PET_OF), more=_PET_MORE),
    *(Rule("household", re.compile(p, _I), value or _household, re.compile(_HOUSEHOLD_MORE, _I)) for p, value in _HOUSEHOLD_RULES),
    *(Rule("diet", re.compile(p, _I), value, re.compile(_DIET_MORE, _I) if "(?P<diet>" in p else None)
      for p, value in _DIET_RULES),
    *_compile("allergies", _ALLERGY_RULES, _allergen, more=_ALLERGY_MORE),
    *_compile("home", _HOME_RULES, _home),
    *_compile("handedness", _HAND_RULES, _hand),
)
"""Every rule, key by key; within a key the first match in the text wins (list keys take them all)."""
