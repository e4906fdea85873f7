"""Is a sentence supported by the turn's evidence? A lexical judge over content words and numbers. Pure.

    support = Support.from_texts(passages, context=[question])
    verdict = support.judge("It comes with 15 large pieces of paper.")
    verdict.supported, verdict.score, verdict.passage     # True, 1.0, 0 (the passage that backs it)

A sentence is supported when every number it states appears in the evidence, and at least
`threshold` of its content words (stop words and discourse words such as "customers say" removed,
light stemming) appear in the evidence or the shopper's question; one made of the question's words
alone is judged by the evidence alone (an echo of the question is not an answer). A sentence with no content word
("Sure.") makes no claim and passes; one whose only content is a verdict ("The answer is no.") has
nothing to check it by and fails; a short one that says the evidence does not tell
(`ABSTENTION`).

Why this and not plain word overlap: `aisle eval guard` scores both on labelled hetPQA answers
(an answer against its own evidence is supported; an answer to another question against this evidence
is not). Plain overlap counts "the", "it" and "is" as support, so any fluent sentence scores a third
before it says anything; strict numbers catch the invented prices, sizes and counts that overlap waves
through. No NLI or cross-encoder model ships in a package we can install (shared/notes/models.md), and
the judge runs on every sentence of every answer on the generate stage's core, so it stays lexical and
microseconds-cheap.

Word overlap cannot see a verdict turned around: "Yes, it has a hands-free mode." shares every word
with a review's "it does not have a hands-free mode like the spotbot". A sentence that opens with yes or
no is therefore also checked against the evidence's own verdict (`Verdict.contradicts`): the closest
community answer that opens with yes or no, else the clause of the evidence sharing most of its words
(at least `MIN_CLAUSE_OVERLAP`), negated or not. On pair1513's yes/no answers to ePQA this drops 9 of
the 26 verdicts the references contradict and 13 of the 136 they confirm (docs/answers.md); a dropped
verdict leaves the stated passage, which says what the evidence says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from pipeline.retrieval.passages import qa_answer

DEFAULT_THRESHOLD = 0.5
"""Share of content words that must be supported. Above balanced accuracy's best (0.3) on purpose: a
sentence wrongly dropped still leaves the stated evidence, one wrongly shown misleads (`aisle eval guard`)."""

ABSTENTION = re.compile(
    r"\b(not (available|mentioned|listed|specified|stated|sure|provided|found)|no (information|mention|details?|data|evidence)"
    r"|(don't|do not|cannot|can't|couldn't|could not) (know|find|say|tell|confirm)|unable to|unknown)\b")
"""An answer that says the evidence does not tell: no claim to check (and what `aisle eval answers`
counts as abstaining)."""
MAX_ABSTENTION_WORDS = 16
"""An abstention passes unjudged only when short: "but I'm not sure" at the end of a long made-up claim
must not carry the claim through."""
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Words that frame a claim rather than make one: "Reviewers say ...", "According to the page ...".
_DISCOURSE = frozenset(
    """
    customer customers reviewer reviewers buyer buyers people user users owner owners say says said
    mention mentions mentioned according page product item one ones also overall seem seems think
    would could may might can really quite well like note however sure based information
    question questions answer answers reason tell
    first second third last former latter both option
    """.split()
)


def _stopwords() -> frozenset[str]:
    text = resources.files("pipeline.retrieval").joinpath("english_stopwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


_STOP = _stopwords()
# "no" and "not" are stop words for search, but they are what a yes/no answer claims: keep them out of
# the ignored set so "No, it is not" needs a "no"/"not" somewhere in the evidence or question.
_IGNORED = (_STOP | _DISCOURSE) - {"no", "not", "nor"}
_VERDICTS = frozenset({"yes", "no", "not", "nor"})
_OPENING_VERDICT = re.compile(r"^\W*(yes|no)\b")
_NEGATION = re.compile(r"\b(no|not|never|cannot|none|nothing|neither|nor|only)\b|n't\b")
"""What turns a clause around. "only" too: "it only fits a 2 inch railing" answers "a 3 inch rail?" no."""
_CLAUSE_END = re.compile(r"[.;!?]+\s+|\.{2,}|\s(?:but|however|although|though)\b")
MIN_CLAUSE_OVERLAP = 2
"""Content words a yes/no sentence must share with a clause before the clause's negation can overrule it."""


def opening_verdict(text: str) -> str | None:
    """"yes" or "no" when a text opens with it ("No, it only takes 120 V."), else None."""
    found = _OPENING_VERDICT.match(text.lower())
    return found.group(1) if found else None


def negated(text: str) -> bool:
    """Whether a text says no, not, never, only... anywhere ("it doesn't remove blackheads")."""
    return _NEGATION.search(text.lower().replace("’", "'")) is not None


def clauses(text: str) -> list[str]:
    """A text cut where its claim may turn: at sentence ends, ellipses, "but", "however", "though"."""
    return [part for part in _CLAUSE_END.split(text) if part and part.strip()]


def stem(word: str) -> str:
    """A light suffix strip, so "batteries"/"battery" and "charging"/"charge" meet."""
    if word.endswith("'s"):
        word = word[:-2]
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + keep
    return word


def _norm_number(raw: str) -> str:
    value = raw.replace(",", "")
    return value.rstrip("0").rstrip(".") if "." in value else value


def numbers(text: str) -> set[str]:
    return {_norm_number(n) for n in _NUMBER.findall(text)}


def content_terms(text: str) -> list[str]:
    """The stemmed words of a text that carry its claim, in order (numbers are judged apart)."""
    words = _WORD.findall(text.lower().replace("’", "'"))
    return [stem(w) for w in words if w not in _IGNORED and not w[0].isdigit() and len(w) > 1]


