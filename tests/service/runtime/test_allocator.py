"""The serving process's C allocator: large blocks go back to the system when freed, not into its heap."""

from __future__ import annotations

import asyncio
import platform
import socket
import subprocess
import sys

import pytest

from service.runtime import allocator, cli

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the threshold is glibc's")

# In a process of its own, so the test's allocator is left as it was: one large block freed (as any earlier
# answer would), then 400 blocks of 250 KB, the size of an old event's field, each followed by a small block
# that stays (as the rest of a process's life does), then the large ones freed. Prints the MB still resident.
SCRIPT = """
import sys
from service.runtime import allocator

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

if sys.argv[1] == "settled":
    assert allocator.settle()
first = b"x" * 250_000
del first
before = rss_mb()
large, kept = [], []
for n in range(400):
    large.append(b"x" * 250_000)
    kept.append(bytes(1000))
grown = rss_mb() - before
del large
print(grown, rss_mb() - before)
"""


def kept_mb(mode: str) -> tuple[float, float]:
    """How much the large blocks grew the process, and how much of it stayed once they were freed."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True, timeout=60
    )
    grown, kept = done.stdout.split()
    return float(grown), float(kept)


@glibc
def test_large_blocks_freed_go_back_to_the_system_once_settled() -> None:
    grown, kept = kept_mb("settled")
    assert grown > 80  # 400 blocks of 250 KB were resident at once
    assert kept < 10


@glibc
def test_without_it_the_same_blocks_stay_resident() -> None:
    # What settle is for: glibc, left to itself, keeps the freed blocks (were this to change, settle would
    # be needless, and this test says so).
    grown, kept = kept_mb("default")
    assert grown > 80
    assert kept > 50


def test_settle_does_nothing_on_another_c_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert allocator.settle() is False


class _Server:
    """Stands in for uvicorn's server: notes when it is asked to serve."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.started = False

    async def serve(self, sockets: object = None) -> None:
        self.calls.append("serve")
        await asyncio.sleep(0)


async def test_serving_settles_the_allocator_before_the_server_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def settle() -> bool:
        calls.append("settle")
        return True

    monkeypatch.setattr(allocator, "settle", settle)
    with socket.socket() as sock:
        await cli._serving(_Server(calls), sock)  # type: ignore[arg-type]
    assert ["settle", "serve"] == calls
