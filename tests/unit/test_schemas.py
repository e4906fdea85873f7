"""The Avro contracts: complete, in step with messages.py, documented, and backward compatible."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import shutil
import subprocess
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import avro.compatibility
import avro.schema
import fastavro
import pytest
from fastavro.schema import to_parsing_canonical_form
from fastavro.utils import generate_many

from pipeline import messages
from pipeline.errors import ContractError, SchemaCompatibilityError
from pipeline.schemas import (
    Schema,
    check_readable,
    crc64_avro_fingerprint,
    default_registry,
    freeze,
    history_path,
    load_registry,
    registry_from_texts,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
REGISTRY = default_registry()
CURRENT = list(REGISTRY)
_PRIMITIVE_OF: dict[Any, str] = {str: "string", int: "long", float: "double", bool: "boolean", bytes: "bytes"}


def _topic_values() -> set[str]:
    topics = tomllib.loads((ROOT / "topics" / "topics.toml").read_text(encoding="utf-8"))
    return {table["value"] for table in topics.values()}


def _avro_static_incompatibilities(old: Schema, new: Schema) -> str | None:
    """The reference library's static reader/writer check: None when `new` can read `old` data."""
    checker = avro.compatibility.ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(
        avro.schema.parse(json.dumps(dict(new.definition))),
        avro.schema.parse(json.dumps(dict(old.definition))),
    )
    if result.compatibility is avro.compatibility.SchemaCompatibilityType.compatible:
        return None
    return f"{result.messages} at {result.locations}"


def _assert_readable(old: Schema, new: Schema) -> None:
    check_readable(old, new)
    problem = _avro_static_incompatibilities(old, new)
    assert problem is None, f"{new.name} cannot read data written with {old.fingerprint:016x}: {problem}"


# ---- completeness -------------------------------------------------------------------------------


def test_every_topic_value_has_a_schema_file_and_a_dataclass() -> None:
    for value in _topic_values():
        assert (SCHEMAS / f"{value}.avsc").is_file(), f"topics.toml names {value}, schemas/ lacks it"
        assert REGISTRY.get(value).name == f"aisle.{value}"
        assert dataclasses.is_dataclass(getattr(messages, value, None)), f"messages.{value} missing"


def test_every_schema_file_holds_the_record_it_is_named_after() -> None:
    files = sorted(SCHEMAS.glob("*.avsc"))
    assert [p.stem for p in files] == sorted(s.short_name for s in CURRENT)
    for path in files:
        document = json.loads(path.read_text(encoding="utf-8"))
        assert (document["namespace"], document["name"]) == ("aisle", path.stem)


def test_lookup_by_short_or_full_name_and_by_fingerprint() -> None:
    turn = REGISTRY.get("UserTurn")
    assert REGISTRY.get("aisle.UserTurn") is turn
    assert REGISTRY.find(turn.fingerprint) is turn
    assert REGISTRY.find(turn.fingerprint ^ 1) is None
    with pytest.raises(ContractError):
        REGISTRY.get("NoSuchRecord")


# ---- agreement with messages.py -----------------------------------------------------------------


def _check_type(avro_type: Any, hint: Any, where: str) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        assert type(None) in args and len(args) == 2, f"{where}: only X | None unions map to Avro"
        assert isinstance(avro_type, list) and avro_type[0] == "null" and len(avro_type) == 2, (
            f"{where}: an optional field is [\"null\", T]"
        )
        (inner,) = [a for a in args if a is not type(None)]
        _check_type(avro_type[1], inner, where)
        return
    assert not isinstance(avro_type, list), f"{where}: a union in Avro but not optional in Python"
    if hint in _PRIMITIVE_OF:
        assert avro_type == _PRIMITIVE_OF[hint], f"{where}: {hint.__name__} is {_PRIMITIVE_OF[hint]}"
    elif origin is list:
        assert avro_type["type"] == "array", f"{where}: a list is an array"
        _check_type(avro_type["items"], args[0], f"{where}[]")
    elif origin is dict:
        assert args[0] is str and avro_type["type"] == "map", f"{where}: a dict[str, X] is a map"
        _check_type(avro_type["values"], args[1], f"{where}{{}}")
    else:
        assert dataclasses.is_dataclass(hint), f"{where}: unsupported type {hint}"
        _check_record(avro_type, hint)


