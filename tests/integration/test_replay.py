"""Record and replay on the real broker.

`aisle record` reads live asks and feedback back out of the topics (replayed turns left out); a 3-turn
traffic file replayed through the whole pipeline, run in this process as in test_pipeline.py (needs
`make llm-up` and `make models`; skips with the reason otherwise), gives a report with per-stage
latencies and every turn answered exactly once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from pipeline import codec
from pipeline.catalog import PRODUCTS_FILE, read_products
from pipeline.config import Settings
from pipeline.messages import Feedback, UserTurn
from pipeline.replay.recorder import record_from_topics
from pipeline.replay.replayer import ReplayOptions
from pipeline.replay.run import replay_traffic
from pipeline.replay.traffic import ASK, FEEDBACK, parse_traffic, read_traffic

pytestmark = [pytest.mark.kafka]


async def produce(settings: Settings, topic: str, key: str, value: object) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topic), codec.encode(value), key=key.encode())
    finally:
        await producer.stop()


async def test_record_reads_live_asks_and_feedback_between_two_times(kafka_settings: Settings, tmp_path: Path) -> None:
    s = kafka_settings
    start_ms = int(time.time() * 1000)
    await produce(s, "requests", "c-1", UserTurn("c-1", 0, 0, "u-1", "is it waterproof?", "B01", sent_at_ms=start_ms + 100))
    await produce(s, "requests", "replay/r-x/c-1",
                  UserTurn("replay/r-x/c-1", 0, 0, "u-1", "replayed", run_id="r-x", sent_at_ms=start_ms + 150))
    await produce(s, "feedback", "c-1", Feedback("c-1", 0, 5, "u-1", "thumbs_up", sent_at_ms=start_ms + 200))
    await produce(s, "requests", "c-2", UserTurn("c-2", 0, 0, "u-2", "how long is the cord?", sent_at_ms=start_ms + 300))
    await asyncio.sleep(0.1)
    out = tmp_path / "recorded.jsonl"
    summary = await record_from_topics(s, start_ms - 1_000, int(time.time() * 1000) + 1_000, out)

    assert (summary.asks, summary.feedback, summary.skipped_replays, summary.conversations) == (2, 1, 1, 2)
    traffic = read_traffic(out)
    assert traffic.bad_lines == []
    assert [(e.type, e.conversation, e.text, e.kind) for e in traffic.events] == [
        (ASK, "c-1", "is it waterproof?", ""), (FEEDBACK, "c-1", "", "thumbs_up"), (ASK, "c-2", "how long is the cord?", "")]
    assert [e.offset_ms for e in traffic.events] == [1_100, 1_200, 1_300]

    empty = tmp_path / "before.jsonl"
    assert (await record_from_topics(s, start_ms - 60_000, start_ms - 30_000, empty)).asks == 0


@pytest.mark.slow
async def test_a_three_turn_file_replays_with_every_turn_answered_once(pipeline_system: Settings, tmp_path: Path) -> None:
    settings = pipeline_system
    asin = next(iter(read_products(settings.shared_data / PRODUCTS_FILE))).asin
    traffic = parse_traffic([
        f'{{"type": "ask", "offset_ms": 0, "conversation": "a", "user": "u1", "text": "is this any good?", "page_product_id": "{asin}"}}',
        '{"type": "ask", "offset_ms": 100, "conversation": "b", "user": "u2", "text": "a gift for a 5 year old"}',
        '{"type": "ask", "offset_ms": 200, "conversation": "a", "user": "u1", "text": "what do reviewers say about it?"}',
        '{"type": "ask", "offset_ms": 300, "conversation": "a", "bogus": 1}',
    ])
    assert [b.line_no for b in traffic.bad_lines] == [4]
    outcome = await replay_traffic(settings, traffic, ReplayOptions(speed=1.0, concurrency=2, run_id="it-1",
                                                                    turn_timeout_s=240, lag_interval_s=1.0),
                                   traffic_file="inline", out_dir=tmp_path / "report")
    report = outcome.report

    assert report["turns"]["sent"] == 3
    assert report["turns"]["answered"] == 3 and report["turns"]["timed_out"] == 0, report["errors"]
    assert report["turns"]["duplicate_frames"] == 0
    assert sorted((t["conversation"], t["turn"]) for t in report["per_turn"]) == [("a", 0), ("a", 1), ("b", 0)]
    assert {"plan", "retrieve", "generate", "hydrate"} <= set(report["stages"]), report["stages"]
    assert report["stages"]["generate"]["count"] == 3
    assert report["ttft_ms"]["count"] >= 1 and report["ttft_ms"]["p50"] > 0
    turns = {(t.conversation, t.turn): t for t in outcome.result.turns}
    first_done = turns[("a", 0)].done_at_ms
    assert first_done is not None and turns[("a", 1)].sent_at_ms >= first_done, "the next turn waits for done"
    assert report["lag"] and set(report["lag"][0]) >= {"t_s", "plan", "render"}
    assert report["run"]["bad_lines"] == [{"line": 4, "reason": "unknown field(s): bogus"}]
    assert outcome.html_path.read_text().count("<svg") >= 3
