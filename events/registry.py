"""The explicit map from stored type names to event classes, and the upcaster chain.

Converting a payload to and from JSON is `events/payloads.py`'s; this module says which class a stored
type names and runs the chain.

A stored `TYPE` never changes and is never a module path, so classes can move and be renamed freely. A payload
change bumps the class's `VERSION` and adds a pure upcaster from the old version; reading runs the chain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from events.codec import JSON, canonical_json, canonical_json_prechecked
from events.errors import CodecError, UnknownEventType
from events.payloads import (
    Unusual,
    checked_encoder,
    compiled_reader,
    decode_fields,
    encode_value,
    field_types,
)

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
        self._fields = {cls: field_types(cls) for cls in self._classes.values()}
        # Classes whose every field has a checked converter: encoding them is on every append's path.
        self._checked: dict[type[Event], list[tuple[str, Callable[[Any], JSON]]]] = {}
        for cls, fields in self._fields.items():
            converters = [(name, checked_encoder(hint)) for name, hint in fields.items()]
            if all(convert is not None for _, convert in converters):
                self._checked[cls] = [(name, convert) for name, convert in converters if convert is not None]

    def types(self) -> list[type[Event]]:
        return list(self._classes.values())

    def class_for(self, type_: str) -> type[Event]:
        cls = self._classes.get(type_)
        if cls is None:
            raise UnknownEventType(type_, 0)
        return cls

    def encode(self, event: Event) -> tuple[str, int, dict[str, JSON]]:
        """The stored type, version and JSON payload of an event."""
        cls = type(event)
        type_ = getattr(cls, "TYPE", None)
        if not isinstance(type_, str) or self._classes.get(type_) is not cls:
            raise UnknownEventType(str(type_ or cls.__name__), getattr(cls, "VERSION", 0))
        payload = {name: encode_value(getattr(event, name), name) for name in self._fields[cls]}
        return cls.TYPE, cls.VERSION, payload

    def encode_canonical(self, event: Event) -> tuple[str, int, str]:
        """The stored type, version and canonical payload text of an event.

        For the usual event of plain fields, each value is converted and checked in one step, so the
        payload needs no second walk; anything unusual takes the careful path, which names what is wrong.
        """
        converters = self._checked.get(type(event))
        if converters is not None:
            try:
                payload = {name: convert(getattr(event, name)) for name, convert in converters}
            except Unusual:
                pass
            else:
                text = canonical_json_prechecked(payload)
                if text is not None:
                    return event.TYPE, event.VERSION, text
        type_, version, payload = self.encode(event)
        text = canonical_json(payload)
        # Dataclasses do not check field types; reading the payload back does, so a value of the wrong
        # type is refused here, naming the field, rather than stored where it could never be read.
        self.decode(type_, version, payload)
        return type_, version, text

    def decode(self, type_: str, version: int, payload: Mapping[str, JSON]) -> Event:
        """The event a stored payload describes, upcast to its class's current version."""
        cls = self._classes.get(type_)
        if cls is None or not 1 <= version <= cls.VERSION:
            raise UnknownEventType(type_, version)
        if version == cls.VERSION:
            reader = compiled_reader(cls)
            if reader is not None:
                try:
                    event: Event = reader(payload)
                except Unusual:
                    pass  # the careful path below says what is wrong, naming the field
                else:
                    return event
        data = dict(payload)
        while version < cls.VERSION:
            upcaster = self._upcasters.get((type_, version))
            if upcaster is None:
                raise CodecError("", f"no upcaster reads {type_} v{version}")
            data = upcaster(data)
            version += 1
        decoded: Event = decode_fields(cls, self._fields[cls], data)
        return decoded
