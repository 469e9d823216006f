"""The demo: recorded through the commands, it shows the article's figures as the projections compute them."""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import fields
from datetime import date, datetime, timedelta

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.hierarchy import CommunityRegistered, TownRegistered
from events.recognition import Level
from events.training import TrainingKind
from projections.community import World, evolve_world
from projections.coverage import Share, coverage, disclosure_rate
from projections.evaluation import evaluate
from projections.localtime import SHANGHAI
from projections.standards import DEFAULT_STANDARD
from service.commands.handler import Commands, install_default_standard
from service.demo.generator import (
    ARTICLE_END,
    AS_OF,
    DEFAULT_SEED,
    FAILURES,
    FIRST_DAY,
    TROUBLES,
    Demo,
    DemoCommand,
    generate_demo,
)
from service.demo.loader import DemoRefused, load_demo
from service.log.store import EventStore
from service.read.projector import Projector
from service.read.readmodel import whole_world
from tests.support import domain

# The loader's clock stands on the article's last day: the demo runs to it, and the commands refuse any
# date after it.
LAST_MOMENT = datetime(2022, 6, 30, 18, 0, tzinfo=SHANGHAI)
# A later day the demo runs to, as if loaded then.
LATER = date(2026, 11, 30)
# Two days the demo is loaded to, one after the other, in the tests on PostgreSQL.
EARLIER, TOPPED = date(2023, 1, 20), date(2023, 11, 20)
TOWNS = {
    "zonghan": "宗汉街道",
    "kandun": "坎墩街道",
    "hushan": "浒山街道",
    "baishalu": "白沙路街道",
    "gutang": "古塘街道",
    "zhangqi": "掌起镇",
    "guanhaiwei": "观海卫镇",
    "fuhai": "附海镇",
    "qiaotou": "桥头镇",
    "kuangyan": "匡堰镇",
    "xiaolin": "逍林镇",
    "xinpu": "新浦镇",
    "shengshan": "胜山镇",
    "henghe": "横河镇",
    "chongshou": "崇寿镇",
    "andong": "庵东镇",
    "changhe": "长河镇",
    "zhouxiang": "周巷镇",
    "longshan": "龙山镇",
}
REAL_COMMUNITIES = {
    "shuyuan": "古塘街道舒苑社区",
    "yubo": "浒山街道虞波社区",
    "baiguoshu": "白沙路街道白果树社区",
}


@functools.cache
def demo(seed: int = DEFAULT_SEED, until: date = ARTICLE_END) -> Demo:
    return generate_demo(seed, until=until)


def folded(demo: Demo) -> World:
    """The world the demo's events describe, folded in memory (positions in recording order)."""
    world = evolve_world(World(), 1, DEFAULT_STANDARD)
    for position, command in enumerate(demo.commands, start=2):
        world = evolve_world(world, position, command.event)
    return world


def full_name(world: World, community_id: str, on: date) -> str:
    facts = world.communities[community_id]
    return f"{world.towns[facts.town_on(on) or ''].name}{facts.name_on(on)}"


