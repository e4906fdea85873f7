"""`aisle eval reviews`: the review summariser alone, offline, against the FewSum/Copycat references.

No LLM, broker, store or index: for each product of eval/review_summaries.jsonl, the `reviews` frame
is built by the same code hydrate runs (`markup.resolve.reviews`), over the review texts the store
serves for that product (`store.pages.CatalogPages`, i.e. catalog/review_sets.jsonl), with no rating.
The text a shopper reads in that frame (`answers.frame_text`: the summary line, then the pros,
then the cons) is scored by ROUGE-L F1 against the product's references, best over the references
(as `aisle eval answers --set reviews` scores a frame, so the two agree on the same frame).

Which products: every product with references (the visible review-summary products), reported by
part of the review sets' split (pipeline/training/holdout.py, a fixed hash of the product id): the
evaluation part, which the training data never uses, is the headline (`eval`, per category); the
training part (`train`) and all of them (`all`) follow.

Besides the score, the report checks what the issue asks of a summary a shopper can use: `cut` (an
item ending in "…" or without end punctuation), `verbatim_share` (quoted sentences found word for
word in the product's reviews) and `unfounded_aspects` (aspects named in the frame that no review
of the product contains; must be 0).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from pipeline.catalog import Product, read_catalog
from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.eval.answers import frame_text, load_review_summaries
from pipeline.eval.text_metrics import rouge_l_max
from pipeline.markup import opinions
from pipeline.markup.lookups import Lookups
from pipeline.markup.resolve import reviews, reviews_reads
from pipeline.stats import mean
from pipeline.store.pages import CatalogPages
from pipeline.store.records import Offer, PricePoint, RatingSummary, StoreProduct
from pipeline.training.holdout import eval_review_products

SPLIT = "by product, pipeline/training/holdout.py (review_part): the evaluation part is never trained on"
_END = re.compile(r"[.!?)\"']$")

EvalProgress = Callable[[str, int, int], None]


class _ReviewsOnly:
    """A CatalogReader with the catalog's pages and review texts, as the store serves them
    (store.pages.StoreWithPages), and no store figures (no rating, price or history)."""

    def __init__(self, pages: CatalogPages) -> None:
        self.pages = pages

    async def get_product(self, product_id: str) -> StoreProduct | None:
        return None

    async def get_offer(self, product_id: str) -> Offer | None:
        return None

    async def get_rating(self, product_id: str) -> RatingSummary | None:
        return None

    async def get_price_history(self, product_id: str, days: int = 365) -> list[PricePoint]:
        return []

    async def get_page(self, product_id: str) -> Product | None:
        return self.pages.pages.get(product_id)

    async def get_review_texts(self, product_id: str) -> Sequence[str]:
        return self.pages.review_texts.get(product_id, ())


async def build_frames(pages: CatalogPages, product_ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """The `reviews` payload hydrate would build for each product (as a dict), or None for none."""
    lookups = Lookups(_ReviewsOnly(pages), timeout_s=60.0)
    try:
        out: dict[str, dict[str, Any] | None] = {}
        for pid in product_ids:
            payload = reviews(await lookups.fetch(reviews_reads(pid)), pid)
            out[pid] = None if payload is None else asdict(payload)
        return out
    finally:
        lookups.close()


def run_reviews_eval(settings: Settings, limit: int = 0, progress: EvalProgress | None = None) -> dict[str, Any]:
    """Summarise and score every visible review-summary product; the report dict (render_markdown).
    `eval` (the headline) and `per_category` cover the evaluation part, `train` the training part.

    Raises ConfigError when the shared data cannot be read or no product is selected.
    """
    started = time.time()
    catalog = read_catalog(settings.shared_data)
    held_out = eval_review_products(settings.shared_data)
    items = load_review_summaries(settings.shared_data)
    items = items[:limit] if limit > 0 else items
    if not items:
        raise ConfigError("no review-summary products selected")
    pages = CatalogPages.from_catalog(catalog)
    frames = asyncio.run(build_frames(pages, [i.asin for i in items]))
    meta = {r.asin: r for r in catalog.review_sets}
    rows: list[dict[str, Any]] = []
    for done, item in enumerate(items, start=1):
        row = score_product(item.asin, frames[item.asin], pages.review_texts.get(item.asin, ()),
                            item.references, meta[item.asin].category if item.asin in meta else "?")
        rows.append({"part": "eval" if item.asin in held_out else "train", **row})
        if progress:
            progress("reviews", done, len(items))
    held = [r for r in rows if r["part"] == "eval"]
    return {
        "method": opinions.METHOD,
        "split": SPLIT,
        "products": len(rows),
        "seconds": round(time.time() - started, 2),
        "eval": _block(held),
        "train": _block([r for r in rows if r["part"] == "train"]),
        "all": _block(rows),
        "per_category": {c: _block([r for r in held if r["category"] == c])
                         for c in sorted({str(r["category"]) for r in held})},
        "rows": rows,
    }


def score_product(asin: str, payload: Mapping[str, Any] | None, texts: Sequence[str], references: Sequence[str],
                  category: str) -> dict[str, Any]:
    """One product's row: ROUGE-L of the frame's text, and the usability checks of the module docstring."""
    text = frame_text(payload) if payload else ""
    items = [str(x) for x in [*(payload or {}).get("pros", []), *(payload or {}).get("cons", [])]]
    quotes = [q for q in items if not opinions.is_stated(q)]
    corpus = " ".join(opinions.plain(t).lower() for t in texts)
    aspects = [str(a.get("aspect", "")) for a in (payload or {}).get("aspects", [])]
    return {
        "asin": asin,
        "category": category,
        "reviews": len(texts),
        "rouge_l": round(rouge_l_max(text, references), 4),
        "rouge_l_quotes": round(rouge_l_max(" ".join(quotes), references), 4),
        "pros": len((payload or {}).get("pros", [])),
        "cons": len((payload or {}).get("cons", [])),
        "words": len(text.split()),
        "cut": sum(1 for x in items if x.endswith("…") or not _END.search(x)),
        "quotes": len(quotes),
        "verbatim": sum(1 for q in quotes if _normal(q) in _normal(corpus)),
        "unfounded_aspects": sorted(a for a in aspects if a.lower() not in corpus),
        "text": text,
    }


def _normal(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _block(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    quotes = sum(int(r["quotes"]) for r in rows)
    return {
        "products": len(rows),
        "rouge_l": round(mean([float(r["rouge_l"]) for r in rows]) or 0.0, 4),
        "rouge_l_quotes": round(mean([float(r["rouge_l_quotes"]) for r in rows]) or 0.0, 4),
        "pros_mean": round(mean([float(r["pros"]) for r in rows]) or 0.0, 2),
        "cons_mean": round(mean([float(r["cons"]) for r in rows]) or 0.0, 2),
        "words_mean": round(mean([float(r["words"]) for r in rows]) or 0.0, 1),
        "cut": sum(int(r["cut"]) for r in rows),
        "verbatim_share": round(sum(int(r["verbatim"]) for r in rows) / quotes, 4) if quotes else None,
        "unfounded_aspects": sum(len(r["unfounded_aspects"]) for r in rows),
    }


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as a markdown table: the evaluation part per category, the training part, all; then
    the evaluation part's lowest three."""
    lines = [f"# Review summaries, offline ({report['method']})", "",
             f"{report['products']} products, split {report['split']}. ROUGE-L F1 of the `reviews` frame's "
             "text (summary line, pros, cons) against the FewSum/Copycat references, best over the references; "
             "\"quotes only\": the quoted sentences alone, without the summary line and the counted aspects.", "",
             "| | products | ROUGE-L | quotes only | pros | cons | words | cut items | verbatim quotes "
             "| unfounded aspects |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def row(name: str, b: Mapping[str, Any]) -> str:
        if not b["products"]:
            return f"| {name} | 0 | – | – | – | – | – | – | – | – |"
        share = "–" if b["verbatim_share"] is None else f"{b['verbatim_share']:.3f}"
        return (f"| {name} | {b['products']} | {b['rouge_l']:.3f} | {b['rouge_l_quotes']:.3f} | {b['pros_mean']:.2f} "
                f"| {b['cons_mean']:.2f} | {b['words_mean']:.1f} | {b['cut']} | {share} | {b['unfounded_aspects']} |")

    lines.append(row("**evaluation part**", report["eval"]))
    lines += [row(f"eval: {name}", b) for name, b in report["per_category"].items()]
    lines += [row("training part", report["train"]), row("all", report["all"])]
    worst = sorted((r for r in report["rows"] if r["part"] == "eval"), key=lambda r: r["rouge_l"])[:3]
    lines += ["", "Lowest three of the evaluation part:", ""]
    lines += [f"- {r['asin']} ({r['category']}, {r['rouge_l']:.3f}): {r['text']}" for r in worst]
    return "\n".join(lines)
