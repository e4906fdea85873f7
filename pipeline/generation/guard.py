"""The grounding guard: the model's answer, a sentence at a time, with only supported sentences shown,
and loops cut off. Pure and streaming; the generate stage feeds it the model's text as it arrives.

    guard = AnswerGuard(Support.from_texts(passages, context=[question]))
    for piece in guard.feed(model_text):        # whole sentences and directives, in order
        ...
    rest = guard.finish()
    guard.stopped, guard.counts                 # a loop ended the answer; kept / unsupported / ...

Text is held until its sentence ends ('.', '!' or '?' then a space, a directive, or the end of the
answer), then judged (support.py): supported sentences are released, unsupported ones are dropped and
counted. Directives pass through at once, in their place, re-spelled canonically; malformed markup never
reaches the shopper, and a stray '<' or '>' in text is removed. The cost is latency inside the answer:
a sentence appears whole once the model has finished it, never word by word.

A loop ends the answer: a sentence (or directive) the answer already had, a word trigram repeated
three times inside one sentence, or a "sentence" that runs past `max_sentence_chars` without ending.
A near-copy of an earlier sentence (80% of its content words shared), a sentence that repeats its own
few content words, and a question (follow-ups belong in <suggest>) are dropped without ending it.
The prompt's evidence labels ("[3] review B0...:") that a small model copies are removed.
After a stated lead that shows the products found (a search's carousel or card), a sentence saying the
evidence does not tell is dropped: "I'm not sure." under the chair mat the shopper asked for reads as
if the products shown were not an answer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from pipeline.generation.support import ABSTENTION, Support, Verdict, content_terms
from pipeline.markup.closing import closing_suffix
from pipeline.markup.parser import Directive, MarkupParser, Text

MAX_SENTENCE_CHARS = 400
GUARD_PREFIX = "guard_"
"""The guard's counts travel in the final chunk's context under this prefix; hydrate adds them to `done`."""
_TRIGRAM_REPEATS = 3
# Only a following space ends a sentence mid-stream: "$4." may still become "$4.99".
_SENTENCE_END = re.compile(r"[.!?]\s+")
_WORDS = re.compile(r"[a-z0-9]+")
_LABEL = re.compile(r"\[\d+\]\s*(?:[a-z_]+\s+)?(?:B0[0-9A-Z]{8}\s*)?:?", re.IGNORECASE)
_CIRCULAR = 0.6
"""Distinct share of a sentence's content words at or below which it only goes round in circles."""
_NEAR = 0.8
"""Content words shared (Jaccard) above which a sentence only repeats an earlier one."""
_ONE_PER_ANSWER = frozenset({"compare", "carousel", "reviews", "price-history"})
"""Blocks an answer shows at most once, whatever their ids."""
_FOUND = frozenset({"carousel", "product"})
"""Directives of a lead that show a search's results."""


@dataclass
class Judged:
    sentence: str
    verdict: Verdict


