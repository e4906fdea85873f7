"""Messages to bytes and back: Avro single-object encoding of the dataclasses in messages.py.

Each value on a topic is, per the Avro specification's single-object encoding:

    C3 01            two-byte marker (format version 1)
    8 bytes          CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form,
                     little-endian
    ...              the record in Avro binary encoding

Readers look the fingerprint up in the registry (current schemas and every frozen version in
schemas/history/) and resolve the writer schema to the current one, so data written by an older
producer decodes into today's dataclass, with defaults for fields added since.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any, TypeVar, cast

from fastavro import schemaless_reader, schemaless_writer

from pipeline import messages
from pipeline._records import RecordConverter, record_converter
from pipeline.errors import ContractError, DecodeError
from pipeline.schemas import Schema, SchemaRegistry, default_registry

MARKER = b"\xc3\x01"
"""The single-object encoding marker: 0xC3 then format version 0x01."""
HEADER_SIZE = len(MARKER) + 8
"""Bytes before the Avro body: the marker and the 8-byte fingerprint."""

T = TypeVar("T")


@dataclass(frozen=True)
class DecodedRecord:
    """A message decoded to plain data, for tools that show any topic (`aisle tail`)."""

    schema_name: str
    """Full name of the record, e.g. `aisle.TokenChunk`."""
    writer_fingerprint: int
    """The fingerprint in the message header (an older version's, if an older producer wrote it)."""
    value: dict[str, Any]
    """The record resolved to the current schema: nested records as dicts, bytes as bytes."""


@dataclass(frozen=True)
class _Writer:
    parsed: Any
    header: bytes
    to_dict: Any


@dataclass(frozen=True)
class _Reader:
    schema: Schema
    writer: Any
    reader: Any
    """The current schema when the writer is older; None when the writer is current (no resolution)."""
    converter: RecordConverter


class Codec:
    """Encodes and decodes every record of a registry; immutable, safe to share between tasks."""

    def __init__(self, registry: SchemaRegistry, classes: Mapping[str, type[Any]] | None = None) -> None:
        """`classes` maps a schema's short name to its dataclass; by default, pipeline.messages.

        Raises ContractError when a current schema has no dataclass.
        """
        lookup = classes if classes is not None else _classes_in(messages)
        self._registry = registry
        self._writers: dict[type[Any], _Writer] = {}
        self._names: dict[type[Any], str] = {}
        converters: dict[str, RecordConverter] = {}
        for schema in registry:
            cls = lookup.get(schema.short_name)
            if cls is None:
                raise ContractError(f"schema {schema.name} has no dataclass called {schema.short_name}")
            converter = record_converter(cls)
            converters[schema.name] = converter
            self._names[cls] = schema.name
            self._writers[cls] = _Writer(schema.parsed, MARKER + schema.fingerprint_bytes, converter.to_dict)
        self._readers: dict[int, _Reader] = {}
        for schema in registry:
            for version in registry.versions(schema.name):
                reader = None if version.current else schema.parsed
                self._readers[version.fingerprint] = _Reader(
                    version, version.parsed, reader, converters[schema.name]
                )

    @property
    def registry(self) -> SchemaRegistry:
        return self._registry

    def encode(self, message: object) -> bytes:
        """The single-object encoding of `message`, with its current schema.

        Raises ContractError when the message's class has no schema or a field holds a value its
        schema cannot carry (e.g. a str where a long belongs, or an int beyond 64 bits).
        """
        writer = self._writers.get(type(message))
        if writer is None:
            raise ContractError(f"no schema for {type(message).__qualname__}")
        buffer = io.BytesIO()
        buffer.write(writer.header)
        try:
            schemaless_writer(buffer, writer.parsed, writer.to_dict(message))
        except Exception as exc:  # fastavro raises TypeError, ValueError, OverflowError, ...
            raise ContractError(f"cannot encode {type(message).__qualname__}: {exc}") from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> Any:
        """The dataclass instance `data` encodes, of the class its fingerprint names.

        Raises DecodeError for a missing marker, an unknown fingerprint, or a body that is
        truncated, malformed or followed by extra bytes.
        """
        reader = self._reader_for(data)
        return reader.converter.from_dict(self._read(reader, data))

    def decode_as(self, data: bytes, cls: type[T]) -> T:
        """Like decode, and also raises DecodeError when `data` holds a record other than `cls`."""
        reader = self._reader_for(data)
        if reader.converter.cls is not cls:
            expected = self._names.get(cls, cls.__qualname__)
            raise DecodeError(f"message holds {reader.schema.name}, expected {expected}")
        value: T = reader.converter.from_dict(self._read(reader, data))
        return value

    def decode_dict(self, data: bytes) -> DecodedRecord:
        """`data` as plain data, for display. Raises DecodeError as decode does."""
        reader = self._reader_for(data)
        return DecodedRecord(reader.schema.name, reader.schema.fingerprint, self._read(reader, data))

    def schema_of(self, data: bytes) -> Schema:
        """The writer schema named by `data`'s header, without decoding the body.

        Raises DecodeError for a missing marker or an unknown fingerprint.
        """
        return self._reader_for(data).schema

    def _reader_for(self, data: bytes) -> _Reader:
        if len(data) < HEADER_SIZE:
            raise DecodeError(f"{len(data)} bytes is shorter than the {HEADER_SIZE}-byte header")
        if data[:2] != MARKER:
            raise DecodeError(f"no single-object marker: starts with {bytes(data[:2]).hex()}")
        fingerprint = int.from_bytes(data[2:HEADER_SIZE], "little")
        reader = self._readers.get(fingerprint)
        if reader is None:
            raise DecodeError(f"unknown schema fingerprint {fingerprint:016x}")
        return reader

    @staticmethod
    def _read(reader: _Reader, data: bytes) -> dict[str, Any]:
        buffer = io.BytesIO(data)
        buffer.seek(HEADER_SIZE)
        try:
            # A record schema always reads as a dict.
            value = cast(dict[str, Any], schemaless_reader(buffer, reader.writer, reader.reader))
        except Exception as exc:  # EOFError, UnicodeDecodeError, IndexError, ValueError, ...
            raise DecodeError(f"malformed {reader.schema.name} body: {exc!r}") from exc
        if buffer.tell() != len(data):
            raise DecodeError(
                f"{len(data) - buffer.tell()} bytes left after a {reader.schema.name} record"
            )
        return value


def _classes_in(module: ModuleType) -> dict[str, type[Any]]:
    return {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, type) and dataclasses.is_dataclass(value)
    }


@lru_cache(maxsize=1)
def default_codec() -> Codec:
    """The codec of the repository's schemas and pipeline.messages, built on first use."""
    return Codec(default_registry())


def encode(message: object) -> bytes:
    """`default_codec().encode(message)`; raises ContractError as Codec.encode does."""
    return default_codec().encode(message)


def decode(data: bytes) -> Any:
    """`default_codec().decode(data)`; raises DecodeError as Codec.decode does."""
    return default_codec().decode(data)


def decode_as(data: bytes, cls: type[T]) -> T:
    """`default_codec().decode_as(data, cls)`; raises DecodeError as Codec.decode_as does."""
    return default_codec().decode_as(data, cls)


def decode_dict(data: bytes) -> DecodedRecord:
    """`default_codec().decode_dict(data)`; raises DecodeError as Codec.decode does."""
    return default_codec().decode_dict(data)
