from typing import Any

from pipeline.eval.compare import compare, paired_rows, render_markdown
from pipeline.training.holdout import review_part


def _row(set_: str, id_: str, rouge: float, errors: list[str] | None = None, asin: str = "B0") -> dict[str, Any]:
    return {"set": set_, "id": id_, "asin": asin, "question": "q", "answered": True, "intent": "product_question",
            "answer": "a", "seconds": 1.0, "ttft_s": 0.5, "shown": [], "grounded": 0, "invented": [],
            "errors": errors or [], "from_reviews_frame": False, "has_reference": True, "similarity": rouge,
            "rouge_l": rouge, "model_text": "a", "answer_chars": 1, "guard_kept": 1, "guard_unsupported": 0,
            "looped": False, "rouge_l_model": rouge, "rouge_l_top_passage": 0.3, "abstained_with_ref": False}


def test_only_turns_every_run_answered_cleanly_are_compared() -> None:
    base = {"model_small": "base", "rows": [_row("epqa", "1", 0.2), _row("epqa", "2", 0.0, ["stalled"]),
                                            _row("epqa", "3", 0.4)]}
    tuned = {"model_small": "tuned", "rows": [_row("epqa", "3", 0.6), _row("epqa", "2", 0.9),
                                              _row("epqa", "1", 0.1, ["stalled"])]}
    paired = paired_rows([base, tuned])
    assert [[r["id"] for r in rows] for rows in paired] == [["3"], ["3"]]
    result = compare([base, tuned], ["base", "tuned"])
    assert result["common_turns"] == 1
    assert [c["epqa"]["rouge_l"] for c in result["columns"]] == [0.4, 0.6]
    assert [c["with_errors"] for c in result["columns"]] == [1, 1]
    table = render_markdown(result)
    assert "| ROUGE-L as shown | 0.400 | 0.600 |" in table
    assert "base 1 of 3, tuned 1 of 3" in table


def test_review_summaries_count_only_the_evaluation_part() -> None:
    asins = [f"B{n:09d}" for n in range(40)]
    held_out = [a for a in asins if review_part(a) == "eval"]
    trained = [a for a in asins if review_part(a) == "train"]
    assert held_out and trained
    rows = [_row("reviews", a, 0.5, asin=a) for a in (held_out[0], trained[0])]
    result = compare([{"rows": rows}, {"rows": rows}], ["a", "b"])
    assert result["columns"][0]["reviews"]["answered"] == 1
