"""Abuse limits at the door: per-principal rate limits, CORS, and introspection for signed-in callers only."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from events.access import Role
from projections.access import Scope
from schema.app import create_graphql_app
from service.runtime.app import DatabaseUrls
from service.runtime.settings import Settings, SettingsError

QUERY = {"query": "{ standards { version } }"}
INTROSPECTION = {"query": "{ __schema { queryType { name } } }"}


def serve(database_url: str, tmp_path: Path, **changes: Any) -> TestClient:
    settings = Settings(database_url=database_url, data_dir=tmp_path, pool_min_size=1, pool_max_size=4)
    return TestClient(
        create_graphql_app(dataclasses.replace(settings, **changes), DatabaseUrls(database_url))
    )


def bearer(client: TestClient, role: Role = Role.INTEGRATOR) -> dict[str, str]:
    tokens = client.app.state.services.tokens  # type: ignore[attr-defined]
    create = functools.partial(tokens.create, role=role, scope=Scope(), label="door", issuer="test")
    return {"Authorization": f"Bearer {client.portal.call(create).token}"}  # type: ignore[union-attr]


@pytest.fixture
def limited(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with serve(database_url, tmp_path, rate_limit="3/minute", anonymous_rate_limit="2/minute") as client:
        yield client


def test_a_caller_over_its_rate_is_refused_with_429_and_told_when_to_retry(limited: TestClient) -> None:
    answers = [limited.post("/graphql", json=QUERY) for _ in range(3)]
    assert [200, 200, 429] == [a.status_code for a in answers]
    refused = answers[-1]
    assert "RATE_LIMITED" == refused.json()["errors"][0]["extensions"]["code"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_each_credential_has_its_own_budget(limited: TestClient) -> None:
    first, second = bearer(limited), bearer(limited)
    assert [200, 200, 200, 429] == [
        limited.post("/graphql", json=QUERY, headers=first).status_code for _ in range(4)
    ]
    assert 200 == limited.post("/graphql", json=QUERY, headers=second).status_code
    # Anonymous callers (this client's address) have a budget of their own, apart from both tokens.
    assert 200 == limited.post("/graphql", json=QUERY).status_code


def test_no_other_origin_may_call_unless_listed(database_url: str, tmp_path: Path) -> None:
    preflight = {"Origin": "https://dash.example", "Access-Control-Request-Method": "POST"}
    with serve(database_url, tmp_path) as closed:
        answer = closed.options("/graphql", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
        posted = closed.post("/graphql", json=QUERY, headers={"Origin": "https://dash.example"})
        assert "access-control-allow-origin" not in posted.headers
    with serve(database_url, tmp_path, cors_origins=("https://dash.example",)) as open_:
        answer = open_.options(
            "/graphql", headers={**preflight, "Access-Control-Request-Headers": "authorization"}
        )
        assert "https://dash.example" == answer.headers["access-control-allow-origin"]
        assert "authorization" in answer.headers["access-control-allow-headers"].lower()
        other = open_.post("/graphql", json=QUERY, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_introspection_and_graphiql_can_be_kept_for_signed_in_callers(
    database_url: str, tmp_path: Path
) -> None:
    with serve(database_url, tmp_path, anonymous_introspection=False) as client:
        anonymous = client.post("/graphql", json=INTROSPECTION).json()
        assert "INTROSPECTION_DISABLED" == anonymous["errors"][0]["extensions"]["code"]
        assert None is anonymous["data"]
        # __typename is not introspection of the schema, and ordinary queries go on.
        typename = client.post("/graphql", json={"query": "{ __typename standards { version } }"}).json()
        assert "errors" not in typename
        assert 401 == client.get("/graphql", headers={"Accept": "text/html"}).status_code
        signed_in = bearer(client)
        assert {"__schema": {"queryType": {"name": "Query"}}} == (
            client.post("/graphql", json=INTROSPECTION, headers=signed_in).json()["data"]
        )
        assert 200 == client.get("/graphql", headers={"Accept": "text/html", **signed_in}).status_code
    with serve(database_url, tmp_path) as default:
        assert "errors" not in default.post("/graphql", json=INTROSPECTION).json()


def test_over_a_websocket_introspection_is_kept_for_signed_in_callers_too(
    database_url: str, tmp_path: Path
) -> None:
    def over_websocket(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
        with client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers=headers
        ) as ws:
            ws.send_json({"type": "connection_init"})
            assert {"type": "connection_ack"} == ws.receive_json()
            ws.send_json({"type": "subscribe", "id": "1", "payload": INTROSPECTION})
            answer = ws.receive_json()
            assert {"id": "1", "type": "complete"} == ws.receive_json()
        assert ("1", "next") == (answer["id"], answer["type"]), answer
        payload: dict[str, Any] = answer["payload"]
        return payload

    with serve(database_url, tmp_path, anonymous_introspection=False) as client:
        anonymous = over_websocket(client, {})
        signed_in = over_websocket(client, bearer(client))

    assert "INTROSPECTION_DISABLED" == anonymous["errors"][0]["extensions"]["code"]
    assert None is anonymous["data"]
    assert {"__schema": {"queryType": {"name": "Query"}}} == signed_in["data"]


def test_the_door_settings_are_read_and_checked(tmp_path: Path) -> None:
    folder = {"QINGLIAN_DATA_DIR": str(tmp_path)}
    read = Settings.from_env(
        {
            **folder,
            "QINGLIAN_RATE_LIMIT": "20/second",
            "QINGLIAN_ANONYMOUS_RATE_LIMIT": "off",
            "QINGLIAN_CORS_ORIGINS": "https://a.example, http://b.example:8080",
            "QINGLIAN_ANONYMOUS_INTROSPECTION": "off",
            "QINGLIAN_ANONYMOUS": "off",
        }
    )
    assert ("20/second", None, ("https://a.example", "http://b.example:8080"), False, False) == (
        read.rate_limit,
        read.anonymous_rate_limit,
        read.cors_origins,
        read.anonymous_introspection,
        read.anonymous,
    )
    defaults = Settings.from_env(folder)
    assert ("1200/minute", "600/minute", (), True, True) == (
        defaults.rate_limit,
        defaults.anonymous_rate_limit,
        defaults.cors_origins,
        defaults.anonymous_introspection,
        defaults.anonymous,
    )
    for name, value in [
        ("QINGLIAN_RATE_LIMIT", "lots"),
        ("QINGLIAN_CORS_ORIGINS", "dash.example"),
        ("QINGLIAN_CORS_ORIGINS", "https://a.example/path"),
        ("QINGLIAN_ANONYMOUS", "maybe"),
        ("QINGLIAN_ROLE_HEADER", "on"),
    ]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**folder, name: value})


def test_no_credential_where_anonymous_callers_are_off_is_a_401(database_url: str, tmp_path: Path) -> None:
    with serve(database_url, tmp_path, anonymous=False) as client:
        answer = client.post("/graphql", json=QUERY)
        assert 401 == answer.status_code
        assert "UNAUTHENTICATED" == answer.json()["errors"][0]["extensions"]["code"]
        assert 200 == client.post("/graphql", json=QUERY, headers=bearer(client)).status_code
