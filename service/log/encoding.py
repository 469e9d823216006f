"""An append's events as the log stores them: canonical payload text, checked against the log's limits,
and the fingerprint that tells a retry from a different request under the same idempotency key."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from events.codec import JSON, canonical_json
from events.envelope import envelope_text
from events.errors import InvalidAppend
from events.registry import Event, Registry
from events.sealing import Opening, Sealed, opens, sealed_fields

MAX_EVENTS_PER_APPEND = 1000
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_METADATA_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class Encoded:
    type: str
    schema_version: int
    payload_json: str
    # The salt and value of each sealed field, written beside the log with the event.
    openings: tuple[Opening, ...] = ()


def encode_events(
    registry: Registry, events: Sequence[Event], openings: Sequence[Sequence[Opening]] | None = None
) -> list[Encoded]:
    """`openings`, if given, holds one sequence per event: what opens each of its sealed fields."""
    if not isinstance(events, Sequence) or isinstance(events, str | bytes):
        raise InvalidAppend("events", "must be a sequence of events")
    if not events:
        raise InvalidAppend("events", "an append needs at least one event")
    if len(events) > MAX_EVENTS_PER_APPEND:
        raise InvalidAppend("events", f"at most {MAX_EVENTS_PER_APPEND} events per append")
    if openings is not None and len(openings) != len(events):
        raise InvalidAppend("openings", "one sequence of openings per event")
    return [
        encode_event(registry, event, f"events[{index}]", openings[index] if openings is not None else ())
        for index, event in enumerate(events)
    ]


def encode_event(registry: Registry, event: Event, field: str, openings: Sequence[Opening] = ()) -> Encoded:
    type_, version, payload_json = registry.encode_canonical(event)
    # Characters take 1 to 4 bytes: only a long text needs measuring in bytes.
    if len(payload_json) > MAX_PAYLOAD_BYTES // 4 and len(payload_json.encode()) > MAX_PAYLOAD_BYTES:
        raise InvalidAppend(field, f"payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    return Encoded(type_, version, payload_json, check_openings(event, field, openings))


def check_openings(event: Event, field: str, openings: Sequence[Opening]) -> tuple[Opening, ...]:
    """`openings`, if they open exactly the event's sealed fields: a commitment written without its value,
    or a value that is not the one committed to, could never be read back or checked."""
    sealed = sealed_fields(type(event))
    given = {opening.field: opening for opening in openings}
    if len(given) != len(openings) or set(given) != set(sealed):
        raise InvalidAppend(
            field, f"needs exactly one opening for each sealed field ({', '.join(sealed) or 'none'})"
        )
    for name in sealed:
        commitment = getattr(event, name)
        if not isinstance(commitment, Sealed) or not opens(commitment, given[name]):
            raise InvalidAppend(f"{field}.{name}", "the value given does not open the commitment")
    return tuple(given[name] for name in sealed)


def metadata_json(metadata: Mapping[str, JSON] | None, key: str) -> str:
    """The canonical metadata text, with the idempotency key written into it."""
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidAppend("metadata", "must be an object")
    text = canonical_json({**(metadata or {}), "idempotency_key": key})
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise InvalidAppend("metadata", f"larger than {MAX_METADATA_BYTES} bytes")
    return text


def fingerprint(stream_id: str | None, encoded: Iterable[Encoded]) -> bytes:
    """SHA-256 over the stream and the events' types, versions and payloads: metadata is left out, since a
    retry carries a new request id."""
    # Canonical JSON has no raw newlines, so newline-separated parts cannot be confused with each other.
    digest = hashlib.sha256((stream_id or "*").encode())
    for item in encoded:
        digest.update(f"\n{item.type}\n{item.schema_version}\n".encode())
        digest.update(item.payload_json.encode())
    return digest.digest()


@functools.cache
def type_json(type_: str) -> str:
    return canonical_json(type_)


def canonical_envelope(
    *,
    position: int,
    stream_json: str,
    stream_version: int,
    event_id: str,
    item: Encoded,
    metadata_json: str,
    recorded_at: str,
) -> bytes:
    """The bytes the log hashes and keeps for one event: its whole envelope, canonical."""
    return envelope_text(
        position=position,
        stream_json=stream_json,
        stream_version=stream_version,
        event_id=event_id,
        type_json=type_json(item.type),
        schema_version=item.schema_version,
        payload_json=item.payload_json,
        metadata_json=metadata_json,
        recorded_at=recorded_at,
    ).encode()
