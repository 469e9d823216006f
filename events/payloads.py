"""Payloads as JSON and back: a frozen dataclass ⇄ its JSON form, by the types its fields declare.

The reference semantics walk a value and name the path of anything that has no JSON form or reads back as
the wrong type. Fast paths, compiled once per type, vouch only for what they are sure of and raise `Unusual`
for anything else, which then takes the careful path.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from events.codec import JSON, MAX_SAFE_INTEGER
from events.envelope import format_timestamp
from events.errors import CodecError

T = TypeVar("T")


def to_json(value: object) -> JSON:
    """The JSON form of a dataclass (or of any value the payload rules allow)."""
    try:
        return _writer(type(value))(value)
    except (Unusual, CodecError):
        return encode_value(value, "")  # the careful walk names the path of what has no JSON form


def from_json(cls: type[T], data: Mapping[str, JSON]) -> T:
    """The dataclass `cls` read back from `to_json`'s form; raises CodecError naming the field."""
    reader = compiled_reader(cast(Any, cls))
    if reader is not None:
        try:
            fast: T = reader(data)
        except Unusual:
            pass
        else:
            return fast
    value: T = decode_fields(cls, field_types(cast(Any, cls)), data)
    return value


# -- fast paths: converters compiled once per type; they vouch only for what they are sure of, and raise
# Unusual for anything else, which then takes the careful path (the reference semantics, with messages).

_NONE_TYPE = type(None)


@functools.cache
def compiled_reader(cls: type[Any]) -> Callable[[Mapping[str, JSON]], Any] | None:
    """A function building `cls` from its JSON form, or None when a field's type has no fast reader."""
    converters: list[tuple[str, Callable[[Any], Any]]] = []
    for name, hint in field_types(cast(Any, cls)).items():
        convert = _value_reader(hint)
        if convert is None:
            return None
        converters.append((name, convert))
    names = frozenset(name for name, _ in converters)
    missing = object()

    def read(data: Mapping[str, JSON]) -> Any:
        if type(data) is not dict or not data.keys() <= names:
            raise Unusual
        kwargs: dict[str, Any] = {}
        for name, convert in converters:
            value = data.get(name, missing)
            if value is not missing:
                kwargs[name] = convert(value)
        try:
            return cls(**kwargs)
        except TypeError as exc:  # a required field is missing
            raise Unusual from exc

    return read


def _value_reader(hint: Any) -> Callable[[Any], Any] | None:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        concrete = [option for option in options if option is not _NONE_TYPE]
        inner = _value_reader(concrete[0]) if len(concrete) == 1 else None
        if inner is None:
            return None
        nullable = _NONE_TYPE in options

        def optional(value: Any) -> Any:
            if value is None and nullable:
                return None
            return inner(value)

        return optional
    if origin in (dict, Mapping):

        def mapping(value: Any) -> Any:
            if not isinstance(value, dict):
                raise Unusual
            return dict(value)

        return mapping
    if origin in (tuple, frozenset):
        item = _value_reader(typing.get_args(hint)[0])
        if item is None:
            return None
        if origin is frozenset:

            def frozen(value: Any) -> Any:
                if type(value) is not list:
                    raise Unusual
                return frozenset([item(v) for v in value])

            return frozen

        def sequence(value: Any) -> Any:
            if type(value) is not list:
                raise Unusual
            return tuple([item(v) for v in value])

        return sequence
    if hint is Any:
        return lambda value: value
    if not isinstance(hint, type):
        return None
    if issubclass(hint, enum.Enum):
        members = hint._value2member_map_

        def member(value: Any) -> Any:
            try:
                return members[value]
            except (KeyError, TypeError) as exc:
                raise Unusual from exc

        return member
    if hint is date or hint is datetime:
        parse = date.fromisoformat if hint is date else datetime.fromisoformat

        def moment(value: Any) -> Any:
            if type(value) is not str:
                raise Unusual
            try:
                return parse(value)
            except ValueError as exc:
                raise Unusual from exc

        return moment
    if dataclasses.is_dataclass(hint):
        nested = compiled_reader(hint)
        if nested is None:
            return None

        def record(value: Any) -> Any:
            if not isinstance(value, dict):
                raise Unusual
            return nested(value)

        return record
    if hint is float:

        def real(value: Any) -> Any:
            kind = type(value)
            if kind is float:
                return value
            if kind is int:
                return float(value)
            raise Unusual

        return real
    if hint in (str, int, bool):

        def exact(value: Any) -> Any:
            if type(value) is not hint:
                raise Unusual
            return value

        return exact
    return None


_WRITERS: dict[type[Any], Callable[[Any], JSON]] = {}


def _writer(kind: type[Any]) -> Callable[[Any], JSON]:
    writer = _WRITERS.get(kind)
    if writer is None:
        writer = _WRITERS[kind] = _make_writer(kind)
    return writer


def _write(value: Any) -> JSON:
    return _writer(type(value))(value)


