"""One WebSocket connection as its operations see it: it can be closed with a code and a reason from any
task (a subscription that fell behind, a credential that expired), and it checks its credential again
while it lasts.

A reason is at most 123 bytes (RFC 6455 §5.5: a control frame's payload is at most 125, two of them the
code)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from starlette.websockets import WebSocket

from projections.access import Principal
from service.access.errors import AnonymousRefused, Unauthenticated

log = structlog.get_logger("qinglian.graphql")

# Close codes: the client's credential is no longer good; a subscriber fell behind.
FORBIDDEN = 4403
TOO_SLOW = 4429
MAX_REASON = 123


class Connection:
    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        # The credential the connection acts on (an Authorization value), once one is given.
        self.authorization: str | None = None
        self.closing: tuple[int, str] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closer: asyncio.Task[None] | None = None

    def close(self, code: int, reason: str) -> None:
        """Close the socket (once), from whatever task notices why."""
        if self.closing is not None:
            return
        reason = reason.encode()[:MAX_REASON].decode(errors="ignore")
        self.closing = (code, reason)
        log.info("websocket closed by the server", code=code, reason=reason)
        self._closer = asyncio.ensure_future(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._websocket.close(code=code, reason=reason)

    def recheck(
        self,
        authenticate: Callable[[str], Awaitable[Principal]],
        principal: Principal,
        every: float,
    ) -> None:
        """Every `every` seconds, prove the credential again; close with 4403 once it no longer proves
        `principal` (expired, revoked, its grant changed)."""
        authorization = self.authorization
        if authorization is None:
            return

        async def watch() -> None:
            while self.closing is None:
                await asyncio.sleep(every)
                try:
                    now = await authenticate(authorization)
                except (Unauthenticated, AnonymousRefused) as exc:
                    self.close(FORBIDDEN, f"credential no longer valid: {exc}")
                    return
                except Exception as exc:  # noqa: BLE001 - the database may be away: try again later
                    log.warning("could not check a connection's credential again", error=str(exc))
                    continue
                if now != principal:
                    self.close(FORBIDDEN, "credential's grant changed: connect again")
                    return

        self._spawn(watch())

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """The connection is over: stop checking; a close under way is let finish."""
        for task in tuple(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._closer is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._closer
