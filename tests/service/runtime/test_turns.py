"""The serving loop's turns: work in slices shares each turn, so a turn holds the loop for about one slice
however many requests are working, and a request arriving meanwhile waits a turn, not everyone's slices."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from itertools import pairwise
from typing import Any, TypeVar

from service.read.slices import in_slices, pace
from service.runtime.turns import TurnLoop

ITEM_SECONDS = 0.001
SLICE = 0.004
T = TypeVar("T")


def busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with asyncio.Runner(loop_factory=TurnLoop) as runner:
        return runner.run(main())


def test_each_poll_begins_a_turn() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, TurnLoop)
        seen = [loop.turn_began]
        for _ in range(3):
            await asyncio.sleep(0.002)
            seen.append(loop.turn_began)
        return seen

    seen = run(main)
    assert all(later > earlier for earlier, later in pairwise(seen)), seen


def test_concurrent_work_shares_each_turn() -> None:
    """Ten requests of 40 items of 1 ms each: on a plain loop each takes a whole slice (4 items) per turn,
    so a turn holds about forty; here a turn holds what one slice allows, plus the item that began it."""

    async def main() -> tuple[Counter[float], list[list[int]]]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, TurnLoop)
        per_turn: Counter[float] = Counter()

        def work(item: int) -> int:
            per_turn[loop.turn_began] += 1
            busy(ITEM_SECONDS)
            return item * 2

        done = await asyncio.gather(*(in_slices(range(40), work, slice_seconds=SLICE) for _ in range(10)))
        return per_turn, done

    per_turn, done = run(main)
    assert done == [[i * 2 for i in range(40)]] * 10
    assert sum(per_turn.values()) == 400
    # At most a slice's worth of items a turn, and the one that found the turn fresh.
    assert max(per_turn.values()) <= SLICE / ITEM_SECONDS + 1, per_turn.most_common(3)


def test_a_probe_is_answered_within_a_turn_or_two_of_busy_work() -> None:
    """A task waking during the work (as a request arriving would) runs after at most a couple of turns'
    worth of items, not after every request's slice."""

    async def main() -> int:
        items_done = 0

        def work(_: int) -> None:
            nonlocal items_done
            items_done += 1
            busy(ITEM_SECONDS)

        async def probe() -> int:
            await asyncio.sleep(0)  # the work has started
            before = items_done
            await asyncio.sleep(0)  # wait for the next turn, as a socket's readiness would
            return items_done - before

        workers = [asyncio.ensure_future(in_slices(range(40), work, slice_seconds=SLICE)) for _ in range(10)]
        waited = await probe()
        await asyncio.gather(*workers)
        return waited

    waited = run(main)
    assert waited <= 2 * (SLICE / ITEM_SECONDS + 1), waited


def test_pace_waits_only_when_the_turn_is_used_up() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, TurnLoop)
        await asyncio.sleep(0)
        fresh = loop.turn_began
        await pace(slice_seconds=SLICE)  # the turn has time left: no yield
        same = loop.turn_began
        assert same == fresh
        busy(SLICE * 1.5)
        await pace(slice_seconds=SLICE)  # used up: resumes in a later turn
        return fresh, loop.turn_began

    fresh, later = run(main)
    assert later > fresh


async def test_off_the_serving_loop_pace_returns_at_once() -> None:
    loop = asyncio.get_running_loop()
    assert not hasattr(loop, "turn_began")
    busy(SLICE * 1.5)
    turned: list[int] = []
    loop.call_soon(turned.append, 1)
    await pace(slice_seconds=SLICE)
    assert turned == []  # no turn of the loop was given
