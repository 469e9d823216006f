"""Subscriptions under load: 200 WebSocket subscribers on `events` across two server processes while events
are appended at a steady rate, against a bare LISTEN client's notification latency; and the writer's
throughput with and without the subscribers.

    python -m tests.bench.subscribe                          # embedded PostgreSQL, or DATABASE_URL when set
    python -m tests.bench.subscribe --rates 50 --rounds 1    # shorter
    python -m tests.bench.subscribe --profile /tmp/prof      # py-spy on one server in the timed windows

A fresh migrated database (dropped afterwards): the demo with its integrator's token, as tests/bench/
query.py builds it (`build_demo`). Every phase starts two `qinglian serve` processes on it (query.py's
`serve_env`: JSON logs, the per-caller rate limits off; everything else as deployed, the subscriber queue
limit included unless `--queue` says otherwise), waits until their projector has folded the whole log and
nothing is pending for the status keeper, then runs. Nothing is pinned: two servers, two client processes,
the writer and PostgreSQL share the machine's CPUs as the scheduler sees fit. For the timed window the
CPU each process used is reported (servers, clients, this process as `writer`, every `postgres` process
still running at its end), with how long each of ours was ready to run but waiting for a CPU
(/proc/PID/schedstat: starved rather than idle), and the whole machine's busy CPUs (/proc/stat, other
work on it included).

The writer (this process) appends `TrainingHeld` events, each on one of the demo's listed communities in
turn, so that the servers' projector and status keeper fold and re-evaluate as they would in service.
By default through `EventStore.append` (expected version any): the group-commit writer every command ends
in, whose one write statement per group NOTIFYs the log's channel at commit. `--writer commands` goes
through `Commands.record` instead, validation reads and all — the path of a `recordTraining` mutation
below its HTTP and GraphQL layers — which on the 2-core machine could not keep 500 a second beside the
two servers. Mutations over HTTP are not used: parsing 500 of them a second would take the servers' CPU
from the delivery measured. At a steady rate each append is launched at its due time whether or not the
previous one is done (group commit gathers those in flight); one due while 200 are still under way is
skipped and counted, so a writer that cannot keep up shows as a lower rate, not as a backlog outliving
the window. Flat out, 16 workers append one after the other, each on its own community.

Subscribers: `--subscribers` (200) WebSockets, half on each server, opened by two client processes (this
module with `--client`, one per server), the integrator's token in `connection_init`, each subscribing to

    subscription { events { cursor event { position recordedAt leafHash type } } }

(no `after`: live only). The client, `RawSubscriber`, speaks RFC 6455 and graphql-transport-ws by hand
(no compression): the upgrade written out, the server's frames parsed from the bytes in `data_received`,
no task or future per message, so that the clients take as little of the two CPUs from the servers as
they can (`--client websockets`: the `websockets` library's asyncio client; 64 us of client CPU a message
in a trial, against 43-52 us). For every read the client takes the time (`time.time()`), parses each
message's JSON and the event's `recordedAt`, and keeps the position and the latency, read time minus
`recordedAt`. `recordedAt` is the writer's clock read inside its group, after the group's read and before
its write statement commits, on the same machine: the figure overstates commit to delivery by the write
statement's round trip and commit (about a millisecond).

The baseline: a bare asyncpg connection in this process LISTENing on the log's channel
(`service.log.watcher.CHANNEL`), its callback taking `time.time()` for each notification; afterwards each
notified position's `recorded_at` is read from the table, and the latency is receipt minus that. It runs
in every phase: alone (the `listen_R` phases, the servers up without subscribers) it is the baseline; in the
subscriber phases it shows what the load does to a bare listener.

In every window one keep-alive connection asks server 0 for /healthz every 20 ms: how long its loop keeps
a request waiting.

Phases, each `--warmup` (2 s) then `--timed` (10 s) with the writer throughout:

  listen_R       no subscribers, R events a second; the LISTEN client's latency.
  subscribers_R  the subscribers, R events a second. Before the window every subscriber must have received
                 an event (so each is live before the window's first position); after it, the writer
                 stops and the clients are waited for (up to 30 s) until every open subscriber has the
                 window's last position. Latency over every message of an event committed in the window,
                 all subscribers together; completeness: each subscriber's messages of the window's
                 positions must be exactly those positions, in order.
  writer_alone   no subscribers; the writer flat out. Events a second committed in the window.
  writer_subscribed  the same with the subscribers connected (they may be closed with 4429 for falling
                 behind: how many are still open at the window's end is reported).

Each round runs listen_R and subscribers_R for each rate in `--rates` (50,500), then writer_alone and
writer_subscribed; `--rounds` (3) rounds; a figure is the median of its runs' figures, a ratio the ratio of
medians. Percentiles are over every sample of a window (statistics.quantiles, inclusive). Human-readable
lines go out as each run ends; the last line is one JSON object. Targets are reported, never enforced:
p99 commit-to-delivery at most 100 ms and at most 3 times the baseline's p99, at each rate; the writer's
throughput with the subscribers at least 0.9 of that without.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from events.catalogue import CATALOGUE
from events.envelope import ExpectedVersion
from events.training import TrainingHeld, TrainingKind
from projections.localtime import local_date
from service.commands.handler import Commands, stream_of
from service.log.clock import utc_now
from service.log.pool import create_pool
from service.log.store import EventStore
from service.log.watcher import CHANNEL
from tests.bench.query import (
    HEALTHZ,
    HEALTHZ_EVERY,
    Database,
    Server,
    build_demo,
    connection,
    free_port,
    median,
    percentile_ms,
    serve_env,
    wait_until_up,
)
from tests.support.pg import create_migrated_database, drop_database, server_settings, server_url, unique_name

RATES = (50, 500)
SUBSCRIBERS = 200
SERVERS = 2
ROUNDS = 3
WARMUP_SECONDS = 2.0
TIMED_SECONDS = 10.0
DRAIN_SECONDS = 30.0  # at most, after the window, for every open subscriber to have its last position
LIVE_SECONDS = 30.0  # at most, before the window, for every subscriber to have had an event
FLAT_OUT_WORKERS = 16
MAX_IN_FLIGHT = 200  # a steady writer's appends under way at once, at most
TOKEN_ENV = "QINGLIAN_BENCH_TOKEN"
TARGETS: dict[str, float] = {
    "p99_ms_at_most": 100.0,
    "p99_over_baseline_p99_at_most": 3.0,
    "throughput_with_over_without_at_least": 0.9,
}
SUBSCRIPTION = "subscription Live { events { cursor event { position recordedAt leafHash type } } }"


# -- the client processes ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Subscriber:
    """One WebSocket's subscription, as the client process sees it."""

    positions: array[int] = field(default_factory=lambda: array("q"))
    latencies: array[float] = field(default_factory=lambda: array("d"))  # seconds, as positions
    live: asyncio.Event = field(default_factory=asyncio.Event)  # subscribed (or failed to)
    closed: str | None = None  # why it ended: a close code and reason, an error message
    errors: int = 0  # `next` messages carrying errors

    def report(self, lo: int, hi: int) -> tuple[array[float], dict[str, int]]:
        """The latencies of the positions in (lo, hi], and whether they are exactly those, in order."""
        got = [(p, lat) for p, lat in zip(self.positions, self.latencies, strict=True) if lo < p <= hi]
        seen = [p for p, _ in got]
        expected = hi - lo
        facts = {
            "messages": len(seen),
            "complete": int(seen == list(range(lo + 1, hi + 1))),
            "in_order": int(all(a < b for a, b in itertools.pairwise(seen))),
            "missing": expected - len(set(seen)),
            "duplicates": len(seen) - len(set(seen)),
        }
        return array("d", (lat for _, lat in got)), facts


