"""The training data built from ../shared/data: deterministic, leak-free, in the served format."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.eval.answers import REVIEW_QUESTION, abstains
from pipeline.eval.planner import REVIEW_TEMPLATES, load_items
from pipeline.markup.parser import Directive, MarkupParser, Text
from pipeline.training.data import BuildOptions, Dataset, build_dataset, count, write_dataset
from pipeline.training.examples import Example
from pipeline.training.holdout import epqa_holdout, eval_review_products, normalize_question, read_jsonl, review_split
from pipeline.training.qa import ABSTAIN

SHARED_DATA = Settings().shared_data
pytestmark = pytest.mark.skipif(not (SHARED_DATA / "MANIFEST.json").exists(),
                                reason=f"the shared data is not at {SHARED_DATA}")

# kind -> (directive name, action type) every answer of that kind opens with
OPENING = {
    "card": ("product", None), "carousel": ("carousel", None), "compare": ("compare", None),
    "reviews": ("reviews", None), "price_history": ("price-history", None),
    "add_to_cart": ("action", "add_to_cart"), "price_alert": ("action", "price_alert"),
    "review_summary": ("reviews", None), "review_pros": ("reviews", None), "review_cons": ("reviews", None),
    "grounded_answer": ("product", None), "not_sure": ("product", None),
}
_EVIDENCE_ID = re.compile(r"^\[\d+\] \S+ (\S+): ", re.M)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset(SHARED_DATA, BuildOptions())


def events(answer: str) -> list[Text | Directive]:
    parser = MarkupParser()
    out = parser.feed(answer) + parser.finish()
    assert parser.stats.dropped() == 0 and parser.stats.overlong == 0, (answer, parser.stats)
    return out


def directive_ids(directive: Directive) -> list[str]:
    return [i for key in ("id", "ids") for i in directive.attrs.get(key, "").split(",") if i]


def evidence_ids(example: Example) -> set[str]:
    return set(_EVIDENCE_ID.findall(example.messages[-2].content))


def of_kind(dataset: Dataset, *kinds: str) -> Iterator[Example]:
    return (e for e in dataset.examples if e.kind in kinds)


def test_two_builds_are_identical(dataset: Dataset) -> None:
    again = build_dataset(SHARED_DATA, BuildOptions())
    assert [e.to_json() for e in again.examples] == [e.to_json() for e in dataset.examples]
    assert again.manifest == dataset.manifest
    other_seed = build_dataset(SHARED_DATA, BuildOptions(seed=7))
    assert [e.to_json() for e in other_seed.examples] != [e.to_json() for e in dataset.examples]


def test_every_source_contributes(dataset: Dataset) -> None:
    counts = count(dataset.examples)
    assert set(counts) == {"hetpqa", "semipqa", "fewsum_copycat", "oposum", "catalog", "written"}
    assert set(counts["catalog"]) == {"card", "carousel", "compare", "reviews", "price_history", "add_to_cart",
                                      "price_alert"}
    assert counts["hetpqa"]["grounded_answer"] > 3_900 and counts["hetpqa"]["not_sure"] > 500
    assert counts["semipqa"]["attribute_answer"] > 2_500


def test_no_epqa_question_product_or_eval_request_is_trained_on(dataset: Dataset) -> None:
    holdout = epqa_holdout(SHARED_DATA)
    questions = {normalize_question(e.question) for e in dataset.examples}
    assert not questions & holdout.questions
    eval_requests = {normalize_question(item.text) for item in load_items(SHARED_DATA)}
    eval_requests |= {normalize_question(t) for t in (*REVIEW_TEMPLATES, REVIEW_QUESTION)}
    assert not questions & eval_requests
    text = "\n".join(m.content for e in dataset.examples for m in e.messages)
    leaked = sorted(asin for asin in holdout.asins if asin in text)
    assert leaked == []


def test_review_sets_are_split_by_product_and_only_the_training_part_is_used(dataset: Dataset) -> None:
    split = review_split(SHARED_DATA)
    for name in split.train:
        train, held = set(split.train[name]), set(split.eval[name])
        assert train and held and not train & held
    held_out = eval_review_products(SHARED_DATA)
    assert held_out == {a for asins in split.eval.values() for a in asins}
    all_products = {r["asin"] for f in ("eval/review_summaries.jsonl", "eval/oposum_summaries_visible.jsonl")
                    for r in read_jsonl(SHARED_DATA / f)}
    assert held_out | {a for asins in split.train.values() for a in asins} == all_products
    used = {e.ref for e in dataset.examples if e.source in ("fewsum_copycat", "oposum")}
    assert used and used <= {a for asins in split.train.values() for a in asins}
    text = "\n".join(m.content for e in dataset.examples for m in e.messages)
    assert sorted(a for a in held_out if a in text) == []
    assert dataset.manifest["review_split"]["eval"] == split.eval


def test_directive_answers_open_with_their_directive_over_evidence_ids(dataset: Dataset) -> None:
    for example in of_kind(dataset, *OPENING):
        name, action = OPENING[example.kind]
        parsed = events(example.answer)
        first = parsed[0]
        assert isinstance(first, Directive) and first.name == name, example.answer
        assert action is None or first.attrs["type"] == action
        shown = [i for e in parsed if isinstance(e, Directive) and e.name != "suggest" for i in directive_ids(e)]
        assert shown and set(shown) <= evidence_ids(example), example.answer
        words = "".join(e.text for e in parsed if isinstance(e, Text))
        assert words.strip(), example.answer


def test_every_answer_parses_cleanly_and_ends_with_at_most_two_suggestions(dataset: Dataset) -> None:
    for example in dataset.examples:
        parsed = events(example.answer)
        assert all("<" not in e.text for e in parsed if isinstance(e, Text))
        suggests = [e for e in parsed if isinstance(e, Directive) and e.name == "suggest"]
        assert len(suggests) <= 1
        if suggests:
            assert parsed[-1] == suggests[0] and 1 <= len((suggests[0].body or "").split("|")) <= 2


def test_answers_are_ones_the_generation_grammar_admits(dataset: Dataset) -> None:
    import lark

    from pipeline.markup.grammar import build_lark

    seen: dict[str, int] = {}
    for example in dataset.examples:
        if seen.get(example.kind, 0) >= 15:
            continue
        seen[example.kind] = seen.get(example.kind, 0) + 1
        lark.Lark(build_lark(evidence_ids(example)), start="root").parse(example.answer)


def test_abstentions_use_one_wording_the_eval_recognises(dataset: Dataset) -> None:
    assert abstains(ABSTAIN)
    # Product answers are what the abstention rate is measured on; review summaries quote customers
    # ("being unable to relax") and are not.
    for example in (e for e in dataset.examples if e.source not in ("fewsum_copycat", "oposum")):
        visible = "".join(e.text for e in events(example.answer) if isinstance(e, Text))
        assert abstains(visible) == (example.kind == "not_sure"), example.answer
        if example.kind == "not_sure":
            assert visible.strip() == ABSTAIN


def test_prompts_are_the_served_ones_without_the_worked_example(dataset: Dataset) -> None:
    for example in dataset.examples:
        assert [m.role for m in example.messages] == ["system", "user", "assistant"]
        assert example.messages[0].content.startswith("You are Aisle, a shopping assistant.")
        assert example.messages[1].content.startswith("EVIDENCE:\n")
        assert "B000TEST01" not in example.messages[1].content
    declines = list(of_kind(dataset, "decline"))
    assert declines and all("(no evidence found)" in e.messages[1].content for e in declines)


def test_manifest_counts_match_the_written_file(dataset: Dataset, tmp_path: Path) -> None:
    data_path, manifest_path = write_dataset(dataset, tmp_path)
    manifest = json.loads(manifest_path.read_text())
    rows = [json.loads(line) for line in data_path.read_text().splitlines()]
    assert manifest["examples"] == len(rows) == len(dataset.examples)
    counted: dict[str, dict[str, int]] = {}
    for row in rows:
        counted.setdefault(row["source"], {}).setdefault(row["kind"], 0)
        counted[row["source"]][row["kind"]] += 1
    assert manifest["counts"] == counted
    assert manifest["totals"] == {s: sum(k.values()) for s, k in counted.items()}
    assert all(manifest["sources"][s]["licence"] for s in counted)
    assert manifest["sources"]["oposum"]["licence"] == "Apache-2.0"
    assert manifest["sources"]["fewsum_copycat"]["licence"] == "MIT"
    assert manifest["sources"]["hetpqa"]["licence"] == "CDLA-Sharing-1.0"
    assert manifest["seed"] == BuildOptions().seed
    assert {"messages", "source", "kind", "ref"} == set(rows[0])
