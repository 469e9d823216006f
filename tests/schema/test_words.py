"""Words a UI can show, through the API: unmet criteria as data with messages in Chinese and English, the
standard's texts, the enumerations' labels, and the default language a request's Accept-Language chooses."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from graphql import GraphQLEnumType
from starlette.testclient import TestClient

from events.standard import BUILT_IN_TEXTS, KIND_TEXTS
from projections.wording import LABELS, Lang
from schema import enums
from schema.app import create_graphql_app
from schema.build import SCHEMA
from schema.context import Context, preferred_lang
from service.runtime.app import DatabaseUrls
from service.runtime.settings import Settings
from tests.schema.conftest import Api
from tests.schema.test_restricted_text import append_v1
from tests.support.principals import ANONYMOUS

RESULT = """
    __typename
    ... on ValidationError { errors { field message } }
    ... on NotAuthorized { reason }
"""
REGISTER = f"""mutation {{
  town: registerTown(input: {{townId: "hushan", name: "浒山街道", kind: SUBDISTRICT,
                              registeredOn: "2021-01-01"}}, idempotencyKey: "town") {{ {RESULT} }}
  community: registerCommunity(input: {{communityId: "yubo", townId: "hushan", name: "虞波社区",
                                        kind: COMMUNITY, registeredOn: "2021-01-01"}},
                               idempotencyKey: "yubo") {{ {RESULT} }}
}}"""
UNMET = """query($lang: Lang) {
  community(id: "yubo", asOf: "2022-06-08") { status { unmet {
    criterion kind reason since detail
    title { zh en text(lang: $lang) }
    parameters { on category period due training windowDays lastHeldOn document version adoptedOn maxAgeYears
                 meeting findingId foundOn daysOpen limitDays more year }
    waitsFor { record eventType period due }
    zh: message(lang: ZH) en: message(lang: EN) byDefault: message chosen: message(lang: $lang)
  } } }
}"""
CRITERIA = "{ standards { version criteria { id title { zh en text } description { zh en text } } } }"
REVISE = f"""mutation($key: String!, $criteria: [CriterionInput!]!) {{
  reviseStandard(input: {{version: 2, effectiveFrom: "2023-01-01", title: "第二版", criteria: $criteria}},
                 idempotencyKey: $key) {{ {RESULT} }} }}"""


async def execute_in(api: Api, lang: Lang, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The data of `query` for a request whose Accept-Language chose `lang`."""
    context = Context(services=api.services, principal=ANONYMOUS, request_id="test-request", lang=lang)
    result = await SCHEMA.execute(query, variables or {}, context_value=context)
    assert result.errors is None, result.errors
    return result.data


async def test_an_unmet_criterion_is_data_with_its_title_and_a_message_in_each_language(api: Api) -> None:
    registered = await api.data(REGISTER)
    assert {"Recorded"} == {r["__typename"] for r in registered.values()}, registered
    data = await execute_in(api, Lang.ZH, UNMET)
    unmet = {u["criterion"]: u for u in data["community"]["status"]["unmet"]}
    finance = unmet["finance-quarterly"]
    title = BUILT_IN_TEXTS["finance-quarterly"][0]
    assert {"zh": title.zh, "en": title.en, "text": title.zh} == finance["title"]
    assert ("DISCLOSURE_MISSING", "2022-04-16") == (finance["reason"], finance["since"])
    set_parameters = {name: value for name, value in finance["parameters"].items() if value is not None}
    assert {"category": "FINANCE", "period": "2022-Q1", "due": "2022-04-15"} == set_parameters
    assert {
        "record": "DISCLOSURE",
        "eventType": "DisclosurePublished",
        "period": "2022-Q1",
        "due": "2022-04-15",
    } == (finance["waitsFor"])
    assert "2022年第1季度财务公开未按期完成（截止日期：2022年4月15日）" == finance["zh"]
    assert "No finance disclosure for Q1 2022 (due 2022-04-15)" == finance["en"]
    # Left out, the language is the request's.
    assert finance["zh"] == finance["byDefault"] == finance["chosen"]
    assert "no finance disclosure for 2022-Q1 (due 2022-04-15)" == finance["detail"]

    charter = unmet["autonomy-charter-current"]
    assert ("RULE_NEVER_ADOPTED", "AUTONOMY_CHARTER") == (
        charter["reason"],
        charter["parameters"]["document"],
    )
    assert {"record": "RULE_VERSION", "eventType": "RuleRevised", "period": None, "due": None} == charter[
        "waitsFor"
    ]
    assert ("尚未制定自治章程", "No autonomy charter has been adopted") == (charter["zh"], charter["en"])
    for found in unmet.values():
        assert found["zh"] != found["en"]
        assert found["title"]["zh"]
        assert found["title"]["en"]

    english = await execute_in(api, Lang.EN, UNMET, {"lang": "ZH"})
    finance = {u["criterion"]: u for u in english["community"]["status"]["unmet"]}["finance-quarterly"]
    # An explicit language wins over the request's.
    assert (finance["en"], finance["zh"], title.zh) == (
        finance["byDefault"],
        finance["chosen"],
        finance["title"]["text"],
    )


