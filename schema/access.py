"""Granting and revoking access through the API (admins): the token is shown once, in the answer."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Annotated

import strawberry

from events.access import Role
from events.errors import ValidationError as Invalid
from events.standard import Text
from projections.access import Action, Grant, Target, decide
from schema.areas import Info
from schema.results import FieldError, NotAuthorized, ValidationError
from service.access.tokens import TokenError, Tokens, scope_for


@strawberry.enum(description="A role a token may be granted (anonymous is what a caller without one is).")
class GrantedRole(enum.Enum):
    CLERK = strawberry.enum_value(
        "clerk", description="A community's or a town's own records (社区工作人员); needs a scope."
    )
    INSPECTOR = strawberry.enum_value(
        "inspector",
        description="Reads everything, restricted fields too; records supervision (监督检查人员).",
    )
    INTEGRATOR = strawberry.enum_value(
        "integrator", description="Reads everything but restricted fields; subscribes (系统对接方)."
    )
    ADMIN = strawberry.enum_value(
        "admin", description="The registry, the standard, designations and grants (管理员)."
    )


# The roles' labels (Query.enumLabels).
ROLE_LABELS: dict[str, Text] = {
    "clerk": Text(zh="社区工作人员", en="Clerk"),
    "inspector": Text(zh="监督检查人员", en="Inspector"),
    "integrator": Text(zh="系统对接方", en="Integrator"),
    "admin": Text(zh="管理员", en="Administrator"),
}


@strawberry.input(description="A token to issue: its role, a clerk's scope, a label and an expiry.")
class GrantAccessInput:
    role: GrantedRole = strawberry.field(description="What it may do.")
    label: str = strawberry.field(description="Who or what holds it, e.g. 舒苑社区 clerk (1-100 characters).")
    town_id: str | None = strawberry.field(default=None, description="A town clerk's town.")
    community_id: str | None = strawberry.field(default=None, description="A community clerk's community.")
    expires_in_days: int | None = strawberry.field(
        default=None, description="Days until it expires (1-3650); null: until revoked."
    )


@strawberry.type(description="A token's standing, as its grant and any revocation in the log say.")
class AccessGrant:
    grant: strawberry.Private[Grant]

    @strawberry.field(description="The token's public id (the secret is never shown again).")
    def token_id(self) -> strawberry.ID:
        return strawberry.ID(self.grant.token_id)

    @strawberry.field(description="Who or what holds it.")
    def label(self) -> str:
        return self.grant.label

    @strawberry.field(description="Its role.")
    def role(self) -> str:
        return self.grant.role.value

    @strawberry.field(description="Its scope: city, town:<id> or community:<id>.")
    def scope(self) -> str:
        return str(self.grant.scope)

    @strawberry.field(description="When it was granted (UTC).")
    def granted_at(self) -> datetime:
        return self.grant.granted_at

    @strawberry.field(description="When it expires (UTC); null: until revoked.")
    def expires_at(self) -> datetime | None:
        return self.grant.expires_at

    @strawberry.field(description="When it was revoked (UTC); null while it stands.")
    def revoked_at(self) -> datetime | None:
        return self.grant.revoked_at


@strawberry.type(
    description="A token was issued. The secret is in `token`, this once; only its hash is kept."
)
class AccessIssued:
    grant: AccessGrant = strawberry.field(description="The grant, as the log now holds it.")
    token: str = strawberry.field(description="The bearer token: Authorization: Bearer <token>.")


@strawberry.type(description="A token was revoked; the grant and the revocation both stay in the log.")
class AccessRevocation:
    grant: AccessGrant = strawberry.field(description="The grant, revoked.")


GrantResult = Annotated[
    AccessIssued | ValidationError | NotAuthorized,
    strawberry.union("GrantResult", description="What became of a grant."),
]
RevokeResult = Annotated[
    AccessRevocation | ValidationError | NotAuthorized,
    strawberry.union("RevokeResult", description="What became of a revocation."),
]


def _refusal(info: Info, event_type: str) -> NotAuthorized | None:
    decision = decide(info.context.principal, Action.RECORD, Target(event_type=event_type))
    return None if decision.allowed else NotAuthorized(reason=decision.reason)


def _tokens(info: Info) -> Tokens:
    services = info.context.services
    return Tokens(services.pool, services.store, clock=services.clock)


async def grant_access(info: Info, given: GrantAccessInput) -> GrantResult:
    refused = _refusal(info, "AccessGranted")
    if refused is not None:
        return refused
    days = given.expires_in_days
    if days is not None and not 1 <= days <= 3650:
        return ValidationError(errors=[FieldError(field="input.expiresInDays", message="from 1 to 3650")])
    role = Role(given.role.name.lower())
    try:
        issued = await _tokens(info).create(
            role=role,
            scope=scope_for(role, given.town_id, given.community_id),
            label=given.label,
            issuer=describe(info),
            expires_in=timedelta(days=days) if days is not None else None,
        )
    except Invalid as exc:
        return ValidationError(errors=[FieldError(field=f"input.{f}", message=m) for f, m in exc.errors])
    return AccessIssued(grant=AccessGrant(grant=issued.grant), token=issued.token)


async def revoke_access(info: Info, token_id: str, reason: str) -> RevokeResult:
    refused = _refusal(info, "AccessRevoked")
    if refused is not None:
        return refused
    if not reason.strip() or len(reason) > 500:
        return ValidationError(errors=[FieldError(field="reason", message="1 to 500 characters")])
    try:
        grant = await _tokens(info).revoke(token_id, reason=reason, issuer=describe(info))
    except TokenError as exc:
        return ValidationError(errors=[FieldError(field="tokenId", message=str(exc))])
    if info.context.services.authenticator is not None:
        info.context.services.authenticator.forget()
    return AccessRevocation(grant=AccessGrant(grant=grant))


def describe(info: Info) -> str:
    """The issuer a grant records: the acting principal, by credential and label."""
    principal = info.context.principal
    return f"{principal.kind}:{principal.id} ({principal.label})"


TokenId = Annotated[str, strawberry.argument(description="The token's public id.")]
Reason = Annotated[str, strawberry.argument(description="Why (1-500 characters).")]
