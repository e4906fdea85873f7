"""What the shopper read in an answer, measured apart: the model's own words, the evidence the system
stated, what the guard dropped, loops, length; and the no-model baseline of stating the top passage.

Used by `aisle eval answers` (answers.py) for every ePQA row; the table it renders is "Text quality".

- ROUGE-L as shown: the whole answer text against the references (answers.py's `rouge_l`).
- ROUGE-L, model's own: the answer without the system's stated evidence (generation/cite.py), i.e.
  the model's sentences the guard kept. Turns where the guard kept none score 0.
- top passage: the baseline with no model at all: the turn's best-ranked passage (review, Q&A,
  bullet, description or attribute), verbatim, against the same references.
- abstained (with ref): answers to questions the annotators could answer that say the evidence does
  not tell (target: at most 10%); the no-reference abstention rate is answers.py's.
- guard: sentences kept and dropped as unsupported, from the `done` frame's counts; looped: answers
  the guard ended because they repeated themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.eval._runners import TurnOutcome
from pipeline.eval.text_metrics import rouge_l_max
from pipeline.generation.cite import model_part, statable_passage
from pipeline.generation.support import ABSTENTION
from pipeline.stats import mean


def done_counts(outcome: TurnOutcome) -> dict[str, int]:
    for frame in reversed(outcome.frames):
        if frame.type == "done":
            counts = json.loads(frame.payload or "{}").get("counts", {})
            return {str(k): int(v) for k, v in counts.items()}
    return {}


def row_fields(outcome: TurnOutcome, references: Sequence[str]) -> dict[str, Any]:
    """The text-quality fields of one answered ePQA row."""
    text = outcome.answer_text
    own = model_part(text)
    counts = done_counts(outcome)
    fields: dict[str, Any] = {
        "model_text": own[:1_000],
        "answer_chars": len(text),
        "guard_kept": counts.get("guard_kept", 0),
        "guard_unsupported": counts.get("guard_unsupported", 0),
        "guard_contradicted": counts.get("guard_contradicted", 0),
        "looped": counts.get("guard_loop", 0) > 0,
    }
    if references:
        fields["rouge_l_model"] = round(rouge_l_max(own, references), 4) if own.strip() else 0.0
        top = statable_passage(outcome.evidence) if outcome.evidence is not None else None
        fields["rouge_l_top_passage"] = round(rouge_l_max(top, references), 4) if top else 0.0
        fields["abstained_with_ref"] = bool(ABSTENTION.search(text.lower()))
    return fields


def block(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregates over answered rows (those with the fields above)."""
    rows = [r for r in rows if "answer_chars" in r]
    with_ref = [r for r in rows if "rouge_l_model" in r]
    kept = sum(int(r["guard_kept"]) for r in rows)
    contradicted = sum(int(r.get("guard_contradicted", 0)) for r in rows)
    dropped = sum(int(r["guard_unsupported"]) for r in rows) + contradicted
    return {
        "rouge_l_model": _round(mean([float(r["rouge_l_model"]) for r in with_ref])),
        "rouge_l_top_passage": _round(mean([float(r["rouge_l_top_passage"]) for r in with_ref])),
        "abstained_with_ref": sum(bool(r["abstained_with_ref"]) for r in with_ref),
        "with_reference": len(with_ref),
        "sentences_kept": kept,
        "sentences_dropped": dropped,
        "sentences_contradicted": contradicted,
        "dropped_share": _round(dropped / (kept + dropped)) if kept + dropped else None,
        "looped": sum(bool(r["looped"]) for r in rows),
        "answer_chars_mean": _round(mean([float(r["answer_chars"]) for r in rows])),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def render_markdown(block_: Mapping[str, Any], rouge_l_shown: float | None, no_ref: int, abstained: int) -> list[str]:
    def fmt(value: Any) -> str:
        return "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))

    with_ref = block_["with_reference"]
    return [
        "### Text quality", "",
        "| ROUGE-L as shown | ROUGE-L model's own | top passage verbatim (no model) | abstained, no ref "
        "| abstained, with ref | sentences kept / dropped (share dropped) | looped | answer chars |",
        "|---|---|---|---|---|---|---|---|",
        f"| {fmt(rouge_l_shown)} | {fmt(block_['rouge_l_model'])} | {fmt(block_['rouge_l_top_passage'])} "
        f"| {abstained} of {no_ref} | {block_['abstained_with_ref']} of {with_ref} "
        f"| {block_['sentences_kept']} / {block_['sentences_dropped']} ({fmt(block_['dropped_share'])}) "
        f"| {block_['looped']} | {fmt(block_['answer_chars_mean'])} |", "",
        "Unsupported sentences shown: 0 by construction (the guard releases only supported ones); the "
        "dropped ones are counted above.", "",
    ]
