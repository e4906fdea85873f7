"""The generate stage: evidence bundle in, the streamed answer out as token chunks.

Core parts are pure and live in pipeline/generation/ (prompt, grounding guard, stated evidence,
degraded answer); this module binds them to the LLM client. Answers are decoded greedily (temperature
0, fixed seed): after a worker restart the replayed turn streams the same text, and hydrate drops what
it already has by character offset, so the shopper sees each word once.

The model's tokens go straight into the guard, and each piece it releases (a judged sentence, a
directive) is one chunk. The guard already gathers tokens into sentences, so there is nothing left to
batch; a coalescer in front of it (there was one, flushing every 30 ms) only delayed the token that
ends a sentence, and with it the first text a shopper sees.

With AISLE_ANSWER_JUDGE on, the answerability judge scores the evidence while the model prefills, and
its verdict is awaited before the first sentence shows (`_verdict`); off by default (docs/answers.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from pipeline import topics
from pipeline.config import Settings
from pipeline.errors import DependencyError
from pipeline.generation.direct import DIRECT_MODEL, direct_answer, stated_lead
from pipeline.generation.cite import citation, judged_passages, not_answered, support_for
from pipeline.generation.fallback import SHOWN_ABOVE, SILENT, degraded_answer
from pipeline.generation.guard import GUARD_PREFIX, AnswerGuard
from pipeline.generation.prompt import PROMPT_VERSION, build_messages, grounded_ids, wants_examples
from pipeline.llm import judge as answer_judge
from pipeline.llm.client import Grammar, LlmClient
from pipeline.llm.judge import AnswerJudge
from pipeline.llm.router import ModelRouter
from pipeline.markup.grammar import build_gbnf
from pipeline.markup.parser import MarkupParser, Text
from pipeline.messages import EvidenceBundle, TokenChunk
from pipeline.stages.base import Output

_SEED = 0
log = logging.getLogger(__name__)


@dataclass
class _Turn:
    """Numbers the chunks of one turn: seq and character offset."""

    bundle: EvidenceBundle
    grounded: list[str]
    model: str
    seq: int = 0
    offset: int = 0

    def chunk(self, text: str, *, final: bool = False, error: str | None = None,
              context: dict[str, str] | None = None, stated: bool = False) -> Output:
        """The next chunk; `stated` marks text the system wrote, not the model (its `model` is
        DIRECT_MODEL), so readers can tell the model's words from the system's."""
        chunk = TokenChunk(
            self.bundle.conversation_id, self.bundle.turn, self.seq, text, self.offset,
            final=final, grounded_product_ids=self.grounded, error=error,
            model=DIRECT_MODEL if stated else self.model, context=context or {},
        )
        self.seq += 1
        self.offset += len(text)
        return Output(topics.TOKENS, self.bundle.conversation_id, chunk)


class GenerateStage:
    name = "generate"
    input_topic = topics.EVIDENCE
    output_topics = (topics.TOKENS,)
    input_type = EvidenceBundle

    def __init__(self, settings: Settings, client: LlmClient | None = None, judge: AnswerJudge | None = None) -> None:
        self.settings = settings
        self.router = ModelRouter.from_settings(settings)
        self._client = client
        self._owns_client = client is None
        self._judge = judge
        self._owns_judge = judge is None

    async def start(self) -> None:
        if self._client is None:
            self._client = LlmClient(self.settings)
        if self._judge is None and self.settings.answer_judge:
            self._judge = answer_judge.load(self.settings.home / "models" / "judge")
            if self._judge is None:
                log.warning("no answerability judge under %s (run `make judge-model`): product questions "
                            "are answered without it", self.settings.home / "models" / "judge")

    async def stop(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        if self._judge is not None and self._owns_judge:
            self._judge.close()

    async def process(self, message: EvidenceBundle) -> AsyncIterator[Output]:
        grounded = grounded_ids(message)
        turn = _Turn(message, grounded, self.router.for_answer(message.plan))
        if not message.plan.request.text.strip():
            yield turn.chunk("Please type a question about a product, and I will look it up.", final=True,
                             context=_context(message))
            return
        if (stated := direct_answer(message, grounded)) is not None:
            turn.model = DIRECT_MODEL
            yield turn.chunk(stated)
            yield turn.chunk("", final=True, context=_context(message))
            return
        guard = AnswerGuard(support_for(message))
        if (lead := stated_lead(message, grounded)) is not None:
            guard.after_lead(lead)
            yield turn.chunk(lead, stated=True)
        shown: list[str] = []
        verdict = self._verdict(message)
        try:
            async with contextlib.aclosing(self._stream(message, turn)) as pieces:
                async for text in pieces:
                    released = guard.feed(text)
                    if released and verdict is not None:
                        # The judge ran while the model prefilled; its word is due before the first text.
                        if not await verdict:
                            break  # closing the stream aborts the request on the server
                        verdict = None
                    for piece in released:
                        shown.append(piece)
                        yield turn.chunk(piece)
                    if guard.stopped:
                        break  # a loop: closing the stream aborts the request on the server
        except DependencyError as exc:
            if verdict is not None:
                verdict.cancel()
            # Whatever streamed stays; the degraded answer follows it, then an error on the final chunk.
            yield turn.chunk((" " if turn.offset else "") + degraded_answer(message, grounded), stated=True)
            yield turn.chunk("", final=True, error=f"llm_unavailable: {exc}",
                             context=_context(message, PROMPT_VERSION, guard))
            return
        if verdict is not None and not await verdict:
            guard.counts["judged_unanswered"] = 1
            yield turn.chunk(not_answered(message, guard.support), stated=True)
            yield turn.chunk("", final=True, context=_context(message, PROMPT_VERSION, guard))
            return
        for piece in guard.finish():
            shown.append(piece)
            yield turn.chunk(piece)
        if (cited := citation(message, guard)) is not None:
            shown.append(cited)
            yield turn.chunk((" " if turn.offset else "") + cited, stated=True)
        if not visible_text("".join(shown)):
            silent = SHOWN_ABOVE.get(message.plan.intent) if lead else None
            text = silent or degraded_answer(message, grounded, SILENT)
            yield turn.chunk((" " if turn.offset else "") + text, stated=True)
        yield turn.chunk("", final=True, context=_context(message, PROMPT_VERSION, guard))

    def _verdict(self, bundle: EvidenceBundle) -> asyncio.Task[bool] | None:
        """Whether any passage answers the question, as a task the judge works on beside the model's
        stream; None for turns it does not judge (other intents, no judge)."""
        passages = judged_passages(bundle)
        if self._judge is None or not passages:
            return None
        judge = self._judge

        async def answered() -> bool:
            try:
                return max(await judge.aprobabilities(bundle.plan.request.text, passages)) >= judge.threshold
            except DependencyError as exc:  # the model's answer, guarded, is still worth showing
                log.warning("answerability judge failed, answering without it: %s", exc)
                return True
        return asyncio.ensure_future(answered())

    async def _stream(self, bundle: EvidenceBundle, turn: _Turn) -> AsyncGenerator[str, None]:
        """The model's text as it streams, token by token."""
        if self._client is None:
            raise DependencyError("the generate stage was not started")
        constraint = Grammar(build_gbnf(turn.grounded)) if self.settings.generate_grammar else None
        stream = self._client.stream_chat(
            build_messages(bundle, examples=wants_examples(turn.model)), model=turn.model, max_tokens=self.settings.generate_max_tokens,
            temperature=0.0, constraint=constraint, seed=_SEED,
        )
        async with contextlib.aclosing(stream) as chunks:
            async for piece in chunks:
                if piece.text:
                    yield piece.text


