"""`python -m bench`'s command line: help and unknown names run nothing."""

import pytest

from bench.__main__ import BENCHMARKS, main


def test_help_lists_the_benchmarks_and_runs_none(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m bench") and all(name in out for name in BENCHMARKS)


def test_an_unknown_name_is_refused_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pipeline", "nope"]) == 2
    assert "no benchmark named nope" in capsys.readouterr().err
