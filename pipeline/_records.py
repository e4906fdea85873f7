"""Conversion between the message dataclasses and the plain dicts fastavro reads and writes.

Type hints are resolved once per class (`record_converter` caches what it builds), and each field gets a
converter only if its values need one (nested dataclasses, or containers and optionals of them),
so a record of strings and numbers costs one dict copy each way.

Building an instance from a decoded dict skips `__init__` when the class has no `__post_init__`:
a frozen dataclass's `__init__` sets each field through `object.__setattr__`, which is several
times slower than filling `__dict__`, and the dict comes from a reader schema whose fields match
the class (tests/unit/test_schemas.py checks that they do).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ContractError

Convert = Callable[[Any], Any]

_PLAIN = (str, int, float, bool, bytes)


@dataclass(frozen=True)
class RecordConverter:
    """The two directions for one dataclass."""

    cls: type[Any]
    to_dict: Callable[[Any], dict[str, Any]]
    """Instance to a dict of its fields, nested dataclasses as dicts (shares unchanged values)."""
    from_dict: Callable[[dict[str, Any]], Any]
    """Dict with exactly the class's fields to an instance (may reuse the dict's values)."""


_converters: dict[type[Any], RecordConverter] = {}
"""Converters built so far; a cache only (classes are fixed at import, so it never goes stale)."""


def record_converter(cls: type[Any]) -> RecordConverter:
    """The converter for dataclass `cls`.

    Raises ContractError when `cls` is not a dataclass or has a field of a type Avro records here
    do not carry (supported: str, int, float, bool, bytes, nested dataclasses, list[X],
    dict[str, X], X | None).
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ContractError(f"{cls!r} is not a dataclass")
    cached = _converters.get(cls)
    if cached is not None:
        return cached
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # NameError and others from unresolvable annotations
        raise ContractError(f"cannot resolve the field types of {cls.__qualname__}: {exc}") from exc
    to_steps: list[tuple[str, Convert]] = []
    from_steps: list[tuple[str, Convert]] = []
    for field in dataclasses.fields(cls):
        to_value, from_value = _value_converters(hints[field.name], f"{cls.__qualname__}.{field.name}")
        if to_value is not None:
            to_steps.append((field.name, to_value))
        if from_value is not None:
            from_steps.append((field.name, from_value))
    converter = RecordConverter(cls, _make_to_dict(cls, to_steps), _make_from_dict(cls, from_steps))
    _converters[cls] = converter
    return converter


def _make_to_dict(cls: type[Any], steps: list[tuple[str, Convert]]) -> Callable[[Any], dict[str, Any]]:
    names = tuple(f.name for f in dataclasses.fields(cls))
    has_dict = "__dict__" in dir(cls) and "__slots__" not in vars(cls)

    def fields_of(obj: Any) -> dict[str, Any]:
        if has_dict:
            return dict(obj.__dict__)
        return {name: getattr(obj, name) for name in names}

    if not steps:
        return fields_of

    def to_dict(obj: Any) -> dict[str, Any]:
        values = fields_of(obj)
        for name, convert in steps:
            values[name] = convert(values[name])
        return values

    return to_dict


def _make_from_dict(cls: type[Any], steps: list[tuple[str, Convert]]) -> Callable[[dict[str, Any]], Any]:
    fast = not hasattr(cls, "__post_init__") and "__slots__" not in vars(cls)
    new = object.__new__

    def build(values: dict[str, Any]) -> Any:
        if fast:
            obj = new(cls)
            obj.__dict__.update(values)
            return obj
        return cls(**values)

    if not steps:
        return build

    def from_dict(values: dict[str, Any]) -> Any:
        for name, convert in steps:
            values[name] = convert(values[name])
        return build(values)

    return from_dict


def _value_converters(hint: Any, where: str) -> tuple[Convert | None, Convert | None]:
    """(to plain, from plain) for one annotated type; None where values pass through as they are."""
    if hint in _PLAIN:
        return None, None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        nested = record_converter(hint)
        return nested.to_dict, nested.from_dict
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        others = [a for a in args if a is not type(None)]
        if len(others) != 1 or len(args) != 2:
            raise ContractError(f"{where}: only `X | None` unions are supported, not {hint}")
        to_inner, from_inner = _value_converters(others[0], where)
        return _optional(to_inner), _optional(from_inner)
    if origin is list and len(args) == 1:
        to_item, from_item = _value_converters(args[0], where)
        return _each(to_item), _each(from_item)
    if origin is dict and len(args) == 2 and args[0] is str:
        to_value, from_value = _value_converters(args[1], where)
        return _each_value(to_value), _each_value(from_value)
    raise ContractError(f"{where}: type {hint} has no Avro mapping")


def _optional(convert: Convert | None) -> Convert | None:
    if convert is None:
        return None
    inner = convert
    return lambda value: None if value is None else inner(value)


def _each(convert: Convert | None) -> Convert | None:
    if convert is None:
        return None
    inner = convert
    return lambda items: [inner(item) for item in items]


def _each_value(convert: Convert | None) -> Convert | None:
    if convert is None:
        return None
    inner = convert
    return lambda mapping: {key: inner(value) for key, value in mapping.items()}