def _check_record(record: Any, cls: Any) -> None:
    assert record["type"] == "record" and record["name"] == f"aisle.{cls.__name__}"
    fields = dataclasses.fields(cls)
    assert [f["name"] for f in record["fields"]] == [f.name for f in fields], cls.__name__
    hints = typing.get_type_hints(cls)
    for avro_field, field in zip(record["fields"], fields):
        where = f"{cls.__name__}.{field.name}"
        _check_type(avro_field["type"], hints[field.name], where)
        if field.default is not dataclasses.MISSING:
            assert avro_field.get("default", ...) == field.default, f"{where}: defaults differ"
        elif field.default_factory is not dataclasses.MISSING:
            assert avro_field.get("default", ...) == field.default_factory(), f"{where}: defaults differ"
        origin = typing.get_origin(hints[field.name])
        if origin in (list, dict, types.UnionType, typing.Union):
            # Lists, maps and optionals get defaults so that they can be added or removed later.
            assert "default" in avro_field, f"{where}: needs a default"


@pytest.mark.parametrize("schema", CURRENT, ids=lambda s: s.short_name)
def test_fields_match_the_dataclass(schema: Schema) -> None:
    _check_record(schema.definition, getattr(messages, schema.short_name))


def _records_in(node: Any) -> typing.Iterator[Mapping[str, Any]]:
    if isinstance(node, list):
        for branch in node:
            yield from _records_in(branch)
    elif isinstance(node, Mapping):
        if node.get("type") == "record":
            yield node
            for field in node["fields"]:
                yield from _records_in(field["type"])
        else:
            yield from _records_in(node.get("items"))
            yield from _records_in(node.get("values"))


@pytest.mark.parametrize("schema", CURRENT, ids=lambda s: s.short_name)
def test_every_record_and_field_has_a_doc(schema: Schema) -> None:
    records = list(_records_in(schema.definition))
    assert records[0]["name"] == schema.name
    for record in records:
        assert record.get("doc", "").strip(), f"{record['name']} has no doc"
        for field in record["fields"]:
            assert field.get("doc", "").strip(), f"{record['name']}.{field['name']} has no doc"


@pytest.mark.parametrize("schema", CURRENT, ids=lambda s: s.short_name)
def test_fingerprint_matches_the_reference_implementation(schema: Schema) -> None:
    reference = avro.schema.parse(json.dumps(dict(schema.definition)))
    assert reference.fingerprint("CRC-64-AVRO") == schema.fingerprint.to_bytes(8, "big")
    assert crc64_avro_fingerprint(schema.canonical_form) == schema.fingerprint


def test_crc64_avro_known_vector() -> None:
    # From the Avro specification: the fingerprint of the schema "int".
    assert crc64_avro_fingerprint('"int"') == 0x8F5C393F1AD57572
    assert avro.schema.parse('"int"').fingerprint("CRC-64-AVRO") == bytes.fromhex("8f5c393f1ad57572")


# ---- backward compatibility ---------------------------------------------------------------------


@pytest.mark.parametrize("schema", CURRENT, ids=lambda s: s.short_name)
def test_current_version_is_frozen_in_history(schema: Schema) -> None:
    path = history_path(SCHEMAS, schema)
    assert path.is_file(), f"{path} missing: run `make schemas-freeze` after changing {schema.name}"
    # Docs may change without a new version: the canonical form, and so the fingerprint, omit them.
    frozen = registry_from_texts({path.name: path.read_text(encoding="utf-8")}).get(schema.name)
    assert frozen.canonical_form == schema.canonical_form


def _frozen_versions(schema: Schema) -> list[Schema]:
    """Every file in schemas/history/<Name>/, each parsed on its own (the frozen copy of the current
    version included, so a schema with one version is checked against its file too)."""
    folder = SCHEMAS / "history" / schema.short_name
    return [
        registry_from_texts({path.name: path.read_text(encoding="utf-8")}).get(schema.name)
        for path in sorted(folder.glob("*.avsc"))
    ]


@pytest.mark.parametrize("schema", CURRENT, ids=lambda s: s.short_name)
def test_reads_data_written_with_every_frozen_version(schema: Schema) -> None:
    frozen = _frozen_versions(schema)
    assert frozen, f"schemas/history/{schema.short_name}/ is empty"
    for old in frozen:
        _assert_readable(old, schema)


def test_every_frozen_file_is_named_after_its_fingerprint() -> None:
    # The file name is the version's identity: a frozen file rewritten in place would hide the
    # version that data on the topics was written with.
    for schema in CURRENT:
        for old in _frozen_versions(schema):
            assert history_path(SCHEMAS, old).is_file(), f"{old.name} {old.fingerprint:016x} is filed under another name"