def assert_the_articles_figures(world: World, demo: Demo) -> None:
    """What the article reports, and what the demo was built to show, as the projections compute it."""
    assert TOWNS == {town_id: town.name for town_id, town in world.towns.items()}
    assert {"cixi"} == {town.city_id for town in world.towns.values()}

    towns, city = coverage(world, AS_OF)
    assert Share(whole=100, part=93) == city.share
    assert 0.93 == city.share.rate
    assert 100 == sum(t.share.whole for t in towns)
    _, disclosed = disclosure_rate(world, 2021, AS_OF)
    assert Share(whole=100, part=100) == disclosed.share
    assert 1.0 == disclosed.share.rate

    standard = world.standard_on(AS_OF)
    statuses = [evaluate(facts, standard, AS_OF) for facts in world.communities.values()]
    failing = {s.community_id: s.unmet for s in statuses if not s.standardized}
    # Each of the seven misses exactly the one criterion planned for it, and no two miss the same one.
    assert {cid: failure.criterion_id for cid, failure in demo.failing.items()} == {
        cid: next(u.criterion_id for u in unmet) for cid, unmet in failing.items()
    }
    assert [1] * 7 == [len(unmet) for unmet in failing.values()]
    assert 7 == len({unmet[0].criterion_id for unmet in failing.values()})
    assert {f.criterion_id for f in FAILURES} == {unmet[0].criterion_id for unmet in failing.values()}
    for unmet in failing.values():  # each says what is missing, in a sentence
        assert len(unmet[0].detail.split()) >= 5, unmet[0].detail

    names = {cid: full_name(world, cid, AS_OF) for cid in world.communities}
    assert REAL_COMMUNITIES == {cid: names[cid] for cid in REAL_COMMUNITIES}
    assert 100 == len(set(names.values()))
    shuyuan = world.communities["shuyuan"]
    assert [Level.PREFECTURE] == [d.level for d in shuyuan.designations]
    city_points = [
        cid for cid, facts in world.communities.items() for d in facts.designations if d.level is Level.CITY
    ]
    assert 5 == len(set(city_points)) == len(city_points)
    talents = Counter(t.level for facts in world.communities.values() for t in facts.talents)
    assert {Level.PROVINCIAL: 2, Level.PREFECTURE: 6} == talents

    moved = [cid for cid, facts in world.communities.items() if len(facts.memberships) > 1]
    assert [demo.transfer.community_id] == moved
    facts = world.communities[moved[0]]
    before, after = demo.transfer.effective_on - timedelta(days=1), demo.transfer.effective_on
    assert demo.transfer.from_town_id == facts.town_on(before)
    assert demo.transfer.to_town_id == facts.town_on(after)
    assert facts.town_on(before) != facts.town_on(after)
    assert evaluate(facts, standard, AS_OF).standardized


# -- generation (pure) ---------------------------------------------------------------------------------------


def dates_of(command: DemoCommand) -> list[date]:
    values = [getattr(command.event, f.name) for f in fields(command.event)]  # type: ignore[arg-type]
    return [value for value in values if isinstance(value, date)]


def test_one_seed_and_last_day_always_give_the_same_commands() -> None:
    assert (
        generate_demo(DEFAULT_SEED, until=LATER).commands == generate_demo(DEFAULT_SEED, until=LATER).commands
    )
    assert generate_demo(3, until=ARTICLE_END).commands == generate_demo(3, until=ARTICLE_END).commands


def test_a_later_last_day_only_appends_the_days_between() -> None:
    for earlier, later in ((ARTICLE_END, date(2023, 2, 14)), (EARLIER, TOPPED), (date(2024, 5, 31), LATER)):
        first, second = demo(until=earlier).commands, demo(until=later).commands
        assert first == second[: len(first)]
        added = second[len(first) :]
        assert added
        assert all(earlier < day <= later for command in added for day in dates_of(command))


def test_no_last_day_before_the_articles_records_end() -> None:
    with pytest.raises(ValueError, match="2022-06-30"):
        generate_demo(until=AS_OF)


def test_another_seed_gives_other_commands_with_the_same_figures() -> None:
    for seed in (1, 2024):
        other = demo(seed)
        assert demo().commands != other.commands
        assert demo().failing != other.failing
        assert_the_articles_figures(folded(other), other)


def test_the_default_demo_shows_the_articles_figures_in_memory() -> None:
    assert_the_articles_figures(folded(demo()), demo())


def test_the_articles_figures_stay_whatever_the_last_day() -> None:
    assert_the_articles_figures(folded(demo(until=LATER)), demo(until=LATER))