@dataclass(frozen=True)
class Verdict:
    supported: bool
    score: float
    """Share of content words found in the evidence or question (1.0 when there are none)."""
    passage: int | None
    """Index of the passage sharing the most content words with the sentence; None when none shares any."""
    unsupported_numbers: tuple[str, ...] = ()
    contradicts: int | None = None
    """A community answer on the same terms that opens with the opposite verdict (see `judge`)."""


@dataclass(frozen=True)
class Support:
    passages: tuple[frozenset[str], ...]
    """Content words of each evidence passage."""
    vocabulary: frozenset[str]
    """Content words of the evidence and the context (question, shopper facts) together."""
    known_numbers: frozenset[str]
    threshold: float = DEFAULT_THRESHOLD
    context: frozenset[str] = frozenset()
    """Content words of the context alone (the question, the shopper's facts)."""
    verdicts: tuple[str | None, ...] = ()
    """Per passage: the yes or no a community answer opens with, else None."""
    clauses: tuple[tuple[int, frozenset[str], bool], ...] = ()
    """Every clause of the evidence (of a community answer, its answer only): its passage, its content
    words, and whether it is negated."""

    @classmethod
    def from_texts(cls, passages: Sequence[str], context: Iterable[str] = (),
                   threshold: float = DEFAULT_THRESHOLD) -> Support:
        per_passage = tuple(frozenset(content_terms(text)) for text in passages)
        context = list(context)
        said = frozenset().union(*(content_terms(text) for text in context))
        vocabulary = frozenset().union(*per_passage, said)
        known = frozenset().union(*(numbers(text) for text in [*passages, *context]))
        verdicts = tuple(opening_verdict(answer) if (answer := qa_answer(text)) else None for text in passages)
        stances = tuple((n, frozenset(content_terms(clause)), negated(clause))
                        for n, text in enumerate(passages) for clause in clauses(qa_answer(text) or text))
        return cls(per_passage, vocabulary, known, threshold, said, verdicts, stances)

    def judge(self, sentence: str) -> Verdict:
        terms = content_terms(sentence)
        missing_numbers = tuple(sorted(numbers(sentence) - self.known_numbers))
        # A sentence made only of the question's words ("Reviewers say it does not need phantom power",
        # asked "does it need phantom power?") is judged by the evidence alone: echoing is not support.
        echo = bool(terms) and set(terms) <= self.context | _VERDICTS
        vocabulary = frozenset().union(*self.passages) if echo else self.vocabulary
        score = sum(term in vocabulary for term in terms) / len(terms) if terms else 1.0
        supported = not missing_numbers and score >= self.threshold
        if terms and set(terms) <= _VERDICTS:
            supported = False  # "The answer is no.": a bare verdict, nothing to check it by
        if not supported and len(sentence.split()) <= MAX_ABSTENTION_WORDS and ABSTENTION.search(sentence.lower()):
            return Verdict(True, 1.0, None)
        contradicts = self._contradiction(sentence, terms) if supported else None
        return Verdict(supported and contradicts is None, score, self.best_passage(terms), missing_numbers,
                       contradicts)

    def _contradiction(self, sentence: str, terms: Sequence[str]) -> int | None:
        """The community answer a yes/no sentence turns around, if any. Word overlap cannot tell "Yes, it
        runs on 220 V" from the answer "no, it can only be used in a 120v socket": every word is there.
        The closest community answer that opens with a verdict settles it."""
        said = opening_verdict(sentence)
        if said is None:
            return None
        answered = [n for n, verdict in enumerate(self.verdicts) if verdict is not None]
        closest = self.best_passage(terms, among=answered)
        if closest is not None and self.verdicts[closest] != said:
            return closest
        return self._turned_clause(sentence, said, terms)

    def _turned_clause(self, sentence: str, said: str, terms: Sequence[str]) -> int | None:
        """The passage whose clause closest to a yes/no sentence is negated where the sentence is not, or
        the other way round: "Yes, it has a hands-free mode." against a review's "it does not have a
        hands-free mode like the spotbot". A "No, ..." that states no negation of its own ("No, it comes
        in a bottle.") names an alternative, not a negated claim: nothing to compare."""
        body = _OPENING_VERDICT.sub("", sentence.lower(), count=1)
        if said == "no" and not negated(body):
            return None
        wanted = set(terms) - _VERDICTS
        min_overlap = MIN_CLAUSE_OVERLAP
        best, best_overlap, best_negated = None, min_overlap - 1, False
        for passage, clause, clause_negated in self.clauses:
            overlap = len(wanted & clause)
            if overlap > best_overlap:
                best, best_overlap, best_negated = passage, overlap, clause_negated
        claims_negation = said == "no" or negated(body)
        return best if best is not None and best_negated != claims_negation else None

    def best_passage(self, terms: Sequence[str], among: Iterable[int] | None = None) -> int | None:
        """The passage (of `among`, default all) sharing the most of `terms`; None when none shares any."""
        wanted = set(terms)
        best, best_overlap = None, 0
        for index in range(len(self.passages)) if among is None else among:
            overlap = len(wanted & self.passages[index])
            if overlap > best_overlap:
                best, best_overlap = index, overlap
        return best


def overlap_score(sentence: str, passages: Sequence[str]) -> float:
    """The baseline `aisle eval guard` compares against: share of the sentence's words (all of them,
    unstemmed) that occur anywhere in the evidence."""
    words = _WORD.findall(sentence.lower())
    if not words:
        return 1.0
    seen = set(_WORD.findall(" ".join(passages).lower()))
    return sum(word in seen for word in words) / len(words)
