"""A subscriber that stops reading is not waited for. With QINGLIAN_SUBSCRIBER_QUEUE=50, a client that stops
reading fills its socket, falls behind, and once it reads again receives what was sent to it and then a close
with 4429 naming its last cursor; meanwhile the appends complete and a second subscriber on the same server
receives everything in order. Resubscribing after its own last cursor, the slow client gets every remaining
event exactly once."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from events.access import Role
from service.log.store import EventStore
from service.read.paging import after_position
from tests.service.delivery.live import Socket, city, issue, record, renames, served, ws_url

QUEUE = 50
EVENTS = 1500
PER_APPEND = 10
# Each event's metadata: big, and random so that no compression makes it small on the wire.
PADDING = base64.b64encode(os.urandom(6000)).decode()
LIVE = """subscription($after: String) {
  events(after: $after) { cursor event { position metadata } } }"""
SMALL = """subscription($after: String) { events(after: $after) { cursor event { position } } }"""


def tiny_socket(url: str) -> socket.socket:
    """A client socket with a small receive buffer, so that a client not reading fills TCP quickly."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    sock.setblocking(False)
    return sock


async def keep_up(url: str, token: str, ws: Socket, until: int, resumes: list[str]) -> list[int]:
    """A client reading promptly until it has `until`. Closed for falling behind anyway (a burst larger than
    the queue is offered to every subscriber at once), it subscribes again after its own last cursor."""
    positions = await ws.reached("1", until)
    while positions[-1] < until:
        assert ws.closed is not None
        assert 4429 == ws.closed[0], ws.closed
        resumes.append(ws.closed[1] or "")
        after = ws.data("1")[-1]["events"]["cursor"]
        async with Socket.opened(url, token=token) as ws:
            await ws.subscribe("1", SMALL, {"after": after})
            positions += await ws.reached("1", until)
    return positions


async def test_a_stalled_subscriber_is_closed_with_4429_and_resumes_from_its_own_cursor(
    tmp_path: Path, database_url: str, pool: asyncpg.Pool, store: EventStore
) -> None:
    await city(store, "t1", ["c1"])
    token = await issue(pool, store, Role.INTEGRATOR)
    with served(tmp_path / "serve", database_url, subscriber_queue=str(QUEUE)) as service:
        url = ws_url(service)
        tiny = tiny_socket(url)
        async with (
            Socket.opened(url, token=token, sock=tiny, compression=None, max_queue=1) as slow,
            Socket.opened(url, token=token) as normal,
        ):
            await slow.subscribe("1", LIVE, {"after": None})
            await normal.subscribe("1", SMALL, {"after": None})
            # Both are live once each has been sent an event appended after it subscribed.
            marks: list[int] = []
            while not (set(marks) & set(slow.positions("1")) and set(marks) & set(normal.positions("1"))):
                marks += await record(store, renames("c1", 1, "mark-"), f"mark-{len(marks)}")
                await asyncio.sleep(0.2)
            # The slow client stops reading: its small buffers fill, then the server's socket does.
            await slow.stop()
            stalled_at = len(slow.messages)
            resumes: list[str] = []
            last = marks[-1] + EVENTS
            reader = asyncio.ensure_future(keep_up(url, token, normal, last, resumes))
            written: list[int] = []
            # The writer is not held up by the stalled client: every append completes.
            async with asyncio.timeout(120):
                for i in range(0, EVENTS, PER_APPEND):
                    padding = {"padding": PADDING}
                    written += await record(store, renames("c1", PER_APPEND, f"n{i}-"), f"bulk-{i}", padding)
            got = await reader
            # The other subscriber had everything while the stalled one still had not read a thing more.
            assert stalled_at == len(slow.messages)
            slow.read()
            await slow.until(lambda: slow.closed is not None)
            slow_got = slow.positions("1")
            last_cursor = slow.data("1")[-1]["events"]["cursor"]
        async with Socket.opened(url, token=token) as again:
            await again.subscribe("2", LIVE, {"after": last_cursor})
            rest = await again.reached("2", last)

    print(f"slow: {len(slow_got)} delivered, closed {slow.closed}; the other resumed {len(resumes)} times")
    assert list(range(marks[-1] + 1, last + 1)) == written
    assert list(range(got[0], last + 1)) == got
    code, reason = slow.closed or (None, None)
    assert 4429 == code, slow.closed
    named = re.fullmatch(r"subscriber fell behind; resume after cursor (\S+)", reason or "")
    assert named is not None, reason
    # The cursor named is the last one the client was sent: it lost nothing by stalling.
    assert slow_got[-1] == after_position(named[1], "events")
    assert slow_got[-1] < last
    assert list(range(slow_got[0], last + 1)) == slow_got + rest
