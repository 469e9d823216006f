"""The append lock: one advisory lock key orders every append, so position order is commit order.

The group writer holds it at session level while it has work (a `Lease`); a bulk import takes the same key
for its transaction (`take_append_lock`). Whoever holds it is the only one appending.
"""

from __future__ import annotations

import contextlib
import time

import asyncpg

# Key of the advisory lock that orders all appends; any fixed bigint no other application in the
# database uses.
APPEND_LOCK = 0x716C_6C6F_6721  # "qllog!"
# A writer idle this long gives back the append lock and its connection.
IDLE_RELEASE_SECONDS = 0.2
# A busy writer lets go of the append lock this often, so writers in other processes get their turn.
MAX_HOLD_SECONDS = 0.05
# APPEND_LOCK is a constant of this module, so no input reaches these texts.
_LOCK = f"select pg_advisory_lock({APPEND_LOCK})"
_UNLOCK = f"select pg_advisory_unlock({APPEND_LOCK})"


class Lease:
    """The writer's connection and, while it has work, the session-level append lock.

    Holding the lock across groups saves a BEGIN and a COMMIT round trip per group: each group's write is
    one autocommitted statement. Every other writer (another process's store, a bulk import) waits on the
    same lock key, so position order is still commit order. A backend that dies releases its locks.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._since: float | None = None  # when the lock was taken; None while not held

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def locked(self) -> asyncpg.pool.PoolConnectionProxy:
        """A connection that holds the append lock."""
        if self._conn is not None and self._conn.is_closed():
            await self.release()
        if self._conn is None:
            self._conn = await self._pool.acquire()
        if self._since is None:
            await self._conn.execute(_LOCK)
            self._since = time.monotonic()
        return self._conn

    async def share_if_held_long(self) -> None:
        if (
            self._conn is not None
            and self._since is not None
            and time.monotonic() - self._since > MAX_HOLD_SECONDS
        ):
            await self._conn.execute(_UNLOCK)
            self._since = None

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        since, self._since = self._since, None
        if conn is None:
            return
        if since is not None and not conn.is_closed():
            with contextlib.suppress(OSError, asyncpg.InterfaceError, asyncpg.PostgresError):
                await conn.execute(_UNLOCK)
        await self._pool.release(conn)
