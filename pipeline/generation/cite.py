"""The evidence the system states after the model's answer, so a shopper can check it. Pure.

For a question about a product, the answer ends with the passage that supports what the model said,
named by its source: "A customer says that ...", "The product page says: ...". When none of the model's
sentences was supported (the guard dropped them all), the passage sharing most words with the question
stands alone; when the evidence holds no passage on the question either, the system says it is not
sure. The passage is quoted whole from the evidence (markup brackets stripped), never rewritten.

A stated passage is on the question's topic: it shares one of the question's content words other than
the product's own name (`topic_terms`). Without that rule a kettle's "how many cups?" got a review
about resetting the kettle (it shares "kettle" with the model's sentence), and "does it have an auto
shut off?" got "The product page lists warranty description: 1-year warranty." (the best-ranked
passage). A passage off the topic tells the shopper nothing and looks like proof; no passage is better.
Only a question with no words of its own ("tell me about it") takes the best-ranked passage.

When everything the model kept says it is not sure, a passage introduced as "A customer says that ..."
reads as a contradiction ("I'm not sure: the reviews don't say. A customer says that mine has two
outlets."): the model found no answer, but the closest passage may hold one. The lead then says what
the passage is, the closest thing found, and leaves the judging to the shopper (`CLOSEST_LEADS`).

The product summary (title, key attributes, first bullets) is evidence too, but a long one: when it is
the only passage behind a kept sentence ("The kettle holds 8 cups." from "... 8-Cup Cordless Electric
Kettle"; "it does not need phantom power" from "Battery or Phantom Powered ...") and no passage is on
the question's topic (or the question has no words of its own beside the title's), the part of it that
backs the sentence is stated. Without this the sentence stood with nothing to check it by. A passage
on the topic goes first: stating the summary in its place cost about 0.3 ROUGE-L on each of 11 ePQA
answers (docs/eval/README.md). When no passage is on the topic and nothing the model kept is backed,
a summary part that gives a measure in the question's words is stated ("how many cups?" of an
"8-Cup ... Kettle"); without it the shopper read "I'm not sure" over a title that answers.

A sentence that copies a passage is not followed by the passage again; it is followed by where it came
from (`ATTRIBUTIONS`), so a customer's words never read as the assistant's own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.generation.guard import AnswerGuard
from pipeline.generation.prompt import clean
from pipeline.generation.support import ABSTENTION, Support, content_terms, stem
from pipeline.messages import EvidenceBundle, EvidenceItem
from pipeline.retrieval.passages import PRODUCT, qa_answer, summary_title

CITED_INTENTS = frozenset({"product_question"})
_LEADS = {
    "review": "A customer says that",
    "qa": "A customer says that",
    "bullet": "The product page says:",
    "description": "The product page says:",
    "attribute": "The product page lists",
}
CLOSEST_LEADS = {
    "review": "The closest I found is from a customer:",
    "qa": "The closest I found is from a customer:",
    "bullet": "The closest I found is on the product page:",
    "description": "The closest I found is on the product page:",
    "attribute": "The closest I found is on the product page, which lists",
}
"""The leads after an answer whose every kept sentence abstains."""
ATTRIBUTIONS = {
    "review": "Source: a customer's review.",
    "qa": "Source: a customer's answer.",
    "bullet": "Source: the product page.",
    "description": "Source: the product page.",
    "attribute": "Source: the product page.",
}
"""What follows an answer that already says the passage it would quote."""
NOT_FOUND = "I'm not sure: the product page and its reviews don't say."
MAX_PASSAGE_CHARS = 400
_ASKING = frozenset(content_terms("need needs needed use uses used using work works come comes get gets"))
"""Verbs of a question that say nothing of what it is about."""
_MEASURE = re.compile(r"\d+(?:[.,]\d+)?[- ]?([A-Za-z]+)")
"""A number and the unit after it: "8-Cup", "1.7 Liter", "12in"."""
_ALREADY_SAID = 0.8
"""Share of a passage's content words the shown answer already has, above which quoting it repeats it."""


def support_for(bundle: EvidenceBundle) -> Support:
    """What the guard judges this turn's sentences against: every evidence text, plus the question and
    the shopper's stated facts (a sentence may restate the question)."""
    plan = bundle.plan
    context = [plan.request.text, *(f"{key} {value}" for key, value in plan.preferences.items())]
    return Support.from_texts([item.text for item in bundle.items], context=context)


def citation(bundle: EvidenceBundle, guard: AnswerGuard) -> str | None:
    """The sentence the system adds after the model's answer, or None for turns that get none."""
    if bundle.plan.intent not in CITED_INTENTS:
        return None
    topic = topic_terms(bundle)
    statable = _statable(bundle, guard.support, topic)
    abstained = bool(guard.kept) and all(ABSTENTION.search(j.sentence.lower()) for j in guard.kept)
    if not statable:
        stated = _summary_backing(bundle, guard) or _summary_measure(bundle, abstained)
        return stated or (None if guard.kept else NOT_FOUND)
    chosen = _backing(guard, statable)
    if chosen is None:  # nothing the model said stands: the passage closest to the question
        chosen = guard.support.best_passage(sorted(topic), among=statable)
    if chosen is None and (summary := _summary_backing(bundle, guard)) is not None:
        return summary
    if chosen is None:  # a question with no words of its own: the best-ranked passage
        chosen = max(statable, key=lambda n: bundle.items[n].score)
    shown = set(content_terms(" ".join(j.sentence for j in guard.kept)))
    quote = _quote(bundle.items[chosen], CLOSEST_LEADS if abstained else _LEADS)
    quoted = set(content_terms(quote))
    if quoted and len(quoted & shown) / len(quoted) >= _ALREADY_SAID:
        return ATTRIBUTIONS[bundle.items[chosen].source]
    return quote


