"""GraphQL over HTTP and WebSocket, end to end with the app's lifespan running: request ids, roles, and
hostile input — each refused with a clear GraphQL-shaped error, never a 500."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from events.access import Role, ScopeKind
from projections.access import Scope
from schema.app import create_graphql_app, graphql_routes
from schema.limits import DEFAULT_LIMITS, Limits
from service.runtime.app import DatabaseUrls, create_app
from service.runtime.settings import Settings

# The log as it stands once the app has started: the default standard, recorded at start-up.
QUERY = '{ history(streamId: "standard-main") { totalCount edges { node { type } } } }'
ANSWER = {"data": {"history": {"totalCount": 1, "edges": [{"node": {"type": "StandardRevised"}}]}}}


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, data_dir=tmp_path, pool_min_size=1, pool_max_size=4)
    with TestClient(create_graphql_app(settings, DatabaseUrls(owner=database_url))) as client:
        yield client


def assert_one_warning_no_traceback(logs: Sequence[Mapping[str, Any]], event: str) -> None:
    """The refusal was logged as one warning line and nothing was logged with a traceback. (Read from
    structlog's own capture, not the process's output: the app's thread may be writing while a file
    descriptor capture is swapped.)"""
    assert 1 == len([entry for entry in logs if entry["event"] == event and entry["log_level"] == "warning"])
    assert [] == [entry for entry in logs if "exc_info" in entry or entry["log_level"] == "error"]


def refused(response: object, status: int, code: str) -> str:
    """The message of a GraphQL-shaped refusal with this status and code."""
    assert status == response.status_code, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["data"] is None
    assert code == body["errors"][0]["extensions"]["code"], body
    return str(body["errors"][0]["message"])


def test_a_query_over_post_answers_with_data_and_a_request_id(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": QUERY})
    assert 200 == response.status_code
    assert ANSWER == response.json()
    assert 32 == len(response.headers["x-request-id"])


def test_a_valid_request_id_is_kept_and_an_unsafe_one_replaced(client: TestClient) -> None:
    kept = client.post(
        "/graphql", json={"query": "{ standards { version } }"}, headers={"X-Request-ID": "abc-123"}
    )
    assert "abc-123" == kept.headers["x-request-id"]
    unsafe = client.post(
        "/graphql", json={"query": "{ standards { version } }"}, headers={"X-Request-ID": "a b<c>"}
    )
    assert "a b<c>" != unsafe.headers["x-request-id"]
    long = client.post(
        "/graphql", json={"query": "{ standards { version } }"}, headers={"X-Request-ID": "a" * 500}
    )
    assert 32 == len(long.headers["x-request-id"])


def test_graphiql_is_served_on_get(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert 200 == response.status_code
    assert "graphiql" in response.text.lower()


def test_graphiql_loads_only_files_this_server_serves(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "http" not in policy
    # Every src and href but the empty icon (which stops the browser asking for /favicon.ico).
    loaded = [url for url in re.findall(r'(?:src|href)="([^"]*)"', page.text) if url != "data:,"]
    assert 6 == len(loaded)
    assert [] == [url for url in loaded if not url.startswith("/graphql/assets/") or "//" in url]
    for url in loaded:
        asset = client.get(html.unescape(url))
        assert 200 == asset.status_code, url
        assert asset.content
        assert asset.headers["content-type"].startswith(("text/javascript", "text/css"))
        assert "immutable" in asset.headers["cache-control"]
        assert "nosniff" == asset.headers["x-content-type-options"]


def test_graphiql_serves_its_listed_files_with_their_types(client: TestClient) -> None:
    script = client.get("/graphql/assets/graphiql.min.js")
    assert "text/javascript; charset=utf-8" == script.headers["content-type"]
    assert b"window.GraphiQL" in script.content
    style = client.get("/graphql/assets/graphiql.min.css")
    assert "text/css; charset=utf-8" == style.headers["content-type"]
    assert "max-age=31536000" in style.headers["cache-control"]


@pytest.mark.parametrize(
    "path",
    [
        "/graphql/assets/nothing.js",
        # In the folder, but not a file the page loads.
        "/graphql/assets/graphiql.html",
        "/graphql/assets/README.md",
        "/graphql/assets/LICENSE.react",
        # Out of the folder, as a client sends it (encoded, so no client tidies it away).
        "/graphql/assets/..%2Fschema.graphql",
        "/graphql/assets/..%2F..%2Fpyproject.toml",
        "/graphql/assets/%2E%2E/app.py",
        "/graphql/assets/",
        "/graphql/assets/.",
    ],
)
def test_graphiql_refuses_any_other_file_with_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert 404 == response.status_code, path
    assert b"schema" not in response.content


def test_a_query_over_get_works(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": QUERY})
    assert ANSWER == response.json()


def test_a_mutation_over_get_is_refused(client: TestClient) -> None:
    query = (
        'mutation { fileDutyReport(idempotencyKey: "k", input: {communityId: "x", year: 2021, '
        'filedOn: "2022-01-05", reporterRole: "书记"}) { __typename } }'
    )
    message = refused(client.get("/graphql", params={"query": query}), 400, "BAD_REQUEST")
    assert "GET" in message


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ("{not json", "application/json"),
        ("query=x", "application/x-www-form-urlencoded"),
        ("{}", "text/plain"),
    ],
)
def test_malformed_json_or_a_wrong_content_type_is_a_bad_request(
    client: TestClient, content: str, content_type: str
) -> None:
    refused(
        client.post("/graphql", content=content, headers={"Content-Type": content_type}), 400, "BAD_REQUEST"
    )


def test_a_body_without_a_query_is_a_bad_request(client: TestClient) -> None:
    refused(client.post("/graphql", json={"variables": {}}), 400, "BAD_REQUEST")


def test_an_unknown_operation_name_is_a_bad_request(client: TestClient) -> None:
    body = {"query": "query A { standards { version } }", "operationName": "B"}
    refused(client.post("/graphql", json=body), 400, "BAD_REQUEST")


def test_variables_that_are_not_an_object_are_a_bad_request(client: TestClient) -> None:
    refused(
        client.post("/graphql", json={"query": "{ standards { version } }", "variables": [1]}),
        400,
        "BAD_REQUEST",
    )


def test_variables_of_the_wrong_type_are_reported(client: TestClient) -> None:
    body = {
        "query": "query($n: Int) { towns { disclosureRate(year: $n) { rate } } }",
        "variables": {"n": "many"},
    }
    response = client.post("/graphql", json=body)
    assert 200 == response.status_code
    assert "Int" in response.json()["errors"][0]["message"]


def test_a_body_over_the_limit_is_refused_with_413(client: TestClient) -> None:
    huge = "x" * (DEFAULT_LIMITS.max_body_bytes + 1)
    message = refused(client.post("/graphql", json={"query": huge}), 413, "BODY_TOO_LARGE")
    assert str(DEFAULT_LIMITS.max_body_bytes) in message


def test_a_huge_string_within_the_body_limit_is_refused_as_input_not_a_crash(client: TestClient) -> None:
    body = {"query": "query($t: AsOf) { city(asOf: $t) { asOf } }", "variables": {"t": "9" * 500_000}}
    response = client.post("/graphql", json=body)
    assert 200 == response.status_code
    assert "not an ISO 8601 date" in response.json()["errors"][0]["message"]


def test_deep_nesting_and_alias_bombs_are_refused_with_codes(client: TestClient) -> None:
    deep = "{ city { " + "towns { " * 50 + "id" + " }" * 50 + " } }"
    response = client.post("/graphql", json={"query": deep})
    assert "QUERY_TOO_DEEP" in [e.get("extensions", {}).get("code") for e in response.json()["errors"]]
    bomb = "{ " + " ".join(f"a{i}: standards {{ version }}" for i in range(100)) + " }"
    response = client.post("/graphql", json={"query": bomb})
    assert "TOO_MANY_ALIASES" == response.json()["errors"][0]["extensions"]["code"]


def issue(client: TestClient, role: Role, scope: Scope | None = None) -> str:
    """A token issued through the running app's own token service."""
    tokens = client.app.state.services.tokens  # type: ignore[attr-defined]
    create = functools.partial(tokens.create, role=role, scope=scope or Scope(), label="test", issuer="test")
    issued = client.portal.call(create)  # type: ignore[union-attr]
    return str(issued.token)


