"""Restricted text through the API: a report's words reach only those who may read them, open the
commitment the log holds, never sit in the hashed bytes or the payload, never cross from one caller to
another through the response cache, and are forgotten for good by `eraseRestrictedText` while every leaf
hash and inclusion proof stays as it was. An event of schema version 1, whose text is inline in its bytes,
is withheld instead, and once erased its bytes are shown to nobody.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.routing import Route

from events.access import Role
from events.codec import canonical_json
from events.envelope import envelope_json
from events.merkle import leaf_hash, verify_inclusion
from projections.access import Principal, Scope
from schema.app import GraphQLView, Guard
from schema.build import build_schema
from schema.cache import ResponseCache
from service.log.lease import APPEND_LOCK
from service.runtime.app import DatabaseUrls, create_app
from service.runtime.settings import Settings
from service.transparency.signer import Signer
from tests.schema.conftest import Api
from tests.support.logs import signing_key
from tests.support.principals import ADMIN, ANONYMOUS, INSPECTOR, INTEGRATOR, clerk

REPORT = "r-2022-031"
PHONE = "13800138000"
NAME = "张三"
SUMMARY = f"居民{NAME} 电话 {PHONE} 反映公共车位被长期占用"
OUTCOME = f"已约谈{NAME} {PHONE} 车位已清理"
REASON = "依当事人申请删除个人信息 工单 2022-88"
CLERK = clerk("shuyuan")

SETUP = """mutation {
  registerTown(input: {townId: "gutang", name: "古塘街道", kind: SUBDISTRICT, registeredOn: "2021-01-01"},
               idempotencyKey: "town-gutang") { __typename }
  registerCommunity(input: {communityId: "shuyuan", townId: "gutang", name: "舒苑社区", kind: COMMUNITY,
                            registeredOn: "2021-01-01"}, idempotencyKey: "community-shuyuan") { __typename }
}"""
OUTCOMES = """
    __typename
    ... on Recorded { events { position } }
    ... on ValidationError { errors { field message } }
    ... on NotAuthorized { reason }"""
RECEIVE = (
    "mutation($input: ReceiveReportInput!, $key: String!) {\n"
    "  receiveReport(input: $input, idempotencyKey: $key) {" + OUTCOMES + " } }"
)
CLOSE = (
    "mutation($input: CloseReportInput!, $key: String!) {\n"
    "  closeReport(input: $input, idempotencyKey: $key) {" + OUTCOMES + " } }"
)
ERASE = """mutation($input: EraseInput!) { eraseRestrictedText(input: $input) {
  __typename
  ... on Erased { communityId recordId erasedBy fields { position field } }
  ... on ValidationError { errors { field message } }
  ... on NotAuthorized { reason } } }"""
NODE = (
    "position type schemaVersion actor payload canonical leafHash "
    "restricted { field commitment value salt erasedBy }"
)
EVENTS = "{ events(first: 100) { edges { node { " + NODE + " } } } }"
HISTORY = '{ history(streamId: "community-shuyuan", first: 100) { edges { node { ' + NODE + " } } } }"
QUERIES = {"events": EVENTS, "history": HISTORY}


def receive_input(summary: str = SUMMARY) -> dict[str, Any]:
    return {
        "communityId": "shuyuan",
        "reportId": REPORT,
        "receivedOn": "2022-05-06",
        "channel": "hotline",
        "summary": summary,
    }


def close_input(outcome: str = OUTCOME) -> dict[str, Any]:
    return {"communityId": "shuyuan", "reportId": REPORT, "closedOn": "2022-05-20", "outcome": outcome}


def erase_input(record_id: str = REPORT, reason: str = REASON, **more: Any) -> dict[str, Any]:
    return {"recordId": record_id, "reason": reason, **more}


@dataclass(frozen=True, slots=True)
class Report:
    """Where the report's two events stand in the log."""

    received: int
    closed: int


@dataclass(frozen=True, slots=True)
class Answer:
    """One read of the log: its events by position, the error codes, and everything said, as text."""

    nodes: dict[int, dict[str, Any]]
    codes: set[str]
    said: str


