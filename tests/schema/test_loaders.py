"""A page of communities with their status, town and last disclosure costs the same number of SQL queries
whatever its size: the candidates are one query, the page's facts one more, and the loaders batch the
rest."""

from __future__ import annotations

import gc
from collections import Counter

from tests.schema import conftest
from tests.schema.conftest import Api

QUERY = """query($first: Int) {
  communities(asOf: "2022-06-08", first: $first) { edges { node {
  id status { standardized score } town { id name coverage { rate } }
  lastDisclosure { publishedOn title } } } } }"""


async def test_a_page_costs_a_constant_number_of_queries_whatever_its_size(
    counted: tuple[Api, conftest.Counter],
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


PAGES = """{ communities(first: 100) { edges { node {
  id status { standardized } town { id }
  trainings(first: 10) { edges { node { trainingId } } }
  disclosures(first: 10) { edges { node { disclosureId } } } } } } }"""


async def test_what_an_operation_read_is_freed_with_it_not_left_to_the_cyclic_collector(demo: Api) -> None:
    """The loaders and their Loaders refer to each other (each load function is a bound method): if what
    they cached stayed in that cycle, only a pass of the cyclic collector could free it, and that pass
    would walk it all with the event loop held. Closed at the operation's end, none of it is garbage."""
    await demo.data(PAGES)  # warm: the read model's world, prepared statements
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(2):
            assert 100 == len((await demo.data(PAGES))["communities"]["edges"])
        gc.collect()
        left = Counter(type(item).__name__ for item in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    read = {"RecordPage", "Training", "Disclosure", "Future", "LoaderTask", "CommunityFacts", "TownFacts"}
    assert not {name: left[name] for name in read if left[name]}, left.most_common(10)
