"""`qinglian serve`, as the console script runs it (`schema.main`), serves the GraphQL API over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.service.test_serve import HTTP_TIMEOUT, SIGTERM, STARTUP_TIMEOUT, STOP_TIMEOUT, Service, child_env


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
        assert 0 == service.stop(SIGTERM), service.stderr()
        assert "graphql operation" in service.stderr()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
        reader.join(timeout=STOP_TIMEOUT)
