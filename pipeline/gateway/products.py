"""The product endpoints over the store and catalog (docs/gateway.md); nothing here asks the model.

    GET /products/{product_id}/starters   the questions a product page opens with
        200 {"product_id", "title", "questions": [up to 3 strings]}   (questions may be [])
    GET /products/{product_id}            the product view (_product_view.py): card, attributes,
        200 {"product_id", "title", "card", "attributes", "qa", "reviews", "price_history"}
    both:
    400 {"error"}   the id is empty, longer than 64 characters, or not letters, digits, "-" and "_"
    404 {"error", "product_id"}   the store does not know the id
    503 {"error"}   the store or the catalog could not be opened or read in time

The gateway reads what hydrate reads (markup.resolve.CatalogReader: the store, and the catalog's
pages and review texts held in memory), through the same `Lookups` (markup/lookups.py), one per
request, its reads bounded together by LOOKUP_TIMEOUT_S. The reader is opened on the first request, not when the gateway starts, so a
gateway whose store or catalog is missing still serves chats; a failed open is tried again on the next
request. What is read goes to a pure function: pipeline/markup/starters.py, or the view's builders
(markup/resolve.py, the same that build an answer's card, review and price-history frames).
"""

from __future__ import annotations

import asyncio
import logging
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pipeline.catalog import read_catalog
from pipeline.config import Settings
from pipeline.errors import AisleError
from pipeline.gateway._product_view import product_view
from pipeline.markup import resolve, starters
from pipeline.markup.lookups import Lookups
from pipeline.markup.resolve import HISTORY, PAGE, PRODUCT, REVIEWS, CatalogReader
from pipeline.store.pages import CatalogPages, StoreWithPages
from pipeline.store.sqlite import SqliteStore, open_store

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_S = 1.0
"""Longest wait for the reads of one fetch (product, page, reviews, price history): they run together."""
PRODUCT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A product id the endpoint accepts (as the ask's `page_product_id`, at most 64 characters)."""
CACHE_MAX_AGE_S = 300
"""Clients may reuse starters this long: they change only when the catalog or the history does."""
VIEW_CACHE_CONTROL = "no-store"
"""The view shows the live price and stock: every opening reads the store again."""


class ProductPages:
    """The endpoints and the reader they own. `reader` given: used as is (tests); else opened lazily
    from `settings` (the store file and the catalog under AISLE_SHARED_DATA) and closed by `close`."""

    def __init__(self, settings: Settings, reader: CatalogReader | None = None,
                 timeout_s: float = LOOKUP_TIMEOUT_S) -> None:
        self._settings = settings
        self._reader = reader
        self._timeout_s = timeout_s
        self._store: SqliteStore | None = None
        """The store this object opened (None with a given reader)."""
        self._opening = asyncio.Lock()

    async def starters(self, request: Request) -> Response:
        lookups = await self._lookups(request)
        if isinstance(lookups, Response):
            return lookups
        product_id = str(request.path_params["product_id"])
        try:
            fetched = await lookups.fetch((kind, product_id) for kind in (PRODUCT, PAGE, REVIEWS, HISTORY))
        finally:
            lookups.close()
        product = fetched.product(product_id)
        if not fetched.ok(PRODUCT, product_id):
            return JSONResponse({"error": "store unavailable"}, status_code=503)
        if product is None:
            return JSONResponse({"error": "unknown product", "product_id": product_id}, status_code=404)
        # A page, reviews or history that could not be read in time only leaves out the kinds needing it.
        questions = starters.starters(product_id, product, fetched.page(product_id), fetched.reviews(product_id),
                                      len(fetched.history(product_id)))
        return JSONResponse({"product_id": product_id, "title": product.title, "questions": questions},
                            headers={"Cache-Control": f"max-age={CACHE_MAX_AGE_S}"})

    async def view(self, request: Request) -> Response:
        lookups = await self._lookups(request)
        if isinstance(lookups, Response):
            return lookups
        product_id = str(request.path_params["product_id"])
        try:
            # The product read first, so a failing store is told apart from an unknown id.
            fetched = await lookups.fetch([(PRODUCT, product_id)])
            if not fetched.ok(PRODUCT, product_id):
                return JSONResponse({"error": "store unavailable"}, status_code=503)
            fetched = await lookups.fetch([*resolve.card_reads(product_id), *resolve.reviews_reads(product_id),
                                           *resolve.price_history_reads(product_id)])
        finally:
            lookups.close()
        card = resolve.card(fetched, product_id)
        if card is None:
            return JSONResponse({"error": "unknown product", "product_id": product_id}, status_code=404)
        return JSONResponse(product_view(card, fetched.page(product_id), resolve.reviews(fetched, product_id),
                                         resolve.price_history(fetched, product_id)),
                            headers={"Cache-Control": VIEW_CACHE_CONTROL})

    async def _lookups(self, request: Request) -> Lookups | Response:
        """Per-request lookups for a valid id, or the error response (400, 503) to send instead."""
        product_id = str(request.path_params.get("product_id", ""))
        if not PRODUCT_ID.fullmatch(product_id):
            return JSONResponse({"error": "product id must be 1-64 letters, digits, '-' or '_'"}, status_code=400)
        try:
            reader = await self.open()
        except AisleError as exc:
            log.warning("products: the store or catalog could not be opened: %s", exc)
            return JSONResponse({"error": "catalog unavailable"}, status_code=503)
        return Lookups(reader, self._timeout_s)

    async def close(self) -> None:
        """Close the store if this object opened it."""
        store, self._store = self._store, None
        if store is not None:
            self._reader = None
            await store.close()

    async def open(self) -> CatalogReader:
        """The reader, opening it on first use; raises DependencyError (store) or ConfigError (catalog)."""
        async with self._opening:
            if self._reader is None:
                store = await open_store(self._settings)
                try:
                    catalog = await asyncio.to_thread(read_catalog, self._settings.shared_data)
                except BaseException:
                    await store.close()
                    raise
                self._store = store
                self._reader = StoreWithPages(store, CatalogPages.from_catalog(catalog))
            return self._reader
