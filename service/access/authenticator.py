"""From a presented credential to a principal: a built-in token or a bearer JWT, or nobody (anonymous).

Nothing the caller says of itself is taken: a token's role and scope come from its grant in the log, a
JWT's from claims its issuer signed. A credential that is present but wrong is refused, never downgraded to
anonymous, so a client with a broken token learns it at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime

import asyncpg
from cachetools import TTLCache

from events.catalogue import CATALOGUE
from projections.access import ANONYMOUS, Grant, Principal, evolve_grant
from service.access.errors import AnonymousRefused, Unauthenticated
from service.access.jwt import JwtVerifier
from service.access.queries import query
from service.access.tokens import PREFIX, TOKEN, secret_hash
from service.log.clock import utc_now

# Compared against when a token id is unknown, so an unknown id and a wrong secret take the same time.
_NO_SECRET = bytes(32)


class Authenticator:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        allow_anonymous: bool = True,
        jwt: JwtVerifier | None = None,
        clock: Callable[[], datetime] = utc_now,
        remember_seconds: float = 0.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._allow_anonymous = allow_anonymous
        self._jwt = jwt
        self._clock = clock
        # Grants read for a presented token, kept a few seconds: a dashboard's every request would otherwise
        # pay a round trip as long as the cached answer's own. Keyed by SHA-256 of the whole token, so a
        # wrong secret is never answered from here. Expiry is still checked on every use; a revocation
        # through this process clears the cache at once (`forget`), one through another process takes
        # effect within `remember_seconds`.
        self._remembered: TTLCache[bytes, Grant] | None = (
            TTLCache(maxsize=10_000, ttl=remember_seconds, timer=timer) if remember_seconds > 0 else None
        )

    def forget(self) -> None:
        """Drop every remembered grant: a token was revoked."""
        if self._remembered is not None:
            self._remembered.clear()

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal an `Authorization` header value proves.

        Raises Unauthenticated (a bad credential) or AnonymousRefused (none, where one is required).
        """
        if authorization is None or not authorization.strip():
            if not self._allow_anonymous:
                raise AnonymousRefused("this service needs a credential: Authorization: Bearer <token>")
            return ANONYMOUS
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated("the Authorization header must read: Bearer <token>")
        if credential.startswith(PREFIX):
            return await self._token(credential)
        if self._jwt is not None and credential.count(".") == 2:
            return await self._jwt.principal(credential)
        raise Unauthenticated(
            "the bearer credential is neither a token this service issued nor a JWT it takes"
        )

    async def _token(self, credential: str) -> Principal:
        match = TOKEN.fullmatch(credential)
        if match is None:
            raise Unauthenticated("the token is malformed: it reads qlt_<12 hex digits>_<43 characters>")
        token_id, secret = match.groups()
        key = hashlib.sha256(credential.encode("ascii")).digest()
        remembered = self._remembered.get(key) if self._remembered is not None else None
        grant = remembered if remembered is not None else await self._read_grant(token_id, secret)
        if self._remembered is not None and remembered is None:
            self._remembered[key] = grant
        refusal = grant.refusal(self._clock())
        if refusal is not None:
            raise Unauthenticated(refusal)
        return grant.principal()

    async def _read_grant(self, token_id: str, secret: str) -> Grant:
        row = await self._pool.fetchrow(query("credential"), token_id)
        stored = row["secret_hash"] if row is not None else _NO_SECRET
        # Constant time, whatever matched: a caller learns nothing from how long a refusal takes.
        if not hmac.compare_digest(stored, secret_hash(secret)) or row is None:
            raise Unauthenticated("the token is not one this service issued")
        grant: Grant | None = None
        for type_, version, payload in json.loads(row["grants"]):
            grant = evolve_grant(grant, CATALOGUE.decode(type_, version, payload))
        if grant is None:
            raise Unauthenticated(f"token {token_id} was never granted")
        return grant
