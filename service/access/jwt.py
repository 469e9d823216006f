"""Bearer JWTs from a deployment's single sign-on, checked with PyJWT.

The signature is checked against a PEM public key or the issuer's JWKS; issuer, audience, expiry and
not-before are required and checked, with a small leeway for clocks. Only asymmetric algorithms are taken:
`none` and the HMAC family (which would let anyone holding the public key sign) are refused. Which claims
carry the role and the scope is configurable; a role claim that names no role, or a clerk without a scope,
is refused rather than guessed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from events.access import Role, ScopeKind
from projections.access import Principal, Scope
from service.access.errors import Unauthenticated

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


class JwtRefused(Unauthenticated):
    """A bearer JWT that does not prove who it says; the message says what failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JwtSettings:
    issuer: str
    audience: str
    # Exactly one of these: a PEM public key's text, or the URL of the issuer's JSON Web Key Set.
    public_key: str | None = None
    jwks_url: str | None = None
    role_claim: str = "qinglian_role"
    # "community:<id>" or "town:<id>"; absent for roles whose scope is the whole city.
    scope_claim: str = "qinglian_scope"
    leeway_seconds: int = 30


class JwtVerifier:
    def __init__(self, settings: JwtSettings) -> None:
        if (settings.public_key is None) == (settings.jwks_url is None):
            raise ValueError("a JWT verifier needs a public key or a JWKS URL, not both")
        self._settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None

    async def principal(self, token: str) -> Principal:
        claims = await self.claims(token)
        return self._principal(claims)

    async def claims(self, token: str) -> Mapping[str, Any]:
        settings = self._settings
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP (and caches the set): keep it off the event loop.
                key: Any = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            else:
                key = settings.public_key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise JwtRefused("the JWT has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise JwtRefused("the JWT is not for this service (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise JwtRefused("the JWT's issuer is not the one this service trusts") from exc
        except jwt.PyJWKClientError as exc:
            raise JwtRefused("the JWT's signing key could not be found in the issuer's key set") from exc
        except jwt.InvalidTokenError as exc:
            raise JwtRefused(f"the JWT was refused: {exc}") from exc
        return claims

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        settings = self._settings
        try:
            role = Role(str(claims.get(settings.role_claim, "")))
        except ValueError as exc:
            raise JwtRefused(f"the JWT's {settings.role_claim!r} claim names no role") from exc
        if role is Role.ANONYMOUS:
            raise JwtRefused("a JWT cannot make its bearer anonymous")
        raw_scope = claims.get(settings.scope_claim)
        scope = Scope()
        if role is Role.CLERK:
            kind, _, ident = str(raw_scope or "").partition(":")
            if kind not in (ScopeKind.TOWN, ScopeKind.COMMUNITY) or not ident:
                raise JwtRefused(f"a clerk's JWT needs {settings.scope_claim!r}: town:<id> or community:<id>")
            scope = Scope(kind=ScopeKind(kind), id=ident)
        subject = str(claims["sub"])
        return Principal(
            kind="jwt",
            id=f"{claims['iss']}|{subject}",
            label=str(claims.get("name") or subject)[:100],
            role=role,
            scope=scope,
        )
