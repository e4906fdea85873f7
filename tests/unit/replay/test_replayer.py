"""The replayer's bookkeeping without a broker: what frames and responses do to a turn, and task ownership."""

from __future__ import annotations

import asyncio
import json

import pytest

from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError
from pipeline.messages import DeadLetter, Frame, TurnResponse
from pipeline.replay.replayer import Replayer, ReplayOptions, ReplayedTurn, replay_conversation_id
from pipeline.replay.report import TurnRecord
from pipeline.replay.traffic import parse_traffic

T0 = 1_700_000_000_000


async def forever() -> None:
    await asyncio.Event().wait()


def replayer() -> Replayer:
    traffic = parse_traffic(['{"type": "ask", "offset_ms": 0, "conversation": "c1", "user": "u", "text": "hi"}'])
    return Replayer(Settings(), traffic, ReplayOptions(run_id="r-1", keep_frames=True))


async def test_frames_and_the_response_fill_in_the_turn() -> None:
    r = replayer()
    state = ReplayedTurn(TurnRecord("c1", 0, T0))
    r._turns[("c1", 0)] = state
    frames = [Frame("x", 0, 0, "text", ""), Frame("x", 0, 1, "text", "Hello"), Frame("x", 0, 1, "text", "Hello"),
              Frame("x", 0, 2, "error", payload=json.dumps({"reason": "llm_unavailable: slow", "stage": "generate"})),
              Frame("x", 0, 3, "done", payload=json.dumps({"counts": {"ungrounded": 1}}))]
    for at, frame in enumerate(frames):
        r._observe("c1", frame, T0 + 100 * (at + 1))
    r._observe("c1", TurnResponse("x", 0, 0, "u", "hi", "Hello", "greeting", hop_ms={"plan": 5.0}), T0 + 600)
    r._observe("c9", TurnResponse("x", 0, 0, "u", "hi", "not ours", "?"), T0 + 600)  # unknown turn: ignored
    r._observe("c1", DeadLetter("hydrate", "boom", "StageError", "tokens", 0, 1, b"k", b"junk"), T0 + 700)

    record = state.record
    assert state.done.is_set()
    assert record.first_text_at_ms == T0 + 200, "the first text frame with text"
    assert (record.frames, record.duplicate_frames) == (4, 1)
    assert record.errors == [("generate: llm_unavailable", "llm_unavailable: slow")]
    assert record.done_at_ms == T0 + 500 and record.done_counts == {"ungrounded": 1}
    assert record.answered and record.hop_ms == {"plan": 5.0} and record.answer_chars == 5
    assert [f.seq for f in state.frames] == [0, 1, 2, 3]
    assert [(d.conversation, d.stage, d.turn) for d in r._dead] == [("c1", "hydrate", None)]


def test_conversations_are_namespaced_per_run() -> None:
    assert replay_conversation_id("r-1", "c1") == "replay/r-1/c1" != replay_conversation_id("r-2", "c1")
    assert replayer().run_id == "r-1"
    fresh = Replayer(Settings(), parse_traffic(['{"type":"ask","offset_ms":0,"conversation":"c","user":"u","text":"x"}']),
                     ReplayOptions())
    assert fresh.run_id.startswith("r-")


async def test_watch_returns_when_every_sender_is_done() -> None:
    collector = asyncio.create_task(forever())
    senders = [asyncio.create_task(asyncio.sleep(0.01)) for _ in range(3)]
    await Replayer._watch(senders, collector)
    assert all(t.done() for t in senders) and not collector.done()
    collector.cancel()


async def test_watch_cancels_the_rest_when_a_sender_fails() -> None:
    async def fail() -> None:
        raise BrokerUnavailableError("gone")

    collector = asyncio.create_task(forever())
    slow = asyncio.create_task(asyncio.sleep(60))
    with pytest.raises(BrokerUnavailableError, match="gone"):
        await Replayer._watch([slow, asyncio.create_task(fail())], collector)
    assert slow.cancelled()
    collector.cancel()


async def test_watch_stops_when_the_collector_dies() -> None:
    async def die() -> None:
        raise BrokerUnavailableError("collector lost the broker")

    slow = asyncio.create_task(asyncio.sleep(60))
    with pytest.raises(BrokerUnavailableError, match="collector lost"):
        await Replayer._watch([slow], asyncio.create_task(die()))
    assert slow.cancelled()
