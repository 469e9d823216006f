"""The authorization decision, stated as a table: every role, action, and target in or out of scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.access import AccessGranted, AccessRevoked, Role, ScopeKind
from events.catalogue import CATALOGUE
from events.codec import JSON
from projections.access import (
    ADMIN_RECORDS,
    CLERK_RECORDS,
    INSPECTOR_RECORDS,
    RESTRICTED_FIELDS,
    Action,
    Principal,
    Scope,
    Target,
    decide,
    fold_grant,
    public_payload,
    restricted_fields,
)
from tests.support.principals import ADMIN, EVERY_ROLE, INSPECTOR, clerk

SHUYUAN = Target(community_id="shuyuan", town_id="gutang")
ELSEWHERE = Target(community_id="yubo", town_id="hushan")
EVERYONE = EVERY_ROLE
# (action, who) -> (allowed in scope: shuyuan in gutang, allowed out of scope: yubo in hushan)
READS: dict[tuple[Action, str], tuple[bool, bool]] = {
    (Action.READ_PUBLIC, "anonymous"): (True, True),
    (Action.READ_PUBLIC, "clerk"): (True, True),
    (Action.READ_PUBLIC, "town clerk"): (True, True),
    (Action.READ_PUBLIC, "inspector"): (True, True),
    (Action.READ_PUBLIC, "integrator"): (True, True),
    (Action.READ_PUBLIC, "admin"): (True, True),
    (Action.READ_RECORDS, "anonymous"): (False, False),
    (Action.READ_RECORDS, "clerk"): (True, False),
    (Action.READ_RECORDS, "town clerk"): (True, False),
    (Action.READ_RECORDS, "inspector"): (True, True),
    (Action.READ_RECORDS, "integrator"): (True, True),
    (Action.READ_RECORDS, "admin"): (True, True),
    (Action.READ_LOG, "anonymous"): (False, False),
    (Action.READ_LOG, "clerk"): (False, False),
    (Action.READ_LOG, "town clerk"): (False, False),
    (Action.READ_LOG, "inspector"): (True, True),
    (Action.READ_LOG, "integrator"): (True, True),
    (Action.READ_LOG, "admin"): (True, True),
    (Action.READ_RESTRICTED, "anonymous"): (False, False),
    (Action.READ_RESTRICTED, "clerk"): (False, False),
    (Action.READ_RESTRICTED, "town clerk"): (False, False),
    (Action.READ_RESTRICTED, "inspector"): (True, True),
    (Action.READ_RESTRICTED, "integrator"): (False, False),
    (Action.READ_RESTRICTED, "admin"): (True, True),
    (Action.SUBSCRIBE, "anonymous"): (False, False),
    (Action.SUBSCRIBE, "clerk"): (False, False),
    (Action.SUBSCRIBE, "town clerk"): (False, False),
    (Action.SUBSCRIBE, "inspector"): (True, True),
    (Action.SUBSCRIBE, "integrator"): (True, True),
    (Action.SUBSCRIBE, "admin"): (True, True),
    (Action.GRANT, "anonymous"): (False, False),
    (Action.GRANT, "clerk"): (False, False),
    (Action.GRANT, "town clerk"): (False, False),
    (Action.GRANT, "inspector"): (False, False),
    (Action.GRANT, "integrator"): (False, False),
    (Action.GRANT, "admin"): (True, True),
    (Action.MANAGE_DELIVERIES, "anonymous"): (False, False),
    (Action.MANAGE_DELIVERIES, "clerk"): (False, False),
    (Action.MANAGE_DELIVERIES, "town clerk"): (False, False),
    (Action.MANAGE_DELIVERIES, "inspector"): (False, False),
    (Action.MANAGE_DELIVERIES, "integrator"): (False, False),
    (Action.MANAGE_DELIVERIES, "admin"): (True, True),
}
# Who may record each type (in scope; out of scope only roles whose scope is the city).
RECORDERS = {
    **{event_type: {"clerk", "town clerk"} for event_type in CLERK_RECORDS},
    **{event_type: {"inspector"} for event_type in INSPECTOR_RECORDS},
    **{event_type: {"admin"} for event_type in ADMIN_RECORDS},
}


def test_the_table_has_a_row_for_every_action_and_every_role() -> None:
    assert {(a, who) for a in Action if a not in (Action.RECORD,) for who in EVERYONE} == set(READS)


def test_every_event_type_has_exactly_one_recording_role() -> None:
    types = {cls.TYPE for cls in CATALOGUE.types()}
    assert types == set(RECORDERS)
    assert not CLERK_RECORDS & INSPECTOR_RECORDS
    assert not CLERK_RECORDS & ADMIN_RECORDS
    assert not INSPECTOR_RECORDS & ADMIN_RECORDS


@pytest.mark.parametrize(("action", "who"), sorted(READS, key=str))
def test_reads_follow_the_table(action: Action, who: str) -> None:
    in_scope, out_of_scope = READS[(action, who)]
    assert (in_scope, out_of_scope) == (
        decide(EVERYONE[who], action, SHUYUAN).allowed,
        decide(EVERYONE[who], action, ELSEWHERE).allowed,
    )


@pytest.mark.parametrize("event_type", sorted(RECORDERS))
@pytest.mark.parametrize("who", sorted(EVERYONE))
def test_recording_follows_the_table_and_a_clerks_scope(event_type: str, who: str) -> None:
    here = Target(community_id="shuyuan", town_id="gutang", event_type=event_type)
    there = Target(community_id="yubo", town_id="hushan", event_type=event_type)
    may = who in RECORDERS[event_type]
    city_wide = EVERYONE[who].scope.kind is ScopeKind.CITY
    assert (may, may and city_wide) == (
        decide(EVERYONE[who], Action.RECORD, here).allowed,
        decide(EVERYONE[who], Action.RECORD, there).allowed,
    )


def test_a_refusal_names_the_scope_or_the_roles_that_may() -> None:
    out_of_scope = decide(
        clerk("shuyuan"),
        Action.RECORD,
        Target(community_id="yubo", town_id="hushan", event_type="TrainingHeld"),
    )
    assert "community:shuyuan" in out_of_scope.reason
    assert "'yubo'" in out_of_scope.reason
    wrong_role = decide(INSPECTOR, Action.RECORD, Target(community_id="yubo", event_type="TrainingHeld"))
    assert "clerk" in wrong_role.reason
    assert "" == decide(ADMIN, Action.GRANT).reason


def test_restricted_fields_are_blanked_in_the_public_payload() -> None:
    payload = {"community_id": "c", "report_id": "r", "summary": "张三 13800138000", "reporter_ref": "ref:x"}
    assert {"community_id": "c", "report_id": "r", "summary": None, "reporter_ref": None} == public_payload(
        "ReportReceived", 1, payload
    )
    assert payload == public_payload("TrainingHeld", 1, payload)
    assert all(fields for fields in RESTRICTED_FIELDS.values())


def test_from_version_2_a_report_shows_its_commitment_and_hides_only_the_reporter() -> None:
    sealed: JSON = {"commitment": "ab" * 32}
    payload: dict[str, JSON] = {
        "community_id": "c",
        "report_id": "r",
        "summary": sealed,
        "reporter_ref": "ref:abcdefgh",
    }
    assert {"community_id": "c", "report_id": "r", "summary": sealed, "reporter_ref": None} == public_payload(
        "ReportReceived", 2, payload
    )
    assert ("reporter_ref",) == restricted_fields("ReportReceived", 2, payload)
    assert () == restricted_fields("ReportReceived", 2, {**payload, "reporter_ref": None})
    assert ("outcome",) == restricted_fields("ReportClosed", 1, {"outcome": "done"})
    assert () == restricted_fields("ReportClosed", 2, {"outcome": sealed})
    hidden = public_payload("ReportClosed", 1, {"outcome": "done", "report_id": "r"}, hidden=("report_id",))
    assert {"outcome": None, "report_id": None} == hidden


def test_a_principal_is_recorded_with_its_credential_role_and_scope() -> None:
    assert {
        "kind": "token",
        "id": "00000000000d",
        "label": "clerk of shuyuan",
        "role": "clerk",
        "scope": "community:shuyuan",
    } == clerk("shuyuan").actor()
    assert "clerk@community:shuyuan" == clerk("shuyuan").view()
    assert "admin" == ADMIN.view()


NOW = datetime(2023, 1, 1, tzinfo=UTC)


def granted(**changes: object) -> AccessGranted:
    fields: dict[str, object] = {
        "token_id": "3f9a0c2b7d41",
        "label": "a clerk",
        "role": Role.CLERK,
        "scope_kind": ScopeKind.COMMUNITY,
        "scope_id": "shuyuan",
        "granted_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=1),
        "issuer": "cli",
    }
    return AccessGranted(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_grant_folds_to_a_principal_until_it_expires_or_is_revoked() -> None:
    grant = fold_grant([granted()])
    assert grant is not None
    assert grant.refusal(NOW) is None
    assert (
        Principal(
            kind="token",
            id="3f9a0c2b7d41",
            label="a clerk",
            role=Role.CLERK,
            scope=Scope(kind=ScopeKind.COMMUNITY, id="shuyuan"),
        )
        == grant.principal()
    )
    assert "expired" in (grant.refusal(NOW + timedelta(days=2)) or "")
    revoked = fold_grant(
        [granted(), AccessRevoked(token_id="3f9a0c2b7d41", revoked_at=NOW, reason="left", issuer="cli")]
    )
    assert revoked is not None
    assert "revoked" in (revoked.refusal(NOW) or "")
    assert revoked.refusal(NOW - timedelta(seconds=1)) is None
    assert fold_grant([]) is None
