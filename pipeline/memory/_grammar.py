"""What the memory rules are made of: `Rule`, the regular-expression fragments several families
share, and the helpers that turn a match into a value. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

START = r"(?:^|(?<=[.!?;,\n]))\s*"
"""The start of a clause (patterns that only count there)."""
NUMBERS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight",
           "9": "nine", "10": "ten"}
NUMBER = r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2}|a couple of|several|some)"
BE = r"(?:'m|\s+am|'re|\s+are)"
OFTEN = r"(?:(?:really|usually|always|mostly|generally|typically|normally|just|only|also|still|often|regularly|"\
    r"sometimes|definitely|absolutely|pretty much|kind of|kinda|tend to)\s+)*"


@dataclass(frozen=True)
class Rule:
    key: str
    pattern: re.Pattern[str]
    value: Callable[[re.Match[str]], str | None]
    more: re.Pattern[str] | None = None
    """For list keys: one more item right after a match (its `value` read the same way)."""


def group(name: str, table: dict[str, str] | None = None) -> Callable[[re.Match[str]], str | None]:
    def read(match: re.Match[str]) -> str | None:
        raw = " ".join((match.group(name) or "").lower().split())
        return table.get(raw, raw) if table is not None else raw or None
    return read


def fixed(value: str) -> Callable[[re.Match[str]], str | None]:
    return lambda match: value


def compile_rules(key: str, patterns: list[str], value: Callable[[re.Match[str]], str | None],
                  flags: int = re.IGNORECASE, more: str | None = None) -> list[Rule]:
    return [Rule(key, re.compile(p, flags), value, re.compile(more, flags) if more else None) for p in patterns]
