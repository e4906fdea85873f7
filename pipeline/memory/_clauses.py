"""Which pattern matches are statements about the shopper. Pure.

The text is cut into sentences (at . ! ? ; and line breaks, not inside "9.5" or "$29.99") and each
sentence into clauses at its commas. A match counts unless its clause

- asks: it starts with a question word ("is this vegan?", "do I need a budget of $200 ...") or it is
  the last clause of a sentence ending in "?" ("I'm vegetarian, what protein powder ...?" keeps the
  first clause);
- supposes or denies before the match: "if my budget were $100", "say my budget was $80", "maybe",
  "I used to be vegan", "not", "never" (counted from the last "and", "but" or "so" before the match,
  so "I'm not vegetarian but I'm pescatarian" states the second half).

A negation inside a pattern is the statement itself ("I don't eat meat", "I can't spend more than
$40"): the patterns (pipeline/memory/_patterns.py) begin at the subject, so only words before it are
checked. "Big Patagonia fan here" and "vegan here" are read as "I'm a ..." / "I have a ...".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.memory._grammar import Rule
from pipeline.memory._patterns import RULES

_SENTENCE_END = re.compile(r"[!?;\n]+|(?<!\d)\.+|\.(?!\d)")
_QUESTION_START = re.compile(
    r"^\s*(?:(?:so|and|but|also|ok|okay|well|hey|hi|hmm|oh|then|and)\s+)*"
    r"(?:what|what's|whats|which|who|whom|whose|where|when|why|how|is|are|am|was|were|do|does|did|can|could|would|will"
    r"|should|shall|may|might|isn't|aren't|don't|doesn't|won't|wouldn't|any|have\s+(?:you|i|we)|has\s+(?:it|this))\b",
    re.IGNORECASE,
)
_SUPPOSED = re.compile(
    r"^\s*(?:let's\s+)?say\b|\b(?:if|suppose|supposing|imagine|assuming|assume|maybe|perhaps|might|whether|unless|wish|wonder|wondering|not|never"
    r"|no\s+longer|used\s+to|pretend|hypothetically|let's\s+say|in\s+case|thinking\s+(?:of|about)|considering)\b|n't\b",
    re.IGNORECASE,
)
_LAST_JOIN = re.compile(r".*\b(?:and|but|so|because|since|though|although)\b", re.IGNORECASE | re.DOTALL)
_HERE = re.compile(r"^\s*(?P<what>[A-Za-z0-9][\w'&\s-]{1,40}?)\s+here\s*[.!]*\s*$")
_HERE_AS = ("I'm a {}", "I'm {}", "I have a {}")
"""How "<something> here" is read: "Big Sony fan here", "vegan here", "severe nut allergy here"."""


@dataclass(frozen=True)
class Clause:
    start: int
    end: int
    question: bool


@dataclass(frozen=True)
class Found:
    """One stated value: `key` = `value`, from text[start:end]."""

    key: str
    value: str
    start: int
    end: int


def clauses(text: str) -> list[Clause]:
    out: list[Clause] = []
    begin = 0
    for end_mark in [*_SENTENCE_END.finditer(text), None]:
        stop, after = (end_mark.start(), end_mark.end()) if end_mark else (len(text), len(text))
        asks = end_mark is not None and "?" in end_mark.group(0)
        parts = [m.span() for m in re.finditer(r"[^,]+", text[begin:stop])]
        for n, (a, b) in enumerate(parts):
            piece = text[begin + a:begin + b]
            question = bool(_QUESTION_START.match(piece)) or (asks and n == len(parts) - 1)
            out.append(Clause(begin + a, begin + b, question))
        begin = after
        if end_mark is None:
            break
    return out


def _stated(text: str, clause: Clause, start: int) -> bool:
    if clause.question:
        return False
    before = text[clause.start:start]
    joined = _LAST_JOIN.match(before)
    return not _SUPPOSED.search(before[joined.end():] if joined else before)


def _clause_at(all_clauses: list[Clause], position: int) -> Clause | None:
    return next((c for c in all_clauses if c.start <= position < c.end), None)


def _matches(rule: Rule, text: str, all_clauses: list[Clause]) -> Iterator[Found]:
    for match in rule.pattern.finditer(text):
        start = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
        clause = _clause_at(all_clauses, start)
        if clause is None or not _stated(text, clause, start):
            continue
        value = rule.value(match)
        if not value:
            continue
        values, end = [value], match.end()
        while rule.more is not None and (more := rule.more.match(text, end)) is not None and more.end() > end:
            if (extra := rule.value(more)) is not None and extra not in values:
                values.append(extra)
            end = more.end()
        yield Found(rule.key, ", ".join(values), start, end)


def read(text: str) -> list[Found]:
    """Every value `text` states about the shopper, in rule order (see pipeline/memory/_patterns.py)."""
    all_clauses = clauses(text)
    found = [f for rule in RULES for f in _matches(rule, text, all_clauses)]
    for clause in all_clauses:
        here = _HERE.match(text[clause.start:clause.end])
        if clause.question or here is None or len(here.group("what").split()) > 5 or not _stated(text, clause, clause.start):
            continue
        for form in _HERE_AS:
            variant = form.format(here.group("what").strip())
            for rule in RULES:
                found += [Found(f.key, f.value, clause.start, clause.end) for f in _matches(rule, variant, clauses(variant))]
    return found