def _make_writer(kind: type[Any]) -> Callable[[Any], JSON]:
    """The fast JSON form for values of exactly `kind`, in the order `encode_value` checks types."""
    if issubclass(kind, enum.Enum):
        return lambda value: _write(value.value)
    if kind is _NONE_TYPE or issubclass(kind, bool | int | float | str):
        return lambda value: value
    if issubclass(kind, datetime):
        return format_timestamp
    if issubclass(kind, date):
        return kind.isoformat
    if kind is tuple or kind is list:
        return lambda value: [_write(item) for item in value]
    if dataclasses.is_dataclass(kind) and not issubclass(kind, Mapping):
        names = tuple(field.name for field in dataclasses.fields(kind))
        return lambda value: {name: _write(getattr(value, name)) for name in names}

    def unusual(value: Any) -> JSON:
        raise Unusual

    return unusual


@functools.cache
def field_types(cls: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


class Unusual(Exception):
    """A value the checked encoders do not vouch for; the careful path handles (and explains) it."""


def checked_encoder(hint: Any) -> Callable[[Any], JSON] | None:
    """A converter that also enforces the canonical rules for one field's value, raising Unusual for
    anything it does not vouch for; None when the type has no such converter."""
    if hint is str:

        def text(value: Any) -> JSON:
            if type(value) is not str or "\x00" in value:
                raise Unusual
            return value

        return text
    if hint is int:

        def integer(value: Any) -> JSON:
            if type(value) is not int or not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                raise Unusual
            return value

        return integer
    if hint is float:

        def real(value: Any) -> JSON:
            if type(value) is not float or not math.isfinite(value):
                raise Unusual
            return value

        return real
    if hint is bool:

        def flag(value: Any) -> JSON:
            if type(value) is not bool:
                raise Unusual
            return value

        return flag
    if hint is date:

        def day(value: Any) -> JSON:
            if type(value) is not date:
                raise Unusual
            return value.isoformat()

        return day
    if isinstance(hint, type) and issubclass(hint, enum.Enum):

        def member(value: Any) -> JSON:
            if type(value) is not hint:
                raise Unusual
            return encode_value(value.value, "")  # an enum's values are constants of the code

        return member
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        inner = checked_encoder(options[0]) if len(options) == 1 else None
        if inner is None:
            return None

        def optional(value: Any) -> JSON:
            return None if value is None else inner(value)

        return optional
    return None


def encode_value(value: object, path: str) -> JSON:
    if isinstance(value, enum.Enum):
        # Before the plain types: a StrEnum is a str, but its stored form is its bare value.
        return encode_value(value.value, path)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): encode_value(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, tuple | list | frozenset):
        items = sorted(value) if isinstance(value, frozenset) else value
        return [encode_value(item, f"{path}[{i}]") for i, item in enumerate(items)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: encode_value(getattr(value, field.name), f"{path}.{field.name}")
            for field in dataclasses.fields(value)
        }
    raise CodecError(path, f"{type(value).__name__} has no JSON form")


def decode_fields(cls: type[Any], fields: Mapping[str, Any], data: Mapping[str, JSON]) -> Any:
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise CodecError(unknown[0], f"unknown field for {cls.__name__}")
    kwargs: dict[str, Any] = {}
    for name, hint in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hint, name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise CodecError("", f"{cls.__name__}: {exc}") from exc


def _convert(value: JSON, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        concrete = [option for option in options if option is not type(None)]
        if len(concrete) != 1:
            raise CodecError(path, f"cannot decode into {hint}")
        return _convert(value, concrete[0], path)
    if origin in (dict, Mapping):
        # Free-form parameters: plain JSON objects, kept as they are (the codec already vetted them).
        if not isinstance(value, dict):
            raise CodecError(path, "expected an object")
        return dict(value)
    if origin in (tuple, frozenset):
        if not isinstance(value, list):
            raise CodecError(path, "expected a list")
        item_hint = typing.get_args(hint)[0]
        items = [_convert(item, item_hint, f"{path}[{i}]") for i, item in enumerate(value)]
        return tuple(items) if origin is tuple else frozenset(items)
    if hint is Any:
        return value
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            try:
                return hint(value)
            except ValueError as exc:
                raise CodecError(path, f"{value!r} is not a {hint.__name__}") from exc
        if hint is datetime or hint is date:
            if not isinstance(value, str):
                raise CodecError(path, f"expected an ISO 8601 {hint.__name__}")
            try:
                parsed = datetime.fromisoformat(value) if hint is datetime else date.fromisoformat(value)
            except ValueError as exc:
                raise CodecError(path, f"{value!r} is not an ISO 8601 {hint.__name__}") from exc
            return parsed
        if hint is UUID:
            try:
                return UUID(str(value))
            except ValueError as exc:
                raise CodecError(path, f"{value!r} is not a UUID") from exc
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise CodecError(path, "expected an object")
            return decode_fields(hint, field_types(hint), value)
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if hint in (str, int, bool, float):
            if type(value) is not hint:
                raise CodecError(path, f"expected {hint.__name__}, got {type(value).__name__}")
            return value
    raise CodecError(path, f"cannot decode into {hint}")
