"""Work in slices: other tasks run between slices, and a timeout stops the work at the next one."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.read.slices import in_slices


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_the_results_are_the_work_on_each_item_in_order() -> None:
    assert [i * i for i in range(1000)] == await in_slices(range(1000), lambda i: i * i)
    assert [] == await in_slices([], lambda i: i)


async def test_other_tasks_run_between_slices() -> None:
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = turns
    # 200 items of 0.5 ms: 100 ms of work, about 25 slices of 4 ms.
    await in_slices(range(200), lambda _: busy(0.0005), slice_seconds=0.004)
    task.cancel()
    assert turns - before >= 10


async def test_a_timeout_stops_the_work_at_the_next_slice() -> None:
    done = 0

    def work(_: int) -> None:
        nonlocal done
        busy(0.001)
        done += 1

    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await in_slices(range(10_000), work, slice_seconds=0.004)
    # 10 s of work was asked; it stopped within a slice or so of the limit.
    assert time.perf_counter() - started < 1.0
    assert done < 1_000
