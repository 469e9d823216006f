"""Coverage and disclosure rate per town and for the city, over small hand-built worlds."""

from __future__ import annotations

from datetime import date

import pytest

from events.catalogue import CATALOGUE
from events.registry import Event
from events.standard import Criterion, StandardRevised
from projections.community import World
from projections.coverage import AreaShare, Share, coverage, disclosure_rate
from tests.projections.build import (
    criterion,
    day,
    disclosed,
    rectified,
    registered,
    retired,
    spot_check,
    standard_revised,
    town,
    transferred,
    world_of,
)

FINDINGS = criterion("findings", "no_open_findings", older_than_days=30)
FINANCE = criterion("finance", "disclosure_every_period", category="finance")
PARTY_MONTHLY = criterion("party", "disclosure_every_period", category="party_affairs", period="month")
Y2020 = day("2020-01-01")


def shares(
    result: tuple[list[AreaShare], AreaShare],
) -> tuple[list[tuple[str, int, int]], tuple[str, int, int]]:
    towns, city = result
    return [(t.area_id, t.share.whole, t.share.part) for t in towns], (
        city.area_id,
        city.share.whole,
        city.share.part,
    )


# -- coverage ---------------------------------------------------------------------------------------------

TOWNS: tuple[Event, ...] = (town("t1"), town("t2"), town("t3"))


def coverage_world(*more: Event) -> World:
    """a, b, c in t1 (b with an open finding, c moving to t2 on 2022-07-01); d in t2 retiring on
    2022-05-01; e registered in t2 on 2022-08-01."""
    return world_of(
        *TOWNS,
        standard_revised(FINDINGS),
        registered("a", Y2020, "t1"),
        registered("b", Y2020, "t1"),
        spot_check("b", day("2022-01-01"), "F1"),
        registered("c", Y2020, "t1"),
        transferred("c", "t1", "t2", day("2022-07-01")),
        registered("d", Y2020, "t2"),
        retired("d", day("2022-05-01")),
        registered("e", day("2022-08-01"), "t2"),
        *more,
    )


@pytest.mark.parametrize(
    ("on", "towns", "city"),
    [
        ("2022-04-30", [("t1", 3, 2), ("t2", 1, 1), ("t3", 0, 0)], ("cixi", 4, 3)),
        ("2022-05-01", [("t1", 3, 2), ("t2", 0, 0), ("t3", 0, 0)], ("cixi", 3, 2)),
        ("2022-06-30", [("t1", 3, 2), ("t2", 0, 0), ("t3", 0, 0)], ("cixi", 3, 2)),
        ("2022-07-01", [("t1", 2, 1), ("t2", 1, 1), ("t3", 0, 0)], ("cixi", 3, 2)),
        ("2022-08-01", [("t1", 2, 1), ("t2", 2, 2), ("t3", 0, 0)], ("cixi", 4, 3)),
    ],
)
def test_coverage_counts_communities_in_scope_in_their_town_on_the_date(
    on: str, towns: list[tuple[str, int, int]], city: tuple[str, int, int]
) -> None:
    assert (towns, city) == shares(coverage(coverage_world(), day(on)))


def test_a_finding_open_before_the_check_date_does_not_count_against_coverage() -> None:
    assert ([("t1", 3, 3), ("t2", 1, 1), ("t3", 0, 0)], ("cixi", 4, 4)) == shares(
        coverage(coverage_world(), day("2022-01-31"))
    )


def test_rectifying_the_finding_raises_coverage_from_that_date() -> None:
    world = coverage_world(rectified("b", "F1", day("2022-09-01")))
    assert [("t1", 2, 1), ("t1", 2, 2)] == [
        shares(coverage(world, day(d)))[0][0] for d in ("2022-08-31", "2022-09-01")
    ]


def test_coverage_is_zero_when_no_standard_is_in_force() -> None:
    world = world_of(
        *TOWNS, registered("a", Y2020, "t1"), standard_revised(FINDINGS, effective_from=day("2023-01-01"))
    )
    assert ([("t1", 1, 0), ("t2", 0, 0), ("t3", 0, 0)], ("cixi", 1, 0)) == shares(
        coverage(world, day("2022-12-31"))
    )


def test_coverage_names_the_city_it_is_asked_for() -> None:
    _, city = coverage(coverage_world(), day("2022-08-01"), city_id="ningbo")
    assert "ningbo" == city.area_id


def test_coverage_of_an_empty_world_is_an_empty_city() -> None:
    assert ([], ("cixi", 0, 0)) == shares(coverage(World(), day("2022-01-01")))


@pytest.mark.parametrize(("share", "rate"), [(Share(3, 2), 2 / 3), (Share(4, 4), 1.0), (Share(0, 0), 0.0)])
def test_a_share_rate_is_part_over_whole_and_zero_for_nothing(share: Share, rate: float) -> None:
    assert rate == share.rate