async def registered(api: Api) -> None:
    setup = await api.data(SETUP, principal=ADMIN)
    assert {
        "registerTown": {"__typename": "Recorded"},
        "registerCommunity": {"__typename": "Recorded"},
    } == setup


async def recorded(api: Api, mutation: str, given: dict[str, Any], key: str) -> int:
    answer = next(
        iter((await api.data(mutation, {"input": given, "key": key}, principal=INSPECTOR)).values())
    )
    assert "Recorded" == answer["__typename"], answer
    position: int = answer["events"][-1]["position"]
    return position


@pytest.fixture
async def report(api: Api) -> Report:
    """A report about 舒苑社区, received and closed by an inspector, both of its texts naming a person."""
    await registered(api)
    received = await recorded(api, RECEIVE, receive_input(), "report-received")
    closed = await recorded(api, CLOSE, close_input(), "report-closed")
    return Report(received, closed)


async def read(api: Api, root: str, who: Principal) -> Answer:
    result = await api.execute(QUERIES[root], principal=who)
    found = (result.data or {}).get(root)
    nodes = {e["node"]["position"]: e["node"] for e in found["edges"]} if found is not None else {}
    errors = result.errors or []
    said = json.dumps(
        {"data": result.data, "errors": [(e.message, e.extensions) for e in errors]}, ensure_ascii=False
    )
    return Answer(nodes, {str((e.extensions or {}).get("code")) for e in errors}, said)


async def erase(api: Api, given: dict[str, Any], who: Principal = ADMIN) -> dict[str, Any]:
    answer: dict[str, Any] = (await api.data(ERASE, {"input": given}, principal=who))["eraseRestrictedText"]
    return answer


async def held_values(api: Api) -> list[tuple[int, str, bool, int | None]]:
    """Each row beside the log: position, field, whether its salt and value are held, who erased it."""
    rows = await api.services.pool.fetch(
        "select position, field, salt, value, erased_by from restricted_values order by position, field"
    )
    for row in rows:
        assert (row["salt"] is None) == (row["value"] is None)
    return [(r["position"], r["field"], r["value"] is not None, r["erased_by"]) for r in rows]


def opens(text: dict[str, Any]) -> bool:
    """Whether the salt and value given open the commitment given."""
    salt = bytes.fromhex(text["salt"])
    return bool(text["commitment"] == hashlib.sha256(salt + text["value"].encode("utf-8")).hexdigest())


# -- who reads what --------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["events", "history"])
@pytest.mark.parametrize("who", [INSPECTOR, ADMIN], ids=["inspector", "admin"])
async def test_inspectors_and_admins_read_the_text_and_it_opens_the_commitment_the_payload_holds(
    api: Api, report: Report, root: str, who: Principal
) -> None:
    answer = await read(api, root, who)
    assert set() == answer.codes
    for position, field, text in [(report.received, "summary", SUMMARY), (report.closed, "outcome", OUTCOME)]:
        node = answer.nodes[position]
        restricted = node["restricted"]
        assert (field, text, None) == (restricted["field"], restricted["value"], restricted["erasedBy"])
        assert 32 == len(bytes.fromhex(restricted["salt"]))
        assert opens(restricted)
        assert {"commitment": restricted["commitment"]} == node["payload"][field]


@pytest.mark.parametrize(
    ("root", "who"),
    [
        ("events", INSPECTOR),
        ("events", ADMIN),
        ("events", INTEGRATOR),
        ("history", INSPECTOR),
        ("history", INTEGRATOR),
        ("history", CLERK),
    ],
    ids=[
        "events-inspector",
        "events-admin",
        "events-integrator",
        "history-inspector",
        "history-integrator",
        "history-clerk",
    ],
)
async def test_the_text_is_never_in_the_payload_or_the_hashed_bytes(
    api: Api, report: Report, root: str, who: Principal
) -> None:
    answer = await read(api, root, who)
    assert {report.received, report.closed} <= set(answer.nodes)
    for node in answer.nodes.values():
        canonical = node["canonical"]
        assert canonical is not None  # sealed text leaves nothing restricted in the bytes
        assert node["leafHash"] == leaf_hash(canonical.encode("utf-8")).hex()
        for shown in (json.dumps(node["payload"], ensure_ascii=False), canonical):
            assert PHONE not in shown
            assert NAME not in shown


