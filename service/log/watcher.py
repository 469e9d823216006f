"""Wake-ups: the head position of the log, followed over LISTEN/NOTIFY on a dedicated connection.

A notification carries at most a position and is only a hint. The watcher re-reads the head after every
(re)connect and on a timer, so a lost notification or a dropped connection delays a reader, never loses an
event: every reader catches up from its own cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import structlog

from service.log.queries import query

CHANNEL = "qinglian_events"
log = structlog.get_logger(__name__)


# However long an outage lasts, the watcher tries again at least this often.
MAX_RETRY_DELAY = 5.0


class HeadWatcher:
    """Knows the log's head position and lets tasks wait for it to pass a point."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        *,
        poll_interval: float = 5.0,
        retry_delay: float = 0.5,
    ) -> None:
        self._connect = connect
        self._poll_interval = poll_interval
        self._retry_delay = retry_delay
        self._head = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connections = 0  # how many times it has (re)connected; for operators and tests

    @property
    def head(self) -> int:
        return self._head

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="qinglian-head-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_for(self, position: int, *, within: float) -> bool:
        """True once the head reaches `position`; False if `within` seconds pass first."""
        try:
            async with asyncio.timeout(within):
                while self._head < position:
                    await self._wait_change()
        except TimeoutError:
            return False
        return True

    async def heads(self) -> AsyncIterator[int]:
        """Each new head position, as it is seen (positions in between may be skipped)."""
        seen = -1
        while True:
            if self._head != seen:
                seen = self._head
                yield seen
            await self._wait_change()

    async def _wait_change(self) -> None:
        await self._changed.wait()

    def _advance(self, position: int) -> None:
        if position > self._head:
            self._head = position
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def _run(self) -> None:
        failures = 0  # in a row: the wait between attempts doubles, and only the first is logged
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._connect()
                self.connections += 1
                if failures:
                    log.info("head watcher reconnected", after_attempts=failures)
                    failures = 0
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                # Listening first, reading second: an append that commits in between is seen either way.
                self._advance(await conn.fetchval(query("head_position")))
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_interval):
                            await lost.wait()
                    if not lost.is_set():
                        self._advance(await conn.fetchval(query("head_position")))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect and catch up
                if not failures:
                    log.warning("head watcher lost its connection; retrying", error=str(exc))
                failures += 1
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(min(self._retry_delay * 2 ** min(max(failures - 1, 0), 16), MAX_RETRY_DELAY))

    def _on_notify(
        self,
        _conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
        _pid: int,
        _channel: str,
        payload: object,
    ) -> None:
        try:
            self._advance(int(str(payload)))
        except ValueError:
            log.warning("ignored a malformed wake-up", payload=str(payload)[:64])
