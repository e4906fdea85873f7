"""`make bench` / `python -m bench [NAME ...]`: run benchmarks, keep their numbers, rewrite the report.

Each benchmark module in bench/ exposes `run() -> dict` and may expose `TARGETS` (a list of
(description, key path, "<=" or ">=", threshold)). Results go to docs/benchmarks/<name>.json with
the machine they ran on; docs/benchmarks.md is rebuilt from every JSON file present, so running one
benchmark keeps the others' last numbers.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import BenchmarkSkipped
from pipeline.generated import mark_json, mark_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"
RESULTS_DIR = DOCS / "benchmarks"
REPORT = DOCS / "benchmarks.md"
QUALITY = DOCS / "eval" / "quality.md"
"""Quality results written by hand from `aisle eval` runs (not timings); appended to the report as is."""

# In the order they appear in the report. A benchmark whose prerequisites are missing (models not
# built, LLM server down) raises BenchmarkSkipped with the reason, which the report records.
BENCHMARKS = ["codec", "runtime", "polling", "retrieval", "pipeline", "hydrate", "gateway"]


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def _flatten(results: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _lookup(results: dict[str, Any], path: str) -> Any:
    return _flatten(results).get(path)


def run_one(name: str) -> dict[str, Any]:
    module = importlib.import_module(f"bench.{name}")
    started = time.monotonic()
    record: dict[str, Any] = {"name": name, "ran_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                              "machine": _machine()}
    try:
        record["results"] = module.run()
    except BenchmarkSkipped as exc:
        record["skipped"] = str(exc)
    record["seconds"] = round(time.monotonic() - started, 1)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(mark_json(record, f"python -m bench {name}"), indent=2) + "\n")
    return record


def _section(name: str, record: dict[str, Any]) -> list[str]:
    lines = [f"## {name}", ""]
    module = importlib.import_module(f"bench.{name}")
    doc = (module.__doc__ or "").strip()
    if doc:
        lines += [doc, ""]
    machine = record.get("machine", {})
    lines.append(f"Ran {record.get('ran_at')} on {machine.get('cpus')} CPUs, Python {machine.get('python')}, "
                 f"1-minute load {machine.get('load_avg_1m')}; took {record.get('seconds')} s. "
                 f"Command: `python -m bench {name}`.")
    lines.append("")
    if "skipped" in record:
        return lines + [f"Not run: {record['skipped']}", ""]
    results = record["results"]
    targets = getattr(module, "TARGETS", [])
    if targets:
        lines += ["| target | measured | met |", "|---|---|---|"]
        for description, path, op, threshold in targets:
            value = _lookup(results, path)
            met = value is not None and (value <= threshold if op == "<=" else value >= threshold)
            shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
            lines.append(f"| {description} {op} {threshold:,} | {shown} | {'yes' if met else '**no**'} |")
        lines.append("")
    render = getattr(module, "markdown", None)
    if render is not None:
        lines += [render(results), ""]
    else:
        lines += ["| measure | value |", "|---|---|"]
        for key, value in _flatten(results).items():
            lines.append(f"| {key} | {value:,.2f} |" if isinstance(value, float) else f"| {key} | {value} |")
        lines.append("")
    return lines


def write_report() -> None:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand. Raw numbers are in",
        "docs/benchmarks/*.json. The machine is a shared 2-core VM: numbers move with its load, which",
        "each section records.",
        "",
    ]
    for name in BENCHMARKS:
        path = RESULTS_DIR / f"{name}.json"
        if path.exists():
            lines += _section(name, json.loads(path.read_text()))
    if QUALITY.exists():
        lines += [QUALITY.read_text().rstrip(), ""]
    REPORT.write_text(mark_markdown("\n".join(lines).rstrip() + "\n", "make bench"))


def main(argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        print(f"usage: python -m bench [NAME ...]\n\nbenchmarks, in report order: {' '.join(BENCHMARKS)}\n"
              f"(none named: all of them). Results: {RESULTS_DIR}/<name>.json and {REPORT}.")
        return 0
    if unknown := [name for name in argv if name not in BENCHMARKS]:
        print(f"bench: no benchmark named {', '.join(unknown)}; there are: {' '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    names = argv or [n for n in BENCHMARKS if importlib.util.find_spec(f"bench.{n}") is not None]
    for name in names:
        print(f"bench: {name} ...", flush=True)
        record = run_one(name)
        print(json.dumps(record.get("results", record.get("skipped")), indent=2), flush=True)
    write_report()
    print(f"bench: wrote {REPORT.relative_to(Path.cwd()) if REPORT.is_relative_to(Path.cwd()) else REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
