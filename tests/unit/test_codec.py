"""The codec: exact single-object bytes, round trips, old writers, and only DecodeError on bad input."""

from __future__ import annotations

import dataclasses
import io
import json
import types
import typing
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import messages
from pipeline.codec import HEADER_SIZE, MARKER, Codec, decode, decode_as, decode_dict, default_codec, encode
from pipeline.errors import ContractError, DecodeError
from pipeline.messages import DeadLetter, EvidenceBundle, EvidenceItem, Plan, RetrievalStep, TokenChunk, UserTurn
from pipeline.schemas import default_registry, load_registry

REGISTRY = default_registry()
CLASSES = [getattr(messages, s.short_name) for s in REGISTRY]
_LONGS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    str: st.text(max_size=20),
    int: _LONGS,
    float: st.floats(allow_nan=False),
    bool: st.booleans(),
    bytes: st.binary(max_size=20),
}


def _values(hint: Any) -> st.SearchStrategy[Any]:
    if hint in _SCALARS:
        return _SCALARS[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [a for a in args if a is not type(None)]
        return st.none() | _values(inner)
    if origin is list:
        return st.lists(_values(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), _values(args[1]), max_size=3)
    return _messages(hint)


def _messages(cls: Any) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: _values(hints[f.name]) for f in dataclasses.fields(cls)})


ANY_MESSAGE = st.one_of([_messages(cls) for cls in CLASSES])


def _bundle() -> EvidenceBundle:
    request = UserTurn("conv-1", 3, 0, "user-9", "a quiet kettle under $40?", page_product_id="B000123")
    step = RetrievalStep("products", "quiet kettle", filters={"max_price_cents": "4000"})
    plan = Plan("conv-1", 3, 0, request, "search", [step], path="llm", planner_ms=12.5, model="small")
    items = [EvidenceItem("review", f"review {i}", 1.0 / (i + 1), f"B{i:06d}", f"r{i}") for i in range(10)]
    return EvidenceBundle("conv-1", 3, 0, plan, items)


# ---- bytes on the wire ----------------------------------------------------------------------------


def test_header_is_marker_then_little_endian_fingerprint() -> None:
    chunk = TokenChunk("conv-1", 1, 4, "Hello", 0)
    data = encode(chunk)
    fingerprint = REGISTRY.get("TokenChunk").fingerprint
    assert data[:2] == b"\xc3\x01" == MARKER
    assert data[2:HEADER_SIZE] == fingerprint.to_bytes(8, "little")
    # The reference implementation computes the same fingerprint, in big-endian byte order.
    reference = avro.schema.parse(json.dumps(dict(REGISTRY.get("TokenChunk").definition)))
    assert data[2:HEADER_SIZE] == reference.fingerprint("CRC-64-AVRO")[::-1]


@pytest.mark.parametrize("message", [TokenChunk("c", 0, 1, "hi", 2, True, ["p"], None, "m"), _bundle()])
def test_body_is_what_the_reference_implementation_reads_and_writes(message: Any) -> None:
    schema = avro.schema.parse(json.dumps(dict(REGISTRY.get(type(message).__name__).definition)))
    data = encode(message)
    read = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[HEADER_SIZE:])))
    assert read == decode_dict(data).value
    written = io.BytesIO()
    avro.io.DatumWriter(schema).write(read, avro.io.BinaryEncoder(written))
    assert data[:HEADER_SIZE] + written.getvalue() == data
    assert decode(data[:HEADER_SIZE] + written.getvalue()) == message


# ---- round trips ----------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_MESSAGE)
def test_every_message_round_trips(message: Any) -> None:
    data = encode(message)
    assert decode(data) == message
    assert decode_as(data, type(message)) == message
    assert type(decode(data)) is type(message)


def test_nested_records_decode_as_dataclasses() -> None:
    bundle = decode(encode(_bundle()))
    assert isinstance(bundle.plan.request, UserTurn)
    assert isinstance(bundle.plan.steps[0], RetrievalStep)
    assert [type(item) for item in bundle.items] == [EvidenceItem] * 10


def test_bytes_fields_round_trip() -> None:
    letter = DeadLetter("plan", "bad bytes", "DecodeError", "aisle.requests", 2, 41, b"\x00key", b"\xff" * 3)
    assert decode(encode(letter)) == letter


def test_decode_dict_names_the_record_and_gives_plain_data() -> None:
    decoded = decode_dict(encode(_bundle()))
    assert decoded.schema_name == "aisle.EvidenceBundle"
    assert decoded.writer_fingerprint == REGISTRY.get("EvidenceBundle").fingerprint
    assert decoded.value["plan"]["request"]["text"] == "a quiet kettle under $40?"
    assert len(decoded.value["items"]) == 10


