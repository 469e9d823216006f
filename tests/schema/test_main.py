"""`qinglian serve`, run as the console script runs it, serves GraphQL over real HTTP and WebSocket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.service.runtime.test_serve import (
    HTTP_TIMEOUT,
    SIGTERM,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    Service,
    child_env,
)


def over_a_websocket(url: str) -> list[dict[str, Any]]:
    """A query over a real WebSocket in graphql-transport-ws: the messages the server sends back."""
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=HTTP_TIMEOUT) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        received = [json.loads(ws.recv(timeout=HTTP_TIMEOUT))]
        query = '{ history(streamId: "standard-main") { totalCount } }'
        ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": query}}))
        while received[-1].get("type") not in ("complete", "error"):
            received.append(json.loads(ws.recv(timeout=HTTP_TIMEOUT)))
    return received


def test_serve_answers_graphql_queries_then_stops_cleanly(tmp_path: Path, database_url: str) -> None:
    stderr_file = tmp_path / "qinglian.stderr"
    with stderr_file.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "schema.main", "serve", "--port", "0"],
            env=child_env(database_url),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    service = Service(process, stderr_file)
    reader = threading.Thread(target=service.pump, daemon=True)
    reader.start()
    try:
        service.wait_until_listening(STARTUP_TIMEOUT)
        response = httpx.post(
            service.base_url + "/graphql",
            json={"query": '{ history(streamId: "standard-main") { totalCount } }'},
            headers={"X-Request-ID": "e2e-1"},
            timeout=HTTP_TIMEOUT,
        )
        assert {"data": {"history": {"totalCount": 1}}} == response.json()
        assert "e2e-1" == response.headers["x-request-id"]
        assert [
            {"type": "connection_ack"},
            {"type": "next", "id": "1", "payload": {"data": {"history": {"totalCount": 1}}}},
            {"type": "complete", "id": "1"},
        ] == over_a_websocket(service.base_url.replace("http://", "ws://") + "/graphql")
        assert 0 == service.stop(SIGTERM), service.stderr()
        assert "graphql operation" in service.stderr()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
        reader.join(timeout=STOP_TIMEOUT)
