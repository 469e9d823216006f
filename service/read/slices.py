"""CPU-bound work in a request, in slices that give the event loop a turn.

Evaluating statuses is synchronous Python. Done in one go for a city's communities it would hold the event
loop: `/healthz` and every other request would wait, and the operation's time limit (an `asyncio.timeout`,
which can only act at an `await`) could not stop it. `in_slices` runs the work item by item and yields to
the loop whenever a slice's time is used up, so other requests are served between slices and a
cancellation stops the work at the next one.
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
    """`[work(item) for item in items]`, yielding to the event loop after each `slice_seconds` of it."""
    results: list[R] = []
    clock = time.perf_counter
    deadline = clock() + slice_seconds
    for item in items:
        results.append(work(item))
        if clock() >= deadline:
            await asyncio.sleep(0)
            deadline = clock() + slice_seconds
    return results
