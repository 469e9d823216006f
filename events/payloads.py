"""Payloads as JSON and back: a frozen dataclass ⇄ its JSON form, by msgspec, by the types its fields declare.

msgspec walks the values, in C, both ways; this module adds only what the log's rules need on top of it.

* **To JSON** (`to_json`): `msgspec.to_builtins`, with three adjustments. Timestamps are passed through and
  written here by `format_timestamp` (UTC, microseconds, `Z`): msgspec would keep a writer's offset and drop
  zero microseconds, so one instant could be written two ways. Values the log has no form for (bytes,
  Decimal, times of day, durations) are passed through too, for the canonical writer to refuse, naming the
  field: msgspec would quietly turn them into strings. Sets come out sorted (`order="deterministic"`).
* **Canonical text** is `events.codec.canonical_json` of that form: it checks the I-JSON rules and writes the
  bytes (with msgspec's writer where it provably writes the same bytes as the reference one, see there).
  `msgspec.json.encode` of the dataclass itself cannot be the canonical writer: it keeps timestamps' offsets,
  writes `1e16` for the reference `1e+16`, and writes NaN as `null` where the rules refuse it.
* **From JSON** (`from_json`, `from_json_text`): msgspec ignores unknown fields of a dataclass, so each
  dataclass has a twin `msgspec.Struct` (same fields, types and defaults, `forbid_unknown_fields`): a value
  is decoded into the twin, which checks everything, then converted to the dataclass
  (`msgspec.convert(..., from_attributes=True)`); from text, the twin checks it and the text is then
  decoded a second time straight into the dataclass, which costs less than converting the twin. A payload
  being encoded is read back into the twin too (`check_json`): dataclasses do not check their fields'
  types, so a wrong one is refused there, naming the field, rather than stored where it could never be read.
* **Errors** are CodecError naming the field's path (`findings[0].summary`), mapped from msgspec's
  `ValidationError` (`... - at $.findings[0].summary`) into this codebase's words.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import operator
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

import msgspec

from events.codec import JSON
from events.envelope import format_timestamp
from events.errors import CodecError

T = TypeVar("T")

# Types msgspec would turn into strings but the log has no form for: passed through for the canonical
# writer to refuse, naming the field.
_REFUSED: tuple[type[Any], ...] = (bytes, bytearray, memoryview, Decimal, time, timedelta)
_WITH_TIMESTAMPS: tuple[type[Any], ...] = (datetime, *_REFUSED)


def to_json(value: object) -> JSON:
    """The JSON form of a dataclass (or of any value the payload rules allow), timestamps as the log writes
    them. Dataclasses do not check their fields, so it is only JSON if each field holds what it declares:
    `canonical_json` and `check_json` refuse anything else, naming the field."""
    timestamps = _may_hold_timestamps(cast(Any, type(value)))
    try:
        built = msgspec.to_builtins(
            value,
            builtin_types=_WITH_TIMESTAMPS if timestamps else _REFUSED,
            str_keys=True,
            order="deterministic",
        )
    except TypeError:
        path, bad = _unconvertible(value, "")
        raise CodecError(path, f"{type(bad).__name__} has no JSON form") from None
    return cast(JSON, _timestamps(built, "") if timestamps else built)


def to_json_text(value: object) -> str:
    """`to_json`'s form as JSON text (compact, keys in field order): for JSON the log does not hash."""
    return msgspec.json.encode(to_json(value)).decode()


def from_json(cls: type[T], data: object) -> T:
    """The value of type `cls` (a dataclass, usually) read back from `to_json`'s form; raises CodecError
    naming the field."""
    twin, convert = _reader(cast(Any, cls))
    try:
        value = msgspec.convert(data, twin)
    except msgspec.ValidationError as exc:
        raise _codec_error(exc, cls, data) from None
    return cast(T, msgspec.convert(value, cls, from_attributes=True) if convert else value)


def from_json_text(cls: type[T], text: str | bytes | msgspec.Raw) -> T:
    """`from_json` of JSON text, decoded straight into the type: no intermediate dicts."""
    try:
        return cast(T, _text_reader(cast(Any, cls))(text))
    except msgspec.ValidationError as exc:
        raise _codec_error(exc, cls, msgspec.json.decode(text)) from None
    except msgspec.DecodeError as exc:
        raise CodecError("", f"not JSON: {exc}") from None