# -- disclosure rate --------------------------------------------------------------------------------------


Q4_ON_TIME = day("2023-01-05")


def quarterly(community_id: str, *quarters: str, q4_on: date = Q4_ON_TIME) -> list[Event]:
    published = {"Q1": "2022-04-10", "Q2": "2022-07-10", "Q3": "2022-10-10"}
    return [disclosed(community_id, f"2022-{q}", q4_on if q == "Q4" else day(published[q])) for q in quarters]


def disclosure_world(*more: Event) -> World:
    """t1: a (all four quarters, Q4 published 2023-01-10), b (Q3 missing), x (monthly disclosures, moved
    to t2 on 2022-11-01); t2: m (registered 2022-05-10), r (retired 2022-09-01), n (registered 2023)."""
    return world_of(
        town("t1"),
        town("t2"),
        standard_revised(FINANCE),
        registered("a", Y2020, "t1"),
        *quarterly("a", "Q1", "Q2", "Q3", "Q4", q4_on=day("2023-01-10")),
        registered("b", Y2020, "t1"),
        *quarterly("b", "Q1", "Q2", "Q4"),
        registered("m", day("2022-05-10"), "t2"),
        *quarterly("m", "Q2", "Q3", "Q4", q4_on=day("2023-01-03")),
        registered("r", Y2020, "t2"),
        *quarterly("r", "Q1", "Q2", "Q3", "Q4"),
        retired("r", day("2022-09-01")),
        registered("n", day("2023-02-01"), "t2"),
        registered("x", Y2020, "t1"),
        *(disclosed("x", p, day(on)) for p, on in [("2022-02", "2022-03-05"), ("2022-05", "2022-06-05")]),
        *(disclosed("x", p, day(on)) for p, on in [("2022-08", "2022-09-05"), ("2022-11", "2022-12-05")]),
        transferred("x", "t1", "t2", day("2022-11-01")),
        *more,
    )


def test_disclosure_rate_counts_communities_in_scope_at_the_end_of_the_year() -> None:
    result = disclosure_rate(disclosure_world(), 2022, day("2023-01-31"))
    assert ([("t1", 2, 1), ("t2", 2, 2)], ("cixi", 4, 3)) == shares(result)


def test_disclosure_rate_counts_only_disclosures_published_by_the_date() -> None:
    result = disclosure_rate(disclosure_world(), 2022, day("2023-01-05"))
    assert ([("t1", 2, 0), ("t2", 2, 2)], ("cixi", 4, 2)) == shares(result)


def test_a_community_registered_mid_year_owes_only_the_periods_after_registration() -> None:
    late = disclosure_world(registered("z", day("2022-05-10"), "t1"), *quarterly("z", "Q3", "Q4"))
    result = disclosure_rate(late, 2022, day("2023-01-31"))
    assert ([("t1", 3, 1), ("t2", 2, 2)], ("cixi", 5, 3)) == shares(result)


def test_the_requirements_are_those_of_the_standard_in_force_at_the_end_of_the_year() -> None:
    next_year = disclosure_world(standard_revised(PARTY_MONTHLY, version=2, effective_from=day("2023-01-01")))
    last_day = disclosure_world(standard_revised(PARTY_MONTHLY, version=2, effective_from=day("2022-12-31")))
    on = day("2023-01-31")
    assert (("cixi", 4, 3), ("cixi", 4, 0)) == (
        shares(disclosure_rate(next_year, 2022, on))[1],
        shares(disclosure_rate(last_day, 2022, on))[1],
    )


def test_disclosure_rate_is_zero_without_a_standard_at_the_end_of_the_year() -> None:
    world = world_of(town("t1"), registered("a", Y2020, "t1"))
    assert ([("t1", 1, 0)], ("cixi", 1, 0)) == shares(disclosure_rate(world, 2022, day("2023-01-31")))


@pytest.mark.parametrize("report", ["coverage", "disclosure_rate"])
def test_reports_read_a_standard_as_the_log_stores_it(report: str) -> None:
    revised = StandardRevised(
        version=1,
        effective_from=Y2020,
        title="v1",
        criteria=(
            Criterion(criterion_id="finance", kind="disclosure_every_period", params={"category": "finance"}),
        ),
    )
    type_, version, payload = CATALOGUE.encode(revised)
    world = world_of(town("t1"), registered("a", Y2020, "t1"), CATALOGUE.decode(type_, version, payload))
    if report == "coverage":
        assert ("cixi", 1, 0) == shares(coverage(world, day("2022-06-01")))[1]
    else:
        assert ("cixi", 1, 0) == shares(disclosure_rate(world, 2022, day("2023-01-31")))[1]
