"""The serving process's garbage collector: settled once the server has started."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from service.runtime import cli, collector


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored")
def test_settle_freezes_what_exists_and_leaves_the_older_generations_to_the_timer() -> None:
    kept = [object() for _ in range(10)]
    collector.settle()
    assert gc.get_freeze_count() >= len(kept)
    assert (collector.YOUNG_THRESHOLD, collector.NEVER, collector.NEVER) == gc.get_threshold()


@pytest.mark.usefixtures("restored")
async def test_a_cycle_that_outlived_a_young_pass_is_freed_by_the_periodic_pass() -> None:
    collector.settle()

    class Node:
        other: Node | None = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    gc.collect(0)  # a young pass while the cycle is alive: promoted, out of the young passes' reach
    del first, second
    for _ in range(3):
        gc.collect(0)
    assert gone() is not None  # only a pass of the older generations frees it now
    task = asyncio.ensure_future(collector.collect_periodically(every=0.01))
    try:
        for _ in range(100):
            await asyncio.sleep(0.01)
            if gone() is None:
                break
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert gone() is None


class _Server:
    """Stands in for uvicorn's server: started after a while, then serves until told to stop."""

    def __init__(self) -> None:
        self.started = False
        self.stop = asyncio.Event()

    async def serve(self, sockets: Any = None) -> None:
        await asyncio.sleep(0.1)
        self.started = True
        await self.stop.wait()


async def test_serving_settles_the_collector_once_the_server_has_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = _Server()
    calls: list[bool] = []
    timer: list[str] = []

    async def collect_periodically() -> None:
        timer.append("started")
        try:
            await asyncio.Event().wait()
        finally:
            timer.append("stopped")

    monkeypatch.setattr(collector, "settle", lambda: calls.append(server.started))
    monkeypatch.setattr(collector, "collect_periodically", collect_periodically)
    with socket.socket() as sock:
        serving = asyncio.ensure_future(cli._serving(server, sock))  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
        assert [True] == calls
        assert ["started"] == timer
        server.stop.set()
        await serving
    assert [True] == calls
    assert ["started", "stopped"] == timer  # the timer ends with the server
