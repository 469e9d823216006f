"""Built-in tokens on a real PostgreSQL: issued, used, expired, revoked; only a hash is kept."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from events.access import Role, ScopeKind
from events.errors import ValidationError
from projections.access import ANONYMOUS, Scope
from service.access.authenticator import Authenticator
from service.access.errors import AnonymousRefused, Unauthenticated
from service.access.tokens import TOKEN, TokenError, Tokens, parse_duration, scope_for
from service.log.store import EventStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2023, 1, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(pool: asyncpg.Pool, store: EventStore, clock: Clock) -> Tokens:
    return Tokens(pool, store, clock=clock)


@pytest.fixture
def authenticator(pool: asyncpg.Pool, clock: Clock) -> Authenticator:
    return Authenticator(pool, clock=clock)


SHUYUAN = Scope(kind=ScopeKind.COMMUNITY, id="shuyuan")


async def test_an_issued_token_authenticates_as_its_grant(
    tokens: Tokens, authenticator: Authenticator
) -> None:
    issued = await tokens.create(role=Role.CLERK, scope=SHUYUAN, label="舒苑 clerk", issuer="cli")
    principal = await authenticator.authenticate(f"Bearer {issued.token}")
    assert ("token", issued.grant.token_id, "舒苑 clerk", Role.CLERK, SHUYUAN) == (
        principal.kind,
        principal.id,
        principal.label,
        principal.role,
        principal.scope,
    )
    # The scheme is case-insensitive, as RFC 7235 has it.
    assert principal == await authenticator.authenticate(f"bearer  {issued.token} ")


async def test_only_the_secrets_hash_is_stored_and_the_log_holds_no_trace_of_it(
    tokens: Tokens, owner: asyncpg.Connection
) -> None:
    issued = await tokens.create(role=Role.ADMIN, scope=Scope(), label="ops", issuer="cli")
    match = TOKEN.fullmatch(issued.token)
    assert match is not None
    secret = match.group(2)
    assert 256 // 8 == len(base64.urlsafe_b64decode(secret + "="))
    stored = await owner.fetchval(
        "select secret_hash from access_secrets where token_id = $1", issued.grant.token_id
    )
    assert hashlib.sha256(secret.encode()).digest() == stored
    logged = b"".join(await owner.fetchval("select array_agg(canonical) from events"))
    assert secret.encode() not in logged
    assert stored.hex().encode() not in logged
    grant = await owner.fetchrow(
        "select type, payload from events where stream_id = $1", f"access-{issued.grant.token_id}"
    )
    assert grant is not None
    assert "AccessGranted" == grant["type"]


async def test_an_expired_token_is_refused_saying_so(
    tokens: Tokens, authenticator: Authenticator, clock: Clock
) -> None:
    issued = await tokens.create(
        role=Role.INSPECTOR, scope=Scope(), label="audit", issuer="cli", expires_in=timedelta(days=90)
    )
    clock.now += timedelta(days=89)
    assert Role.INSPECTOR == (await authenticator.authenticate(f"Bearer {issued.token}")).role
    clock.now += timedelta(days=2)
    with pytest.raises(Unauthenticated, match="expired"):
        await authenticator.authenticate(f"Bearer {issued.token}")


async def test_a_revoked_token_is_refused_at_once_and_both_events_stay_in_the_log(
    tokens: Tokens, authenticator: Authenticator, owner: asyncpg.Connection
) -> None:
    issued = await tokens.create(role=Role.INTEGRATOR, scope=Scope(), label="platform", issuer="cli")
    await authenticator.authenticate(f"Bearer {issued.token}")
    revoked = await tokens.revoke(issued.grant.token_id, reason="rotated", issuer="cli")
    assert revoked.revoked_at is not None
    with pytest.raises(Unauthenticated, match="revoked"):
        await authenticator.authenticate(f"Bearer {issued.token}")
    with pytest.raises(TokenError, match="already revoked"):
        await tokens.revoke(issued.grant.token_id, reason="again", issuer="cli")
    with pytest.raises(TokenError, match="no token"):
        await tokens.revoke("000000000000", reason="?", issuer="cli")
    types = await owner.fetchval(
        "select array_agg(type order by position) from events where stream_id = $1",
        f"access-{issued.grant.token_id}",
    )
    assert ["AccessGranted", "AccessRevoked"] == types
    listed = {g.token_id: g for g in await tokens.list()}
    assert listed[issued.grant.token_id].revoked_reason == "rotated"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the right id, a wrong secret
        lambda t: "qlt_000000000000_" + t[-43:],  # an id never issued
        lambda t: t[:20],  # malformed
        lambda t: t.replace("qlt_", "qlt-"),
    ],
)
async def test_a_wrong_token_is_refused(
    tokens: Tokens, authenticator: Authenticator, mangle: Callable[[str], str]
) -> None:
    issued = await tokens.create(role=Role.ADMIN, scope=Scope(), label="ops", issuer="cli")
    with pytest.raises(Unauthenticated):
        await authenticator.authenticate(f"Bearer {mangle(issued.token)}")


async def test_secrets_are_compared_in_constant_time_whether_or_not_the_id_exists(
    tokens: Tokens, authenticator: Authenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    issued = await tokens.create(role=Role.ADMIN, scope=Scope(), label="ops", issuer="cli")
    await authenticator.authenticate(f"Bearer {issued.token}")
    with pytest.raises(Unauthenticated):
        await authenticator.authenticate("Bearer qlt_000000000000_" + "A" * 43)
    assert 2 == len(compared)
    assert all(32 == len(a) == len(b) for a, b in compared)


async def test_no_credential_is_anonymous_unless_anonymous_callers_are_switched_off(
    pool: asyncpg.Pool,
) -> None:
    assert ANONYMOUS == await Authenticator(pool).authenticate(None)
    assert ANONYMOUS == await Authenticator(pool).authenticate("  ")
    with pytest.raises(AnonymousRefused, match="Bearer"):
        await Authenticator(pool, allow_anonymous=False).authenticate(None)
    for other in ("Basic dXNlcjpwYXNz", "Bearer", "Token abc"):
        with pytest.raises(Unauthenticated):
            await Authenticator(pool).authenticate(other)


async def test_a_grant_is_refused_with_every_problem_named(tokens: Tokens) -> None:
    with pytest.raises(ValidationError) as caught:
        await tokens.create(
            role=Role.ANONYMOUS,
            scope=Scope(kind=ScopeKind.TOWN, id="Not A Slug"),
            label="",
            issuer="cli",
            expires_in=timedelta(0),
        )
    assert {"role", "label", "scope", "expires"} == {field for field, _ in caught.value.errors}


def test_scopes_and_durations_as_the_command_line_gives_them() -> None:
    assert SHUYUAN == scope_for(Role.CLERK, None, "shuyuan")
    assert Scope(kind=ScopeKind.TOWN, id="gutang") == scope_for(Role.CLERK, "gutang", None)
    assert Scope() == scope_for(Role.ADMIN, None, None)
    for role, town, community in (
        (Role.CLERK, None, None),
        (Role.ADMIN, "gutang", None),
        (Role.CLERK, "a", "b"),
    ):
        with pytest.raises(ValidationError):
            scope_for(role, town, community)
    assert timedelta(days=90) == parse_duration("90d")
    assert timedelta(hours=12) == parse_duration("12h")
    assert timedelta(weeks=2) == parse_duration("2w")
    for bad in ("0d", "-1d", "90", "d", "1y", "999999d"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


async def test_a_remembered_grant_answers_for_a_few_seconds_and_is_forgotten_on_revocation(
    pool: asyncpg.Pool, tokens: Tokens, clock: Clock
) -> None:
    ticks = [0.0]
    remembering = Authenticator(pool, clock=clock, remember_seconds=5.0, timer=lambda: ticks[0])
    issued = await tokens.create(role=Role.INTEGRATOR, scope=Scope(), label="platform", issuer="cli")
    header = f"Bearer {issued.token}"
    assert Role.INTEGRATOR == (await remembering.authenticate(header)).role
    await tokens.revoke(issued.grant.token_id, reason="rotated", issuer="cli")
    # Revoked through another process: the remembered grant answers until it is 5 s old, no longer.
    ticks[0] = 4.9
    assert Role.INTEGRATOR == (await remembering.authenticate(header)).role
    ticks[0] = 5.1
    with pytest.raises(Unauthenticated, match="revoked"):
        await remembering.authenticate(header)
    # A wrong secret is never answered from memory, and forgetting takes effect at once.
    other = await tokens.create(role=Role.ADMIN, scope=Scope(), label="ops", issuer="cli")
    assert Role.ADMIN == (await remembering.authenticate(f"Bearer {other.token}")).role
    with pytest.raises(Unauthenticated):
        await remembering.authenticate(f"Bearer {other.token[:-1]}{'A' if other.token[-1] != 'A' else 'B'}")
    await tokens.revoke(other.grant.token_id, reason="left", issuer="cli")
    remembering.forget()
    with pytest.raises(Unauthenticated, match="revoked"):
        await remembering.authenticate(f"Bearer {other.token}")


async def test_expiry_is_checked_on_every_use_even_of_a_remembered_grant(
    pool: asyncpg.Pool, tokens: Tokens, clock: Clock
) -> None:
    remembering = Authenticator(pool, clock=clock, remember_seconds=60.0, timer=lambda: 0.0)
    issued = await tokens.create(
        role=Role.ADMIN, scope=Scope(), label="short", issuer="cli", expires_in=timedelta(hours=1)
    )
    await remembering.authenticate(f"Bearer {issued.token}")
    clock.now += timedelta(hours=2)
    with pytest.raises(Unauthenticated, match="expired"):
        await remembering.authenticate(f"Bearer {issued.token}")
