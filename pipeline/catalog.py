"""The real catalog: product pages and review sets from ../shared/data/catalog, as frozen records.

    read_catalog(shared_data)        -> Catalog (every product, review set and malformed line)
    read_products(path, malformed)   -> Iterator[Product]     streaming, one line at a time
    read_review_sets(path, malformed)-> Iterator[ReviewSet]

A malformed line (bad JSON, a missing or mistyped field) never stops a reader: it is recorded as a
`MalformedLine(line_no, reason)` in the list the caller passes, and reading goes on. Line numbers
start at 1. Reading is plain synchronous file I/O (the files total about 9 MiB); async callers run
`read_catalog` in a thread.

The data has no prices, ratings or category paths (see ../shared/data/README.md); pipeline/categories.py
infers a coarse category from the text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

PRODUCTS_FILE = Path("catalog") / "products.jsonl"
REVIEW_SETS_FILE = Path("catalog") / "review_sets.jsonl"


@dataclass(frozen=True)
class Attribute:
    """A semi-structured attribute, e.g. name "item_weight", value "0.18 kilograms (0.4 pounds)"."""

    name: str
    value: str
    """A readable rendering of the source text; "" when the source attribute is empty."""


@dataclass(frozen=True)
class QAPair:
    """A community question and its answer, from the product page."""

    question: str
    answer: str


@dataclass(frozen=True)
class Product:
    """One product page from products.jsonl. Snippet texts are lower-cased in the source."""

    asin: str
    title: str
    attributes: tuple[Attribute, ...] = ()
    bullets: tuple[str, ...] = ()
    description: tuple[str, ...] = ()
    reviews: tuple[str, ...] = ()
    """Review *sentences*, not whole reviews (ePQA keeps one sentence per candidate)."""
    community_qa: tuple[QAPair, ...] = ()

    def attribute(self, name: str) -> str | None:
        """The value of the first attribute called `name`, or None."""
        for attr in self.attributes:
            if attr.name == name:
                return attr.value
        return None


@dataclass(frozen=True)
class Review:
    """A full customer review; `rating` is 1-5 stars, present only for the Copycat/FewSum sets."""

    review_id: str
    text: str
    rating: int | None = None


@dataclass(frozen=True)
class ReviewSet:
    """Full reviews of one product that has no page in products.jsonl (no title either)."""

    asin: str
    category: str
    """The source's own category, e.g. "Home & Kitchen" or "Bluetooth headsets"."""
    source: str
    """copycat_fewsum | oposum"""
    licence: str
    reviews: tuple[Review, ...]


@dataclass(frozen=True)
class MalformedLine:
    """A line a reader skipped, and why."""

    line_no: int
    reason: str


@dataclass(frozen=True)
class Catalog:
    """Everything under catalog/, read in file order."""

    products: tuple[Product, ...]
    review_sets: tuple[ReviewSet, ...]
    malformed: tuple[tuple[str, MalformedLine], ...]
    """(file name, line) for every skipped line of either file."""


class _Malformed(Exception):
    """A record that does not have the documented fields; caught per line."""


def read_catalog(shared_data: Path) -> Catalog:
    """Read both catalog files under `shared_data`.

    Raises ConfigError when a file is missing or unreadable (the folder comes from AISLE_SHARED_DATA).
    Malformed lines do not raise; they are listed in `Catalog.malformed`.
    """
    bad_products: list[MalformedLine] = []
    bad_sets: list[MalformedLine] = []
    products = tuple(read_products(shared_data / PRODUCTS_FILE, bad_products))
    review_sets = tuple(read_review_sets(shared_data / REVIEW_SETS_FILE, bad_sets))
    malformed = tuple(("products.jsonl", m) for m in bad_products) + tuple(
        ("review_sets.jsonl", m) for m in bad_sets
    )
    return Catalog(products=products, review_sets=review_sets, malformed=malformed)


