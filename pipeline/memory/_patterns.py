"""One pattern family per preference key, and the value each match stands for. Pure.

Every pattern starts at the shopper as subject ("I", "we", "my", "our"), so other people's tastes
("my friend likes Sony", "she's vegan") never match; the negation, question and hypothetical guards
live in pipeline/memory/_clauses.py. `Rule.value` turns a match into the stored value; list keys
(pets, use, diet, allergies) also read what follows a match ("a dog and a cat", "vegan and gluten
free") with `Rule.more`.

Here: budget, brand, size and use, and `RULES`, every family in order; the families about the
shopper's life are in _life_patterns.py, and what all of them are made of in _grammar.py.
"""

from __future__ import annotations

import re

from pipeline.alerts.phrases import parse_decimal_cents
from pipeline.memory._grammar import BE, OFTEN, START, Rule, compile_rules
from pipeline.memory._life_patterns import LIFE_RULES

LIST_KEYS = frozenset({"pets", "use", "diet", "allergies"})
"""Keys whose value may name several things, comma-separated ("dog, cat")."""


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
    rf"{START}(?:(?:the|max|maximum|total)\s+)?(?:budget|spending\s+(?:cap|limit)|price\s+(?:cap|limit))"
    rf"(?:'s|\s+is|\s*:|\s+of|\s+for\s+(?:me|us)(?:\s+is)?)?\s+(?:(?:about|around|roughly|usually|only|like|up\s+to|under|below)\s+)*{_MONEY}",
    # "I'm on a tight budget, around $20", "i'm on a budget of 30 usd", "I'm a student on a budget of $40"
    rf"\b(?:i|we){BE}\s+(?:[\w-]+\s+){{0,3}}?(?:on|working\s+with|sticking\s+to)\s+(?:a|an|my|our)?\s*(?:\w+\s+){{0,2}}budget\b{_GAP}{_MONEY}",
    rf"\b(?:i|we)(?:'ve|\s+have)?\s+{OFTEN}(?:set|put)\s+aside\s+(?:about\s+|around\s+|roughly\s+)?{_MONEY}",
    # "I can spend up to 80 dollars", "I typically don't go above $50", "I'd like to stay under $35"
    rf"\b(?:i|we)(?:'d|'ll|'m|'re|'ve)?\s+(?:[\w']+\s+){{0,3}}?(?:spend(?:ing)?|pay(?:ing)?|afford|go(?:ing)?\s+(?:above|over|beyond|past)"
    rf"|stay\s+(?:under|below|within|around|at)|keep\s+(?:it|things|purchases|spending|costs?|prices?)|cap\s+(?:it|things|spending)"
    rf"|budget|top\s+out)\b{_GAP}{_MONEY}",
    # "I have about $45 to spend"
    rf"\b(?:i|we)(?:'ve)?\s+{OFTEN}(?:have|got|have\s+got)\s+(?:about\s+|around\s+|roughly\s+|only\s+|maybe\s+|up\s+to\s+|just\s+)?"
    rf"{_MONEY}\s+(?:to\s+(?:spend|play\s+with|work\s+with)|in\s+total|total|budget|max|for\s+(?:this|it|that|gifts?|a\s+gift))",
    # "I'm broke, nothing over $15", "money is tight, $25 tops"
    rf"\b(?:(?:i|we){BE}\s+(?:\w+\s+)?(?:broke|tight\s+on\s+(?:money|cash))|money(?:'s|\s+is)\s+(?:\w+\s+)?tight)\b{_GAP}{_MONEY}",
    rf"{START}(?:nothing|not\s+a\s+penny)\s+(?:over|above|more\s+than)\s+{_MONEY}",
    # "$50 is my max", "anything over $100 is too much for me"
    rf"{_MONEY}\s+(?:is|'s)\s+(?:my|our)\s+(?:budget|max|maximum|limit)",
    rf"{START}anything\s+(?:over|above|more\s+than)\s+{_MONEY}\s+is\s+(?:too\s+(?:much|expensive|pricey|steep)|out\s+of\s+(?:my|our)\s+budget)",
]

# ---- brand (the brand itself keeps its case: "I prefer lighter ones" names no brand) ---------------

_BRAND = r"(?P<brand>(?:The\s+)?[A-Z][\w&'+-]*(?:\s+[A-Z][\w&'+-]*)?)"
_ANY_CASE_BRAND = r"(?P<lower>[a-z][\w&'+-]*(?:\s+(?!(?:and|but|so|because|for|i|we)\b)[a-z][\w&'+-]*)?)(?=\s*(?:$|[.!?;,]))"
"""After "my favourite brand is", a brand written in lower case ("north face") is still one."""
_NOT_BRANDS = frozenset({"I", "It", "The", "This", "That", "Them", "They", "Those", "These", "A", "An", "My", "Your",
                         "One", "Both", "All", "Everything", "Anything", "Something", "Nothing", "Him", "Her", "You"})
