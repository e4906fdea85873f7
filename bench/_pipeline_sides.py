"""The two sides the pipeline benchmark (bench/pipeline.py) compares, each asked question number k:

    PipelineRig   plan, retrieve and generate as workers on topics of their own: a UserTurn in, the
                  answer's TokenChunks out; it keeps the evidence it built for each question
    Direct        the prompt the pipeline built for the same question, streamed straight from vLLM

Each answers with an `Answer`; a `Side` gathers one side's answers over a phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench._shared import fresh_topics
from pipeline import codec
from pipeline.config import Settings
from pipeline.generation.cite import support_for
from pipeline.generation.direct import DIRECT_MODEL
from pipeline.generation.guard import AnswerGuard
from pipeline.generation.prompt import build_messages, wants_examples
from pipeline.llm.client import LlmClient
from pipeline.llm.router import ModelRouter
from pipeline.messages import EvidenceBundle, TokenChunk, UserTurn
from pipeline.runtime.chain import build_stages
from pipeline.runtime.headers import hop_name, hops, stage_durations_ms
from pipeline.runtime.worker import StageWorker
from pipeline.stats import percentile

MAX_TOKENS = 48
"""The same cap on both sides (the pipeline's generate_max_tokens, Direct's max_tokens), so they stream
answers of the same length."""
ANSWER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Answer:
    question: int
    """Question number k: both sides ask the same k with the same prompt, so their TTFTs pair up."""
    ttft_ms: float | None
    """None when the model wrote nothing (the pipeline answered with a fallback)."""
    chars: int
    seconds: float
    """Question sent -> answer ended."""
    shown_ms: float | None = None
    """Direct only: when the grounding guard, fed this stream, would first release something (the end of
    the first supported sentence, or a directive). The pipeline's TTFT is that moment plus its own cost."""
    stages_ms: dict[str, float] = field(default_factory=dict)
    """Pipeline only: where the first text's milliseconds went, from its hop headers
    (runtime/headers.py): `plan.wait` (request produced -> plan received it), `plan`, `retrieve.wait`,
    `retrieve`, `generate.wait`, `generate` (evidence in -> first text out: vLLM's prefill and the
    guard's hold are inside it) and `tokens.wait` (first text produced -> read here)."""


@dataclass
class Side:
    """Everything one side measured over its phases, `streams` answers at a time."""

    streams: int
    answers: list[Answer] = field(default_factory=list)

    def ttfts(self) -> list[float]:
        return [a.ttft_ms for a in self.answers if a.ttft_ms is not None]

    def summary(self) -> dict[str, float]:
        ttft = self.ttfts()
        busy = sum(a.seconds for a in self.answers)
        return {"ttft_p50_ms": percentile(ttft, 50), "ttft_p99_ms": percentile(ttft, 99),
                "chars_per_s": self.streams * sum(a.chars for a in self.answers) / busy if busy else 0.0,
                "answered": float(len(ttft))}


@dataclass
class _Pending:
    sent_at: float
    done: asyncio.Future[Answer]
    first_at: float | None = None
    chars: int = 0
    stages_ms: dict[str, float] = field(default_factory=dict)


