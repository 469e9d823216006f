"""A page of communities with their status, town and last disclosure costs the same number of SQL queries
whatever its size: the candidates are one query, the page's facts one more, and the loaders batch the
rest."""

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
    # (one query each, for every date asked), the candidates from the record tables and the page's facts
    # (one each): nothing per community. The keeper has not run here, so every community is pending: the
    # list's standings and the coverage count them from their facts, read in one chunk each (of up to
    # 200 communities). Each connection taken from the pool adds its reset.
    assert costs[5] == costs[50] == costs[100]
    statements = [q for q in counter.queries if not q.startswith("SELECT pg_advisory_unlock_all()")]
    assert len(statements) <= 7, [q.split("\n")[0][:80] for q in statements]
    assert costs[100] <= 12, counter.queries
