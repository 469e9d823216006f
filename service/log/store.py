"""The event store: one object a caller holds for the log, its parts each in a module of its own.

Appends go through the group-commit writer (`writer.py`) under the append lock (`lease.py`); histories
come in by COPY (`bulk.py`); reads are by stream or by position (`reads.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from events.codec import JSON
from events.envelope import ExpectedVersion, Recorded
from events.registry import Event, Registry
from service.log.bulk import BulkImporter
from service.log.clock import utc_now
from service.log.ids import RandomIds
from service.log.reads import LogReader
from service.log.results import AppendResult, ImportResult
from service.log.writer import GroupWriter


class EventStore:
    """Appends and reads on a pool whose role may only SELECT and INSERT."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: Registry,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], UUID] | None = None,
    ) -> None:
        ids = new_id or RandomIds()
        self._writer = GroupWriter(pool, registry, clock=clock, new_id=ids)
        self._importer = BulkImporter(pool, registry, clock=clock, new_id=ids)
        self._reader = LogReader(pool)

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        *,
        expected_version: ExpectedVersion,
        idempotency_key: str,
        metadata: Mapping[str, JSON] | None = None,
    ) -> AppendResult:
        """Append `events` to a stream if it is at `expected_version`; return their positions.

        Raises VersionConflict (nothing written), IdempotencyKeyReused, InvalidAppend or CodecError.
        A retry with the same key and the same events returns the first result and writes nothing.
        """
        return await self._writer.append(
            stream_id,
            events,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )

    async def prior_result(
        self, stream_id: str, events: Sequence[Event], *, idempotency_key: str
    ) -> AppendResult | None:
        """The result an earlier append under `idempotency_key` had, if there was one.

        Commands ask before validating, so a retry of a command that succeeded gets its first result
        back instead of an error saying the thing it recorded already exists.
        """
        return await self._writer.prior_result(stream_id, events, idempotency_key=idempotency_key)

    async def close(self) -> None:
        """Stop the writer after the requests already queued are written."""
        await self._writer.close()

    async def bulk_import(
        self, entries: Iterable[tuple[str, Event, Mapping[str, JSON]]], *, idempotency_key: str
    ) -> ImportResult:
        """Append many events to many streams in one transaction, by COPY, in the order given.

        There is no expected version: each stream continues from wherever it stands. For loading a
        history (a migration from another system, the demo), not for commands.
        """
        return await self._importer.bulk_import(entries, idempotency_key=idempotency_key)

    async def read_stream(
        self, stream_id: str, *, after_version: int = 0, limit: int = 1000
    ) -> list[Recorded]:
        """A stream's events with version > `after_version`, oldest first."""
        return await self._reader.read_stream(stream_id, after_version=after_version, limit=limit)

    async def read_all(
        self,
        *,
        after_position: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        stream_prefix: str | None = None,
    ) -> list[Recorded]:
        """Events with position > `after_position`, in position order, optionally filtered."""
        return await self._reader.read_all(
            after_position=after_position, limit=limit, types=types, stream_prefix=stream_prefix
        )

    async def stream_version(self, stream_id: str) -> int:
        """The version of a stream's latest event; 0 for a stream with none."""
        return await self._reader.stream_version(stream_id)

    async def head(self) -> int:
        """The position of the latest event; 0 for an empty log."""
        return await self._reader.head()
