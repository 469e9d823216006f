"""Inputs a hostile or careless client sends to mutations: each is a `ValidationError` naming the field (or
a `BAD_USER_INPUT` error for a read), never an unexpected error, and nothing is written."""

from __future__ import annotations

import base64
import json
import unicodedata
from typing import Any

import asyncpg
import pytest

from tests.schema.conftest import Api
from tests.schema.test_mutations import PUBLISH, RESULT, disclosure, registered
from tests.support.principals import ADMIN, clerk

DUTY = f"""mutation($key: String!, $year: Int!) {{
  fileDutyReport(input: {{communityId: "yubo", year: $year, filedOn: "2022-01-10", reporterRole: "社区书记"}},
                 idempotencyKey: $key) {{ {RESULT} }} }}"""
TOWN = f"""mutation($key: String!, $on: Date!, $name: String!) {{
  registerTown(input: {{townId: "gutang", name: $name, kind: SUBDISTRICT, registeredOn: $on}},
               idempotencyKey: $key) {{ {RESULT} }} }}"""
COMMUNITY = f"""mutation($key: String!, $id: String!, $name: String!) {{
  registerCommunity(input: {{communityId: $id, townId: "hushan", name: $name, kind: VILLAGE,
                             registeredOn: "2021-01-01"}}, idempotencyKey: $key) {{ {RESULT} }} }}"""
STANDARD = f"""mutation($key: String!, $params: JSON!) {{
  reviseStandard(input: {{version: 2, effectiveFrom: "2023-01-01", title: "第二版",
                          criteria: [{{criterionId: "c1", kind: "disclosure_every_period",
                                       params: $params}}]}},
                 idempotencyKey: $key) {{ {RESULT} }} }}"""
TITLES = """query { community(id: "yubo") { disclosures(first: 10) { edges { node { title } } } } }"""


async def events_in_log(owner: asyncpg.Connection) -> int:
    return int(await owner.fetchval("select count(*) from events"))


def refused(result: dict[str, Any], field: str) -> str:
    assert "ValidationError" == result["__typename"], result
    fields: dict[str, str] = {e["field"]: e["message"] for e in result["errors"]}
    assert field in fields, fields
    return fields[field]


@pytest.mark.parametrize(
    "title",
    [
        "财务\x00公开",  # U+0000: no text column can hold it
        "财务\ud800公开",  # a lone surrogate: no UTF-8 form
        "\u200b\u200c\u2060",  # only zero-width characters
        "\x1b[31m财务公开\x1b[0m",  # ANSI escapes
        "财务公开\x07",  # BEL
        "财务\u202e开公",  # a bidirectional override
    ],
)
async def test_a_title_with_control_format_or_unencodable_characters_is_refused(
    api: Api, owner: asyncpg.Connection, title: str
) -> None:
    await registered(api)
    before = await events_in_log(owner)
    data = await api.data(PUBLISH, {"key": "d1", "input": disclosure(title=title)}, principal=clerk("yubo"))
    refused(data["publishDisclosure"], "input.title")
    assert before == await events_in_log(owner)


async def test_a_title_is_stored_in_normalization_form_c(api: Api) -> None:
    await registered(api)
    decomposed = "Cafe\u0301 财务公开"
    data = await api.data(
        PUBLISH, {"key": "d1", "input": disclosure(title=decomposed)}, principal=clerk("yubo")
    )
    assert "Recorded" == data["publishDisclosure"]["__typename"]
    titles = await api.data(TITLES, {})
    [edge] = titles["community"]["disclosures"]["edges"]
    assert unicodedata.normalize("NFC", decomposed) == edge["node"]["title"] != decomposed


