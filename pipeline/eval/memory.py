"""`aisle eval memory`: what account memory learns from a shopper's words, against a labelled set.

The set (pipeline/eval/data/memory_statements.jsonl, shipped with the package) holds statements a
shopper makes about themselves ("my budget is usually under $30", "I'm vegetarian", "we have a
toddler") with the preferences they should leave behind, and requests that must leave nothing
(searches with budgets, questions, hypotheticals, other people's tastes, memory requests). Each line:

    {"text": ..., "expected": {key: value}, "kind": "statement" | "mixed" | "search" | ..., "split": "dev" | "test",
     "round": 1 | 2 | 3}

`round` says when a line was written: 1 before the rules were changed (all dev); 2 a first held-out
set, measured once and then tuned on (now dev); 3 the test split, written before the last round of
tuning and measured once at the end (docs/eval/memory.md has the numbers of each step).

What is measured is what the plan stage would remember: the rules planner plans the turn (no LLM, no
embeddings) and `updated_preferences` says what changes for a shopper with no memory yet, so the
intents that are never mined (out of scope, injected instructions, memory requests) count too.

A predicted pair (key, value) is right when the set expects that key with that value (case and
spacing ignored; a list value such as "dog, cat" compared as a set). Precision = right / predicted,
recall = right / expected, F1 their harmonic mean, overall (micro) and per key, for each split: the
rules were tuned on `dev`; `test` was only measured.

With the shared data present (Settings.shared_data), every ePQA product question and WANDS search is
planned too. They are unlabelled and almost none says anything about the shopper, so whatever memory
would keep from them is listed for a person to judge (it can be right: "i'm a 35 waist, should i size
up or down?").
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.errors import ContractError
from pipeline.memory.planning import updated_preferences
from pipeline.memory.preferences import KEYS
from pipeline.messages import UserTurn
from pipeline.planner.planner import PlannerOptions, plan_turn

SPLITS = ("dev", "test")
COMMAND = "aisle eval memory"
PUBLIC_SETS = (("eval/epqa_visible.jsonl", "question"), ("eval/wands_queries.jsonl", "query"))
"""Unlabelled requests from the shared data: (file, field holding the shopper's text)."""


@dataclass(frozen=True)
class Item:
    text: str
    expected: dict[str, str]
    kind: str
    split: str


def load_set(path: Path | None = None) -> list[Item]:
    """The labelled set (the packaged one by default). Raises ContractError for a malformed line or a
    key that is not a preference key."""
    if path is None:
        text = resources.files("pipeline.eval").joinpath("data/memory_statements.jsonl").read_text(encoding="utf-8")
        where = "memory_statements.jsonl"
    else:
        text = path.read_text(encoding="utf-8")
        where = str(path)
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            item = Item(str(row["text"]), {str(k): str(v) for k, v in row["expected"].items()}, str(row["kind"]),
                        str(row["split"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ContractError(f"{where}:{number}: not a labelled statement: {exc}") from exc
        unknown = set(item.expected) - set(KEYS)
        if unknown or item.split not in SPLITS:
            raise ContractError(f"{where}:{number}: unknown key {sorted(unknown)} or split {item.split!r}")
        items.append(item)
    return items


def remembered(text: str) -> dict[str, str]:
    """What the plan stage would remember from `text` for a shopper with no memory (rules planner)."""
    outcome = asyncio.run(plan_turn(UserTurn("eval-memory", 1, 0, "eval-user", text), None,
                                    options=PlannerOptions(mode="rules")))
    return updated_preferences(outcome.plan, {}) or {}


def _normal(value: str) -> frozenset[str]:
    return frozenset(" ".join(part.lower().split()) for part in value.split(",") if part.strip())


def _ratio(right: int, total: int) -> float:
    return right / total if total else 1.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _scores(right: int, predicted: int, expected: int) -> dict[str, Any]:
    precision, recall = _ratio(right, predicted), _ratio(right, expected)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(_f1(precision, recall), 4),
            "right": right, "predicted": predicted, "expected": expected}


def score(items: Sequence[Item], predictions: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """Micro precision, recall and F1 overall and per key, with every item that went wrong."""
    right: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    misses = []
    false_memories = 0
    for item, got in zip(items, predictions, strict=True):
        predicted.update(got.keys())
        expected.update(item.expected.keys())
        good = {k for k, v in got.items() if k in item.expected and _normal(v) == _normal(item.expected[k])}
        right.update(good)
        if good != set(got) or good != set(item.expected):
            misses.append({"text": item.text, "kind": item.kind, "expected": dict(item.expected), "got": dict(got)})
        if not item.expected and got:
            false_memories += 1
    keys = [k for k in KEYS if predicted[k] or expected[k]]
    return {
        "items": len(items),
        "statements": sum(1 for item in items if item.expected),
        "non_statements": sum(1 for item in items if not item.expected),
        "false_memories": false_memories,
        "overall": _scores(sum(right.values()), sum(predicted.values()), sum(expected.values())),
        "per_key": {k: _scores(right[k], predicted[k], expected[k]) for k in keys},
        "misses": misses,
    }


def evaluate(items: Sequence[Item], predict: Callable[[str], Mapping[str, str]] = remembered) -> dict[str, Any]:
    """The report: one score per split and for the whole set."""
    predictions = [dict(predict(item.text)) for item in items]
    report: dict[str, Any] = {"command": COMMAND, "extractor": "rules (pipeline/memory/preferences.py)",
                              "kinds": dict(Counter(item.kind for item in items)), "splits": {}}
    for split in (*SPLITS, "all"):
        chosen = [(i, p) for i, p in zip(items, predictions, strict=True) if split in ("all", i.split)]
        report["splits"][split] = score([i for i, _ in chosen], [p for _, p in chosen])
    return report


def public_requests(shared_data: Path) -> list[str]:
    """The product questions and searches of the shared data (empty when it is not there)."""
    texts = []
    for name, field in PUBLIC_SETS:
        path = shared_data / name
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip() and isinstance(text := json.loads(line).get(field), str):
                    texts.append(text)
    return texts


def learned_from(texts: Sequence[str], predict: Callable[[str], Mapping[str, str]] = remembered) -> dict[str, Any]:
    """How many of `texts` (requests that are not statements) memory would learn from, and what."""
    learned = [{"text": text, "got": dict(got)} for text in texts if (got := predict(text))]
    return {"requests": len(texts), "learned": learned}


def run_memory_eval(settings: Settings, path: Path | None = None) -> dict[str, Any]:
    report = evaluate(load_set(path))
    report["public"] = learned_from(public_requests(settings.shared_data))
    return report


def render_markdown(report: Mapping[str, Any]) -> str:
    lines = [
        "# Account memory: what is learned from a shopper's words",
        "",
        f"Made with `{report['command']}` (no broker, no model: the rules planner and "
        "`pipeline/memory/preferences.py`). The set is `pipeline/eval/data/memory_statements.jsonl`; "
        "the rules were tuned on `dev`, `test` was only measured. docs/memory.md says what counts as a statement.",
        "",
        "| split | items | statements | precision | recall | F1 | false memories |",
        "|---|---|---|---|---|---|---|",
    ]
    splits = report["splits"]
    for name, part in splits.items():
        o = part["overall"]
        lines.append(f"| {name} | {part['items']} | {part['statements']} | {o['precision']:.3f} | {o['recall']:.3f} "
                     f"| {o['f1']:.3f} | {part['false_memories']} of {part['non_statements']} |")
    lines += ["", "False memories: requests that state nothing about the shopper but left a preference behind.", "",
              "## Per key (whole set)", "", "| key | precision | recall | F1 | right | predicted | expected |",
              "|---|---|---|---|---|---|---|"]
    for key, s in splits["all"]["per_key"].items():
        lines.append(f"| `{key}` | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['right']} "
                     f"| {s['predicted']} | {s['expected']} |")
    public = report.get("public")
    if public and public["requests"]:
        lines += ["", "## Public product questions and searches", "",
                  f"{public['requests']} requests from the shared data (ePQA product questions, WANDS searches), unlabelled; "
                  f"memory would learn from {len(public['learned'])} of them, listed here to judge by reading:", ""]
        lines += [f"- \"{item['text']}\": {_pairs(item['got'])}" for item in public["learned"]] or ["None."]
    for name in SPLITS:
        lines += ["", f"## Misses ({name})", ""]
        misses = splits[name]["misses"]
        if not misses:
            lines.append("None.")
        for miss in misses:
            lines.append(f"- {miss['kind']}: \"{miss['text']}\": expected {_pairs(miss['expected'])}, got {_pairs(miss['got'])}")
    return "\n".join(lines)


def _pairs(values: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) if values else "nothing"
