"""The explicit map from stored type names to event classes, and the upcaster chain.

Converting a payload to and from JSON is `events/payloads.py`'s; this module says which class a stored
type names and runs the chain.

A stored `TYPE` never changes and is never a module path, so classes can move and be renamed freely. A payload
change bumps the class's `VERSION` and adds a pure upcaster from the old version; reading runs the chain.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar, Protocol, runtime_checkable

import msgspec

from events.codec import JSON, canonical_json
from events.errors import CodecError, UnknownEventType
from events.payloads import check_json, from_json, from_json_text, to_json

Upcaster = Callable[[dict[str, JSON]], dict[str, JSON]]


@runtime_checkable
class Event(Protocol):
    """A frozen dataclass with a stored type name and a payload schema version."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]


class Registry:
    """Event classes by stored type, plus upcasters keyed by (type, version they read)."""

    def __init__(
        self,
        event_types: Iterable[type[Event]],
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self._classes: dict[str, type[Event]] = {}
        for cls in event_types:
            if not dataclasses.is_dataclass(cls):
                raise TypeError(f"{cls.__name__} is not a dataclass")
            if cls.TYPE in self._classes:
                raise TypeError(f"event type {cls.TYPE!r} registered twice")
            self._classes[cls.TYPE] = cls
        self._upcasters = dict(upcasters or {})
        for type_, version in self._upcasters:
            target = self._classes.get(type_)
            if target is None or not 1 <= version < target.VERSION:
                raise TypeError(f"upcaster for {type_} v{version} reads no earlier version of a known type")

    def types(self) -> list[type[Event]]:
        return list(self._classes.values())

    def class_for(self, type_: str) -> type[Event]:
        cls = self._classes.get(type_)
        if cls is None:
            raise UnknownEventType(type_, 0)
        return cls

    def encode(self, event: Event) -> tuple[str, int, dict[str, JSON]]:
        """The stored type, version and JSON payload of an event (unchecked: see `encode_canonical`)."""
        cls = type(event)
        type_ = getattr(cls, "TYPE", None)
        if not isinstance(type_, str) or self._classes.get(type_) is not cls:
            raise UnknownEventType(str(type_ or cls.__name__), getattr(cls, "VERSION", 0))
        payload = to_json(event)
        assert isinstance(payload, dict)  # a dataclass's JSON form is an object
        return cls.TYPE, cls.VERSION, payload

    def encode_canonical(self, event: Event) -> tuple[str, int, str]:
        """The stored type, version and canonical payload text of an event; raises CodecError naming the
        field if a value has no canonical form or is not of the type its field declares."""
        type_, version, payload = self.encode(event)
        text = canonical_json(payload)
        # Dataclasses do not check field types; reading the payload back does, so a value of the wrong
        # type is refused here, naming the field, rather than stored where it could never be read.
        check_json(type(event), payload)
        return type_, version, text

    def decode(self, type_: str, version: int, payload: Mapping[str, JSON]) -> Event:
        """The event a stored payload describes, upcast to its class's current version."""
        cls = self._classes.get(type_)
        if cls is None or not 1 <= version <= cls.VERSION:
            raise UnknownEventType(type_, version)
        data = payload
        while version < cls.VERSION:
            upcaster = self._upcasters.get((type_, version))
            if upcaster is None:
                raise CodecError("", f"no upcaster reads {type_} v{version}")
            data = upcaster(dict(data))
            version += 1
        return from_json(cls, data)

    def decode_text(self, type_: str, version: int, text: str | bytes | msgspec.Raw) -> Event:
        """`decode` of the payload's JSON text. At its class's current version the payload is decoded
        straight into the class, with no intermediate dicts; an older one is parsed and upcast by `decode`."""
        cls = self._classes.get(type_)
        if cls is not None and version == cls.VERSION:
            return from_json_text(cls, text)
        return self.decode(type_, version, json.loads(bytes(text) if isinstance(text, msgspec.Raw) else text))
