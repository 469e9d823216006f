"""Choosing communities in SQL (`directory.community_page`): for any day, filter, direction and cursor, the
statement takes exactly the communities, in exactly the order, that the facts give when sorted in Python
(by the pinyin key of the name on the day, then the name, then id), and counts them as a page of that list
would; and a list whose choice depends on status, paged in Python (`views._by_status`), keeps that order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.hierarchy import CommunityKind, CommunityRegistered, CommunityRenamed, CommunityRetired
from events.recognition import DemonstrationPointDesignated, Level
from events.registry import Event
from projections.community import World
from projections.facts import CommunityFacts
from projections.ordering import name_key
from service.commands.handler import Commands
from service.demo.generator import ARTICLE_END
from service.demo.loader import load_demo
from service.log.pool import create_pool
from service.log.store import EventStore
from service.read.directory import Choice, Chosen, community_page
from service.read.projector import Projector
from service.read.readmodel import whole_world
from service.read.views import CommunityFilter, CommunityOrder, list_communities
from tests.support import domain
from tests.support.pg import create_database, drop_database, unique_name, with_database

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
DAYS = [date(2019, 12, 31), date(2021, 6, 1), date(2022, 6, 8), date(2023, 7, 1), date(2024, 2, 29)]


def named(community_id: str, name: str, *, on: date, village: bool = False) -> CommunityRegistered:
    return CommunityRegistered(
        community_id=community_id,
        town_id="gutang",
        name=name,
        kind=CommunityKind.VILLAGE if village else CommunityKind.COMMUNITY,
        registered_on=on,
    )


# Names whose code point order differs from pinyin order (长 U+957F, 联 U+8054, 沙 U+6C99, 阿 U+963F,
# 安 U+5B89, 白 U+767D, 莲 U+83B2), Latin letters in case, with accents and full-width, a digit; names two
# communities share and homophones (联丰村 and 莲丰村: the name, then the id breaks the tie), renames that
# take effect later than they were recorded (one from 白 to the polyphone 长), a transfer, a retirement, a
# designation, and a community registered after some of the days asked for.
EXTRA: list[Event] = [
    named("x-changfeng", "长丰村", on=date(2021, 1, 1), village=True),
    named("x-lian-b", "联丰村", on=date(2021, 1, 1), village=True),
    named("x-lian-c", "联丰村", on=date(2021, 1, 1), village=True),
    named("x-lian-a", "莲丰村", on=date(2021, 1, 1), village=True),
    named("x-shatian", "沙田村", on=date(2021, 1, 1), village=True),
    named("x-a", "阿岙村", on=date(2021, 1, 1), village=True),
    named("x-an", "安居村", on=date(2021, 1, 1), village=True),
    named("x-bai", "白沙村", on=date(2021, 1, 1), village=True),
    named("x-digit", "3号村", on=date(2021, 1, 1), village=True),
    named("x-letter", "A区社区", on=date(2021, 1, 1)),
    CommunityRenamed(community_id="x-bai", name="长安村", effective_on=date(2023, 6, 1)),
    named("x-apple", "apple社区", on=date(2021, 1, 1)),
    named("x-apple-upper", "Apple社区", on=date(2021, 1, 1)),
    named("x-aepfel", "Äpfel社区", on=date(2021, 1, 1), village=True),
    named("x-full", "Ｚ社区", on=date(2021, 1, 1)),
    named("x-zebra-2", "Zebra社区", on=date(2021, 1, 1)),
    named("x-zebra-1", "Zebra社区", on=date(2023, 1, 1)),
    CommunityRenamed(community_id="x-apple", name="Banana社区", effective_on=date(2023, 6, 1)),
    domain.transfer("x-zebra-2", "gutang", "hushan", date(2022, 1, 1)),
    CommunityRetired(community_id="x-full", reason="merged", effective_on=date(2023, 1, 1)),
    DemonstrationPointDesignated(
        community_id="x-aepfel", level=Level.CITY, designated_on=date(2022, 1, 1), title="示范点"
    ),
]


async def _loaded(url: str) -> World:
    pool = await create_pool(url, None, min_size=1, max_size=4)
    store = EventStore(pool, CATALOGUE)
    try:
        commands = Commands(store, CATALOGUE, clock=lambda: NOW)
        await load_demo(commands, store, until=ARTICLE_END)
        for n, event in enumerate(EXTRA):
            await commands.record(event, idempotency_key=f"extra-{n}")
        await Projector(pool, CATALOGUE).catch_up()
        return await whole_world(pool)
    finally:
        await store.close()
        await pool.close()


@pytest.fixture(scope="module")
def loaded(admin_url: str, template_db: str) -> Iterator[tuple[str, World]]:
    """One database for the module (its tests only read it): the demo and `EXTRA`, projected; and the
    world its facts make."""
    name = unique_name("qinglian_directory")
    asyncio.run(create_database(admin_url, name, template=template_db))
    url = with_database(admin_url, name)
    yield url, asyncio.run(_loaded(url))
    asyncio.run(drop_database(admin_url, name))


@pytest.fixture
def world(loaded: tuple[str, World]) -> World:
    return loaded[1]


@pytest.fixture
async def pool(loaded: tuple[str, World]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(loaded[0], None, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def generation_and_head(pool: asyncpg.Pool) -> tuple[int, int]:
    checkpoint = await Projector(pool, CATALOGUE).checkpoint()
    return checkpoint.generation, checkpoint.position


def expected(world: World, day: date, choice: Choice) -> list[str]:
    """What the facts give: those in scope that pass the filters, sorted in Python."""

    def passes(facts: CommunityFacts) -> bool:
        name = facts.name_on(day) or ""
        levels = {d.level for d in facts.designations if d.designated_on <= day}
        return (
            facts.in_scope_on(day)
            and (choice.town is None or facts.town_on(day) == choice.town)
            and (choice.kind is None or facts.kind is choice.kind)
            and (choice.designation is None or choice.designation in levels)
            and (choice.name_contains is None or choice.name_contains.lower() in name.lower())
        )

    chosen = [
        (name_key(name := f.name_on(day) or ""), name, f.community_id)
        for f in world.communities.values()
        if passes(f)
    ]
    return [ident for *_, ident in sorted(chosen, reverse=choice.descending)]


async def walk(pool: asyncpg.Pool, day: date, choice: Choice, size: int) -> tuple[list[str], list[Chosen]]:
    """Every page of `size` from the start, each continuing after the last one's final community."""
    generation, head = await generation_and_head(pool)
    pages: list[Chosen] = []
    after: tuple[str, str, str] | None = None
    async with pool.acquire() as conn:
        while True:
            page = await community_page(conn, generation, day, replace(choice, after=after, limit=size), head)
            pages.append(page)
            if not page.entries:
                break
            last = page.entries[-1]
            after = (last.name_key, last.name or "", last.community_id)
    return [e.community_id for p in pages for e in p.entries], pages