async def test_a_name_differing_from_another_only_by_invisible_characters_is_refused(
    api: Api, owner: asyncpg.Connection
) -> None:
    await registered(api)
    first = await api.data(COMMUNITY, {"key": "c1", "id": "wanan", "name": "万安村"}, principal=ADMIN)
    assert "Recorded" == first["registerCommunity"]["__typename"]
    before = await events_in_log(owner)
    for n, name in enumerate(["万安\u200b村", "万安\u034f村", "万安\ufe0f村", "万安\u3164村"]):
        data = await api.data(
            COMMUNITY, {"key": f"c{n + 2}", "id": f"wanan{n}", "name": name}, principal=ADMIN
        )
        refused(data["registerCommunity"], "input.name")
    assert before == await events_in_log(owner)


@pytest.mark.parametrize("year", [-1, 0, 1949, 10**6])
async def test_a_duty_report_for_a_year_outside_the_programme_is_refused(
    api: Api, owner: asyncpg.Connection, year: int
) -> None:
    await registered(api)
    before = await events_in_log(owner)
    data = await api.data(DUTY, {"key": "y", "year": year}, principal=clerk("yubo"))
    refused(data["fileDutyReport"], "input.year")
    assert before == await events_in_log(owner)


async def test_a_town_registered_in_the_future_is_refused(api: Api, owner: asyncpg.Connection) -> None:
    before = await events_in_log(owner)
    data = await api.data(TOWN, {"key": "t", "on": "2099-01-01", "name": "古塘街道"}, principal=ADMIN)
    assert "after today" in refused(data["registerTown"], "input.registeredOn")
    assert before == await events_in_log(owner)


async def test_a_record_dated_before_its_community_existed_is_refused(
    api: Api, owner: asyncpg.Connection
) -> None:
    await registered(api)  # registered on 2021-01-01
    before = await events_in_log(owner)
    early = disclosure(publishedOn="1900-01-01", period="1899-Q4")
    data = await api.data(PUBLISH, {"key": "d1", "input": early}, principal=clerk("yubo"))
    assert "before the community" in refused(data["publishDisclosure"], "input.publishedOn")
    assert before == await events_in_log(owner)


async def test_parameters_nested_too_deep_are_refused_naming_the_field(
    api: Api, owner: asyncpg.Connection
) -> None:
    deep: Any = "finance"
    for _ in range(500):
        deep = {"category": deep}
    before = await events_in_log(owner)
    data = await api.data(STANDARD, {"key": "s", "params": deep}, principal=ADMIN)
    message = refused(data["reviseStandard"], "input.criteria[0].params")
    assert "deep" in message
    assert before == await events_in_log(owner)


async def test_a_cursor_holding_an_integer_beyond_64_bits_is_bad_user_input(api: Api) -> None:
    for position in (2**64, -(2**70), 10**30):
        cursor = base64.urlsafe_b64encode(json.dumps(["events", position]).encode()).decode()
        result = await api.execute(
            "query($after: String) { events(first: 1, after: $after) { edges { cursor } } }",
            {"after": cursor},
            principal=ADMIN,
        )
        assert result.errors is not None, position
        assert "BAD_USER_INPUT" == (result.errors[0].extensions or {}).get("code"), result.errors


async def test_parameters_larger_than_a_few_settings_are_refused(api: Api, owner: asyncpg.Connection) -> None:
    before = await events_in_log(owner)
    data = await api.data(
        STANDARD, {"key": "s", "params": {"category": "finance", "pad": "x" * 5000}}, principal=ADMIN
    )
    assert "4096" in refused(data["reviseStandard"], "input.criteria[0].params")
    assert before == await events_in_log(owner)


async def test_a_meeting_with_ten_thousand_topics_is_refused(api: Api, owner: asyncpg.Connection) -> None:
    await registered(api)
    before = await events_in_log(owner)
    meeting = f"""mutation($topics: [String!]!) {{
      recordMeeting(input: {{communityId: "yubo", meetingId: "m1", kind: COUNCIL, heldOn: "2022-03-01",
                          attendees: 30, topics: $topics}}, idempotencyKey: "m1") {{ {RESULT} }} }}"""
    data = await api.data(meeting, {"topics": ["议题"] * 10_000}, principal=clerk("yubo"))
    assert "at most 50" in refused(data["recordMeeting"], "input.topics")
    assert before == await events_in_log(owner)
