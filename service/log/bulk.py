"""Bulk import: many events to many streams in one transaction, by COPY, under the append lock.

For loading a history (a migration from another system, the demo), not for commands: there is no expected
version, each stream continues from wherever it stands, and one idempotency key covers the whole import.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from events.codec import JSON, canonical_json
from events.envelope import check_idempotency_key, check_stream_id, format_timestamp
from events.errors import CodecError, IdempotencyKeyReused, InvalidAppend
from events.merkle import leaf_hash
from events.registry import Event
from events.sealing import Opening
from service.log.appending import Appending
from service.log.encoding import (
    Encoded,
    canonical_envelope,
    encode_event,
    fingerprint,
    metadata_json,
)
from service.log.lease import APPEND_LOCK
from service.log.queries import query
from service.log.results import ImportResult

# (stream id, event, metadata), and for an event with sealed fields, what opens each of them.
Entry = tuple[str, Event, Mapping[str, JSON]] | tuple[str, Event, Mapping[str, JSON], Sequence[Opening]]

# The events table's columns, in the order COPY receives them.
EVENT_COLUMNS = [
    "position",
    "stream_id",
    "stream_version",
    "event_id",
    "type",
    "schema_version",
    "payload",
    "metadata",
    "canonical",
    "leaf_hash",
    "recorded_at",
]


class BulkImporter(Appending):
    async def bulk_import(self, entries: Iterable[Entry], *, idempotency_key: str) -> ImportResult:
        """Append many events to many streams in one transaction, by COPY, in the order given.

        There is no expected version: each stream continues from wherever it stands. An entry's fourth
        part, if any, opens its event's sealed fields (see `events/sealing.py`).
        """
        # An import allocates a few objects per event and keeps them all until COPY ends; the cyclic
        # collector would walk that growing heap again and again (a third of the import's time, measured).
        # Nothing here makes reference cycles, so it is paused for the import; reference counting still
        # frees everything as usual.
        with _gc_paused():
            return await self._bulk_import(entries, idempotency_key=idempotency_key)

    async def _bulk_import(self, entries: Iterable[Entry], *, idempotency_key: str) -> ImportResult:
        check_idempotency_key(idempotency_key)
        listed = list(entries)
        if not listed:
            raise InvalidAppend("entries", "an import needs at least one event")
        streams: set[str] = set()
        for index, (stream_id, *_) in enumerate(listed):
            if stream_id not in streams:
                try:
                    check_stream_id(stream_id)
                except InvalidAppend as exc:
                    raise InvalidAppend(f"entries[{index}].{exc.field}", exc.reason) from exc
                streams.add(stream_id)

        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(query("take_append_lock"), APPEND_LOCK)
            prior = await conn.fetchrow(query("idempotency_records"), [idempotency_key])
            if prior is not None:
                digest = hashlib.sha256()
                for _ in self._stage(listed, idempotency_key, digest):
                    pass
                if prior["fingerprint"] != digest.digest():
                    raise IdempotencyKeyReused(idempotency_key)
                return ImportResult(
                    first_position=prior["first_position"], event_count=prior["event_count"], replayed=True
                )
            head_row = await conn.fetchrow(query("head"))
            head = head_row["position"] if head_row else 0
            now = self._clock()
            recorded_at = max(now, head_row["recorded_at"]) if head_row else now
            versions: dict[str, int] = {
                row["stream_id"]: row["version"]
                for row in await conn.fetch(query("stream_versions"), list(streams))
            }
            # Entries are encoded inside COPY's row generator, so the server takes in rows while the next
            # ones are encoded and hashed. A bad entry raises there: COPY is abandoned, the transaction
            # rolls back, and the import writes nothing.
            digest = hashlib.sha256()
            staged = self._stage(listed, idempotency_key, digest)
            sealed: list[tuple[int, str, bytes, str]] = []
            records = self._import_records(staged, head, versions, recorded_at, sealed)
            await conn.copy_records_to_table("events", records=records, columns=EVENT_COLUMNS)
            if sealed:
                await conn.copy_records_to_table(
                    "restricted_values", records=sealed, columns=["position", "field", "salt", "value"]
                )
            await conn.execute(
                query("remember_import"), idempotency_key, digest.digest(), head + 1, len(listed), recorded_at
            )
            await conn.execute(query("notify_head"), str(head + len(listed)))
        return ImportResult(first_position=head + 1, event_count=len(listed))

    def _stage(
        self,
        entries: list[Entry],
        idempotency_key: str,
        digest: Any,
    ) -> Iterator[tuple[str, Encoded, str]]:
        """Each entry encoded, in order, while `digest` takes in the import's fingerprint."""
        for index, (stream_id, event, metadata, *opened) in enumerate(entries):
            try:
                item = encode_event(self._registry, event, "event", opened[0] if opened else ())
                metadata_text = metadata_json(metadata, idempotency_key)
            except InvalidAppend as exc:
                raise InvalidAppend(f"entries[{index}].{exc.field}", exc.reason) from exc
            except CodecError as exc:
                raise CodecError(f"entries[{index}].{exc.path}".rstrip("."), exc.reason) from exc
            digest.update(fingerprint(stream_id, [item]))
            yield stream_id, item, metadata_text

    def _import_records(
        self,
        staged: Iterable[tuple[str, Encoded, str]],
        head: int,
        versions: dict[str, int],
        recorded_at: datetime,
        sealed: list[tuple[int, str, bytes, str]],
    ) -> Iterable[tuple[Any, ...]]:
        # A generator: COPY streams rows to the server while the next ones are hashed. The openings of
        # sealed fields go into `sealed`, for a second COPY in the same transaction.
        position = head
        recorded_text = format_timestamp(recorded_at)
        stream_json: dict[str, str] = {}
        for stream_id, item, metadata_text in staged:
            position += 1
            sealed.extend((position, o.field, o.salt, o.value) for o in item.openings)
            version = versions[stream_id] + 1
            versions[stream_id] = version
            event_id = self._new_id()
            quoted = stream_json.get(stream_id)
            if quoted is None:
                quoted = stream_json[stream_id] = canonical_json(stream_id)
            canonical = canonical_envelope(
                position=position,
                stream_json=quoted,
                stream_version=version,
                event_id=str(event_id),
                item=item,
                metadata_json=metadata_text,
                recorded_at=recorded_text,
            )
            yield (
                position,
                stream_id,
                version,
                event_id,
                item.type,
                item.schema_version,
                item.payload_json,
                metadata_text,
                canonical,
                leaf_hash(canonical),
                recorded_at,
            )


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
