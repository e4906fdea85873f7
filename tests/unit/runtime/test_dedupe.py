import pytest

from pipeline.runtime.dedupe import SeenFilter, Verdict


def test_replays_are_duplicates_and_skips_are_gaps() -> None:
    seen = SeenFilter(window=10)
    assert [seen.check("c", 1, s) for s in (0, 1, 2)] == [Verdict.NEW] * 3
    assert seen.check("c", 1, 1) is Verdict.DUPLICATE
    assert seen.check("c", 1, 2) is Verdict.DUPLICATE
    assert seen.check("c", 1, 4) is Verdict.GAP
    assert seen.check("c", 2, 0) is Verdict.NEW
    assert seen.check("c", 1, 9) is Verdict.DUPLICATE, "an older turn"
    assert seen.check("c", 3, 2) is Verdict.GAP, "a new turn must start at seq 0"


def test_window_forgets_the_least_recently_active_conversation() -> None:
    seen = SeenFilter(window=2)
    seen.check("a", 0, 0)
    seen.check("b", 0, 0)
    seen.check("a", 0, 1)  # "a" is now the most recent
    seen.check("c", 0, 0)  # evicts "b"
    assert seen.check("a", 0, 1) is Verdict.DUPLICATE
    assert seen.check("b", 0, 0) is Verdict.NEW


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SeenFilter(0)
