"""The serving process's garbage collector: settled once the server has started."""

from __future__ import annotations

import asyncio
import gc
import socket
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
def test_settle_freezes_what_exists_and_raises_the_thresholds() -> None:
    kept = [object() for _ in range(10)]
    collector.settle()
    assert gc.get_freeze_count() >= len(kept)
    assert (
        collector.YOUNG_THRESHOLD,
        collector.MIDDLE_THRESHOLD,
        collector.OLD_THRESHOLD,
    ) == gc.get_threshold()


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
    monkeypatch.setattr(collector, "settle", lambda: calls.append(server.started))
    with socket.socket() as sock:
        serving = asyncio.ensure_future(cli._serving(server, sock))  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
        assert [True] == calls
        server.stop.set()
        await serving
    assert [True] == calls