def visible_text(answer: str) -> bool:
    """Whether the answer has words outside its directives, as hydrate will parse it (a reply of only
    cards and suggestions reads as silence; a link's words count)."""
    parser = MarkupParser()
    events = [*parser.feed(answer), *parser.finish()]
    words = [e.text if isinstance(e, Text) else (e.body or "") if e.name == "link" else "" for e in events]
    return any(ch.isalnum() for ch in "".join(words))


def _context(bundle: EvidenceBundle, prompt_version: str | None = None, guard: AnswerGuard | None = None) -> dict[str, str]:
    """The turn's facts for render's finished-turn record (TokenChunk.context); `prompt_version`
    only when the model answered from that prompt, and the guard's counts (`guard_kept`,
    `guard_unsupported`, `guard_loop`, ...) when it judged the model's text."""
    request = bundle.plan.request
    facts = {"user_id": request.user_id, "question": request.text[:2_000], "intent": bundle.plan.intent,
             "plan_path": bundle.plan.path}
    if prompt_version is not None:
        facts["prompt_version"] = prompt_version
    if request.run_id:
        facts["run_id"] = request.run_id
    if request.page_product_id:
        facts["page_product_id"] = request.page_product_id  # hydrate's suggestions may then say "it"
    if guard is not None:
        facts.update({f"{GUARD_PREFIX}{key}": str(n) for key, n in sorted(guard.counts.items())})
    return facts


def build(settings: Settings) -> GenerateStage:
    return GenerateStage(settings)
