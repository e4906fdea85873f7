"""Codec cost per message: our codec, bare fastavro, and the reference `avro` package.

Three ways to encode and decode the same record:

    codec      pipeline.codec: dataclass <-> dict, the single-object header, fastavro underneath
    fastavro   fastavro schemaless_writer/reader on a ready dict (no header, no dataclass)
    avro       the Apache `avro` package's DatumWriter/DatumReader on the same dict

for a typical TokenChunk and an EvidenceBundle with 10 items. Each number is the best of several
timed runs, in microseconds per message, on one core. Run `python -m bench.codec` for a table.
"""

from __future__ import annotations

import io
import json
import timeit
from collections.abc import Callable
from typing import Any

import avro.io
import avro.schema
from fastavro import schemaless_reader, schemaless_writer

from pipeline.codec import HEADER_SIZE, Codec, default_codec
from pipeline.messages import EvidenceBundle, EvidenceItem, Plan, RetrievalStep, TokenChunk, UserTurn

REPEATS = 5


def sample_token_chunk() -> TokenChunk:
    """A mid-answer chunk: a few tokens of text with markup, two grounded products."""
    return TokenChunk(
        conversation_id="c-7f3a9e2b4d1c",
        turn=3,
        seq=42,
        text=" the quieter one is [[product:B07XJ8C8F5]] at",
        offset=311,
        grounded_product_ids=["B07XJ8C8F5", "B08N5WRWNW"],
        model="smollm2-135m-instruct",
    )


def sample_evidence_bundle(items: int = 10) -> EvidenceBundle:
    """A bundle answering a two-step plan, with `items` review and product passages."""
    request = UserTurn(
        "c-7f3a9e2b4d1c", 3, 0, "u-1029", "which of these kettles is quietest?", page_product_id="B07XJ8C8F5"
    )
    steps = [
        RetrievalStep("reviews", "quiet kettle noise", ["B07XJ8C8F5", "B08N5WRWNW"], limit=8),
        RetrievalStep("products", "electric kettle", filters={"max_price_cents": "5000"}),
    ]
    plan = Plan(
        "c-7f3a9e2b4d1c", 3, 0, request, "compare", steps, ["B07XJ8C8F5", "B08N5WRWNW"], "llm", 84.2, "small"
    )
    evidence = [
        EvidenceItem(
            source="review" if i % 2 else "product",
            text=f"Passage {i}: boils a full litre in about four minutes and is quieter than my old one.",
            score=1.0 / (i + 1),
            product_id="B07XJ8C8F5" if i % 2 else "B08N5WRWNW",
            ref=f"rev-{i:04d}",
        )
        for i in range(items)
    ]
    return EvidenceBundle("c-7f3a9e2b4d1c", 3, 0, plan, evidence)


def _us_per_call(calls: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best of REPEATS runs of each call, in microseconds per call.

    Runs are interleaved (one run of every call per round), so load that comes and goes on a
    shared machine hits all of them alike; each run lasts at least 0.2 s.
    """
    timers = {name: timeit.Timer(call) for name, call in calls.items()}
    numbers = {name: timer.autorange()[0] for name, timer in timers.items()}
    best = {name: float("inf") for name in calls}
    for _ in range(REPEATS):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return best


def _measure(codec: Codec, message: Any) -> dict[str, float]:
    schema = codec.registry.get(type(message).__name__)
    data = codec.encode(message)
    body = data[HEADER_SIZE:]
    plain = codec.decode_dict(data).value

    def fastavro_encode() -> bytes:
        buffer = io.BytesIO()
        schemaless_writer(buffer, schema.parsed, plain)
        return buffer.getvalue()

    reference = avro.schema.parse(json.dumps(dict(schema.definition)))
    avro_writer = avro.io.DatumWriter(reference)
    avro_reader = avro.io.DatumReader(reference)

    def avro_encode() -> bytes:
        buffer = io.BytesIO()
        avro_writer.write(plain, avro.io.BinaryEncoder(buffer))
        return buffer.getvalue()

    def avro_decode() -> object:
        return avro_reader.read(avro.io.BinaryDecoder(io.BytesIO(body)))

    timings = _us_per_call(
        {
            "codec.encode_us": lambda: codec.encode(message),
            "codec.decode_us": lambda: codec.decode(data),
            "fastavro.encode_us": fastavro_encode,
            "fastavro.decode_us": lambda: schemaless_reader(io.BytesIO(body), schema.parsed, None),
            "avro.encode_us": avro_encode,
            "avro.decode_us": avro_decode,
        }
    )
    return {"bytes": float(len(data)), **timings}


def run() -> dict[str, float]:
    """Measure both sample messages; keys are `<message>.<implementation>.<encode|decode>_us`,
    plus `<message>.bytes` (encoded size with the 10-byte header)."""
    codec = default_codec()
    results: dict[str, float] = {}
    for label, message in (("token_chunk", sample_token_chunk()), ("evidence_bundle_10", sample_evidence_bundle())):
        for key, value in _measure(codec, message).items():
            results[f"{label}.{key}"] = value
    return results


def _table(results: dict[str, float]) -> str:
    lines = [
        f"{'message':<20} {'bytes':>6} {'impl':<9} {'encode µs':>10} {'decode µs':>10}",
    ]
    for label in ("token_chunk", "evidence_bundle_10"):
        size = int(results[f"{label}.bytes"])
        for impl in ("codec", "fastavro", "avro"):
            lines.append(
                f"{label:<20} {size:>6} {impl:<9} "
                f"{results[f'{label}.{impl}.encode_us']:>10.2f} {results[f'{label}.{impl}.decode_us']:>10.2f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(_table(run()))