@pytest.mark.parametrize(
    ("root", "who"), [("events", INTEGRATOR), ("history", CLERK)], ids=["integrator", "clerk"]
)
async def test_integrators_and_clerks_get_the_commitment_but_not_the_text(
    api: Api, report: Report, root: str, who: Principal
) -> None:
    answer = await read(api, root, who)
    everything = await read(api, root, ADMIN)
    assert {"RESTRICTED"} == answer.codes
    for position in (report.received, report.closed):
        restricted = answer.nodes[position]["restricted"]
        assert (None, None, None) == (restricted["value"], restricted["salt"], restricted["erasedBy"])
        assert everything.nodes[position]["restricted"]["commitment"] == restricted["commitment"]
    assert PHONE not in answer.said
    assert NAME not in answer.said


@pytest.mark.parametrize("root", ["events", "history"])
async def test_anonymous_callers_get_no_events_and_no_history(api: Api, report: Report, root: str) -> None:
    answer = await read(api, root, ANONYMOUS)
    assert {} == answer.nodes
    assert {"NOT_AUTHORIZED"} == answer.codes
    assert PHONE not in answer.said


# -- the response cache ----------------------------------------------------------------------------------


@dataclass
class Served:
    client: httpx.AsyncClient
    cache: ResponseCache
    bearer: dict[str, dict[str, str]]

    async def post(self, query: str, who: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        body = {"query": query, "variables": variables or {}}
        answer = await self.client.post("/graphql", json=body, headers=self.bearer[who])
        assert 200 == answer.status_code, answer.text
        return answer


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    """The app over HTTP with the response cache on, a report recorded, and tokens of three roles."""
    settings = Settings(database_url=database_url, data_dir=tmp_path, pool_min_size=1, pool_max_size=4)
    schema = build_schema()
    cache = ResponseCache()
    view = Guard(GraphQLView(schema, cache=cache), schema.limits.max_body_bytes)
    app = create_app(settings, DatabaseUrls(owner=database_url), routes=[Route("/graphql", view)])
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://qinglian.test") as client,
    ):
        bearer = {}
        for who, role in [
            ("admin", Role.ADMIN),
            ("inspector", Role.INSPECTOR),
            ("integrator", Role.INTEGRATOR),
        ]:
            issued = await app.state.services.tokens.create(
                role=role, scope=Scope(), label=f"test {who}", issuer="test"
            )
            bearer[who] = {"Authorization": f"Bearer {issued.token}"}
        served = Served(client, cache, bearer)
        assert "errors" not in (await served.post(SETUP, "admin")).json()
        received = await served.post(RECEIVE, "inspector", {"input": receive_input(), "key": "r"})
        assert "Recorded" == received.json()["data"]["receiveReport"]["__typename"], received.text
        yield served


@pytest.mark.parametrize("root", ["events", "history"])
@pytest.mark.parametrize("order", [("inspector", "integrator"), ("integrator", "inspector")])
async def test_the_response_cache_never_gives_an_integrator_the_text_an_inspector_was_given(
    served: Served, root: str, order: tuple[str, str]
) -> None:
    answers = {who: await served.post(QUERIES[root], who) for who in order}
    assert PHONE in answers["inspector"].text
    integrator = answers["integrator"].json()
    assert PHONE not in answers["integrator"].text
    assert NAME not in json.dumps(integrator, ensure_ascii=False)
    texts = [e["node"]["restricted"] for e in integrator["data"][root]["edges"] if e["node"]["restricted"]]
    assert [None] == [t["value"] for t in texts]
    assert {"RESTRICTED"} == {e["extensions"]["code"] for e in integrator["errors"]}
    # Again, now that both have asked: reads of the log are never stored, so nothing can be handed on.
    assert answers["integrator"].text == (await served.post(QUERIES[root], "integrator")).text
    assert 0 == len(served.cache)