def twin_of(cls: type[Any]) -> type[Any]:
    """The twin Struct `from_json_text` checks `cls`'s payloads against (see above). Decoding a payload into
    it checks the payload as `from_json_text` does and gives its fields, with the dataclass's names, values
    and types, without building the dataclass: for a reader that only takes fields out of each payload
    (`service/read/projector.py`), which costs a quarter of building the dataclass too."""
    twin, _ = _reader(cast(Any, cls))
    return cast(type[Any], twin)


def twin_reader(cls: type[Any]) -> Callable[[str | bytes | msgspec.Raw], Any]:
    """A reader of `cls`'s payloads into its twin (`twin_of`), raising CodecError naming the field as
    `from_json_text` does."""
    return _twin_reader(cast(Any, cls))


def check_json(cls: type[Any], data: JSON) -> None:
    """Raise CodecError, naming the field, unless `data` reads back as a `cls`."""
    twin, _ = _reader(cast(Any, cls))
    try:
        msgspec.convert(data, twin)
    except msgspec.ValidationError as exc:
        raise _codec_error(exc, cls, data) from None


# -- to JSON ---------------------------------------------------------------------------------------------


@functools.cache
def _may_hold_timestamps(hint: Any) -> bool:
    """Whether a value of type `hint` may hold a datetime somewhere: if not, no walk looks for one."""
    if hint is Any or hint is object:
        return True
    if isinstance(hint, type):
        if issubclass(hint, datetime):
            return True
        if dataclasses.is_dataclass(hint):
            return any(_may_hold_timestamps(field) for field in _field_types(hint).values())
        # A bare container says nothing of what it holds.
        return issubclass(hint, Mapping | list | tuple | set | frozenset)
    return any(_may_hold_timestamps(arg) for arg in typing.get_args(hint) if arg is not Ellipsis)


def _timestamps(value: Any, path: str) -> Any:
    """`value` with every datetime written as the log writes it."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise CodecError(path, "timestamps in the log must be timezone-aware")
        return format_timestamp(value)
    if type(value) is dict:
        return {key: _timestamps(item, f"{path}.{key}" if path else key) for key, item in value.items()}
    if type(value) is list:
        return [_timestamps(item, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def _unconvertible(value: object, path: str) -> tuple[str, object]:
    """The path and value of the first part of `value` that msgspec cannot convert (after it said so)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [field.name for field in dataclasses.fields(value)]
        items = [(f"{path}.{name}" if path else name, getattr(value, name)) for name in names]
    elif isinstance(value, Mapping):
        items = [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    else:
        return path, value
    for where, item in items:
        try:
            msgspec.to_builtins(item, builtin_types=_WITH_TIMESTAMPS, str_keys=True)
        except TypeError:
            return _unconvertible(item, where)
    return path, value


# -- from JSON -------------------------------------------------------------------------------------------


@functools.cache
def _field_types(cls: type[Any]) -> dict[str, Any]:
    """A dataclass's fields and the types they declare, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


@functools.cache
def _reader(cls: Any) -> tuple[Any, bool]:
    """The type msgspec decodes into for `cls`, and whether the result is then converted to `cls`."""
    twin = _twin_type(cls)
    return twin, twin is not cls


@functools.cache
def _text_reader(cls: Any) -> Callable[[str | bytes | msgspec.Raw], Any]:
    """`from_json_text` for `cls`, its decoders made once: a replay decodes every event through one.

    The text is decoded into the twin, which checks it, then decoded again straight into `cls`: msgspec
    decodes into a dataclass as it decodes into a Struct, except that it ignores unknown fields (the twin
    has refused them), and parsing the text twice costs less than `msgspec.convert` of the twin, which
    checks every field again.
    """
    twin, convert = _reader(cls)
    check = msgspec.json.Decoder(twin)
    if not convert:
        return check.decode
    direct = msgspec.json.Decoder(cls)

    def read(text: str | bytes | msgspec.Raw) -> Any:
        check.decode(text)
        return direct.decode(text)

    return read


@functools.cache
def _twin_reader(cls: Any) -> Callable[[str | bytes | msgspec.Raw], Any]:
    twin, _ = _reader(cls)
    decode = msgspec.json.Decoder(twin).decode

    def read(text: str | bytes | msgspec.Raw) -> Any:
        try:
            return decode(text)
        except msgspec.ValidationError as exc:
            raise _codec_error(exc, cls, msgspec.json.decode(text)) from None
        except msgspec.DecodeError as exc:
            raise CodecError("", f"not JSON: {exc}") from None

    return read


def _twin_type(hint: Any) -> Any:
    """`hint` with every dataclass in it replaced by its twin Struct."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _twin(hint)
    args = typing.get_args(hint)
    if not args:
        return hint
    twins = tuple(arg if arg is Ellipsis else _twin_type(arg) for arg in args)
    if twins == args:
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, twins)
    return typing.get_origin(hint)[twins]


