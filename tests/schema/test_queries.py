"""Queries on the demo: communities paged by keyset cursors, filtered and sorted; a community's records;
the log and a stream's trail; the standard."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from projections.ordering import name_key
from tests.schema.conftest import Api
from tests.support.principals import ANONYMOUS

PAGE = """query($first: Int, $after: String, $order: CommunityOrderBy, $filter: CommunityFilterInput) {
  communities(asOf: "2022-06-08", first: $first, after: $after, orderBy: $order, filter: $filter) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id name status { score } } }
  } }"""


async def all_pages(api: Api, first: int, **variables: Any) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await api.data(PAGE, {"first": first, "after": after, **variables}))["communities"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_paging_through_communities_visits_each_once_in_pinyin_order(demo: Api, direction: str) -> None:
    nodes = await all_pages(demo, 30, order={"field": "NAME", "direction": direction})
    ids = [n["id"] for n in nodes]
    assert 100 == len(ids) == len(set(ids))
    keys = [(name_key(n["name"]), n["name"], n["id"]) for n in nodes]
    assert keys == sorted(keys, reverse=direction == "DESC")
    # Not code point order, which the demo's names alone already contradict.
    assert [(n["name"], n["id"]) for n in nodes] != sorted(
        ((n["name"], n["id"]) for n in nodes), reverse=direction == "DESC"
    )


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_sorting_by_score_pages_consistently_both_ways(demo: Api, direction: str) -> None:
    nodes = await all_pages(demo, 40, order={"field": "SCORE", "direction": direction})
    keys = [(n["status"]["score"], n["id"]) for n in nodes]
    assert sorted(keys, reverse=direction == "DESC") == keys
    assert 100 == len(keys)


async def test_sorting_by_last_activity_gives_every_community(demo: Api) -> None:
    nodes = await all_pages(demo, 100, order={"field": "LAST_ACTIVITY", "direction": "DESC"})
    assert 100 == len({n["id"] for n in nodes})


async def test_filters_combine(demo: Api) -> None:
    town = (await demo.data(PAGE, {"first": 100, "filter": {"town": "gutang"}}))["communities"]
    assert 0 < town["totalCount"] < 100
    points = (await demo.data(PAGE, {"first": 100, "filter": {"designation": "PREFECTURE"}}))["communities"]
    assert ["shuyuan"] == [e["node"]["id"] for e in points["edges"]]
    named = await demo.data(PAGE, {"first": 100, "filter": {"nameContains": "舒苑", "town": "gutang"}})
    assert ["shuyuan"] == [e["node"]["id"] for e in named["communities"]["edges"]]
    villages = (await demo.data(PAGE, {"first": 1, "filter": {"kind": "VILLAGE"}}))["communities"]
    assert 0 < villages["totalCount"] < 100


async def test_a_cursor_of_another_order_or_garbage_is_refused_as_bad_user_input(demo: Api) -> None:
    first = (await demo.data(PAGE, {"first": 1}))["communities"]
    cursor = first["pageInfo"]["endCursor"]
    for variables in (
        {"after": cursor, "order": {"field": "SCORE"}},
        {"after": "not a cursor!"},
        {"after": "W10"},
        {"after": "x" * 5000},
        # A cursor of the list by name as it was sorted by code point: (name, id) with no pinyin key.
        {"after": forge(["communities", "name", "asc", 0, "舒苑社区", "shuyuan"])},
    ):
        result = await demo.execute(PAGE, {"first": 1, **variables})
        assert result.errors is not None, variables
        assert "BAD_USER_INPUT" == (result.errors[0].extensions or {}).get("code")
        assert "after" in result.errors[0].message


def forge(parts: list[Any]) -> str:
    """A cursor as the server makes them, from parts the server would never write (JSON escapes keep a
    lone surrogate encodable)."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()


async def test_a_forged_cursor_or_filter_the_database_cannot_compare_is_bad_user_input(demo: Api) -> None:
    # Well-formed cursors of the list by name, holding text no name has: NUL, an unpaired surrogate.
    forged = [forge(["communities", "name", "asc", 0, text, "", "x"]) for text in ("a\x00b", "\ud800")]
    forged += [forge(["communities", "name", "asc", 0, "", text, "x"]) for text in ("a\x00b", "\ud800")]
    cases: list[dict[str, Any]] = [{"after": cursor} for cursor in forged]
    cases += [{"filter": {"nameContains": "舒\x00苑"}}, {"filter": {"nameContains": "\udfff"}}]
    for variables in cases:
        result = await demo.execute(PAGE, {"first": 1, **variables})
        assert result.errors is not None, variables
        assert "BAD_USER_INPUT" == (result.errors[0].extensions or {}).get("code"), variables
        assert "NUL" in result.errors[0].message
    # A cursor between two names continues after where it would stand.
    between = forge(["communities", "name", "asc", 0, "", "", ""])
    assert (await demo.data(PAGE, {"first": 3, "after": between}))["communities"] == (
        await demo.data(PAGE, {"first": 3})
    )["communities"]


