"""The event hub and `follow`, against a real database: every event after the starting position once, in
position order, through a replay that races appends and small pages (many switches from replay to live); a
filter in replay and live alike; a feed that falls behind detached and told where it stopped, while the
others and the writer go on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from events.envelope import Recorded
from service.delivery.hub import EventFilter, Hub, Overflowed, follow
from service.log.pool import APP_ROLE, connect
from service.log.store import EventStore
from service.log.watcher import HeadWatcher
from tests.service.delivery.live import TIMEOUT, city, fill, record, renames

QUEUE = 20


@pytest.fixture
async def hub(database_url: str, store: EventStore) -> AsyncIterator[Hub]:
    # A long poll: only NOTIFY (or a reconnect) moves the hub, as in a quiet service.
    watcher = HeadWatcher(lambda: connect(database_url, server_settings={"role": APP_ROLE}), poll_interval=60)
    await watcher.start()
    hub = Hub(store, watcher, queue_limit=QUEUE)
    running = asyncio.ensure_future(hub.run())
    await hub.started()
    yield hub
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    await watcher.stop()


async def take(rows: AsyncIterator[Recorded], until: int, into: list[int]) -> None:
    """Positions from `rows` into `into` until one at or past `until`."""
    async with asyncio.timeout(TIMEOUT):
        async for rec in rows:
            into.append(rec.position)
            if rec.position >= until:
                return


async def test_follow_yields_every_event_after_its_start_once_in_order_while_appends_race_it(
    hub: Hub, store: EventStore
) -> None:
    await city(store, "t1", ["c1", "c2"])
    start = await store.head()
    await fill(store, "c1", 400, tag="old")

    async def write() -> list[int]:
        # One at a time, so they land all along the replays below and their switches to live.
        written: list[int] = []
        for i in range(300):
            written += await record(store, renames("c2", 1, f"new{i}-"), f"new-{i}")
        return written

    writing = asyncio.ensure_future(write())
    # Small pages: many reads, each at a head that is moving, before each switch to live.
    followers = [follow(hub, store, after=start, where=EventFilter(), page=page) for page in (7, 50, 500)]
    got: list[list[int]] = [[] for _ in followers]
    last = start + 400 + 300  # nothing else writes
    await asyncio.gather(*[take(rows, last, into) for rows, into in zip(followers, got, strict=True)])
    written = await writing
    for rows in followers:
        await rows.aclose()

    assert last == written[-1]
    for positions in got:
        assert list(range(start + 1, last + 1)) == positions
    assert 0 == hub.subscribers  # each follower detached when closed


async def test_follow_filters_by_type_and_stream_prefix_in_replay_and_live(
    hub: Hub, store: EventStore
) -> None:
    await city(store, "t1", ["c1", "c12", "c2"])
    start = await store.head()
    wanted: list[int] = []

    async def mix(tag: str) -> None:
        for community_id in ("c1", "c12", "c2"):
            positions = await record(store, renames(community_id, 2, tag), f"{tag}-{community_id}")
            if community_id.startswith("c1"):
                wanted.extend(positions)

    await mix("old")
    rows = follow(hub, store, after=start, where=EventFilter(frozenset({"CommunityRenamed"}), "community-c1"))
    got: list[int] = []
    await take(rows, wanted[-1], got)
    await mix("new")  # live now: the hub offers them, the filter admits some
    await take(rows, wanted[-1], got)
    await rows.aclose()

    assert wanted == got


async def test_a_feed_that_falls_behind_is_detached_and_told_where_it_stopped(
    hub: Hub, store: EventStore
) -> None:
    await city(store, "t1", ["c1"])
    start = await store.head()
    told: list[str] = []
    stalled = hub.attach(EventFilter(), after=start, on_overflow=lambda: told.append("overflowed"))
    keeping_up = follow(hub, store, after=start, where=EventFilter())
    first: list[int] = []
    written = await record(store, renames("c1", 1, "first"), "first")
    await take(keeping_up, written[-1], first)
    [taken] = [await stalled.take()]  # the stalled feed takes one, then no more

    # Appends of one event each: never more than the queue at once, so only the stalled feed overflows.
    for i in range(3 * QUEUE):
        written += await record(store, renames("c1", 1, f"n{i}-"), f"n-{i}")
        await take(keeping_up, written[-1], first)
    await keeping_up.aclose()

    assert ["overflowed"] == told
    assert stalled.overflowed
    assert 1 == hub.overflows
    assert 0 == hub.subscribers
    with pytest.raises(Overflowed) as overflowed:
        await stalled.take()
    # It last took the first event: that is where its subscriber resumes.
    assert taken.position == overflowed.value.last == written[0]
    assert list(range(start + 1, written[-1] + 1)) == first


async def test_a_feed_cannot_attach_behind_the_hub(hub: Hub, store: EventStore) -> None:
    await city(store, "t1", ["c1"])
    async with asyncio.timeout(TIMEOUT):
        while True:
            if hub.position == await store.head():
                break
            await asyncio.sleep(0.01)
    with pytest.raises(ValueError, match="cannot attach"):
        hub.attach(EventFilter(), after=hub.position - 1)
