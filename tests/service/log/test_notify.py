"""The head watcher: woken by NOTIFY, and catching up by position when a notification is lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest
from structlog.testing import capture_logs

from events.envelope import ExpectedVersion
from events.hierarchy import CommunityRenamed
from service.log.pool import APP_ROLE, connect
from service.log.store import EventStore
from service.log.watcher import HeadWatcher

DAY = date(2022, 6, 8)


async def append(store: EventStore, key: str) -> int:
    result = await store.append(
        "community-a",
        [CommunityRenamed(community_id="a", name=key, effective_on=DAY)],
        expected_version=ExpectedVersion.any(),
        idempotency_key=key,
    )
    return result.positions[-1]


@pytest.fixture
async def watcher(database_url: str) -> AsyncIterator[HeadWatcher]:
    async def connect_as_app() -> asyncpg.Connection:
        return await connect(
            database_url, server_settings={"role": APP_ROLE, "application_name": "head-watcher"}
        )

    # A long poll interval: only a notification or a reconnect can explain a prompt catch-up.
    watcher = HeadWatcher(connect_as_app, poll_interval=3600, retry_delay=0.05)
    await watcher.start()
    yield watcher
    await watcher.stop()


async def test_the_watcher_sees_each_commit_through_notify(store: EventStore, watcher: HeadWatcher) -> None:
    assert await watcher.wait_for(0, within=5)
    position = await append(store, "one")
    assert await watcher.wait_for(position, within=5)
    assert position == watcher.head


async def test_wait_for_a_position_not_yet_written_times_out(watcher: HeadWatcher) -> None:
    assert not await watcher.wait_for(1, within=0.2)


async def test_after_its_connection_is_killed_the_watcher_reconnects_and_catches_up(
    store: EventStore, watcher: HeadWatcher, owner: asyncpg.Connection
) -> None:
    await append(store, "before")
    assert await watcher.wait_for(1, within=5)
    connections = watcher.connections
    # Kill the listener, then commit while it is gone: that notification is lost for good.
    killed = await owner.fetchval(
        "select count(pg_terminate_backend(pid)) from pg_stat_activity "
        "where datname = current_database() and application_name = 'head-watcher'"
    )
    assert 1 == killed
    position = await append(store, "while-away")
    assert await watcher.wait_for(position, within=10)
    assert watcher.connections > connections


async def test_heads_yields_new_positions_in_order(store: EventStore, watcher: HeadWatcher) -> None:
    seen: list[int] = []

    async def follow() -> None:
        async for head in watcher.heads():
            seen.append(head)
            if head >= 3:
                return

    following = asyncio.ensure_future(follow())
    for key in ("1", "2", "3"):
        await append(store, key)
    await asyncio.wait_for(following, timeout=10)
    assert seen == sorted(seen)
    assert 3 == seen[-1]


async def test_an_outage_is_logged_once_and_waited_out_with_a_doubling_delay(
    database_url: str, store: EventStore
) -> None:
    position = await append(store, "before the outage")
    attempts = 0

    async def down_three_times() -> asyncpg.Connection:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise OSError("connection refused")
        return await connect(database_url, server_settings={"role": APP_ROLE})

    watcher = HeadWatcher(down_three_times, poll_interval=3600, retry_delay=0.05)
    started = time.monotonic()
    with capture_logs() as logs:
        await watcher.start()
        try:
            assert await watcher.wait_for(position, within=10)  # read once it is connected
        finally:
            await watcher.stop()
    assert time.monotonic() - started >= 0.05 + 0.1 + 0.2  # three failures: waits of 1, 2 and 4 delays
    said = [(e["event"], e["log_level"]) for e in logs]
    assert [
        ("head watcher lost its connection; retrying", "warning"),
        ("head watcher reconnected", "info"),
    ] == said
    assert 3 == logs[-1]["after_attempts"]


async def test_a_head_that_moves_while_the_follower_works_is_yielded_next() -> None:
    """A follower (the projector) busy with one head must still be given the head that moved meanwhile,
    not wait for a move after it: with no later write, it would wait for ever."""

    async def never() -> asyncpg.Connection:
        raise AssertionError("not started: the heads are moved by hand")

    watcher = HeadWatcher(never)
    watcher._advance(3)
    heads = watcher.heads()
    assert 3 == await anext(heads)
    watcher._advance(7)  # while the follower works on 3
    assert 7 == await asyncio.wait_for(anext(heads), timeout=1.0)
    waiting = asyncio.ensure_future(anext(heads))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # nothing new: it waits
    watcher._advance(9)
    assert 9 == await asyncio.wait_for(waiting, timeout=1.0)
