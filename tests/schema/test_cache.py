"""The response cache, end to end over HTTP with the lifespan running: a hit is what a fresh execution
answers, a write that moves the projection shows at once, every part of the key separates entries, and
mutations, reads of the log and errors never come from it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from starlette.applications import Starlette
from starlette.routing import Route
from structlog.testing import capture_logs

from events.access import Role, ScopeKind
from projections.access import Scope
from schema.app import GraphQLView, Guard
from schema.build import build_schema
from schema.cache import Key, ResponseCache, plan
from service.runtime.app import DatabaseUrls, create_app
from service.runtime.settings import Settings, SettingsError

SETUP = """mutation {
  registerTown(input: {townId: "hushan", name: "浒山街道", kind: SUBDISTRICT, registeredOn: "2021-01-01"},
               idempotencyKey: "town") { __typename }
  a: registerCommunity(input: {communityId: "yubo", townId: "hushan", name: "虞波社区", kind: COMMUNITY,
                               registeredOn: "2021-01-01"}, idempotencyKey: "yubo") { __typename }
  b: registerCommunity(input: {communityId: "baiguo", townId: "hushan", name: "白果树社区", kind: COMMUNITY,
                               registeredOn: "2021-01-01"}, idempotencyKey: "baiguo") { __typename }
}"""
PUBLISH = """mutation($key: String!) {
  publishDisclosure(idempotencyKey: $key, input: {communityId: "yubo", disclosureId: $key, category: FINANCE,
    period: "2022-Q1", channel: NOTICE_BOARD, publishedOn: "2022-04-05", title: "财务公开", digest: "%s"})
  { __typename ... on Recorded { settled } }
}""" % ("ab" * 32)
COMMUNITY = """query($id: ID!) {
  community(id: $id) { id name asOf status { standardized score position } lastDisclosure { disclosureId } }
}"""
DASHBOARD = """{ city { asOf coverage { communities standardized rate } }
  towns { id coverage { communities } }
  communities(first: 10) { totalCount edges { node { id status { score position } town { name } } } } }"""


class Clock:
    """The moment the view reads "today" from; tests move it."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@dataclass
class Served:
    client: httpx.AsyncClient
    clock: Clock
    cache: ResponseCache
    logs: list[MutableMapping[str, Any]]
    app: Starlette
    # Authorization headers by who: admin, inspector, integrator, and the clerk of yubo.
    bearer: dict[str, dict[str, str]] = field(default_factory=dict)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, path: str = "/graphql", **extra: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if "operation_name" in extra:
            body["operationName"] = extra.pop("operation_name")
        return await self.client.post(path, json=body, headers=extra.pop("headers", None))

    def outcomes(self) -> list[str]:
        """The `cache` field of each operation's log line so far, and forget them."""
        found = [str(e.get("cache")) for e in self.logs if e.get("event") == "graphql operation"]
        self.logs.clear()
        return found


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as captured:
        yield captured


@pytest.fixture
async def served(
    database_url: str, tmp_path: Path, logs: list[MutableMapping[str, Any]]
) -> AsyncIterator[Served]:
    """The app with two views of one schema: /graphql with the cache, /fresh without."""
    settings = Settings(database_url=database_url, data_dir=tmp_path, pool_min_size=1, pool_max_size=4)
    schema = build_schema()
    clock = Clock(datetime(2022, 6, 8, 4, 0, tzinfo=UTC))
    cache = ResponseCache()
    limit = schema.limits.max_body_bytes
    cached = Guard(GraphQLView(schema, cache=cache, clock=clock), limit)
    fresh = Guard(GraphQLView(schema, clock=clock), limit)
    app = create_app(
        settings, DatabaseUrls(owner=database_url), routes=[Route("/graphql", cached), Route("/fresh", fresh)]
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://qinglian.test") as client,
    ):
        served = Served(client, clock, cache, logs, app)
        tokens = app.state.services.tokens
        for who, role, scope in [
            ("admin", Role.ADMIN, Scope()),
            ("inspector", Role.INSPECTOR, Scope()),
            ("integrator", Role.INTEGRATOR, Scope()),
            ("clerk", Role.CLERK, Scope(kind=ScopeKind.COMMUNITY, id="yubo")),
        ]:
            issued = await tokens.create(role=role, scope=scope, label=f"test {who}", issuer="test")
            served.bearer[who] = {"Authorization": f"Bearer {issued.token}"}
        setup = (await served.post(SETUP, headers=served.bearer["admin"])).json()
        assert "errors" not in setup, setup
        assert {"__typename": "Recorded"} == setup["data"]["a"]
        services = app.state.services
        assert await services.projector.wait_for(await services.store.head(), within=10.0)
        logs.clear()
        yield served