async def test_more_than_100_per_page_is_refused_as_page_too_large(demo: Api) -> None:
    result = await demo.execute(PAGE, {"first": 101})
    assert result.errors is not None
    error = result.errors[0]
    assert "PAGE_TOO_LARGE" == (error.extensions or {}).get("code")
    assert "100" in error.message


async def test_a_community_shows_its_records_as_of_a_date(demo: Api) -> None:
    data = await demo.data(
        """{ community(id: "shuyuan", asOf: "2022-06-08") {
             id name kind town { id name } asOf registeredOn
             status { standardized score unmet { criterion } standardVersion asOf position }
             lastDisclosure { publishedOn }
             disclosures(first: 2) { totalCount edges { node { category period publishedOn } } }
             trainings(first: 100) { totalCount edges { node { kind heldOn } } }
             rules(first: 100) { totalCount } currentRules { document version }
             meetings(first: 1) { totalCount } spotChecks(first: 1) { totalCount }
             designations { edges { node { level title } } }
           } }"""
    )
    community = data["community"]
    assert {"id": "gutang", "name": "古塘街道"} == community["town"]
    assert "2022-06-08" == community["asOf"] == community["status"]["asOf"]
    assert community["status"]["standardized"] is True
    assert "PREFECTURE" in [e["node"]["level"] for e in community["designations"]["edges"]]
    assert all(e["node"]["heldOn"] <= "2022-06-08" for e in community["trainings"]["edges"])
    assert community["lastDisclosure"]["publishedOn"] <= "2022-06-08"
    assert 2 == len(community["disclosures"]["edges"])
    assert community["currentRules"]


async def test_an_unknown_community_or_town_is_null(demo: Api) -> None:
    data = await demo.data('{ community(id: "nowhere") { id } town(id: "nowhere") { id } }')
    assert {"community": None, "town": None} == data


