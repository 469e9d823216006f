"""Coverage (规范化建设覆盖率) and disclosure rate (公开率) of towns and the city."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from events.disclosure import DisclosureCategory
from projections.community import StandardVersion, World, standard_in_force
from projections.criteria import DisclosureEveryPeriod, covered, first_covered
from projections.evaluation import evaluate, rules_of
from projections.facts import CommunityFacts
from projections.periods import Period, periods_of_year


@dataclass(frozen=True, slots=True)
class Share:
    """`part` of `whole` communities; `rate` is 0 to 1 (and 0 when there are none)."""

    whole: int
    part: int

    @property
    def rate(self) -> float:
        return self.part / self.whole if self.whole else 0.0


@dataclass(frozen=True, slots=True)
class AreaShare:
    area_id: str  # a town id, or the city id
    share: Share


def coverage(world: World, on: date, city_id: str = "cixi") -> tuple[list[AreaShare], AreaShare]:
    """Per town and for the city: communities in scope on `on`, and how many are standardized."""
    standard = world.standard_on(on)
    by_town: dict[str, list[bool]] = {town_id: [] for town_id in sorted(world.towns)}
    for facts in world.communities.values():
        if not facts.in_scope_on(on):
            continue
        town = facts.town_on(on) or ""
        by_town.setdefault(town, []).append(evaluate(facts, standard, on).standardized)
    towns = [AreaShare(town, Share(len(flags), sum(flags))) for town, flags in by_town.items()]
    total = Share(sum(t.share.whole for t in towns), sum(t.share.part for t in towns))
    return towns, AreaShare(city_id, total)


def disclosed_every_period(
    facts: CommunityFacts, standards: Sequence[StandardVersion], year: int, on: date
) -> bool:
    """Whether a community disclosed, by `on`, in every period of `year` that the standard required.

    The requirements are the disclosure criteria of the standard in force at the end of the year; periods
    that ended before the community was registered are not required.
    """
    required = _required(facts, standards, year)
    if required is None:
        return False
    return all(covered(facts, category, period, on) for category, period in required)


def _required(
    facts: CommunityFacts, standards: Sequence[StandardVersion], year: int
) -> Iterator[tuple[DisclosureCategory, Period]] | None:
    """The disclosures `year` requires of the community, by category and period, under the standard in
    force at the year's end (None: no standard); periods that ended before it was registered are not."""
    standard = standard_in_force(standards, date(year, 12, 31))
    if standard is None:
        return None
    return (
        (rule.category, period)
        for rule in rules_of(standard)
        if isinstance(rule, DisclosureEveryPeriod) and rule.applies(facts)
        for period in periods_of_year(year, rule.period)
        if facts.registered_on is None or period.end >= facts.registered_on
    )


@dataclass(frozen=True, slots=True)
class DisclosureYear:
    """A community's disclosure record for a year at whose end it is in scope: its town then, and the first
    day by which it had disclosed in every period the year required (`date.min` when none was required,
    None while one is still undisclosed)."""

    year: int
    town_id: str | None
    disclosed_on: date | None


def disclosed_from(facts: CommunityFacts, standards: Sequence[StandardVersion], year: int) -> date | None:
    """The first day `on` for which `disclosed_every_period(facts, standards, year, on)` holds, or None.

    A required period is covered from the first publication of a disclosure covering it, and stays
    covered; so every one is from the latest of those days (`date.min` when none is required), and never
    while one has none.
    """
    required = _required(facts, standards, year)
    if required is None:
        return None
    latest = date.min
    for category, period in required:
        first = first_covered(facts, category, period)
        if first is None:
            return None
        latest = max(latest, first)
    return latest


def disclosure_years(
    facts: CommunityFacts, standards: Sequence[StandardVersion], last_year: int
) -> list[DisclosureYear]:
    """Every year from the community's registration to `last_year` at whose end it is in scope."""
    if facts.registered_on is None:
        return []
    found = []
    for year in range(facts.registered_on.year, last_year + 1):
        year_end = date(year, 12, 31)
        if facts.in_scope_on(year_end):
            found.append(
                DisclosureYear(year, facts.town_on(year_end), disclosed_from(facts, standards, year))
            )
    return found


def disclosure_rate(
    world: World, year: int, on: date, city_id: str = "cixi"
) -> tuple[list[AreaShare], AreaShare]:
    """Per town and for the city: communities in scope at the end of `year`, and how many disclosed in
    every required period of that year (counting disclosures published by `on`)."""
    year_end = date(year, 12, 31)
    by_town: dict[str, list[bool]] = {town_id: [] for town_id in sorted(world.towns)}
    for facts in world.communities.values():
        if not facts.in_scope_on(year_end):
            continue
        town = facts.town_on(year_end) or ""
        by_town.setdefault(town, []).append(disclosed_every_period(facts, world.standards, year, on))
    towns = [AreaShare(town, Share(len(flags), sum(flags))) for town, flags in by_town.items()]
    total = Share(sum(t.share.whole for t in towns), sum(t.share.part for t in towns))
    return towns, AreaShare(city_id, total)
