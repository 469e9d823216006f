"""Records in tables: every fact the projector folds is a row of its table, in the same transaction, for
the live generation; a rebuild writes the next generation's and drops the old; a database projected before
the tables existed gets them by one rebuild."""

from __future__ import annotations

import dataclasses
import enum
from datetime import date
from typing import Any

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.envelope import ExpectedVersion
from events.hierarchy import CommunityRenamed
from projections.community import World
from projections.ordering import name_key
from service.commands.handler import Commands
from service.demo.generator import ARTICLE_END
from service.demo.loader import load_demo
from service.log.store import EventStore
from service.read.projector import Projector, fill_missing_records, rebuild
from service.read.readmodel import whole_world
from service.read.records import COLUMNS, FACTS, read_facts
from tests.support import domain


@pytest.fixture
async def world(pool: asyncpg.Pool, store: EventStore) -> World:
    await load_demo(Commands(store, CATALOGUE), store, until=ARTICLE_END)
    await Projector(pool, CATALOGUE).catch_up()
    return await whole_world(pool)


def expected_rows(world: World, field: str) -> list[tuple[Any, ...]]:
    """A field's facts of every community, as rows: enums by value, tuples as lists."""
    rows = []
    for community_id, facts in world.communities.items():
        for fact in getattr(facts, field):
            values = [getattr(fact, f.name) for f in dataclasses.fields(fact)]
            cells = [
                v.value if isinstance(v, enum.Enum) else list(v) if isinstance(v, tuple) else v
                for v in values
            ]
            rows.append((community_id, *cells))
    return sorted(rows, key=repr)


async def stored_rows(pool: asyncpg.Pool, table: str, generation: int) -> list[tuple[Any, ...]]:
    columns = ", ".join(c for c in COLUMNS[table][1:] if c not in ("ordinal", "name_key"))
    found = await pool.fetch(f"select {columns} from {table} where generation = $1", generation)
    return sorted((tuple(r) for r in found), key=repr)


async def live_generation(pool: asyncpg.Pool) -> int:
    return (await Projector(pool, CATALOGUE).checkpoint()).generation


async def test_every_fact_of_every_community_is_a_row_of_its_table(pool: asyncpg.Pool, world: World) -> None:
    generation = await live_generation(pool)
    counted = 0
    for field, (table, _) in FACTS.items():
        expected = expected_rows(world, field)
        assert expected == await stored_rows(pool, table, generation), table
        counted += len(expected)
    # The demo records every kind the tables hold but reports' closures and talents at least.
    assert counted > 4000
    for field in ("disclosures", "trainings", "rules", "meetings", "spot_checks", "findings", "designations"):
        assert expected_rows(world, field), field


async def test_a_rebuild_writes_the_next_generation_and_drops_the_old(
    pool: asyncpg.Pool, world: World
) -> None:
    before = await live_generation(pool)
    await rebuild(pool, CATALOGUE)
    after = await live_generation(pool)
    assert after == before + 1
    for field, (table, _) in FACTS.items():
        assert expected_rows(world, field) == await stored_rows(pool, table, after), table
        assert [] == await stored_rows(pool, table, before), table


async def test_a_database_projected_before_the_tables_gets_them_by_one_rebuild(
    pool: asyncpg.Pool, owner: asyncpg.Connection, world: World
) -> None:
    assert not await fill_missing_records(pool, CATALOGUE)  # the projector wrote them: nothing to do
    generation = await live_generation(pool)
    for table, _ in FACTS.values():
        await owner.execute(f"delete from {table}")
    assert await fill_missing_records(pool, CATALOGUE)
    live = await live_generation(pool)
    assert live == generation + 1
    for field, (table, _) in FACTS.items():
        assert expected_rows(world, field) == await stored_rows(pool, table, live), table
    assert not await fill_missing_records(pool, CATALOGUE)


async def test_each_name_holds_its_pinyin_key_and_a_database_without_keys_gets_them_by_one_rebuild(
    pool: asyncpg.Pool, owner: asyncpg.Connection, world: World
) -> None:
    async def keys(generation: int) -> dict[str, str | None]:
        rows = await pool.fetch(
            "select name, name_key from community_names where generation = $1", generation
        )
        return {r["name"]: r["name_key"] for r in rows}

    generation = await live_generation(pool)
    stored = await keys(generation)
    assert stored == {name: name_key(name) for name in stored}
    assert stored["长丰村"] == "chang2 feng1 cun1"  # the demo's 长丰, read cháng as a place name
    # A database migrated to 0013 whose names were written before: no keys, which one rebuild writes.
    await owner.execute("update community_names set name_key = null where name like '长%'")
    assert await fill_missing_records(pool, CATALOGUE)
    live = await live_generation(pool)
    assert live == generation + 1
    assert await keys(live) == stored
    assert not await fill_missing_records(pool, CATALOGUE)


async def test_the_service_may_read_and_append_records_but_not_change_them(
    pool: asyncpg.Pool, world: World
) -> None:
    generation = await live_generation(pool)
    async with pool.acquire() as conn:
        assert await conn.fetchval("select count(*) from disclosures where generation = $1", generation) > 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("update disclosures set title = 'x'")


async def test_a_communitys_facts_read_from_the_tables_are_its_folded_facts(
    pool: asyncpg.Pool, world: World
) -> None:
    generation = await live_generation(pool)
    ids = sorted(world.communities)
    async with pool.acquire() as conn:
        loaded = await read_facts(conn, generation, ids)
        assert {c: world.communities[c] for c in ids} == loaded
        # As the log stood at earlier sizes: the facts cut at each (a community not registered yet, absent).
        for size in (1, world.position // 3, world.position // 2, world.position - 1):
            cut = await read_facts(conn, generation, ids, size)
            expected = {c: f.up_to(size) for c, f in world.communities.items() if f.up_to(size).registrations}
            assert expected == cut, size
        assert {} == await read_facts(conn, generation, ["nowhere"])


async def test_dates_stored_as_infinity_are_read_back_as_the_calendar_ends(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    # Such dates are refused since (projections/decisions.py), but a log may hold them: a rename effective
    # 9999-12-31 was stored as infinity, and no fact of the community could be read back after it.
    any_version = ExpectedVersion.any()
    await store.append("town-a", [domain.town("a")], expected_version=any_version, idempotency_key="t")
    renames = [
        CommunityRenamed(community_id="c1", name="后来", effective_on=date.max),
        CommunityRenamed(community_id="c1", name="起初", effective_on=date.min),
        # A text that says "infinity" is a text, not a date.
        CommunityRenamed(community_id="c1", name="infinity", effective_on=date(2022, 1, 1)),
    ]
    await store.append(
        "community-c1",
        [domain.community("c1", "a"), *renames],
        expected_version=any_version,
        idempotency_key="c",
    )
    await Projector(pool, CATALOGUE).catch_up()
    async with pool.acquire() as conn:
        facts = await read_facts(conn, await live_generation(pool), ["c1"])
    assert [date.max, date.min, date(2022, 1, 1)] == [named.since for named in facts["c1"].names[-3:]]
    assert "infinity" == facts["c1"].names[-1].name
