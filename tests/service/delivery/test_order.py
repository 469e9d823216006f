"""`events(after:)` over a real WebSocket of a real `qinglian serve`: a replay of thousands of events while
hundreds more are appended delivers every event after the cursor once, in position order, through the switch
from replay to live; a subscriber cut off mid-stream resumes from its own last cursor with nothing missed and
nothing repeated; a filter admits exactly the events it names."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date
from pathlib import Path

import asyncpg

from events.access import Role
from events.supervision import MeetingKind
from service.log.store import EventStore
from tests.service.delivery.live import (
    EVENTS,
    Socket,
    city,
    cursor,
    fill,
    issue,
    record,
    renames,
    served,
    ws_url,
)
from tests.support.domain import meeting

BACKLOG = 3000
WRITTEN_DURING = 400


async def trickle(store: EventStore, community_id: str, n: int, tag: str) -> list[int]:
    """`n` renames, one append each, one after another: they land all along a replay and the switch."""
    positions: list[int] = []
    for i in range(n):
        positions += await record(store, renames(community_id, 1, f"{tag}{i}-"), f"{tag}-{i}")
    return positions


def assert_exactly(positions: list[int], first: int, last: int) -> None:
    """Every position from `first` to `last`, each once, in order (checked piecewise, to read)."""
    assert len(positions) == len(set(positions)), "a position was delivered twice"
    assert all(a < b for a, b in itertools.pairwise(positions)), "positions out of order"
    assert list(range(first, last + 1)) == positions


async def test_a_replay_racing_appends_delivers_every_event_once_in_order_and_resumes_after_its_cursor(
    tmp_path: Path, database_url: str, pool: asyncpg.Pool, store: EventStore
) -> None:
    await city(store, "t1", ["c1", "c2"])
    token = await issue(pool, store, Role.INTEGRATOR)
    start = await store.head()
    backlog = await fill(store, "c1", BACKLOG, tag="backlog")
    assert list(range(start + 1, start + BACKLOG + 1)) == backlog

    with served(tmp_path / "serve", database_url) as service:
        url = ws_url(service)
        # One subscriber from the cursor of `start`, while a writer appends once its replay is under way.
        async with Socket.opened(url, token=token) as ws:
            await ws.subscribe("1", EVENTS, {"after": cursor(start)})
            await ws.until(lambda: len(ws.positions("1")) >= 100)
            first = asyncio.ensure_future(record(store, renames("c2", 1, "first-"), "first"))
            written = await first
            delivered_at_first_write = len(ws.positions("1"))
            written += await trickle(store, "c2", WRITTEN_DURING, "during")
            got = await ws.reached("1", written[-1])

        # The writer's first event was committed while the replay still had most of the backlog to send.
        assert delivered_at_first_write < BACKLOG
        assert_exactly(got, start + 1, written[-1])
        assert set(written) <= set(got)

        # Another subscriber from the same cursor is cut off mid-stream, and resumes after its last cursor
        # while appends go on.
        writer = asyncio.ensure_future(trickle(store, "c2", WRITTEN_DURING, "resume"))
        async with Socket.opened(url, token=token) as ws:
            await ws.subscribe("1", EVENTS, {"after": cursor(start)})
            await ws.until(lambda: len(ws.positions("1")) >= BACKLOG // 2)
            await ws.stop()  # nothing more is read: what arrived until now is what this subscriber has
            before_cut = ws.data("1")
        last = before_cut[-1]["events"]
        assert cursor(last["event"]["position"]) == last["cursor"]
        async with Socket.opened(url, token=token) as ws:
            await ws.subscribe("2", EVENTS, {"after": last["cursor"]})
            resumed_written = await writer
            after_cut = await ws.reached("2", resumed_written[-1])

    got_before = [d["events"]["event"]["position"] for d in before_cut]
    assert BACKLOG // 2 <= len(got_before) < resumed_written[-1] - start
    assert_exactly(got_before + after_cut, start + 1, resumed_written[-1])
    # The writer began before the cut: its first events may have arrived before it, the rest after.
    assert set(resumed_written) <= set(got_before + after_cut)


async def test_a_filter_admits_exactly_the_events_of_its_types_and_stream_prefix_replayed_and_live(
    tmp_path: Path, database_url: str, pool: asyncpg.Pool, store: EventStore
) -> None:
    await city(store, "t1", ["c1", "c12", "c2"])
    token = await issue(pool, store, Role.INSPECTOR)
    start = await store.head()

    async def mixed(tag: str, rounds: int) -> list[int]:
        """Renames and meetings of three communities, interleaved; the positions the filter admits."""
        wanted: list[int] = []
        for i in range(rounds):
            for community_id in ("c1", "c12", "c2"):
                positions = await record(
                    store, renames(community_id, 3, f"{tag}{i}-"), f"{tag}-r-{community_id}-{i}"
                )
                if community_id.startswith("c1"):
                    wanted += positions
                held = meeting(community_id, MeetingKind.REPRESENTATIVES, date(2022, 1, 1 + i))
                await record(store, [held], f"{tag}-m-{community_id}-{i}")
        return wanted

    replayed = await mixed("old", 20)
    with served(tmp_path / "serve", database_url) as service:
        async with Socket.opened(ws_url(service), token=token) as ws:
            filter_ = {"types": ["CommunityRenamed"], "streamPrefix": "community-c1"}
            await ws.subscribe("1", EVENTS, {"after": cursor(start), "filter": filter_})
            live = await mixed("new", 10)
            got = await ws.reached("1", live[-1])
            deliveries = [d["events"] for d in ws.data("1")]

    assert replayed + live == got
    assert {("CommunityRenamed", True)} == {
        (d["event"]["type"], d["event"]["streamId"] in ("community-c1", "community-c12")) for d in deliveries
    }
