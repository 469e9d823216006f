"""CPU-bound work in a request, in slices that give the event loop a turn.

Evaluating statuses is synchronous Python. Done in one go for a city's communities it would hold the event
loop: `/healthz` and every other request would wait, and the operation's time limit (an `asyncio.timeout`,
which can only act at an `await`) could not stop it. `in_slices` runs the work item by item and yields to
the loop whenever a slice's time is used up, so other requests are served between slices and a
cancellation stops the work at the next one.

On the serving process's loop (`service.runtime.turns.TurnLoop`, which notes when each turn began) a slice
is measured from the start of the turn, not from the start of this work: what every request in flight did
in the turn counts against it, so work that finds the turn already used up waits for the next one, and a
turn holds the loop for about one slice however many requests are working. On any other loop a slice is
measured from where this work last yielded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
# Long enough that yielding costs little (a turn of the loop is some microseconds), short enough that a
# request waiting behind the work is not noticeably delayed.
SLICE_SECONDS = 0.004


async def in_slices(
    items: Iterable[T], work: Callable[[T], R], *, slice_seconds: float = SLICE_SECONDS
) -> list[R]:
    """`[work(item) for item in items]`, yielding to the event loop whenever a slice's time is used up."""
    results: list[R] = []
    clock = time.monotonic
    loop = asyncio.get_running_loop()
    turns = hasattr(loop, "turn_began")
    began = clock()
    for item in items:
        # Checked before each item, and again after each yield: resumed in a turn that others have used
        # up already, this work waits for the next one rather than adding an item to it.
        while clock() - (loop.turn_began if turns else began) >= slice_seconds:  # type: ignore[attr-defined]
            await asyncio.sleep(0)
            began = clock()
        results.append(work(item))
    return results


async def pace(*, slice_seconds: float = SLICE_SECONDS) -> None:
    """Yield to the event loop until a turn has time left (on a `TurnLoop`; on any other loop, return at
    once): a point where the synchronous work that follows waits for a turn not yet used up."""
    loop = asyncio.get_running_loop()
    if not hasattr(loop, "turn_began"):
        return
    # A turn of the loop is what is waited for, not an event.
    while time.monotonic() - loop.turn_began >= slice_seconds:  # noqa: ASYNC110
        await asyncio.sleep(0)
