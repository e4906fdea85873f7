"""How the evaluation matches judged ePQA candidates to indexed passages, and scores one question."""

from __future__ import annotations

import pytest

from pipeline.eval.retrieval import Question, evidence_key, hit_key, score_question
from pipeline.retrieval.index import Hit
from pipeline.retrieval.passages import ATTRIBUTE, QA, REVIEW, attribute_text, qa_text


def _hit(kind: str, text: str, **payload: str) -> Hit:
    return Hit(point_id=text, score=1.0, kind=kind, product_id="B1", text=text, payload=payload)


def test_attribute_candidates_match_by_name() -> None:
    raw = 'specification_met:  { value:"nsf" }; { value:"ul" }'
    hit = _hit(ATTRIBUTE, attribute_text("specification_met", "nsf; ul"), attr_name="specification_met")
    assert evidence_key("attribute", raw) == hit_key(hit)


def test_cqa_candidates_match_question_and_answer() -> None:
    raw = "yes, this will work on your model Question: will this replace a model tbx22ma icemaker? "
    hit = _hit(QA, qa_text("will this replace a model tbx22ma icemaker?", "yes, this will work on your model"))
    assert evidence_key("cqa", raw) == hit_key(hit)


def test_sentence_candidates_match_normalised_text_of_the_same_kind() -> None:
    assert evidence_key("review", "Great  item. ") == hit_key(_hit(REVIEW, "great item."))
    assert evidence_key("bullet", "great item.") != hit_key(_hit(REVIEW, "great item."))


def test_score_question_grades_hits_by_labels() -> None:
    question = Question(
        qid=1, asin="B1", question="q",
        labels={(REVIEW, "a"): 2, (REVIEW, "b"): 1, (REVIEW, "c"): 0},
        sources={(REVIEW, "a"): "review", (REVIEW, "b"): "review", (REVIEW, "c"): "review"},
    )
    hits = [_hit(REVIEW, "c"), _hit(REVIEW, "x"), _hit(REVIEW, "a")]
    scores = score_question(question, hits)
    assert scores["mrr"] == pytest.approx(1 / 3)
    assert scores["recall@5"] == pytest.approx(1.0)
    assert scores["ndcg@5"] == pytest.approx((2 / 2) / (2 + 1 / 1.5849625007211562))
    assert scores["by_source"] == {(REVIEW, "a"): ("review", 3)}
