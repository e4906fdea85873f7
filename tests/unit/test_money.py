from __future__ import annotations

import pytest

from pipeline.money import format_money


@pytest.mark.parametrize(("cents", "currency", "shown"), [
    (4999, "USD", "$49.99"),
    (124999, "USD", "$1,249.99"),
    (5, "USD", "$0.05"),
    (0, "USD", "$0.00"),
    (-500, "USD", "-$5.00"),
    (999, "EUR", "9.99 EUR"),
    (123456789, "GBP", "1,234,567.89 GBP"),
])
def test_one_format_with_thousands_separators(cents: int, currency: str, shown: str) -> None:
    assert format_money(cents, currency) == shown


def test_large_amounts_are_exact() -> None:
    # A float division would round the last cent away at this size.
    assert format_money(10**17 + 1, "USD") == "$1,000,000,000,000,000.01"
