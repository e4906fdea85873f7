"""The Avro contracts in schemas/, parsed once, looked up by name or by fingerprint.

Each `schemas/<Name>.avsc` holds one top-level record (`aisle.<Name>`). A file may refer to another
file's record by its full name (Plan.avsc refers to `aisle.UserTurn`); fastavro's named-schema loading
(`load_schema` over a repository of the files) inlines each reference at its first use, so every entry
is self-contained and its fingerprint covers the whole record. Only a file's top-level record can be
referred to from another file; a record nested inside a file is that file's own.

Fingerprints are CRC-64-AVRO of the Parsing Canonical Form, as the Avro specification defines them
(the same number the `avro` package and the Java library compute); single-object encoding puts it
in little-endian byte order after the `C3 01` marker.

Old versions: `schemas/history/<Name>/<fingerprint hex>.avsc` keeps every version that was ever
current, expanded and self-contained (`python -m pipeline.schemas freeze` writes it; a test fails
while the current version is missing). Data written with any of them decodes by the fingerprint
in its header, resolved to the current schema. We keep them as files rather than reading git
history at run time, because a deployed worker has no git checkout; the wheel carries them with the
current schemas (pipeline/contracts.py says where both are read from).
"""

from __future__ import annotations

import copy
import io
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import fastavro
from fastavro.repository.base import AbstractSchemaRepository, SchemaRepositoryError
from fastavro.schema import UnknownType, load_schema, to_parsing_canonical_form
from fastavro.schema import fingerprint as _fingerprint_hex
from fastavro.utils import generate_many

from pipeline.contracts import SCHEMAS_DIR
from pipeline.errors import ContractError, SchemaCompatibilityError

NAMESPACE = "aisle"
HISTORY_DIR = "history"
FINGERPRINT_ALGORITHM = "CRC-64-AVRO"


@dataclass(frozen=True, eq=False)
class Schema:
    """One version of one top-level record schema (compared and hashed by identity)."""

    name: str
    """Full name, e.g. `aisle.UserTurn`."""
    definition: Mapping[str, Any]
    """The schema as JSON, self-contained (every named reference expanded), docs kept."""
    parsed: Any
    """fastavro's parsed form, ready for schemaless_writer/reader."""
    canonical_form: str
    """Avro Parsing Canonical Form."""
    fingerprint: int
    """CRC-64-AVRO of `canonical_form`, as an unsigned 64-bit number."""
    current: bool
    """True for the version in schemas/, False for one from schemas/history/."""

    @property
    def short_name(self) -> str:
        return self.name.rpartition(".")[2]

    @property
    def fingerprint_bytes(self) -> bytes:
        """The 8 bytes single-object encoding writes: the fingerprint, little-endian."""
        return self.fingerprint.to_bytes(8, "little")


class SchemaRegistry:
    """Every current schema by name, and every known version (current or historical) by fingerprint.

    Immutable once built; build it with `load_registry(path)` or `registry_from_texts(...)`.
    """

    __slots__ = ("_current", "_by_fingerprint")

    def __init__(self, current: Iterable[Schema], history: Iterable[Schema] = ()) -> None:
        by_name: dict[str, Schema] = {}
        by_fingerprint: dict[int, Schema] = {}
        for schema in current:
            if schema.name in by_name:
                raise ContractError(f"schema {schema.name} is defined twice")
            by_name[schema.name] = schema
            by_fingerprint[schema.fingerprint] = schema
        for old in history:
            if old.name not in by_name:
                raise ContractError(f"schema history has {old.name}, which has no current schema")
            # The current version wins when history also holds it (it always should, once frozen).
            by_fingerprint.setdefault(old.fingerprint, old)
        self._current: Mapping[str, Schema] = MappingProxyType(by_name)
        self._by_fingerprint: Mapping[int, Schema] = MappingProxyType(by_fingerprint)

    def __iter__(self) -> Iterator[Schema]:
        """The current schemas, in name order."""
        return iter(sorted(self._current.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._current)

    def get(self, name: str) -> Schema:
        """The current schema called `name` (`UserTurn` or `aisle.UserTurn`).

        Raises ContractError when there is none.
        """
        schema = self._current.get(full_name(name))
        if schema is None:
            raise ContractError(f"no schema named {full_name(name)} in the registry")
        return schema

    def find(self, fingerprint: int) -> Schema | None:
        """The schema version with this fingerprint, current or historical, or None."""
        return self._by_fingerprint.get(fingerprint)

    def versions(self, name: str) -> list[Schema]:
        """Every known version of `name`: historical ones first, the current one last."""
        wanted = full_name(name)
        old = [s for s in self._by_fingerprint.values() if s.name == wanted and not s.current]
        return [*old, self.get(wanted)]


def full_name(name: str, namespace: str | None = NAMESPACE) -> str:
    """`name` with its namespace (names that already contain a dot are full)."""
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def crc64_avro_fingerprint(canonical_form: str) -> int:
    """CRC-64-AVRO of a Parsing Canonical Form, as an unsigned 64-bit number."""
    return int(_fingerprint_hex(canonical_form, FINGERPRINT_ALGORITHM), 16)


def load_registry(schemas_dir: Path) -> SchemaRegistry:
    """Parse every `*.avsc` in `schemas_dir` and every version in its history/ folder.

    Raises ContractError for a file that is not valid JSON or not a valid Avro schema, or for a
    reference to a named type that no file defines.
    """
    current = {p.name: p.read_text(encoding="utf-8") for p in sorted(schemas_dir.glob("*.avsc"))}
    if not current:
        raise ContractError(f"no *.avsc files in {schemas_dir}")
    history_root = schemas_dir / HISTORY_DIR
    history = [p.read_text(encoding="utf-8") for p in sorted(history_root.glob("*/*.avsc"))]
    return registry_from_texts(current, history)


def registry_from_texts(current: Mapping[str, str], history: Iterable[str] = ()) -> SchemaRegistry:
    """Build a registry from schema texts: `current` maps file name to text; `history` holds texts
    of old, self-contained versions. Used by load_registry and by tests that read git history.

    Raises ContractError as load_registry does.
    """
    files = _SchemaFiles()
    for file, text in current.items():
        files.add(file, _load_json(file, text))
    schemas = [_build(file, files.expanded(name, file), True) for name, file in files.names.items()]
    old = [_build("history", _load_json("history", text), False) for text in history]
    return SchemaRegistry(schemas, old)


@lru_cache(maxsize=1)
def default_registry() -> SchemaRegistry:
    """The registry of the contracts' schemas/ folder (pipeline/contracts.py), built on first use."""
    return load_registry(SCHEMAS_DIR)


def check_readable(old: Schema, new: Schema, samples: int = 25) -> None:
    """Check that data written with `old` can be read with `new` (Avro schema resolution).

    Writes `samples` random records with the old schema and reads each with the new one as the
    reader schema; a resolution failure (a new field without default, a changed type, a removed
    union branch that the data used) raises SchemaCompatibilityError naming both fingerprints.
    Random data exercises both sides of each optional field with high probability; the schema
    test also runs the `avro` package's static checker over the same pairs.
    """
    for record in generate_many(old.parsed, samples):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, old.parsed, record)
        buffer.seek(0)
        try:
            fastavro.schemaless_reader(buffer, old.parsed, new.parsed)
        except Exception as exc:  # fastavro raises several types for resolution failures
            raise SchemaCompatibilityError(
                f"data written with {old.name} {old.fingerprint:016x} cannot be read with "
                f"{new.name} {new.fingerprint:016x}: {exc}"
            ) from exc