def test_the_detail_field_is_deprecated_with_a_reason() -> None:
    unmet = SCHEMA._schema.type_map["Unmet"]
    detail = unmet.fields["detail"]  # type: ignore[attr-defined]
    assert "message(lang:)" in (detail.deprecation_reason or "")


async def test_every_criterion_of_the_standard_has_a_title_and_a_description_in_both_languages(
    api: Api,
) -> None:
    data = await execute_in(api, Lang.EN, CRITERIA)
    (default,) = data["standards"]
    assert set(BUILT_IN_TEXTS) == {c["id"] for c in default["criteria"]}
    for criterion in default["criteria"]:
        title, description = BUILT_IN_TEXTS[criterion["id"]]
        assert {"zh": title.zh, "en": title.en, "text": title.en} == criterion["title"]
        assert {"zh": description.zh, "en": description.en, "text": description.en} == criterion[
            "description"
        ]


async def test_a_standard_revision_recorded_before_criteria_had_texts_still_reads(
    api: Api, owner: asyncpg.Connection
) -> None:
    """A version 1 StandardRevised, written as a writer of that time did: the log keeps its bytes, and the
    API shows its criteria with the built-in texts of their ids (or their kinds)."""
    v1 = {
        "criteria": [
            {"criterion_id": "duty-report", "kind": "annual_duty_report", "params": {}},
            {"criterion_id": "our-own", "kind": "no_open_findings", "params": {"older_than_days": 20}},
        ],
        "effective_from": "2023-01-01",
        "title": "第二版",
        "version": 2,
    }
    position = await append_v1(owner, "standard-main", "StandardRevised", v1)
    assert await api.services.projector.wait_for(position, within=10.0)
    data = await execute_in(api, Lang.ZH, CRITERIA)
    revised = {s["version"]: s for s in data["standards"]}[2]
    known, own = revised["criteria"]
    assert (BUILT_IN_TEXTS["duty-report"][0].zh, BUILT_IN_TEXTS["duty-report"][1].en) == (
        known["title"]["text"],
        known["description"]["en"],
    )
    assert (KIND_TEXTS["no_open_findings"][0].zh, "our-own") == (own["title"]["zh"], own["id"])
    history = await api.data(
        '{ history(streamId: "standard-main") { edges { node { schemaVersion payload } } } }'
    )
    stored = history["history"]["edges"][-1]["node"]
    assert (1, v1) == (stored["schemaVersion"], stored["payload"])


async def test_a_revision_takes_the_built_in_texts_of_known_ids_and_requires_texts_for_others(
    api: Api,
) -> None:
    unknown = {"criterionId": "our-own", "kind": "no_open_findings", "params": {}}
    refused = (await api.data(REVISE, {"key": "r1", "criteria": [unknown]}))["reviseStandard"]
    assert "ValidationError" == refused["__typename"]
    fields = {e["field"] for e in refused["errors"]}
    assert {"input.criteria[0].title", "input.criteria[0].description"} == fields

    blank = {**unknown, "title": {"zh": " ", "en": "Our own"}, "description": {"zh": "说明", "en": "\u200b"}}
    refused = (await api.data(REVISE, {"key": "r2", "criteria": [blank]}))["reviseStandard"]
    fields = {e["field"] for e in refused["errors"]}
    assert {"input.criteria[0].title.zh", "input.criteria[0].description.en"} == fields

    own = {
        **unknown,
        "title": {"zh": "我们的", "en": "Our own"},
        "description": {"zh": "说明", "en": "Ours."},
    }
    known = {"criterionId": "duty-report", "kind": "annual_duty_report", "params": {}}
    recorded = (await api.data(REVISE, {"key": "r3", "criteria": [own, known]}))["reviseStandard"]
    assert "Recorded" == recorded["__typename"], recorded
    data = await execute_in(api, Lang.EN, CRITERIA)
    revised = {s["version"]: s for s in data["standards"]}[2]
    mine, built_in = revised["criteria"]
    assert ("Our own", "说明") == (mine["title"]["text"], mine["description"]["zh"])
    assert BUILT_IN_TEXTS["duty-report"][0].en == built_in["title"]["en"]


