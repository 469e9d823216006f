"""Disclosure rates from the stored disclosure years: the same figures as evaluated from the facts, on any
date and for any year, before the keeper has stored them and after, for the city and for each town."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from projections.coverage import disclosure_rate
from service.read.readmodel import whole_world
from service.read.status import StatusKeeper
from tests.schema.conftest import Api

RATES = """query($on: AsOf!, $year: Int!) { city(asOf: $on) {
  disclosureRate(year: $year) { communities disclosed }
  towns { id disclosureRate(year: $year) { communities disclosed } } } }"""
CITY_SERIES = """query($year: Int!, $from: Date!, $to: Date!, $every: SeriesStep!) { city {
  disclosureRateSeries(year: $year, from: $from, to: $to, every: $every) {
    on communities disclosed rate } } }"""
TOWN_SERIES = """query($year: Int!, $from: Date!, $to: Date!) { town(id: "gutang") {
  disclosureRateSeries(year: $year, from: $from, to: $to, every: MONTH) { on communities disclosed } } }"""


async def expected_rates(demo: Api, year: int, day: str) -> dict[str, Any]:
    """The rates evaluated from the facts in memory, in the API's shape."""
    towns, city = disclosure_rate(await whole_world(demo.services.pool), year, date.fromisoformat(day))
    shares = {t.area_id: {"communities": t.share.whole, "disclosed": t.share.part} for t in towns}
    return {"city": {"communities": city.share.whole, "disclosed": city.share.part}, "towns": shares}


async def answered_rates(demo: Api, year: int, day: str) -> dict[str, Any]:
    data = (await demo.data(RATES, {"on": day, "year": year}))["city"]
    return {
        "city": data["disclosureRate"],
        "towns": {t["id"]: t["disclosureRate"] for t in data["towns"]},
    }


@pytest.mark.parametrize(
    ("year", "day"),
    [
        (2020, "2021-06-30"),
        (2021, "2021-06-30"),
        (2021, "2022-01-20"),
        (2021, "2022-06-08"),
        (2022, "2022-06-08"),
        (2022, "2023-03-01"),
        (2026, "2027-12-31"),
        (2027, "2028-01-01"),
        (2031, "2031-03-01"),
    ],
)
async def test_a_rate_read_from_the_stored_years_is_the_rate_evaluated_from_the_facts(
    demo: Api, year: int, day: str
) -> None:
    """Before the keeper has run (every community pending: from the facts), and after (from the table);
    a year after this one is read from the facts."""
    before = await answered_rates(demo, year, day)
    await StatusKeeper(demo.services.pool).catch_up()
    after = await answered_rates(demo, year, day)
    expected = await expected_rates(demo, year, day)
    assert expected["city"] == before["city"] == after["city"]
    assert {t: expected["towns"][t] for t in after["towns"]} == after["towns"] == before["towns"]


async def test_the_articles_figure_reads_100_of_100_from_the_table(demo: Api) -> None:
    await StatusKeeper(demo.services.pool).catch_up()
    assert 0 == await StatusKeeper(demo.services.pool).pending()
    rates = await answered_rates(demo, 2021, "2022-06-08")
    assert {"communities": 100, "disclosed": 100} == rates["city"]


async def test_each_point_of_a_series_is_the_rate_on_that_date(demo: Api) -> None:
    variables = {"year": 2021, "from": "2021-01-31", "to": "2022-06-30", "every": "MONTH"}
    pending = (await demo.data(CITY_SERIES, variables))["city"]["disclosureRateSeries"]
    await StatusKeeper(demo.services.pool).catch_up()
    stored = (await demo.data(CITY_SERIES, variables))["city"]["disclosureRateSeries"]
    assert pending == stored
    assert 18 == len(stored)
    # The year fills up: nothing is complete before its last period's disclosures, and all of it is after.
    assert stored[0]["disclosed"] < stored[-1]["disclosed"] == stored[-1]["communities"]
    assert [p["disclosed"] for p in stored] == sorted(p["disclosed"] for p in stored)
    for point in stored:
        expected = (await expected_rates(demo, 2021, point["on"]))["city"]
        assert expected == {"communities": point["communities"], "disclosed": point["disclosed"]}


async def test_a_towns_series_is_its_rate_on_each_date(demo: Api) -> None:
    await StatusKeeper(demo.services.pool).catch_up()
    variables = {"year": 2022, "from": "2022-01-31", "to": "2023-03-31"}
    points = (await demo.data(TOWN_SERIES, variables))["town"]["disclosureRateSeries"]
    assert 15 == len(points)
    for point in points:
        expected = (await expected_rates(demo, 2022, point["on"]))["towns"]["gutang"]
        assert expected == {"communities": point["communities"], "disclosed": point["disclosed"]}


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"year": 2021, "from": "2022-06-08", "to": "2022-01-01", "every": "DAY"}, "is before from"),
        ({"year": 2021, "from": "2000-01-01", "to": "2022-12-31", "every": "DAY"}, "at most 1000 points"),
        ({"year": 2021, "from": "2022-01-01", "to": "2999-12-31", "every": "QUARTER"}, "end of next year"),
        ({"year": 1, "from": "2022-01-01", "to": "2022-12-31", "every": "QUARTER"}, "between 1990 and 2999"),
    ],
)
async def test_a_series_asked_wrongly_is_a_clear_error(
    demo: Api, variables: dict[str, Any], words: str
) -> None:
    result = await demo.execute(CITY_SERIES, variables)
    assert result.errors is not None
    [error] = result.errors
    assert words in error.message
    assert "BAD_USER_INPUT" == (error.extensions or {}).get("code")
