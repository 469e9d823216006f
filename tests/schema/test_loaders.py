"""A page of communities with their status, town and last disclosure costs the same number of SQL queries
whatever its size: the world is read once per request and the loaders batch within it."""

from __future__ import annotations

from tests.schema.conftest import Api, Counter

QUERY = """query($first: Int) {
  communities(asOf: "2022-06-08", first: $first) { edges { node {
  id status { standardized score } town { id name coverage { rate } }
  lastDisclosure { publishedOn title } } } } }"""


async def test_a_page_costs_a_constant_number_of_queries_whatever_its_size(
    counted: tuple[Api, Counter],
) -> None:
    api, counter = counted
    await api.data(QUERY, {"first": 1})  # the read model's first load of the world
    costs = {}
    for size in (5, 50, 100):
        counter.queries.clear()
        data = await api.data(QUERY, {"first": size})
        assert size == len(data["communities"]["edges"])
        costs[size] = len(counter.queries)
    # The projection's checkpoint, the list's standings and the towns' coverage from the stored status
    # (one query each, for every date asked), each with the pool's reset of its connection: nothing per
    # community.
    assert costs[5] == costs[50] == costs[100]
    assert costs[100] <= 6, counter.queries