# -- erasing ---------------------------------------------------------------------------------------------


async def test_an_admin_erases_a_reports_summary_and_outcome_and_the_log_says_who_and_why(
    api: Api, report: Report
) -> None:
    before = await read(api, "events", ADMIN)
    head = await api.services.store.head()

    erased = await erase(api, erase_input())
    assert {
        "__typename": "Erased",
        "communityId": "shuyuan",
        "recordId": REPORT,
        "erasedBy": head + 1,
        "fields": [
            {"position": report.received, "field": "summary"},
            {"position": report.closed, "field": "outcome"},
        ],
    } == erased
    assert head + 1 == await api.services.store.head()
    assert [
        (report.received, "summary", False, head + 1),
        (report.closed, "outcome", False, head + 1),
    ] == await held_values(api)

    for who in (INSPECTOR, ADMIN):
        after = await read(api, "events", who)
        assert set() == after.codes
        for position in (report.received, report.closed):
            restricted = after.nodes[position]["restricted"]
            assert (None, None, head + 1) == (restricted["value"], restricted["salt"], restricted["erasedBy"])
            assert before.nodes[position]["restricted"]["commitment"] == restricted["commitment"]
            assert before.nodes[position]["payload"] == after.nodes[position]["payload"]
        assert PHONE not in after.said
        assert NAME not in after.said

    history = await read(api, "history", ADMIN)
    record = history.nodes[head + 1]
    assert ("Erased", "test admin") == (record["type"], record["actor"])
    assert (REASON, REPORT, "shuyuan") == (
        record["payload"]["reason"],
        record["payload"]["record_id"],
        record["payload"]["community_id"],
    )
    assert [
        {"position": report.received, "field": "summary"},
        {"position": report.closed, "field": "outcome"},
    ] == [{"position": f["position"], "field": f["field"]} for f in record["payload"]["fields"]]
    assert PHONE not in history.said


async def test_erasing_again_finds_nothing_left_and_writes_nothing(api: Api, report: Report) -> None:
    first = await erase(api, erase_input())
    head = await api.services.store.head()
    held = await held_values(api)

    again = await erase(api, erase_input(reason="asked twice"))
    assert {
        "__typename": "Erased",
        "communityId": "shuyuan",
        "recordId": REPORT,
        "erasedBy": None,
        "fields": [],
    } == again
    assert head == await api.services.store.head()
    assert held == await held_values(api)
    assert (
        first["erasedBy"]
        == (await read(api, "events", ADMIN)).nodes[report.received]["restricted"]["erasedBy"]
    )


@pytest.mark.parametrize(
    "who", [CLERK, INSPECTOR, INTEGRATOR, ANONYMOUS], ids=["clerk", "inspector", "integrator", "anonymous"]
)
async def test_no_one_but_an_admin_may_erase_and_a_refusal_writes_nothing(
    api: Api, report: Report, who: Principal
) -> None:
    head = await api.services.store.head()
    held = await held_values(api)

    refused = await erase(api, erase_input(), who)
    assert "NotAuthorized" == refused["__typename"]
    assert "admin" in refused["reason"]
    assert head == await api.services.store.head()
    assert held == await held_values(api)
    assert SUMMARY == (await read(api, "events", INSPECTOR)).nodes[report.received]["restricted"]["value"]


@pytest.mark.parametrize(
    "given",
    [
        erase_input("r-no-such-report"),
        erase_input(REPORT, communityId="yubo"),
        erase_input("'; delete from restricted_values; --"),
    ],
    ids=["unknown-id", "other-community", "hostile-id"],
)
async def test_a_record_with_no_restricted_text_is_a_validation_error_on_its_id(
    api: Api, report: Report, given: dict[str, Any]
) -> None:
    head = await api.services.store.head()
    held = await held_values(api)

    refused = await erase(api, given)
    assert "ValidationError" == refused["__typename"]
    assert ["input.recordId"] == [e["field"] for e in refused["errors"]]
    assert head == await api.services.store.head()
    assert held == await held_values(api)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001], ids=["empty", "blank", "too-long"])
