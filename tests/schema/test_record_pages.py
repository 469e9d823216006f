"""A community's records paged from the record tables: every page, filter, date and log size gives what the
community's facts give, in log order, each record once, with the right counts; and a list of communities
asking for their records costs one query per kind, not one per community."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from projections.facts import CommunityFacts
from service.read.readmodel import whole_world
from tests.schema.conftest import Api

# (connection field, facts field, date field, filter argument, the fact's field it filters, a value)
LISTS = [
    ("disclosures", "disclosures", "published_on", "category", "category", "FINANCE"),
    ("trainings", "trainings", "held_on", "kind", "kind", "WARNING_MEETING"),
    ("rules", "rules", "adopted_on", "document", "document", "VILLAGE_RULES"),
    ("meetings", "meetings", "held_on", None, None, None),
    ("spotChecks", "spot_checks", "checked_on", None, None, None),
    ("designations", "designations", "designated_on", None, None, None),
]
PAGE = """query($id: ID!, $on: AsOf, $known: TreeSize, $first: Int, $after: String%s) {
  community(id: $id, asOf: $on, knownAt: $known) {
    %s(first: $first, after: $after%s) {
      totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { position } } } } }"""


def expected(
    facts: CommunityFacts, field: str, day_field: str, on: date, only: str | None, value: Any
) -> list[int]:
    chosen = [
        f
        for f in getattr(facts, field)
        if getattr(f, day_field) <= on and (only is None or getattr(f, only).name == value)
    ]
    return sorted(f.position for f in chosen)


async def paged(
    api: Api, name: str, argument: str | None, value: str | None, variables: dict[str, Any]
) -> list[int]:
    extra_var = f", $only: {argument_type(name)}" if argument else ""
    extra_arg = f", {argument}: $only" if argument else ""
    document = PAGE % (extra_var, name, extra_arg)
    positions: list[int] = []
    after = None
    previous = False
    while True:
        data = await api.data(
            document, {**variables, "after": after, **({"only": value} if argument else {})}
        )
        listed = data["community"][name]
        page = [e["node"]["position"] for e in listed["edges"]]
        assert len(page) <= variables["first"]
        assert listed["pageInfo"]["hasPreviousPage"] is previous
        positions += page
        assert listed["totalCount"] >= len(positions)
        if not listed["pageInfo"]["hasNextPage"]:
            assert listed["totalCount"] == len(positions)
            return positions
        after, previous = listed["pageInfo"]["endCursor"], True


def argument_type(name: str) -> str:
    return {"disclosures": "DisclosureCategory", "trainings": "TrainingKind", "rules": "RuleDocument"}[name]


@pytest.mark.parametrize("community", ["shuyuan", "changfeng", "yujia"])
@pytest.mark.parametrize("on", ["2021-06-30", "2022-06-08", "2026-11-30"])
async def test_every_list_pages_as_the_facts_give_it(demo: Api, community: str, on: str) -> None:
    world = await whole_world(demo.services.pool)
    facts = world.communities[community]
    day = date.fromisoformat(on)
    for name, field, day_field, argument, only, value in LISTS:
        for first, filtered in ((1, False), (3, False), (7, True)):
            use = argument if filtered else None
            want = expected(facts, field, day_field, day, only if use else None, value)
            variables = {"id": community, "on": on, "first": first, "known": None}
            got = await paged(demo, name, use, value if use else None, variables)
            assert want == got, (name, first, use)


async def test_records_as_the_log_stood_at_a_size(demo: Api) -> None:
    world = await whole_world(demo.services.pool)
    facts = world.communities["shuyuan"]
    size = sorted(d.position for d in facts.disclosures)[len(facts.disclosures) // 2]
    cut = facts.up_to(size)
    for name, field, day_field, _, _, _ in LISTS:
        want = expected(cut, field, day_field, date(2026, 11, 30), None, None)
        variables = {"id": "shuyuan", "on": "2026-11-30", "first": 5, "known": size}
        assert want == await paged(demo, name, None, None, variables), name


async def test_a_list_of_communities_with_their_records_costs_one_query_per_kind(
    counted: tuple[Api, Any],
) -> None:
    api, counter = counted
    document = """query($first: Int) { communities(asOf: "2022-06-08", first: $first) { edges { node {
      id disclosures(first: 2) { totalCount edges { node { position } } }
      trainings(first: 2) { totalCount } } } } }"""
    await api.data(document, {"first": 1})
    costs = {}
    for size in (5, 50):
        counter.queries.clear()
        data = await api.data(document, {"first": size})
        assert size == len(data["communities"]["edges"])
        costs[size] = len(counter.queries)
    assert costs[5] == costs[50]
    world = await whole_world(api.services.pool)
    for edge in data["communities"]["edges"]:
        node = edge["node"]
        want = expected(
            world.communities[node["id"]], "disclosures", "published_on", date(2022, 6, 8), None, None
        )
        assert want[:2] == [e["node"]["position"] for e in node["disclosures"]["edges"]]
        assert len(want) == node["disclosures"]["totalCount"]


async def test_a_cursor_from_another_list_is_refused(demo: Api) -> None:
    first = await demo.data('{ community(id: "shuyuan") { trainings(first: 1) { pageInfo { endCursor } } } }')
    cursor = first["community"]["trainings"]["pageInfo"]["endCursor"]
    document = """query($after: String) {
      community(id: "shuyuan") { meetings(first: 1, after: $after) { totalCount } } }"""
    result = await demo.execute(document, {"after": cursor})
    assert result.errors is not None
    assert "BAD_USER_INPUT" == (result.errors[0].extensions or {}).get("code")