async def subscribe(port: int, token: str, sub: Subscriber) -> None:
    """Connect, authenticate, subscribe, then keep every message's position and latency until closed."""
    ws: ClientConnection | None = None
    try:
        ws = await connect(
            f"ws://127.0.0.1:{port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
            compression=None,
            open_timeout=60,
            ping_interval=None,
        )
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIPTION}}))
        sub.live.set()
        positions, latencies, loads, parse = sub.positions, sub.latencies, json.loads, datetime.fromisoformat
        async for raw in ws:
            now = time.time()
            message = loads(raw)
            kind = message.get("type")
            if kind == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    sub.errors += 1
                    continue
                event = payload["data"]["events"]["event"]
                positions.append(event["position"])
                latencies.append(now - parse(event["recordedAt"]).timestamp())
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
            elif kind in ("error", "complete"):
                sub.closed = f"{kind}: {str(message.get('payload'))[:100]}"
                return
        sub.closed = f"{ws.close_code} {ws.close_reason or ''}".strip()
    except ConnectionClosed as exc:
        received = exc.rcvd
        sub.closed = f"{received.code} {received.reason}".strip() if received is not None else "closed"
    except Exception as exc:  # noqa: BLE001 - a subscriber that fails is counted, not fatal
        sub.closed = f"{type(exc).__name__}: {str(exc)[:100]}"
    finally:
        sub.live.set()
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()


