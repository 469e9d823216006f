"""Figures over time for charts: coverage and disclosure rates on each of a series of days, from the stored
status segments and disclosure years.

One query answers every day at once (a GiST probe a day), whatever the size of the city. Communities
whose segments are being recomputed (`status_pending`) are counted from their facts instead, so the
series agrees with `coverage` on each day.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Callable, Iterable
from datetime import date, timedelta

import asyncpg

from projections.community import World
from projections.coverage import Share, disclosed_every_period
from projections.evaluation import evaluate
from projections.facts import CommunityFacts
from service.read.directory import facts_in_chunks, known_ids
from service.read.paging import QueryError
from service.read.queries import query
from service.read.slices import in_slices
from service.read.status import horizon
from service.read.views import AreaFigures, check_year

MAX_POINTS = 1000
# Per day, per town: [communities counted, of which passing].
Counts = dict[date, dict[str | None, list[int]]]


class Step(enum.Enum):
    """How far apart a series' points are (the API's descriptions carry the Chinese terms)."""

    DAY = "day"  # 日
    WEEK = "week"  # 周
    MONTH = "month"  # 月
    QUARTER = "quarter"  # 季度


def check_horizon(last: date, today: date) -> None:
    """A series ends by the horizon, the last day the status is stored for."""
    if last > horizon(today):
        raise QueryError(
            "to", f"a series reaches at most to {horizon(today).isoformat()}, the end of next year"
        )


def series_days(first: date, last: date, every: Step) -> list[date]:
    """`first`, then every step after it up to `last`. A month or a quarter later keeps the day of the
    month, or the month's last day where it has fewer (31 January, 28 February, 31 March …)."""
    if last < first:
        raise QueryError("to", f"{last.isoformat()} is before from ({first.isoformat()})")
    days: list[date] = []
    n = 0
    while True:
        day = _step(first, every, n)
        if day > last:
            return days
        if len(days) == MAX_POINTS:
            raise QueryError("every", f"a series holds at most {MAX_POINTS} points; take a longer step")
        days.append(day)
        n += 1


def _step(first: date, every: Step, n: int) -> date:
    if every is Step.DAY:
        return first + timedelta(days=n)
    if every is Step.WEEK:
        return first + timedelta(weeks=n)
    months = n * (3 if every is Step.QUARTER else 1)
    year, month = divmod(first.month - 1 + months, 12)
    year += first.year
    return date(year, month + 1, min(first.day, calendar.monthrange(year, month + 1)[1]))


async def coverage_figures(
    pool: asyncpg.Pool, world: World, generation: int, days: list[date], today: date, known: int | None = None
) -> list[AreaFigures]:
    """Coverage on each day, per town and for the city, as `views.coverage_on` gives it from the facts:
    from the stored segments up to the end of this year (one query for all the days), from the facts
    after it. The segments reach the end of next year once the keepers have extended them after the year
    turned; until then only this year's end is sure to be covered.

    With `known`, as the log stood at that size: `world` must be the world as it stood then
    (`projections.community.known_at`), and the rows read are those known then; a community whose rows
    are not exact at that size is evaluated from its facts as they stood."""
    stored = [day for day in days if day <= date(today.year, 12, 31)]
    later = [day for day in days if day > date(today.year, 12, 31)]
    counts = await _counts(pool, world, generation, stored, known) if stored else {}
    if later:
        counts.update({day: {} for day in later})
        async with pool.acquire() as conn:
            every = await known_ids(conn, generation, world.position if known is None else known)
        upto = world.position if known is None else known
        await _count_evaluated(pool, generation, every, later, counts, upto, _standardized(world))
    return [_area_figures(world, counts[day]) for day in days]


async def _counts(
    pool: asyncpg.Pool, world: World, generation: int, days: list[date], known: int | None
) -> Counts:
    """For each day, per town: [communities in scope, standardized]."""
    # One statement, so the counts and the communities to evaluate are of one snapshot.
    if known is None:
        rows = await pool.fetch(query("coverage_series"), generation, days)
        pending = [r["community_id"] for r in rows if r["day"] is None]
    else:
        rows = await pool.fetch(query("coverage_series_known"), generation, days, known)
        exact = {r["community_id"] for r in rows if r["day"] is None}
        async with pool.acquire() as conn:
            pending = [c for c in await known_ids(conn, generation, known) if c not in exact]
    counts: Counts = {day: {} for day in days}
    for row in rows:
        if row["day"] is not None:
            counts[row["day"]][row["town_id"]] = [row["communities"], row["standardized"]]

    upto = world.position if known is None else known
    await _count_evaluated(pool, generation, pending, days, counts, upto, _standardized(world))
    return counts


async def _count_evaluated(
    pool: asyncpg.Pool,
    generation: int,
    ids: Iterable[str],
    days: list[date],
    counts: Counts,
    upto: int,
    judged: Callable[[CommunityFacts, date], tuple[str | None, bool] | None],
) -> None:
    """Add the communities `ids`, judged on each day from their facts as the log stood at `upto` (read in
    chunks), to `counts`: `judged` gives the town a community counts in and whether it passes, or None
    where it is not counted. In slices, since a standard revision leaves every community pending until
    the keepers have been through them."""

    def count(item: tuple[CommunityFacts, date]) -> None:
        facts, day = item
        verdict = judged(facts, day)
        if verdict is not None:
            tally = counts[day].setdefault(verdict[0], [0, 0])
            tally[0] += 1
            tally[1] += verdict[1]

    async with pool.acquire() as conn:
        async for chunk in facts_in_chunks(conn, generation, ids, upto):
            await in_slices(((f, day) for f in chunk for day in days), count)


