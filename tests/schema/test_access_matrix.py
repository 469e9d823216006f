"""Every operation of the schema, as every role, on a target in and out of the caller's scope.

The expected answers are written out here, not derived from the policy, so a change to either shows. The
test fails on a leak in either direction (a refusal where the table allows, an answer where it refuses),
and when an operation is added to the schema without a row here. Mutations are sent with inputs that break
a rule, so an allowed one is answered with a validation error and nothing is written.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLObjectType

from schema.build import SCHEMA
from tests.schema.conftest import Api
from tests.support.principals import ANONYMOUS, EVERY_ROLE

# 舒苑社区 is in 古塘街道 (gutang); 虞波社区 in 浒山街道 (hushan).
HERE, THERE = ("shuyuan", "gutang"), ("yubo", "hushan")
WHO = EVERY_ROLE
EVERYONE = frozenset(WHO)
NOBODY: frozenset[str] = frozenset()
READERS = frozenset({"inspector", "integrator", "admin"})
ADMINS = frozenset({"admin"})
CLERKS = frozenset({"clerk", "town clerk"})

# Root query fields: (query on a community-or-town target, who may in scope, who may out of scope).
QUERIES: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    "city": ("{ city { coverage { rate } } }", EVERYONE, EVERYONE),
    "towns": ("{ towns { id } }", EVERYONE, EVERYONE),
    "town": ('{ town(id: "$town") { coverage { rate } } }', EVERYONE, EVERYONE),
    "community": ('{ community(id: "$community") { status { score } } }', EVERYONE, EVERYONE),
    "communities": ("{ communities(first: 5) { totalCount } }", EVERYONE, EVERYONE),
    "events": ("{ events(first: 1) { totalCount } }", READERS, READERS),
    "history": (
        '{ history(streamId: "community-$community", first: 1) { totalCount } }',
        READERS | CLERKS,
        READERS,
    ),
    "standard": ("{ standard { version } }", EVERYONE, EVERYONE),
    "standards": ("{ standards { version } }", EVERYONE, EVERYONE),
    "enumLabels": ("{ enumLabels { name } }", EVERYONE, EVERYONE),
    "checkpoint": ("{ checkpoint { treeSize } }", EVERYONE, EVERYONE),
    "inclusionProof": ("{ inclusionProof(position: 1, treeSize: 2) { leafHash } }", EVERYONE, EVERYONE),
    "consistencyProof": ("{ consistencyProof(fromSize: 1, toSize: 2) { toRootHash } }", EVERYONE, EVERYONE),
    "deliveries": ("{ deliveries { relays { name } webhooks { id } } }", ADMINS, ADMINS),
}
# Fields of a community: its status is public, its records are for those who may read them.
RECORDS = READERS | CLERKS
COMMUNITY_FIELDS: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    name: (selection, allowed, allowed if allowed == EVERYONE else allowed - CLERKS)
    for name, selection, allowed in [
        ("id", "id", EVERYONE),
        ("name", "name", EVERYONE),
        ("nameEn", "nameEn", EVERYONE),
        ("kind", "kind", EVERYONE),
        ("registeredOn", "registeredOn", EVERYONE),
        ("retiredOn", "retiredOn", EVERYONE),
        ("asOf", "asOf", EVERYONE),
        ("knownAt", "knownAt", EVERYONE),
        ("town", "town { id }", EVERYONE),
        ("status", "status { standardized unmet { criterion } }", EVERYONE),
        ("designations", "designations { totalCount }", EVERYONE),
        ("lastDisclosure", "lastDisclosure { disclosureId }", RECORDS),
        ("disclosures", "disclosures { totalCount }", RECORDS),
        ("trainings", "trainings { totalCount }", RECORDS),
        ("rules", "rules { totalCount }", RECORDS),
        ("currentRules", "currentRules { version }", RECORDS),
        ("meetings", "meetings { totalCount }", RECORDS),
        ("spotChecks", "spotChecks { totalCount }", RECORDS),
        ("history", "history(first: 1) { totalCount }", RECORDS),
    ]
}
# Mutations: (input on the target community, who may in scope, who may out of scope). Each input breaks a
# rule (a future date, an empty name or reason, a version that exists, a 0-day expiry, an unknown token).
FUTURE = '"2999-01-01"'
D = "ab" * 32
MUTATIONS: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    "registerTown": (
        f'input: {{townId: "$town", name: "x", kind: TOWN, registeredOn: {FUTURE}}}, idempotencyKey: "k"',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
    "registerCommunity": (
        'input: {communityId: "$community", townId: "$town", name: "x", kind: COMMUNITY, '
        f'registeredOn: {FUTURE}}}, idempotencyKey: "k"',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
    "renameCommunity": (
        'input: {communityId: "$community", name: "", effectiveOn: "2022-01-01"}, idempotencyKey: "k"',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
    "transferCommunity": (
        f'input: {{communityId: "$community", fromTownId: "$town", toTownId: "x", effectiveOn: {FUTURE}}}, '
        'idempotencyKey: "k"',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
    "retireCommunity": (
        'input: {communityId: "$community", reason: "", effectiveOn: "2022-01-01"}, idempotencyKey: "k"',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
    "publishDisclosure": (
        f'input: {{communityId: "$community", disclosureId: "m", category: FINANCE, period: "2998-Q1", '
        f'channel: ONLINE, publishedOn: {FUTURE}, title: "x", digest: "{D}"}}, idempotencyKey: "k"',
        CLERKS,
        NOBODY,
    ),
    "correctDisclosure": (
        f'input: {{communityId: "$community", corrects: "m", correctedOn: {FUTURE}, title: "x", '
        f'digest: "{D}", reason: "x"}}, idempotencyKey: "k"',
        CLERKS,
        NOBODY,
    ),
    "recordTraining": (
        f'input: {{communityId: "$community", trainingId: "m", kind: OTHER, heldOn: {FUTURE}, title: "x", '
        'attendees: 1, hours: 1.0}, idempotencyKey: "k"',
        CLERKS,
        NOBODY,
    ),
    "reviseRule": (
        f'input: {{communityId: "$community", document: AUTONOMY_CHARTER, version: 99, adoptedOn: {FUTURE}, '
        f'adoptedBy: "x", digest: "{D}", summary: "x"}}, idempotencyKey: "k"',
        CLERKS,
        NOBODY,
    ),
    "recordMeeting": (
        f'input: {{communityId: "$community", meetingId: "m", kind: COUNCIL, heldOn: {FUTURE}, '
        'attendees: 1}, idempotencyKey: "k"',
        CLERKS,
        NOBODY,
    ),
    "recordSpotCheck": (
        f'input: {{communityId: "$community", checkId: "m", checkedOn: {FUTURE}, checkedBy: "x"}}, '
        'idempotencyKey: "k"',
        frozenset({"inspector"}),
        frozenset({"inspector"}),
    ),
    "recordRectification": (
        f'input: {{communityId: "$community", findingId: "m", rectifiedOn: {FUTURE}, note: "x"}}, '
        'idempotencyKey: "k"',
        CLERKS,
        NOBODY,
    ),
    "receiveReport": (
        f'input: {{communityId: "$community", reportId: "m", receivedOn: {FUTURE}, channel: "x", '
        'summary: "x"}, idempotencyKey: "k"',
        frozenset({"inspector"}),
        frozenset({"inspector"}),
    ),
    "closeReport": (
        f'input: {{communityId: "$community", reportId: "m", closedOn: {FUTURE}, outcome: "x"}}, '
        'idempotencyKey: "k"',
        frozenset({"inspector"}),
        frozenset({"inspector"}),
    ),
    "designateDemonstrationPoint": (
        f'input: {{communityId: "$community", level: CITY, designatedOn: {FUTURE}, title: "x"}}, '
        'idempotencyKey: "k"',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
    "recognizeLeadingTalent": (
        f'input: {{communityId: "$community", personRef: "x", level: CITY, recognizedOn: {FUTURE}}}, '
        'idempotencyKey: "k"',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
    "fileDutyReport": (
        f'input: {{communityId: "$community", year: 2998, filedOn: {FUTURE}, reporterRole: "x"}}, '
        'idempotencyKey: "k"',
        CLERKS,
        NOBODY,
    ),
    "reviseStandard": (
        'input: {version: 1, effectiveFrom: "2021-01-01", title: "x", criteria: []}, idempotencyKey: "k"',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
    "grantAccess": (
        'input: {role: CLERK, label: "x", communityId: "$community", expiresInDays: 0}',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
    "revokeAccess": ('tokenId: "000000000000", reason: "x"', frozenset({"admin"}), frozenset({"admin"})),
    "registerWebhook": ('input: {url: "ftp://example.org/hook"}', ADMINS, ADMINS),
    "removeWebhook": ('id: "wh_000000000000"', ADMINS, ADMINS),
    "eraseRestrictedText": (
        'input: {recordId: "$community-no-such-report", communityId: "$community", reason: "x"}',
        frozenset({"admin"}),
        frozenset({"admin"}),
    ),
}


# Subscriptions: (document on the target, who may in scope, who may out of scope). The log's replay starts
# at the first event, so an allowed subscription answers at once; status and coverage are public.
SUBSCRIPTIONS: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    "events": (
        'subscription { events(after: "WyJldmVudHMiLDBd") { cursor event { position } } }',
        READERS,
        READERS,
    ),
    "communityStatusChanged": (
        'subscription { communityStatusChanged(communityId: "$community") { cause } }',
        EVERYONE,
        EVERYONE,
    ),
    "coverageChanged": ('subscription { coverageChanged(townId: "$town") { cause } }', EVERYONE, EVERYONE),
}


def fields_of(type_name: str) -> set[str]:
    found = SCHEMA._schema.type_map[type_name]
    assert isinstance(found, GraphQLObjectType)
    return set(found.fields)


def test_every_operation_and_every_field_of_a_community_has_a_row() -> None:
    assert fields_of("Query") == set(QUERIES)
    assert fields_of("Mutation") == set(MUTATIONS)
    assert fields_of("Community") == set(COMMUNITY_FIELDS)
    assert fields_of("Subscription") == set(SUBSCRIPTIONS)


def on(text: str, target: tuple[str, str]) -> str:
    return text.replace("$community", target[0]).replace("$town", target[1])


def refused(result: Any, path: str) -> bool:
    return any(
        (e.extensions or {}).get("code") == "NOT_AUTHORIZED" and path in [str(p) for p in e.path or []]
        for e in result.errors or []
    )


async def outcomes(
    demo: Api, rows: dict[str, tuple[str, frozenset[str], frozenset[str]]], make: Any
) -> list[str]:
    leaks = []
    for name, (text, here, there) in rows.items():
        for target, allowed in ((HERE, here), (THERE, there)):
            for who, principal in WHO.items():
                result = await demo.execute(make(name, on(text, target)), principal=principal)
                got = make.allowed(name, result)
                if got != (who in allowed):
                    leaks.append(f"{name} as {who} on {target[0]}: {'answered' if got else 'refused'}")
    return leaks


class Query:
    def __call__(self, name: str, text: str) -> str:
        return text

    def allowed(self, name: str, result: Any) -> bool:
        return not refused(result, name)


class CommunityField:
    def __call__(self, name: str, text: str) -> str:
        community, selection = text.split("|")
        return '{ community(id: "' + community + '", asOf: "2022-06-08") { ' + selection + " } }"

    def allowed(self, name: str, result: Any) -> bool:
        return not refused(result, name)


class Mutation:
    def __call__(self, name: str, text: str) -> str:
        return (
            f"mutation {{ {name}({text}) {{ __typename ... on ValidationError {{ errors {{ field }} }} }} }}"
        )

    def allowed(self, name: str, result: Any) -> bool:
        assert result.errors is None, result.errors
        return bool(result.data[name]["__typename"] != "NotAuthorized")


async def test_subscriptions_answer_and_refuse_as_the_table_says(demo: Api) -> None:
    leaks = []
    for name, (text, here, there) in SUBSCRIPTIONS.items():
        for target, allowed in ((HERE, here), (THERE, there)):
            for who, principal in WHO.items():
                first = await demo.first_result(on(text, target), principal=principal, within=0.3)
                # Nothing within the wait: subscribed, waiting for a change (only a refusal is at once).
                codes = {(e.extensions or {}).get("code") for e in (first.errors or [])} if first else set()
                got = "NOT_AUTHORIZED" not in codes
                if first is not None and first.errors and got:
                    leaks.append(f"{name} as {who}: {first.errors}")
                if got != (who in allowed):
                    leaks.append(f"{name} as {who} on {target[0]}: {'answered' if got else 'refused'}")
    assert [] == leaks


async def test_queries_answer_and_refuse_as_the_table_says(demo: Api) -> None:
    assert [] == await outcomes(demo, QUERIES, Query())


async def test_a_communitys_fields_answer_and_refuse_as_the_table_says(demo: Api) -> None:
    rows = {name: (f"$community|{sel}", here, there) for name, (sel, here, there) in COMMUNITY_FIELDS.items()}
    assert [] == await outcomes(demo, rows, CommunityField())


async def test_mutations_answer_and_refuse_as_the_table_says_and_write_nothing(demo: Api) -> None:
    before = await demo.services.store.head()
    assert [] == await outcomes(demo, MUTATIONS, Mutation())
    assert [] == [(r.type, r.payload) for r in await demo.services.store.read_all(after_position=before)]


REPORTS = (
    '{ events(first: 100, filter: {types: ["ReportReceived"]}) '
    "{ edges { node { position type payload canonical leafHash restricted { field value commitment } } } } }"
)


async def reports(demo: Api, who: str) -> tuple[list[dict[str, Any]], set[Any]]:
    result = await demo.execute(REPORTS, principal=WHO[who])
    codes = {(e.extensions or {}).get("code") for e in result.errors or []}
    return [edge["node"] for edge in (result.data or {})["events"]["edges"]], codes


@pytest.mark.parametrize(("who", "sees"), [("inspector", True), ("admin", True), ("integrator", False)])
async def test_a_reporters_identity_and_words_reach_only_those_who_may_read_them(
    demo: Api, who: str, sees: bool
) -> None:
    nodes, codes = await reports(demo, who)
    everything, _ = await reports(demo, "admin")
    # The demo's reports: some name their reporter (an opaque reference), some are anonymous.
    named = {n["position"] for n in everything if n["payload"]["reporter_ref"] is not None}
    assert nodes
    assert named
    assert {"ReportReceived"} == {n["type"] for n in nodes}
    for node in nodes:
        text = node["restricted"]
        assert "summary" == text["field"]
        assert 64 == len(text["commitment"])
        assert {"commitment": text["commitment"]} == node["payload"]["summary"]  # public: it reveals nothing
        assert sees == (text["value"] is not None)
        assert sees == (node["payload"]["reporter_ref"] is not None) or node["position"] not in named
        # The summary is sealed, so an anonymous report's bytes hold nothing restricted; a report that
        # names its reporter keeps the reference inline, and its bytes are withheld from who may not see it.
        assert (sees or node["position"] not in named) == (node["canonical"] is not None)
        assert 64 == len(node["leafHash"])  # what proves the event is in the log is never withheld
        assert node["payload"]["report_id"]  # the rest of the payload is there
    assert (set() if sees else {"RESTRICTED"}) == codes


async def test_anonymous_callers_get_no_reporter_reference_anywhere(demo: Api) -> None:
    for query in (
        '{ history(streamId: "community-shuyuan") { edges { node { payload } } } }',
        REPORTS,
    ):
        result = await demo.execute(query, principal=ANONYMOUS)
        assert result.data is not None
        assert not any(result.data.values())
        assert {"NOT_AUTHORIZED"} == {(e.extensions or {}).get("code") for e in result.errors or []}
