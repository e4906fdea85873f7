"""Follow-up suggestions: answerable from the catalog, at most three, deterministic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.catalog import Attribute, Product, QAPair
from pipeline.markup.suggestions import (
    ANSWERABLE_INTENTS,
    MAX_SUGGESTIONS,
    ProductFacts,
    TurnFacts,
    answerable,
    candidates,
    suggest,
)
from pipeline.messages import ConversationState, TurnMemory, UserTurn
from pipeline.planner import intents as I
from pipeline.planner.planner import PlannerOptions, plan_turn
from pipeline.store.records import StoreProduct

A, B, C = "B07AAAAAAA", "B08BBBBBBB", "B09CCCCCCC"
ATTRIBUTE_POOL = ("item_weight", "item_dimensions", "material", "color", "size", "batteries_included",
                  "warranty_description", "compatible_devices", "voltage", "part_number", "item_package_weight")
# The words a question about each attribute would use (generated questions keep them).
ATTRIBUTE_WORDS = {"item_weight": "weight", "item_dimensions": "dimensions", "material": "material",
                   "color": "color", "size": "size", "batteries_included": "batteries",
                   "warranty_description": "warranty", "compatible_devices": "devices", "voltage": "voltage",
                   "part_number": "part number", "item_package_weight": "package weight"}


def facts(pid: str, attrs: Sequence[str] = ("item_weight", "color"), reviews: int = 3, history: int = 30,
          known: bool = True, qa: Sequence[QAPair] = ()) -> ProductFacts:
    page = Product(pid, f"Title {pid}", attributes=tuple(Attribute(a, f"value of {a}") for a in attrs),
                   community_qa=tuple(qa))
    product = StoreProduct(pid, f"Title {pid}", "electronics", "inferred", "page") if known else None
    return ProductFacts.from_records(pid, product, page, ["fine"] * reviews, history)


def turn(shown: Sequence[str], grounded: Sequence[str] | None = None, intent: str = I.PRODUCT_QUESTION,
         question: str = "is it good?", page: str | None = None, page_known: bool = False) -> TurnFacts:
    return TurnFacts(tuple(shown), frozenset(shown if grounded is None else grounded), question, intent, page,
                     page_known)


def test_one_product_on_its_own_gets_it_questions_of_each_kind() -> None:
    result = suggest(turn([A]), {A: facts(A)})
    assert result.items == ["What is its weight?", "What do customers say about it?", "Has it been cheaper before?"]
    assert (result.generated, result.written_kept, result.written_dropped) == (3, 0, 0)


def test_it_is_replaced_by_an_ordinal_when_it_could_mean_another_page() -> None:
    # B is grounded too, so the shopper may be on B's page, where "it" means B: "the first one" is safe.
    result = suggest(turn([A], grounded=[A, B]), {A: facts(A), B: facts(B)})
    assert result.items == ["What is the weight of the first one?", "What do customers say about the first one?",
                            "Has the first one been cheaper before?"]


def test_a_known_page_makes_it_safe_again() -> None:
    result = suggest(turn([A], grounded=[A, B], page=A, page_known=True), {A: facts(A), B: facts(B)})
    assert result.items[0] == "What is its weight?"


def test_search_turn_leads_with_a_comparison_of_the_first_two() -> None:
    result = suggest(turn([A, B, C], intent=I.PRODUCT_SEARCH), {p: facts(p) for p in (A, B, C)})
    assert result.items[0] == "How do the first and second ones compare?"
    assert len(result.items) == MAX_SUGGESTIONS


def test_the_turns_own_topic_comes_last_and_never_about_the_same_products() -> None:
    both = {A: facts(A), B: facts(B)}
    items = candidates(turn([A, B], intent=I.REVIEW_SUMMARY), both)
    assert items[-1] == "What do customers say about the second one?"
    items = candidates(turn([A, B], intent=I.PRICE_HISTORY), both)
    assert items[-1] == "Has the second one been cheaper before?"
    # One product: its reviews (or price) again would be this turn's answer again, written or generated.
    for intent, again in ((I.REVIEW_SUMMARY, "What do customers say about it?"), (I.PRICE_HISTORY, "Has it been cheaper before?")):
        assert again not in candidates(turn([A], intent=intent), {A: facts(A)})
        result = suggest(turn([A], intent=intent), {A: facts(A)}, written=[again])
        assert again not in result.items and result.written_dropped == 1
    assert "How do the first and second ones compare?" not in candidates(turn([A, B], intent=I.COMPARISON), both)


def test_the_attribute_just_asked_about_is_not_suggested() -> None:
    items = candidates(turn([A], question="how much does it weigh? what is the weight"), {A: facts(A)})
    assert all("weight" not in q for q in items)
    assert "What color is it?" in items


def test_no_reviews_no_history_no_such_suggestion() -> None:
    items = candidates(turn([A]), {A: facts(A, reviews=0, history=0)})
    assert items == ["What is its weight?", "What color is it?"]


def test_nothing_answerable_gives_nothing() -> None:
    assert candidates(turn([A]), {A: facts(A, attrs=(), reviews=0, history=0)}) == []
    assert candidates(turn([A]), {A: facts(A, known=False)}) == []  # unknown to the store (or not read in time)
    assert candidates(turn([]), {A: facts(A)}) == []
    assert suggest(turn([A]), {}).items == []  # no facts were read


def test_unhelpful_attributes_are_not_asked_about() -> None:
    assert candidates(turn([A]), {A: facts(A, attrs=("part_number", "model_number"), reviews=0, history=0)}) == []


def test_model_written_suggestions_survive_only_when_answerable() -> None:
    written = [
        "What color is it?",                   # on the page: kept
        "What is its capacity?",               # not on the page
        "Show me cheaper ones",                # a search: not a fact about the products shown
        "Add it to my cart",                   # an action
        "Where is my order?",                  # orders
        "What do customers say about it?",     # A has reviews: kept
        "what color is it? ",                  # a repeat
    ]
    result = suggest(turn([A]), {A: facts(A)}, written)
    assert result.items == ["What color is it?", "What do customers say about it?", "What is its weight?"]
    assert (result.written_kept, result.written_dropped, result.generated) == (2, 4, 1)


def test_model_written_suggestion_matching_the_page_qa_is_kept() -> None:
    qa = [QAPair("is it dishwasher safe?", "yes, top rack")]
    assert answerable("Is it dishwasher safe?", turn([A]), {A: facts(A, qa=qa)})
    assert not answerable("Is it dishwasher safe?", turn([A]), {A: facts(A)})


def test_a_pronoun_that_could_mean_several_products_is_not_answerable() -> None:
    many = {A: facts(A), B: facts(B, reviews=0)}
    assert not answerable("What do customers say about it?", turn([A, B]), many)  # "it" is ambiguous
    assert answerable("What do customers say about the first one?", turn([A, B]), many)
    assert not answerable("What do customers say about the second one?", turn([A, B]), many)  # B: no reviews
    assert answerable("How do the first and second ones compare?", turn([A, B]), many)


def test_model_written_items_are_cleaned() -> None:
    result = suggest(turn([A]), {A: facts(A)}, ["  What <b>color</b>\nis it?  "])
    assert result.items[0] == "What b color /b is it?"


def test_at_most_the_limit() -> None:
    written = ["What color is it?", "What is its weight?", "What do customers say about it?", "Has it been cheaper?"]
    assert len(suggest(turn([A]), {A: facts(A)}, written).items) == 3
    assert len(suggest(turn([A]), {A: facts(A)}, written, limit=2).items) == 2


_PIDS = st.sampled_from((A, B, C))
_FACTS = st.builds(lambda attrs, reviews, history, known: (attrs, reviews, history, known),
                   st.lists(st.sampled_from(ATTRIBUTE_POOL), unique=True, max_size=6), st.integers(0, 2),
                   st.integers(0, 2), st.booleans())


@st.composite
def _turns(draw: st.DrawFn) -> tuple[TurnFacts, dict[str, ProductFacts], dict[str, tuple[str, ...]]]:
    shown = draw(st.lists(_PIDS, unique=True, max_size=3))
    grounded = set(shown) | set(draw(st.lists(_PIDS, max_size=2)))
    raw = {pid: draw(_FACTS) for pid in sorted(grounded)}
    intent = draw(st.sampled_from(I.INTENTS))
    page = draw(st.one_of(st.none(), st.sampled_from(sorted(grounded)))) if grounded else None
    page_known = draw(st.booleans())
    t = TurnFacts(tuple(shown), frozenset(grounded), draw(st.sampled_from(["", "is it heavy?", "what colour"])),
                  intent, page if page_known else None, page_known)
    found = {pid: facts(pid, attrs, reviews, history, known) for pid, (attrs, reviews, history, known) in raw.items()}
    return t, found, {pid: tuple(r[0]) for pid, r in raw.items()}


@settings(max_examples=150, deadline=None)
@given(_turns(), st.lists(st.sampled_from(["What color is it?", "Is it loud?", "What is its voltage?",
                                           "What do customers say about the first one?", "Find similar ones"]),
                          max_size=4))
def test_properties(case: tuple[TurnFacts, dict[str, ProductFacts], dict[str, tuple[str, ...]]],
                    written: list[str]) -> None:
    t, found, attrs = case
    result = suggest(t, found, written)
    # At most three, no repeats.
    assert len(result.items) <= MAX_SUGGESTIONS
    assert len({q.lower() for q in result.items}) == len(result.items)
    # Deterministic, whatever order the facts come in.
    assert suggest(t, dict(reversed(list(found.items()))), list(written)) == result
    for question in result.items:
        assert answerable(question, t, found)
    for question in candidates(t, found):
        assert answerable(question, t, found)
        # Never an attribute the product lacks: the attribute a generated question names is on the page
        # of every product the question is about (generated attribute questions are about one product).
        lowered = question.lower()
        about = _about(question, t)
        for name, words in ATTRIBUTE_WORDS.items():
            if f" {words} " in f" {lowered.rstrip('?')} " and name != "item_weight" or (
                    name == "item_weight" and " weight" in lowered and "package" not in lowered):
                assert all(name in attrs[pid] for pid in about), (question, about, attrs)
        if "customers say" in lowered:
            assert all(found[pid].reviews > 0 for pid in about)
        if "cheaper" in lowered:
            assert all(found[pid].price_points > 0 for pid in about)


def _about(question: str, t: TurnFacts) -> list[str]:
    ordinals = ("first", "second", "third")
    picked = [t.shown[i] for i, word in enumerate(ordinals) if word in question and i < len(t.shown)]
    if picked:
        return picked
    return [t.page_product_id] if t.page_known and t.page_product_id else list(t.shown[:1])


async def test_generated_suggestions_plan_as_intended_through_the_real_planner() -> None:
    # plan_turn (rules mode) on the next turn: the conversation showed this turn's products.
    t = turn([A, B], intent=I.PRODUCT_SEARCH)
    found: Mapping[str, ProductFacts] = {A: facts(A), B: facts(B)}
    state = ConversationState("c", 1, 0, "u", [TurnMemory(0, t.question, "", list(t.shown))])
    items = candidates(t, found)
    assert len(items) >= 5
    for question in items:
        for page in (None, A, B):
            outcome = await plan_turn(UserTurn("c", 1, 0, "u", question, page), state,
                                      options=PlannerOptions(mode="rules"))
            assert outcome.plan.intent in ANSWERABLE_INTENTS, question
            assert outcome.plan.resolved_product_ids, question
            assert set(outcome.plan.resolved_product_ids) <= {A, B}


def test_a_wording_the_planner_would_misread_gives_way_to_another() -> None:
    # "the package weight of the first one" reads as an order ("the package"); the possessive does not.
    items = candidates(turn([A], grounded=[A, B]), {A: facts(A, attrs=("item_package_weight",), reviews=0, history=0),
                                                    B: facts(B)})
    assert items == ["What is the first one's package weight?"]
