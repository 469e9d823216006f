"""What an append or an import reports, and what its idempotency record says when it is retried."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from events.errors import IdempotencyKeyReused, QinglianError


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendResult:
    """Where an append's events landed. `replayed` is true when an idempotent retry returned it."""

    stream_id: str
    first_position: int
    event_count: int
    stream_version: int
    replayed: bool = False

    @property
    def positions(self) -> range:
        return range(self.first_position, self.first_position + self.event_count)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    first_position: int
    event_count: int
    replayed: bool = False

    @property
    def positions(self) -> range:
        return range(self.first_position, self.first_position + self.event_count)


@dataclass(frozen=True, slots=True)
class Prior:
    """What an idempotency record says of the append that first used its key."""

    key: str
    fingerprint: bytes
    stream_id: str | None
    first_position: int
    event_count: int
    stream_version: int | None

    @staticmethod
    def from_json(item: list[Any]) -> Prior:
        key, fingerprint, stream_id, first, count, version = item
        return Prior(key, bytes.fromhex(fingerprint), stream_id, first, count, version)

    @staticmethod
    def from_row(row: asyncpg.Record) -> Prior:
        return Prior(
            row["key"],
            row["fingerprint"],
            row["stream_id"],
            row["first_position"],
            row["event_count"],
            row["stream_version"],
        )


def replay(key: str, stream_id: str, fingerprint: bytes, prior: Prior) -> AppendResult | QinglianError:
    """The first result again, for a retry of the same append; IdempotencyKeyReused for any other."""
    # A bulk import's key (no stream) can never be replayed as a single append.
    if prior.fingerprint != fingerprint or prior.stream_id != stream_id or prior.stream_version is None:
        return IdempotencyKeyReused(key)
    return AppendResult(
        stream_id=stream_id,
        first_position=prior.first_position,
        event_count=prior.event_count,
        stream_version=prior.stream_version,
        replayed=True,
    )
