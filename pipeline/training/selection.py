"""Which examples of a train.jsonl a run takes: the first N, or a mix of quotas per kind with pairs.

`--max-examples N` takes the first N lines (the file is shuffled when built, so any N is a proportional
sample). `--mix kind=N,...` takes the first N of each named kind instead, and `--pair a:b` brings in,
for each example of kind a, the example of kind b about the same `ref` (docs/training.md, "The mix").
Pure: no torch, so the unit tests run in the project's venv.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError


def parse_mix(text: str) -> dict[str, int]:
    """ "kind=N,kind=N" as {kind: N}. Raises ConfigError on anything else."""
    quotas: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, number = part.partition("=")
        if not sep or not kind.strip() or not number.strip().isdigit():
            raise ConfigError(f"--mix wants kind=N[,kind=N...], not {part!r}")
        quotas[kind.strip()] = int(number)
    return quotas


def parse_pair(text: str) -> tuple[str, str] | None:
    """ "a:b" as (a, b); "" as None. Raises ConfigError on anything else."""
    if not text.strip():
        return None
    first, sep, second = (part.strip() for part in text.partition(":"))
    if not sep or not first or not second or first == second:
        raise ConfigError(f"--pair wants kind:kind, not {text!r}")
    return first, second


def read_examples(path: Path, max_examples: int = 0, mix: str = "", pair: str = "") -> list[dict[str, Any]]:
    """The first `max_examples` examples of a train.jsonl (0: all), or with a `mix` the first N of each
    kind it names, in file order (with a `pair`, the partners of the first kind's examples come first
    within the second kind's quota). Raises ConfigError."""
    quotas = parse_mix(mix)
    pairing = parse_pair(pair)
    if pairing and not all(kind in quotas for kind in pairing):
        raise ConfigError(f"--pair {pair!r} names a kind the --mix does not")
    try:
        with path.open(encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read training data {path}: {exc}") from exc
    if not quotas:
        out = rows[:max_examples] if max_examples > 0 else rows
    else:
        out = [rows[i] for i in sorted(_mix_indices(rows, quotas, pairing))]
    if not out:
        raise ConfigError(f"no training examples in {path}")
    return out


def _mix_indices(rows: Sequence[dict[str, Any]], quotas: dict[str, int],
                 pairing: tuple[str, str] | None) -> set[int]:
    """Indices of the rows a mix takes: the first N of each kind, the pairs' partners first."""
    chosen: set[int] = set()
    taken = dict.fromkeys(quotas, 0)

    def take(index: int) -> None:
        chosen.add(index)
        taken[rows[index].get("kind", "")] += 1

    if pairing:
        first, second = pairing
        leading = [i for i, r in enumerate(rows) if r.get("kind") == first][: quotas[first]]
        for index in leading:
            take(index)
        wanted = {rows[i].get("ref") for i in leading}
        for index, row in enumerate(rows):
            if row.get("kind") == second and row.get("ref") in wanted and taken[second] < quotas[second]:
                take(index)
    for index, row in enumerate(rows):
        kind = row.get("kind", "")
        if index not in chosen and taken.get(kind, 0) < quotas.get(kind, 0):
            take(index)
    return chosen
