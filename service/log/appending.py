"""What every way of appending shares: the pool, the event types, the clock and the ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import asyncpg

from events.registry import Registry


class Appending:
    """The parts an appender works with; the writer and the bulk import build on it."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: Registry,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], UUID],
    ) -> None:
        self._pool = pool
        self._registry = registry
        self._clock = clock
        self._new_id = new_id