def test_after_the_article_a_few_fall_short_at_any_time_each_for_its_own_reason() -> None:
    later = demo(until=LATER)
    world = folded(later)
    standard = world.standard_on(LATER)
    day, wrong, seen = AS_OF, [], set[tuple[str, str]]()
    while day <= LATER:
        statuses = [evaluate(facts, standard, day) for facts in world.communities.values()]
        failing = {s.community_id: [u.criterion_id for u in s.unmet] for s in statuses if not s.standardized}
        intended = later.failing_on(day)
        if failing != {cid: [failure.criterion_id] for cid, failure in intended.items()}:
            wrong.append((day, failing, intended))
        seen.update((cid, f.criterion_id) for cid, f in intended.items())
        day += timedelta(days=5)
    assert [] == wrong
    # Each trouble has passed from community to community; the article's seven only ever miss their own.
    troubled = Counter(kind for cid, kind in seen if cid not in later.failing)
    assert set(TROUBLES) == set(troubled)
    assert all(count >= 4 for count in troubled.values()), troubled
    article = {(cid, failure.criterion_id) for cid, failure in later.failing.items()}
    assert article == {(cid, kind) for cid, kind in seen if cid in later.failing}


def test_on_the_last_day_most_are_standardized_and_each_other_falls_short_for_a_different_reason() -> None:
    later = demo(until=LATER)
    world = folded(later)
    statuses = [evaluate(facts, world.standard_on(LATER), LATER) for facts in world.communities.values()]
    failing = {s.community_id: s.unmet for s in statuses if not s.standardized}
    assert 95 == len(statuses) - len(failing)
    assert sorted(TROUBLES) == sorted(unmet[0].criterion_id for unmet in failing.values())
    assert {cid: f.criterion_id for cid, f in later.failing_on(LATER).items()} == {
        cid: unmet[0].criterion_id for cid, unmet in failing.items()
    }
    assert [1] * 5 == [len(unmet) for unmet in failing.values()]
    # The reason names what is missing, as of the day: nothing after it.
    for failure in later.failing_on(LATER).values():
        assert all(day <= LATER for day in map(date.fromisoformat, _iso_dates(failure.reason)))


def _iso_dates(text: str) -> list[str]:
    return re.findall(r"\d{4}-\d{2}-\d{2}", text)


def test_every_date_lies_within_the_demo() -> None:
    late, early = [], []
    for command in demo(until=LATER).commands:
        for field in fields(command.event):  # type: ignore[arg-type]
            value = getattr(command.event, field.name)
            if not isinstance(value, date):
                continue
            if value > LATER:
                late.append((command.idempotency_key, field.name, value))
            # Only the rules in force may predate the programme: they were adopted before it began.
            if value < FIRST_DAY and field.name != "adopted_on":
                early.append((command.idempotency_key, field.name, value))
    assert ([], []) == (late, early)


def test_idempotency_keys_are_unique_and_name_the_seed() -> None:
    keys = [c.idempotency_key for c in demo(7, LATER).commands]
    assert len(keys) == len(set(keys))
    assert all(key.startswith("demo-7-") for key in keys)


def test_the_records_come_in_an_order_a_clerk_could_enter_them() -> None:
    commands = demo().commands
    kinds = [type(c.event) for c in commands]
    assert [TownRegistered] * 19 == kinds[:19]
    assert [CommunityRegistered] * 100 == kinds[19:119]


def test_invented_records_are_marked_synthetic_and_real_ones_name_their_source() -> None:
    real: list[str] = []
    for command in demo(until=LATER).commands:
        metadata = command.metadata
        assert "demo" == metadata["actor"]
        if metadata["synthetic"] is False:
            assert isinstance(metadata["source"], str)
            real.append(type(command.event).__name__)
        else:
            assert True is metadata["synthetic"]
            assert "source" not in metadata
    # The towns, the three communities the article names, and 舒苑's designation.
    assert {"TownRegistered": 19, "CommunityRegistered": 3, "DemonstrationPointDesignated": 1} == Counter(
        real
    )
    registered = {
        c.event.community_id: c.metadata["synthetic"]
        for c in demo(until=LATER).commands
        if isinstance(c.event, CommunityRegistered)
    }
    assert {cid: False for cid in REAL_COMMUNITIES} == {cid: s for cid, s in registered.items() if not s}


