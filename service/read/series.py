"""Figures over time for charts: coverage on each of a series of days, from the stored status segments.

One query answers every day at once (a GiST probe a day), whatever the size of the city. Communities
whose segments are being recomputed (`status_pending`) are counted from their facts instead, so the
series agrees with `coverage` on each day.
"""

from __future__ import annotations

import calendar
import enum
from datetime import date, timedelta

import asyncpg

from projections.community import World
from projections.coverage import Share
from projections.evaluation import evaluate
from service.read.paging import QueryError
from service.read.queries import query
from service.read.status import horizon

MAX_POINTS = 1000


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


async def coverage_series(
    pool: asyncpg.Pool,
    world: World,
    generation: int,
    days: list[date],
    today: date,
    town_id: str | None = None,
) -> list[Share]:
    """Coverage on each day (of the town, or the city), in order."""
    if days and days[-1] > horizon(today):
        raise QueryError(
            "to", f"a series reaches at most to {horizon(today).isoformat()}, the end of next year"
        )
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        pending = [r["community_id"] for r in await conn.fetch(query("status_pending_ids"), generation)]
        rows = await conn.fetch(query("coverage_series"), generation, days, pending, town_id)
    counts = {day: [0, 0] for day in days}
    for row in rows:
        counts[row["day"]][0] += row["communities"]
        counts[row["day"]][1] += row["standardized"]
    for community_id in pending:
        facts = world.communities.get(community_id)
        if facts is None:
            continue
        for day in days:
            if facts.in_scope_on(day) and (town_id is None or facts.town_on(day) == town_id):
                counts[day][0] += 1
                counts[day][1] += evaluate(facts, world.standard_on(day), day).standardized
    return [Share(*counts[day]) for day in days]
