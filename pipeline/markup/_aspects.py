"""Aspects of a product counted over its reviews: short noun phrases, found without a tagger.

English puts a noun phrase after a determiner ("the sound quality", "its handle", "this kettle"), so
a candidate is the run of content words right after "the", "its", "this" or "these" (at most three),
with leading qualities dropped ("the great price" -> "price") and its last two words kept ("the blade
guard"). Words that are rarely aspects (function words, people, time, shopping: `STOP`) and adverbs
in -ly end or break a run, and so do -ed/-ing words after its first word ("this charger ruined");
after "this" a plural is a verb ("this fits"). "my", "her" and the like are not anchors: "my feet"
is about the buyer. Plurals are folded ("batteries" = "battery") for counting; a phrase is shown as
the reviews write it most often.

Counting is per review: `mentions` is the number of reviews with the phrase anywhere in them,
`positive`/`negative` the number with a sentence that names it and scores above/below zero. An
aspect needs 2 reviews. When a two-word phrase accounts for at least half of its last word's
mentions, the phrase stands for both ("sound quality", not "quality"). The product itself (the word
most often after "this"/"these", at least twice, e.g. "kettle") is `subject`, not an aspect. Pure
Python; every phrase returned occurs, word for word up to a plural, in the reviews.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

ANCHORS = frozenset("the this these its".split())
"""Determiners that start a phrase about the product ("my feet", "her son" are about the buyer)."""
SUBJECT_ANCHORS = frozenset({"this", "these"})
MAX_RUN = 3
MIN_MENTIONS = 2
"""An aspect needs at least this many reviews naming it."""

# Qualities dropped from the front of a run: the noun is what they qualify.
QUALIFIERS = frozenset(
    """
    very really so too quite pretty little big small large tiny huge new old first second third last
    next previous other same whole entire only main overall actual original real extra different
    few several many much more most less least high low long short full half best worst better
    worse nice great good bad poor excellent perfect cheap cute beautiful lovely awesome amazing
    terrible horrible fine solid sturdy flimsy heavy light thin thick soft hard easy difficult simple
    usual normal regular standard basic right wrong hot cold warm cool dark bright clear loud quiet
    fast slow free own certain such particular
    """.split()
)

STOP = QUALIFIERS | ANCHORS | frozenset(
    """
    a an and or but if then than so as at by for from in into of off on onto out over to up with
    without about after before under again once is are was were be been being am do does did done
    have has had having get gets got getting make makes made go goes went going come came take took
    it it's its i i'm i've i'd me my we us our you your they them their he him his she her this that
    these those there here what which who whom whose when where why how all any both each every no
    not nor some such own same just also still even ever only very can could will would should may
    might must shall one ones thing things something anything everything nothing lot lots bit way
    ways time times day days week weeks month months year years today product products item items
    purchase purchases order orders amazon seller sellers vendor company review reviews reviewer
    reviewers star stars rating money dollars stuff fact opinion reason reasons problem problems
    issue issues kind sort type people person someone everyone anyone husband wife son daughter kids
    kid child children family friend friends mom dad mother father boyfriend girlfriend gift gifts
    christmas birthday home house use using used buy bought buying need needs needed want wanted
    wants try tried look looks looked feel feels felt say says said think thought know knew see saw
    work works worked working recommend love loved like liked hate because away around thanks others
    enough back plenty instead though although while until since yet already almost again either
    my our your their his her mine yours fits runs holds keeps seems comes lasts smells tends stays
    does goes takes gives helps broke
    """.split()
)


@dataclass(frozen=True)
class Aspect:
    name: str
    """The phrase as reviewers wrote it most often, e.g. "sound quality"."""
    mentions: int
    """Reviews naming it."""
    positive: int
    """Reviews with a positive-scored sentence naming it."""
    negative: int
    """Reviews with a negative-scored sentence naming it."""


@dataclass(frozen=True)
class Counted:
    subject: str | None
    """What the reviews call the product ("kettle"), or None when they never say."""
    aspects: list[Aspect]
    """Most-mentioned first (ties: more polar mentions, then alphabetical); each in >= 2 reviews."""


@functools.lru_cache(maxsize=8192)
def fold(word: str) -> str:
    """A plural's singular, roughly ("batteries" -> "battery", "boxes" -> "box", "shoes" -> "shoe")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


NOUNS_IN_LY = frozenset("supply assembly belly jelly reply butterfly ally anomaly bully lily holly poly".split())


def _content(word: str) -> bool:
    """A word that can be part of an aspect: not a stop word, not an adverb in -ly."""
    adverb = word.endswith("ly") and word not in NOUNS_IN_LY
    return word.isalpha() and len(word) >= 3 and word not in STOP and not adverb


