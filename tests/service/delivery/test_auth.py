"""Who may subscribe, over a real WebSocket of a real `qinglian serve`: the credential in connection_init, a
bad one closed with 4403, the anonymous caller refused the log but given coverage, a credential revoked or
expired while the connection lasts closed with 4403, and browser origins checked at the handshake."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.exceptions import InvalidStatus

from events.access import Role
from projections.access import Scope
from service.access.tokens import Tokens
from service.log.store import EventStore
from tests.service.access.test_jwt import AUDIENCE, ISSUER, KEY, claims, pem, signed
from tests.service.delivery.live import (
    EVENTS,
    TIMEOUT,
    Socket,
    city,
    issue,
    record,
    renames,
    served,
    ws_url,
)
from tests.support.domain import community

COVERAGE = "subscription { coverageChanged { townId before { communities } after { communities } cause } }"
REVOKE = """mutation($id: String!) { revokeAccess(tokenId: $id, reason: "left the office") {
  __typename } }"""
ALLOWED = "https://dashboard.cixi.example"


def error_codes(ws: Socket, op: str) -> list[str]:
    """The codes of the errors an operation ended with (an `error` message, or a `next` with errors)."""
    codes = []
    for m in ws.of(op):
        errors: list[dict[str, Any]] = []
        if m["type"] == "error":
            errors = m["payload"]
        elif m["type"] == "next":
            errors = m["payload"].get("errors", [])
        codes += [e.get("extensions", {}).get("code", "") for e in errors]
    return codes


async def delivered(ws: Socket, store: EventStore, op: str, tag: str) -> int:
    """Append an event until the `events` operation `op` has been sent one (it is live); its position."""
    for i in range(int(TIMEOUT)):
        [position] = await record(store, renames("c1", 1, f"{tag}{i}-"), f"{tag}-{i}")

        # One appended before the subscription went live is not sent to it: then try again.
        def arrived(p: int = position) -> bool:
            return p in ws.positions(op) or ws.closed is not None

        with contextlib.suppress(TimeoutError):
            await ws.until(arrived, within=1.0)
        if position in ws.positions(op):
            return position
    pytest.fail(f"no event reached {op}: {ws.messages}")


async def test_connection_init_credentials_and_the_anonymous_caller(
    tmp_path: Path, database_url: str, pool: asyncpg.Pool, store: EventStore
) -> None:
    await city(store, "t1", ["c1"])
    token = await issue(pool, store, Role.INSPECTOR)
    with served(tmp_path / "serve", database_url) as service:
        url = ws_url(service)
        async with Socket.opened(url, token=token) as ws:
            await ws.subscribe("1", EVENTS)
            position = await delivered(ws, store, "1", "good")
            granted = ws.messages[0]

        async with Socket.opened(url, token="qlt_000000000000_" + "x" * 43) as bad:
            await bad.until(lambda: bad.closed is not None)

        async with Socket.opened(url) as anonymous:
            await anonymous.subscribe("1", EVENTS)
            await anonymous.until(lambda: any(m["type"] in ("error", "complete") for m in anonymous.of("1")))
            await anonymous.subscribe("2", COVERAGE)
            # A community registered: the city's coverage counts one more.
            await record(store, [community("c2", "t1", on=date(2021, 1, 1))], "community-c2")
            await anonymous.until(lambda: bool(anonymous.data("2")))

    assert {"type": "connection_ack"} == granted
    assert position > 0
    assert (4403, "Forbidden") == bad.closed
    assert [m for m in bad.messages if m["type"] == "connection_ack"] == []
    assert {"type": "connection_ack"} == anonymous.messages[0]
    assert ["NOT_AUTHORIZED"] == error_codes(anonymous, "1")
    # Refused before any event: nothing of the log reached it.
    assert [] == [m for m in anonymous.of("1") if m["type"] == "next" and m["payload"].get("data")]
    change = anonymous.data("2")[0]["coverageChanged"]
    assert (None, "RECORD") == (change["townId"], change["cause"])
    assert change["after"]["communities"] == change["before"]["communities"] + 1
    assert error_codes(anonymous, "2") == []


async def test_a_credential_revoked_or_expired_while_connected_closes_the_socket_with_4403(
    tmp_path: Path, database_url: str, pool: asyncpg.Pool, store: EventStore
) -> None:
    await city(store, "t1", ["c1"])
    tokens = Tokens(pool, store)
    doomed = await tokens.create(role=Role.INTEGRATOR, scope=Scope(), label="doomed", issuer="test")
    admin = await issue(pool, store, Role.ADMIN, "admin")
    settings = {
        "credential_recheck": "1",
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_public_key": pem(KEY),
        "jwt_leeway": "0",
    }
    with served(tmp_path / "serve", database_url, **settings) as service:
        url = ws_url(service)
        async with Socket.opened(url, token=doomed.token) as revoked:
            await revoked.subscribe("1", EVENTS)
            await delivered(revoked, store, "1", "before-revocation")
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                answer = await http.post(
                    service.base_url + "/graphql",
                    json={"query": REVOKE, "variables": {"id": doomed.grant.token_id}},
                    headers={"Authorization": f"Bearer {admin}"},
                )
            await revoked.until(lambda: revoked.closed is not None)

        # A JWT that expires in a few seconds: good until then.
        jwt = signed(claims(qinglian_role="inspector", qinglian_scope=None, exp=timedelta(seconds=4)))
        async with Socket.opened(url, token=jwt) as expiring:
            await expiring.subscribe("1", EVENTS)
            await delivered(expiring, store, "1", "before-expiry")
            await expiring.until(lambda: expiring.closed is not None)

    assert "AccessRevocation" == answer.json()["data"]["revokeAccess"]["__typename"], answer.text
    for ws in (revoked, expiring):
        assert ws.closed is not None
        code, reason = ws.closed
        assert 4403 == code, ws.closed
        assert (reason or "").startswith("credential no longer valid"), ws.closed
    assert "revoked" in str(revoked.closed)


async def test_a_browser_origin_must_be_the_service_s_own_or_listed(
    tmp_path: Path, database_url: str, pool: asyncpg.Pool, store: EventStore
) -> None:
    await city(store, "t1", ["c1"])
    token = await issue(pool, store, Role.INSPECTOR)
    with served(tmp_path / "serve", database_url, cors_origins=ALLOWED) as service:
        url = ws_url(service)
        with pytest.raises(InvalidStatus) as refused:
            async with Socket.opened(url, token=token, origin="https://evil.example"):
                pass
        acks = []
        for origin in (ALLOWED, None, service.base_url):
            async with Socket.opened(url, token=token, origin=origin) as ws:
                await ws.subscribe("1", EVENTS)
                await delivered(ws, store, "1", f"from-{origin}")
                acks.append(ws.messages[0])

    assert 403 == refused.value.response.status_code
    assert [{"type": "connection_ack"}] * 3 == acks
