import pytest

from pipeline.runtime.offsets import OffsetTracker


def test_commit_position_is_the_first_unfinished_offset() -> None:
    tracker = OffsetTracker()
    for offset in range(10, 15):
        tracker.received("p0", offset)
    assert tracker.committable() == {"p0": 10}
    tracker.finished("p0", 12)
    tracker.finished("p0", 13)
    assert tracker.committable() == {"p0": 10}, "12 and 13 are done but 10 is not"
    tracker.finished("p0", 10)
    assert tracker.committable() == {"p0": 11}
    tracker.finished("p0", 11)
    assert tracker.committable() == {"p0": 14}
    tracker.finished("p0", 14)
    assert tracker.committable() == {"p0": 15}
    assert tracker.in_flight() == 0


def test_partitions_are_independent_and_can_be_forgotten() -> None:
    tracker = OffsetTracker()
    tracker.received("p0", 0)
    tracker.received("p1", 5)
    tracker.finished("p1", 5)
    assert tracker.committable() == {"p0": 0, "p1": 6}
    tracker.forget(["p0"])
    tracker.finished("p0", 0)  # finishing after a revoke is harmless
    assert tracker.committable() == {"p1": 6}


def test_offsets_must_arrive_in_order() -> None:
    tracker = OffsetTracker()
    tracker.received("p0", 3)
    with pytest.raises(ValueError):
        tracker.received("p0", 2)