# ---- against git history: what was committed once stays readable -------------------------------
# The frozen files can be edited like any file; the commits cannot. Every version of every schema
# that any commit held must still be frozen and readable, so replacing a frozen file, or changing a
# schema and its only frozen copy together, fails on a clean checkout too.


def _git(root: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed, so there is no committed history to compare with")
    done = subprocess.run([git, *args], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"git {args[0]} failed here ({done.stderr.strip()}), so there is no history to compare with")
    return done.stdout


def committed_versions(root: Path) -> dict[int, tuple[str, Schema]]:
    """Every version of every top-level schema that a commit ever held in schemas/*.avsc, by
    fingerprint, with the first commit found holding it. Skips on a shallow clone (no history)."""
    if _git(root, "rev-parse", "--is-shallow-repository").strip() == "true":
        pytest.skip("a shallow clone has no schema history; `git fetch --unshallow` to check it")
    commits = _git(root, "log", "--full-history", "--format=%H", "--", ":(glob)schemas/*.avsc").split()
    texts_by_blob: dict[str, str] = {}
    found: dict[int, tuple[str, Schema]] = {}
    for commit in commits:
        texts = {}
        for line in _git(root, "ls-tree", commit, "schemas/").splitlines():
            meta, _, path = line.partition("\t")
            if not path.endswith(".avsc"):
                continue
            blob = meta.split()[2]
            if blob not in texts_by_blob:
                texts_by_blob[blob] = _git(root, "cat-file", "blob", blob)
            texts[path.rpartition("/")[2]] = texts_by_blob[blob]
        for schema in registry_from_texts(texts):
            found.setdefault(schema.fingerprint, (commit[:12], schema))
    return found


@pytest.fixture(scope="module")
def committed() -> dict[int, tuple[str, Schema]]:
    return committed_versions(ROOT)


def test_every_committed_version_is_still_frozen(committed: dict[int, tuple[str, Schema]]) -> None:
    assert committed, "git log found no commit with schemas/*.avsc"
    for fingerprint, (commit, old) in committed.items():
        REGISTRY.get(old.name)  # raises ContractError if a committed schema was removed
        assert REGISTRY.find(fingerprint) is not None, (
            f"commit {commit} held {old.name} {fingerprint:016x}, which schemas/history/ no longer has"
        )


@pytest.mark.parametrize("schema", CURRENT, ids=lambda s: s.short_name)
def test_reads_data_written_with_every_committed_version(schema: Schema, committed: dict[int, tuple[str, Schema]]) -> None:
    for _commit, old in committed.values():
        if old.name == schema.name:
            _assert_readable(old, schema)


def test_committed_history_finds_an_incompatible_change(tmp_path: Path) -> None:
    # The check above can fail: a schema changed incompatibly in a later commit, with its frozen
    # copy replaced, still has the first version in git, and that version is found and rejected.
    turn = dict(REGISTRY.get("UserTurn").definition)
    (tmp_path / "schemas").mkdir()
    _git(tmp_path, "init", "-q")
    for version, definition in enumerate([turn, {**turn, "fields": [*turn["fields"], {"name": "x", "type": "string"}]}]):
        (tmp_path / "schemas" / "UserTurn.avsc").write_text(json.dumps(definition), encoding="utf-8")
        _git(tmp_path, "add", "schemas")
        _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", f"v{version}")
    versions = [old for _commit, old in committed_versions(tmp_path).values()]
    assert len(versions) == 2
    first, latest = sorted(versions, key=lambda s: len(s.definition["fields"]))
    with pytest.raises(SchemaCompatibilityError):
        check_readable(first, latest)
    assert _avro_static_incompatibilities(first, latest) is not None


# ---- the check itself -----------------------------------------------------------------------------


def _variant(change: typing.Callable[[dict[str, Any]], None]) -> Schema:
    definition = copy.deepcopy(dict(REGISTRY.get("UserTurn").definition))
    change(definition)
    return registry_from_texts({"UserTurn.avsc": json.dumps(definition)}).get("UserTurn")


def _field(definition: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [f for f in definition["fields"] if f["name"] == name]
    return typing.cast(dict[str, Any], found)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d["fields"].append({"name": "x", "type": "string"}), id="field-without-default"),
        pytest.param(lambda d: _field(d, "text").update(type="long"), id="string-to-long"),
        pytest.param(lambda d: _field(d, "page_product_id").update(type="string", default=""), id="not-optional"),
    ],
)
def test_check_rejects_an_incompatible_change(change: typing.Callable[[dict[str, Any]], None]) -> None:
    old, new = REGISTRY.get("UserTurn"), _variant(change)
    with pytest.raises(SchemaCompatibilityError):
        check_readable(old, new)
    assert _avro_static_incompatibilities(old, new) is not None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d["fields"].append({"name": "x", "type": "string", "default": ""}), id="field-with-default"),
        pytest.param(lambda d: d["fields"].pop(), id="removed-field"),
        pytest.param(lambda d: _field(d, "client").update(type=["null", "string"], default=None), id="now-optional"),
    ],
)
def test_check_accepts_a_compatible_change(change: typing.Callable[[dict[str, Any]], None]) -> None:
    old, new = REGISTRY.get("UserTurn"), _variant(change)
    check_readable(old, new)
    assert _avro_static_incompatibilities(old, new) is None