class RawSubscriber(asyncio.Protocol):
    """A subscriber speaking RFC 6455 by hand, as cheaply as a client can: the upgrade request written out,
    the server's unmasked frames parsed straight from the bytes in `data_received`, no task or future per
    message. Every message that arrives in one read is timed by that read."""

    def __init__(self, sub: Subscriber, token: str) -> None:
        self._sub = sub
        self._token = token
        self._buffer = bytearray()
        self._upgraded = False
        self._transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def upgrade(self, port: int) -> None:
        assert self._transport is not None
        key = base64.b64encode(os.urandom(16)).decode()
        self._transport.write(
            f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode()
        )

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client frame: FIN, `opcode`, masked (RFC 6455 §5.3) with a random key."""
        assert self._transport is not None
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (
            bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        )
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._transport.write(head + mask + body)

    def finish(self, why: str) -> None:
        if self._sub.closed is None:
            self._sub.closed = why
        self._sub.live.set()
        if not self.done.done():
            self.done.set_result(None)
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:end]).split(b"\r\n", 1)[0]
            del buffer[: end + 4]
            if b" 101 " not in status + b" ":
                self.finish(f"upgrade refused: {status.decode(errors='replace')[:100]}")
                return
            self._upgraded = True
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self._token}"}}
            self._send(0x1, json.dumps(init).encode())
        i, size = 0, len(buffer)
        sub = self._sub
        while size - i >= 2:
            opcode, length, j = buffer[i] & 0x0F, buffer[i + 1] & 0x7F, i + 2
            if length == 126:
                if size - j < 2:
                    break
                length, j = int.from_bytes(buffer[j : j + 2], "big"), j + 2
            elif length == 127:
                if size - j < 8:
                    break
                length, j = int.from_bytes(buffer[j : j + 8], "big"), j + 8
            if size - j < length:
                break
            payload = bytes(buffer[j : j + length])
            i = j + length
            if opcode == 0x1:
                self._message(json.loads(payload), now)
            elif opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._send(0x8, payload[:2])
                self.finish(f"{code} {payload[2:].decode(errors='replace')}".strip())
                return
            elif opcode != 0xA:
                sub.errors += 1  # fragments and binary frames: none expected
        del buffer[:i]

    def _message(self, message: dict[str, Any], now: float) -> None:
        kind = message.get("type")
        sub = self._sub
        if kind == "next":
            payload = message["payload"]
            if payload.get("errors"):
                sub.errors += 1
                return
            event = payload["data"]["events"]["event"]
            sub.positions.append(event["position"])
            sub.latencies.append(now - datetime.fromisoformat(event["recordedAt"]).timestamp())
        elif kind == "connection_ack":
            subscribe = {"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIPTION}}
            self._send(0x1, json.dumps(subscribe).encode())
            sub.live.set()
        elif kind == "ping":
            self._send(0x1, b'{"type":"pong"}')
        elif kind in ("error", "complete"):
            self.finish(f"{kind}: {str(message.get('payload'))[:100]}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish(f"connection lost: {exc}" if exc is not None else "connection lost")


async def subscribe_raw(port: int, token: str, sub: Subscriber) -> None:
    """As `subscribe`, over `RawSubscriber`."""
    loop = asyncio.get_running_loop()
    try:
        _, protocol = await loop.create_connection(lambda: RawSubscriber(sub, token), "127.0.0.1", port)
    except OSError as exc:
        sub.closed = f"{type(exc).__name__}: {str(exc)[:100]}"
        sub.live.set()
        return
    protocol.upgrade(port)
    try:
        await protocol.done
    finally:
        protocol.finish("stopped")


async def client_main(port: int, count: int, library: str) -> None:
    """A client process: `count` subscribers on the server at `port`, then commands on stdin, one JSON line
    each answered by one JSON line on stdout: status (how many have `hi`), report (the window's
    latencies to a file and its facts), quit."""
    token = os.environ[TOKEN_ENV]
    subs = [Subscriber() for _ in range(count)]
    connect = subscribe_raw if library == "raw" else subscribe
    tasks = [asyncio.create_task(connect(port, token, sub)) for sub in subs]
    await asyncio.gather(*(sub.live.wait() for sub in subs))
    print(json.dumps({"ready": sum(sub.closed is None for sub in subs)}), flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while line := await stdin.readline():
        command = json.loads(line)
        what = command["do"]
        if what == "status":
            hi = command["hi"]
            out: dict[str, Any] = {
                "open": sum(sub.closed is None for sub in subs),
                "got_any": sum(bool(sub.positions) for sub in subs if sub.closed is None),
                "reached": sum(bool(sub.positions) and sub.positions[-1] >= hi for sub in subs),
                "received": sum(len(sub.positions) for sub in subs),
            }
        elif what == "report":
            lo, hi = command["lo"], command["hi"]
            merged: array[float] = array("d")
            totals: Counter[str] = Counter()
            for sub in subs:
                latencies, facts = sub.report(lo, hi)
                merged.extend(latencies)
                totals.update(facts)
            await asyncio.to_thread(Path(command["path"]).write_bytes, merged.tobytes())
            closed = Counter(sub.closed for sub in subs if sub.closed is not None)
            out = {
                **totals,
                "subscribers": count,
                "open": sum(sub.closed is None for sub in subs),
                "closed": dict(closed),
                "errors": sum(sub.errors for sub in subs),
            }
        elif what == "quit":
            break
        else:
            out = {"unknown": what}
        print(json.dumps(out), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(slots=True)
class Client:
    """A client process as this process drives it."""

    process: asyncio.subprocess.Process
    ready: int

    @property
    def pid(self) -> int:
        return self.process.pid

    async def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()
        answer: dict[str, Any] = json.loads(await self.process.stdout.readline())
        return answer


@contextlib.asynccontextmanager
async def clients(
    ports: Sequence[int], total: int, token: str, folder: Path, library: str
) -> AsyncIterator[list[Client]]:
    """One client process per server, `total` subscribers shared among them, each process ready."""
    made: list[Client] = []
    logs = []
    try:
        for i, port in enumerate(ports):
            count = total // len(ports) + (1 if i < total % len(ports) else 0)
            log = (folder / f"client-{i}.log").open("wb")
            logs.append(log)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.bench.subscribe",
                "--client",
                str(port),
                str(count),
                library,
                env={**os.environ, TOKEN_ENV: token},
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
            made.append(Client(process, 0))
        for client in made:
            assert client.process.stdout is not None
            line = await asyncio.wait_for(client.process.stdout.readline(), 120)
            if not line:
                raise RuntimeError(f"a client process ended before it was ready; see {folder}")
            client.ready = int(json.loads(line)["ready"])
        yield made
    finally:
        for client in made:
            if client.process.returncode is None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.ask(do="quit"), 10)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.process.wait(), 10)
            if client.process.returncode is None:
                client.process.kill()
                await client.process.wait()
        for log in logs:
            log.close()


# -- the writer -------------------------------------------------------------------------------------------


class Appender:
    """`TrainingHeld` events on the listed communities in turn: through `EventStore.append` (the group-
    commit writer every command ends in; valid events, written without the command layer's validation
    reads), or with `commands` through `Commands.record`, validation and all."""

    def __init__(self, store: EventStore, communities: list[str], *, commands: bool) -> None:
        self._store = store
        self._commands = Commands(store, CATALOGUE) if commands else None
        self._communities = communities
        self._n = 0
        self.failed: Counter[str] = Counter()
        self.skipped = 0  # steady appends not launched: too many still in flight

    async def _one(self, community: str) -> None:
        n = self._n
        self._n += 1
        event = TrainingHeld(
            community_id=community,
            training_id=f"bench-subscribe-{n}",
            kind=TrainingKind.INTEGRITY_COURSE,
            held_on=local_date(utc_now()),
            title="廉政教育讲座",
            attendees=30,
            hours=1.5,
        )
        key, metadata = f"bench-subscribe-{n}", {"actor": "bench"}
        try:
            if self._commands is not None:
                await self._commands.record(event, idempotency_key=key, metadata=metadata)
            else:
                await self._store.append(
                    stream_of(event),
                    [event],
                    expected_version=ExpectedVersion.any(),
                    idempotency_key=key,
                    metadata=metadata,
                )
        except Exception as exc:  # noqa: BLE001 - counted and reported; the run goes on
            self.failed[type(exc).__name__] += 1

    async def steady(self, rate: float, stop: asyncio.Event) -> None:
        """`rate` appends a second, each launched at its due time (a late loop launches the overdue at
        once: the rate is kept, not the spacing), until `stop`; then waits for those in flight. An append
        due while MAX_IN_FLIGHT are still under way is skipped and counted: a writer that cannot keep up
        shows as a lower rate, not as a backlog that outlives the window."""
        loop = asyncio.get_running_loop()
        flying: set[asyncio.Task[None]] = set()
        due = loop.time()
        k = 0
        while not stop.is_set():
            while due <= loop.time():
                due += 1 / rate
                if len(flying) >= MAX_IN_FLIGHT:
                    self.skipped += 1
                    continue
                task = loop.create_task(self._one(self._communities[k % len(self._communities)]))
                flying.add(task)
                task.add_done_callback(flying.discard)
                k += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - loop.time()))
        await asyncio.gather(*flying)

    async def flat_out(self, workers: int, stop: asyncio.Event) -> None:
        """`workers` appenders, each on its own community, each appending again as soon as it is done."""

        async def worker(community: str) -> None:
            while not stop.is_set():
                await self._one(community)

        await asyncio.gather(*(worker(self._communities[w % len(self._communities)]) for w in range(workers)))


@contextlib.asynccontextmanager
async def writing(appender: Appender, rate: float | None) -> AsyncIterator[None]:
    """The writer for the block's duration: `rate` a second, or flat out (None)."""
    stop = asyncio.Event()
    work = appender.steady(rate, stop) if rate is not None else appender.flat_out(FLAT_OUT_WORKERS, stop)
    task = asyncio.get_running_loop().create_task(work)
    try:
        yield
    finally:
        stop.set()
        await task


