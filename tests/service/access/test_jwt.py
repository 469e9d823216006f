"""Bearer JWTs, signed by keys each test makes: good, expired, wrong issuer or audience, wrong key, `alg:
none`, an HMAC forged with the public key, and claims that name no role or no clerk's scope."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from events.access import Role, ScopeKind
from projections.access import Scope
from service.access.authenticator import Authenticator
from service.access.errors import Unauthenticated
from service.access.jwt import JwtRefused, JwtSettings, JwtVerifier

ISSUER = "https://sso.cixi.example"
AUDIENCE = "qinglian"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


KEY = rsa_key()
OTHER_KEY = rsa_key()
SETTINGS = JwtSettings(issuer=ISSUER, audience=AUDIENCE, public_key=pem(KEY))


def claims(**changes: Any) -> dict[str, Any]:
    """Claims made now, so a token is fresh whenever the test that signs it runs."""
    now = datetime.now(UTC)
    changes = {k: (now + v if isinstance(v, timedelta) else v) for k, v in changes.items()}
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-1001",
        "name": "王清",
        "iat": now,
        "exp": now + timedelta(minutes=10),
        "qinglian_role": "clerk",
        "qinglian_scope": "community:shuyuan",
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def signed(payload: Mapping[str, Any], key: Any = KEY, algorithm: str = "RS256", **headers: Any) -> str:
    return jwt.encode(dict(payload), key, algorithm=algorithm, headers=headers or None)


async def test_a_good_jwt_is_the_principal_its_claims_name() -> None:
    principal = await JwtVerifier(SETTINGS).principal(signed(claims()))
    assert ("jwt", f"{ISSUER}|u-1001", "王清", Role.CLERK, Scope(kind=ScopeKind.COMMUNITY, id="shuyuan")) == (
        principal.kind,
        principal.id,
        principal.label,
        principal.role,
        principal.scope,
    )


async def test_an_elliptic_curve_key_works_as_well() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    verifier = JwtVerifier(JwtSettings(issuer=ISSUER, audience=AUDIENCE, public_key=pem(key)))
    principal = await verifier.principal(signed(claims(qinglian_role="inspector"), key, "ES256"))
    assert (Role.INSPECTOR, Scope()) == (principal.role, principal.scope)


def none_algorithm(payload: Mapping[str, Any]) -> str:
    def part(value: Mapping[str, Any]) -> str:
        raw = json.dumps(value, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def hmac_with_the_public_key(payload: Mapping[str, Any]) -> str:
    # The classic confusion: HS256 keyed with the public key's text, which anyone has. PyJWT refuses to
    # make one with a PEM key, so the token is put together by hand.
    import hashlib
    import hmac

    def part(value: Mapping[str, Any]) -> str:
        raw = json.dumps(value, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}"
    mac = hmac.new(pem(KEY).encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: signed(claims(exp=-timedelta(minutes=5))), "expired"),
        (lambda: signed(claims(iss="https://evil.example")), "issuer"),
        (lambda: signed(claims(aud="another-service")), "audience"),
        (lambda: signed(claims(), OTHER_KEY), "refused"),
        (lambda: none_algorithm(claims()), "refused"),
        (lambda: hmac_with_the_public_key(claims()), "refused"),
        (lambda: signed(claims(exp=None)), "refused"),
        (lambda: signed(claims(sub=None)), "refused"),
        (lambda: signed(claims(qinglian_role="king")), "names no role"),
        (lambda: signed(claims(qinglian_role="anonymous")), "anonymous"),
        (lambda: signed(claims(qinglian_scope=None)), "scope"),
        (lambda: signed(claims(qinglian_scope="city:")), "scope"),
        (lambda: "a.b.c", "refused"),
    ],
)
async def test_a_bad_jwt_is_refused_saying_why(make: Callable[[], str], says: str) -> None:
    with pytest.raises(JwtRefused, match=says):
        await JwtVerifier(SETTINGS).principal(make())


async def test_the_clock_may_be_a_little_off_but_no_more() -> None:
    verifier = JwtVerifier(SETTINGS)
    assert Role.CLERK == (await verifier.principal(signed(claims(exp=-timedelta(seconds=10))))).role
    with pytest.raises(JwtRefused, match="expired"):
        await verifier.principal(signed(claims(exp=-timedelta(seconds=60))))


async def test_role_and_scope_claims_are_configurable() -> None:
    settings = JwtSettings(
        issuer=ISSUER, audience=AUDIENCE, public_key=pem(KEY), role_claim="roles", scope_claim="area"
    )
    token = signed(claims(qinglian_role=None, qinglian_scope=None, roles="clerk", area="town:gutang"))
    principal = await JwtVerifier(settings).principal(token)
    assert Scope(kind=ScopeKind.TOWN, id="gutang") == principal.scope


@pytest.fixture
def jwks_url() -> Iterator[str]:
    """The issuer's key set, served over HTTP on the loopback, as an SSO serves it."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


async def test_keys_are_found_in_the_issuers_jwks(jwks_url: str) -> None:
    verifier = JwtVerifier(JwtSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url))
    assert Role.CLERK == (await verifier.principal(signed(claims(), kid="k1"))).role
    with pytest.raises(JwtRefused, match="key set"):
        await verifier.principal(signed(claims(), OTHER_KEY, kid="k2"))


async def test_the_authenticator_takes_a_jwt_only_where_one_is_configured() -> None:
    token = f"Bearer {signed(claims())}"
    with_jwt = Authenticator(pool=None, jwt=JwtVerifier(SETTINGS))  # type: ignore[arg-type]
    assert "jwt" == (await with_jwt.authenticate(token)).kind
    with pytest.raises(Unauthenticated, match="neither"):
        await Authenticator(pool=None).authenticate(token)  # type: ignore[arg-type]
