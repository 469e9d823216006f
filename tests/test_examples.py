"""examples/follow_events.py, run as a reader would run it, against a real `qinglian serve`.

It stops after N events with the N-th event's cursor stored; run again, it prints exactly the events after
that one, none repeated and none skipped; it rides out a restart of the service; a token the service refuses
ends it instead of retrying for ever.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.runtime.test_cli import run_qinglian
from tests.service.runtime.test_serve import (
    HTTP_TIMEOUT,
    SIGTERM,
    STARTUP_TIMEOUT,
    Service,
    assert_stopped_cleanly,
    child_env,
    launched,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "follow_events.py"
# Hang guards only: a run that should end has this long to do so.
EXAMPLE_TIMEOUT = 120.0

REGISTER = """mutation($id: String!) {
  registerTown(input: {townId: $id, name: $id, kind: TOWN, registeredOn: "2021-01-01"}, idempotencyKey: $id)
  { __typename }
}"""
EVENTS = """query($after: String) {
  events(first: 100, after: $after) { edges { cursor node { position type leafHash } } }
}"""


@dataclass(frozen=True)
class Delivered:
    """An event as the example prints it, with the cursor Query.events gives for it."""

    line: str
    cursor: str


@dataclass
class Setup:
    database_url: str
    admin: str
    integrator: str
    workdir: Path
    towns: int = 0

    def serve(self, port: int = 0) -> contextlib.AbstractContextManager[Service]:
        return _serve(self.workdir, self.database_url, port)


@contextlib.contextmanager
def _serve(workdir: Path, database_url: str, port: int) -> Iterator[Service]:
    with launched(workdir, child_env(database_url), "serve", "--port", str(port)) as service:
        service.wait_until_listening(STARTUP_TIMEOUT)
        ready, _ = service.ready()
        assert 200 == ready.status_code, ready.text
        yield service
        assert_stopped_cleanly(service, service.stop(SIGTERM))


def _token(database_url: str, role: str) -> str:
    created = run_qinglian(
        "token", "create", "--role", role, "--name", f"example {role}", env=child_env(database_url)
    )
    assert 0 == created.returncode, created.stderr
    return created.stdout.strip()


@pytest.fixture
def setup(database_url: str, tmp_path: Path) -> Setup:
    return Setup(database_url, _token(database_url, "admin"), _token(database_url, "integrator"), tmp_path)


def _graphql(service: Service, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        service.base_url + "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    )
    answer: dict[str, Any] = response.json()
    assert (200, None) == (response.status_code, answer.get("errors")), answer
    data: dict[str, Any] = answer["data"]
    return data


def append(setup: Setup, service: Service, count: int) -> None:
    """`count` more events: towns registered as the admin, one event each."""
    for _ in range(count):
        setup.towns += 1
        result = _graphql(service, setup.admin, REGISTER, {"id": f"town-{setup.towns}"})
        assert "Recorded" == result["registerTown"]["__typename"], result


def log(setup: Setup, service: Service) -> list[Delivered]:
    """Every event in the log as Query.events shows it to the integrator, with its cursor."""
    edges = _graphql(service, setup.integrator, EVENTS, {"after": None})["events"]["edges"]
    return [
        Delivered(f"{e['node']['position']} {e['node']['type']} {e['node']['leafHash']}", e["cursor"])
        for e in edges
    ]


def example(service: Service, token: str, cursor_file: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(EXAMPLE),
        service.base_url.replace("http://", "ws://") + "/graphql",
        "--token",
        token,
        "--cursor-file",
        str(cursor_file),
        *extra,
    ]


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=EXAMPLE_TIMEOUT, check=False)


def test_it_stops_after_n_then_resumes_after_the_stored_cursor(setup: Setup) -> None:
    cursor_file = setup.workdir / "events.cursor"
    with setup.serve() as service:
        # A consumer starting from a known point stores that point's cursor: here the log's last event.
        cursor_file.write_text(log(setup, service)[-1].cursor + "\n")
        append(setup, service, 5)
        before = log(setup, service)

        first = run(example(service, setup.integrator, cursor_file, "--stop-after", "3"))
        stored_after_first = cursor_file.read_text().strip()

        # The second run is under way before the last three events exist: it gets them live.
        second = subprocess.Popen(
            example(service, setup.integrator, cursor_file, "--stop-after", "5"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            append(setup, service, 3)
            out, err = second.communicate(timeout=EXAMPLE_TIMEOUT)
        finally:
            if second.poll() is None:
                second.kill()
                second.wait()
        after = log(setup, service)

    assert 0 == first.returncode, first.stderr
    assert [d.line for d in before[-5:-2]] == first.stdout.splitlines()
    assert before[-3].cursor == stored_after_first
    assert 0 == second.returncode, err
    # Exactly the events after the stored one: the two left over, then the three appended since.
    assert (before, len(before) + 3) == (after[: len(before)], len(after))
    assert [d.line for d in after[-5:]] == out.splitlines()
    assert after[-1].cursor == cursor_file.read_text().strip()
    assert not (setup.workdir / "events.cursor.tmp").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_cursor(cursor_file: Path, cursor: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + EXAMPLE_TIMEOUT  # a hang guard
    while not (cursor_file.exists() and cursor_file.read_text().strip() == cursor):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the example never stored the cursor it was sent"
        time.sleep(0.05)


def test_it_reconnects_after_the_service_restarts_and_loses_nothing(setup: Setup) -> None:
    cursor_file = setup.workdir / "events.cursor"
    port = _free_port()
    follower: subprocess.Popen[str] | None = None
    try:
        with setup.serve(port) as service:
            cursor_file.write_text(log(setup, service)[-1].cursor + "\n")
            append(setup, service, 2)
            before = log(setup, service)
            follower = subprocess.Popen(
                example(service, setup.integrator, cursor_file, "--stop-after", "4"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            # Both events handled; then the service stops under it.
            _wait_for_cursor(cursor_file, before[-1].cursor, follower)
        assert follower.poll() is None
        with setup.serve(port) as service:
            append(setup, service, 2)
            out, err = follower.communicate(timeout=EXAMPLE_TIMEOUT)
            after = log(setup, service)
    finally:
        if follower is not None and follower.poll() is None:
            follower.kill()
            follower.wait()

    assert 0 == follower.returncode, err
    assert "reconnecting" in err
    assert (before, len(before) + 2) == (after[: len(before)], len(after))
    assert [d.line for d in after[-4:]] == out.splitlines()
    assert after[-1].cursor == cursor_file.read_text().strip()


def test_a_refused_token_ends_it_rather_than_retrying(setup: Setup) -> None:
    cursor_file = setup.workdir / "events.cursor"
    with setup.serve() as service:
        refused = run(example(service, "qlt_" + "x" * 40, cursor_file))

    assert 1 == refused.returncode, refused.stderr
    assert "refused the token (4403)" in refused.stderr
    assert "reconnecting" not in refused.stderr
    assert not cursor_file.exists()
