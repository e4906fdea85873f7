"""Scoring answers: similarity and ROUGE-L against references, grounding, abstention, per intent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from pipeline.eval._runners import TurnOutcome
from pipeline.eval.answers import EvalItem, score_item, summarise_rows, abstains, render_markdown, summary_text
from pipeline.messages import EvidenceBundle, EvidenceItem, Frame, Plan, TurnResponse, UserTurn
from pipeline.retrieval.embedder import Embedder


class BagOfWords:
    """A stand-in embedder: word counts over a tiny vocabulary, so similar texts get similar vectors."""

    VOCAB = ("waterproof", "yes", "no", "blue", "red", "battery", "quiet", "loud")

    def dense(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(t.lower().count(w)) for w in self.VOCAB] for t in texts]


def outcome(text: str, shown: list[str], evidence_ids: list[str], intent: str = "product_qa",
            frames: list[Frame] | None = None) -> TurnOutcome:
    request = UserTurn("c", 0, 0, "eval", "q")
    plan = Plan("c", 0, 0, request, intent, [])
    items = [EvidenceItem("bullet", "x", 1.0, product_id=pid) for pid in evidence_ids]
    response = TurnResponse("c", 0, 0, "eval", "q", text, intent, products_shown=shown)
    return TurnOutcome(frames or [], response, EvidenceBundle("c", 0, 0, plan, items), 3.0, 1.0)


def score(item: EvalItem, result: TurnOutcome | None) -> dict[str, Any]:
    return score_item(item, result, {"B1", "B2", "B3"}, cast(Embedder, BagOfWords()))


def test_an_answer_is_scored_against_its_best_reference_with_grounding() -> None:
    item = EvalItem("epqa", "1", "B1", "is it waterproof?", ["yes it is waterproof", "it is red"])
    row = score(item, outcome("Yes, it is waterproof.", ["B1", "B2", "B9"], ["B1"]))
    assert row["similarity"] == 1.0 and row["rouge_l"] == 1.0
    assert (row["grounded"], row["invented"]) == (1, ["B9"])
    worse = score(item, outcome("It is loud and blue.", [], ["B1"]))
    assert 0 <= worse["similarity"] < 0.5 and 0 < worse["rouge_l"] < 1


def test_without_a_reference_the_answer_should_abstain() -> None:
    item = EvalItem("epqa", "2", "B1", "does it fit a 2010 model?", [])
    assert score(item, outcome("Sorry, that is not mentioned on the page.", [], []))["abstained"] is True
    assert score(item, outcome("Yes, it fits.", [], []))["abstained"] is False
    assert abstains("I could not find that") and abstains("No evidence found.")
    assert not abstains("It is available in blue")


def test_a_missing_turn_counts_as_unanswered() -> None:
    row = score(EvalItem("epqa", "3", "B1", "q", ["a"]), None)
    assert row["answered"] is False and "similarity" not in row


def test_review_summaries_use_the_reviews_frame_when_there_is_one() -> None:
    frame = Frame("c", 0, 2, "reviews", "", json.dumps({"pros": ["very quiet"], "cons": ["short battery"]}))
    assert summary_text(outcome("answer text", [], [], frames=[frame])) == ("very quiet short battery", True)
    assert summary_text(outcome("answer text", [], [])) == ("answer text", False)


def test_summary_per_intent_and_markdown() -> None:
    rows = [
        score(EvalItem("epqa", "1", "B1", "q", ["yes waterproof"]), outcome("yes waterproof", ["B1"], ["B1"])),
        score(EvalItem("epqa", "2", "B1", "q", ["blue"]), outcome("red", ["B2"], ["B1"], intent="compare")),
        score(EvalItem("epqa", "3", "B1", "q", []), outcome("not available", [], [])),
        score(EvalItem("epqa", "4", "B1", "q", ["x"]), None),
    ]
    summary = summarise_rows(rows)
    assert summary["questions"] == 4 and summary["answered"] == 3
    assert summary["with_reference"] == 2 and summary["similarity"] == 0.5
    assert (summary["no_reference"], summary["abstained"]) == (1, 1)
    assert summary["products_shown"] == 2 and summary["grounded_share"] == 0.5 and summary["invented"] == 0
    assert set(summary["per_intent"]) == {"product_qa", "compare"}
    assert summary["per_intent"]["compare"]["grounded_share"] == 0.0
    report = {"mode": "direct", "model_small": "m", "llm_url": "u", "limit": 4, "seconds": 1.0,
              "epqa": summary, "reviews": summarise_rows([])}
    markdown = render_markdown(report)
    assert "## ePQA questions (4 asked)" in markdown and "| compare |" in markdown
    assert "Review summaries" not in markdown