class PipelineRig:
    """plan, retrieve and generate as workers under a fresh topic prefix, and a reader of `tokens`
    and `evidence` that resolves each question when its last chunk arrives."""

    def __init__(self, settings: Settings, questions: Callable[[int], tuple[str, str]]) -> None:
        # Topics of its own are created on entering (`fresh_topics`).
        self.settings = dataclasses.replace(settings, generate_max_tokens=MAX_TOKENS, generate_grammar=False,
                                            planner_mode="rules")
        self.questions = questions
        """Question number k -> its text and the product page it is asked on."""
        self.bundles: dict[int, EvidenceBundle] = {}
        """Question number -> the evidence the pipeline built for it (so `direct` sends the same prompt)."""
        self.planner_ms: list[float] = []
        self._pending: dict[str, _Pending] = {}
        self._question_of: dict[str, int] = {}
        self._asked = 0
        self._stop = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._reading: asyncio.Task[None] | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> PipelineRig:
        s = self.settings = fresh_topics(self.settings, ("requests", "plans", "evidence", "tokens", "dead-letters",
                                                         "conversation-state", "user-memory", "alert-registry"))
        workers = [StageWorker(stage, s) for stage in build_stages(s, ("plan", "retrieve", "generate"))]
        self._workers = [asyncio.create_task(w.run(self._stop)) for w in workers]
        while not all(w.ready for w in workers):  # models loaded, partitions assigned
            self._raise_if_a_worker_died()
            await asyncio.sleep(0.1)
        self._reader = AIOKafkaConsumer(s.topic("tokens"), s.topic("evidence"), bootstrap_servers=s.kafka_bootstrap_servers,
                                        auto_offset_reset="earliest", fetch_max_wait_ms=s.fetch_max_wait_ms)
        await self._reader.start()
        self._producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, linger_ms=0)
        await self._producer.start()
        self._reading = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        for closing in (self._producer, self._reader):
            if closing is not None:
                await closing.stop()
        if self._reading is not None:
            self._reading.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.gather(*self._workers, *([self._reading] if self._reading else []))

    async def ask(self, k: int) -> Answer:
        assert self._producer is not None
        question, product = self.questions(k)
        self._asked += 1
        conv = f"bench-{self._asked}"
        pending = _Pending(time.monotonic(), asyncio.get_running_loop().create_future())
        self._pending[conv] = pending
        self._question_of[conv] = k
        turn = UserTurn(conv, 0, 0, "bench", question, page_product_id=product)
        # As the gateway stamps requests, so the first chunk's headers time the whole path.
        sent = [(hop_name("bench", "out"), str(time.time_ns() // 1_000_000).encode())]
        await self._producer.send(self.settings.topic("requests"), codec.encode(turn), key=conv.encode(), headers=sent)
        return await asyncio.wait_for(pending.done, ANSWER_TIMEOUT_S)

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            self._raise_if_a_worker_died()
            for records in (await self._reader.getmany(timeout_ms=100)).values():
                now = time.monotonic()
                for record in records:
                    self._take(codec.decode(record.value), now, record.headers)

    def _take(self, message: Any, now: float, headers: Any = None) -> None:
        if isinstance(message, EvidenceBundle):
            self.bundles[self._question_of[message.conversation_id]] = message
            self.planner_ms.append(message.plan.planner_ms)
            return
        pending = self._pending.get(message.conversation_id) if isinstance(message, TokenChunk) else None
        if pending is None:
            return
        if message.model != DIRECT_MODEL:  # text the system added is not the model's
            if message.text and pending.first_at is None:
                pending.first_at = now
                pending.stages_ms = hop_spans(headers)
            pending.chars += len(message.text)
        if message.final and not pending.done.done():
            ttft = None if pending.first_at is None else (pending.first_at - pending.sent_at) * 1000
            question = self._question_of[message.conversation_id]
            pending.done.set_result(Answer(question, ttft, pending.chars, now - pending.sent_at,
                                           stages_ms=pending.stages_ms))
            del self._pending[message.conversation_id]

    def _raise_if_a_worker_died(self) -> None:
        for task in self._workers:
            if task.done():
                task.result()  # a worker that died (e.g. a missing topic) ends the run with its error
                raise RuntimeError("a stage worker stopped during the benchmark")


def hop_spans(headers: Any) -> dict[str, float]:
    """Per stage, time inside it and waiting before it, for one record's hop headers; the last hop is
    the wait from generate's produce to this reader (epoch milliseconds, so 1 ms resolution)."""
    times = hops(headers)
    stages = stage_durations_ms(times)
    if "generate:out" in times:
        stages["tokens.wait"] = float(time.time_ns() // 1_000_000 - times["generate:out"])
    return stages


class Direct:
    """The prompts the pipeline built for each question, streamed straight from vLLM."""

    def __init__(self, client: LlmClient, router: ModelRouter, bundles: dict[int, EvidenceBundle]) -> None:
        self.client = client
        self.router = router
        self.bundles = bundles

    async def ask(self, k: int) -> Answer:
        bundle = self.bundles[k]
        started = time.monotonic()
        first_at: float | None = None
        shown_at: float | None = None
        chars = 0
        model = self.router.for_answer(bundle.plan)
        guard = AnswerGuard(support_for(bundle))  # judging costs well under a millisecond a sentence
        async for chunk in self.client.stream_chat(build_messages(bundle, examples=wants_examples(model)), model=model,
                                                   max_tokens=MAX_TOKENS, temperature=0.0, seed=0):
            if chunk.text and first_at is None:
                first_at = time.monotonic()
            if shown_at is None and any(guard.feed(chunk.text)):
                shown_at = time.monotonic()
            chars += len(chunk.text)
        ended = time.monotonic()
        if shown_at is None and any(guard.finish()):
            shown_at = ended

        def ms(at: float | None) -> float | None:
            return None if at is None else (at - started) * 1000

        return Answer(k, ms(first_at), chars, ended - started, ms(shown_at))
