"""Stored disclosure years agree with `disclosed_every_period` and `disclosure_rate` on any day."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from events.disclosure import DisclosureCategory, DisclosurePublished
from events.registry import Event
from projections.community import World
from projections.coverage import (
    Share,
    disclosed_every_period,
    disclosed_from,
    disclosure_rate,
    disclosure_years,
)
from tests.projections.build import criterion, disclosed, facts_of, fold, registered, retired, standard
from tests.projections.logs import EVERYTHING, FIRST_DAY, LAST_DAY, Log, event_logs

FIRST, LAST = FIRST_DAY - timedelta(days=30), LAST_DAY + timedelta(days=400)
YEARS = range(FIRST.year, LAST.year + 1)


@settings(max_examples=120, deadline=None)
@given(event_logs(), st.lists(st.dates(FIRST, LAST), min_size=1, max_size=20))
def test_a_year_is_disclosed_exactly_from_its_disclosed_from_day(log: Log, days: list[date]) -> None:
    """Back-dated disclosures, corrections, transfers, retirements and standards revised at any time: the
    random logs draw every kind of event with free dates, in any order."""
    world = fold(log)
    standards = world.standards or (EVERYTHING,)
    for facts in world.communities.values():
        for year in YEARS:
            first = disclosed_from(facts, standards, year)
            for day in days:
                expected = disclosed_every_period(facts, standards, year, day)
                assert expected == (first is not None and first <= day), (year, day, first)


DISCLOSURES_ONLY = standard(
    criterion("finance", "disclosure_every_period", category="finance", lookback=2),
    criterion("party", "disclosure_every_period", category="party_affairs", period="month", lookback=3),
)
PERIODS_2022 = [
    *((f"2022-Q{q}", DisclosureCategory.FINANCE) for q in range(1, 5)),
    *((f"2022-{m:02d}", DisclosureCategory.PARTY_AFFAIRS) for m in range(1, 13)),
]


@st.composite
def a_year_of_disclosures(draw: st.DrawFn) -> list[Event]:
    """Every period of 2022 disclosed (now and then one left out, or disclosed twice), each on a random day
    from within the year to well after it, so the day the year is complete varies and is often late."""
    events: list[Event] = [registered("c1", on=draw(st.dates(date(2021, 1, 1), date(2022, 6, 1))))]
    for period, category in PERIODS_2022:
        for _ in range(draw(st.sampled_from([0] + [1] * 20 + [2] * 3))):
            published = draw(st.dates(date(2022, 1, 1), date(2024, 6, 30)))
            events.append(disclosed("c1", period, published, category))
    return events


@settings(max_examples=150, deadline=None)
@given(a_year_of_disclosures(), st.lists(st.dates(date(2021, 6, 1), date(2024, 12, 31)), min_size=5))
def test_a_fully_disclosed_year_is_disclosed_from_its_last_missing_disclosure(
    events: list[Event], days: list[date]
) -> None:
    facts = facts_of("c1", *events)
    first = disclosed_from(facts, (DISCLOSURES_ONLY,), 2022)
    for day in days:
        expected = disclosed_every_period(facts, (DISCLOSURES_ONLY,), 2022, day)
        assert expected == (first is not None and first <= day), (day, first)
    if first is not None:
        assert first in {e.published_on for e in events if isinstance(e, DisclosurePublished)}


def rate_from_years(world: World, year: int, on: date) -> tuple[dict[str, Share], Share]:
    """The rate as the stored rows give it: count the rows of `year`, and those disclosed by `on`."""
    standards = world.standards or (EVERYTHING,)
    by_town: dict[str, list[bool]] = {town_id: [] for town_id in sorted(world.towns)}
    for facts in world.communities.values():
        for row in disclosure_years(facts, standards, LAST.year):
            if row.year == year:
                flag = row.disclosed_on is not None and row.disclosed_on <= on
                by_town.setdefault(row.town_id or "", []).append(flag)
    towns = {town: Share(len(flags), sum(flags)) for town, flags in by_town.items()}
    return towns, Share(sum(s.whole for s in towns.values()), sum(s.part for s in towns.values()))


@settings(max_examples=80, deadline=None)
@given(event_logs(), st.sampled_from(list(YEARS)), st.dates(FIRST, LAST))
def test_the_rate_counted_from_the_years_equals_the_rate_evaluated(log: Log, year: int, on: date) -> None:
    world = fold(log)
    if not world.standards:
        world = World(towns=world.towns, communities=world.communities, standards=(EVERYTHING,))
    towns, city = disclosure_rate(world, year, on)
    assert ({t.area_id: t.share for t in towns}, city.share) == rate_from_years(world, year, on)


def test_a_community_registered_mid_year_has_rows_from_that_year_only_while_in_scope() -> None:
    facts = facts_of("c1", registered("c1", on=date(2023, 5, 1)), retired("c1", date(2026, 3, 1)))
    years = disclosure_years(facts, (EVERYTHING,), 2027)
    assert [2023, 2024, 2025] == [y.year for y in years]  # retired in 2026: out of scope at its end
    assert all(y.disclosed_on is None for y in years)  # the standard asks for disclosures; none was made