def freeze(schemas_dir: Path) -> list[Path]:
    """Copy every current schema into history/<Name>/<fingerprint>.avsc unless it is there.

    Returns the files written. Raises SchemaCompatibilityError, writing nothing, when a current
    schema cannot read data written with one of its historical versions.
    """
    registry = load_registry(schemas_dir)
    for schema in registry:
        for old in registry.versions(schema.name)[:-1]:
            check_readable(old, schema)
    written = []
    for schema in registry:
        path = history_path(schemas_dir, schema)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(dict(schema.definition), indent=2) + "\n", encoding="utf-8")
            written.append(path)
    return written


def history_path(schemas_dir: Path, schema: Schema) -> Path:
    """Where `schema`'s frozen copy lives."""
    return schemas_dir / HISTORY_DIR / schema.short_name / f"{schema.fingerprint:016x}.avsc"


def _load_json(file: str, text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{file}: not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") != "record":
        raise ContractError(f"{file}: a schema file must hold one record schema")
    return document


class _SchemaFiles(AbstractSchemaRepository):
    """The current schema files as a fastavro schema repository: each top-level record by full name."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        """Full name to the file defining it, in the order added."""
        self._documents: dict[str, dict[str, Any]] = {}

    def add(self, file: str, document: dict[str, Any]) -> None:
        document = dict(document)
        if "." not in str(document.get("name")):
            document.setdefault("namespace", NAMESPACE)
        name = full_name(str(document.get("name")), document.get("namespace"))
        if name in self.names:
            raise ContractError(f"{file}: {name} is already defined in another schema file ({self.names[name]})")
        self.names[name] = file
        self._documents[name] = document

    def load(self, name: str) -> dict[str, Any]:
        """fastavro's lookup of a name it met unresolved; a copy, as fastavro edits what it injects."""
        if name not in self._documents:
            raise SchemaRepositoryError(f"no schema file defines {name}")
        return copy.deepcopy(self._documents[name])

    def expanded(self, name: str, file: str) -> dict[str, Any]:
        """The record `name`, every reference to another file's record inlined at its first use.

        Raises ContractError for an unknown type or an invalid schema.
        """
        try:
            # A fresh named-type table per schema: each one is self-contained.
            parsed = load_schema(name, repo=self, named_schemas={})
        except UnknownType as exc:
            raise ContractError(f"{file}: unknown type {exc.name!r}") from exc
        except Exception as exc:  # fastavro raises SchemaParseException, ValueError, KeyError...
            raise ContractError(f"{file}: not a valid Avro schema: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ContractError(f"{file}: a schema file must hold one record schema")
        # Without fastavro's own markers (`__fastavro_parsed`, `__named_schemas`) it is plain Avro JSON.
        return {key: value for key, value in parsed.items() if not key.startswith("__")}


def _build(file: str, definition: dict[str, Any], current: bool) -> Schema:
    try:
        # A fresh named-type table per schema: each definition is self-contained.
        parsed: Any = fastavro.parse_schema(copy.deepcopy(definition), {})
        canonical = to_parsing_canonical_form(parsed)
    except Exception as exc:  # fastavro raises SchemaParseException, ValueError, KeyError...
        raise ContractError(f"{file}: not a valid Avro schema: {exc}") from exc
    return Schema(
        name=parsed["name"],
        definition=MappingProxyType(definition),
        parsed=parsed,
        canonical_form=canonical,
        fingerprint=crc64_avro_fingerprint(canonical),
        current=current,
    )


def main(argv: list[str]) -> int:
    """`python -m pipeline.schemas freeze [DIR]`: snapshot current schemas into history/."""
    if len(argv) not in (1, 2) or argv[0] != "freeze":
        print("usage: python -m pipeline.schemas freeze [SCHEMAS_DIR]", file=sys.stderr)
        return 2
    schemas_dir = Path(argv[1]) if len(argv) == 2 else Path("schemas")
    for path in freeze(schemas_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