_BRAND_RULES = [
    rf"(?i:\b(?:i|we)\s+{OFTEN}(?:prefer|like|love|trust|buy|(?:end\s+up\s+|keep\s+)?buying|wear|go\s+(?:with|for)|stick\s+(?:with|to)|swear\s+by|rely\s+on)\s+{OFTEN}){_BRAND}",
    rf"(?i:\b(?:i|we)(?:'m|\s+am|'re)?\b[^.?!;,]{{0,40}}?\band\s+{OFTEN}(?:like|love|prefer|trust|buy)\s+{OFTEN}){_BRAND}",
    rf"(?i:\b(?:i|we){BE}\s+team\s+){_BRAND}",
    rf"(?i:\b(?:i|we)(?:'ve|\s+have)\s+(?:always\s+)?(?:liked|loved|trusted|preferred|stuck\s+with|gone\s+with|bought)\s+){_BRAND}",
    rf"(?i:\b(?:i|we){BE}\s+(?:(?:a|an|such\s+a|really|very|huge|big|massive|long-?time|loyal|die-?hard)\s+)*(?:fan\s+of|loyal\s+to|devoted\s+to|into)\s+){_BRAND}",
    rf"(?i:{START}(?:(?:a|huge|big|massive|long-?time|loyal|die-?hard)\s+)*fan\s+of\s+){_BRAND}",
    rf"(?i:(?:\b(?:i|we)(?:{BE}|(?:'ve|\s+have)\s+been)|{START}been)\s+(?:a|an)\s+(?:(?:huge|big|massive|long-?time|loyal|die-?hard|total)\s+)*){_BRAND}"
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
    rf"\bi\s+{OFTEN}(?:wear|take|fit)\s+(?:(?:in|into)\s+)?(?:a\s+|an\s+)?(?:{_GENDERED}\s+)?(?:size\s+)?{_SIZE}",
    rf"\bi\s+{OFTEN}(?:get|buy|order)\s+(?:a\s+|an\s+)(?:{_GENDERED}\s+)?(?:size\s+)?{_SIZE}",
    rf"{START}(?:(?:shoe|dress|shirt|pants?|ring|jeans|jacket|coat)\s+)?size\s+{_SIZE}\s+here\b",
    rf"{START}(?:a\s+|an\s+)?(?:size\s+)?{_SIZE}\s+(?:usually\s+|always\s+)?(?:fits|suits)\s+me\b",
    rf"\bi(?:'m|\s+am)\s+{OFTEN}(?:a\s+|an\s+)?size\s+{_SIZE}",
    rf"\bi(?:'m|\s+am)\s+{OFTEN}(?:a\s+|an\s+)?(?P<size>\d{{1,2}}(?:\.5)?)\s+(?=(?:in|for|waist|inseam|chest|neck|wide|regular|long|short)\b)",
    rf"\bi(?:'m|\s+am)\s+{OFTEN}(?:a\s+|an\s+)?(?P<size>{_SIZE_WORD})(?=\s+(?:in|for)\b|\s*(?:$|[.!?;,]))",
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
    rf"\b(?:i|we)\s+{OFTEN}(?:love|like|enjoy|adore)\s+(?:to\s+)?{_HOBBY}",
    rf"\b(?:i|we)\s+{OFTEN}go\s+{_HOBBY}",
    rf"\b(?:i|we){BE}\s+{OFTEN}(?:(?:big|huge)\s+)?into\s+{_HOBBY}",
    rf"\b(?:i|we)\s+{OFTEN}do\s+(?:a\s+lot\s+of\s+|lots\s+of\s+|some\s+|a\s+bit\s+of\s+)?{_HOBBY}",
    rf"\bi(?:'m|\s+am)\s+(?:a|an)\s+(?:(?:keen|avid|big|huge|serious|passionate|amateur|professional|pro|hobby|weekend|casual"
    rf"|long-distance|trail|home|beginner|new|frequent|ultra)\s+)*{_HOBBY}",
    rf"\b(?:i|we)\s+{OFTEN}(?P<hobby>{_VERB_HOBBY})\b{_TRANSITIVE}",
    rf"\b(?:i|we)\s+{OFTEN}play\s+(?:a\s+lot\s+of\s+)?(?:(?P<hobby>golf|tennis|video\s+games)|(?:pc|computer|console)\s+games)",
    rf"\bmy\s+(?:main\s+|favou?rite\s+|big\s+)?(?:hobby\s+is|hobbies\s+are)\s+{_HOBBY}",
    rf"{START}{_HOBBY}\s+is\s+my\s+(?:main\s+|favou?rite\s+|big\s+)?(?:hobby|passion|thing)",
    rf"\bi\s+use\s+(?:it|them|this|one|something|these)\s+for\s+{_HOBBY}",
    rf"\b(?:i|we)\s+{OFTEN}spend\s+(?:my\s+|our\s+|most\s+|a\s+lot\s+of\s+|all\s+|every\s+)?(?:weekends?|evenings?|mornings?"
    rf"|summers?|winters?|free\s+time|spare\s+time|time|days?|holidays?|vacations?)\s+{_HOBBY}",
    rf"\b(?:i|we)\s+{OFTEN}go\s+(?:for\s+(?:a\s+)?|to\s+)(?P<hobby>run|jog|hike|swim|bike\s+ride|ride|the\s+gym)\b",
    rf"\b(?:i|we)\s+{OFTEN}(?:commute|get\s+around|ride)\s+(?:by|on\s+(?:my|a))\s+(?P<hobby>bike|bicycle)\b",
]
_WORK_FROM_HOME = r"\bi\s+(?:mostly\s+|usually\s+)?(?:work|am\s+working|'m\s+working)\s+(?:from\s+home|remotely)"


def _hobby(match: re.Match[str]) -> str | None:
    raw = " ".join((match.group("hobby") or "video games").lower().split())
    return _HOBBY_OF.get(raw)


RULES: tuple[Rule, ...] = (
    *compile_rules("budget_cents", _BUDGET, _cents),
    *compile_rules("brand", _BRAND_RULES, _brand, flags=0),
    *compile_rules("size", _SIZE_RULES, _size),
    *compile_rules("use", [*_USE_RULES, _WORK_FROM_HOME], lambda m: "working from home" if "hobby" not in m.re.groupindex else _hobby(m),
                   more=rf"\s*(?:,|and|&)\s*(?:and\s+)?{_HOBBY}"),
    *LIFE_RULES,
)
"""Every rule, key by key; within a key the first match in the text wins (list keys take them all)."""
