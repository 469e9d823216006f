"""The demo: recorded through the commands, it shows the article's figures as the projections compute them."""

from __future__ import annotations

import functools
import time
from collections import Counter
from dataclasses import fields
from datetime import date, datetime, timedelta

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.hierarchy import CommunityRegistered, TownRegistered
from events.recognition import Level
from projections.community import World, evolve_world
from projections.coverage import Share, coverage, disclosure_rate
from projections.evaluation import evaluate
from projections.localtime import SHANGHAI
from projections.standards import DEFAULT_STANDARD
from service.commands.handler import Commands, install_default_standard
from service.demo.generator import AS_OF, DEFAULT_SEED, FAILURES, FIRST_DAY, LAST_DAY, Demo, generate_demo
from service.demo.loader import DemoRefused, load_demo
from service.log.store import EventStore
from service.read.projector import Projector
from service.read.readmodel import whole_world
from tests.support import domain

# The loader's clock stands on the demo's last day, so the commands refuse any date after it.
LAST_MOMENT = datetime(2022, 6, 30, 18, 0, tzinfo=SHANGHAI)
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
def demo(seed: int = DEFAULT_SEED) -> Demo:
    return generate_demo(seed)


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


def test_one_seed_always_gives_the_same_commands() -> None:
    assert generate_demo(DEFAULT_SEED).commands == generate_demo(DEFAULT_SEED).commands


def test_another_seed_gives_other_commands_with_the_same_figures() -> None:
    for seed in (1, 2024):
        other = demo(seed)
        assert demo().commands != other.commands
        assert demo().failing != other.failing
        assert_the_articles_figures(folded(other), other)


def test_the_default_demo_shows_the_articles_figures_in_memory() -> None:
    assert_the_articles_figures(folded(demo()), demo())


def test_every_date_lies_within_the_demo() -> None:
    late, early = [], []
    for command in demo().commands:
        for field in fields(command.event):  # type: ignore[arg-type]
            value = getattr(command.event, field.name)
            if not isinstance(value, date):
                continue
            if value > LAST_DAY:
                late.append((command.idempotency_key, field.name, value))
            # Only the rules in force may predate the programme: they were adopted before it began.
            if value < FIRST_DAY and field.name != "adopted_on":
                early.append((command.idempotency_key, field.name, value))
    assert ([], []) == (late, early)


def test_idempotency_keys_are_unique_and_name_the_seed() -> None:
    keys = [c.idempotency_key for c in demo(7).commands]
    assert len(keys) == len(set(keys))
    assert all(key.startswith("demo-7-") for key in keys)


def test_the_records_come_in_an_order_a_clerk_could_enter_them() -> None:
    commands = demo().commands
    kinds = [type(c.event) for c in commands]
    assert [TownRegistered] * 19 == kinds[:19]
    assert [CommunityRegistered] * 100 == kinds[19:119]


def test_invented_records_are_marked_synthetic_and_real_ones_name_their_source() -> None:
    real: list[str] = []
    for command in demo().commands:
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
        for c in demo().commands
        if isinstance(c.event, CommunityRegistered)
    }
    assert {cid: False for cid in REAL_COMMUNITIES} == {cid: s for cid, s in registered.items() if not s}


# -- loading (PostgreSQL) ------------------------------------------------------------------------------------


async def test_the_demo_loads_into_an_empty_database_with_the_articles_figures(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    commands = Commands(store, CATALOGUE, clock=lambda: LAST_MOMENT)
    started = time.perf_counter()
    loaded = await load_demo(commands, store)
    seconds = time.perf_counter() - started

    assert len(demo().commands) == loaded.written
    assert 0 == loaded.replayed
    assert loaded.standard_installed
    assert 1 + len(demo().commands) == await store.head()
    assert seconds < 30, f"loading took {seconds:.1f} s"

    await Projector(pool, CATALOGUE).catch_up()
    world = await whole_world(pool)
    assert_the_articles_figures(world, demo())


async def test_loading_twice_adds_nothing(store: EventStore) -> None:
    commands = Commands(store, CATALOGUE)
    # `serve` installs the standard at start; the demo then loads over it.
    await install_default_standard(commands, store)
    first = await load_demo(commands, store)
    head = await store.head()

    again = await load_demo(commands, store)

    assert 0 == again.written
    assert first.written == again.replayed
    assert not again.standard_installed
    assert head == await store.head()


async def test_the_demo_refuses_a_log_holding_other_records(store: EventStore) -> None:
    commands = Commands(store, CATALOGUE)
    await commands.record(domain.town("gutang"), idempotency_key="a clerk's own town")

    with pytest.raises(DemoRefused, match="empty database"):
        await load_demo(commands, store)

    assert 1 == await store.head()
