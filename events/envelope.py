"""The recorded-event envelope, expected versions, and the envelope's canonical bytes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import msgspec

from events.codec import JSON, canonical_json
from events.errors import InvalidAppend

# message-db's convention: `category-id`. The category names the kind of stream; the id is a stable slug.
STREAM_ID = re.compile(r"[a-z][a-z0-9_]{0,62}-[A-Za-z0-9][A-Za-z0-9_.:-]{0,190}")
MAX_IDEMPOTENCY_KEY = 200


def check_stream_id(stream_id: str) -> str:
    """Return `stream_id` if it is `category-id`, else raise InvalidAppend."""
    if not isinstance(stream_id, str) or STREAM_ID.fullmatch(stream_id) is None:
        raise InvalidAppend("stream", f"{stream_id!r} is not a stream id of the form category-id")
    return stream_id


def check_idempotency_key(key: str) -> str:
    """Return `key` if it is 1 to 200 printable characters, else raise InvalidAppend."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidAppend("idempotency_key", f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    if not key.isprintable():
        raise InvalidAppend("idempotency_key", "must hold printable characters only")
    return key


@dataclass(frozen=True, slots=True)
class ExpectedVersion:
    """What the caller believes of a stream: anything, that it does not exist, or its exact version."""

    kind: Literal["any", "no_stream", "exact"]
    version: int = 0

    @staticmethod
    def any() -> ExpectedVersion:
        return _ANY

    @staticmethod
    def no_stream() -> ExpectedVersion:
        return _NO_STREAM

    @staticmethod
    def exactly(version: int) -> ExpectedVersion:
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise InvalidAppend("expected_version", f"{version!r} is not a version (an integer >= 0)")
        # Version 0 is the empty stream, so exactly(0) and no_stream() are one and the same.
        return _NO_STREAM if version == 0 else ExpectedVersion("exact", version)

    def admits(self, actual: int) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "no_stream":
            return actual == 0
        return actual == self.version

    def __str__(self) -> str:
        return self.kind if self.kind != "exact" else str(self.version)


_ANY = ExpectedVersion("any")
_NO_STREAM = ExpectedVersion("no_stream")


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    """One event as the log holds it: where it stands, what it says, and the exact bytes that were hashed."""

    position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    type: str
    schema_version: int
    payload: Mapping[str, JSON]
    metadata: Mapping[str, JSON]
    recorded_at: datetime
    canonical: bytes
    leaf_hash: bytes


def format_timestamp(moment: datetime) -> str:
    """UTC, microseconds, a `Z`: one spelling per instant, so the bytes do not depend on the writer's zone."""
    if moment.tzinfo is None:
        raise ValueError("timestamps in the log must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope_json(
    *,
    position: int,
    stream_id: str,
    stream_version: int,
    event_id: UUID,
    type_: str,
    schema_version: int,
    payload_json: str,
    metadata_json: str,
    recorded_at: datetime,
) -> str:
    """The canonical text of a whole recorded event, from the already canonical payload and metadata.

    Written by hand, in sorted key order, so the writer encodes each payload once; the test suite checks it
    against `canonical_json` of the same envelope as a dictionary.
    """
    return envelope_text(
        position=position,
        stream_json=canonical_json(stream_id),
        stream_version=stream_version,
        event_id=str(event_id),
        type_json=canonical_json(type_),
        schema_version=schema_version,
        payload_json=payload_json,
        metadata_json=metadata_json,
        recorded_at=format_timestamp(recorded_at),
    )


def envelope_text(
    *,
    position: int,
    stream_json: str,
    stream_version: int,
    event_id: str,
    type_json: str,
    schema_version: int,
    payload_json: str,
    metadata_json: str,
    recorded_at: str,
) -> str:
    """`envelope_json` from parts already in canonical form (the stream id and type as JSON strings, the
    time as `format_timestamp` writes it), for writers that share those parts across many events."""
    # Keys in sorted order, as canonical_json would write them (a property test holds it to that).
    return (
        f'{{"event_id":"{event_id}","metadata":{metadata_json},"payload":{payload_json},'
        f'"position":{position},"recorded_at":"{recorded_at}","schema_version":{schema_version},'
        f'"stream_id":{stream_json},"stream_version":{stream_version},"type":{type_json}}}'
    )


class _PayloadOnly(msgspec.Struct):
    payload: msgspec.Raw


# The envelope's other keys are skipped, not built: a replay needs the payload only.
_PAYLOAD_ONLY = msgspec.json.Decoder(_PayloadOnly)


def payload_json_of(canonical: bytes) -> msgspec.Raw:
    """The payload's JSON text, as it stands within an envelope's canonical bytes."""
    return _PAYLOAD_ONLY.decode(canonical).payload
