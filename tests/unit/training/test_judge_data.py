"""The answerability judge's pairs and threshold: from hetPQA and semiPQA only, held-out products apart."""

import json
import random

import pytest

from pipeline.config import Settings
from pipeline.training import judge_data

EVAL = Settings().shared_data / "eval"


def test_the_threshold_lets_at_most_the_allowed_share_of_answerable_questions_fall_below() -> None:
    best = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.3, 0.2]
    answerable = [True] * 10 + [False] * 2
    threshold = judge_data.choose_threshold(best, answerable, false_abstention=0.2)
    assert threshold == 0.2  # two of ten answerable (0.05, 0.1) fall below it
    assert judge_data.rates(best, answerable, threshold) == {"abstained_answerable": 0.2, "abstained_unanswerable": 0.0}
    assert judge_data.rates(best, answerable, 0.35) == {"abstained_answerable": 0.4, "abstained_unanswerable": 1.0}
    with pytest.raises(ValueError):
        judge_data.choose_threshold([0.1], [False])


def test_hard_negatives_are_passages_written_for_other_questions_about_the_same_product() -> None:
    rows = [{"asin": "A", "question": "q1", "evidence_text": "p1"}, {"asin": "A", "question": "q2", "evidence_text": "p2"},
            {"asin": "B", "question": "q3", "evidence_text": "p3"}]
    pairs = judge_data.answer_pairs(rows, random.Random(0))
    assert sorted((p.question, p.passage, p.label) for p in pairs) == [
        ("q1", "p1", 1.0), ("q1", "p2", 0.0), ("q2", "p1", 0.0), ("q2", "p2", 1.0), ("q3", "p3", 1.0)]


@pytest.mark.skipif(not (EVAL / "hetpqa_evidence_ranking_dev.jsonl").exists(), reason=f"the shared data is not at {EVAL}")
def test_pairs_are_deterministic_never_from_epqa_and_never_from_held_out_products() -> None:
    pairs, held = judge_data.build(EVAL, seed=0)
    again, _ = judge_data.build(EVAL, seed=0)
    assert pairs == again and len(pairs) > 15_000 and 0.2 < sum(p.label for p in pairs) / len(pairs) < 0.5
    assert len(held) > 50 and 0 < sum(q.answerable for q in held) < len(held)
    epqa = {json.loads(line)["question"] for line in (EVAL / "epqa_visible.jsonl").read_text().splitlines()}
    trained = {p.question for p in pairs}
    # Nothing of a held-out product trains: neither its ranked candidates nor its written answers' passages.
    ranked = [json.loads(line) for line in (EVAL / "hetpqa_evidence_ranking_dev.jsonl").read_text().splitlines()]
    held_products = {row["asin"] for row in ranked if judge_data.held_out(row["asin"])}
    held_pairs = {(row["question"], e["text"]) for row in ranked if row["asin"] in held_products for e in row["evidence"]}
    held_pairs |= {(row["question"], row["evidence_text"]) for line in (EVAL / "hetpqa_answer_generation.jsonl").read_text().splitlines()
                   if (row := json.loads(line))["asin"] in held_products}
    assert held_pairs and not held_pairs & {(p.question, p.passage) for p in pairs}
    # ePQA is evaluation only: a question text it shares with hetPQA may occur, its passages may not.
    epqa_passages = {e["text"] for line in (EVAL / "epqa_visible.jsonl").read_text().splitlines()
                     for e in json.loads(line)["evidence"]}
    assert len({p.passage for p in pairs} & epqa_passages) < 0.01 * len(epqa_passages)
    assert len(trained & epqa) < 0.01 * len(epqa)
