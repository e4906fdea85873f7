"""`aisle eval guard`: how well the grounding guard's judge (pipeline/generation/support.py) tells a
supported sentence from an unsupported one, against plain word overlap. No model, no broker.

Labelled pairs from hetPQA answer generation (eval/hetpqa_answer_generation.jsonl; not ePQA, which is
kept for answer evaluation): each annotator answer against its own evidence passage is *supported*
(the annotators wrote it from that passage); the answer to another question, against this question's
passage, is *unsupported*: half from another product ("easy"), half from another question about the
same product when there is one ("hard": same vocabulary, different fact); and the question itself
stated back as the answer ("echo", what a small model does when it has nothing to say). Thresholds are
chosen on the
train split and reported on dev, so the reported numbers are not the ones tuned on.

The guard's job is to catch unsupported sentences without hiding supported ones, so the report gives
the rate of supported answers kept and of unsupported answers caught, at each measure's best train
threshold (by balanced accuracy) and at the guard's shipped threshold.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.generation.support import DEFAULT_THRESHOLD, Support, overlap_score

HETPQA_FILE = Path("eval") / "hetpqa_answer_generation.jsonl"
_THRESHOLDS = [round(0.05 * n, 2) for n in range(1, 20)]


@dataclass(frozen=True)
class Pair:
    split: str
    kind: str
    """supported | easy | hard | echo"""
    sentence: str
    evidence: str
    question: str

    @property
    def supported(self) -> bool:
        return self.kind == "supported"


def labelled_pairs(rows: Sequence[Mapping[str, Any]]) -> list[Pair]:
    """Deterministic pairs: per row one supported, one unsupported (hard when the product has another
    question, else easy) and one echo of the question."""
    by_asin: dict[str, list[int]] = defaultdict(list)
    for n, row in enumerate(rows):
        by_asin[row["asin"]].append(n)
    pairs: list[Pair] = []
    for n, row in enumerate(rows):
        pairs.append(Pair(row["split"], "supported", row["answer"], row["evidence_text"], row["question"]))
        siblings = [m for m in by_asin[row["asin"]] if m != n and rows[m]["answer"] != row["answer"]]
        if siblings and n % 2 == 0:
            other, kind = rows[siblings[n % len(siblings)]], "hard"
        else:
            m = (n + len(rows) // 2) % len(rows)
            while rows[m]["asin"] == row["asin"]:
                m = (m + 1) % len(rows)
            other, kind = rows[m], "easy"
        pairs.append(Pair(row["split"], kind, other["answer"], row["evidence_text"], row["question"]))
        # The model repeating the question as its answer ("I need a mat for my office chair ...").
        echo = row["question"].rstrip(" ?") + "."
        pairs.append(Pair(row["split"], "echo", echo, row["evidence_text"], row["question"]))
    return pairs


def judge_score(pair: Pair) -> float:
    """The guard's measure as a score (a sentence with an unsupported number scores 0)."""
    verdict = Support.from_texts([pair.evidence], context=[pair.question]).judge(pair.sentence)
    return 0.0 if verdict.unsupported_numbers else verdict.score


def overlap(pair: Pair) -> float:
    return overlap_score(pair.sentence, [pair.evidence, pair.question])


MEASURES: dict[str, Callable[[Pair], float]] = {"guard (content words + numbers)": judge_score,
                                                 "word overlap": overlap}


def rates(scored: Sequence[tuple[Pair, float]], threshold: float) -> dict[str, float]:
    """Kept share of supported pairs, caught share of unsupported ones (all, easy, hard)."""
    def share(kind: str, flagged: bool) -> float:
        chosen = [s for p, s in scored if p.kind == kind or (kind == "unsupported" and not p.supported)]
        if not chosen:
            return float("nan")
        return sum((s < threshold) == flagged for s in chosen) / len(chosen)

    kept, caught = share("supported", False), share("unsupported", True)
    return {"threshold": threshold, "supported_kept": round(kept, 3), "unsupported_caught": round(caught, 3),
            "easy_caught": round(share("easy", True), 3), "hard_caught": round(share("hard", True), 3),
            "echo_caught": round(share("echo", True), 3),
            "balanced_accuracy": round((kept + caught) / 2, 3)}


def evaluate(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    pairs = labelled_pairs(rows)
    report: dict[str, Any] = {"pairs": {split: sum(p.split == split for p in pairs) for split in ("train", "dev")},
                              "shipped_threshold": DEFAULT_THRESHOLD, "measures": {}}
    for name, measure in MEASURES.items():
        scored = {split: [(p, measure(p)) for p in pairs if p.split == split] for split in ("train", "dev")}
        best = max(_THRESHOLDS, key=lambda t: rates(scored["train"], t)["balanced_accuracy"])
        report["measures"][name] = {"best_train_threshold": best, "dev_at_best": rates(scored["dev"], best),
                                    "dev_at_shipped": rates(scored["dev"], DEFAULT_THRESHOLD)}
    return report


def run_guard_eval(shared_data: Path) -> dict[str, Any]:
    path = shared_data / HETPQA_FILE
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return evaluate(rows)


def render_markdown(report: Mapping[str, Any]) -> str:
    lines = ["# Grounding guard: supported vs unsupported sentences (hetPQA pairs)", "",
             "Made by `aisle eval guard`. Thresholds chosen on train "
             f"({report['pairs']['train']} pairs), reported on dev ({report['pairs']['dev']} pairs).", "",
             "| measure | threshold | supported kept | unsupported caught | easy caught | hard caught | echo caught "
             "| balanced acc. |",
             "|---|---|---|---|---|---|---|---|"]
    for name, block in report["measures"].items():
        for label, r in (("best on train", block["dev_at_best"]), ("shipped", block["dev_at_shipped"])):
            lines.append(f"| {name} | {r['threshold']} ({label}) | {r['supported_kept']:.3f} | "
                         f"{r['unsupported_caught']:.3f} | {r['easy_caught']:.3f} | {r['hard_caught']:.3f} | {r['echo_caught']:.3f} | "
                         f"{r['balanced_accuracy']:.3f} |")
    return "\n".join(lines)
