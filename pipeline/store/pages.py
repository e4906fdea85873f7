"""Product pages next to the store: what hydrate reads (markup.resolve.CatalogReader).

The store (prices, stock, ratings, history) and the catalog pages (attributes, review text) are two
systems in a real company too. `StoreWithPages` puts one in front of the other: the four store
methods pass through, the page methods read the catalog held in memory (1.5 MB for our catalog).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.catalog import Catalog, Product
from pipeline.store.base import Store
from pipeline.store.records import Offer, PricePoint, RatingSummary, StoreProduct


@dataclass(frozen=True)
class CatalogPages:
    """Pages and review texts by product id."""

    pages: dict[str, Product]
    review_texts: dict[str, tuple[str, ...]]

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> CatalogPages:
        pages = {product.asin: product for product in catalog.products}
        reviews = {product.asin: product.reviews for product in catalog.products}
        for review_set in catalog.review_sets:
            reviews[review_set.asin] = tuple(review.text for review in review_set.reviews)
        return cls(pages, reviews)


class StoreWithPages:
    """A CatalogReader over a Store and the catalog pages."""

    def __init__(self, store: Store, pages: CatalogPages) -> None:
        self.store = store
        self.pages = pages

    async def get_product(self, product_id: str) -> StoreProduct | None:
        return await self.store.get_product(product_id)

    async def get_offer(self, product_id: str) -> Offer | None:
        return await self.store.get_offer(product_id)

    async def get_rating(self, product_id: str) -> RatingSummary | None:
        return await self.store.get_rating(product_id)

    async def get_price_history(self, product_id: str, days: int = 365) -> list[PricePoint]:
        return await self.store.get_price_history(product_id, days)

    async def get_page(self, product_id: str) -> Product | None:
        return self.pages.pages.get(product_id)

    async def get_review_texts(self, product_id: str) -> Sequence[str]:
        return self.pages.review_texts.get(product_id, ())
