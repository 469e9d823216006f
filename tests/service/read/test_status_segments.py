"""Stored status segments, on a real PostgreSQL: after the demo, a back-dated record, a standard revised
and a rebuild, every community's stored segments are its timeline, and a day's coverage read from them
in SQL is the article's 93 of 100."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.disclosure import DisclosureCategory
from events.standard import StandardRevised
from projections.community import World
from projections.standards import DEFAULT_STANDARD
from projections.timeline import Segment, shape, timeline
from service.commands.handler import Commands
from service.demo.generator import ARTICLE_END
from service.demo.loader import load_demo
from service.log.store import EventStore
from service.read.projector import Projector, rebuild
from service.read.queries import query
from service.read.readmodel import whole_world
from service.read.status import StatusKeeper, horizon, segment_of
from tests.support import domain

NOW = datetime(2022, 7, 1, 2, 0, tzinfo=UTC)
LAST = horizon(date(2022, 7, 1))


@pytest.fixture
def commands(store: EventStore) -> Commands:
    return Commands(store, CATALOGUE, clock=lambda: NOW)


@pytest.fixture
def keeper(pool: asyncpg.Pool) -> StatusKeeper:
    return StatusKeeper(pool, clock=lambda: NOW, batch_size=17)


async def caught_up(pool: asyncpg.Pool, keeper: StatusKeeper) -> World:
    await Projector(pool, CATALOGUE).catch_up()
    await keeper.catch_up()
    assert 0 == await keeper.pending()
    return await whole_world(pool)


def comparable(segments: list[Segment]) -> list[tuple[object, ...]]:
    return [(s.valid_from, s.valid_to, s.town_id, shape(s.status)) for s in segments]


async def assert_stored_is_the_timeline(pool: asyncpg.Pool, world: World) -> None:
    generation = (await Projector(pool, CATALOGUE).checkpoint()).generation
    rows = await pool.fetch(query("load_segments"), generation, list(world.communities))
    stored: dict[str, list[Segment]] = {}
    for row in rows:
        stored.setdefault(row["community_id"], []).append(segment_of(row))
    for community_id, facts in world.communities.items():
        assert facts.registered_on is not None
        expected = timeline(facts, world.standards, facts.registered_on, LAST)
        assert comparable(expected) == comparable(stored[community_id]), community_id
        # Each row is known from the facts it came from: the community's and the standard's.
        known = max(facts.position, *(s.position for s in world.standards))
        assert max(s.status.position for s in stored[community_id]) <= known


async def coverage_on(pool: asyncpg.Pool, day: date) -> tuple[int, int]:
    generation = (await Projector(pool, CATALOGUE).checkpoint()).generation
    rows = await pool.fetch(query("status_on"), generation, day)
    in_scope = [r for r in rows if r["in_scope"]]
    return sum(r["standardized"] for r in in_scope), len(in_scope)


async def test_the_demos_stored_status_is_its_timeline_and_gives_the_articles_coverage(
    pool: asyncpg.Pool, store: EventStore, commands: Commands, keeper: StatusKeeper
) -> None:
    await load_demo(commands, store, until=ARTICLE_END)
    world = await caught_up(pool, keeper)
    await assert_stored_is_the_timeline(pool, world)
    assert (93, 100) == await coverage_on(pool, date(2022, 6, 8))
    assert (0, 0) == await coverage_on(pool, date(2020, 12, 31))


async def test_a_back_dated_record_is_recomputed_from_its_day_only(
    pool: asyncpg.Pool, store: EventStore, commands: Commands, keeper: StatusKeeper
) -> None:
    await load_demo(commands, store, until=ARTICLE_END)
    world = await caught_up(pool, keeper)
    # yujia never publishes its 2022-Q1 finance disclosure in the demo; publish it late, back-dated.
    late = domain.disclosure("yujia", DisclosureCategory.FINANCE, "2022-Q1", date(2022, 6, 20))
    await commands.record(late, idempotency_key="late")
    await Projector(pool, CATALOGUE).catch_up()
    generation = (await Projector(pool, CATALOGUE).checkpoint()).generation
    pending = await pool.fetch(
        "select community_id, since from status_pending where generation = $1", generation
    )
    assert [("yujia", date(2022, 6, 20))] == [(r["community_id"], r["since"]) for r in pending]
    before = await coverage_on(pool, date(2022, 6, 8))
    world = await caught_up(pool, keeper)
    await assert_stored_is_the_timeline(pool, world)
    assert before == await coverage_on(pool, date(2022, 6, 8))  # the days before it are as they were


async def test_a_standard_revised_recomputes_every_community_from_its_effective_date(
    pool: asyncpg.Pool, store: EventStore, commands: Commands, keeper: StatusKeeper
) -> None:
    await load_demo(commands, store, until=ARTICLE_END)
    await caught_up(pool, keeper)
    before = await coverage_on(pool, date(2022, 6, 8))
    kept = tuple(c for c in DEFAULT_STANDARD.criteria if c.criterion_id != "finance-quarterly")
    revised = StandardRevised(version=2, effective_from=date(2022, 6, 9), title="v2", criteria=kept)
    await commands.record(revised, idempotency_key="v2")
    await Projector(pool, CATALOGUE).catch_up()
    assert 100 == await keeper.pending()
    world = await caught_up(pool, keeper)
    await assert_stored_is_the_timeline(pool, world)
    assert before == await coverage_on(pool, date(2022, 6, 8))
    standardized, whole = await coverage_on(pool, date(2022, 6, 9))
    assert (100, True) == (whole, standardized > before[0])  # a criterion fewer: more are standardized


async def test_a_rebuild_recomputes_the_new_generations_status(
    pool: asyncpg.Pool, store: EventStore, commands: Commands, keeper: StatusKeeper
) -> None:
    await load_demo(commands, store, until=ARTICLE_END)
    await caught_up(pool, keeper)
    await rebuild(pool, CATALOGUE)
    assert 100 == await keeper.pending()
    world = await caught_up(pool, keeper)
    await assert_stored_is_the_timeline(pool, world)
    assert (93, 100) == await coverage_on(pool, date(2022, 6, 8))
    generations = await pool.fetch("select distinct generation from status_segments")
    assert [(await Projector(pool, CATALOGUE).checkpoint()).generation] == [
        g["generation"] for g in generations
    ]
