"""Who may do what: principals, the grants the log records, and the one authorization decision.

Pure. `decide(principal, action, target)` is the whole policy: the API and the commands ask it and do what
it says; tests/projections/test_access.py states it as a table. The roles:

| role | may read | may record |
|---|---|---|
| anonymous | public status, coverage, rates, standards, checkpoints, proofs | nothing |
| clerk (one community or one town) | as anonymous, plus its scope's records | its scope's community records |
| inspector | everything, restricted fields included | supervision: spot checks, reports |
| integrator | everything except restricted fields; subscriptions | nothing |
| admin | everything | the registry, the standard, designations and recognitions, grants |
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from events.access import AccessGranted, AccessRevoked, Role, ScopeKind
from events.codec import JSON
from events.registry import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Where a principal may act: the whole city, one town, or one community."""

    kind: ScopeKind = ScopeKind.CITY
    id: str = ""

    def __str__(self) -> str:
        return self.kind.value if self.kind is ScopeKind.CITY else f"{self.kind.value}:{self.id}"

    def covers(self, target: Target) -> bool:
        match self.kind:
            case ScopeKind.CITY:
                return True
            case ScopeKind.TOWN:
                return target.town_id == self.id
            case ScopeKind.COMMUNITY:
                return target.community_id == self.id


CITY = Scope()


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is asking: how they proved it (`kind`), which credential (`id`, `label`), role and scope."""

    kind: str  # "anonymous", "token" (a built-in token), "jwt" (an external identity) or "system"
    id: str  # the token id, or "issuer|subject" for a JWT; "" for anonymous
    label: str
    role: Role
    scope: Scope = CITY

    def actor(self) -> dict[str, JSON]:
        """The principal as each event's metadata records it (inside the hashed bytes)."""
        return {
            "kind": self.kind,
            "id": self.id,
            "label": self.label,
            "role": self.role.value,
            "scope": str(self.scope),
        }

    def view(self) -> str:
        """What this principal may see, as a key: two principals with the same view see the same answers."""
        return self.role.value if self.scope.kind is ScopeKind.CITY else f"{self.role.value}@{self.scope}"


ANONYMOUS = Principal(kind="anonymous", id="", label="anonymous", role=Role.ANONYMOUS)


class Action(enum.StrEnum):
    READ_PUBLIC = "read public figures"  # status, coverage, rates, standards, checkpoints, proofs
    READ_RECORDS = "read records"  # a community's records and its stream's history
    READ_LOG = "read the whole log"  # every event, in position order
    READ_RESTRICTED = "read restricted fields"  # free text that may name a person, references to people
    SUBSCRIBE = "subscribe"
    RECORD = "record"  # one event of `Target.event_type`
    GRANT = "grant access"  # issue or revoke tokens
    MANAGE_DELIVERIES = "manage webhook endpoints"  # register, list, remove, redeliver


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """What an action is about: a community (with the town it is in), a town, or neither (the city)."""

    community_id: str | None = None
    town_id: str | None = None
    event_type: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


# What each role may record, by event type. Clerks keep a community's own records; inspectors record
# supervision; administrators keep the registry, the standard, designations and recognitions.
CLERK_RECORDS = frozenset(
    {
        "DisclosurePublished",
        "DisclosureCorrected",
        "TrainingHeld",
        "RuleRevised",
        "MeetingHeld",
        "FindingRectified",
        "DutyReportFiled",
    }
)
INSPECTOR_RECORDS = frozenset({"SpotCheckRecorded", "ReportReceived", "ReportClosed"})
ADMIN_RECORDS = frozenset(
    {
        "TownRegistered",
        "CommunityRegistered",
        "CommunityRenamed",
        "CommunityTransferred",
        "CommunityRetired",
        "StandardRevised",
        "DemonstrationPointDesignated",
        "LeadingTalentRecognized",
        "AccessGranted",
        "AccessRevoked",
        "Erased",
    }
)
MAY_RECORD: Mapping[Role, frozenset[str]] = {
    Role.ANONYMOUS: frozenset(),
    Role.CLERK: CLERK_RECORDS,
    Role.INSPECTOR: INSPECTOR_RECORDS,
    Role.INTEGRATOR: frozenset(),
    Role.ADMIN: ADMIN_RECORDS,
}
_READS: Mapping[Action, frozenset[Role]] = {
    Action.READ_PUBLIC: frozenset(Role),
    Action.READ_LOG: frozenset({Role.INSPECTOR, Role.INTEGRATOR, Role.ADMIN}),
    Action.READ_RESTRICTED: frozenset({Role.INSPECTOR, Role.ADMIN}),
    Action.SUBSCRIBE: frozenset({Role.INSPECTOR, Role.INTEGRATOR, Role.ADMIN}),
    Action.GRANT: frozenset({Role.ADMIN}),
    Action.MANAGE_DELIVERIES: frozenset({Role.ADMIN}),
}


