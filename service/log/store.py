"""The event store: the one object a caller holds for the log.

Its parts are each in a module of their own: appends go through the group-commit writer (`writer.py`) under
the append lock (`lease.py`); histories come in by COPY (`bulk.py`); reads are by stream or by position
(`reads.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import asyncpg

from events.registry import Registry
from service.log.bulk import BulkImporter
from service.log.clock import utc_now
from service.log.ids import RandomIds
from service.log.reads import LogReader
from service.log.writer import GroupWriter


class EventStore(GroupWriter, BulkImporter, LogReader):
    """Appends and reads on a pool whose role may only SELECT and INSERT."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: Registry,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], UUID] | None = None,
    ) -> None:
        # The appenders' shared parts include the pool the reads use: one initialiser sets them all.
        super().__init__(pool, registry, clock=clock, new_id=new_id or RandomIds())
