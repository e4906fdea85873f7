"""Prices as the shopper reads them, in one format wherever they are written.

The evidence sentences the answer model reads (and is trained on), the answers stated without it,
alerts, action confirmations, comparison tables and the terminal chat all write prices through
`format_money`, so a price reads the same in an answer, in the table beside it and in the alert
that follows it.
"""

from __future__ import annotations


def format_money(cents: int, currency: str) -> str:
    """124999, "USD" -> "$1,249.99"; other currencies keep their code: 999, "EUR" -> "9.99 EUR".

    Integer arithmetic, so no amount is rounded; a negative amount reads "-$5.00".
    """
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    amount = f"{units:,}.{hundredths:02d}"
    return f"{sign}${amount}" if currency == "USD" else f"{sign}{amount} {currency}"
