"""The projection runner: batches, resumption, rebuild and read-your-writes, on a real PostgreSQL."""

from __future__ import annotations

import random
from datetime import date

import asyncpg

from events.catalogue import CATALOGUE
from events.envelope import ExpectedVersion
from events.registry import Event
from projections.community import World, fold_world
from service.log.store import EventStore
from service.read.projector import Projector, decode_all, rebuild
from service.read.readmodel import ReadModel, whole_world
from tests.support import domain

ANY = ExpectedVersion.any()


async def seed(store: EventStore, communities: int = 4, years: tuple[int, ...] = (2021,)) -> int:
    await store.append("town-a", [domain.town("a")], expected_version=ANY, idempotency_key="town-a")
    await store.append(
        "town-b", [domain.town("b", "浒山街道")], expected_version=ANY, idempotency_key="town-b"
    )
    await store.append(
        "standard-main", [domain.standard()], expected_version=ANY, idempotency_key="standard-1"
    )
    for n in range(communities):
        cid = f"c{n}"
        events: list[Event] = [domain.community(cid, "ab"[n % 2])]
        for year in years:
            events += domain.busy_year(cid, year)
        await store.append(f"community-{cid}", events, expected_version=ANY, idempotency_key=cid)
    await store.append(
        "community-c0",
        [domain.transfer("c0", "a", "b", date(2021, 7, 1))],
        expected_version=ANY,
        idempotency_key="move-c0",
    )
    return await store.head()


async def reference(store: EventStore) -> World:
    return fold_world(World(), decode_all(CATALOGUE, await store.read_all(limit=100_000)))


def comparable(world: World) -> tuple[object, ...]:
    return (dict(world.towns), dict(world.communities), world.standards)


async def test_the_runner_folds_the_log_into_facts_equal_to_a_full_replay(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    head = await seed(store)
    projector = Projector(pool, CATALOGUE, batch_size=7)
    assert head == await projector.catch_up()
    assert head == (await projector.checkpoint()).position
    world = await whole_world(pool)
    assert comparable(await reference(store)) == comparable(world)
    assert head == world.position
    assert "b" == world.communities["c0"].town_on(date(2021, 8, 1))


async def test_resuming_in_random_batches_equals_one_full_replay(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    rng = random.Random(7)
    await seed(store, communities=3)
    read_model = ReadModel(pool)
    while True:
        projector = Projector(pool, CATALOGUE, batch_size=rng.randint(1, 40))
        if not await projector.step():
            break
        await read_model.world()  # the cache refreshes incrementally between batches
    expected = await reference(store)
    # The cache holds the towns and the standard; the communities are rows of the record tables.
    cached = await read_model.world()
    assert (dict(expected.towns), expected.standards, {}) == (
        dict(cached.towns),
        cached.standards,
        cached.communities,
    )
    assert comparable(expected) == comparable(await whole_world(pool))


async def test_reading_ahead_in_full_batches_equals_one_full_replay(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    head = await seed(store)
    projector = Projector(pool, CATALOGUE)
    applied = 0
    try:
        while step := await projector.step(5, read_ahead=True):
            applied += step
    finally:
        await projector.drop_read_ahead()
    assert head == applied == (await projector.checkpoint()).position
    assert comparable(await reference(store)) == comparable(await whole_world(pool))


async def test_a_page_read_ahead_is_not_taken_once_another_runner_moved_the_checkpoint(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    head = await seed(store)
    ahead, other = Projector(pool, CATALOGUE), Projector(pool, CATALOGUE)
    assert 5 == await ahead.step(5, read_ahead=True)  # reads events 6 to 10 ahead
    assert 3 == await other.step(3)  # another replica folds 6 to 8 meanwhile
    applied = 8
    try:
        while step := await ahead.step(5, read_ahead=True):
            applied += step
    finally:
        await ahead.drop_read_ahead()
    assert head == applied
    assert comparable(await reference(store)) == comparable(await whole_world(pool))


async def test_a_rebuild_gives_identical_facts_in_a_new_generation(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    await seed(store)
    projector = Projector(pool, CATALOGUE)
    await projector.catch_up()
    before = await whole_world(pool)
    generation = (await projector.checkpoint()).generation
    seen: list[tuple[int, int]] = []
    checkpoint = await rebuild(
        pool, CATALOGUE, batch_size=10, progress=lambda done, total: seen.append((done, total))
    )
    assert generation + 1 == checkpoint.generation
    assert seen
    assert seen[-1][0] == seen[-1][1] == await store.head()
    after = await whole_world(pool)
    assert comparable(before) == comparable(after)
    generations = await pool.fetch("select distinct generation from facts")
    assert [generation + 1] == [g["generation"] for g in generations]


async def test_read_your_writes_waits_for_the_projection(pool: asyncpg.Pool, store: EventStore) -> None:
    await seed(store, communities=1)
    projector = Projector(pool, CATALOGUE)
    head = await store.head()
    assert not await projector.wait_for(head, within=0.1)
    await projector.catch_up()
    assert await projector.wait_for(head, within=0.1)


async def test_stored_facts_as_of_any_position_equal_a_replay_up_to_it(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    """Time travel by position is served from the stored facts, and matches a replay of the log's prefix."""
    rng = random.Random(11)
    head = await seed(store, communities=3, years=(2021, 2022))
    await Projector(pool, CATALOGUE).catch_up()
    stored = await whole_world(pool)
    everything = decode_all(CATALOGUE, await store.read_all(limit=100_000))
    for position in sorted(rng.sample(range(0, head + 1), 12)):
        replayed = fold_world(
            World(), [(rec, event) for rec, event in everything if rec.position <= position]
        )
        for community_id, facts in stored.communities.items():
            expected = replayed.communities.get(community_id)
            travelled = facts.up_to(position)
            if expected is None:
                assert travelled.registered_on is None
                assert 0 == travelled.last_position()
            else:
                assert expected == travelled, (community_id, position)