def test_a_token_decides_what_a_caller_may_record_and_no_header_grants_anything(client: TestClient) -> None:
    query = (
        'mutation { reviseStandard(idempotencyKey: "k", input: {version: 2, effectiveFrom: "2023-01-01", '
        'title: "t", criteria: []}) { __typename ... on NotAuthorized { reason } '
        "... on ValidationError { errors { field } } } }"
    )
    as_anonymous = client.post("/graphql", json={"query": query}).json()["data"]["reviseStandard"]
    assert "NotAuthorized" == as_anonymous["__typename"]
    claimed = client.post("/graphql", json={"query": query}, headers={"X-Qinglian-Role": "admin"}).json()
    assert "NotAuthorized" == claimed["data"]["reviseStandard"]["__typename"]
    admin = {"Authorization": f"Bearer {issue(client, Role.ADMIN)}"}
    as_admin = client.post("/graphql", json={"query": query}, headers=admin).json()
    assert "ValidationError" == as_admin["data"]["reviseStandard"]["__typename"]
    clerk = {"Authorization": f"Bearer {issue(client, Role.CLERK, Scope(kind=ScopeKind.TOWN, id='x'))}"}
    as_clerk = client.post("/graphql", json={"query": query}, headers=clerk).json()
    assert "NotAuthorized" == as_clerk["data"]["reviseStandard"]["__typename"]


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer qlt_000000000000_" + "A" * 43,  # well formed, never issued
        "Bearer qlt_short",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",  # a JWT, and this service takes none
        "Bearer " + "x" * 5000,
    ],
)
def test_a_bad_credential_is_refused_with_401_and_never_read_as_anonymous(
    client: TestClient, authorization: str
) -> None:
    response = client.post(
        "/graphql", json={"query": "{ standards { version } }"}, headers={"Authorization": authorization}
    )
    message = refused(response, 401, "UNAUTHENTICATED")
    assert "Bearer" in response.headers["www-authenticate"]
    assert authorization[7:40] not in message or len(authorization) < 20


