"""Many appenders at once: positions stay gap-free and in commit order, streams stay consistent."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import date

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.envelope import ExpectedVersion
from events.errors import VersionConflict
from events.hierarchy import CommunityRenamed
from service.log.pool import create_pool
from service.log.store import EventStore

APPENDERS = 64
STREAMS = 8
ATTEMPTS = 12

DAY = date(2022, 6, 8)


async def test_64_concurrent_appenders_over_8_streams_keep_the_log_exact(
    database_url: str, owner: asyncpg.Connection
) -> None:
    """Positions are exactly 1..N, each stream's versions 1..k, every accepted append present once
    and every rejected one absent — with appenders spread over four processes' worth of stores, so
    the advisory lock (not only the in-process writer) is what orders them."""
    rng = random.Random(20220608)
    pools = [await create_pool(database_url, None, min_size=1, max_size=4) for _ in range(4)]
    stores = [EventStore(pool, CATALOGUE) for pool in pools]
    accepted: list[tuple[str, str, range]] = []
    rejected: list[str] = []
    seen_versions: dict[str, int] = defaultdict(int)

    async def appender(index: int) -> None:
        store = stores[index % len(stores)]
        for attempt in range(ATTEMPTS):
            stream = f"community-s{rng.randrange(STREAMS)}"
            key = f"a{index}-{attempt}"
            # Random expectations: often the last version seen (may be stale), sometimes any or none.
            choice = rng.random()
            if choice < 0.6:
                expected = ExpectedVersion.exactly(seen_versions[stream])
            elif choice < 0.8:
                expected = ExpectedVersion.any()
            else:
                expected = ExpectedVersion.no_stream()
            events = [
                CommunityRenamed(community_id=stream, name=f"{key}/{n}", effective_on=DAY)
                for n in range(rng.randint(1, 3))
            ]
            try:
                result = await store.append(stream, events, expected_version=expected, idempotency_key=key)
            except VersionConflict as conflict:
                rejected.append(key)
                seen_versions[stream] = max(seen_versions[stream], conflict.actual)
            else:
                accepted.append((key, stream, result.positions))
                seen_versions[stream] = max(seen_versions[stream], result.stream_version)
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(appender(i) for i in range(APPENDERS)))
    finally:
        for store in stores:
            await store.close()
        for pool in pools:
            await pool.close()

    assert APPENDERS * ATTEMPTS == len(accepted) + len(rejected)
    assert accepted, "some appends must have been accepted"
    assert rejected, "random stale expectations must have produced conflicts"
    rows = await owner.fetch(
        "select position, stream_id, stream_version, metadata->>'idempotency_key' as key, "
        "payload->>'name' as name from events order by position"
    )
    assert list(range(1, len(rows) + 1)) == [row["position"] for row in rows]
    by_stream: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_stream[row["stream_id"]].append(row["stream_version"])
    for stream, versions in by_stream.items():
        assert list(range(1, len(versions) + 1)) == versions, stream
    keys_in_log = [row["key"] for row in rows]
    for key, stream, positions in accepted:
        assert len(positions) == keys_in_log.count(key), key
        landed = [row for row in rows if row["position"] in positions]
        assert all(row["key"] == key and row["stream_id"] == stream for row in landed), key
    for key in rejected:
        assert key not in keys_in_log
    assert sum(len(positions) for _, _, positions in accepted) == len(rows)


async def test_a_reader_following_positions_never_skips_an_event(database_url: str) -> None:
    """A follower polling read_all(after=cursor) while 4 stores write sees every position exactly once."""
    pools = [await create_pool(database_url, None, min_size=1, max_size=3) for _ in range(4)]
    stores = [EventStore(pool, CATALOGUE) for pool in pools]
    total = 400
    done = asyncio.Event()

    async def writer(index: int) -> None:
        for n in range(total // 40):
            await stores[index % 4].append(
                f"community-w{index}",
                [CommunityRenamed(community_id=f"w{index}", name=str(n), effective_on=DAY)],
                expected_version=ExpectedVersion.any(),
                idempotency_key=f"w{index}-{n}",
            )

    async def follower() -> list[int]:
        seen: list[int] = []
        cursor = 0
        while True:
            finished = done.is_set()
            batch = await stores[0].read_all(after_position=cursor, limit=7)
            seen.extend(r.position for r in batch)
            if batch:
                cursor = batch[-1].position
            elif finished:
                return seen

    try:
        reading = asyncio.ensure_future(follower())
        await asyncio.gather(*(writer(i) for i in range(40)))
        done.set()
        seen = await reading
    finally:
        for store in stores:
            await store.close()
        for pool in pools:
            await pool.close()
    assert list(range(1, total + 1)) == seen


@pytest.mark.parametrize("callers", [16])
async def test_concurrent_retries_of_one_key_write_once(store: EventStore, callers: int) -> None:
    """The same request sent by many callers at once lands once; all of them get its positions."""
    event = CommunityRenamed(community_id="a", name="x", effective_on=DAY)
    results = await asyncio.gather(
        *(
            store.append(
                "community-a", [event], expected_version=ExpectedVersion.any(), idempotency_key="same"
            )
            for _ in range(callers)
        )
    )
    assert {range(1, 2)} == {r.positions for r in results}
    assert 1 == sum(not r.replayed for r in results)
    assert 1 == await store.head()