def decide(principal: Principal, action: Action, target: Target | None = None) -> Decision:
    """Whether `principal` may take `action` on `target` (the city when None), and if not, why, in words
    for the client."""
    target = target or Target()
    role = principal.role
    if action is Action.READ_RECORDS:
        if role in (Role.INSPECTOR, Role.INTEGRATOR, Role.ADMIN):
            return Decision(True)
        if role is Role.CLERK and principal.scope.covers(target):
            return Decision(True)
        return Decision(False, _out_of_reach(principal, "read the records of", target))
    if action is Action.RECORD:
        allowed = MAY_RECORD[role]
        if target.event_type not in allowed:
            roles = sorted(r.value for r, types in MAY_RECORD.items() if target.event_type in types)
            takes = ", ".join(roles)
            return Decision(
                False, f"role {role.value!r} may not record {target.event_type}; it takes one of: {takes}"
            )
        if not principal.scope.covers(target):
            return Decision(False, _out_of_reach(principal, f"record {target.event_type} for", target))
        return Decision(True)
    if role in _READS[action]:
        return Decision(True)
    roles = sorted(r.value for r in _READS[action])
    return Decision(False, f"role {role.value!r} may not {action.value}; it takes one of: {', '.join(roles)}")


def _out_of_reach(principal: Principal, doing: str, target: Target) -> str:
    what = (
        f"community {target.community_id!r}"
        if target.community_id is not None
        else f"town {target.town_id!r}"
        if target.town_id is not None
        else "the city"
    )
    if principal.role is Role.CLERK:
        return f"this clerk's scope is {principal.scope}; it may not {doing} {what}"
    return f"role {principal.role.value!r} may not {doing} {what}"


# Payload fields, held inline in the log's bytes, that may name or describe a person, by (type, schema
# version): shown only to those who may READ_RESTRICTED, and an event holding one (not null) is shown to
# others without its canonical bytes. From version 2 on, free text is sealed (`events/sealing.py`): the
# payload holds only a commitment, public, and the text is read beside the log; opaque references to
# people stay inline.
RESTRICTED_FIELDS: Mapping[tuple[str, int], tuple[str, ...]] = {
    ("ReportReceived", 1): ("summary", "reporter_ref"),
    ("ReportReceived", 2): ("reporter_ref",),
    ("ReportClosed", 1): ("outcome",),
    ("FindingRectified", 1): ("note",),
    ("LeadingTalentRecognized", 1): ("person_ref",),
}


def restricted_fields(type_: str, version: int, payload: Mapping[str, JSON]) -> tuple[str, ...]:
    """The restricted fields this stored payload holds inline (those present and not null)."""
    return tuple(f for f in RESTRICTED_FIELDS.get((type_, version), ()) if payload.get(f) is not None)


def public_payload(
    type_: str, version: int, payload: Mapping[str, JSON], hidden: Iterable[str] = ()
) -> dict[str, JSON]:
    """The payload with its inline restricted fields, and any of `hidden`, blanked to null."""
    blank = {*RESTRICTED_FIELDS.get((type_, version), ()), *hidden}
    return {key: (None if key in blank else value) for key, value in payload.items()}


# -- grants ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """A token's standing, folded from its stream: the latest grant, and whether it was revoked."""

    token_id: str
    label: str
    role: Role
    scope: Scope
    granted_at: datetime
    expires_at: datetime | None
    issuer: str
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    def refusal(self, now: datetime) -> str | None:
        """Why the token may not be used at `now`; None when it may."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return f"token {self.token_id} was revoked on {self.revoked_at:%Y-%m-%d}"
        if self.expires_at is not None and self.expires_at <= now:
            return f"token {self.token_id} expired on {self.expires_at:%Y-%m-%d}"
        return None

    def principal(self) -> Principal:
        return Principal(kind="token", id=self.token_id, label=self.label, role=self.role, scope=self.scope)


def evolve_grant(grant: Grant | None, event: Event) -> Grant | None:
    """A token's standing after one event of its stream; other events leave it unchanged."""
    match event:
        case AccessGranted():
            return Grant(
                token_id=event.token_id,
                label=event.label,
                role=event.role,
                scope=Scope(kind=event.scope_kind, id=event.scope_id),
                granted_at=event.granted_at,
                expires_at=event.expires_at,
                issuer=event.issuer,
            )
        case AccessRevoked() if grant is not None and grant.revoked_at is None:
            return dataclasses.replace(grant, revoked_at=event.revoked_at, revoked_reason=event.reason)
        case _:
            return grant


def fold_grant(events: Iterable[Event]) -> Grant | None:
    grant: Grant | None = None
    for event in events:
        grant = evolve_grant(grant, event)
    return grant