@functools.cache
def _twin(cls: type[Any]) -> type[msgspec.Struct]:
    """A Struct with the fields, types and defaults of the dataclass `cls`, refusing unknown fields."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for field in dataclasses.fields(cls):
        hint = _twin_type(_field_types(cast(Any, cls))[field.name])
        if field.default is not dataclasses.MISSING:
            fields.append((field.name, hint, field.default))
        elif field.default_factory is not dataclasses.MISSING:
            fields.append((field.name, hint, msgspec.field(default_factory=field.default_factory)))
        else:
            fields.append((field.name, hint))
    # gc=False: decoded values hold no reference cycles, and a twin lives only until it is converted.
    return msgspec.defstruct(cls.__name__, fields, kw_only=True, forbid_unknown_fields=True, gc=False)


# -- errors ----------------------------------------------------------------------------------------------

_AT = re.compile(r"(?P<message>.*?)(?: - at `\$(?P<path>.*)`)?", re.DOTALL)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_EXPECTED = re.compile(r"Expected `(.+)`, got `(.+)`")
_FIELD = re.compile(r"Object (contains unknown|missing required) field `(.+)`")


def _codec_error(exc: msgspec.ValidationError, cls: Any, data: object) -> CodecError:
    """msgspec's `<message> - at $.a[0].b` as CodecError("a[0].b", reason), in this codebase's words."""
    found = _AT.fullmatch(str(exc))
    assert found is not None  # the pattern matches any text
    message, steps = found["message"], found["path"] or ""
    hint, value = _at(cls, data, steps)
    path = steps.removeprefix(".")
    name = getattr(hint, "__name__", str(hint))
    if field := _FIELD.fullmatch(message):
        where = f"{path}.{field[2]}" if path else field[2]
        if field[1] == "contains unknown":
            return CodecError(where, f"unknown field for {name}")
        return CodecError(where, f"missing, and {name} requires it")
    if message.startswith("Invalid enum value") and isinstance(hint, type) and issubclass(hint, enum.Enum):
        return CodecError(path, f"{value!r} is not a {name}")
    if message.startswith("Invalid RFC3339 encoded"):
        return CodecError(path, f"{value!r} is not an ISO 8601 {name}")
    if expected := _EXPECTED.fullmatch(message):
        return CodecError(path, f"expected {expected[1]}, got {expected[2]}")
    return CodecError(path, message[:1].lower() + message[1:])


def _at(hint: Any, data: object, steps: str) -> tuple[Any, object]:
    """The declared type (optional unwrapped) and the value at `steps` (`.a[0].b`) of `data`, a value of
    type `hint`; Any and None where the steps leave what can be known."""
    for name, index in _STEP.findall(steps):
        hint = _concrete(hint)
        if name:
            hint = _field_types(cast(Any, hint)).get(name, Any) if dataclasses.is_dataclass(hint) else Any
            data = data.get(name) if isinstance(data, dict) else None
        else:
            args = [arg for arg in typing.get_args(hint) if arg is not Ellipsis]
            hint = args[-1] if args else Any  # an item's type, or a mapping's value type
            inside = isinstance(data, list) and index.isdigit() and int(index) < len(data)
            data = data[int(index)] if inside else None  # type: ignore[index]
    return _concrete(hint), data


def _concrete(hint: Any) -> Any:
    """`X` for `X | None`; anything else as it is."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        if len(options) == 1:
            return options[0]
    return hint
