"""`aisle tail`'s decoding, without a broker: a dead letter shows the record it carries decoded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline import admin, codec
from pipeline.cli import cli
from pipeline.messages import DeadLetter, UserTurn

TURN = UserTurn("conv-1", 2, 0, "user-1", "is it waterproof?")


def letter(value: bytes | None, key: bytes | None = b"conv-1") -> DeadLetter:
    return DeadLetter("plan", "boom", "StageError", "requests", 3, 41, key=key, value=value)


def test_a_record_that_decodes_is_shown_with_its_schema() -> None:
    shown = admin.readable_dead_letter(codec.decode_dict(codec.encode(letter(codec.encode(TURN)))).value)
    assert shown["key"] == "conv-1"
    assert shown["value"]["schema"] == "aisle.UserTurn"
    assert shown["value"]["value"]["text"] == "is it waterproof?"
    assert (shown["stage"], shown["reason"], shown["origin_offset"]) == ("plan", "boom", 41)


def test_a_record_that_does_not_decode_is_shown_as_a_preview() -> None:
    raw = b"not avro at all" * 10
    shown = admin.readable_dead_letter(codec.decode_dict(codec.encode(letter(raw, key=None))).value)
    assert shown["key"] is None
    value = shown["value"]
    assert value["size"] == len(raw) and value["error"]
    assert bytes.fromhex(value["hex"]) == raw[: admin.PREVIEW_BYTES]
    assert value["text"] == raw[: admin.PREVIEW_BYTES].decode()


def test_binary_that_is_not_utf8_has_no_text_preview_and_no_value_stays_none() -> None:
    shown = admin.readable_dead_letter(codec.decode_dict(codec.encode(letter(b"\xc3\x01\xff\xfe"))).value)
    assert shown["value"]["text"] is None and shown["value"]["hex"] == "c301fffe"
    assert admin.readable_dead_letter(codec.decode_dict(codec.encode(letter(None))).value)["value"] is None


class _Message:
    def __init__(self, value: bytes, offset: int) -> None:
        self._value, self._offset = value, offset

    def error(self) -> None:
        return None

    def key(self) -> bytes:
        return b"conv-1"

    def value(self) -> bytes:
        return self._value

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class _Consumer:
    """confluent-kafka's Consumer, as far as `tail` uses it: the given messages, then nothing."""

    messages: list[_Message] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self._pending: Iterator[_Message] = iter(self.messages)

    def list_topics(self, topic: str, timeout: float) -> Any:
        described = SimpleNamespace(error=None, partitions={0: None})
        return SimpleNamespace(topics={topic: described})

    def assign(self, partitions: list[Any]) -> None: ...

    def poll(self, timeout_s: float) -> _Message | None:
        return next(self._pending, None)

    def close(self) -> None: ...


def test_aisle_tail_dead_letters_prints_the_original_record(monkeypatch: pytest.MonkeyPatch) -> None:
    _Consumer.messages = [_Message(codec.encode(letter(codec.encode(TURN))), 7), _Message(codec.encode(letter(b"\x00junk")), 8)]
    monkeypatch.setattr(admin, "Consumer", _Consumer)
    real_tail = admin.tail
    polls = iter(range(4))  # a few polls past the two messages, then `tail` stops
    monkeypatch.setattr(admin, "tail", lambda *a, **kw: real_tail(*a, **kw, stop=lambda: next(polls, None) is None))
    result = CliRunner().invoke(cli, ["tail", "dead-letters", "--from-beginning"])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["offset"] == 7 and first["schema"] == "aisle.DeadLetter"
    assert first["value"]["value"] == {"schema": "aisle.UserTurn", "value": codec.decode_dict(codec.encode(TURN)).value}
    assert second["value"]["value"]["hex"] == "006a756e6b" and second["value"]["value"]["text"] == "\x00junk"
