"""Mutations: one per command, each answering with a union — recorded, version conflict, validation
error or not authorized — and reading its own write back."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.schema.conftest import Api
from tests.support.principals import ANONYMOUS, INSPECTOR, clerk

DIGEST = "ab" * 32
RESULT = """
    __typename
    ... on Recorded { streamId streamVersion replayed settled events { position streamId streamVersion type }
                      status { standardized score asOf } community { id name } }
    ... on VersionConflict { streamId expected actual }
    ... on ValidationError { errors { field message } }
    ... on NotAuthorized { reason }
"""
REGISTER_TOWN = f"""mutation($key: String!) {{
  registerTown(input: {{townId: "hushan", name: "浒山街道", kind: SUBDISTRICT, registeredOn: "2021-01-01"}},
               idempotencyKey: $key) {{ {RESULT} }} }}"""
REGISTER_COMMUNITY = f"""mutation($key: String!, $id: String!, $v: Int) {{
  registerCommunity(input: {{communityId: $id, townId: "hushan", name: "虞波社区", kind: COMMUNITY,
                             registeredOn: "2021-01-01"}},
                    idempotencyKey: $key, expectedVersion: $v) {{ {RESULT} }} }}"""
PUBLISH = f"""mutation($key: String!, $input: PublishDisclosureInput!, $v: Int) {{
  publishDisclosure(input: $input, idempotencyKey: $key, expectedVersion: $v) {{ {RESULT} }} }}"""


def disclosure(disclosure_id: str = "2022-Q1-finance", **changes: Any) -> dict[str, Any]:
    return {
        "communityId": "yubo",
        "disclosureId": disclosure_id,
        "category": "FINANCE",
        "period": "2022-Q1",
        "channel": "NOTICE_BOARD",
        "publishedOn": "2022-04-05",
        "title": "2022年第一季度财务公开",
        "digest": DIGEST,
        **changes,
    }


async def registered(api: Api) -> None:
    town = await api.data(REGISTER_TOWN, {"key": "town-hushan"})
    assert "Recorded" == town["registerTown"]["__typename"]
    community = await api.data(REGISTER_COMMUNITY, {"key": "community-yubo", "id": "yubo"})
    assert "Recorded" == community["registerCommunity"]["__typename"]


async def test_a_recorded_command_answers_with_its_events_and_the_new_status(api: Api) -> None:
    await registered(api)
    data = await api.data(PUBLISH, {"key": "d1", "input": disclosure()}, principal=clerk("yubo"))
    result = data["publishDisclosure"]
    assert "Recorded" == result["__typename"]
    assert "community-yubo" == result["streamId"]
    assert 2 == result["streamVersion"]
    assert result["settled"] is True
    assert [
        {
            "position": result["events"][0]["position"],
            "streamId": "community-yubo",
            "streamVersion": 2,
            "type": "DisclosurePublished",
        }
    ] == result["events"]
    assert {"id": "yubo", "name": "虞波社区"} == result["community"]
    assert result["status"] is not None
    # Read your write: the disclosure is there at once.
    read = await api.data('{ community(id: "yubo") { lastDisclosure { disclosureId category position } } }')
    assert {
        "disclosureId": "2022-Q1-finance",
        "category": "FINANCE",
        "position": result["events"][0]["position"],
    } == read["community"]["lastDisclosure"]


async def test_a_retry_with_the_same_key_returns_the_first_result_and_writes_nothing(api: Api) -> None:
    await registered(api)
    first = (await api.data(PUBLISH, {"key": "same", "input": disclosure()}, principal=clerk("yubo")))[
        "publishDisclosure"
    ]
    again = (await api.data(PUBLISH, {"key": "same", "input": disclosure()}, principal=clerk("yubo")))[
        "publishDisclosure"
    ]
    assert first["events"] == again["events"]
    assert again["replayed"] is True
    head = await api.services.store.head()
    assert first["events"][0]["position"] == head


async def test_a_stale_expected_version_is_a_version_conflict(api: Api) -> None:
    await registered(api)
    data = await api.data(PUBLISH, {"key": "d1", "input": disclosure(), "v": 5}, principal=clerk("yubo"))
    assert {
        "__typename": "VersionConflict",
        "streamId": "community-yubo",
        "expected": "5",
        "actual": 1,
    } == data["publishDisclosure"]


async def test_broken_rules_are_a_validation_error_naming_each_input_field(api: Api) -> None:
    await registered(api)
    bad = disclosure(period="2022-Q5", digest="not-a-digest", publishedOn="2999-01-01")
    data = await api.data(PUBLISH, {"key": "d1", "input": bad}, principal=clerk("yubo"))
    result = data["publishDisclosure"]
    assert "ValidationError" == result["__typename"]
    fields = {e["field"] for e in result["errors"]}
    assert {"input.period", "input.digest", "input.publishedOn"} == fields


async def test_a_key_reused_for_another_request_is_a_validation_error_on_the_key(api: Api) -> None:
    await registered(api)
    await api.data(PUBLISH, {"key": "k", "input": disclosure()}, principal=clerk("yubo"))
    data = await api.data(PUBLISH, {"key": "k", "input": disclosure("other")}, principal=clerk("yubo"))
    assert [
        {"field": "idempotencyKey", "message": "idempotency key 'k' was already used for a different request"}
    ] == (data["publishDisclosure"]["errors"])


async def test_an_unknown_community_is_a_validation_error(api: Api) -> None:
    data = await api.data(
        PUBLISH, {"key": "d1", "input": disclosure(communityId="nowhere")}, principal=clerk("nowhere")
    )
    assert [{"field": "input.communityId", "message": "unknown community 'nowhere'"}] == data[
        "publishDisclosure"
    ]["errors"]


async def test_a_huge_id_is_a_validation_error_not_a_crash(api: Api) -> None:
    data = await api.data(
        PUBLISH, {"key": "d1", "input": disclosure(communityId="x" * 100_000)}, principal=clerk("x" * 100_000)
    )
    result = data["publishDisclosure"]
    assert "ValidationError" == result["__typename"]
    assert ["input.communityId"] == [e["field"] for e in result["errors"]]


async def test_a_negative_expected_version_is_a_validation_error(api: Api) -> None:
    await registered(api)
    data = await api.data(PUBLISH, {"key": "d1", "input": disclosure(), "v": -1}, principal=clerk("yubo"))
    assert ["expectedVersion"] == [e["field"] for e in data["publishDisclosure"]["errors"]]


async def test_roles_decide_who_may_record_what_and_a_refusal_writes_nothing(
    api: Api, owner: asyncpg.Connection
) -> None:
    await registered(api)
    before = await owner.fetchval("select count(*) from events")
    for role in (ANONYMOUS, INSPECTOR):
        data = await api.data(PUBLISH, {"key": f"by-{role.role}", "input": disclosure()}, principal=role)
        result = data["publishDisclosure"]
        assert "NotAuthorized" == result["__typename"]
        assert "clerk" in result["reason"]
    by_clerk = await api.data(REGISTER_COMMUNITY, {"key": "c2", "id": "baiguoshu"}, principal=clerk("yubo"))
    assert "NotAuthorized" == by_clerk["registerCommunity"]["__typename"]
    assert before == await owner.fetchval("select count(*) from events")


async def test_every_command_of_the_catalogue_has_a_mutation(api: Api) -> None:
    from events.catalogue import CATALOGUE
    from schema.build import SCHEMA

    mutation = SCHEMA._schema.mutation_type
    assert mutation is not None
    # Besides one per command, the two that manage webhook endpoints (tables, not events).
    assert len(CATALOGUE.types()) + 2 == len(mutation.fields)
    assert {"registerWebhook", "removeWebhook"} <= set(mutation.fields)


async def test_a_spot_check_and_its_rectification_close_the_finding(api: Api) -> None:
    await registered(api)
    check = await api.data(
        f"""mutation {{ recordSpotCheck(idempotencyKey: "s1", input: {{communityId: "yubo", checkId: "c1",
              checkedOn: "2022-03-01", checkedBy: "市民政局",
              findings: [{{findingId: "f1", summary: "台账不全"}}]}})
              {{ {RESULT} }} }}""",
        principal=INSPECTOR,
    )
    assert "Recorded" == check["recordSpotCheck"]["__typename"]
    fixed = await api.data(
        f"""mutation {{ recordRectification(idempotencyKey: "r1",
              input: {{communityId: "yubo", findingId: "f1", rectifiedOn: "2022-03-10", note: "已补齐"}})
              {{ {RESULT} }} }}""",
        principal=clerk("yubo"),
    )
    assert "Recorded" == fixed["recordRectification"]["__typename"]
    read = await api.data(
        '{ community(id: "yubo", asOf: "2022-03-31") { spotChecks { edges { node { checkId findings '
        "{ findingId rectifiedOn } } } } } }"
    )
    node = read["community"]["spotChecks"]["edges"][0]["node"]
    assert {"checkId": "c1", "findings": [{"findingId": "f1", "rectifiedOn": "2022-03-10"}]} == node