async def test_an_erasure_without_a_reason_is_a_validation_error_and_writes_nothing(
    api: Api, report: Report, reason: str
) -> None:
    head = await api.services.store.head()
    held = await held_values(api)

    refused = await erase(api, erase_input(reason=reason))
    assert "ValidationError" == refused["__typename"]
    assert ["input.reason"] == [e["field"] for e in refused["errors"]]
    assert head == await api.services.store.head()
    assert held == await held_values(api)


PROOFS = """{ events(first: 100, filter: {types: ["ReportReceived", "ReportClosed"]}) { edges { node {
  position canonical leafHash inclusionProof { treeSize leafHash rootHash proof } } } } }"""
INCLUSION = """query($position: Int!, $size: Int!) {
  inclusionProof(position: $position, treeSize: $size) { treeSize leafHash rootHash proof } }"""


def proven(node: dict[str, Any]) -> bool:
    """Whether the node's inclusion proof leads from its leaf hash to the root it names."""
    proof = node["inclusionProof"]
    return verify_inclusion(
        bytes.fromhex(proof["leafHash"]),
        node["position"] - 1,
        proof["treeSize"],
        [bytes.fromhex(h) for h in proof["proof"]],
        bytes.fromhex(proof["rootHash"]),
    )


async def test_erasing_changes_no_leaf_hash_and_no_inclusion_proof(
    api: Api, report: Report, tmp_path: Path
) -> None:
    signer = Signer(api.services.pool, api.services.tree, signing_key(tmp_path))
    signed = (await signer.sign()).checkpoint
    before = [e["node"] for e in (await api.data(PROOFS, principal=ADMIN))["events"]["edges"]]
    assert [report.received, report.closed] == [n["position"] for n in before]
    for node in before:
        assert node["leafHash"] == leaf_hash(node["canonical"].encode("utf-8")).hex()
        assert node["leafHash"] == node["inclusionProof"]["leafHash"]
        assert signed.root.hex() == node["inclusionProof"]["rootHash"]
        assert proven(node)

    assert "Erased" == (await erase(api, erase_input()))["__typename"]
    after = [e["node"] for e in (await api.data(PROOFS, principal=ADMIN))["events"]["edges"]]
    assert before == after  # the same bytes, leaves and proofs against the same checkpoint

    await signer.sign()  # a newer checkpoint, covering the Erased event too
    for old in before:
        again = await api.data(INCLUSION, {"position": old["position"], "size": signed.size}, principal=ADMIN)
        assert old["inclusionProof"] == again["inclusionProof"]
    newer = [e["node"] for e in (await api.data(PROOFS, principal=ADMIN))["events"]["edges"]]
    assert [signed.size + 1] * 2 == [n["inclusionProof"]["treeSize"] for n in newer]
    assert [n["leafHash"] for n in before] == [n["leafHash"] for n in newer]
    assert all(proven(n) for n in newer)


# -- rejected text ---------------------------------------------------------------------------------------

LONG = (SUMMARY * 100)[:2001]


@pytest.mark.parametrize(
    ("mutation", "given", "field"),
    [
        (RECEIVE, receive_input(LONG), "input.summary"),
        (RECEIVE, receive_input("   "), "input.summary"),
        (RECEIVE, receive_input(""), "input.summary"),
        (CLOSE, close_input(LONG), "input.outcome"),
        (CLOSE, close_input(" \n\t "), "input.outcome"),
    ],
    ids=["summary-too-long", "summary-blank", "summary-empty", "outcome-too-long", "outcome-blank"],
)
async def test_rejected_text_is_named_by_its_field_without_repeating_it_and_nothing_is_written(
    api: Api, mutation: str, given: dict[str, Any], field: str
) -> None:
    await registered(api)
    if mutation == CLOSE:
        await recorded(api, RECEIVE, receive_input("反映路灯损坏"), "received-first")
    head = await api.services.store.head()
    held = await held_values(api)

    result = await api.execute(mutation, {"input": given, "key": "rejected"}, principal=INSPECTOR)
    assert result.errors is None, result.errors
    assert result.data is not None
    answer = next(iter(result.data.values()))
    assert "ValidationError" == answer["__typename"]
    assert [field] == [e["field"] for e in answer["errors"]]
    said = json.dumps(result.data, ensure_ascii=False)
    assert PHONE not in said
    assert NAME not in said
    assert head == await api.services.store.head()
    assert held == await held_values(api)