async def test_a_cacheable_query_while_the_database_is_gone_is_a_graphql_error_with_its_code_not_a_500(
    served: Served,
) -> None:
    await served.app.state.services.pool.close()  # every read now fails, the checkpoint's first
    answer = await served.post(DASHBOARD)
    assert 200 == answer.status_code
    assert "application/json" == answer.headers["content-type"]
    assert ["DATABASE_UNAVAILABLE"] == [e["extensions"]["code"] for e in answer.json()["errors"]]
    assert ["bypass"] == served.outcomes()


async def test_a_hit_answers_exactly_what_a_fresh_execution_answers(served: Served) -> None:
    first = await served.post(DASHBOARD)
    second = await served.post(DASHBOARD)
    fresh = await served.post(DASHBOARD, path="/fresh")
    assert ["miss", "hit", "bypass"] == served.outcomes()
    assert 200 == second.status_code
    assert "application/json" == second.headers["content-type"]
    assert fresh.content == first.content == second.content
    assert 2 == second.json()["data"]["communities"]["totalCount"]


async def test_a_write_that_moves_the_projection_shows_in_the_next_answer(served: Served) -> None:
    clerk = served.bearer["clerk"]
    before = await served.post(COMMUNITY, {"id": "yubo"}, headers=clerk)
    assert before.content == (await served.post(COMMUNITY, {"id": "yubo"}, headers=clerk)).content
    assert ["miss", "hit"] == served.outcomes()
    assert before.json()["data"]["community"]["lastDisclosure"] is None

    recorded = await served.post(PUBLISH, {"key": "d-2022-q1"}, headers=clerk)
    assert {"__typename": "Recorded", "settled": True} == recorded.json()["data"]["publishDisclosure"]
    after = await served.post(COMMUNITY, {"id": "yubo"}, headers=clerk)
    assert ["bypass", "miss"] == served.outcomes()
    community = after.json()["data"]["community"]
    assert {"disclosureId": "d-2022-q1"} == community["lastDisclosure"]
    assert community["status"]["position"] > before.json()["data"]["community"]["status"]["position"]
    fresh = await served.post(COMMUNITY, {"id": "yubo"}, path="/fresh", headers=clerk)
    assert after.content == fresh.content


async def test_variables_who_asks_and_operation_name_each_make_their_own_entry(served: Served) -> None:
    inspector, integrator = served.bearer["inspector"], served.bearer["integrator"]
    yubo = await served.post(COMMUNITY, {"id": "yubo"}, headers=inspector)
    baiguo = await served.post(COMMUNITY, {"id": "baiguo"}, headers=inspector)
    assert "虞波社区" == yubo.json()["data"]["community"]["name"]
    assert "白果树社区" == baiguo.json()["data"]["community"]["name"]
    await served.post(COMMUNITY, {"id": "yubo"}, headers=integrator)
    assert ["miss", "miss", "miss"] == served.outcomes()

    two = "query Towns { towns { id } } query Standards { standards { version } }"
    towns = await served.post(two, operation_name="Towns")
    standards = await served.post(two, operation_name="Standards")
    assert {"towns": [{"id": "hushan"}]} == towns.json()["data"]
    assert {"standards": [{"version": 1}]} == standards.json()["data"]
    assert ["miss", "miss"] == served.outcomes()

    await served.post(COMMUNITY, {"id": "baiguo"}, headers=inspector)
    await served.post(two, operation_name="Standards")
    await served.post(COMMUNITY, {"id": "yubo"}, headers=integrator)
    assert ["hit", "hit", "hit"] == served.outcomes()


async def test_a_new_local_date_is_a_new_entry(served: Served) -> None:
    query = "{ city { asOf } }"
    assert {"city": {"asOf": "2022-06-08"}} == (await served.post(query)).json()["data"]
    await served.post(query)
    # 16:00 UTC is midnight in Shanghai: "today" has changed, and so has the answer.
    served.clock.moment += timedelta(hours=12)
    assert {"city": {"asOf": "2022-06-09"}} == (await served.post(query)).json()["data"]
    assert ["miss", "hit", "miss"] == served.outcomes()


async def test_mutations_and_reads_of_the_log_bypass_the_cache(served: Served) -> None:
    for _ in range(2):
        await served.post(PUBLISH, {"key": "d-once"}, headers=served.bearer["clerk"])
        inspector = served.bearer["inspector"]
        await served.post("{ events(first: 2) { edges { node { position type } } } }", headers=inspector)
        await served.post('{ history(streamId: "community-yubo") { totalCount } }', headers=inspector)
        await served.post("{ checkpoint { treeSize } }")
        await served.post(
            "{ city { asOf } events(first: 1) { edges { node { position } } } }", headers=inspector
        )
        await served.post("{ __schema { queryType { name } } }")
    assert ["bypass"] * 12 == served.outcomes()