# -- the baseline listener --------------------------------------------------------------------------------


class Listener:
    """A bare asyncpg LISTEN on the log's channel: each notification's payload (a head position) and when
    it arrived."""

    def __init__(self) -> None:
        self.heard: list[tuple[int, float]] = []

    def _notified(self, conn: object, pid: int, channel: str, payload: object) -> None:
        now = time.time()
        with contextlib.suppress(ValueError):
            self.heard.append((int(str(payload)), now))

    @contextlib.asynccontextmanager
    async def listening(self, url: str) -> AsyncIterator[None]:
        conn = await asyncpg.connect(url)
        try:
            await conn.add_listener(CHANNEL, self._notified)
            yield
        finally:
            await conn.close()

    async def latencies(self, pool: asyncpg.Pool, lo: int, hi: int) -> list[float]:
        """Receipt minus `recorded_at` of each notification of a position in (lo, hi]."""
        heard = [(p, at) for p, at in self.heard if lo < p <= hi]
        rows = await pool.fetch(
            "select position, recorded_at from events where position = any($1::bigint[])",
            [p for p, _ in heard],
        )
        recorded = {int(r["position"]): r["recorded_at"].timestamp() for r in rows}
        return [at - recorded[p] for p, at in heard]


# -- the machine ------------------------------------------------------------------------------------------