def _verb_form(word: str) -> bool:
    """-ed and -ing words end a phrase after its first word ("this charger ruined ...")."""
    return len(word) > 4 and word.endswith(("ed", "ing"))


def candidates(words: Sequence[str]) -> list[tuple[tuple[str, ...], str]]:
    """(phrase words, anchor) for each noun-phrase candidate of one sentence's lowercase words."""
    found: list[tuple[tuple[str, ...], str]] = []
    for i, word in enumerate(words):
        if word not in ANCHORS:
            continue
        j = i + 1
        while j < len(words) and words[j] in QUALIFIERS:
            j += 1
        run: list[str] = []
        while j < len(words) and len(run) < MAX_RUN and _content(words[j]):
            if word == "this" and fold(words[j]) != words[j]:
                break  # "this fits", "this unit locks": a verb, not a plural after "this"
            if run and _verb_form(words[j]):
                break
            run.append(words[j])
            j += 1
        if run:
            found.append((tuple(run[-2:]), word))
    return found


def count(reviews: Sequence[Sequence[tuple[list[str], int]]]) -> Counted:
    """Aspects over reviews, each a list of (sentence words, sentence score); see the module docstring.

    Time is linear in the number of words (each sentence's one- and two-word phrases are looked up).
    """
    anchored: Counter[tuple[str, ...]] = Counter()
    subjects: Counter[tuple[str, ...]] = Counter()
    surface: dict[tuple[str, ...], Counter[str]] = {}
    for review in reviews:
        for words, _ in review:
            for phrase, anchor in candidates(words):
                for part in (phrase,) if len(phrase) == 1 else (phrase, phrase[-1:]):
                    key = tuple(fold(w) for w in part)
                    anchored[key] += 1
                    surface.setdefault(key, Counter())[" ".join(part)] += 1
                    if anchor in SUBJECT_ANCHORS:
                        subjects[key] += 1
    named: dict[tuple[str, ...], set[int]] = {}
    praised: dict[tuple[str, ...], set[int]] = {}
    faulted: dict[tuple[str, ...], set[int]] = {}
    for index, review in enumerate(reviews):
        for words, value in review:
            folded = [fold(w) for w in words]
            grams = {(w,) for w in folded} | set(zip(folded, folded[1:]))
            for key in grams & anchored.keys():
                named.setdefault(key, set()).add(index)
                if value:
                    (praised if value > 0 else faulted).setdefault(key, set()).add(index)
    stats = [(key, len(found), len(praised.get(key, ())), len(faulted.get(key, ())))
             for key, found in named.items() if len(found) >= MIN_MENTIONS]
    subject_key = _subject(subjects)
    if subject_key:
        stats = [s for s in stats if not set(s[0]) & set(subject_key)]
    kept = _prefer_longer(stats)
    kept.sort(key=lambda s: (-s[1], -(s[2] + s[3]), s[0]))
    aspects = [Aspect(surface[key].most_common(1)[0][0], m, p, n) for key, m, p, n in kept]
    subject = surface[subject_key].most_common(1)[0][0] if subject_key else None
    return Counted(subject, aspects)


def _subject(subjects: Counter[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The product's own name: the word most often after "this"/"these", at least twice (ties:
    alphabetical), or the two-word phrase ending in it when that is as frequent there."""
    words = [(key, n) for key, n in subjects.items() if len(key) == 1 and n >= MIN_MENTIONS]
    if not words:
        return None
    head = min(words, key=lambda kv: (-kv[1], kv[0]))
    pairs = [key for key, n in subjects.items() if len(key) == 2 and key[-1] == head[0][0] and n >= head[1]]
    return min(pairs) if pairs else head[0]


_Stat = tuple[tuple[str, ...], int, int, int]


def _prefer_longer(stats: list[_Stat]) -> list[_Stat]:
    """A two-word phrase stands for its last word when it has at least half of that word's mentions
    ("sound quality" for "quality"), else the word stays and the phrase goes; a first word named
    only inside the phrase goes too."""
    by_key = {s[0]: s for s in stats}
    drop: set[tuple[str, ...]] = set()
    for key, mentions, _, _ in stats:
        if len(key) < 2:
            continue
        head = by_key.get(key[-1:])
        if head is not None:
            drop.add(key[-1:] if mentions * 2 >= head[1] else key)
        first = by_key.get(key[:1])
        if first is not None and first[1] == mentions:
            drop.add(key[:1])
    return [s for s in stats if s[0] not in drop]
