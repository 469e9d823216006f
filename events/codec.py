"""Canonical bytes: the one JSON form of a value that the log hashes.

The form is I-JSON (RFC 7493) written one way only: object keys sorted by code point, no insignificant
whitespace, UTF-8 without escapes for non-ASCII text, integers within +-(2**53 - 1) so every language reads
them exactly, and no NaN or infinities. PostgreSQL's jsonb reorders keys and drops duplicates, which is
why the log hashes these bytes and keeps jsonb for queries only.

Two writers, one form. The reference is the standard library's encoder, configured as `_encoder` below.
msgspec's (`msgspec.json.Encoder(order="sorted")`) is about five times faster, and writes the same bytes for
every value `_plain` vouches for that holds no float:

* null, true, false and integers are written alike (integers as their decimal digits);
* text: both escape character by character (the quote, the backslash and the controls below U+0020, in the
  same short or `u00xx` forms) and write every other character as UTF-8, so the same output for each code
  point is the same output for all text; tests/events/test_payloads.py checks every code point;
* keys: msgspec sorts them by their UTF-8 bytes, the reference by Python's ordering of `str`; UTF-8 keeps
  code point order, so both write them in code point order;
* both write lists and tuples as arrays, and no whitespace.

Floats differ (msgspec writes `1e16` where the reference writes `1e+16`), so a value that holds one is
written by the reference encoder. A property test holds the two writers to the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, TypeAlias

import msgspec

from events.errors import CodecError

JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 32

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))
_fast_encoder = msgspec.json.Encoder(order="sorted")

# What `_plain` finds: nothing it vouches for (0), or a plain value, which may hold a float.
_PLAIN = 1
_FLOAT = 2


def canonical_json(value: object) -> str:
    """The canonical text of `value`, after checking that it is I-JSON; raises CodecError naming the path."""
    found = _plain(value, 0)
    if found == _PLAIN:
        try:
            return _fast_encoder.encode(value).decode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate
    elif found:
        text = _encoder.encode(value)
        try:
            text.encode("utf-8")  # one pass over the whole text finds any lone surrogate
        except UnicodeEncodeError:
            pass
        else:
            return text
    # Something is off (or merely unusual, like a str subclass): the careful walk names what and where.
    _check(value, "", 0)
    return _encoder.encode(value)


def _plain(value: object, depth: int) -> int:
    """A quick yes for the common case: exact JSON types, safe integers, finite floats, no U+0000.

    It builds no paths and raises nothing: 0 only sends the value down the careful walk. A yes is _PLAIN,
    with the _FLOAT bit set if the value holds a float (which only the reference writer may write).
    """
    kind = type(value)
    if kind is str:
        return 0 if "\x00" in value else _PLAIN  # type: ignore[operator]
    if kind is int:
        return _PLAIN if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else 0  # type: ignore[operator]
    if kind is dict:
        if depth >= MAX_DEPTH:
            return 0
        found = _PLAIN
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str or "\x00" in key:
                return 0
            # Scalars inline: most payloads are flat, and a call per value is most of the cost.
            item_kind = type(item)
            if item_kind is str:
                if "\x00" in item:
                    return 0
            elif item_kind is int:
                if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    return 0
            elif item is not None and item_kind is not bool:
                inner = _plain(item, depth + 1)
                if not inner:
                    return 0
                found |= inner
        return found
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            return 0
        found = _PLAIN
        for item in value:  # type: ignore[attr-defined]
            inner = _plain(item, depth + 1)
            if not inner:
                return 0
            found |= inner
        return found
    if value is None or kind is bool:
        return _PLAIN
    if kind is float:
        return _PLAIN | _FLOAT if math.isfinite(value) else 0  # type: ignore[arg-type]
    return 0


def parse_canonical(data: bytes) -> JSON:
    """Parse bytes that must already be canonical; anything else (even valid JSON) is refused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError("", f"not UTF-8 at byte {exc.start}") from exc
    try:
        value: JSON = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise CodecError("", f"not JSON: {exc.msg} at character {exc.pos}") from exc
    except RecursionError as exc:
        # Hostile input: thousands of nested brackets exhaust the parser's stack before any other check.
        raise CodecError("", "nested too deeply") from exc
    if canonical_json(value) != text:
        raise CodecError("", "JSON is not in canonical form")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise CodecError(key, "duplicate object key")
        result[key] = item
    return result


def _no_constant(name: str) -> None:
    raise CodecError("", f"{name} is not allowed")


def _check(value: object, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CodecError(path, f"nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CodecError(path, "integer outside +-(2**53 - 1) cannot be read exactly everywhere")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodecError(path, "NaN and infinities have no JSON form")
        return
    if isinstance(value, str):
        _check_text(value, path)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError(path, f"object key {key!r} is not a string")
            _check_text(key, f"{path}.{key}" if path else key)
            _check(item, f"{path}.{key}" if path else key, depth + 1)
        return
    raise CodecError(path, f"{type(value).__name__} has no JSON form")


def _check_text(text: str, path: str) -> None:
    # PostgreSQL's text and jsonb cannot hold U+0000, and a lone surrogate has no UTF-8 form.
    if "\x00" in text:
        raise CodecError(path, "text contains U+0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CodecError(path, f"text contains a lone surrogate at index {exc.start}") from exc
