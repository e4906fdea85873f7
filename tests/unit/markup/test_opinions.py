"""What customers say (aspects-v2): sentences, counted aspects, quotes, the summary line; and attribute
matching for comparison tables."""

from __future__ import annotations

import re

from pipeline.catalog import Attribute, Product
from pipeline.markup._aspects import candidates, count, fold
from pipeline.markup.opinions import extract, is_stated, score, sentences, shown_text
from pipeline.markup.resolve import match_attribute, split_ids

MIC = [
    "This mic sounds great. The handling noise is terrible, so use a boom.",
    "Great sound quality for the price. The handling noise is bad without a shock mount.",
    "The sound quality is excellent and this mic is sturdy.",
    "I love the sound quality. Easy to set up.",
    "The cable broke after a month. Sound quality is fine.",
    "Picks up every bit of handling noise, which is annoying.",
    "This mic is solid. The windscreen is nice.",
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower())


def test_score_counts_words_and_flips_negated_ones() -> None:
    assert score("Great sound and very comfortable.") == 2
    assert score("It broke and leaks.") == -2
    assert score("Not good, and it isn't sturdy.") == -2
    assert score("It is blue.") == 0
    assert score("Don't waste your money.") == -1  # "waste" is not flipped by "don't"


def test_sentences_split_on_end_punctuation_also_without_a_space() -> None:
    assert sentences(["Love it! Fits well.  ", "", "ok"]) == ["Love it!", "Fits well.", "ok"]
    assert sentences(["The set is sturdy.The color is nice."]) == ["The set is sturdy.", "The color is nice."]
    assert sentences(["it works well.the wire is short"]) == ["it works well.", "the wire is short"]
    # abbreviations, decimals and domains before a lower-case word are not sentence ends
    assert sentences(["About 8 oz. of metal, 2.5 in. long, from amazon.com today."]) == [
        "About 8 oz. of metal, 2.5 in. long, from amazon.com today."]
    assert sentences(["It didn't work \\u2026 waste of money."]) == ["It didn't work … waste of money."]


def test_aspects_are_noun_phrases_counted_per_review() -> None:
    assert candidates(words("The sound quality is great and its cheap cable snapped")) == [
        (("sound", "quality"), "the"), (("cable",), "its")]
    assert candidates(words("this fits my feet")) == []  # a verb after "this"; "my" is no anchor
    assert candidates(words("this charger ruined the laptop")) == [(("charger",), "this"), (("laptop",), "the")]
    assert fold("batteries") == "battery" and fold("boxes") == "box" and fold("glass") == "glass"
    counted = count([[(words(s), score(s)) for s in sentences([text])] for text in MIC])
    assert counted.subject == "mic"
    by_name = {a.name: a for a in counted.aspects}
    assert (by_name["sound quality"].mentions, by_name["sound quality"].positive) == (4, 4)
    assert (by_name["handling noise"].mentions, by_name["handling noise"].negative) == (3, 3)
    assert "quality" not in by_name and "mic" not in by_name  # the phrase stands for it; the subject is no aspect


def test_extract_states_counts_quotes_whole_sentences_and_sums_up() -> None:
    found = extract(MIC)
    assert found.reviews == 7
    assert found.summary == "This mic is well reviewed."
    assert found.pros[0] == "4 of 7 reviews praise the sound quality."
    assert found.cons[0] == "3 of 7 reviews complain about the handling noise."
    quotes = [q for q in [*found.pros, *found.cons] if not is_stated(q)]
    assert len(quotes) == 3 and all(any(q in s for s in sentences(MIC)) for q in quotes)
    assert len(found.cons) == 2  # well reviewed: one quoted complaint, after the counted one
    corpus = " ".join(MIC).lower()
    assert all(a.name in corpus for a in found.aspects)
    assert shown_text(found.summary, found.pros, found.cons).startswith("This mic is well reviewed. 4 of 7")


def test_long_sentences_are_skipped_never_cut() -> None:
    long = "The strap is great " + "and it is great " * 20 + "for a walk."
    found = extract([long, "The strap is great.", "It is a nice strap, really nice."], stated=0, max_chars=60)
    assert sorted(found.pros) == ["It is a nice strap, really nice.", "The strap is great."]
    assert not any(p.endswith("…") for p in found.pros)


def test_quotes_get_a_capital_and_a_full_stop_and_prefer_what_many_say() -> None:
    found = extract(["this kettle is lovely", "I bought this kettle for my mom and she loves it.",
                     "this kettle is lovely and quick"], quotes=1, unit="review excerpt")
    assert found.pros == ["This kettle is lovely."]
    assert found.summary == "This kettle is well reviewed."


def test_summary_says_how_reviews_lean() -> None:
    assert extract(["Terrible.", "It broke.", "Works well."]).summary == "This product is poorly reviewed."
    assert extract(["It is blue.", "It is red.", "Great color."]).summary == "This product gets few clear opinions."
    assert extract(["Great.", "Broke.", "Great.", "Broke."]).summary == "This product gets mixed reviews."
    assert extract(["These boots are great.", "These boots are nice."]).summary == "These boots are well reviewed."
    assert extract(["Great."]).summary == "This product has one review, and it is positive."
    assert extract(["It is blue.", "It is red."]).summary == (
        "This product gets no clear praise or complaint in 2 reviews.")


def test_no_reviews_gives_nothing() -> None:
    found = extract([])
    assert (found.pros, found.cons, found.sentences, found.summary, found.aspects) == ([], [], 0, "", [])


def test_match_attribute_prefers_exact_then_fewest_extra_words() -> None:
    page = Product("B1", "t", attributes=(Attribute("item_package_weight", "2 pounds"),
                                          Attribute("item_weight", "1 pounds"),
                                          Attribute("battery_life", ""),
                                          Attribute("color", "red")))
    assert match_attribute(page, "weight") == ("item_weight", "1 pounds")
    assert match_attribute(page, "Color") == ("color", "red")
    assert match_attribute(page, "battery life") == (None, None)  # empty in the source: missing
    assert match_attribute(page, "warranty") == (None, None)
    assert match_attribute(None, "color") == (None, None)


def test_split_ids() -> None:
    assert split_ids(" A, B,,A ,C ") == ["A", "B", "C"]
