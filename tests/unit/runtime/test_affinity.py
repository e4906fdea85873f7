"""Which cores the pipeline's processes take, given where a local LLM server is pinned."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.runtime.affinity import parse_cpus, worker_cpus

FOUR = frozenset(range(4))


def settings(**fields: str) -> Settings:
    return dataclasses.replace(Settings.from_env({}), **fields)


def test_core_lists() -> None:
    assert parse_cpus("0") == {0} and parse_cpus("1-3") == {1, 2, 3} and parse_cpus("0, 2-3") == {0, 2, 3}
    with pytest.raises(ConfigError):
        parse_cpus("one")


def test_auto_leaves_the_local_llm_cores_alone() -> None:
    assert worker_cpus(settings(), frozenset({0, 1})) == {1}
    assert worker_cpus(settings(llm_cpus="0-1"), FOUR) == {2, 3}
    assert worker_cpus(settings(), frozenset({0})) is None, "one core: nothing to move to"
    assert worker_cpus(settings(llm_url="https://llm.example.com/v1"), FOUR) is None, "a remote LLM takes no core here"


def test_explicit_choices() -> None:
    assert worker_cpus(settings(worker_cpus="all"), FOUR) is None
    assert worker_cpus(settings(worker_cpus="2-5"), FOUR) == {2, 3}
    with pytest.raises(ConfigError):
        worker_cpus(settings(worker_cpus="8"), FOUR)
