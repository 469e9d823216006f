"""Built-in tokens: issued, listed and revoked, each change an event in the log.

A token reads `qlt_<id>_<secret>`: a 12-hex-digit public id (what grants, the log and `token list` name)
and 256 random bits, base64url. Only SHA-256 of the secret is stored, in `access_secrets`; the grant —
label, role, scope, expiry, issuer — is an `AccessGranted` event on the stream `access-<id>`, so who was
allowed to act, and since when, is in the signed log like everything else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from events.access import AccessGranted, AccessRevoked, Role, ScopeKind
from events.catalogue import CATALOGUE
from events.envelope import ExpectedVersion
from events.errors import QinglianError, ValidationError
from projections.access import Grant, Scope, evolve_grant
from service.access.queries import query
from service.log.clock import utc_now
from service.log.store import EventStore

PREFIX = "qlt_"
TOKEN = re.compile(r"qlt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
MAX_LABEL = 100
# Durations as people write them on the command line: 90d, 12h, 2w.
DURATION = re.compile(r"([1-9][0-9]{0,4})([hdw])")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class TokenError(QinglianError):
    """A token operation refused, with the reason in words (unknown id, already revoked)."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A token just issued: its grant, and the secret text, shown this once and stored nowhere."""

    grant: Grant
    token: str


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `2w`: a positive whole number of hours, days or weeks."""
    match = DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text[:20]!r} is not a duration such as 90d, 12h or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def scope_for(role: Role, town: str | None, community: str | None) -> Scope:
    """A clerk's scope is one town or one community; every other role's is the city."""
    if town is not None and community is not None:
        raise ValidationError([("scope", "give a town or a community, not both")])
    if role is Role.CLERK:
        if town is None and community is None:
            raise ValidationError([("scope", "a clerk's token needs --town or --community")])
        return (
            Scope(kind=ScopeKind.TOWN, id=town)
            if town
            else Scope(kind=ScopeKind.COMMUNITY, id=community or "")
        )
    if town is not None or community is not None:
        raise ValidationError([("scope", f"a {role.value}'s token covers the whole city; it takes no scope")])
    return Scope()


class Tokens:
    """Issuing, listing and revoking built-in tokens, on the service's pool."""

    def __init__(
        self, pool: asyncpg.Pool, store: EventStore, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._pool = pool
        self._store = store
        self._clock = clock

    async def create(
        self,
        *,
        role: Role,
        scope: Scope,
        label: str,
        issuer: str,
        expires_in: timedelta | None = None,
    ) -> Issued:
        """Issue a token; its secret is in the result and nowhere else."""
        errors: list[tuple[str, str]] = []
        if role is Role.ANONYMOUS:
            errors.append(("role", "anonymous is what a caller without a token is; it is never granted"))
        if not label.strip() or len(label) > MAX_LABEL or not label.isprintable():
            errors.append(("label", f"1 to {MAX_LABEL} printable characters"))
        if scope.kind is not ScopeKind.CITY and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", scope.id):
            errors.append(("scope", f"{scope.id[:70]!r} is not a town or community id"))
        if expires_in is not None and expires_in <= timedelta(0):
            errors.append(("expires", "must be in the future"))
        if errors:
            raise ValidationError(errors)
        token_id = secrets.token_hex(6)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
        now = self._clock()
        granted = AccessGranted(
            token_id=token_id,
            label=label,
            role=role,
            scope_kind=scope.kind,
            scope_id=scope.id,
            granted_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
            issuer=issuer,
        )
        # The secret's hash first: a grant whose append then fails leaves a hash no grant ever names, which
        # lets nobody in; the other order could leave a grant no one can present.
        await self._pool.execute(query("save_secret"), token_id, secret_hash(secret))
        await self._store.append(
            f"access-{token_id}",
            [granted],
            expected_version=ExpectedVersion.exactly(0),
            idempotency_key=f"access-grant-{token_id}",
            metadata={"actor": issuer},
        )
        grant = evolve_grant(None, granted)
        assert grant is not None  # a grant folds to a grant
        return Issued(grant, f"{PREFIX}{token_id}_{secret}")

    async def revoke(self, token_id: str, *, reason: str, issuer: str) -> Grant:
        """Revoke a token from now on; the grant and its revocation both stay in the log."""
        grants = await self.list()
        grant = next((g for g in grants if g.token_id == token_id), None)
        if grant is None:
            raise TokenError(f"no token {token_id[:40]!r} was ever issued")
        if grant.revoked_at is not None:
            raise TokenError(f"token {token_id} was already revoked on {grant.revoked_at:%Y-%m-%d}")
        revoked = AccessRevoked(token_id=token_id, revoked_at=self._clock(), reason=reason, issuer=issuer)
        await self._store.append(
            f"access-{token_id}",
            [revoked],
            expected_version=ExpectedVersion.any(),
            idempotency_key=f"access-revoke-{token_id}-{revoked.revoked_at.isoformat()}",
            metadata={"actor": issuer},
        )
        after = evolve_grant(grant, revoked)
        assert after is not None
        return after

    async def list(self) -> list[Grant]:
        """Every token ever issued, in the order issued, with its standing."""
        grants: dict[str, Grant] = {}
        for row in await self._pool.fetch(query("grant_events")):
            event = CATALOGUE.decode(row["type"], row["schema_version"], json.loads(row["payload"]))
            token_id = getattr(event, "token_id", "")
            folded = evolve_grant(grants.get(token_id), event)
            if folded is not None:
                grants[token_id] = folded
        return list(grants.values())