# ---- errors ---------------------------------------------------------------------------------------


def test_decode_as_another_class_raises() -> None:
    with pytest.raises(DecodeError, match="aisle.TokenChunk"):
        decode_as(encode(TokenChunk("c", 0, 0, "x", 0)), UserTurn)


def test_encoding_a_value_the_schema_cannot_carry_raises_contract_error() -> None:
    with pytest.raises(ContractError):
        encode(TokenChunk("c", 0, 0, "x", offset="not a number"))  # type: ignore[arg-type]
    with pytest.raises(ContractError):
        encode(TokenChunk("c", 0, 2**64, "x", 0))
    with pytest.raises(ContractError, match="no schema"):
        encode(RetrievalStep("products"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "shorter"),
        (b"\xc3\x01\x00", "shorter"),
        (b"\xc3\x02" + bytes(8) + b"\x00", "marker"),
        (b"\x00\x00" + bytes(8), "marker"),
        (MARKER + bytes(8) + b"\x02a", "unknown schema fingerprint"),
    ],
)
def test_bad_headers_raise_decode_error(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode(data)


def test_every_truncation_raises_decode_error() -> None:
    data = encode(_bundle())
    for end in range(len(data)):
        with pytest.raises(DecodeError):
            decode(data[:end])


def test_trailing_bytes_raise_decode_error() -> None:
    with pytest.raises(DecodeError, match="left after"):
        decode(encode(TokenChunk("c", 0, 0, "x", 0)) + b"\x00")


def test_invalid_utf8_raises_decode_error() -> None:
    header = encode(UserTurn("c", 0, 0, "u", "t"))[:HEADER_SIZE]
    with pytest.raises(DecodeError):
        decode(header + b"\x02\xff" + b"\x00" * 20)


def test_a_huge_length_raises_decode_error_without_allocating_it() -> None:
    header = encode(UserTurn("c", 0, 0, "u", "t"))[:HEADER_SIZE]
    huge = b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f"  # zig-zag varint for 2**62 - 1
    with pytest.raises(DecodeError):
        decode(header + huge + b"abc")


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_random_bytes_only_ever_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)


@settings(max_examples=500)
@given(st.sampled_from(CLASSES), st.binary(max_size=200))
def test_random_bodies_decode_or_raise_decode_error(cls: Any, body: bytes) -> None:
    data = MARKER + REGISTRY.get(cls.__name__).fingerprint_bytes + body
    try:
        message = decode(data)
    except DecodeError:
        return
    assert type(message) is cls and decode(encode(message)) == message


# ---- older writers --------------------------------------------------------------------------------


def test_data_from_an_older_schema_version_decodes_with_new_defaults(tmp_path: Path) -> None:
    """A producer still on an older UserTurn (without `client` and `run_id`) is read by today's code."""
    current = dict(REGISTRY.get("UserTurn").definition)
    old = {**current, "fields": [f for f in current["fields"] if f["name"] not in ("client", "run_id")]}
    history = tmp_path / "history" / "UserTurn"
    history.mkdir(parents=True)
    (history / "old.avsc").write_text(json.dumps(old), encoding="utf-8")
    for path in (Path(__file__).resolve().parents[2] / "schemas").glob("*.avsc"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    registry = load_registry(tmp_path)
    codec = Codec(registry)
    (old_schema,) = registry.versions("UserTurn")[:-1]

    body = io.BytesIO()
    writer_schema = avro.schema.parse(json.dumps(old))
    record = {"conversation_id": "c", "turn": 2, "seq": 0, "user_id": "u", "text": "hi",
              "page_product_id": None, "sent_at_ms": 7}
    avro.io.DatumWriter(writer_schema).write(record, avro.io.BinaryEncoder(body))
    data = MARKER + old_schema.fingerprint_bytes + body.getvalue()

    assert codec.decode(data) == UserTurn("c", 2, 0, "u", "hi", None, "web", None, 7)
    assert codec.schema_of(data) is old_schema
    assert codec.decode_dict(data).writer_fingerprint == old_schema.fingerprint
    with pytest.raises(DecodeError):
        default_codec().decode(data)  # the repository's registry has never seen that version


def test_a_schema_without_a_dataclass_is_refused() -> None:
    with pytest.raises(ContractError, match="no dataclass"):
        Codec(REGISTRY, classes={"UserTurn": UserTurn})
