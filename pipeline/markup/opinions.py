"""What customers say, from a product's own review texts ("aspects-v2"): a summary line, counted
aspects and quoted sentences. Nothing is made up: every quote is a sentence a customer wrote, every
aspect named occurs in the reviews, and every number is a count over them.

1. Split each review text into sentences (`sentences`), also where a full stop runs into the next
   sentence ("color.This"; in all-lower-case text, "works well.the wire").
2. Score a sentence (`score`): +1 per positive word, -1 per negative word of a small lexicon; a
   negator ("not", "no", "never", "n't" ...) in the two words before a sentiment word flips it
   ("waste" and "bother" stay negative). A review is positive when its sentences sum above zero,
   negative below.
3. Count aspects (pipeline/markup/_aspects.py): noun phrases after "the", "its", "this", "these",
   counted per review, with how many reviews name them in a positive or a negative sentence; the
   phrase most often after "this"/"these" is what the reviews call the product.
4. Pros: the aspect most often named in positive sentences ("5 of 8 reviews praise the sound
   quality."), when at least 2 reviews and 15% of them do and more than in negative ones; then up to
   `quotes` positive sentences. Cons the same way ("3 of 8 reviews complain about the lid."). When
   the reviews lean clearly one way (step 5: well or poorly reviewed), the other side gets one quote
   fewer: a well-reviewed kettle shows its one best complaint, not two. A quote is a whole sentence of
   4-30 words and at most `max_chars` characters (a longer one is skipped, never cut), ranked by its
   polarity (up to 2), plus how much its words are shared by the other reviews (what many say, not
   one buyer's story), less a point for the first person and a point for names and numbers; ties:
   shorter, then earlier. Quotes are verbatim apart from a capital first letter and a closing full
   stop where the customer left them out.
5. The summary line is a third-person sentence that names the product as the reviews do ("This
   product" when they never do) and says how they lean: "This kettle is well reviewed." Well (poorly)
   reviewed: twice as many positive as negative reviews (or the reverse); else mixed; "few clear
   opinions" when fewer than half lean either way. The counts behind it are the payload's (`reviews`,
   `sentiment`) and the pros' and cons' own; aspects-v1 also put them in the line ("6 of 8 reviews are
   positive, 1 negative"), words no human summary uses (its cost is measured in docs/eval/README.md).

`unit` names what a text is, so the counts say what they count: "review", or "review excerpt" for the
catalog's product pages, which hold single sentences from reviews. `aisle eval reviews` scores the
result against human summaries (docs/eval/reviews.md).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipeline.markup._aspects import STOP, Aspect, count, fold

METHOD = "aspects-v2"
MAX_TEXTS = 500
"""Review texts read per product (the counts say "of N" for the N read); the work is linear in words."""
MAX_STATED = 1
"""Counted aspects stated per side, before the quotes (the payload's `aspects` carries them all)."""
MIN_STATED = 2
MIN_STATED_SHARE = 0.15
"""An aspect is stated when at least this share of the reviews (and MIN_STATED) lean its way."""
MIN_QUOTE_WORDS = 4
MAX_QUOTE_WORDS = 30
SHARED_WEIGHT = 5.0
"""Weight of how much a quote's words are shared by the other reviews (0-1), against its polarity (1-2)."""
PERSONAL_PENALTY = 1.0
"""Subtracted from a quote in the first person ("I", "my", "we"): the product, not the buyer's story."""
SPECIFIC_PENALTY = 1.0
"""Subtracted from a quote with a digit or a capitalised word inside (model names, other products)."""
FIRST_PERSON = frozenset("i i'm i've i'd i'll me my mine we we're we've our us".split())

POSITIVE = frozenset(
    """
    amazing awesome beautiful best comfortable convenient cute durable easy excellent fantastic fast
    fine fun good great happy helpful impressed impressive love loved loves nice perfect perfectly
    pleased recommend recommended reliable solid sturdy superb well works worth wonderful
    affordable bright clear accurate compact lightweight sharp smooth soft strong lovely glad
    favorite handy gorgeous satisfied reasonable
    """.split()
)
NEGATIVE = frozenset(
    """
    awful bad broke broken cheap cheaply complaint defective difficult disappointed disappointing
    faulty flimsy hard horrible junk leak leaked leaks loud poor poorly problem problems return
    returned slow terrible useless waste worse worst wrong annoying fragile noisy stopped unusable
    uncomfortable overpriced failed fails missing crack cracked tore ripped hate unfortunately sadly
    damaged issue issues smaller flaw bother
    """.split()
)
UNFLIPPED = frozenset({"waste", "bother"})
"""Negative words a negator does not flip: "don't waste your money", "don't bother"."""
NEGATORS = frozenset("not no never nothing hardly barely isn't wasn't doesn't didn't don't can't won't".split())

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# A sentence ends at . ! or ? before a capital (after a space or not: "color.This") or a line break;
# in a text written all in lower case (the catalog's review sentences), before any word.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|(?<=[a-z][.!?])(?=[A-Z])|\s*\n\s*")
_SENTENCE_END_LOWER = re.compile(r"(?<=[.!?])\s+|(?<=[a-z][.!?])(?=[a-z]{2,})(?!(?:com|net|org)\b)|\s*\n\s*")
_ESCAPED = re.compile(r"\\u([0-9a-fA-F]{4})")
_STATED = re.compile(r"^\d+ of \d+ review")
_SPECIFIC = re.compile(r"\d|(?<=[\s,;(])(?!I\b)[A-Z][a-zA-Z]")
_COMPLETE_END = re.compile(r"[.!?][\"')]*$")


@dataclass(frozen=True)
class Opinions:
    pros: list[str]
    cons: list[str]
    positive: int
    negative: int
    neutral: int
    """Distinct sentences scored positive, negative and neither."""
    summary: str = ""
    aspects: list[Aspect] = field(default_factory=list)
    reviews: int = 0
    """Review texts read."""

    @property
    def sentences(self) -> int:
        return self.positive + self.negative + self.neutral


def is_stated(item: str) -> bool:
    """Whether a pro or con is a statement with a count ("3 of 8 reviews ..."), not a quoted sentence."""
    return bool(_STATED.match(item))


def shown_text(summary: str, pros: Iterable[str], cons: Iterable[str]) -> str:
    """A reviews frame as the shopper reads it, in one text: the summary line, the pros, the cons."""
    return " ".join(p.strip() for p in (summary, *pros, *cons) if p.strip())


def score(sentence: str) -> int:
    """Lexicon score of one sentence: positive words minus negative words, negation flipping."""
    words = _WORD.findall(sentence.lower())
    total = 0
    for i, word in enumerate(words):
        polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if polarity == 0:
            continue
        window = words[max(0, i - 2) : i]
        if word not in UNFLIPPED and any(w in NEGATORS or w.endswith("n't") for w in window):
            polarity = -polarity
        total += polarity
    return total


def sentences(texts: Iterable[str]) -> list[str]:
    """Split review texts into trimmed, non-empty sentences, in order."""
    out: list[str] = []
    for text in texts:
        out.extend(_split(text))
    return out


def plain(text: str) -> str:
    """The text with escapes left in it by the source decoded ("d\\u00e9cor" -> "décor")."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _split(text: str) -> list[str]:
    text = plain(text)
    ends = _SENTENCE_END_LOWER if text == text.lower() else _SENTENCE_END
    return [s.strip() for s in ends.split(text) if s.strip()]


@dataclass(frozen=True)
class _Sentence:
    text: str
    value: int
    index: int
    words: list[str]


def extract(texts: Iterable[str], quotes: int = 2, stated: int = MAX_STATED, max_chars: int = 160,
            unit: str = "review") -> Opinions:
    """Summary, pros and cons (each: up to `stated` counted aspects, then up to `quotes` sentences)
    and the aspects, from review texts; see the module docstring."""
    reviews: list[list[_Sentence]] = []
    seen: set[str] = set()
    unique: list[_Sentence] = []
    for text in itertools.islice(texts, MAX_TEXTS):
        review: list[_Sentence] = []
        for sentence in _split(text):
            item = _Sentence(sentence, score(sentence), len(seen), _WORD.findall(sentence.lower()))
            review.append(item)
            if sentence.lower() not in seen:
                seen.add(sentence.lower())
                unique.append(item)
        if review:
            reviews.append(review)
    counted = count([[(s.words, s.value) for s in review] for review in reviews])
    total = len(reviews)
    least = max(MIN_STATED, math.ceil(total * MIN_STATED_SHARE))
    liked = sorted((a for a in counted.aspects if a.positive >= least and a.positive > a.negative),
                   key=lambda a: (-a.positive, -a.mentions))
    disliked = sorted((a for a in counted.aspects if a.negative >= least and a.negative > a.positive),
                      key=lambda a: (-a.negative, -a.mentions))
    shared = _shared(reviews)
    leaning = [sum(s.value for s in review) for review in reviews]
    up, down = sum(v > 0 for v in leaning), sum(v < 0 for v in leaning)
    lean = _lean(total, up, down)
    pros = [_stated(a.positive, total, unit, "praise", a.name) for a in liked[:stated]]
    pros += _quotes([s for s in unique if s.value > 0], shared, max_chars, quotes - (lean == "poorly"))
    cons = [_stated(a.negative, total, unit, "complain about", a.name) for a in disliked[:stated]]
    cons += _quotes([s for s in unique if s.value < 0], shared, max_chars, quotes - (lean == "well"))
    return Opinions(
        pros=pros,
        cons=cons,
        positive=sum(s.value > 0 for s in unique),
        negative=sum(s.value < 0 for s in unique),
        neutral=sum(s.value == 0 for s in unique),
        summary=_summary(total, up, down, unit, counted.subject, lean),
        aspects=counted.aspects,
        reviews=total,
    )


def _plural(n: int, unit: str) -> str:
    return unit if n == 1 else unit + "s"


def _stated(n: int, total: int, unit: str, verb: str, aspect: str) -> str:
    return f"{n} of {total} {_plural(total, unit)} {verb} the {aspect}."


def _content_words(words: Sequence[str]) -> set[str]:
    return {fold(w) for w in words if len(w) > 2 and w not in STOP}


def _shared(reviews: Sequence[Sequence[_Sentence]]) -> dict[str, float]:
    """For each content word, the share of the other reviews that use it too (0 with one review)."""
    used: Counter[str] = Counter()
    for review in reviews:
        used.update(set().union(*(_content_words(s.words) for s in review)))
    others = len(reviews) - 1
    return {word: (n - 1) / others for word, n in used.items()} if others > 0 else {}


def _quotes(pool: Sequence[_Sentence], shared: dict[str, float], max_chars: int, room: int) -> list[str]:
    """The `room` best complete sentences of `pool` (module docstring, step 4), tidied for display."""
    if room <= 0:
        return []
    ok = [s for s in pool if len(s.text) <= max_chars and MIN_QUOTE_WORDS <= len(s.words) <= MAX_QUOTE_WORDS
          and "[...]" not in s.text and s.text[0].isalnum()]

    def worth(s: _Sentence) -> float:
        content = _content_words(s.words)
        common = sum(shared.get(w, 0.0) for w in content) / (len(content) + 1)
        personal = any(w in FIRST_PERSON for w in s.words)
        specific = bool(_SPECIFIC.search(s.text))
        return (min(abs(s.value), 2) + SHARED_WEIGHT * common - (PERSONAL_PENALTY if personal else 0.0)
                - (SPECIFIC_PENALTY if specific else 0.0))

    best = sorted(ok, key=lambda s: (-worth(s), len(s.text), s.index))
    return [_tidy(s.text) for s in best[:room]]


def _tidy(sentence: str) -> str:
    text = sentence[0].upper() + sentence[1:]
    return text if _COMPLETE_END.search(text) else text.rstrip(" ,;:-") + "."


def _be(phrase: str) -> str:
    last = phrase.split()[-1]
    return "are" if fold(last) != last else "is"


def _lean(total: int, up: int, down: int) -> str:
    """How the reviews lean (module docstring, step 5): "well", "poorly", "mixed", "few" or "" (none)."""
    if total == 0 or up == down == 0:
        return ""
    if (up + down) * 2 < total:
        return "few"
    if up >= 2 * down:
        return "well"
    if down >= 2 * up:
        return "poorly"
    return "mixed"


def _summary(total: int, up: int, down: int, unit: str, subject: str | None, lean: str) -> str:
    """The stated line (module docstring, step 5); "" without reviews."""
    if total == 0:
        return ""
    plural = subject is not None and _be(subject) == "are"
    name = f"{'These' if plural else 'This'} {subject}" if subject else "This product"
    be, gets = ("are", "get") if plural else ("is", "gets")
    if total == 1:
        word = "positive" if up else "negative" if down else "neither positive nor negative"
        return f"{name} {'have' if plural else 'has'} one {unit}, and it is {word}."
    if not lean:
        return f"{name} {gets} no clear praise or complaint in {total} {_plural(total, unit)}."
    if lean in ("well", "poorly"):
        return f"{name} {be} {lean} reviewed."
    return f"{name} {gets} {'mixed reviews' if lean == 'mixed' else 'few clear opinions'}."
