"""The serving process's event loop, which knows when its current turn began.

A turn of asyncio's loop polls the sockets once, then runs every callback that was ready at that moment,
in order, before it polls again. A request that arrives during a turn — a `/healthz` probe, say — is
noticed only at the next poll, so it waits for the whole turn: for every slice of work that every request
in flight took in it. Work cut into slices of a few milliseconds each still holds the loop for as long as
the sum of the slices that happen to share a turn, which grows with the number of requests slicing at once.

`TurnLoop` records when each poll returned (`turn_began`). `service.read.slices` reads it: work that finds
the current turn already older than its slice defers to the next turn instead of adding to this one, so a
turn holds the loop for about one slice however many requests are working, and a waiting request is
served within a turn or two.
"""

from __future__ import annotations

import asyncio
import selectors
import time


class _TurnSelector(selectors.DefaultSelector):
    """The platform's default selector, noting on its loop the moment each poll returns."""

    def __init__(self, loop: TurnLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
        self._loop.turn_began = time.monotonic()
        return ready


class TurnLoop(asyncio.SelectorEventLoop):
    """asyncio's selector event loop with `turn_began`: `time.monotonic()` when the current turn's poll
    returned."""

    def __init__(self) -> None:
        self.turn_began = time.monotonic()
        super().__init__(selector=_TurnSelector(self))