@dataclass
class AnswerGuard:
    support: Support
    max_sentence_chars: int = MAX_SENTENCE_CHARS
    stopped: bool = False
    """A loop was found: the caller should stop the model; feed() returns nothing more."""
    counts: Counter[str] = field(default_factory=Counter)
    """kept; unsupported and contradicted (sentences dropped); repeated (a near-copy of an earlier
    sentence or one going round in circles, dropped); question (the model asking back, dropped); loop
    (the answer was ended); repeated_directive; abstained_under_found (a "not sure" under the
    products a search found, dropped)."""
    judged: list[Judged] = field(default_factory=list)
    _parser: MarkupParser = field(default_factory=MarkupParser)
    _pending: str = ""
    _raw: str = ""
    _seen: set[str] = field(default_factory=set)
    _said: list[set[str]] = field(default_factory=list)
    _shown_any: bool = False
    _blocks: set[str] = field(default_factory=set)
    _lead_ids: set[str] = field(default_factory=set)
    _lead_found: bool = False

    @property
    def kept(self) -> list[Judged]:
        return [j for j in self.judged if j.verdict.supported]

    def feed(self, text: str) -> list[str]:
        """Take the next piece of the model's text; return what may be shown now."""
        if self.stopped:
            return []
        self._raw += text
        return self._events(self._parser.feed(text), final=False)

    def finish(self) -> list[str]:
        """The end of the model's answer: judge what is still held. A directive cut off by the token
        limit is closed first, so its complete part (say, two of three follow-ups) is kept."""
        if self.stopped:
            return []
        events = self._parser.feed(closing_suffix(self._raw)) + self._parser.finish()
        return self._events(events, final=True)

    def _events(self, events: list[Text | Directive], *, final: bool) -> list[str]:
        out: list[str] = []
        for event in events:
            if self.stopped:
                break
            if isinstance(event, Text):
                self._pending += event.text.replace("<", " ").replace(">", " ")
                out += self._sentences(final=False)
            else:
                out += self._sentences(final=True)
                out += self._directive(event)
        if final and not self.stopped:
            out += self._sentences(final=True)
        return out

    def _sentences(self, *, final: bool) -> list[str]:
        """Release every complete sentence held (all of the text when `final`)."""
        out: list[str] = []
        while not self.stopped:
            match = _SENTENCE_END.search(self._pending)
            if match is not None:
                sentence, self._pending = self._pending[: match.end()], self._pending[match.end():]
            elif final or len(self._pending) > self.max_sentence_chars:
                sentence, self._pending = self._pending, ""
            else:
                if _repeats_trigram(self._pending):
                    self._stop()
                break
            out += self._sentence(sentence)
            if final and not self._pending.strip():
                self._pending = ""
                break
        return out

    def _sentence(self, raw: str) -> list[str]:
        # The prompt's evidence labels ("[9] review B00093ESSI:") are the model copying its input format.
        sentence = " ".join(_LABEL.sub(" ", raw).split())
        if not any(ch.isalnum() for ch in sentence):
            return []
        key = " ".join(_WORDS.findall(sentence.lower()))
        if key in self._seen or _repeats_trigram(sentence) or len(sentence) > self.max_sentence_chars:
            self._stop()
            return []
        self._seen.add(key)
        if sentence.endswith("?"):
            self.counts["question"] += 1  # the model asking back: follow-ups belong in <suggest>
            return []
        words = content_terms(sentence)
        terms = set(words)
        if any(_near(terms, earlier) for earlier in self._said) or _circular(words):
            # "It's designed to record audio" after "It is designed to record audio"; "not designed to be
            # used the way it is designed to be used"
            self.counts["repeated"] += 1
            return []
        self._said.append(terms)
        if self._lead_found and ABSTENTION.search(sentence.lower()):
            self.counts["abstained_under_found"] += 1
            return []
        verdict = self.support.judge(sentence)
        self.judged.append(Judged(sentence, verdict))
        if not verdict.supported:
            self.counts["contradicted" if verdict.contradicts is not None else "unsupported"] += 1
            return []
        self.counts["kept"] += 1
        return [self._spaced(sentence)]

    def after_lead(self, lead: str) -> None:
        """The system stated `lead` before the model's text: a directive the model repeats from it is
        dropped, and so is a second block of a kind the lead opened with (one table, carousel, review box
        or chart per answer), and so is a card of a product the lead already shows (in its table,
        carousel, review box or chart). Without this a comparison showed its table twice, the lead's and
        the model's, "compare the first two" showed the second product's card under the table, and "what
        do customers say?" the product's card under its review box."""
        parser = MarkupParser()
        for event in [*parser.feed(lead), *parser.finish()]:
            if isinstance(event, Directive):
                self._seen.add(event.markup())
                if event.name in _ONE_PER_ANSWER:
                    self._blocks.add(event.name)
                self._lead_found = self._lead_found or event.name in _FOUND
                ids = event.attrs.get("ids", event.attrs.get("id", ""))
                self._lead_ids.update(i.strip() for i in ids.split(",") if i.strip())

    def _directive(self, directive: Directive) -> list[str]:
        markup = directive.markup()
        shown_in_lead = directive.name == "product" and directive.attrs.get("id") in self._lead_ids
        if markup in self._seen or directive.name in self._blocks or shown_in_lead:
            self.counts["repeated_directive"] += 1
            return []
        self._seen.add(markup)
        return [self._spaced(markup)]

    def _spaced(self, piece: str) -> str:
        spaced = (" " if self._shown_any else "") + piece
        self._shown_any = True
        return spaced

    def _stop(self) -> None:
        self.stopped = True
        self.counts["loop"] += 1
        self._pending = ""


def _circular(words: list[str]) -> bool:
    """A sentence that says its few content words over again."""
    return len(words) >= 4 and len(set(words)) / len(words) <= _CIRCULAR


def _near(terms: set[str], earlier: set[str]) -> bool:
    return bool(terms) and len(terms & earlier) / len(terms | earlier) >= _NEAR


def _repeats_trigram(text: str) -> bool:
    words = _WORDS.findall(text.lower())
    grams = Counter(zip(words, words[1:], words[2:]))
    return bool(grams) and max(grams.values()) >= _TRIGRAM_REPEATS
