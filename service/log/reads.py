"""Reading the log: a stream by version, the whole log by position, the head."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TypeAlias

import asyncpg

from events.envelope import Recorded, check_stream_id
from service.log.queries import query

# A connection of its own or one borrowed from a pool: both run queries alike.
Conn: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


class LogReader:
    """Reads on a pool whose role may only SELECT and INSERT."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def read_stream(
        self, stream_id: str, *, after_version: int = 0, limit: int = 1000
    ) -> list[Recorded]:
        """A stream's events with version > `after_version`, oldest first."""
        check_stream_id(stream_id)
        rows = await self._pool.fetch(query("read_stream"), stream_id, after_version, limit)
        return [recorded_from_row(row) for row in rows]

    async def read_all(
        self,
        *,
        after_position: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        stream_prefix: str | None = None,
    ) -> list[Recorded]:
        """Events with position > `after_position`, in position order, optionally filtered."""
        rows = await self._pool.fetch(
            query("read_all"),
            after_position,
            limit,
            list(types) if types is not None else None,
            stream_prefix,
        )
        return [recorded_from_row(row) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        """The version of a stream's latest event; 0 for a stream with none."""
        check_stream_id(stream_id)
        version: int = await self._pool.fetchval(query("stream_version"), stream_id)
        return version

    async def head(self) -> int:
        """The position of the latest event; 0 for an empty log."""
        position: int = await self._pool.fetchval(query("head_position"))
        return position


def recorded_from_row(row: asyncpg.Record) -> Recorded:
    canonical: bytes = row["canonical"]
    envelope = json.loads(canonical)
    return Recorded(
        position=row["position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        type=row["type"],
        schema_version=row["schema_version"],
        payload=envelope["payload"],
        metadata=envelope["metadata"],
        recorded_at=row["recorded_at"],
        canonical=canonical,
        leaf_hash=row["leaf_hash"],
    )