def test_freeze_snapshots_once_and_refuses_an_incompatible_schema(tmp_path: Path) -> None:
    for path in SCHEMAS.glob("*.avsc"):
        shutil.copy(path, tmp_path)
    written = freeze(tmp_path)
    assert sorted(p.parent.name for p in written) == sorted(s.short_name for s in CURRENT)
    assert freeze(tmp_path) == []
    turn = json.loads((tmp_path / "UserTurn.avsc").read_text(encoding="utf-8"))
    turn["fields"].append({"name": "x", "type": "string", "doc": "no default: old data lacks it"})
    (tmp_path / "UserTurn.avsc").write_text(json.dumps(turn), encoding="utf-8")
    with pytest.raises(SchemaCompatibilityError):
        freeze(tmp_path)
    assert len(list((tmp_path / "history" / "UserTurn").glob("*.avsc"))) == 1
    assert len(load_registry(tmp_path).versions("UserTurn")) == 2


# ---- loading errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({"A.avsc": "{not json"}, "not JSON"),
        ({"A.avsc": '{"type": "record", "name": "A", "fields": [{"name": "b", "type": "aisle.B"}]}'}, "unknown type"),
        ({"A.avsc": '{"type": "record", "name": "A", "fields": [{"name": "b", "type": "strin"}]}'}, "unknown type"),
        ({"A.avsc": '"string"'}, "one record"),
        (
            {
                "A.avsc": '{"type": "record", "name": "A", "fields": []}',
                "B.avsc": '{"type": "record", "name": "A", "fields": []}',
            },
            "already defined",
        ),
    ],
)
def test_bad_schema_files_raise_contract_error(texts: dict[str, str], message: str) -> None:
    with pytest.raises(ContractError, match=message):
        registry_from_texts(texts)


def test_references_across_files_expand_into_self_contained_schemas() -> None:
    plan = REGISTRY.get("Plan")
    request = _field(dict(plan.definition), "request")
    assert request["type"]["name"] == "aisle.UserTurn"
    assert request["type"]["fields"] == REGISTRY.get("UserTurn").definition["fields"]


# ---- fastavro's named-schema loading does what the hand-written expansion did ----------------------


@pytest.mark.parametrize("schema", CURRENT, ids=lambda s: s.short_name)
def test_named_schema_loading_keeps_fingerprints_and_encodings(schema: Schema) -> None:
    # The frozen copy in history/ was expanded by the hand-written code this loader replaced; parsed
    # here by fastavro alone, it must give the same canonical form and write the same bytes.
    frozen_text = history_path(SCHEMAS, schema).read_text(encoding="utf-8")
    frozen = fastavro.parse_schema(json.loads(frozen_text), {})
    assert to_parsing_canonical_form(frozen) == schema.canonical_form
    assert crc64_avro_fingerprint(to_parsing_canonical_form(frozen)) == schema.fingerprint
    for record in generate_many(frozen, 10):
        old, new = io.BytesIO(), io.BytesIO()
        fastavro.schemaless_writer(old, frozen, record)
        fastavro.schemaless_writer(new, schema.parsed, record)
        assert new.getvalue() == old.getvalue()


def test_a_record_nested_in_another_file_cannot_be_referred_to() -> None:
    # Only a file's top-level record is in the repository fastavro resolves names from.
    texts = {
        "A.avsc": '{"type": "record", "name": "A", "namespace": "aisle", "fields": [{"name": "b",'
                  ' "type": {"type": "record", "name": "Inner", "fields": []}}]}',
        "C.avsc": '{"type": "record", "name": "C", "namespace": "aisle", "fields": [{"name": "i", "type": "aisle.Inner"}]}',
    }
    with pytest.raises(ContractError, match="C.avsc: unknown type 'aisle.Inner'"):
        registry_from_texts(texts)
