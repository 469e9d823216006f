"""Coverage series for charts: one query over the stored status segments, the same figures as `coverage`
on each date, and the same while some communities are still being recomputed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from projections.coverage import coverage
from projections.evaluation import evaluate
from service.read.paging import QueryError
from service.read.readmodel import whole_world
from service.read.series import MAX_POINTS, Step, series_days
from service.read.status import StatusKeeper
from tests.schema.conftest import Api
from tests.support.principals import ANONYMOUS

CITY_SERIES = """query($from: Date!, $to: Date!, $every: SeriesStep!) {
  city { coverageSeries(from: $from, to: $to, every: $every) { on communities standardized rate } } }"""
TOWN_SERIES = """query($from: Date!, $to: Date!) { town(id: "gutang") {
  coverageSeries(from: $from, to: $to, every: QUARTER) { on communities standardized } } }"""


async def city_coverage(demo: Api, day: str) -> dict[str, Any]:
    data = await demo.data(f'{{ city(asOf: "{day}") {{ coverage {{ communities standardized rate }} }} }}')
    coverage: dict[str, Any] = data["city"]["coverage"]
    return coverage


async def monthly(demo: Api) -> list[dict[str, Any]]:
    variables = {"from": "2021-01-08", "to": "2022-12-31", "every": "MONTH"}
    data = await demo.data(CITY_SERIES, variables, principal=ANONYMOUS)
    points: list[dict[str, Any]] = data["city"]["coverageSeries"]
    return points


async def test_each_point_is_the_citys_coverage_on_that_date_before_and_after_the_status_is_stored(
    demo: Api,
) -> None:
    pending = await monthly(demo)  # the demo's communities are still pending: counted from their facts
    await StatusKeeper(demo.services.pool).catch_up()
    stored = await monthly(demo)  # now from the stored segments
    assert pending == stored
    assert 24 == len(stored)
    world = await whole_world(demo.services.pool)
    for point in stored:
        _, city = coverage(world, date.fromisoformat(point["on"]))  # evaluated from the facts, in memory
        assert (city.share.whole, city.share.part) == (point["communities"], point["standardized"])
        expected = await city_coverage(demo, point["on"])
        assert expected == {k: point[k] for k in ("communities", "standardized", "rate")}, point["on"]


TOWNS = """query($on: AsOf!) { city(asOf: $on) { coverage { communities standardized }
  towns { id coverage { communities standardized } } } }"""


@pytest.mark.parametrize(
    "day",
    [
        "2020-12-31",
        "2021-01-01",
        "2021-04-16",
        "2022-06-08",
        "2022-06-30",
        "2027-12-31",
        "2028-01-01",
        "2031-03-01",
    ],
)
async def test_coverage_read_from_the_stored_status_is_the_coverage_evaluated_from_the_facts(
    demo: Api, day: str
) -> None:
    """Before the first registration, on the horizon and after it (read from the facts), and between."""
    await StatusKeeper(demo.services.pool).catch_up()
    data = (await demo.data(TOWNS, {"on": day}))["city"]
    towns, city = coverage(await whole_world(demo.services.pool), date.fromisoformat(day))
    assert {"communities": city.share.whole, "standardized": city.share.part} == data["coverage"]
    shares = {t.area_id: {"communities": t.share.whole, "standardized": t.share.part} for t in towns}
    assert {t["id"]: shares[t["id"]] for t in data["towns"]} == {
        t["id"]: t["coverage"] for t in data["towns"]
    }


async def test_the_articles_day_reads_93_of_100(demo: Api) -> None:
    await StatusKeeper(demo.services.pool).catch_up()
    variables = {"from": "2022-06-07", "to": "2022-06-09", "every": "DAY"}
    points = (await demo.data(CITY_SERIES, variables))["city"]["coverageSeries"]
    assert ["2022-06-07", "2022-06-08", "2022-06-09"] == [p["on"] for p in points]
    assert (100, 93) == (points[1]["communities"], points[1]["standardized"])


async def test_a_towns_series_is_its_coverage_on_each_date(demo: Api) -> None:
    await StatusKeeper(demo.services.pool).catch_up()
    points = (await demo.data(TOWN_SERIES, {"from": "2021-03-31", "to": "2022-12-31"}))["town"][
        "coverageSeries"
    ]
    assert 8 == len(points)
    for point in points:
        data = await demo.data(
            f'{{ town(id: "gutang", asOf: "{point["on"]}") {{ coverage {{ communities standardized }} }} }}'
        )
        assert data["town"]["coverage"] == {
            "communities": point["communities"],
            "standardized": point["standardized"],
        }


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"from": "2022-06-08", "to": "2022-01-01", "every": "DAY"}, "is before from"),
        ({"from": "2000-01-01", "to": "2022-12-31", "every": "DAY"}, f"at most {MAX_POINTS} points"),
        ({"from": "2022-01-01", "to": "2999-12-31", "every": "QUARTER"}, "the end of next year"),
    ],
)
async def test_a_series_asked_wrongly_is_a_clear_error(
    demo: Api, variables: dict[str, str], words: str
) -> None:
    result = await demo.execute(CITY_SERIES, variables)
    assert result.errors is not None
    [error] = result.errors
    assert words in error.message
    assert "BAD_USER_INPUT" == (error.extensions or {}).get("code")


def test_a_month_later_keeps_the_day_or_takes_the_months_last() -> None:
    assert [date(2021, 1, 31), date(2021, 2, 28), date(2021, 3, 31), date(2021, 4, 30)] == series_days(
        date(2021, 1, 31), date(2021, 4, 30), Step.MONTH
    )
    assert [date(2023, 11, 30), date(2024, 2, 29), date(2024, 5, 30)] == series_days(
        date(2023, 11, 30), date(2024, 6, 1), Step.QUARTER
    )
    assert [date(2022, 1, 1), date(2022, 1, 8)] == series_days(date(2022, 1, 1), date(2022, 1, 14), Step.WEEK)
    with pytest.raises(QueryError):
        series_days(date(2022, 1, 2), date(2022, 1, 1), Step.DAY)


COMMUNITIES = """query($on: AsOf!, $standardized: Boolean, $after: String) {
  communities(asOf: $on, first: 7, after: $after, filter: {standardized: $standardized},
              orderBy: {field: SCORE, direction: ASC}) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status { standardized score } } } } }"""


@pytest.mark.parametrize("standardized", [None, True, False])
@pytest.mark.parametrize("day", ["2021-06-30", "2022-06-08", "2028-01-01"])
async def test_a_list_filtered_and_sorted_by_status_from_the_stored_segments_is_the_evaluated_one(
    demo: Api, standardized: bool | None, day: str
) -> None:
    await StatusKeeper(demo.services.pool).catch_up()
    world = await whole_world(demo.services.pool)
    on = date.fromisoformat(day)
    # Evaluated from the facts, in memory: every community in scope, by score then id.
    evaluated = [
        evaluate(f, world.standard_on(on), on) for f in world.communities.values() if f.in_scope_on(on)
    ]
    expected = [
        (s.community_id, s.standardized, s.score)
        for s in sorted(evaluated, key=lambda s: (s.score, s.community_id))
        if standardized in (None, s.standardized)
    ]
    got: list[tuple[str, bool, float]] = []
    after: str | None = None
    while True:
        answer = await demo.data(COMMUNITIES, {"on": day, "standardized": standardized, "after": after})
        listed = answer["communities"]
        got += [
            (e["node"]["id"], e["node"]["status"]["standardized"], e["node"]["status"]["score"])
            for e in listed["edges"]
        ]
        assert len(expected) == listed["totalCount"]
        if not listed["pageInfo"]["hasNextPage"]:
            break
        after = listed["pageInfo"]["endCursor"]
    assert expected == got
    if standardized is None:
        assert 100 == len(got)  # every community in scope, each read once across the pages
