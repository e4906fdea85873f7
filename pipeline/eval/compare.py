"""Two `aisle eval answers` reports side by side, on the turns both answered without an error.

A CPU vLLM server shared with other work stalls now and then, and a stalled turn ends with the
system's fallback instead of the model's words; two runs stall on different turns. Comparing each
report's headline would mix model quality with machine load, so this pairs the rows by (set, id),
keeps the turns that answered without an error in *both* runs, and computes every measure of
answers.py and text_quality.py over that common set. The reports' own headlines stay as they are.

    aisle eval compare docs/eval/answers_epqa_base.json docs/eval/answers_tuned.json \
        --out docs/eval/base_vs_tuned.md
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.eval.answers import summarise_rows
from pipeline.training.holdout import review_part


def _key(row: Mapping[str, Any]) -> tuple[str, str]:
    return str(row["set"]), str(row["id"])


def _clean(row: Mapping[str, Any]) -> bool:
    return bool(row.get("answered")) and not row.get("errors")


def paired_rows(reports: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
    """Each report's rows restricted to the turns every report answered without an error, in one order."""
    by_key = [{_key(r): r for r in report["rows"]} for report in reports]
    common = set.intersection(*({k for k, r in rows.items() if _clean(r)} for rows in by_key))
    order = sorted(common)
    return [[rows[k] for k in order] for rows in by_key]


def compare(reports: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """Per report: its model, its error count over all its rows, and the measures on the common turns."""
    paired = paired_rows(reports)
    columns = []
    for name, report, rows in zip(names, reports, paired):
        all_rows = report["rows"]
        columns.append({
            "name": name,
            "model": report.get("model_small", "?"),
            "rows": len(all_rows),
            "with_errors": sum(bool(r.get("errors")) for r in all_rows),
            "epqa": summarise_rows([r for r in rows if r["set"] == "epqa"]),
            # Only the review sets' evaluation part: the tuned model was trained on the other half.
            "reviews": summarise_rows([r for r in rows if r["set"] == "reviews" and review_part(str(r["asin"])) == "eval"]),
        })
    return {"common_turns": len(paired[0]) if paired else 0, "columns": columns}


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({part / whole:.0%})" if whole else "–"


def render_markdown(result: Mapping[str, Any]) -> str:
    columns = result["columns"]
    lines = ["# Answers side by side, on the turns every run answered without an error", "",
             f"{result['common_turns']} common turns. Rows errored in each whole run: "
             + ", ".join(f"{c['name']} {c['with_errors']} of {c['rows']}" for c in columns) + ".", "",
             "| measure | " + " | ".join(f"{c['name']} ({c['model']})" for c in columns) + " |",
             "|---|" + "---|" * len(columns)]

    def row(label: str, values: Sequence[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    epqa = [c["epqa"] for c in columns]
    tq = [e.get("text_quality", {}) for e in epqa]
    row("ePQA turns", [str(e.get("answered", 0)) for e in epqa])
    row("ROUGE-L as shown", [_fmt(e.get("rouge_l")) for e in epqa])
    row("ROUGE-L, model's own words", [_fmt(t.get("rouge_l_model")) for t in tq])
    row("ROUGE-L, top passage verbatim (no model)", [_fmt(t.get("rouge_l_top_passage")) for t in tq])
    row("similarity as shown", [_fmt(e.get("similarity")) for e in epqa])
    row("abstained, nothing answers", [_share(e.get("abstained", 0), e.get("no_reference", 0)) for e in epqa])
    row("abstained, annotators answered", [_share(t.get("abstained_with_ref", 0), t.get("with_reference", 0))
                                           for t in tq])
    row("model sentences kept / dropped by the guard",
        [f"{t.get('sentences_kept', 0)} / {t.get('sentences_dropped', 0)} ({_fmt(t.get('dropped_share'))})"
         for t in tq])
    row("looping answers (stopped by the guard)", [str(t.get("looped", 0)) for t in tq])
    row("answer characters, mean", [_fmt(t.get("answer_chars_mean")) for t in tq])
    row("TTFT p50, s (through the pipeline)", [_fmt(e.get("ttft_s_p50")) for e in epqa])
    reviews = [c["reviews"] for c in columns]
    if any(r.get("answered") for r in reviews):
        row("review summaries, evaluation part: products", [str(r.get("answered", 0)) for r in reviews])
        row("review summaries, evaluation part: ROUGE-L", [_fmt(r.get("rouge_l")) for r in reviews])
        row("review summaries judged on a `reviews` frame", [str(r.get("from_reviews_frame", 0)) for r in reviews])
    return "\n".join(lines) + "\n"


def run_compare(paths: Sequence[Path], names: Sequence[str]) -> dict[str, Any]:
    reports = [json.loads(path.read_text()) for path in paths]
    return compare(reports, names)
