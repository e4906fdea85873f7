"""The replay report as one self-contained HTML page: tables and inline-SVG plots, no scripts, no CDN.

Every value from the run is escaped, so a hostile question or error text cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from pipeline.feedback import report as feedback_report
from pipeline.replay import _svg

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:760px;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.2em .7em;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}.muted{color:#777;font-size:.85em}
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return escape(str(value))


def _rate(value: Any) -> Any:
    """Rates (floats in 0..1 in the feedback table) as percentages; other cells unchanged."""
    return f"{value:.0%}" if isinstance(value, float) else value


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _block_rows(blocks: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    return [[name, b.get("count"), b.get("p50"), b.get("p90"), b.get("p99"), b.get("mean"), b.get("max")]
            for name, b in blocks.items()]


def render_html(report: Mapping[str, Any]) -> str:
    """The page for a report dict built by report.build_report."""
    run, turns = report["run"], report["turns"]
    stages: Mapping[str, Mapping[str, Any]] = report["stages"]
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Replay {escape(run['run_id'])}</title>"
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Replay {escape(run['run_id'])}</h1>",
        f"<p class=muted>traffic {escape(run['traffic_file'])} · speed {_fmt(run['speed'])} · concurrency "
        f"{_fmt(run['concurrency'])} · {_fmt(run['duration_s'])} s</p>",
        _table(["turns", "count"], [[k.replace("_", " "), v] for k, v in turns.items()]),
        "<h2>Latency (ms)</h2>",
        _table(["", "count", "p50", "p90", "p99", "mean", "max"],
               _block_rows({"time to first token": report["ttft_ms"], "whole turn": report["total_ms"]})),
        "<h2>Time to first token</h2>",
        _svg.histogram(report["ttft_histogram"]["edges_ms"], report["ttft_histogram"]["counts"], "milliseconds"),
        "<h2>Per-stage latency (from hop timestamps)</h2>",
        "<p class=muted><code>stage</code>: time inside the stage; <code>stage.wait</code>: queued before it.</p>",
        _svg.horizontal_bars([(name, {k: float(b[k] or 0) for k in ("p50", "p90")}) for name, b in stages.items()],
                             ["p50", "p90"], "ms"),
        _table(["stage", "count", "p50", "p90", "p99", "mean", "max"], _block_rows(stages)),
        "<h2>Throughput</h2>",
    ]
    throughput = report["throughput"]
    xs = [float(b["t_s"]) for b in throughput]
    parts.append(_svg.lines(xs, {"turns done": [float(b["turns_done"]) for b in throughput]}, "seconds", "turns per bucket"))
    parts.append(_svg.lines(xs, {"frames": [float(b["frames"]) for b in throughput]}, "seconds", "frames per bucket"))
    parts.append("<h2>Consumer lag per stage group</h2>")
    lag: Sequence[Mapping[str, Any]] = report["lag"]
    names = [k for k in (lag[0] if lag else {}) if k != "t_s"]
    parts.append(_svg.lines([float(s["t_s"]) for s in lag],
                            {n: [None if s.get(n) is None else float(s[n]) for s in lag] for n in names},
                            "seconds", "messages"))
    errors = report["errors"]
    parts.append(f"<h2>Errors ({errors['total']})</h2>")
    by_kind: Mapping[str, int] = errors["by_kind"]
    if by_kind:
        parts.append(_svg.horizontal_bars([(k, {"count": float(v)}) for k, v in by_kind.items()], ["count"], "turns"))
        parts.append(_table(["conversation", "turn", "kind", "detail"],
                            [[e["conversation"], e["turn"], e["kind"], e["detail"]] for e in errors["examples"]]))
    else:
        parts.append("<p>none</p>")
    if report.get("done_counters"):
        parts.append("<h2>Done-frame counters</h2>")
        parts.append(_table(["counter", "total"], list(report["done_counters"].items())))
    parts.append("<h2>Answers</h2>")
    parts.append(_table(["", "count", "p50", "p90", "p99", "mean", "max"],
                        _block_rows({"answer characters": report["answer_chars"]})))
    parts.append(_table(["intent", "turns"], list(report["intents"].items())))
    if "feedback" in report:  # reports written before the feedback section have none
        section = report["feedback"]
        parts.append("<h2>Shopper feedback</h2>")
        parts.append(f"<p class=muted>{escape(feedback_report.summary_line(section))}</p>")
        rows = feedback_report.table_rows(section)
        if rows:
            parts.append(_table(feedback_report.HEADER, [[_rate(c) for c in row] for row in rows]))
    if run["bad_lines"]:
        parts.append(f"<h2>Bad traffic lines ({len(run['bad_lines'])}, skipped)</h2>")
        parts.append(_table(["line", "reason"], [[b["line"], b["reason"]] for b in run["bad_lines"]]))
    parts.append("<h2>Every turn</h2>")
    parts.append(_table(["conversation", "turn", "intent", "ttft ms", "total ms", "chars", "error"],
                        [[t["conversation"], t["turn"], t["intent"], t["ttft_ms"], t["total_ms"], t["chars"],
                          t["error"]] for t in report["per_turn"]]))
    parts.append("</body></html>\n")
    return "\n".join(parts)