def _standardized(world: World) -> Callable[[CommunityFacts, date], tuple[str | None, bool] | None]:
    """Coverage's judgement: in scope on the day, counted in its town then, standardized or not."""

    def judged(facts: CommunityFacts, day: date) -> tuple[str | None, bool] | None:
        if not facts.in_scope_on(day):
            return None
        return facts.town_on(day), evaluate(facts, world.standard_on(day), day).standardized

    return judged


async def coverage_series(
    pool: asyncpg.Pool,
    world: World,
    generation: int,
    days: list[date],
    today: date,
    town_id: str | None = None,
    known: int | None = None,
) -> list[Share]:
    """Coverage on each day (of the town, or the city), in order."""
    if days:
        check_horizon(days[-1], today)
    figures = await coverage_figures(pool, world, generation, days, today, known)
    if town_id is None:
        return [f.city for f in figures]
    return [f.towns.get(town_id, Share(0, 0)) for f in figures]


async def disclosure_figures(
    pool: asyncpg.Pool,
    world: World,
    generation: int,
    year: int,
    days: list[date],
    today: date,
    known: int | None = None,
) -> list[AreaFigures]:
    """The disclosure rate of `year` as of each day, per town and for the city, as `views.disclosure_in`
    gives it from the facts: from the stored disclosure years (one query for all the days) for a year up
    to this one, from the facts for a later year (the keepers write next year's rows only once the year
    has turned; see `coverage_figures`, also for `known`)."""
    check_year(year)
    if not days:
        return []
    # One statement, so the counts and the pending communities are of one snapshot.
    rows: list[asyncpg.Record] = []
    ids: list[str]
    size = world.position if known is None else known
    if year > today.year:
        async with pool.acquire() as conn:
            ids = await known_ids(conn, generation, size)
    elif known is None:
        rows = await pool.fetch(query("disclosure_series"), generation, year, days)
        ids = [r["community_id"] for r in rows if r["day"] is None]
    else:
        rows = await pool.fetch(query("disclosure_series_known"), generation, year, days, known)
        exact = {r["community_id"] for r in rows if r["day"] is None}
        async with pool.acquire() as conn:
            ids = [c for c in await known_ids(conn, generation, known) if c not in exact]
    counts: Counts = {day: {} for day in days}
    for row in rows:
        if row["day"] is not None:
            counts[row["day"]][row["town_id"]] = [row["communities"], row["disclosed"]]
    year_end = date(year, 12, 31)

    def judged(facts: CommunityFacts, day: date) -> tuple[str | None, bool] | None:
        # A year's rate counts the communities in scope at its end, in their town then.
        if not facts.in_scope_on(year_end):
            return None
        return facts.town_on(year_end), disclosed_every_period(facts, world.standards, year, day)

    await _count_evaluated(pool, generation, ids, days, counts, size, judged)
    return [_area_figures(world, counts[day]) for day in days]


async def disclosure_series(
    pool: asyncpg.Pool,
    world: World,
    generation: int,
    year: int,
    days: list[date],
    today: date,
    town_id: str | None = None,
    known: int | None = None,
) -> list[Share]:
    """The disclosure rate of `year` as of each day (of the town, or the city), in order."""
    if days:
        check_horizon(days[-1], today)
    figures = await disclosure_figures(pool, world, generation, year, days, today, known)
    if town_id is None:
        return [f.city for f in figures]
    return [f.towns.get(town_id, Share(0, 0)) for f in figures]


def _area_figures(world: World, counts: dict[str | None, list[int]]) -> AreaFigures:
    """Figures from per-town [whole, part] counts; every town registered is listed, with or without
    communities, as the facts' figures list them."""
    towns = {town_id: Share(0, 0) for town_id in sorted(world.towns)}
    for town_id, (whole, part) in sorted(counts.items(), key=lambda item: item[0] or ""):
        towns[town_id or ""] = Share(whole, part)
    city = Share(sum(s.whole for s in towns.values()), sum(s.part for s in towns.values()))
    return AreaFigures(towns, city)


async def standings_on(
    pool: asyncpg.Pool, generation: int, day: date, today: date, known: int | None = None
) -> dict[str, tuple[bool, float]]:
    """Every community's (standardized, score) on `day` from the stored segments, leaving out those still
    pending (with `known`: those whose rows are not exact at that size); empty after this year (see
    `coverage_figures`), where the facts must answer."""
    if day > date(today.year, 12, 31):
        return {}
    if known is None:
        rows = await pool.fetch(query("standings_on"), generation, day)
    else:
        rows = await pool.fetch(query("standings_on_known"), generation, day, known)
    return {r["community_id"]: (r["standardized"], r["score"]) for r in rows}
