"""What a shopper's words state about them: one value per key, and the guards around the patterns.

The labelled set behind `aisle eval memory` measures these rules; the cases here pin the behaviour
each pattern family and guard exists for.
"""

from __future__ import annotations

import pytest

from pipeline.memory.preferences import KEYS, extract, forget_keys, stated


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my budget is usually under $30", {"budget_cents": "3000"}),
        ("I typically don't go above $50", {"budget_cents": "5000"}),
        ("I'm on a tight budget, around $20", {"budget_cents": "2000"}),
        ("I usually spend like 20-30 bucks", {"budget_cents": "3000"}),
        ("we can afford up to $1,200 for a sofa", {"budget_cents": "120000"}),
        ("I mostly buy Sony", {"brand": "Sony"}),
        ("I'm a big fan of Samsung", {"brand": "Samsung"}),
        ("I buy mostly Levi's", {"brand": "Levi's"}),
        ("I like Apple's design", {"brand": "Apple"}),
        ("I'm a medium in shirts", {"size": "M"}),
        ("I normally wear size 11 shoes", {"size": "11"}),
        ("I run marathons", {"use": "running"}),
        ("I'm an avid cyclist", {"use": "cycling"}),
        ("we have two cats and a dog", {"pets": "cat, dog"}),
        ("my pup chews everything", {"pets": "puppy"}),
        ("we have a toddler", {"household": "toddler"}),
        ("We're a family of 5", {"household": "family of five"}),
        ("I'm vegetarian", {"diet": "vegetarian"}),
        ("I'm vegan and gluten free", {"diet": "vegan, gluten-free"}),
        ("I don't eat meat", {"diet": "vegetarian"}),
        ("I'm allergic to shellfish and peanuts", {"allergies": "shellfish, peanuts"}),
        ("I've got a nut allergy", {"allergies": "nuts"}),
        ("we have a small apartment", {"home": "small apartment"}),
        ("we live in a tiny house", {"home": "tiny house"}),
        ("I'm left-handed", {"handedness": "left-handed"}),
        ("Big Patagonia fan here", {"brand": "Patagonia"}),
        ("I'm vegetarian and my budget is $40", {"diet": "vegetarian", "budget_cents": "4000"}),
    ],
)
def test_statements_become_preferences(text: str, expected: dict[str, str]) -> None:
    assert extract(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "dog beds under $50",  # a search's budget stays with its turn
        "Samsung TV with a budget of $500",
        "vegan protein powder",
        "is this vegan?",  # questions
        "Do I need a budget of $200 for a good blender?",
        "can I use this for camping?",
        "if my budget were $100, what would you suggest?",  # suppositions
        "suppose I wear a size 10, would this fit?",
        "say my budget was $80, what then?",
        "I'm not vegetarian",  # denials and the past
        "I used to be vegan",
        "I don't have a dog",
        "my friend likes Sony",  # other people
        "my son is allergic to peanuts",
        "she's vegan",
        "I run a small bakery",  # words that only look like statements
        "I'm running late",
        "I have a big house party coming up",
        "I prefer lighter ones",
        "I like It",
    ],
)
def test_requests_and_other_peoples_facts_state_nothing(text: str) -> None:
    assert extract(text) == {}


def test_a_capitalised_size_is_not_a_brand() -> None:
    assert extract("I wear XL") == {"size": "XL"}


def test_a_statement_beside_a_question_is_kept() -> None:
    assert extract("I'm vegetarian, what protein powder do you recommend?") == {"diet": "vegetarian"}
    assert extract("I'm not vegetarian but I'm pescatarian") == {"diet": "pescatarian"}
    assert extract("I'm allergic to latex, are these gloves ok?") == {"allergies": "latex"}


def test_spans_cover_what_states_the_preferences() -> None:
    text = "I have a dog, show me dog beds"
    preferences, spans = stated(text)
    assert preferences == {"pets": "dog"}
    assert [text[a:b] for a, b in spans] == ["I have a dog"]


def test_forget_names_the_new_keys_too() -> None:
    assert forget_keys("forget that I'm vegetarian") == ("diet",)
    assert forget_keys("forget my allergies") == ("allergies",)
    assert forget_keys("forget that I'm left-handed") == ("handedness",)
    assert forget_keys("delete everything you know about me") == KEYS