def test_a_bad_credential_on_a_websocket_closes_it_before_the_handshake(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(
            "/graphql",
            subprotocols=["graphql-transport-ws"],
            headers={"Authorization": "Bearer qlt_000000000000_" + "A" * 43},
        ),
    ):
        pass
    assert 4401 == closed.value.code


def test_the_websocket_endpoint_speaks_graphql_transport_ws(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert {"type": "connection_ack"} == ws.receive_json()


def ws_operation(ws: Any, op: str, document: str) -> dict[str, Any]:
    """One operation over an acknowledged graphql-transport-ws connection: its result, once complete."""
    ws.send_json({"type": "subscribe", "id": op, "payload": {"query": document}})
    result: dict[str, Any] = {}
    while (message := ws.receive_json())["type"] != "complete":
        assert (op, "next") == (message["id"], message["type"]), message
        result = message["payload"]
    return result


def test_each_operation_on_a_websocket_reads_the_projections_as_they_stand_when_it_runs(
    client: TestClient,
) -> None:
    """A connection lives for many operations: each must see what was recorded before it ran, not the
    snapshot the connection's first operation read."""
    admin = {"Authorization": f"Bearer {issue(client, Role.ADMIN)}"}
    register = (
        'mutation { registerTown(idempotencyKey: "ws-town", input: {townId: "gutang", name: "古塘街道", '
        'kind: SUBDISTRICT, registeredOn: "2021-01-01"}) { __typename ... on Recorded { settled } } }'
    )
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert {"type": "connection_ack"} == ws.receive_json()
        before = ws_operation(ws, "1", "{ towns { id } }")
        recorded = client.post("/graphql", json={"query": register}, headers=admin).json()
        after = ws_operation(ws, "2", "{ towns { id } }")

    assert {"data": {"towns": []}} == before
    assert {"__typename": "Recorded", "settled": True} == recorded["data"]["registerTown"]
    assert {"data": {"towns": [{"id": "gutang"}]}} == after


def test_the_websocket_endpoint_speaks_legacy_graphql_ws(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert "connection_ack" == ws.receive_json()["type"]


def test_the_service_routes_still_answer(client: TestClient) -> None:
    assert 200 == client.get("/healthz").status_code


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"42",
        b'"hello"',
        b"true",
        b" \n false",
        b'{"query": "{ __typename }"}\xff',  # not UTF-8
        b"\xff\xfe{\x00}\x00",  # UTF-16 with its byte order mark
        b"\xef\xbb\xbf{}",  # UTF-8 with a byte order mark
        b"[" * 100_000,
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 5_000 + b"]" * 5_000 + b"}}",
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_bad_request_without_a_traceback(
    client: TestClient, body: bytes
) -> None:
    with capture_logs() as logs:
        response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    refused(response, 400, "BAD_REQUEST")
    assert_one_warning_no_traceback(logs, "bad request")


def test_variables_nested_deep_in_a_get_are_a_bad_request_without_a_traceback(
    client: TestClient,
) -> None:
    # Deeper than the JSON parser's stack, and within what a URL may hold (a server's request line limit
    # stops much longer ones before the application sees them).
    deep = "[" * 3_000 + "]" * 3_000
    with capture_logs() as logs:
        response = client.get(
            "/graphql", params={"query": "{ __typename }", "variables": '{"v": ' + deep + "}"}
        )
    refused(response, 400, "BAD_REQUEST")
    assert_one_warning_no_traceback(logs, "bad request")


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("[1, 2]", "JSON object"),
        ("null", "JSON object"),
        ('"connection_init"', "JSON object"),
        ('{"type": "connection_init", "payload": 5}', "payload"),
        ('{"type": "connection_init", "payload": []}', "payload"),
        ("[" * 100_000, "not JSON"),
        ("{not json", "not JSON"),
        (
            '{"type": "connection_init", "payload": {"x": "'
            + "a" * (DEFAULT_LIMITS.max_body_bytes + 1)
            + '"}}',
            "limit",
        ),
    ],
)
def test_a_websocket_message_that_is_not_a_json_object_within_the_limit_closes_it_with_4400(
    client: TestClient, protocol: str, message: str, reason: str
) -> None:
    from starlette.websockets import WebSocketDisconnect

    with capture_logs() as logs, client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_text(message)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert 4400 == closed.value.code
    assert reason in closed.value.reason
    assert_one_warning_no_traceback(logs, "websocket message refused")


def test_a_subscribe_message_over_the_limit_after_the_handshake_is_refused(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    huge = "{ __typename }" + " " * (DEFAULT_LIMITS.max_body_bytes + 1)
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert {"type": "connection_ack"} == ws.receive_json()
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": huge}})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (4400, f"message larger than the limit of {DEFAULT_LIMITS.max_body_bytes} bytes") == (
        closed.value.code,
        closed.value.reason,
    )


def test_an_answer_over_the_response_budget_is_refused_with_its_size(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path, pool_min_size=1, pool_max_size=4)
    limits = Limits(max_response_bytes=2000)
    app = create_app(settings, DatabaseUrls(owner=database_url), routes=graphql_routes(settings, limits))
    with TestClient(app) as client:
        small = client.post("/graphql", json={"query": "{ __typename }"})
        large = client.post("/graphql", json={"query": "{ __schema { types { name description } } }"})
    assert {"data": {"__typename": "Query"}} == small.json()
    message = refused(large, 200, "RESPONSE_TOO_LARGE")
    assert "2000" in message
    extensions = large.json()["errors"][0]["extensions"]
    assert extensions["size"] > extensions["limit"] == 2000
