"""The training data set, from ../shared/data only (`aisle train data`, docs/training.md).

    dataset = build_dataset(settings.shared_data, BuildOptions(seed=1234))
    write_dataset(dataset, out_dir)          # train.jsonl + manifest.json

Deterministic: the same shared data and options give byte-identical files (a unit test builds twice).
Every builder draws from its own seeded generator (examples.rng_for), and the examples are shuffled
once at the end with the seed, so taking the first N lines of train.jsonl is a fair sample of all
sources (train.py's --max-examples does exactly that).

Each line is {"messages": [{"role", "content"}...], "source", "kind", "ref"}: the served prompt without
its worked example (examples.py), then the answer. The manifest gives counts per source and kind, the
licence and checksum of every file read, the seed, what was left out and why, and the review sets'
split by product (holdout.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.generation.prompt import PROMPT_VERSION
from pipeline.training import declines, markup, qa, reviews
from pipeline.training.examples import Example, rng_for
from pipeline.training.holdout import EPQA_FILE, FEWSUM_FILE, OPOSUM_FILE, epqa_holdout, read_jsonl, review_split

DEFAULT_SEED = 1234
FORMAT = "aisle-training-data-v1"
DATA_FILE = "train.jsonl"
MANIFEST_FILE = "manifest.json"
_CATALOG_FILE = "catalog/products.jsonl"
SOURCE_FILES: dict[str, tuple[str, ...]] = {
    "hetpqa": (str(qa.HETPQA_FILE), str(EPQA_FILE)),
    "semipqa": (str(qa.SEMIPQA_FILE),),
    "fewsum_copycat": (str(FEWSUM_FILE),),
    "oposum": (str(OPOSUM_FILE),),
    "catalog": (_CATALOG_FILE,),
    "written": (),
}
"""Files each source reads (ePQA only to leave its products and questions out)."""
_WRITTEN_LICENCE = "Apache-2.0 (Aisle's own text, pipeline/training/declines.py)"

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total)."""


@dataclass(frozen=True)
class BuildOptions:
    seed: int = DEFAULT_SEED
    negatives_per_question: float = 0.3
    """"Not sure" examples per distinct hetPQA question (0-1): the share of questions that also get a
    hard negative."""


@dataclass(frozen=True)
class Dataset:
    examples: tuple[Example, ...]
    manifest: dict[str, Any]


def build_dataset(shared_data: Path, options: BuildOptions = BuildOptions(),
                  progress: Progress | None = None) -> Dataset:
    """Every example from every source, shuffled with the seed, and the manifest.

    Raises ConfigError when a shared data file is missing or unreadable.
    """
    holdout = epqa_holdout(shared_data)
    stats = qa.QaStats()
    pages = markup.catalog_pages(shared_data, holdout)
    phases: list[tuple[str, Callable[[], Iterable[Example]]]] = [
        ("hetpqa", lambda: qa.hetpqa_examples(shared_data, holdout, options.seed, options.negatives_per_question, stats)),
        ("semipqa", lambda: qa.semipqa_examples(shared_data, holdout, options.seed, stats)),
        ("reviews", lambda: [*reviews.fewsum_examples(shared_data, options.seed),
                             *reviews.oposum_examples(shared_data, options.seed)]),
        *[(f"markup {builder.__name__.removesuffix('_examples')}", partial(builder, pages, options.seed))
          for builder in markup.BUILDERS],
        ("declines", lambda: declines.decline_examples(options.seed)),
    ]
    examples: list[Example] = []
    for n, (phase, build) in enumerate(phases):
        examples.extend(build())
        if progress is not None:
            progress("sources", n + 1, len(phases))
    rng_for(options.seed, "order").shuffle(examples)
    manifest = _manifest(shared_data, options, examples, stats,
                         catalog_left_out=_catalog_left_out(shared_data, len(pages)))
    return Dataset(tuple(examples), manifest)


def write_dataset(dataset: Dataset, out_dir: Path) -> tuple[Path, Path]:
    """Write train.jsonl and manifest.json (with the data file's sha256) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(e.to_json(), ensure_ascii=False, sort_keys=True) + "\n" for e in dataset.examples)
    data_path = out_dir / DATA_FILE
    data_path.write_text(data, encoding="utf-8")
    manifest = {**dataset.manifest, "data_file": DATA_FILE,
                "data_sha256": hashlib.sha256(data.encode("utf-8")).hexdigest()}
    manifest_path = out_dir / MANIFEST_FILE
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return data_path, manifest_path


def count(examples: Iterable[Example]) -> dict[str, dict[str, int]]:
    """Examples per source and kind, both sorted."""
    table = Counter((e.source, e.kind) for e in examples)
    out: dict[str, dict[str, int]] = {}
    for (source, kind), n in sorted(table.items()):
        out.setdefault(source, {})[kind] = n
    return out


def _catalog_left_out(shared_data: Path, used: int) -> int:
    return sum(1 for _ in read_jsonl(shared_data / _CATALOG_FILE)) - used


def _manifest(shared_data: Path, options: BuildOptions, examples: list[Example], stats: qa.QaStats,
              catalog_left_out: int) -> dict[str, Any]:
    upstream = json.loads((shared_data / "MANIFEST.json").read_text(encoding="utf-8"))["files"]
    sources: dict[str, Any] = {}
    for source, files in SOURCE_FILES.items():
        licences = sorted({str(upstream[f]["licence"]) for f in files}) if files else [_WRITTEN_LICENCE]
        sources[source] = {"files": {f: upstream[f]["sha256"] for f in files}, "licence": " + ".join(licences)}
    counts = count(examples)
    return {
        "format": FORMAT,
        "prompt_version": PROMPT_VERSION,
        "prompt": "pipeline.generation.prompt.build_messages(bundle, examples=False) + the answer",
        "options": asdict(options),
        "seed": options.seed,
        "examples": len(examples),
        "counts": counts,
        "totals": {source: sum(kinds.values()) for source, kinds in counts.items()},
        "sources": sources,
        "left_out": {
            "epqa": "evaluation only: never trained on; its products and questions are left out everywhere",
            "hetpqa_rows_on_epqa_products": stats.hetpqa_on_epqa_products,
            "hetpqa_rows_with_an_epqa_question": stats.hetpqa_epqa_questions,
            "hetpqa_rows_with_a_hedged_answer": stats.hetpqa_hedged_answers,
            "hetpqa_questions_without_a_hard_negative": stats.negatives_without_snippets,
            "semipqa_rows_with_an_epqa_question": stats.semipqa_epqa_questions,
            "semipqa_rows_with_a_hedged_text": stats.semipqa_hedged_texts,
            "catalog_products_in_epqa_visible_or_untitled": catalog_left_out,
        },
        "review_split": review_split(shared_data).to_json(),
    }
