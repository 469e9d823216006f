"""What the API reads: communities filtered, sorted and paged, and area figures.

Lists are chosen from the record tables (`directory.community_page`) and, where status decides, the stored
status segments; only the page's communities are read whole and evaluated. The figures themselves come
from `projections`; this module chooses, orders and pages.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeAlias, TypeVar

import asyncpg

from events.codec import JSON
from events.hierarchy import CommunityKind
from events.recognition import Level
from projections.community import StandardVersion, TownFacts, World
from projections.coverage import AreaShare, Share, coverage, disclosure_rate
from projections.evaluation import Status, evaluate
from projections.facts import CommunityFacts, Disclosure
from service.log.reads import Conn
from service.read.directory import Choice, Entry, community_page, facts_in_chunks, last_activity_on
from service.read.paging import Page, QueryError, decode_cursor, encode_cursor, page_size
from service.read.records import read_facts
from service.read.slices import in_slices

T = TypeVar("T")
CITY_ID = "cixi"
CITY_NAME = "慈溪市"
MAX_NAME_FILTER = 200
# What communities sort by: a number (the score) and two texts (a name's pinyin key and the name itself, or
# an ISO date and ""); what the order does not use is constant.
SortKey: TypeAlias = tuple[float, str, str]
# Years a disclosure rate may be asked for: the programme's calendar, not arbitrary integers.
FIRST_YEAR, LAST_YEAR = 1990, 2999


def check_year(year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise QueryError("year", f"must be between {FIRST_YEAR} and {LAST_YEAR}")
    return year


class CommunityOrder(enum.Enum):
    NAME = "name"
    SCORE = "score"
    LAST_ACTIVITY = "last_activity"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityFilter:
    town: str | None = None
    kind: CommunityKind | None = None
    standardized: bool | None = None
    designation: Level | None = None
    name_contains: str | None = None


@dataclass(frozen=True, slots=True)
class CommunityView:
    """One community as of a local date: its facts and (computed once) its status."""

    facts: CommunityFacts
    on: date
    status: Status


def towns_on(world: World, on: date) -> list[TownFacts]:
    """The towns registered by `on`, by id."""
    return [world.towns[t] for t in sorted(world.towns) if world.towns[t].registered_on <= on]


def community_view(world: World, facts: CommunityFacts | None, on: date) -> CommunityView | None:
    """The community of `facts` as of `on` (judged by `world`'s standard), or None if the log has never
    registered it."""
    if facts is None or facts.registered_on is None:
        return None
    return CommunityView(facts, on, evaluate(facts, world.standard_on(on), on))


# A community's status on a day as the stored segments give it: (standardized, score).
Standing = tuple[bool, float]
# The stored standings, read only by a list whose choice depends on status.
Standings = Callable[[], Awaitable[Mapping[str, Standing]]]


async def list_communities(
    pool: asyncpg.Pool,
    generation: int,
    world: World,
    on: date,
    *,
    where: CommunityFilter,
    order: CommunityOrder,
    descending: bool,
    first: int | None,
    after: str | None,
    standings: Standings | None = None,
    known: int | None = None,
) -> Page[CommunityView]:
    """The communities in scope on `on` that pass `where`, sorted by `order` then id (by name: in pinyin
    order, `projections.ordering`, then by the name itself, then id), after `after` (as the log stood at
    size `known`; `world` holds the towns and standards as it stood then).

    A list by name with no filter on status is chosen whole in SQL (`directory.community_page`): the
    filters, the order, the cursor and the page in one statement. Otherwise the candidates that pass the
    other filters come from that statement, every one; `standings` (from the stored status segments)
    answers the filter and the sort by status, a community it lacks is evaluated from its facts, read in
    chunks, and the page is cut here. Either way only the page's communities' facts are read, for their
    views, and evaluations run in slices (`in_slices`), so the event loop is never held long.
    """
    size = page_size(first)
    _check_text("filter.nameContains", where.name_contains, MAX_NAME_FILTER)
    start_key = _read_cursor(after, order, descending) if after is not None else None
    standard = world.standard_on(on)
    choice = Choice(
        town=where.town, kind=where.kind, designation=where.designation, name_contains=where.name_contains
    )
    # The record tables are read as far as `world` goes (the projection's checkpoint, or `known`), so the
    # rows agree with the towns and standards it holds even if the projector has moved on meanwhile.
    upto = world.position if known is None else known
    async with pool.acquire() as conn:
        if order is CommunityOrder.NAME and where.standardized is None:
            resume = None
            if start_key is not None:
                (_, key, name), ident = start_key
                resume = (
                    _check_text("after", key) or "",
                    _check_text("after", name) or "",
                    _check_text("after", ident) or "",
                )
            chosen = await community_page(
                conn, generation, on, replace(choice, descending=descending, after=resume, limit=size), upto
            )
            page = [(_sort_key(e, 0.0, {}, order), e.community_id) for e in chosen.entries]
            total, start = chosen.total, chosen.before
        else:
            page, total, start = await _by_status(
                conn,
                generation,
                on,
                upto,
                choice,
                where,
                order,
                descending,
                start_key,
                size,
                standings,
                standard,
            )
        facts = await read_facts(conn, generation, [ident for _, ident in page], upto)
    views = await in_slices(
        page, lambda item: CommunityView(facts[item[1]], on, evaluate(facts[item[1]], standard, on))
    )
    return Page(
        items=tuple(
            (_cursor(order, descending, k, i), view) for (k, i), view in zip(page, views, strict=True)
        ),
        has_next=start + size < total,
        has_previous=start > 0,
        total=total,
    )


async def _by_status(
    conn: Conn,
    generation: int,
    on: date,
    upto: int,
    choice: Choice,
    where: CommunityFilter,
    order: CommunityOrder,
    descending: bool,
    start_key: tuple[SortKey, str] | None,
    size: int,
    standings: Standings | None,
    standard: StandardVersion | None,
) -> tuple[list[tuple[SortKey, str]], int, int]:
    """A page of a list whose choice depends on status or activity: (the page's keys, how many pass in
    all, how many precede the page)."""
    entries = (await community_page(conn, generation, on, choice, upto)).entries
    known_standings = dict(await standings()) if standings is not None else {}
    missing = [e.community_id for e in entries if e.community_id not in known_standings]
    async for chunk in facts_in_chunks(conn, generation, missing, upto):
        statuses = await in_slices(chunk, lambda facts: evaluate(facts, standard, on))
        known_standings.update((s.community_id, (s.standardized, s.score)) for s in statuses)
    if where.standardized is not None:
        entries = [e for e in entries if known_standings[e.community_id][0] is where.standardized]
    activity: dict[str, date] = {}
    if order is CommunityOrder.LAST_ACTIVITY:
        activity = await last_activity_on(conn, generation, on, [e.community_id for e in entries], upto)
    chosen = [
        (_sort_key(e, known_standings[e.community_id][1], activity, order), e.community_id) for e in entries
    ]
    # No activity yet sorts first ascending: "" stands below every date.
    chosen.sort(reverse=descending)
    start = 0
    if start_key is not None:
        start = len(chosen)
        for index, item in enumerate(chosen):
            beyond = item < start_key if descending else item > start_key
            if beyond:
                start = index
                break
    return chosen[start : start + size], len(chosen), start


def _check_text(field: str, value: str | None, longest: int | None = None) -> str | None:
    """`value`, if the database can compare it as text: no NUL and no unpaired surrogate (no name the log
    holds has either, so such a filter or cursor can only come from a hostile client)."""
    if value is None:
        return None
    if longest is not None and len(value) > longest:
        raise QueryError(field, f"must be at most {longest} characters")
    if "\x00" in value or (not value.isascii() and _has_surrogate(value)):
        raise QueryError(field, "must not contain NUL or unpaired surrogate characters")
    return value


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _sort_key(entry: Entry, score: float, activity: Mapping[str, date], order: CommunityOrder) -> SortKey:
    if order is CommunityOrder.NAME:
        # As `community_page` orders (`directory.order_by_name`), so both paths give one order.
        return (0.0, entry.name_key, entry.name or "")
    if order is CommunityOrder.SCORE:
        return (score, "", "")
    day = activity.get(entry.community_id)
    return (0.0, day.isoformat() if day is not None else "", "")


def _cursor(order: CommunityOrder, descending: bool, key: SortKey, ident: str) -> str:
    return encode_cursor(["communities", order.value, "desc" if descending else "asc", *key, ident])


def _read_cursor(cursor: str, order: CommunityOrder, descending: bool) -> tuple[SortKey, str]:
    parts = decode_cursor(cursor)
    expected: list[JSON] = ["communities", order.value, "desc" if descending else "asc"]
    if len(parts) != 7 or parts[:3] != expected:
        raise QueryError("after", "is not a cursor of this list in this order")
    number, text, tie, ident = parts[3:]
    if not isinstance(number, int | float) or isinstance(number, bool):
        raise QueryError("after", "is not a cursor of this list in this order")
    if not isinstance(text, str) or not isinstance(tie, str) or not isinstance(ident, str):
        raise QueryError("after", "is not a cursor of this list in this order")
    return (float(number), text, tie), ident


@dataclass(frozen=True, slots=True)
class AreaFigures:
    """Coverage on a date, per town and for the city."""

    towns: dict[str, Share]
    city: Share


def _figures(shares: tuple[list[AreaShare], AreaShare]) -> AreaFigures:
    towns, city = shares
    return AreaFigures({s.area_id: s.share for s in towns}, city.share)


def coverage_on(world: World, on: date) -> AreaFigures:
    return _figures(coverage(world, on, CITY_ID))


def disclosure_in(world: World, year: int, on: date) -> AreaFigures:
    return _figures(disclosure_rate(world, check_year(year), on, CITY_ID))


def last_disclosure(facts: CommunityFacts, on: date) -> Disclosure | None:
    """The community's latest disclosure published on or before `on` (the later recorded wins a tie)."""
    published = [d for d in facts.disclosures if d.published_on <= on]
    return max(published, key=lambda d: (d.published_on, d.position), default=None)


def dated_by(items: Sequence[T], day: Callable[[T], date], on: date) -> list[T]:
    """The records among `items` whose date is on or before `on` ("as of" a date)."""
    return [item for item in items if day(item) <= on]