def read_products(path: Path, malformed: list[MalformedLine] | None = None) -> Iterator[Product]:
    """Yield each well-formed product of a products.jsonl file, appending bad lines to `malformed`.

    Raises ConfigError if the file cannot be opened or read.
    """
    for line_no, record in _records(path, malformed):
        try:
            yield _product(record)
        except _Malformed as exc:
            _note(malformed, line_no, str(exc))


def read_review_sets(path: Path, malformed: list[MalformedLine] | None = None) -> Iterator[ReviewSet]:
    """Yield each well-formed review set of a review_sets.jsonl file, appending bad lines to `malformed`.

    Raises ConfigError if the file cannot be opened or read.
    """
    for line_no, record in _records(path, malformed):
        try:
            yield _review_set(record)
        except _Malformed as exc:
            _note(malformed, line_no, str(exc))


# --- parsing --------------------------------------------------------------------------------------


def _records(path: Path, malformed: list[MalformedLine] | None) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot open catalog file {path}: {exc}") from exc
    with handle:
        line_no = 0
        while True:
            try:
                line = handle.readline()
            except (OSError, UnicodeDecodeError) as exc:
                # A decode error leaves the stream unusable, so the file ends here.
                _note(malformed, line_no + 1, f"unreadable: {exc}")
                return
            if not line:
                return
            line_no += 1
            if not line.strip():
                _note(malformed, line_no, "empty line")
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                _note(malformed, line_no, f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(record, dict):
                _note(malformed, line_no, f"expected a JSON object, got {type(record).__name__}")
                continue
            yield line_no, record


def _note(malformed: list[MalformedLine] | None, line_no: int, reason: str) -> None:
    if malformed is not None:
        malformed.append(MalformedLine(line_no=line_no, reason=reason))


def _str(record: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _Malformed(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def _list(record: Mapping[str, Any], key: str) -> list[Any]:
    value = record.get(key, [])
    if not isinstance(value, list):
        raise _Malformed(f"field {key!r} must be a list, got {type(value).__name__}")
    return value


def _objects(record: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = _list(record, key)
    for item in items:
        if not isinstance(item, dict):
            raise _Malformed(f"every item of {key!r} must be an object")
    return items


def _strings(record: Mapping[str, Any], key: str) -> tuple[str, ...]:
    items = _list(record, key)
    for item in items:
        if not isinstance(item, str):
            raise _Malformed(f"every item of {key!r} must be a string")
    return tuple(items)


def _product(record: Mapping[str, Any]) -> Product:
    asin = _str(record, "asin")
    if not asin:
        raise _Malformed("field 'asin' is empty")
    return Product(
        asin=asin,
        title=_str(record, "title"),
        attributes=tuple(
            Attribute(name=_str(a, "name"), value=_str(a, "value", required=False))
            for a in _objects(record, "attributes")
        ),
        bullets=_strings(record, "bullets"),
        description=_strings(record, "description"),
        reviews=tuple(_str(r, "text") for r in _objects(record, "reviews")),
        community_qa=tuple(
            QAPair(question=_str(q, "question"), answer=_str(q, "answer"))
            for q in _objects(record, "community_qa")
        ),
    )


def _rating(review: Mapping[str, Any]) -> int | None:
    rating = review.get("rating")
    if rating is None:
        return None
    # bool is an int subclass; a JSON true is not a star rating.
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise _Malformed(f"rating must be an integer 1-5, got {rating!r}")
    return rating


def _review_set(record: Mapping[str, Any]) -> ReviewSet:
    asin = _str(record, "asin")
    if not asin:
        raise _Malformed("field 'asin' is empty")
    return ReviewSet(
        asin=asin,
        category=_str(record, "category"),
        source=_str(record, "source"),
        licence=_str(record, "licence"),
        reviews=tuple(
            Review(review_id=_str(r, "review_id"), text=_str(r, "text"), rating=_rating(r))
            for r in _objects(record, "reviews")
        ),
    )
