"""Text-quality measures of `aisle eval answers`: the model's own words apart from the stated evidence."""

import json

from pipeline.eval._runners import TurnOutcome
from pipeline.eval.text_quality import block, row_fields
from pipeline.generation.cite import model_part, statable_passage
from pipeline.messages import EvidenceBundle, EvidenceItem, Frame, Plan, TurnResponse, UserTurn

ITEMS = [EvidenceItem("product", "Rode NTG2", 1.0, "B1"),
         EvidenceItem("qa", "question: does it need phantom power? answer: yes, or one aa battery", 0.9, "B1"),
         EvidenceItem("review", "picks up handling noise", 0.5, "B1")]


def outcome(text: str, counts: dict[str, int]) -> TurnOutcome:
    request = UserTurn("c", 0, 0, "u", "does it need phantom power?", page_product_id="B1")
    bundle = EvidenceBundle("c", 0, 0, Plan("c", 0, 0, request, "product_question", []), ITEMS)
    frames = [Frame("c", 0, 0, "text", text, None), Frame("c", 0, 1, "done", "", json.dumps({"counts": counts}))]
    return TurnOutcome(frames, TurnResponse("c", 0, 0, "u", "q", text, "product_question"), bundle, 1.0, 0.2)


def test_model_part_stops_at_the_stated_evidence() -> None:
    assert model_part("It runs on a battery. A customer says that yes, or one aa battery.") == "It runs on a battery."
    assert model_part("I'm not sure: the product page and its reviews don't say.") == ""
    assert model_part("Plain answer.") == "Plain answer."


def test_top_passage_baseline_is_the_best_ranked_statable_passage() -> None:
    bundle = outcome("x", {}).evidence
    assert bundle is not None and statable_passage(bundle) == "yes, or one aa battery"


def test_row_fields_and_block() -> None:
    looped = outcome("It runs on a battery. A customer says that yes, or one aa battery.",
                     {"guard_kept": 1, "guard_unsupported": 2, "guard_loop": 1})
    row = row_fields(looped, ["yes, it runs on phantom power or one aa battery"])
    assert row["model_text"] == "It runs on a battery." and row["looped"]
    assert 0 < row["rouge_l_model"] < row["rouge_l_top_passage"] and not row["abstained_with_ref"]
    summary = block([row])
    assert (summary["sentences_kept"], summary["sentences_dropped"], summary["looped"]) == (1, 2, 1)
    assert summary["dropped_share"] == round(2 / 3, 4)
