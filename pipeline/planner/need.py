"""The words of a shopper's need that a catalog search should read.

Shoppers wrap a need in conversation: "Hi, I'm looking for something to keep my dog off the couch,
any ideas?" The catalog only knows the need ("keep my dog off the couch"). `search_terms` removes
the wrapping, never the need: greetings, politeness, request phrases ("I need", "can you find me",
"do you sell"), placeholders ("something to", "anything for") at the start, and closing asks ("any
ideas?", "what can help", "thanks") at the end. What is left keeps its order and its own words; if
nothing would be left, the text is returned unchanged.

Why it matters: BM25 scores every word that is not a stopword, so "need", "looking" or "something"
match passages that merely contain them, and the dense model's vector drifts towards requests in
general. Product questions keep the shopper's whole wording (it retrieves evidence best, see
docs/planner.md); this is for searches over the catalog.
"""

from __future__ import annotations

import re

_LEADING = re.compile(
    r"^(?:"
    r"(?:hi|hello|hey|hiya|ok|okay|so|well|um+|please)\b[\s,!.]*"
    r"|(?:(?:can|could|would|will) you (?:please )?|please )?(?:help me )?"
    r"(?:(?:find|show|recommend|suggest|search for|look for)(?: me| us)?(?! out\b)|get (?:me|us))\b[\s,:]*"
    r"|(?:(?:i|we)(?:'m| am|'re| are)? )?(?:really |just |currently |also )?(?:looking|searching|shopping|hunting) (?:for|to buy)\b\s*"
    r"|(?:i|we)(?:'d| would) (?:like|love)(?: to (?:buy|get|find|have))?\b\s*"
    r"|(?:(?:i|we) )?(?:really |also |just )?(?:need|want|require)(?: to (?:buy|get|find))?\b\s*"
    r"|(?:i(?:'m| am)|we(?:'re| are)) after\b\s*"
    r"|(?:do|does) (?:you|the store|this store) (?:have|sell|carry|stock)(?: any)?\b\s*"
    r"|(?:is there|are there|have you got)(?: any)?\b\s*"
    r"|(?:where|how) (?:can|do|could) (?:i|we) (?:get|buy|find)\b\s*"
    r"|(?:what|which) (?:can|should|could|do) (?:i|we) (?:use|buy|get) (?:to|for)\b\s*"
    r"|(?:any|some) (?:good )?(?:ideas|suggestions|recommendations) (?:for|on)\b\s*"
    r"|(?:some|any)thing (?:that (?:will|can|would) |which (?:will|can) |to help (?:me )?)?"
    r"(?=\w)(?!(?:like|similar|else)\b)"
    r"|(?:a |an )?(?:product|item) (?:that (?:will|can) |to )"
    r")",
    re.IGNORECASE,
)
_PLACEHOLDER_VERB = re.compile(r"^(?:to|for|that)\s+", re.IGNORECASE)
_TRAILING = re.compile(
    r"(?:[\s,;:.!?-]+(?:please|thanks|thank you|thx|cheers|any (?:ideas|suggestions|recommendations)"
    r"|what (?:can|could|would|will|do you) (?:help|work|you (?:suggest|recommend|have)|i use|do)"
    r"|what do you (?:suggest|recommend|have)|(?:can|could) you help|recommendations|suggestions|ideas"
    r"|for me|(?:do|does) (?:anything|something) (?:exist|work)))+[\s,;:.!?]*$"
    r"|[\s,;:.!?]+$",
    re.IGNORECASE,
)


def search_terms(text: str) -> str:
    """`text` (filters already removed) without the conversational wrapping of a need; case is kept.

    >>> search_terms("hi, i'm looking for something to keep my dog off the couch, any ideas?")
    'keep my dog off the couch'
    """
    rest = " ".join(text.split())
    for _ in range(6):  # wrappers nest ("hi, can you find me something to ...")
        stripped = _LEADING.sub("", rest, count=1).lstrip(" ,:;")
        if stripped == rest:
            break
        rest = stripped
    if rest != text:
        rest = _PLACEHOLDER_VERB.sub("", rest, count=1)
    rest = _TRAILING.sub("", rest).strip()
    return rest if rest else " ".join(text.split())