def test_only_queries_whose_root_fields_read_the_projections_are_cacheable() -> None:
    def cacheable(document: str, name: str | None = None) -> bool:
        return plan(document, name, max_tokens=2000).cacheable

    assert cacheable("{ city { asOf } towns { id } standards { version } __typename }")
    assert cacheable("query Q { ...F } fragment F on Query { ... on Query { standard { version } } }")
    assert not cacheable("query Q { ...F } fragment F on Query { events { totalCount } }")
    assert not cacheable("{ ... on Query { inclusionProof(position: 1, treeSize: 1) { treeSize } } }")
    assert not cacheable('mutation { registerTown(input: {}, idempotencyKey: "k") { __typename } }')
    assert not cacheable("query A { city { asOf } } query B { towns { id } }")  # which one? graphql says
    assert cacheable("query A { city { asOf } } query B { towns { id } }", "B")
    assert not cacheable("query A { city { asOf } } mutation B { x }", "B")
    assert not cacheable("{ city { ")


async def test_errors_are_never_stored(served: Served) -> None:
    query = '{ communities(after: "not-a-cursor") { totalCount } }'
    for _ in range(2):
        body = (await served.post(query)).json()
        assert "BAD_USER_INPUT" == body["errors"][0]["extensions"]["code"]
    assert ["miss", "miss"] == served.outcomes()
    assert 0 == len(served.cache)


async def test_concurrent_identical_requests_run_once_and_all_get_the_answer(served: Served) -> None:
    answers = await asyncio.gather(*(served.post(DASHBOARD) for _ in range(16)))
    assert {200} == {a.status_code for a in answers}
    assert 1 == len({a.content for a in answers})
    assert ["hit"] * 15 + ["miss"] == sorted(served.outcomes())
    assert answers[0].content == (await served.post(DASHBOARD, path="/fresh")).content


def key(position: int, document: str = "{ towns { id } }") -> Key:
    return Key(document, "{}", None, "reader", 1, position, datetime(2022, 6, 8, tzinfo=UTC).date())


def test_storing_a_newer_checkpoint_drops_the_older_entries() -> None:
    cache = ResponseCache()
    cache.put(key(5), b"five")
    cache.put(key(5, "{ city { asOf } }"), b"five too")
    cache.put(key(6), b"six")
    assert (None, None, b"six") == (
        cache.get(key(5)),
        cache.get(key(5, "{ city { asOf } }")),
        cache.get(key(6)),
    )
    cache.put(key(5), b"late")  # a straggler from before the move is not kept
    assert cache.get(key(5)) is None
    assert 1 == len(cache)


def test_the_cache_is_bounded_in_entries_and_bytes() -> None:
    by_count = ResponseCache(max_entries=3)
    for n in range(5):
        by_count.put(key(1, f'{{ town(id: "t{n}") {{ id }} }}'), b"x")
    assert 3 == len(by_count)
    assert by_count.get(key(1, '{ town(id: "t0") { id } }')) is None
    assert b"x" == by_count.get(key(1, '{ town(id: "t4") { id } }'))

    by_bytes = ResponseCache(max_bytes=10_000)
    for n in range(5):
        by_bytes.put(key(1, f'{{ town(id: "t{n}") {{ id }} }}'), b"y" * 3_000)
    assert 3 == len(by_bytes)


def test_the_least_recently_used_goes_first_and_a_replaced_body_is_counted_once() -> None:
    cache = ResponseCache(max_entries=2, max_bytes=10_000)
    first, second, third = (key(1, f'{{ town(id: "t{n}") {{ id }} }}') for n in range(3))
    cache.put(first, b"1")
    cache.put(second, b"2")
    assert b"1" == cache.get(first)  # used: now `second` is the least recently used
    cache.put(third, b"3")
    assert (b"1", None, b"3") == (cache.get(first), cache.get(second), cache.get(third))

    for _ in range(10):  # replacing a body frees the old one's bytes
        cache.put(first, b"x" * 4_000)
    assert b"x" * 4_000 == cache.get(first)
    assert b"3" == cache.get(third)
    too_big = key(1, "{ towns { name } }")
    cache.put(too_big, b"z" * 10_001)  # served, never kept, and it evicts nothing
    assert (None, 2) == (cache.get(too_big), len(cache))


def test_the_setting_turns_the_cache_on_by_default_and_off_on_request() -> None:
    assert Settings.from_env({}).response_cache is True
    assert Settings.from_env({"QINGLIAN_RESPONSE_CACHE": "off"}).response_cache is False
    with pytest.raises(SettingsError, match="QINGLIAN_RESPONSE_CACHE must be on or off"):
        Settings.from_env({"QINGLIAN_RESPONSE_CACHE": "sometimes"})