@pytest.mark.parametrize("day", DAYS)
@pytest.mark.parametrize("descending", [False, True])
async def test_pages_in_sql_are_the_python_order_of_the_facts(
    pool: asyncpg.Pool, world: World, day: date, descending: bool
) -> None:
    choice = Choice(descending=descending)
    want = expected(world, day, choice)
    got, pages = await walk(pool, day, choice, 7)
    assert got == want
    before = 0
    for page in pages:
        assert page.total == len(want)
        assert page.before == before
        before += len(page.entries)


# The communities of EXTRA in pinyin order on two days, written out by hand: what code point order gets
# wrong (it gives 3, A, Apple …, Zebra, Ä, then 安 沙 白 联 莲 长 阿), the polyphone 长 read cháng, a name
# shared and a homophone, the rename of 白沙村 to 长安村 on 2023-06-01 (and apple社区 to Banana社区), and
# the full-width Z retired on 2023-01-01 and the second Zebra registered then.
PINYIN_ORDER = {
    date(2022, 6, 8): [
        "x-digit",  # 3号村: 3 hao4 cun1, digits before letters
        "x-letter",  # A区社区: a qu1 …, a shorter syllable before a longer one
        "x-a",  # 阿岙村: a1 ao4 cun1
        "x-an",  # 安居村: an1 ju1 cun1
        "x-aepfel",  # Äpfel社区: apfel she4 qu1
        "x-apple-upper",  # Apple社区 and apple社区: one key, so by the name (A before a)
        "x-apple",
        "x-bai",  # 白沙村: bai2 sha1 cun1
        "x-changfeng",  # 长丰村: chang2 feng1 cun1
        "x-lian-b",  # 联丰村 twice, by id, then the homophone 莲丰村 (联 U+8054 before 莲 U+83B2)
        "x-lian-c",
        "x-lian-a",
        "x-shatian",  # 沙田村: sha1 tian2 cun1
        "x-full",  # Ｚ社区: z she4 qu1
        "x-zebra-2",  # Zebra社区: zebra she4 qu1
    ],
    date(2023, 7, 1): [
        "x-digit",
        "x-letter",
        "x-a",
        "x-an",
        "x-aepfel",
        "x-apple-upper",
        "x-apple",  # Banana社区 since 2023-06-01
        "x-bai",  # 长安村 since 2023-06-01: chang2 an1 cun1
        "x-changfeng",
        "x-lian-b",
        "x-lian-c",
        "x-lian-a",
        "x-shatian",
        "x-zebra-1",
        "x-zebra-2",
    ],
}


