"""The stage registry: each stage's topics as its class declares them, all declared in topics/."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import topics
from pipeline.errors import ConfigError
from pipeline.runtime.service import STAGES, stage_class, stage_inputs
from pipeline.topics import load_topics

DECLARED = {spec.name for spec in load_topics(1)}
ARCHITECTURE = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"


def test_stage_inputs_follow_the_dataflow() -> None:
    assert stage_inputs() == {
        "plan": "requests", "retrieve": "plans", "generate": "evidence", "hydrate": "tokens",
        "render": "hydrated", "alerts": "store-events", "actions": "feedback", "feedback": "feedback",
    }


@pytest.mark.parametrize("name", list(STAGES))
def test_every_stage_reads_and_writes_declared_topics(name: str) -> None:
    stage = stage_class(name)
    assert stage.name == name
    assert {stage.input_topic, *stage.output_topics} <= DECLARED


def test_every_named_topic_is_declared() -> None:
    names = {value for key, value in vars(topics).items() if key.isupper() and isinstance(value, str)}
    assert names == DECLARED


def test_a_factory_that_does_not_name_its_class_is_refused() -> None:
    with pytest.raises(ConfigError, match="does not name the class"):
        stage_class("tests.unit.runtime.test_service:_untyped")


def _untyped(settings: object):  # type: ignore[no-untyped-def]
    return None


def test_the_architecture_table_matches_the_declarations() -> None:
    rows = [line.split("|")[1:4] for line in ARCHITECTURE.read_text().splitlines() if line.startswith("| ")]
    table = {cells[0].strip(): (cells[1].strip(), cells[2].strip()) for cells in rows if cells[0].strip() in STAGES}
    assert set(table) == set(STAGES)
    for name, (reads, writes) in table.items():
        stage = stage_class(name)
        assert reads == stage.input_topic, name
        assert {w.strip() for w in writes.split(",") if not w.strip().startswith("(")} == set(stage.output_topics), name
