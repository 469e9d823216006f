"""The article's figures, read through GraphQL from the demo's records."""

from __future__ import annotations

import pytest

from tests.schema.conftest import Api


async def test_city_coverage_on_2022_06_08_is_93_of_100(demo: Api) -> None:
    data = await demo.data(
        '{ city(asOf: "2022-06-08") { name asOf coverage { communities standardized rate } } }'
    )
    assert {"communities": 100, "standardized": 93, "rate": 0.93} == data["city"]["coverage"]
    assert "慈溪市" == data["city"]["name"]
    assert "2022-06-08" == data["city"]["asOf"]


async def test_disclosure_rate_for_2021_is_100_of_100(demo: Api) -> None:
    data = await demo.data(
        '{ city(asOf: "2022-06-08") { disclosureRate(year: 2021) { year communities disclosed rate } } }'
    )
    assert {"year": 2021, "communities": 100, "disclosed": 100, "rate": 1.0} == data["city"]["disclosureRate"]


async def test_town_figures_add_up_to_the_city(demo: Api) -> None:
    data = await demo.data('{ towns(asOf: "2022-06-08") { id name coverage { communities standardized } } }')
    towns = data["towns"]
    assert 19 == len(towns)
    assert 100 == sum(t["coverage"]["communities"] for t in towns)
    assert 93 == sum(t["coverage"]["standardized"] for t in towns)


@pytest.mark.parametrize(
    "as_of", ["2022-06-08", "2022-06-08T23:59:59+08:00", "2022-06-08T10:00:00", "2022-06-08T15:00:00Z"]
)
async def test_as_of_a_date_or_any_moment_of_that_shanghai_day_gives_the_same_figures(
    demo: Api, as_of: str
) -> None:
    data = await demo.data(
        "query($t: AsOf) { city(asOf: $t) { asOf coverage { standardized } } }", {"t": as_of}
    )
    assert {"asOf": "2022-06-08", "coverage": {"standardized": 93}} == data["city"]


async def test_the_shortfalls_are_explained(demo: Api) -> None:
    data = await demo.data(
        """{ communities(asOf: "2022-06-08", first: 100, filter: {standardized: false}) {
             totalCount
             edges { node { id status { standardized score unmet { criterion detail } standardVersion } } }
           } }"""
    )
    page = data["communities"]
    assert 7 == page["totalCount"]
    for edge in page["edges"]:
        status = edge["node"]["status"]
        assert status["standardized"] is False
        assert status["unmet"], edge
        assert 1 == status["standardVersion"]


async def test_towns_are_listed_only_once_registered(demo: Api) -> None:
    before = await demo.data('{ towns(asOf: "2020-12-31") { id } city(asOf: "2020-12-31") { towns { id } } }')
    after = await demo.data('{ towns(asOf: "2021-01-01") { id } }')
    assert ([], []) == (before["towns"], before["city"]["towns"])
    assert 19 == len(after["towns"])
