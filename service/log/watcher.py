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
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from service.log.queries import query

CHANNEL = "qinglian_events"
# The status keeper's wake-up: stored status segments changed (after its commit). Heard on the same
# connection, so a process holds one LISTEN connection whatever it follows.
STATUS_CHANNEL = "qinglian_status"
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
        # Between failed attempts to connect: retry_delay, doubling each time, up to MAX_RETRY_DELAY.
        self._backoff = wait_exponential(multiplier=retry_delay, max=MAX_RETRY_DELAY)
        self._head = 0
        self._changed = asyncio.Event()
        # Counts the status keeper's wake-ups (and reconnections, after which one may have been missed).
        self._status = 0
        self._status_changed = asyncio.Event()
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
            # The event is taken before the head is looked at: a head that moves while the consumer works
            # on the last one replaces the event, so waiting on the new one would miss that move.
            changed = self._changed
            if self._head != seen:
                seen = self._head
                yield seen
                continue
            await changed.wait()

    async def status_changes(self) -> AsyncIterator[int]:
        """A count that grows each time stored status may have changed (as `heads`, moves may merge)."""
        seen = -1
        while True:
            changed = self._status_changed
            if self._status != seen:
                seen = self._status
                yield seen
                continue
            await changed.wait()

    def _status_moved(self) -> None:
        self._status += 1
        changed, self._status_changed = self._status_changed, asyncio.Event()
        changed.set()

    async def _wait_change(self) -> None:
        await self._changed.wait()

    def _advance(self, position: int) -> None:
        if position > self._head:
            self._head = position
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def _run(self) -> None:
        logged = False  # the current outage has been logged: once, however long it lasts
        while True:
            conn, failed = await self._reconnect(logged=logged)
            if failed or logged:
                log.info("head watcher reconnected", after_attempts=failed + int(logged))
            logged = False
            try:
                await self._follow(conn)
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect and catch up
                log.warning("head watcher lost its connection; retrying", error=str(exc))
                logged = True
            finally:
                if not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(self._retry_delay)

    async def _reconnect(self, *, logged: bool) -> tuple[asyncpg.Connection, int]:
        """A new connection, however many attempts it takes (waiting `_backoff` between them), and how many
        attempts failed. The first failure is logged, unless the outage has been already."""

        def failed(attempt: RetryCallState) -> None:
            if attempt.attempt_number == 1 and not logged and attempt.outcome is not None:
                error = attempt.outcome.exception()
                log.warning("head watcher lost its connection; retrying", error=str(error))

        # Any Exception is retried, for ever; cancellation (a BaseException) ends the task as it should.
        retrying = AsyncRetrying(
            wait=self._backoff, retry=retry_if_exception_type(Exception), before_sleep=failed, reraise=True
        )
        async for attempt in retrying:
            with attempt:
                conn = await self._connect()
        self.connections += 1
        return conn, attempt.retry_state.attempt_number - 1

    async def _follow(self, conn: asyncpg.Connection) -> None:
        """Keep the head up to date over `conn`: returns when the connection is lost, raises if it fails."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, self._on_notify)
        await conn.add_listener(STATUS_CHANNEL, self._on_status)
        # Listening first, reading second: an append that commits in between is seen either way. What the
        # keeper wrote while no one listened is looked at again.
        self._advance(await conn.fetchval(query("head_position")))
        self._status_moved()
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await lost.wait()
            if not lost.is_set():
                self._advance(await conn.fetchval(query("head_position")))

    def _on_status(
        self,
        _conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
        _pid: int,
        _channel: str,
        _payload: object,
    ) -> None:
        self._status_moved()

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