# -- loading (PostgreSQL) ------------------------------------------------------------------------------------


async def test_the_demo_loads_into_an_empty_database_with_the_articles_figures(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    # The commands' clock says which day the demo runs to.
    commands = Commands(store, CATALOGUE, clock=lambda: LAST_MOMENT)
    loaded = await load_demo(commands, store)

    assert ARTICLE_END == loaded.until
    assert len(demo().commands) == loaded.written
    assert 0 == loaded.replayed
    assert loaded.standard_installed
    assert 1 + len(demo().commands) == await store.head()

    await Projector(pool, CATALOGUE).catch_up()
    world = await whole_world(pool)
    assert_the_articles_figures(world, demo())


async def test_loading_twice_adds_nothing(store: EventStore) -> None:
    commands = Commands(store, CATALOGUE)
    # `serve` installs the standard at start; the demo then loads over it.
    await install_default_standard(commands, store)
    first = await load_demo(commands, store, until=EARLIER)
    head = await store.head()

    again = await load_demo(commands, store, until=EARLIER)

    assert 0 == again.written
    assert first.written == again.replayed
    assert not again.standard_installed
    assert head == await store.head()


async def test_a_later_load_tops_the_demo_up_with_the_days_since(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    commands = Commands(store, CATALOGUE)
    await load_demo(commands, store, until=EARLIER)
    # A clerk trying the demo records in one of its communities between the two loads.
    await commands.record(
        domain.training("shuyuan", TrainingKind.INTEGRITY_COURSE, EARLIER), idempotency_key="try-1"
    )
    head = await store.head()

    topped = await load_demo(commands, store, until=TOPPED)
    again = await load_demo(commands, store, until=TOPPED)

    before, after = demo(until=EARLIER).commands, demo(until=TOPPED).commands
    assert (len(after) - len(before), len(before)) == (topped.written, topped.replayed)
    assert (0, len(after)) == (again.written, again.replayed)
    appended = await store.read_all(after_position=head, limit=len(after))
    assert head + topped.written == await store.head() == appended[-1].position
    # What was appended is the days since, each once.
    wanted = Counter(repr(c.event) for c in after[len(before) :])
    assert wanted == Counter(repr(CATALOGUE.decode(r.type, r.schema_version, r.payload)) for r in appended)

    await Projector(pool, CATALOGUE).catch_up()
    world = await whole_world(pool)
    statuses = [evaluate(facts, world.standard_on(TOPPED), TOPPED) for facts in world.communities.values()]
    failing = {s.community_id: s.unmet[0].criterion_id for s in statuses if not s.standardized}
    assert {cid: f.criterion_id for cid, f in demo(until=TOPPED).failing_on(TOPPED).items()} == failing
    assert_the_articles_figures(world, demo())


async def test_a_load_through_the_commands_one_by_one_is_recognised_and_completed(store: EventStore) -> None:
    # As the demo was once loaded, each command under its own key; this one stopped part of the way.
    commands = Commands(store, CATALOGUE, clock=lambda: LAST_MOMENT)
    await install_default_standard(commands, store)
    for command in demo().commands[:400]:
        await commands.record(
            command.event,
            idempotency_key=command.idempotency_key,
            metadata=command.metadata,
            openings=command.openings,
        )

    loaded = await load_demo(commands, store)

    assert (len(demo().commands) - 400, 400) == (loaded.written, loaded.replayed)
    assert 1 + len(demo().commands) == await store.head()


async def test_the_demo_refuses_a_log_holding_other_records(store: EventStore) -> None:
    commands = Commands(store, CATALOGUE)
    await commands.record(domain.town("gutang"), idempotency_key="a clerk's own town")

    with pytest.raises(DemoRefused, match="empty database"):
        await load_demo(commands, store)

    assert 1 == await store.head()
