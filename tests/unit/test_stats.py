from __future__ import annotations

import pytest

from pipeline.stats import mean, percentile


def test_percentile_nearest_rank_and_mean_skips_none() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)
    assert mean([1.0, None, 3.0]) == pytest.approx(2.0)
    assert mean([None]) is None


def test_percentile_is_an_observed_value_on_the_0_to_100_scale() -> None:
    # 13 values: the nearest rank of p50 is the 7th, where rounding half to even would pick the 6th.
    values = [float(v) for v in range(1, 14)]
    assert percentile(values, 50) == 7.0
    assert percentile(values, 100) == 13.0
    assert percentile(values, 0) == 1.0
