"""Factories shared by the store tests: a settable clock, small catalogs, a database dump."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from pipeline.catalog import Attribute, Product, Review, ReviewSet

START_MS = 1_751_328_000_000  # 2025-07-01T00:00:00Z, the day after the simulator's default as_of


class Clock:
    """A clock the test moves by hand (Unix ms)."""

    def __init__(self, now_ms: int = START_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def make_products(n: int) -> list[Product]:
    """`n` small products with distinct ids and titles that the category rules recognise."""
    kinds = ["LEGO building toy set", "Stainless steel kitchen wok", "USB computer mouse", "Dog chew toy"]
    return [
        Product(
            asin=f"B{i:09d}",
            title=f"{kinds[i % len(kinds)]} model {i}",
            attributes=(Attribute("brand", f"Brand{i % 3}"),),
        )
        for i in range(n)
    ]


def make_review_set(asin: str = "R000000001", ratings: tuple[int, ...] = (5, 4, 4, 2)) -> ReviewSet:
    return ReviewSet(
        asin=asin,
        category="Home & Kitchen",
        source="copycat_fewsum",
        licence="MIT",
        reviews=tuple(Review(f"{asin}-rev{i}", "fine", r) for i, r in enumerate(ratings)),
    )


def dump(path: Path) -> str:
    """The whole database as SQL text, for byte-for-byte comparisons."""
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def fingerprint(path: Path) -> str:
    """sha256 over the schema and every row of every table, in key order: cheaper than `dump`."""
    digest = hashlib.sha256()
    conn = sqlite3.connect(path)
    try:
        tables = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
        for name, sql in tables:
            digest.update(f"{name}\n{sql}\n".encode())
            for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY 1, 2'):
                digest.update(repr(row).encode())
    finally:
        conn.close()
    return digest.hexdigest()