async def test_history_is_the_full_trail_of_a_stream_in_version_order(demo: Api) -> None:
    query = """query($after: String) { history(streamId: "community-shuyuan", first: 50, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node {
          position streamId streamVersion type schemaVersion recordedAt actor payload leafHash } }
      } }"""
    versions: list[int] = []
    after = None
    total = 0
    while True:
        page = (await demo.data(query, {"after": after}))["history"]
        total = page["totalCount"]
        for edge in page["edges"]:
            node = edge["node"]
            versions.append(node["streamVersion"])
            assert "community-shuyuan" == node["streamId"]
            assert 64 == len(node["leafHash"])
            assert "demo" == node["actor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert list(range(1, total + 1)) == versions
    first = await demo.data(
        '{ history(streamId: "community-shuyuan", first: 1) { edges { node { type payload } } } }'
    )
    node = first["history"]["edges"][0]["node"]
    assert "CommunityRegistered" == node["type"]
    assert "shuyuan" == node["payload"]["community_id"]


async def test_a_malformed_stream_id_is_bad_user_input(demo: Api) -> None:
    result = await demo.execute('{ history(streamId: "no spaces here") { totalCount } }')
    assert result.errors is not None
    assert "BAD_USER_INPUT" == (result.errors[0].extensions or {}).get("code")


async def test_the_log_pages_by_position_and_filters_by_type_and_stream(demo: Api) -> None:
    query = """query($after: String, $filter: EventFilter) {
      events(first: 100, after: $after, filter: $filter) {
        pageInfo { hasNextPage endCursor } edges { node { position type streamId } } } }"""
    first = (await demo.data(query))["events"]
    positions = [e["node"]["position"] for e in first["edges"]]
    assert list(range(1, 101)) == positions
    second = (await demo.data(query, {"after": first["pageInfo"]["endCursor"]}))["events"]
    assert 101 == second["edges"][0]["node"]["position"]
    trainings = await demo.data(
        query, {"filter": {"types": ["TrainingHeld"], "streamPrefix": "community-shuyuan"}}
    )
    nodes = [e["node"] for e in trainings["events"]["edges"]]
    assert nodes
    assert {("TrainingHeld", "community-shuyuan")} == {(n["type"], n["streamId"]) for n in nodes}
    unknown = await demo.execute(query, {"filter": {"types": ["Nonsense"]}})
    assert unknown.errors is not None
    assert "Nonsense" in unknown.errors[0].message


async def test_the_standard_in_force_and_all_its_versions(demo: Api) -> None:
    data = await demo.data(
        '{ standard(asOf: "2022-06-08") { version effectiveFrom criteria { id kind params } } '
        "standards { version } }"
    )
    assert 1 == data["standard"]["version"]
    assert data["standard"]["criteria"]
    assert [{"version": 1}] == data["standards"]
    before = await demo.data('{ standard(asOf: "1999-01-01") { version } }')
    assert before["standard"] is None


async def test_an_as_of_that_is_not_a_date_is_refused_with_the_reason(demo: Api) -> None:
    result = await demo.execute("query($t: AsOf) { city(asOf: $t) { asOf } }", {"t": "yesterday"})
    assert result.errors is not None
    assert "is not an ISO 8601 date or date-time" in result.errors[0].message
    literal = await demo.execute("{ city(asOf: 20220608) { asOf } }")
    assert literal.errors is not None


@pytest.mark.parametrize(
    ("as_of", "says"),
    [
        ("9999-12-31", "outside the programme's years, 1990 to 2999"),
        ("3000-01-01", "outside the programme's years, 1990 to 2999"),
        ("0001-01-01", "outside the programme's years, 1990 to 2999"),
        ("9999-12-31T23:00:00-12:00", "outside the calendar"),
    ],
)
async def test_an_as_of_outside_the_programme_years_is_refused_with_the_reason(
    demo: Api, as_of: str, says: str
) -> None:
    # As of 9999-12-31 the city's coverage was an unexpected error: a status steps past the date.
    for document in (
        f'{{ city(asOf: "{as_of}") {{ coverage {{ communities }} }} }}',
        f'{{ town(id: "gutang", asOf: "{as_of}") {{ coverage {{ communities }} }} }}',
    ):
        result = await demo.execute(document)
        assert result.errors is not None
        assert says in result.errors[0].message, result.errors
    assert "2999-12-31" == (await demo.data('{ city(asOf: "2999-12-31") { asOf } }'))["city"]["asOf"]


async def test_a_community_carries_its_english_gloss_and_its_own_history(demo: Api) -> None:
    data = await demo.data(
        """{ community(id: "shuyuan") { name nameEn history(first: 100) { totalCount edges { node {
             position streamId type } } } }
           history(streamId: "community-shuyuan", first: 100) { totalCount edges { node {
             position streamId type } } } }"""
    )
    community = data["community"]
    assert community["nameEn"]  # the demo registers every community with its English gloss
    assert community["nameEn"] != community["name"]
    # The same trail as the stream's, without the client spelling out the stream's name.
    assert data["history"] == community["history"]
    assert {"community-shuyuan"} == {e["node"]["streamId"] for e in community["history"]["edges"]}


async def test_a_community_history_is_for_those_who_may_read_its_records(demo: Api) -> None:
    result = await demo.execute(
        '{ community(id: "shuyuan") { name history(first: 1) { totalCount } } }', principal=ANONYMOUS
    )
    assert result.data is not None
    assert result.data["community"]["history"] is None
    assert result.data["community"]["name"]
    assert result.errors is not None
    assert ["NOT_AUTHORIZED"] == [(e.extensions or {}).get("code") for e in result.errors]


async def test_status_position_is_the_last_record_dated_by_the_day_asked(demo: Api) -> None:
    query = """query($on: AsOf) { community(id: "shuyuan", asOf: $on) { status { position } }
        history(streamId: "community-shuyuan", first: 100) { edges { node { position payload } } } }"""
    early = await demo.data(query, {"on": "2021-03-31"})
    late = await demo.data(query, {"on": "2022-06-08"})
    events = {e["node"]["position"]: e["node"]["payload"] for e in early["history"]["edges"]}
    at = early["community"]["status"]["position"]
    # The event it names is dated by the day asked (each payload's *_on field is its day)...
    assert any(k.endswith("_on") and v <= "2021-03-31" for k, v in events[at].items())
    # ...and every later event of the stream is dated after it.
    for position, payload in events.items():
        if position > at:
            assert not any(k.endswith("_on") and v <= "2021-03-31" for k, v in payload.items()), payload
    # Records were made after 2021-03-31: the earlier day's status follows from an earlier position.
    assert early["community"]["status"]["position"] < late["community"]["status"]["position"]