async def test_every_enumeration_of_the_schema_has_every_value_labelled_in_both_languages(api: Api) -> None:
    query = "{ enumLabels { name values { value zh en label inZh: label(lang: ZH) } } }"
    data = await execute_in(api, Lang.EN, query)
    listed = {e["name"]: e["values"] for e in data["enumLabels"]}
    enums = {
        name: list(found.values)
        for name, found in SCHEMA._schema.type_map.items()
        if isinstance(found, GraphQLEnumType) and not name.startswith("__")
    }
    assert set(enums) == set(listed)
    for name, values in listed.items():
        assert enums[name] == [v["value"] for v in values], name
        for value in values:
            assert value["zh"].strip()
            assert value["en"].strip()
            assert (value["en"], value["zh"]) == (value["label"], value["inZh"])
    finance = next(v for v in listed["DisclosureCategory"] if v["value"] == "FINANCE")
    assert ("财务公开", "Finance") == (finance["zh"], finance["en"])


def test_each_chinese_term_of_a_description_is_its_values_label() -> None:
    """The enums' descriptions name the Chinese term in brackets; the label is that term, so the two never
    drift apart."""
    for cls, labels in [*LABELS.items(), *enums.LABELS.items()]:
        definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
        for value in definition.values:
            terms = re.findall(r"\(([^()]*[\u4e00-\u9fff][^()]*)\)", value.description or "")
            if terms:
                assert labels[value.value].zh in terms, (definition.name, value.name, terms)


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, Lang.EN),
        ("", Lang.EN),
        ("zh-CN,zh;q=0.9,en;q=0.8", Lang.ZH),
        ("en-US,en;q=0.9,zh-CN;q=0.8", Lang.EN),
        ("fr-FR, zh-Hant;q=0.5", Lang.ZH),
        ("en;q=0.5, zh;q=0.7", Lang.ZH),
        ("zh;q=0, en", Lang.EN),
        ("zh;q=0", Lang.EN),
        ("ZH-cn", Lang.ZH),
        ("de, fr", Lang.EN),
        ("zh;q=x, en;q=0.1", Lang.EN),
        ("*", Lang.EN),
    ],
)
def test_the_default_language_is_chinese_when_the_request_prefers_it(header: str | None, lang: Lang) -> None:
    assert lang is preferred_lang(header)


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, data_dir=tmp_path, pool_min_size=1, pool_max_size=4)
    with TestClient(create_graphql_app(settings, DatabaseUrls(owner=database_url))) as client:
        yield client


def test_over_http_accept_language_chooses_the_words_and_the_cache_keeps_each_language_apart(
    client: TestClient,
) -> None:
    query = "{ standard { criteria { id title { text } } } }"
    title = BUILT_IN_TEXTS["finance-quarterly"][0]

    def finance_title(accept_language: str | None) -> str:
        headers = {"Accept-Language": accept_language} if accept_language is not None else {}
        response = client.post("/graphql", json={"query": query}, headers=headers)
        assert "Accept-Language" in response.headers.get("vary", "")
        answer = response.json()
        found: dict[str, str] = {c["id"]: c["title"]["text"] for c in answer["data"]["standard"]["criteria"]}
        return found["finance-quarterly"]

    # The default standard is recorded at start-up: wait until the projections have it.
    for _ in range(100):
        if client.post("/graphql", json={"query": "{ standards { version } }"}).json()["data"]["standards"]:
            break
        time.sleep(0.1)
    # The same document, one after the other: a cached answer in one language never answers another.
    assert title.zh == finance_title("zh-CN,zh;q=0.9,en;q=0.8")
    assert title.en == finance_title(None)
    assert title.en == finance_title("en-GB")
    assert title.zh == finance_title("zh")