@pytest.mark.parametrize("day", sorted(PINYIN_ORDER))
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("size", [1, 2, 100])
async def test_pinyin_order_not_code_points_and_the_name_then_the_id_break_a_tie(
    pool: asyncpg.Pool, world: World, day: date, descending: bool, size: int
) -> None:
    got, _ = await walk(pool, day, Choice(descending=descending), size)
    want = PINYIN_ORDER[day][::-1] if descending else PINYIN_ORDER[day]
    assert [c for c in got if c.startswith("x-")] == want
    assert len(got) == len(set(got)) == len(expected(world, day, Choice()))


@pytest.mark.parametrize(
    "choice",
    [
        Choice(town="gutang"),
        Choice(town="hushan", descending=True),
        Choice(kind=CommunityKind.VILLAGE),
        Choice(designation=Level.CITY),
        Choice(name_contains="APPLE"),
        Choice(name_contains="苑", town="gutang"),
        Choice(name_contains="no such name"),
        Choice(name_contains="丰村", kind=CommunityKind.VILLAGE),
        Choice(name_contains="丰村", descending=True),
    ],
)
async def test_filters_are_the_facts_filters(pool: asyncpg.Pool, world: World, choice: Choice) -> None:
    for day in DAYS:
        want = expected(world, day, choice)
        got, pages = await walk(pool, day, choice, 5)
        assert got == want, day
        assert all(page.total == len(want) for page in pages)


async def test_a_cursor_past_the_end_or_between_items_counts_what_precedes_it(
    pool: asyncpg.Pool, world: World
) -> None:
    day = date(2022, 6, 8)
    want = expected(world, day, Choice())
    generation, head = await generation_and_head(pool)
    async with pool.acquire() as conn:
        beyond = await community_page(
            conn, generation, day, Choice(after=("\U0010ffff", "", ""), limit=5), head
        )
        assert (beyond.entries, beyond.total, beyond.before) == ([], len(want), len(want))
        # A cursor need not name a community that exists: the page starts after where it would stand.
        cursor = ("apple she4 qu1", "apple社区", "x-apple-0")
        between = await community_page(conn, generation, day, Choice(after=cursor, limit=3), head)
        rest = [i for i in want if (name_key(n := world.communities[i].name_on(day) or ""), n, i) > cursor]
        assert [e.community_id for e in between.entries] == rest[:3]
        assert between.before == len(want) - len(rest)
        nothing = await community_page(conn, generation, day, Choice(limit=0), head)
        assert (nothing.entries, nothing.total, nothing.before) == ([], len(want), 0)


async def test_as_the_log_stood_leaves_out_what_came_later(pool: asyncpg.Pool, world: World) -> None:
    generation, head = await generation_and_head(pool)
    size = world.communities["x-changfeng"].registrations[0].position - 1
    async with pool.acquire() as conn:
        then = await community_page(conn, generation, date(2024, 2, 29), Choice(), size)
        now = await community_page(conn, generation, date(2024, 2, 29), Choice(), head)
    assert not any(e.community_id.startswith("x-") for e in then.entries)
    assert now.total == then.total + 15  # sixteen registered, one retired by then


async def listed(
    pool: asyncpg.Pool, world: World, day: date, where: CommunityFilter, descending: bool, size: int
) -> list[tuple[str, bool]]:
    """Every page of `size` of the API's list by name, each after the last one's cursor: (id, whether
    standardized)."""
    generation, _ = await generation_and_head(pool)
    items: list[tuple[str, bool]] = []
    after: str | None = None
    while True:
        page = await list_communities(
            pool,
            generation,
            world,
            day,
            where=where,
            order=CommunityOrder.NAME,
            descending=descending,
            first=size,
            after=after,
        )
        items += [(view.facts.community_id, view.status.standardized) for _, view in page.items]
        if not page.has_next:
            return items
        after = page.items[-1][0]


@pytest.mark.parametrize("descending", [False, True])
async def test_a_list_by_name_filtered_by_status_keeps_the_sql_order(
    pool: asyncpg.Pool, world: World, descending: bool
) -> None:
    day = date(2022, 6, 8)  # standardized communities and others (on 2024-02-29, none is standardized)
    # Without a filter on status the list is chosen in SQL; with one, every candidate is sorted and the page
    # cut in Python (`views._by_status`), and small pages walk through the ties (Zebra社区, 联丰村).
    whole = await listed(pool, world, day, CommunityFilter(), descending, 3)
    assert [ident for ident, _ in whole] == expected(world, day, Choice(descending=descending))
    for standardized in (True, False):
        some = await listed(pool, world, day, CommunityFilter(standardized=standardized), descending, 2)
        assert some == [(ident, s) for ident, s in whole if s is standardized]
        assert some  # the demo has communities of both kinds on these days
