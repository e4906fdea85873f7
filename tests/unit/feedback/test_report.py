"""The "Shopper feedback" report section: read from the feedback worker's snapshot, shown in the answer
eval's markdown and the replay report's page, and saying how to get a snapshot when there is none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.eval.answers import summarise_rows
from pipeline.eval.answers import render_markdown as eval_markdown
from pipeline.feedback.aggregate import FeedbackAggregate
from pipeline.feedback.report import read_section, render_markdown
from pipeline.feedback.snapshot import write_snapshot
from pipeline.messages import Feedback, TurnResponse
from pipeline.replay.html import render_html
from pipeline.replay.report import RunFacts, build_report

NOW_MS = 1_700_000_060_000


def counted() -> FeedbackAggregate:
    """search/qwen: 3 up, 1 down; cart_action/rules: 2 done, 1 failed; one replayed thumbs left out."""
    agg = FeedbackAggregate("answer-v1")
    agg.on_response(TurnResponse("c1", 0, 0, "u1", "q", "a", "search", model="qwen"))
    agg.on_response(TurnResponse("c2", 0, 0, "u2", "q", "a", "cart_action", model=None))
    for seq, kind in enumerate(["thumbs_up", "thumbs_up", "thumbs_up", "thumbs_down"]):
        agg.on_feedback(Feedback("c1", 0, seq, "u1", kind))
    for seq, kind in enumerate(["action_clicked", "action_done", "action_done", "action_failed"]):
        agg.on_feedback(Feedback("c2", 0, seq, "u2", kind))
    agg.on_feedback(Feedback("replay/r-1/c1", 0, 9, "u1", "thumbs_down"))
    return agg


def snapshot_file(tmp_path: Path, agg: FeedbackAggregate) -> Path:
    path = tmp_path / "feedback" / "aggregate.json"
    write_snapshot(path, agg.snapshot(NOW_MS - 30_000))
    return path


def test_the_section_has_one_row_per_intent_model_and_prompt_version(tmp_path: Path) -> None:
    section = read_section(snapshot_file(tmp_path, counted()), NOW_MS)

    assert (section["status"], section["age_s"], section["replayed_skipped"]) == ("ok", 30.0, 1)
    rows = {(r["intent"], r["model"], r["prompt_version"]): r for r in section["rows"]}
    assert set(rows) == {("search", "qwen", "answer-v1"), ("cart_action", "rules", "answer-v1")}
    search, cart = rows[("search", "qwen", "answer-v1")], rows[("cart_action", "rules", "answer-v1")]
    assert (search["thumbs_up"], search["thumbs_down"], search["thumbs_up_rate"]) == (3, 1, 0.75)
    assert search["action_success_rate"] is None
    assert (cart["action_clicked"], cart["action_done"], cart["action_failed"]) == (1, 2, 1)
    assert cart["thumbs_up_rate"] is None and cart["action_success_rate"] == 0.6667
    total = section["total"]
    assert (total["thumbs_up"], total["thumbs_down"], total["action_done"], total["action_failed"]) == (3, 1, 2, 1)

    markdown = render_markdown(section)
    assert markdown.startswith("## Shopper feedback")
    assert "| search | qwen | answer-v1 | 3 | 1 | 75% | 0 | 0 |" in markdown
    assert "| cart_action | rules | answer-v1 | 0 | 0 | – | 2 | 1 |" in markdown
    assert "| all | all | all | 3 | 1 | 75% | 2 | 1 |" in markdown
    assert "1 replayed records left out" in markdown


def test_without_a_snapshot_the_section_says_how_to_get_one(tmp_path: Path) -> None:
    section = read_section(tmp_path / "feedback" / "aggregate.json", NOW_MS)
    assert (section["status"], section["rows"], section["age_s"]) == ("missing", [], None)
    markdown = render_markdown(section)
    assert "No feedback aggregate" in markdown and "aisle worker feedback" in markdown
    assert "|" not in markdown, "an empty table was drawn"


def test_an_unreadable_snapshot_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "aggregate.json"
    path.write_text("{half a file")
    assert read_section(path, NOW_MS)["status"] == "unreadable"
    path.write_text('["not", "a", "snapshot"]')
    section = read_section(path, NOW_MS)
    assert section["status"] == "unreadable" and "not a feedback snapshot" in render_markdown(section)


def test_a_snapshot_with_nothing_counted_says_so(tmp_path: Path) -> None:
    section = read_section(snapshot_file(tmp_path, FeedbackAggregate("v1")), NOW_MS)
    assert section["status"] == "ok" and section["rows"] == []
    assert "counted no feedback yet" in render_markdown(section)


def test_table_cells_cannot_break_the_markdown_table(tmp_path: Path) -> None:
    agg = FeedbackAggregate("v|2")
    agg.on_response(TurnResponse("c1", 0, 0, "u1", "q", "a", "a|b", model="m"))
    agg.on_feedback(Feedback("c1", 0, 1, "u1", "thumbs_up"))
    markdown = render_markdown(read_section(snapshot_file(tmp_path, agg), NOW_MS))
    assert "| a\\|b | m | v\\|2 | 1 | 0 | 100% |" in markdown


def test_the_answer_eval_report_carries_the_section(tmp_path: Path) -> None:
    report: dict[str, Any] = {"mode": "pipeline", "model_small": "m", "llm_url": "u", "limit": 0, "seconds": 1.0,
                              "epqa": summarise_rows([]), "reviews": summarise_rows([]),
                              "feedback": read_section(snapshot_file(tmp_path, counted()), NOW_MS)}
    markdown = eval_markdown(report)
    assert "## Shopper feedback" in markdown and "| search | qwen | answer-v1 | 3 | 1 | 75% |" in markdown
    del report["feedback"]  # a report written before the section existed still renders
    assert "Shopper feedback" not in eval_markdown(report)


def test_the_replay_page_shows_the_section_escaped(tmp_path: Path) -> None:
    agg = FeedbackAggregate("answer-v1")
    agg.on_response(TurnResponse("c1", 0, 0, "u1", "q", "a", "<script>x</script>", model="qwen"))
    agg.on_feedback(Feedback("c1", 0, 1, "u1", "thumbs_down"))
    report = build_report(RunFacts("r-1", "t.jsonl", 1.0, 1, NOW_MS - 60_000, NOW_MS), [])
    report["feedback"] = read_section(snapshot_file(tmp_path, agg), NOW_MS)
    page = render_html(report)
    assert "<h2>Shopper feedback</h2>" in page
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<td>0%</td>" in page  # the up-rate of one thumbs down

    report["feedback"] = read_section(tmp_path / "nothing.json", NOW_MS)
    page = render_html(report)
    assert "No feedback aggregate" in page and "aisle worker feedback" in page