def machine_busy() -> tuple[float, float]:
    """The whole machine's (busy, total) CPU seconds so far, from /proc/stat's first line."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    total = sum(ticks[:8])  # user nice system idle iowait irq softirq steal (guest is within user)
    hz = os.sysconf("SC_CLK_TCK")
    return (total - idle) / hz, total / hz


def postgres_seconds() -> dict[int, float]:
    """CPU seconds used so far by each process named `postgres` (every database's on that server)."""
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            text = stat.read_text()
            if text[text.index("(") + 1 : text.rindex(")")] == "postgres":
                fields = text[text.rindex(")") + 2 :].split()
                found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def postgres_used(before: dict[int, float]) -> float:
    """PostgreSQL's CPU seconds since `before`: of the processes running now (a connection's process that
    ended meanwhile is not counted), each from where it was then or from its start."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in postgres_seconds().items())


def waited_seconds(pid: int) -> float:
    """How long the process's main thread has been ready to run but waiting for a CPU (/proc/PID/schedstat:
    the run queue's wait, in ns): starved, as against idle."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# -- phases and runs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    rate: float | None  # events a second; None: flat out
    subscribers: bool


def phases(rates: Sequence[int]) -> list[Phase]:
    made = []
    for rate in rates:
        made.append(Phase(f"listen_{rate}", rate, False))
        made.append(Phase(f"subscribers_{rate}", rate, True))
    made.append(Phase("writer_alone", None, False))
    made.append(Phase("writer_subscribed", None, True))
    return made


@dataclass(slots=True)
class Run:
    seconds: float
    events: int  # appended in the window
    listen: list[float]  # the LISTEN client's latencies, seconds
    delivery: list[float] = field(default_factory=list)  # every subscriber message's, seconds
    facts: dict[str, Any] = field(default_factory=dict)  # the clients' tallies
    live_seconds: float = 0.0  # before the window: until every subscriber had had an event
    drain_seconds: float = 0.0  # after it: until every open subscriber had the last position
    drained: bool = True
    open_at_start: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # by process, in CPUs over the window
    rss_mb: list[float] = field(default_factory=list)  # each server's VmRSS at the window's end
    load: float = 0.0  # 1-minute load average at the window's end
    profile: dict[str, Any] = field(default_factory=dict)  # server 0's, by part (--profile)
    received: int = 0  # messages the clients took off their sockets in the window, whatever the event
    healthz: list[float] = field(default_factory=list)  # server 0's /healthz answers in the window, seconds
    skipped: int = 0  # steady appends due in the window and not launched (MAX_IN_FLIGHT under way)

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def per_message(self, side: str) -> float:
        """CPU microseconds the `side` processes (server or client) used in the window per message received
        in it (not per message of the window's events: behind, they deliver older ones)."""
        messages = self.received
        used = sum(v for k, v in self.cpu.items() if k.startswith(side) and "waiting" not in k) * self.seconds
        return used / messages * 1e6 if messages else 0.0


@contextlib.asynccontextmanager
async def serving(url: str, folder: Path, name: str, queue: int | None) -> AsyncIterator[list[Server]]:
    """Two `qinglian serve` processes on the database, each on a free port, until the block ends."""
    started: list[asyncio.subprocess.Process] = []
    waits = []
    ports: list[int] = []
    logs = []
    try:
        for i in range(SERVERS):
            port = free_port()
            env = serve_env(url, folder / f"{name}-{i}")
            if queue is not None:
                env["QINGLIAN_SUBSCRIBER_QUEUE"] = str(queue)
            log_path = folder / f"{name}-{i}.log"
            log = log_path.open("wb")
            logs.append(log)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "schema.main",
                "serve",
                "--port",
                str(port),
                env={**os.environ, **env},
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
            started.append(process)
            waits.append(wait_until_up(port, process, log_path))
            ports.append(port)
        # Started together, waited for together: each takes seconds to import and connect.
        await asyncio.gather(*waits)
        yield [Server(port, process.pid) for port, process in zip(ports, started, strict=True)]
    finally:
        for process in started:
            if process.returncode is None:
                process.terminate()
        for process in started:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        for log in logs:
            log.close()


@contextlib.asynccontextmanager
async def profiling(pid: int, seconds: float, out: Path | None) -> AsyncIterator[None]:
    """py-spy sampling `pid` for `seconds` (raw collapsed stacks to `out`), when asked for and installed."""
    # On PATH, or beside this interpreter (a virtual environment's, run without activating it).
    beside = Path(sys.executable).parent / "py-spy"
    spy = shutil.which("py-spy") or (str(beside) if beside.exists() else None)
    if out is None or spy is None:
        yield
        return
    process = await asyncio.create_subprocess_exec(
        spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        "100",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        await process.wait()


# Where a server's CPU goes, by the frames py-spy's samples pass through (a sample counts for every part
# whose frame is on its stack, so the parts overlap: delivery holds execution, encoding and the send).
PROFILE_PARTS = {
    "delivery": "BaseGraphQLTransportWSHandler._send_result_stream",  # a subscription's messages, in all
    "execution": "execute_subscription_event",  # graphql-core running the document on one event
    "encoding": "encode_json",  # the message to JSON text (msgspec)
    "send": "ASGIWebSocketAdapter.send_json",  # through Starlette and uvicorn to the socket
    "socket_write": "_SelectorSocketTransport.write",  # the send() system call itself
    "generator": "Subscription.events",  # the resolver's generator: the feed, the cursor, the loaders
    "hub": "Hub.run",
    "projector": "Projector.run",
    "status_keeper": "StatusKeeper.run",
    "status_watch": "StatusWatch.run",
    "sealer": "LogTree.run",
    "credential_recheck": "Connection.recheck.<locals>.watch",
    "receive": "WebSocketsSansIOProtocol.data_received",
}


def profile_shares(path: Path) -> dict[str, Any]:
    """The share of py-spy's samples (raw collapsed stacks, idle left out) whose stack holds each part."""
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        names = {frame.split(" (")[0] for frame in stack.split(";")}
        for part, frame in PROFILE_PARTS.items():
            if frame in names:
                counts[part] += int(n)
    shares: dict[str, Any] = {
        part: round(counts[part] / total, 3) if total else 0.0 for part in PROFILE_PARTS
    }
    return {"samples": total, **shares}


async def poll_healthz(port: int, seconds: float) -> list[float]:
    """/healthz on one keep-alive connection every HEALTHZ_EVERY for `seconds` (after a late answer, the next
    at once): how long the server's loop keeps a request waiting."""
    latencies: list[float] = []
    async with connection(port) as conn:
        now = time.perf_counter()
        due, deadline = now, now + seconds
        while due < deadline:
            began = time.perf_counter()
            await conn.exchange(HEALTHZ)
            latencies.append(time.perf_counter() - began)
            due = max(due + HEALTHZ_EVERY, time.perf_counter())
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
    return latencies


async def received_by(made: Sequence[Client]) -> int:
    """How many messages the clients have taken off their sockets so far."""
    total = 0
    for client in made:
        total += int((await client.ask(do="status", hi=0))["received"])
    return total


async def wait_clients(
    made: Sequence[Client], hi: int, seconds: float, done: str
) -> tuple[float, bool, dict[str, int]]:
    """Polls the clients until `done` holds ("live": every open subscriber has had an event; "drained":
    every open one has position `hi`) or `seconds` pass; returns the time it took, whether it held, and
    the last tallies."""
    began = time.perf_counter()
    while True:
        tallies: Counter[str] = Counter()
        for client in made:
            tallies.update(await client.ask(do="status", hi=hi))
        held = (
            tallies["got_any"] == tallies["open"] if done == "live" else tallies["reached"] >= tallies["open"]
        )
        elapsed = time.perf_counter() - began
        if held or elapsed > seconds:
            return elapsed, held, dict(tallies)
        await asyncio.sleep(0.05)


@dataclass(slots=True)
class Bench:
    db: Database
    appender: Appender
    token: str
    folder: Path
    subscribers: int
    warmup: float
    timed: float
    queue: int | None
    profile: Path | None
    library: str  # the subscribers' client: "raw" (RawSubscriber) or "websockets"


async def timed_run(phase: Phase, bench: Bench, round_: int) -> Run:
    db = bench.db
    name = f"{phase.name}-{round_}"
    async with serving(db.url, bench.folder, name, bench.queue) as servers:
        await db.settled()
        listener = Listener()
        async with contextlib.AsyncExitStack() as stack:
            made: list[Client] = []
            if phase.subscribers:
                ports = [server.port for server in servers]
                made = await stack.enter_async_context(
                    clients(ports, bench.subscribers, bench.token, bench.folder, bench.library)
                )
            await stack.enter_async_context(listener.listening(db.url))
            async with writing(bench.appender, phase.rate):
                await asyncio.sleep(bench.warmup)
                live_seconds = 0.0
                open_at_start = 0
                if made:
                    live_seconds, live, tallies = await wait_clients(made, 0, LIVE_SECONDS, "live")
                    open_at_start = tallies["open"]
                    if not live:
                        print(f"  not every subscriber had an event before the window: {tallies}", flush=True)
                lo = await db.store.head()
                skipped_before = bench.appender.skipped
                received = await received_by(made)
                processes = {f"server_{i}": server for i, server in enumerate(servers)}
                processes.update({f"client_{i}": Server(0, client.pid) for i, client in enumerate(made)})
                cpu_before = {key: p.cpu_seconds() for key, p in processes.items()}
                waits_before = {key: waited_seconds(p.pid) for key, p in processes.items()}
                writer_waited = waited_seconds(os.getpid())
                self_before = time.process_time()
                busy_before, total_before = machine_busy()
                postgres_before = postgres_seconds()
                began = time.perf_counter()
                profile = bench.profile / f"{name}.txt" if bench.profile is not None and made else None
                async with profiling(servers[0].pid, bench.timed, profile):
                    healthz = await poll_healthz(servers[0].port, bench.timed)
                seconds = time.perf_counter() - began
                cpu = {key: (p.cpu_seconds() - cpu_before[key]) / seconds for key, p in processes.items()}
                cpu["writer"] = (time.process_time() - self_before) / seconds
                cpu["postgres"] = postgres_used(postgres_before) / seconds
                for key, p in processes.items():
                    cpu[f"{key}_waiting"] = (waited_seconds(p.pid) - waits_before[key]) / seconds
                cpu["writer_waiting"] = (waited_seconds(os.getpid()) - writer_waited) / seconds
                busy_after, total_after = machine_busy()
                cpu["machine"] = (
                    (busy_after - busy_before) / (total_after - total_before) * (os.cpu_count() or 1)
                )
                rss = [server.memory_mb("VmRSS") for server in servers]
                received = await received_by(made) - received
                # The window's events: those committed in it (appends still under way commit after it).
                hi = await db.store.head()
                skipped = bench.appender.skipped - skipped_before
            run = Run(
                seconds=seconds,
                events=hi - lo,
                listen=await listener.latencies(db.pool, lo, hi),
                live_seconds=live_seconds,
                open_at_start=open_at_start,
                cpu=cpu,
                rss_mb=rss,
                load=load_average(),
                received=received,
                skipped=skipped,
                healthz=healthz,
            )
            if made:
                run.drain_seconds, run.drained, _ = await wait_clients(made, hi, DRAIN_SECONDS, "drained")
                tallies_all: Counter[str] = Counter()
                closed: Counter[str] = Counter()
                for i, client in enumerate(made):
                    path = bench.folder / f"{name}-latencies-{i}.bin"
                    facts = await client.ask(do="report", lo=lo, hi=hi, path=str(path))
                    closed.update(facts.pop("closed"))
                    tallies_all.update(facts)
                    values: array[float] = array("d")
                    with path.open("rb") as file:
                        values.frombytes(file.read())
                    path.unlink()
                    run.delivery.extend(values)
                run.facts = {**tallies_all, "closed": dict(closed)}
            if profile is not None and profile.exists():
                run.profile = profile_shares(profile)
    return run


def report(phase: Phase, round_: int, rounds: int, run: Run) -> None:
    parts = [f"{phase.name:<18} {round_}/{rounds}", f"{run.rate:7.1f} events/s"]
    if run.skipped:
        parts[-1] += f" ({run.skipped} appends skipped)"
    if run.listen:
        parts.append(
            f"listen p50 {percentile_ms(run.listen, 50):.1f} ms p99 {percentile_ms(run.listen, 99):.1f} ms"
        )
    if phase.subscribers:
        f = run.facts
        subscribers = f.get("subscribers", 0)
        parts.append(
            f"delivery p50 {percentile_ms(run.delivery, 50):.1f} ms "
            f"p99 {percentile_ms(run.delivery, 99):.1f} ms "
            f"max {max(run.delivery, default=0.0) * 1000:.0f} ms; "
            f"{f.get('messages', 0)} of {run.events * subscribers} messages, "
            f"{f.get('complete', 0)}/{subscribers} complete, {f.get('open', 0)} open "
            f"(closed: {f.get('closed')}), drained in {run.drain_seconds:.1f} s"
            + ("" if run.drained else " (not all)")
        )
    if run.healthz:
        parts.append(
            f"healthz p50 {percentile_ms(run.healthz, 50):.1f} ms "
            f"p99 {percentile_ms(run.healthz, 99):.1f} ms max {max(run.healthz) * 1000:.0f} ms"
        )
    parts.append("CPU " + " ".join(f"{k} {v:.2f}" for k, v in run.cpu.items()))
    parts.append(f"RSS {'/'.join(f'{r:.0f}' for r in run.rss_mb)} MB, load {run.load:.1f}")
    if phase.subscribers:
        parts.append(
            f"{run.received / run.seconds:.0f} messages/s; "
            f"per message: server {run.per_message('server'):.0f} us, "
            f"client {run.per_message('client'):.0f} us"
        )
    if run.profile:
        parts.append("profile " + ", ".join(f"{k} {v:.0%}" for k, v in run.profile.items() if k != "samples"))
    print("  ".join(parts), flush=True)


def summarize(every: list[Phase], results: dict[str, list[Run]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for phase in every:
        runs = results.get(phase.name, [])
        if not runs:
            continue
        p = phase.name

        def put(key: str, values: list[float], digits: int = 2, p: str = p) -> None:
            out[f"{p}_{key}"] = round(median(values), digits)
            out[f"{p}_{key}_runs"] = [round(v, digits) for v in values]

        put("events_per_s", [r.rate for r in runs], 1)
        if any(r.listen for r in runs):
            put("listen_p50_ms", [percentile_ms(r.listen, 50) for r in runs])
            put("listen_p99_ms", [percentile_ms(r.listen, 99) for r in runs])
            out[f"{p}_listen_notifications_runs"] = [len(r.listen) for r in runs]
        if phase.subscribers:
            put("delivery_p50_ms", [percentile_ms(r.delivery, 50) for r in runs])
            put("delivery_p99_ms", [percentile_ms(r.delivery, 99) for r in runs])
            put("delivery_max_ms", [max(r.delivery, default=0.0) * 1000 for r in runs], 1)
            out[f"{p}_messages_runs"] = [r.facts.get("messages", 0) for r in runs]
            out[f"{p}_messages_expected_runs"] = [r.events * r.facts.get("subscribers", 0) for r in runs]
            out[f"{p}_complete_subscribers_runs"] = [r.facts.get("complete", 0) for r in runs]
            out[f"{p}_in_order_subscribers_runs"] = [r.facts.get("in_order", 0) for r in runs]
            out[f"{p}_missing_runs"] = [r.facts.get("missing", 0) for r in runs]
            out[f"{p}_duplicates_runs"] = [r.facts.get("duplicates", 0) for r in runs]
            out[f"{p}_errors_runs"] = [r.facts.get("errors", 0) for r in runs]
            out[f"{p}_open_at_start_runs"] = [r.open_at_start for r in runs]
            out[f"{p}_open_at_end_runs"] = [r.facts.get("open", 0) for r in runs]
            out[f"{p}_closed_runs"] = [r.facts.get("closed", {}) for r in runs]
            out[f"{p}_live_seconds_runs"] = [round(r.live_seconds, 2) for r in runs]
            out[f"{p}_drain_seconds_runs"] = [round(r.drain_seconds, 2) for r in runs]
            out[f"{p}_drained_runs"] = [r.drained for r in runs]
            # CPU per message: what the window's delivery cost each side, over what it delivered.
            put("messages_per_s", [r.received / r.seconds for r in runs], 0)
            put("server_us_per_message", [r.per_message("server") for r in runs], 1)
            put("client_us_per_message", [r.per_message("client") for r in runs], 1)
        for key in runs[0].cpu:
            put(f"cpu_{key}", [r.cpu.get(key, 0.0) for r in runs])
        put("rss_mb", [max(r.rss_mb) for r in runs], 1)
        out[f"{p}_load_runs"] = [r.load for r in runs]
        out[f"{p}_appends_skipped_runs"] = [r.skipped for r in runs]
        put("healthz_p50_ms", [percentile_ms(r.healthz, 50) for r in runs])
        put("healthz_p99_ms", [percentile_ms(r.healthz, 99) for r in runs])
        put("healthz_max_ms", [max(r.healthz, default=0.0) * 1000 for r in runs], 1)
        if any(r.profile for r in runs):
            out[f"{p}_profile_runs"] = [r.profile for r in runs]
    return out


def judge(
    summary: dict[str, Any], rates: Sequence[int], subscribers: int
) -> tuple[dict[str, Any], dict[str, bool]]:
    figures: dict[str, Any] = {}
    met: dict[str, bool] = {}
    for rate in rates:
        sub, base = f"subscribers_{rate}", f"listen_{rate}"
        if f"{sub}_delivery_p99_ms" not in summary:
            continue
        p99 = summary[f"{sub}_delivery_p99_ms"]
        baseline = summary.get(f"{base}_listen_p99_ms", 0.0)
        ratio = p99 / baseline if baseline else float("inf")
        figures[f"delivery_p50_ms_at_{rate}"] = summary[f"{sub}_delivery_p50_ms"]
        figures[f"delivery_p99_ms_at_{rate}"] = p99
        figures[f"baseline_p50_ms_at_{rate}"] = summary.get(f"{base}_listen_p50_ms", 0.0)
        figures[f"baseline_p99_ms_at_{rate}"] = baseline
        figures[f"p99_over_baseline_at_{rate}"] = round(ratio, 2)
        complete = summary.get(f"{sub}_complete_subscribers_runs", [])
        figures[f"complete_at_{rate}"] = all(count == subscribers for count in complete)
        met[f"p99_at_{rate}"] = p99 <= TARGETS["p99_ms_at_most"]
        met[f"p99_over_baseline_at_{rate}"] = ratio <= TARGETS["p99_over_baseline_p99_at_most"]
    if summary.get("writer_alone_events_per_s") and "writer_subscribed_events_per_s" in summary:
        ratio = summary["writer_subscribed_events_per_s"] / summary["writer_alone_events_per_s"]
        figures["throughput_alone"] = summary["writer_alone_events_per_s"]
        figures["throughput_subscribed"] = summary["writer_subscribed_events_per_s"]
        figures["throughput_with_over_without"] = round(ratio, 3)
        met["throughput"] = ratio >= TARGETS["throughput_with_over_without_at_least"]
    return figures, met


async def run_all(admin_url: str, options: argparse.Namespace) -> dict[str, Any]:
    settings = await server_settings(admin_url, ("server_version", "synchronous_commit", "max_connections"))
    cpus = os.cpu_count() or 1
    every = phases(options.rates)
    print(
        f"PostgreSQL {settings['server_version']}; Python {platform.python_version()}, {cpus} CPUs; "
        f"{SERVERS} servers, {options.subscribers} subscribers, "
        f"rates {', '.join(map(str, options.rates))}/s; "
        f"{options.rounds} rounds of {options.warmup:g} s warm-up + {options.timed:g} s timed; "
        f"load average {load_average():.1f}",
        flush=True,
    )
    name = unique_name("qinglian_bench")
    results: dict[str, list[Run]] = {}
    began = time.perf_counter()
    db: Database | None = None
    writer_pool: asyncpg.Pool | None = None
    store: EventStore | None = None
    try:
        url = await create_migrated_database(admin_url, name)
        db, tokens, built = await build_demo(url)
        writer_pool = await create_pool(url, None, min_size=1, max_size=FLAT_OUT_WORKERS)
        store = EventStore(writer_pool, CATALOGUE)
        appender = Appender(store, db.listed, commands=options.writer == "commands")
        with tempfile.TemporaryDirectory(prefix="qinglian-bench-subscribe-") as tmp:
            bench = Bench(
                db,
                appender,
                tokens.integrator,
                Path(tmp),
                options.subscribers,
                options.warmup,
                options.timed,
                options.queue,
                options.profile,
                options.client,
            )
            if options.profile is not None:
                options.profile.mkdir(parents=True, exist_ok=True)
            for round_ in range(1, options.rounds + 1):
                for phase in every:
                    run = await timed_run(phase, bench, round_)
                    results.setdefault(phase.name, []).append(run)
                    report(phase, round_, options.rounds, run)
        head = await db.store.head()
        failed = dict(appender.failed)
    finally:
        if db is not None:
            await db.store.close()
            await db.pool.close()
        if store is not None:
            await store.close()
        if writer_pool is not None:
            await writer_pool.close()
        await drop_database(admin_url, name)

    summary = summarize(every, results)
    figures, met = judge(summary, options.rates, options.subscribers)
    misses = [key for key, ok in met.items() if not ok]
    for key, value in figures.items():
        print(f"{key} = {value}", flush=True)
    print(
        "targets: "
        + ", ".join(f"{k} {v:g}" for k, v in TARGETS.items())
        + "; "
        + (f"missed: {', '.join(misses)}" if misses else "all met"),
        flush=True,
    )
    return {
        **figures,
        "targets": TARGETS,
        "met": met,
        "misses": misses,
        **summary,
        "append_failures": failed,
        "built": built,
        "head": head,
        "seconds": round(time.perf_counter() - began, 1),
        "rates": options.rates,
        "subscribers": options.subscribers,
        "servers": SERVERS,
        "subscriber_queue": options.queue,
        "flat_out_workers": FLAT_OUT_WORKERS,
        "rounds": options.rounds,
        "order": [phase.name for phase in every],
        "warmup_seconds": options.warmup,
        "timed_seconds": options.timed,
        "subscription": SUBSCRIPTION,
        "client": options.client,
        "writer": options.writer,
        "server_version": settings["server_version"],
        "synchronous_commit": settings["synchronous_commit"],
        "cpus": cpus,
        "python": platform.python_version(),
    }


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="python -m tests.bench.subscribe", description=summary)

    def numbers(text: str) -> list[int]:
        return [int(part) for part in text.split(",") if part.strip()]

    parser.add_argument("--rates", type=numbers, default=list(RATES), help="events a second, comma-separated")
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--warmup", type=float, default=WARMUP_SECONDS, help="seconds")
    parser.add_argument("--timed", type=float, default=TIMED_SECONDS, help="seconds")
    parser.add_argument("--queue", type=int, default=None, help="QINGLIAN_SUBSCRIBER_QUEUE for the servers")
    parser.add_argument(
        "--client", choices=("raw", "websockets"), default="raw", help="the subscribers' WebSocket client"
    )
    parser.add_argument(
        "--writer",
        choices=("append", "commands"),
        default="append",
        help="EventStore.append, or Commands.record with its validation",
    )
    parser.add_argument("--profile", type=Path, default=None, help="folder for py-spy's samples of server 0")
    return parser.parse_args(argv)


async def main(options: argparse.Namespace) -> dict[str, Any]:
    with server_url() as admin_url:
        return await run_all(admin_url, options)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        library = sys.argv[4] if len(sys.argv) > 4 else "websockets"
        asyncio.run(client_main(int(sys.argv[2]), int(sys.argv[3]), library))
    else:
        summary = asyncio.run(main(arguments(sys.argv[1:])))
        print(json.dumps(summary, ensure_ascii=False), flush=True)
