"""Building a replay report from synthetic observations, its HTML page, and comparing two reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.generated import mark_html
from pipeline.replay.compare import compare_reports, load_report, resolve_report
from pipeline.replay.html import render_html
from pipeline.replay.report import DeadLetterRecord, LagSample, RunFacts, TurnRecord, build_report, error_kind
from pipeline.replay.run import write_report

T0 = 1_700_000_000_000


def turn(conversation: str, number: int, sent: int, ttft: int | None, total: int | None, **extra: object) -> TurnRecord:
    return TurnRecord(conversation, number, T0 + sent,
                      first_text_at_ms=None if ttft is None else T0 + sent + ttft,
                      done_at_ms=None if total is None else T0 + sent + total,
                      frames=5, answered=total is not None, **extra)  # type: ignore[arg-type]


def facts(**extra: object) -> RunFacts:
    return RunFacts("r-1", "t.jsonl", 2.0, 4, T0, T0 + 60_000, **extra)  # type: ignore[arg-type]


def sample_turns() -> list[TurnRecord]:
    return [
        turn("c1", 0, 0, 800, 5_000, hop_ms={"plan": 100.0, "plan.wait": 5.0, "generate": 4_000.0},
             answer_chars=120, intent="product_qa"),
        turn("c1", 1, 6_000, 1_200, 9_000, hop_ms={"plan": 300.0, "plan.wait": 15.0, "generate": 7_000.0},
             answer_chars=80, intent="reviews", errors=[("generate: llm_unavailable", "llm_unavailable: timeout")],
             done_counts={"ungrounded": 2}),
        turn("c2", 0, 1_000, None, None, timed_out=True),
    ]


def test_the_report_summarises_latency_stages_errors_and_throughput() -> None:
    lag = [LagSample(T0 + 2_000, {"plan": 3, "generate": None}), LagSample(T0 + 4_000, {"plan": 0, "generate": 1})]
    dead = [DeadLetterRecord("c3", 0, "hydrate", "StageError", "bad markup")]
    report = build_report(facts(bad_lines=[(7, "not JSON")], frame_times_ms=[T0 + 1_000, T0 + 12_000]),
                          sample_turns(), lag, dead)

    assert report["turns"] == {"sent": 3, "answered": 2, "timed_out": 1, "with_error": 1,
                               "without_response": 1, "duplicate_frames": 0, "ended_twice": 0,
                               "outcomes": {"answered": 1, "error": 1, "lost": 1}}
    assert [t["outcome"] for t in report["per_turn"]] == ["answered", "error", "lost"]
    assert report["ttft_ms"]["count"] == 2 and report["ttft_ms"]["p50"] == 800 and report["ttft_ms"]["max"] == 1_200
    assert report["total_ms"]["p99"] == 9_000
    assert list(report["stages"]) == ["plan.wait", "plan", "generate"], "pipeline order, the wait before the stage"
    assert report["stages"]["generate"]["p50"] == 4_000 and report["stages"]["plan"]["mean"] == 200.0
    assert report["errors"]["total"] == 3
    assert report["errors"]["by_kind"] == {"generate: llm_unavailable": 1, "timeout: no done frame": 1,
                                           "dead_letter: hydrate StageError": 1}
    assert report["done_counters"] == {"ungrounded": 2}
    assert report["intents"] == {"product_qa": 1, "reviews": 1}
    assert report["lag"] == [{"t_s": 2.0, "plan": 3, "generate": None}, {"t_s": 4.0, "plan": 0, "generate": 1}]
    assert sum(b["turns_done"] for b in report["throughput"]) == 2
    assert sum(b["frames"] for b in report["throughput"]) == 2
    assert report["throughput"][1]["turns_done"] == 1  # c1 turn 0 done at 5 s: the second 5-second bucket
    assert sum(report["ttft_histogram"]["counts"]) == 2
    assert report["run"]["bad_lines"] == [{"line": 7, "reason": "not JSON"}]
    assert report["per_turn"][2]["error"] == "timeout"
    json.dumps(report)  # all of it serialises


def test_a_turn_ended_by_the_pipelines_error_frames_is_an_error_not_lost_and_two_ends_are_counted() -> None:
    ended = turn("c1", 0, 0, None, 2_000, errors=[("pipeline: Something went wrong", "")],
                 done_frames=1)
    twice = turn("c2", 0, 0, 500, 3_000, done_frames=2, errors=[("pipeline: Something went wrong", "")])
    report = build_report(facts(), [ended, twice])
    assert report["turns"]["outcomes"] == {"answered": 0, "error": 2, "lost": 0}
    assert report["turns"]["ended_twice"] == 1


def test_an_empty_run_still_builds() -> None:
    report = build_report(facts(), [])
    assert report["ttft_ms"]["p50"] is None and report["stages"] == {} and report["errors"]["total"] == 0
    assert "no data" in render_html(report)


def test_error_kinds_are_short() -> None:
    assert error_kind({"stage": "generate", "reason": "llm_unavailable: connect timeout after 2 s"}) == \
        "generate: llm_unavailable"
    assert error_kind({}) == "?: unknown"


def test_the_html_page_is_self_contained_and_escapes_run_values(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    turns = [turn(hostile, 0, 0, 500, 2_000, hop_ms={"plan": 10.0}, intent=hostile,
                  errors=[(hostile, hostile)])]
    report = build_report(facts(), turns, [LagSample(T0 + 1_000, {"plan": 1})])
    page = render_html(report)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', ""), "no external resources"
    assert page.count("<svg") >= 4  # ttft histogram, stages, throughput (2), lag, errors
    json_path, html_path = write_report(report, tmp_path / "r-1")
    assert json.loads(json_path.read_text())["run"]["run_id"] == "r-1"
    # The file is the page with the generated mark after its doctype (pipeline/generated.py).
    assert html_path.read_text() == mark_html(page, "aisle replay")


def test_compare_flags_what_got_worse(tmp_path: Path) -> None:
    a = build_report(facts(), sample_turns())
    slower = [turn("c1", 0, 0, 2_000, 9_000, hop_ms={"plan": 100.0, "generate": 8_000.0}, answer_chars=118,
                   intent="product_qa"),
              turn("c1", 1, 6_000, 2_500, 12_000, hop_ms={"plan": 300.0, "generate": 9_000.0}, answer_chars=80),
              turn("c2", 0, 1_000, 900, 3_000, hop_ms={"retrieve": 50.0})]
    b = build_report(facts(), slower)
    rows = {r.metric: r for r in compare_reports(a, b)}
    assert rows["TTFT p50"].a == 800 and rows["TTFT p50"].b == 2_000 and rows["TTFT p50"].verdict() == "worse"
    assert rows["generate p50"].verdict() == "worse"
    assert rows["plan p50"].verdict() == "", "unchanged"
    assert rows["retrieve p50"].a is None and rows["retrieve p50"].verdict() == ""
    assert rows["plan.wait p50"].b is None
    assert rows["turns answered"].verdict() == "better" and rows["turns timed out"].verdict() == "better"
    assert rows["errors"].a == 2 and rows["errors"].b == 0 and rows["errors"].verdict() == "better"
    assert rows["answer chars p50"].verdict() == "", "2 characters is below the floor"

    folder = tmp_path / "replays"
    write_report(a, folder / "r-a")
    assert resolve_report("r-a", folder) == folder / "r-a" / "report.json"
    assert load_report(resolve_report(str(folder / "r-a"), folder))["run"]["run_id"] == "r-1"
    with pytest.raises(ConfigError, match="no replay report"):
        resolve_report("r-missing", folder)
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ConfigError, match="not a replay report"):
        load_report(tmp_path / "other.json")