# -- schema version 1: inline text -----------------------------------------------------------------------


async def append_v1(owner: asyncpg.Connection, stream: str, type_: str, payload: dict[str, Any]) -> int:
    """Append an event of schema version 1 as a writer of that time did: its text inline in its bytes."""
    async with owner.transaction():
        await owner.execute("select pg_advisory_xact_lock($1::bigint)", APPEND_LOCK)
        head = await owner.fetchrow("select position, recorded_at from events order by position desc limit 1")
        assert head is not None
        version = await owner.fetchval(
            "select coalesce(max(stream_version), 0) + 1 from events where stream_id = $1", stream
        )
        position: int = head["position"] + 1
        recorded_at = max(datetime.now(UTC), head["recorded_at"])
        event_id = uuid.uuid4()
        payload_json = canonical_json(payload)
        metadata_json = canonical_json({"actor": "legacy import"})
        canonical = envelope_json(
            position=position,
            stream_id=stream,
            stream_version=version,
            event_id=event_id,
            type_=type_,
            schema_version=1,
            payload_json=payload_json,
            metadata_json=metadata_json,
            recorded_at=recorded_at,
        ).encode("utf-8")
        await owner.execute(
            "insert into events (position, stream_id, stream_version, event_id, type, schema_version, "
            "payload, metadata, canonical, leaf_hash, recorded_at) "
            "values ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10)",
            position,
            stream,
            version,
            event_id,
            type_,
            payload_json,
            metadata_json,
            canonical,
            leaf_hash(canonical),
            recorded_at,
        )
        await owner.execute("select pg_notify('qinglian_events', $1::text)", str(position))
    return position


async def test_an_inline_summary_of_schema_version_1_is_withheld_and_once_erased_shown_to_nobody(
    api: Api, owner: asyncpg.Connection
) -> None:
    await registered(api)
    v1 = {
        "channel": "hotline",
        "community_id": "shuyuan",
        "received_on": "2022-05-06",
        "report_id": REPORT,
        "reporter_ref": None,
        "summary": SUMMARY,
    }
    position = await append_v1(owner, "community-shuyuan", "ReportReceived", v1)
    assert await api.services.projector.wait_for(position, within=10.0)

    inspector = await read(api, "events", INSPECTOR)
    node = inspector.nodes[position]
    assert set() == inspector.codes
    assert (1, SUMMARY) == (node["schemaVersion"], node["payload"]["summary"])
    assert {"field": "summary", "commitment": None, "value": SUMMARY, "salt": None, "erasedBy": None} == node[
        "restricted"
    ]
    assert PHONE in node["canonical"]
    leaf = node["leafHash"]

    integrator = await read(api, "events", INTEGRATOR)
    node = integrator.nodes[position]
    assert (None, None, None) == (node["payload"]["summary"], node["canonical"], node["restricted"]["value"])
    assert {"RESTRICTED"} == integrator.codes
    assert PHONE not in integrator.said

    erased = await erase(api, erase_input())
    assert [{"position": position, "field": "summary"}] == erased["fields"]
    by = erased["erasedBy"]
    assert [(position, "summary", False, by)] == await held_values(api)

    for who in (INSPECTOR, ADMIN, INTEGRATOR):
        after = await read(api, "events", who)
        node = after.nodes[position]
        assert (None, None, leaf) == (node["payload"]["summary"], node["canonical"], node["leafHash"])
        assert {"field": "summary", "commitment": None, "value": None, "salt": None, "erasedBy": by} == node[
            "restricted"
        ]
        assert {"ERASED"} == after.codes
        assert f"erased by the event at position {by}" in after.said
        assert PHONE not in after.said
        assert NAME not in after.said