def judged_passages(bundle: EvidenceBundle) -> list[str]:
    """What the answerability judge reads for a cited turn: every statable passage and the product
    summary (a title may answer: "8-Cup"), markup brackets stripped. Empty for other intents."""
    if bundle.plan.intent not in CITED_INTENTS:
        return []
    return [clean(item.text) for item in bundle.items if item.source in _LEADS or item.source == PRODUCT]


def not_answered(bundle: EvidenceBundle, support: Support) -> str:
    """What the system says when the judge finds that no passage answers: that it is not sure, then the
    passage closest to the question, introduced as the closest found (the judging is the shopper's)."""
    topic = topic_terms(bundle)
    statable = _statable(bundle, support, topic)
    if topic:
        chosen = support.best_passage(sorted(topic), among=statable)
    else:
        chosen = max(statable, key=lambda n: bundle.items[n].score, default=None)
    return NOT_FOUND if chosen is None else f"{NOT_FOUND} {_quote(bundle.items[chosen], CLOSEST_LEADS)}"


def topic_terms(bundle: EvidenceBundle) -> frozenset[str]:
    """The question's content words, less the words of the evidence's product titles: "does this kettle
    shut off?" is about shutting off, and every passage of the kettle's page names the kettle. Verbs any
    question may use ("need", "use", "work") are not a topic: "does it need phantom power?" of a "Phantom
    Powered" microphone was about "need" alone, and no passage was stated."""
    names = {term for item in bundle.items if item.source == PRODUCT
             for term in content_terms(summary_title(item.text))}
    return frozenset(content_terms(bundle.plan.request.text)) - names - _ASKING


def _statable(bundle: EvidenceBundle, support: Support, topic: frozenset[str]) -> list[int]:
    """The passages a citation may state: those with a lead, and on the question's topic when it has one."""
    statable = [n for n, item in enumerate(bundle.items) if item.source in _LEADS]
    return [n for n in statable if support.passages[n] & topic] if topic else statable


def _backing(guard: AnswerGuard, statable: Sequence[int]) -> int | None:
    """The statable passage sharing most words with the first kept sentence that shares any."""
    for judged in guard.kept:
        best = guard.support.best_passage(content_terms(judged.sentence), among=statable)
        if best is not None:
            return best
    return None


def _summary_backing(bundle: EvidenceBundle, guard: AnswerGuard) -> str | None:
    """The part of the product summary that backs the first kept claim sharing its words, as stated
    evidence; None when no summary shares any. An abstention is no claim to back."""
    summaries = [n for n, item in enumerate(bundle.items) if item.source == PRODUCT]
    for judged in guard.kept:
        if ABSTENTION.search(judged.sentence.lower()):
            continue
        terms = set(content_terms(judged.sentence))
        best = guard.support.best_passage(sorted(terms), among=summaries)
        if best is not None:
            part = max(_parts(bundle.items[best]), key=lambda text: len(terms & set(content_terms(text))))
            return _quote_part(part, _LEADS)
    return None


def _summary_measure(bundle: EvidenceBundle, abstained: bool) -> str | None:
    """The part of the product summary that gives a measure in the question's words ("8-Cup" for "how
    many cups?"), as stated evidence; None when no part does. Only a number's unit counts: a title
    shares the product's own name with most questions and answers few of them."""
    asked = set(content_terms(bundle.plan.request.text))
    for item in bundle.items:
        if item.source != PRODUCT:
            continue
        for part in _parts(item):
            if any(stem(unit.lower()) in asked for unit in _MEASURE.findall(part)):
                return _quote_part(part, CLOSEST_LEADS if abstained else _LEADS)
    return None


def _parts(summary: EvidenceItem) -> list[str]:
    """A product summary's parts: its title, each key attribute, each bullet."""
    return [part.strip() for part in clean(summary.text).split(". ")]


def _quote_part(part: str, leads: dict[str, str]) -> str:
    return f"{leads['description']} {_ended(_shorten(part))}"


def model_part(answer: str) -> str:
    """An answer's text without the evidence the system stated after it (for `aisle eval answers`)."""
    leads = {*_LEADS.values(), *CLOSEST_LEADS.values(), *ATTRIBUTIONS.values(), NOT_FOUND}
    cuts = [answer.find(lead) for lead in leads if lead in answer]
    return answer[: min(cuts)].strip() if cuts else answer.strip()


def statable_passage(bundle: EvidenceBundle) -> str | None:
    """The best-ranked passage a citation could state, verbatim: the no-model baseline of the eval."""
    items = [item for item in bundle.items if item.source in _LEADS]
    return _passage(max(items, key=lambda item: item.score)) if items else None


def _passage(item: EvidenceItem) -> str:
    text = clean(item.text)
    return (qa_answer(text) or text).strip()


def _quote(item: EvidenceItem, leads: dict[str, str]) -> str:
    return f"{leads[item.source]} {_ended(_shorten(_passage(item)))}"


def _ended(text: str) -> str:
    return text + "." if text and text[-1] not in ".!?" else text


def _shorten(text: str) -> str:
    """At most MAX_PASSAGE_CHARS: cut after the last sentence that fits, else at a word, with '…'."""
    if len(text) <= MAX_PASSAGE_CHARS:
        return text
    head = text[:MAX_PASSAGE_CHARS]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if end > MAX_PASSAGE_CHARS // 3:
        return head[: end + 1]
    return head.rsplit(" ", 1)[0] + "…"
