"""Queries over HTTP with the status as a projection: how the dashboard scales with the city, the API against
a bare endpoint reading the same tables, how soon a write is visible, and the service under mixed load.

    python -m tests.bench.query                       # embedded PostgreSQL, or DATABASE_URL when set
    python -m tests.bench.query --sizes 100,1000      # fewer or other city sizes
    python -m tests.bench.query --parts serve,writes  # only some parts

Fresh migrated databases, each dropped afterwards: the demo (service/demo: 19 towns, 100 communities,
loaded through the commands) with two tokens issued into it (an integrator's and a city clerk's), and one
generated city per size in `--sizes` (tests/bench/city.py: `replay.TOWNS` = 20 towns, the default
standard, communities registered and active month by month exactly as tests/bench/replay.py generates
them, `--months` months of activity each, no big community; imported with `EventStore.bulk_import`). Each
database is projected in this process (`Projector.catch_up`), then `StatusKeeper.catch_up` empties
`status_pending`, each timed; a generated city is then vacuumed and analyzed.

The document is the dashboard: the city's coverage, every town with its coverage, and the first 50
communities (by name) with their status (`standardized score standardVersion position unmet { criterion
detail }`) and town, as of today.

Every run starts its own server in a subprocess, pinned to CPU 0: `qinglian serve` (one uvicorn worker, the
per-caller rate limits off) or, for the bare phases, the service's own `create_app` with one more route,
so the same lifespan runs beside the requests in every server: head watcher, projector, status keeper and
tree sealer. This process (load generator, writers) is pinned to CPU 1; PostgreSQL is unpinned. Before a
run is timed the server's projector is waited for until it has folded the whole log, and
`StatusKeeper.catch_up` is run here until nothing is pending (both timed): every run starts from the same
settled state, not from what the previous run's server left. Then a warm-up (`--warmup`, 2 s) and the timed
window (`--timed`, 10 s); HTTP/1.1 keep-alive connections each send the next request as soon as the
previous answer is in.

  scale_N      (part scale) `qinglian serve`, response cache off, on the city of N communities; 8 clients
               send the dashboard; no writes. p50 per size, and the server process's RSS (VmRSS from
               /proc/PID/status) after the warm-up and after the timed window.
  api          (part serve) `qinglian serve`, cache off, demo; 32 clients; the writer records 20 commands
               a second through `Commands.record` in this process (trainings and disclosures dated today,
               on the 50 listed communities) throughout warm-up and window.
  bare         (part serve) the bare endpoint, no cache; the same clients and writer. It answers the same
               JSON from the same tables with asyncpg and json.dumps, in one repeatable-read read-only
               transaction: the checkpoint; the towns and standard versions from `facts` (decoded with the
               projector's `world_from_rows`); coverage from `status_segments` (the `coverage_series`
               statement), the communities still pending evaluated from their facts; the candidates from
               `community_registrations`/`community_names`/`community_memberships` (the `community_page`
               statement: the first 50 by name then id, and the count); the 50 listed communities' facts
               from the record tables (`records.read_facts`), each evaluated
               (`projections.evaluation.evaluate`) for its status and its unmet criteria's wording, which
               the segments do not keep.
  cached       (part serve) `qinglian serve` with the response cache on; the same clients and writer.
  bare_cached  (part serve) the bare endpoint keeping its JSON by projection position: one checkpoint
               query per request; the body kept under (generation, position, local date) is returned
               while that is the checkpoint; a miss computes it once however many wait (single flight).
  writes       (part writes) `qinglian serve` as deployed (cache on); no readers; 20 mutations a second
               (`recordTraining`, a clerk's token, city scope) over HTTP, each its own request; every
               mutation's latency and its `Recorded.settled`. Here also: commit to checkpoint, the time
               from the log's NOTIFY (delivered at commit; this process LISTENs) to this process seeing the
               projection's checkpoint at or past that head (polled every 2 ms while one is outstanding).
  alone        (part mix) `qinglian serve`, cache off, demo; 24 clients send the dashboard; one client polls
               /healthz every 20 ms; the mutations of `writes` (20 a second) throughout.
  mix          (part mix) the same, plus 8 clients sending HEAVY with the integrator's token: 100
               communities with status and town and three pages of 10 records each, a worst-case cost of
               9,701 against the limit of 10,000 (schema/cost.py), checked to be answered without errors.
  idle         (part stall) `qinglian serve`, cache off, demo; only the /healthz poller; no writes. The
               baseline for the next.
  stall        (part stall) the same, plus the 8 HEAVY clients of `mix` (each the most costly document the
               cost limit lets through, sent again as soon as it is answered); no writes, no dashboards.
               Its /healthz p99 is the figure the 50 ms target is about.

The phases alternate: each round runs every phase chosen, in the order above; `--rounds` (3) rounds. A
phase's figure is the median of its runs' figures (each run's percentile, rate or RSS); ratios are ratios
of medians. Percentiles are of every answer in the window (statistics.quantiles, inclusive). Every answer is
parsed: a rate counts only a 200 with data and no errors; the others are reported by why (HTTP status, or
the first error's code, e.g. TIMEOUT). Before timing, with nothing being written, the api, bare, cached and
bare_cached servers are checked to give the same JSON, each scale server to list every community, HEAVY
to be answered without errors and a mutation to be recorded. Human-readable lines go out as each run
ends; the last line is one JSON object. Targets are reported, never enforced: a miss is information.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import uvicorn
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events.access import Role
from events.catalogue import CATALOGUE
from events.disclosure import Channel, DisclosureCategory, DisclosurePublished
from events.training import TrainingHeld, TrainingKind
from projections.access import Scope
from projections.coverage import Share
from projections.evaluation import evaluate
from projections.localtime import local_date
from schema.build import SCHEMA
from schema.cost import document_cost
from service.access.tokens import Tokens
from service.commands.handler import Commands
from service.demo.generator import ARTICLE_END
from service.demo.loader import load_demo
from service.log.clock import utc_now
from service.log.pool import create_pool
from service.log.reads import Conn
from service.log.store import EventStore
from service.log.watcher import CHANNEL
from service.read.directory import Choice, community_page
from service.read.projector import NAME, Projector, world_from_rows
from service.read.queries import query
from service.read.records import read_facts
from service.read.status import StatusKeeper
from service.read.views import towns_on
from service.runtime.app import DatabaseUrls, create_app
from service.runtime.logging import configure_logging
from service.runtime.settings import Settings
from tests.bench.city import City, import_city
from tests.bench.replay import TOWNS
from tests.support.domain import digest
from tests.support.pg import create_migrated_database, drop_database, server_settings, server_url, unique_name

SIZES = (100, 1_000, 10_000)
MONTHS = 12
ROUNDS = 3
WARMUP_SECONDS = 2.0
TIMED_SECONDS = 10.0
PARTS = ("scale", "serve", "writes", "mix", "stall")
PAGE = 50
SCALE_CLIENTS = 8
CLIENTS = 32
DASHBOARD_CLIENTS, HEAVY_CLIENTS = 24, 8
HEALTHZ_EVERY = 0.020
WRITES_PER_SECOND = 20
VISIBLE_POLL = 0.002
IDLE_REUSE = 3.0  # seconds a mutation's connection may have been idle and still be reused
TARGETS: dict[str, float] = {
    "scale_p50_largest_over_smallest_at_most": 2.0,  # p50 at 10,000 over p50 at 100
    "scale_rss_growth_mb_at_most": 50.0,  # RSS at 10,000 minus RSS at 100
    "api_over_bare_at_least": 0.2,
    "cached_over_bare_cached_at_least": 0.5,
    "mutation_p99_ms_at_most": 50.0,  # with every mutation settled
    "healthz_p99_ms_at_most": 50.0,  # under the stall: 8 clients sending HEAVY
    "mix_dashboard_p99_over_alone_at_most": 4.0,
}
SERVER_CPU, CLIENT_CPU = 0, 1
TICKS = os.sysconf("SC_CLK_TCK")  # /proc's CPU times are in these
START_TIMEOUT = 120.0

DASHBOARD = """query Dashboard {
  city { coverage { communities standardized rate } }
  towns { id name coverage { communities standardized rate } }
  communities(first: 50) {
    totalCount
    edges {
      node {
        id
        name
        status { standardized score standardVersion position unmet { criterion detail } }
        town { id name }
      }
    }
  }
}"""

# Near the cost limit: 9,701 of 10,000 (schema/cost.py counts it so; the check below asks the server).
HEAVY = """query Heavy {
  communities(first: 100) {
    totalCount
    edges {
      node {
        id
        name
        status { standardized score standardVersion position unmet { criterion detail } }
        town { id name }
        trainings(first: 10) { edges { node { trainingId heldOn attendees } } }
        meetings(first: 10) { edges { node { meetingId heldOn } } }
        disclosures(first: 10) { edges { node { disclosureId publishedOn } } }
      }
    }
  }
}"""

MUTATION = """mutation Train($input: RecordTrainingInput!, $key: String!) {
  recordTraining(input: $input, idempotencyKey: $key) {
    __typename
    ... on Recorded { settled events { position } }
    ... on ValidationError { errors { field message } }
    ... on NotAuthorized { reason }
  }
}"""


# -- the bare endpoint ------------------------------------------------------------------------------------


def _coverage(whole: int, part: int) -> dict[str, Any]:
    return {"communities": whole, "standardized": part, "rate": Share(whole, part).rate}


async def bare_answer(conn: Conn, today: date) -> tuple[tuple[int, int], dict[str, Any]]:
    """The dashboard's answer, in the API's response shape, read from the tables the API reads, in one
    snapshot; with the checkpoint (generation, position) it rests on."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        row = await conn.fetchrow(query("checkpoint"), NAME)
        assert row is not None, "migration 0002 inserts the checkpoint row"
        generation, position = int(row["generation"]), int(row["position"])
        # Towns and standard versions: a few dozen documents, read and decoded on every request.
        documents = await conn.fetch(query("facts_changed_after"), generation, -1)
        world = world_from_rows((r["entity"], r["entity_id"], r["body"]) for r in documents)
        standard = world.standard_on(today)
        # Coverage from the stored segments; the communities still pending, from their facts.
        counts: dict[str | None, list[int]] = {}
        pending: list[str] = []
        for r in await conn.fetch(query("coverage_series"), generation, [today]):
            if r["day"] is None:
                pending.append(r["community_id"])
            else:
                counts[r["town_id"]] = [r["communities"], r["standardized"]]
        if pending:
            for facts in (await read_facts(conn, generation, pending, position)).values():
                if facts.in_scope_on(today):
                    tally = counts.setdefault(facts.town_on(today), [0, 0])
                    tally[0] += 1
                    tally[1] += evaluate(facts, standard, today).standardized
        # The page by name then id, chosen in SQL with the count; the page's facts.
        chosen = await community_page(conn, generation, today, Choice(limit=PAGE), position)
        page = [entry.community_id for entry in chosen.entries]
        facts_of = await read_facts(conn, generation, page, position)
    edges = []
    for community_id in page:
        facts = facts_of[community_id]
        status = evaluate(facts, standard, today)
        town_id = facts.town_on(today)
        town = world.towns.get(town_id) if town_id is not None else None
        edges.append(
            {
                "node": {
                    "id": community_id,
                    "name": facts.name_on(today),
                    "status": {
                        "standardized": status.standardized,
                        "score": status.score,
                        "standardVersion": status.standard_version,
                        "position": status.position,
                        "unmet": [{"criterion": u.criterion_id, "detail": u.detail} for u in status.unmet],
                    },
                    "town": {"id": town.town_id, "name": town.name} if town is not None else None,
                }
            }
        )
    towns = [
        {"id": t.town_id, "name": t.name, "coverage": _coverage(*counts.get(t.town_id, [0, 0]))}
        for t in towns_on(world, today)
    ]
    city = _coverage(sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()))
    answer = {
        "data": {
            "city": {"coverage": city},
            "towns": towns,
            "communities": {"totalCount": chosen.total, "edges": edges},
        }
    }
    return (generation, position), answer


@dataclass(slots=True)
class BareCache:
    """The bare endpoint's JSON kept by projection position: the latest body only (an older checkpoint is
    never asked for again), and one computation per key however many requests wait for it."""

    key: tuple[int, int, date] | None = None
    body: bytes = b""
    computing: dict[tuple[int, int, date], asyncio.Future[bytes]] = field(default_factory=dict)


def bare_endpoint(cached: bool) -> Callable[[Request], Awaitable[Response]]:
    cache = BareCache()

    async def compute(pool: asyncpg.Pool, today: date) -> tuple[tuple[int, int, date], bytes]:
        async with pool.acquire() as conn:
            (generation, position), answer = await bare_answer(conn, today)
        # json.dumps as strawberry's view encodes.
        return (generation, position, today), json.dumps(answer).encode()

    async def from_cache(pool: asyncpg.Pool, today: date) -> bytes:
        row = await pool.fetchrow(query("checkpoint"), NAME)
        assert row is not None
        key = (int(row["generation"]), int(row["position"]), today)
        if cache.key == key:
            return cache.body
        waiting = cache.computing.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        cache.computing[key] = future
        try:
            seen, body = await compute(pool, today)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: whoever waits gets it; nobody need
            raise
        finally:
            cache.computing.pop(key, None)
        future.set_result(body)
        # Kept under the checkpoint the computation read (it may have moved since the lookup).
        if cache.key is None or seen > cache.key:
            cache.key, cache.body = seen, body
        return body

    async def serve_dashboard(request: Request) -> Response:
        pool: asyncpg.Pool = request.app.state.services.pool
        today = local_date(utc_now())
        body = await from_cache(pool, today) if cached else (await compute(pool, today))[1]
        return Response(body, media_type="application/json")

    return serve_dashboard


def serve_bare(mode: str, port: int) -> None:
    """The bare endpoint inside the service's own app: its lifespan starts the same pool, head watcher,
    projector, status keeper and sealer as `qinglian serve`'s."""
    settings = Settings.from_process()
    configure_logging(settings)
    if settings.database_url is None:
        raise SystemExit("the bare server needs DATABASE_URL")
    urls = DatabaseUrls(owner=settings.database_url, app=settings.app_database_url)
    route = Route("/dashboard", bare_endpoint(cached=mode == "bare_cached"))
    app = create_app(settings, urls, routes=[route])
    # As `qinglian serve` runs uvicorn (service/runtime/cli.py).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False
    )
    asyncio.run(uvicorn.Server(config).serve())


# -- servers in subprocesses ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Server:
    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far, user and system (from /proc)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on, after "pid (comm) "
        return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15: utime, stime

    def memory_mb(self, name: str) -> float:
        """A line of /proc/PID/status in MB (VmRSS: resident now; VmHWM: the most it has been)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024  # kB
        raise RuntimeError(f"no {name} in /proc/{self.pid}/status")


def log_tail(log: Path) -> str:
    """The end of a server's log: it lives in a temporary folder that goes with the run."""
    return log.read_text(encoding="utf-8", errors="replace")[-2000:]


@contextlib.asynccontextmanager
async def running(phase: Phase) -> AsyncIterator[Server]:
    """The phase's server on a free port, pinned to SERVER_CPU, until the block ends."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in phase.command]
    with phase.log.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, env={**os.environ, **phase.env}, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        try:
            os.sched_setaffinity(process.pid, {SERVER_CPU})
            await wait_until_up(port, process, phase.log)
            yield Server(port, process.pid)
        finally:
            if process.returncode is None:
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_until_up(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}:\n{log_tail(log)}")
        try:
            async with connection(port) as conn:
                status, _ = await conn.exchange(HEALTHZ)
                if status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start in time")


# -- HTTP -------------------------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: send pre-built request bytes, read one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def open_connection(port: int) -> Connection:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return Connection(reader, writer)


@contextlib.asynccontextmanager
async def connection(port: int) -> AsyncIterator[Connection]:
    conn = await open_connection(port)
    try:
        yield conn
    finally:
        await conn.close()


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
BARE = b"GET /dashboard HTTP/1.1\r\nHost: bench\r\n\r\n"


def graphql_request(document: str, authorization: str | None = None, **payload: Any) -> bytes:
    """A POST /graphql of `document` (and e.g. `operationName`, `variables`)."""
    body = json.dumps({"query": document, **payload}).encode()
    credential = b"" if authorization is None else b"Authorization: " + authorization.encode() + b"\r\n"
    return (
        b"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + credential
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def failure(status: int, body: bytes) -> str | None:
    """Why an answer does not count — its HTTP status, or its first error's code — or None for a 200
    with data and no errors. An operation stopped at the API's time limit is answered with an error; were
    it counted as served, an overloaded server would look faster than it is."""
    if status != 200:
        return f"HTTP {status}"
    parsed = json.loads(body)
    if not isinstance(parsed, dict):
        return "not an object"
    errors = parsed.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) and errors else {}
        code = first.get("extensions", {}).get("code") if isinstance(first, dict) else None
        return str(code or "error")
    return "no data" if parsed.get("data") is None else None


# -- samples and load -------------------------------------------------------------------------------------


def percentile_ms(values: Sequence[float], q: int) -> float:
    """The q-th percentile of `values` (seconds), in ms."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


@dataclass(slots=True)
class Sample:
    latencies: list[float] = field(default_factory=list)  # of every answer, seconds
    failures: Counter[str] = field(default_factory=Counter)  # answers that do not count, by why

    @property
    def good(self) -> int:
        return len(self.latencies) - sum(self.failures.values())

    def ms(self, q: int) -> float:
        return percentile_ms(self.latencies, q)


@dataclass(frozen=True, slots=True)
class Group:
    """Clients sending one request, each the next as soon as its answer is in."""

    label: str
    request: bytes
    clients: int


async def load(
    port: int, groups: Sequence[Group], seconds: float, healthz: bool
) -> tuple[float, dict[str, Sample], Sample | None]:
    """The groups' clients (and a /healthz poller) for `seconds`; work in flight at the deadline is counted
    and timed. Returns the seconds it took, each group's sample and the poller's."""
    samples = {group.label: Sample() for group in groups}
    polled = Sample() if healthz else None
    start = time.perf_counter()
    deadline = start + seconds

    async def client(group: Group, sample: Sample) -> None:
        async with connection(port) as conn:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                status, body = await conn.exchange(group.request)
                sample.latencies.append(time.perf_counter() - began)
                why = failure(status, body)
                if why is not None:
                    sample.failures[why] += 1

    async def poller(sample: Sample) -> None:
        async with connection(port) as conn:
            due = time.perf_counter()
            while due < deadline:
                began = time.perf_counter()
                status, _ = await conn.exchange(HEALTHZ)
                sample.latencies.append(time.perf_counter() - began)
                if status != 200:
                    sample.failures[f"HTTP {status}"] += 1
                # Every 20 ms; after a late answer, the next at once (no burst to catch up).
                due = max(due + HEALTHZ_EVERY, time.perf_counter())
                await asyncio.sleep(due - time.perf_counter())

    tasks = [client(group, samples[group.label]) for group in groups for _ in range(group.clients)]
    if polled is not None:
        tasks.append(poller(polled))
    await asyncio.gather(*tasks)
    return time.perf_counter() - start, samples, polled


# -- writers ----------------------------------------------------------------------------------------------


class Writing(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


async def paced(stop: asyncio.Event, act: Callable[[int], Awaitable[None]], first: int) -> int:
    """`act(n)` WRITES_PER_SECOND times a second, from n = `first`, until `stop`; returns the next n."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    n = first
    while not stop.is_set():
        await act(n)
        n += 1
        due += 1 / WRITES_PER_SECOND
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, due - loop.time()))
    return n


class Writer:
    """20 commands a second through `Commands.record` in this process: a training or a disclosure dated
    today, on the communities the dashboard lists, each a new fact that changes the community's status."""

    def __init__(self, commands: Commands, communities: list[str]) -> None:
        self._commands = commands
        self._communities = communities
        self._n = 0
        self.written = 0

    def _event(self, n: int) -> TrainingHeld | DisclosurePublished:
        community_id = self._communities[n % len(self._communities)]
        today = local_date(utc_now())
        if n % 2:
            return TrainingHeld(
                community_id=community_id,
                training_id=f"bench-training-{n}",
                kind=TrainingKind.INTEGRITY_COURSE,
                held_on=today,
                title="廉政教育讲座",
                attendees=30,
                hours=1.5,
            )
        return DisclosurePublished(
            community_id=community_id,
            disclosure_id=f"bench-disclosure-{n}",
            category=DisclosureCategory.FINANCE,
            period=f"{today.year}-{today.month:02d}",
            channel=Channel.ONLINE,
            published_on=today,
            title="财务收支公开",
            digest=digest(f"bench-{n}"),
        )

    async def _record(self, n: int) -> None:
        await self._commands.record(
            self._event(n), idempotency_key=f"bench-query-{n}", metadata={"actor": "bench"}
        )
        self.written += 1

    async def run(self, stop: asyncio.Event) -> None:
        self._n = await paced(stop, self._record, self._n)


@dataclass(frozen=True, slots=True)
class Mutation:
    began: float  # perf_counter when it was sent
    seconds: float
    failure: str | None  # None: Recorded
    settled: bool


class MutationWriter:
    """20 `recordTraining` mutations a second over HTTP with a clerk's token, on the listed communities,
    each sent at its time whether or not the previous one has been answered (a connection per mutation in
    flight, reused once free)."""

    def __init__(self, authorization: str, communities: list[str]) -> None:
        self._authorization = authorization
        self._communities = communities
        self._n = 0
        self.port = 0
        self.sent: list[Mutation] = []

    def request(self, n: int) -> bytes:
        variables = {
            "key": f"bench-mutation-{n}",
            "input": {
                "communityId": self._communities[n % len(self._communities)],
                "trainingId": f"bench-mutation-{n}",
                "kind": "INTEGRITY_COURSE",
                "heldOn": local_date(utc_now()).isoformat(),
                "title": "廉政教育讲座",
                "attendees": 30,
                "hours": 1.5,
            },
        }
        return graphql_request(MUTATION, self._authorization, operationName="Train", variables=variables)

    async def run(self, stop: asyncio.Event) -> None:
        idle: list[tuple[Connection, float]] = []  # with when it was last answered on
        opened: list[Connection] = []
        flying: set[asyncio.Task[None]] = set()

        async def one(n: int) -> None:
            # The server closes a connection idle for 5 s (uvicorn's keep-alive): use only fresher ones.
            while idle and idle[-1][1] < time.perf_counter() - IDLE_REUSE:
                await idle.pop()[0].close()
            conn = idle.pop()[0] if idle else None
            if conn is None:
                conn = await open_connection(self.port)
                opened.append(conn)
            began = time.perf_counter()
            try:
                status, body = await conn.exchange(self.request(n))
            except (OSError, asyncio.IncompleteReadError) as exc:
                self.sent.append(Mutation(began, time.perf_counter() - began, type(exc).__name__, False))
                return
            seconds = time.perf_counter() - began
            idle.append((conn, time.perf_counter()))
            why = failure(status, body)
            settled = False
            if why is None:
                result = json.loads(body)["data"]["recordTraining"]
                if result["__typename"] == "Recorded":
                    settled = bool(result["settled"])
                else:
                    why = result["__typename"]
            self.sent.append(Mutation(began, seconds, why, settled))

        async def launch(n: int) -> None:
            task = asyncio.get_running_loop().create_task(one(n))
            flying.add(task)
            task.add_done_callback(flying.discard)

        try:
            self._n = await paced(stop, launch, self._n)
            await asyncio.gather(*flying)
        finally:
            for conn in opened:
                await conn.close()


@contextlib.asynccontextmanager
async def writing(writer: Writing) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(writer.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


class Visibility:
    """Commit to checkpoint: each NOTIFY of the log's head (delivered at commit) is timed until the
    projection's checkpoint, polled every VISIBLE_POLL seconds while one is outstanding, is at or past it."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._waiting: list[tuple[int, float]] = []
        self.seen: list[tuple[float, float]] = []  # (when notified, seconds until visible)

    def _notified(self, conn: object, pid: int, channel: str, payload: object) -> None:
        with contextlib.suppress(ValueError):
            self._waiting.append((int(str(payload)), time.perf_counter()))

    async def _poll(self, conn: asyncpg.Connection) -> None:
        while True:
            if self._waiting:
                row = await conn.fetchrow(query("checkpoint"), NAME)
                assert row is not None
                position = int(row["position"])
                now = time.perf_counter()
                still = []
                for head, at in self._waiting:
                    if head <= position:
                        self.seen.append((at, now - at))
                    else:
                        still.append((head, at))
                self._waiting = still
            await asyncio.sleep(VISIBLE_POLL)

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        listener = await asyncpg.connect(self._url)
        poller = await asyncpg.connect(self._url)
        task: asyncio.Task[None] | None = None
        try:
            await listener.add_listener(CHANNEL, self._notified)
            task = asyncio.get_running_loop().create_task(self._poll(poller))
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await listener.close()
            await poller.close()


# -- phases -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    part: str
    database: str  # "demo", or a city's size
    command: tuple[str, ...]
    env: Mapping[str, str]
    log: Path
    groups: tuple[Group, ...]
    writer: str | None = None  # "commands" (Writer) or "mutations" (MutationWriter)
    healthz: bool = False

    @property
    def timed_log(self) -> Path:
        """The lines the server logged during the latest timed window."""
        return self.log.with_suffix(".timed.log")


def serve_env(database_url: str, data_dir: Path, cache: str | None = None) -> dict[str, str]:
    """The settings a benchmark's `qinglian serve` runs with: JSON logs, and no per-caller rate limits."""
    made = {
        "DATABASE_URL": database_url,
        "QINGLIAN_DATA_DIR": str(data_dir),
        "QINGLIAN_LOG_FORMAT": "json",
        "QINGLIAN_LOG_LEVEL": "info",
        # The load generator is one client sending hundreds of requests a second: the per-caller rate
        # limits, there to stop one client starving the others, would refuse most of it.
        "QINGLIAN_RATE_LIMIT": "off",
        "QINGLIAN_ANONYMOUS_RATE_LIMIT": "off",
    }
    if cache is not None:
        made["QINGLIAN_RESPONSE_CACHE"] = cache
    return made


def phases(
    parts: Sequence[str], sizes: Sequence[int], urls: Mapping[str, str], folder: Path, integrator: str
) -> list[Phase]:
    """The phases of the parts chosen, in the order a round runs them."""
    python = sys.executable
    serve = (python, "-m", "schema.main", "serve", "--port", "{port}")

    def env(name: str, database: str, cache: str | None) -> dict[str, str]:
        return serve_env(urls[database], folder / name, cache)

    dashboard = graphql_request(DASHBOARD, operationName="Dashboard")
    heavy = graphql_request(HEAVY, f"Bearer {integrator}", operationName="Heavy")
    made: list[Phase] = []

    def add(
        name: str,
        part: str,
        database: str,
        cache: str | None,
        groups: tuple[Group, ...],
        *,
        bare: bool = False,
        writer: str | None = None,
        healthz: bool = False,
    ) -> None:
        command = (python, "-m", "tests.bench.query", "--bare-server", name, "{port}") if bare else serve
        log = folder / f"{name}.log"
        made.append(
            Phase(name, part, database, command, env(name, database, cache), log, groups, writer, healthz)
        )

    if "scale" in parts:
        for size in sizes:
            group = (Group("dashboard", dashboard, SCALE_CLIENTS),)
            add(f"scale_{size}", "scale", str(size), "off", group)
    if "serve" in parts:
        add("api", "serve", "demo", "off", (Group("dashboard", dashboard, CLIENTS),), writer="commands")
        add("bare", "serve", "demo", None, (Group("dashboard", BARE, CLIENTS),), bare=True, writer="commands")
        add("cached", "serve", "demo", "on", (Group("dashboard", dashboard, CLIENTS),), writer="commands")
        bare_cached = (Group("dashboard", BARE, CLIENTS),)
        add("bare_cached", "serve", "demo", None, bare_cached, bare=True, writer="commands")
    if "writes" in parts:
        add("writes", "writes", "demo", "on", (), writer="mutations")
    if "mix" in parts:
        alone = (Group("dashboard", dashboard, DASHBOARD_CLIENTS),)
        add("alone", "mix", "demo", "off", alone, writer="mutations", healthz=True)
        mix = (*alone, Group("heavy", heavy, HEAVY_CLIENTS))
        add("mix", "mix", "demo", "off", mix, writer="mutations", healthz=True)
    if "stall" in parts:
        add("idle", "stall", "demo", "off", (), healthz=True)
        add("stall", "stall", "demo", "off", (Group("heavy", heavy, HEAVY_CLIENTS),), healthz=True)
    return made


@dataclass(slots=True)
class Database:
    """One of the run's databases, with this process's pool on it."""

    url: str
    pool: asyncpg.Pool
    store: EventStore
    listed: list[str]  # the communities the dashboard lists, in its order

    async def position(self) -> int:
        row = await self.pool.fetchrow(query("checkpoint"), NAME)
        assert row is not None, "migration 0002 inserts the checkpoint row"
        return int(row["position"])

    async def settled(self) -> tuple[float, float, int]:
        """Until the projection (the server's projector) has folded the whole log, then `StatusKeeper.
        catch_up` here until nothing is pending; returns the seconds each took and how many it recomputed."""
        began = time.perf_counter()
        deadline = time.monotonic() + START_TIMEOUT
        while await self.position() < await self.store.head():
            if time.monotonic() > deadline:
                raise RuntimeError("the server's projector did not reach the head in time")
            await asyncio.sleep(0.05)
        projected = time.perf_counter() - began
        keeper = StatusKeeper(self.pool)
        began = time.perf_counter()
        recomputed = await keeper.catch_up()
        # The server's keeper may hold a batch (SKIP LOCKED): wait for it, and take what is left.
        while await keeper.pending():
            if time.monotonic() > deadline:
                raise RuntimeError("status_pending did not empty in time")
            await asyncio.sleep(0.05)
            recomputed += await keeper.catch_up()
        return projected, time.perf_counter() - began, recomputed


@dataclass(slots=True)
class Run:
    seconds: float
    samples: dict[str, Sample]
    healthz: Sample | None
    server_cpu: float  # CPU the server process used in the window, as a share of one CPU
    client_cpu: float  # CPU this process used in it, likewise
    rss_warm_mb: float  # the server's VmRSS after the warm-up
    rss_end_mb: float  # after the timed window
    hwm_mb: float  # the server's VmHWM after the timed window
    writes: int  # commands or mutations written in the window
    projected: int  # events the projection folded in the window
    projector_wait: float  # before the run: until the projection was at the head
    keeper_seconds: float  # then StatusKeeper.catch_up here
    recomputed: int  # communities it recomputed
    mutations: list[Mutation] = field(default_factory=list)  # sent in the window
    visible: list[float] = field(default_factory=list)  # commit to checkpoint, notified in the window
    cache: dict[str, int] = field(default_factory=dict)  # the server's cache outcomes in the window


def cache_outcomes(log: Path) -> dict[str, int]:
    """How many operation lines the server logged with each `cache` value."""
    counts: Counter[str] = Counter()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"graphql operation"' not in line:
            continue
        with contextlib.suppress(ValueError):
            counts[str(json.loads(line).get("cache"))] += 1
    return dict(counts)


@dataclass(slots=True)
class Bench:
    """What the runs share: the databases, the writers, the window lengths."""

    databases: dict[str, Database]
    writer: Writer | None
    mutations: MutationWriter | None
    warmup: float
    timed: float


async def timed_run(phase: Phase, bench: Bench) -> Run:
    """One run of a phase: its server; the projection at the head and nothing pending; then warm-up and the
    timed window, with the phase's writer throughout both."""
    db = bench.databases[phase.database]
    async with running(phase) as server:
        projector_wait, keeper_seconds, recomputed = await db.settled()
        visibility = Visibility(db.url)
        async with contextlib.AsyncExitStack() as stack:
            if phase.writer == "commands":
                assert bench.writer is not None
                await stack.enter_async_context(writing(bench.writer))
            elif phase.writer == "mutations":
                assert bench.mutations is not None
                bench.mutations.port = server.port
                bench.mutations.sent.clear()
                await stack.enter_async_context(visibility.watching())
                await stack.enter_async_context(writing(bench.mutations))
            if phase.groups or phase.healthz:
                await load(server.port, phase.groups, bench.warmup, phase.healthz)
            else:
                await asyncio.sleep(bench.warmup)
            rss_warm = server.memory_mb("VmRSS")
            mark = phase.log.stat().st_size
            written = bench.writer.written if bench.writer is not None else 0
            position = await db.position()
            server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
            window_start = time.perf_counter()
            if phase.groups or phase.healthz:
                seconds, samples, polled = await load(server.port, phase.groups, bench.timed, phase.healthz)
            else:
                await asyncio.sleep(bench.timed)
                seconds, samples, polled = time.perf_counter() - window_start, {}, None
            window_end = time.perf_counter()
            run = Run(
                seconds=seconds,
                samples=samples,
                healthz=polled,
                server_cpu=(server.cpu_seconds() - server_cpu) / seconds,
                client_cpu=(time.process_time() - client_cpu) / seconds,
                rss_warm_mb=rss_warm,
                rss_end_mb=server.memory_mb("VmRSS"),
                hwm_mb=server.memory_mb("VmHWM"),
                writes=0,
                projected=await db.position() - position,
                projector_wait=projector_wait,
                keeper_seconds=keeper_seconds,
                recomputed=recomputed,
            )
            if phase.writer == "commands" and bench.writer is not None:
                run.writes = bench.writer.written - written
        if phase.writer == "mutations" and bench.mutations is not None:
            run.mutations = [m for m in bench.mutations.sent if window_start <= m.began < window_end]
            run.writes = len(run.mutations)
            run.visible = [seconds for at, seconds in visibility.seen if window_start <= at < window_end]
    with phase.log.open("rb") as log:
        log.seek(mark)
        phase.timed_log.write_bytes(log.read())
    run.cache = cache_outcomes(phase.timed_log)
    return run


def report(phase: Phase, round_: int, rounds: int, run: Run) -> None:
    parts = [f"{phase.name:<12} {round_}/{rounds}"]
    for label, sample in run.samples.items():
        part = (
            f"{label} {sample.good / run.seconds:7.1f}/s "
            f"p50 {sample.ms(50):7.1f} ms p99 {sample.ms(99):7.1f} ms"
        )
        if sample.failures:
            part += (
                " (not counted: " + ", ".join(f"{k} {v}" for k, v in sorted(sample.failures.items())) + ")"
            )
        parts.append(part)
    if run.healthz is not None:
        parts.append(f"healthz p50 {run.healthz.ms(50):.1f} ms p99 {run.healthz.ms(99):.1f} ms")
    if run.mutations:
        latencies = [m.seconds for m in run.mutations]
        settled = sum(m.settled for m in run.mutations)
        parts.append(
            f"mutations {len(run.mutations)} p50 {percentile_ms(latencies, 50):.1f} ms "
            f"p99 {percentile_ms(latencies, 99):.1f} ms settled {settled}/{len(run.mutations)}"
        )
        failed = Counter(m.failure for m in run.mutations if m.failure is not None)
        if failed:
            parts[-1] += " (failed: " + ", ".join(f"{k} {v}" for k, v in sorted(failed.items())) + ")"
    if run.visible:
        parts.append(
            f"commit->checkpoint p50 {percentile_ms(run.visible, 50):.1f} ms "
            f"p99 {percentile_ms(run.visible, 99):.1f} ms"
        )
    parts.append(
        f"RSS {run.rss_warm_mb:.0f}->{run.rss_end_mb:.0f} MB, CPU server {run.server_cpu:.0%} "
        f"load {run.client_cpu:.0%}, {run.writes} written {run.projected} projected"
    )
    if run.keeper_seconds > 0.05 or run.recomputed:
        parts.append(f"before: keeper {run.keeper_seconds:.2f} s ({run.recomputed})")
    if run.cache:
        parts.append("cache " + ", ".join(f"{k} {v}" for k, v in sorted(run.cache.items())))
    print("  ".join(parts), flush=True)


# -- the databases ----------------------------------------------------------------------------------------


async def listed_communities(pool: asyncpg.Pool, today: date) -> list[str]:
    """The communities the dashboard lists, in its order (by name, then id)."""
    row = await pool.fetchrow(query("checkpoint"), NAME)
    assert row is not None
    async with pool.acquire() as conn:
        chosen = await community_page(conn, row["generation"], today, Choice(), row["position"])
    return [entry.community_id for entry in chosen.entries]


async def project(url: str, label: str) -> tuple[Database, dict[str, Any]]:
    """This process's pool on a loaded database; the projection caught up and the keeper through what is
    pending, each timed."""
    pool = await create_pool(url, None, min_size=1, max_size=4)
    store = EventStore(pool, CATALOGUE)
    began = time.perf_counter()
    folded = await Projector(pool, CATALOGUE).catch_up()
    projected = time.perf_counter() - began
    keeper = StatusKeeper(pool)
    pending = await keeper.pending()
    began = time.perf_counter()
    recomputed = await keeper.catch_up()
    kept = time.perf_counter() - began
    assert await keeper.pending() == 0
    listed = await listed_communities(pool, local_date(utc_now()))
    print(
        f"{label}: projected {folded:,} events in {projected:.1f} s; StatusKeeper.catch_up recomputed "
        f"{recomputed:,} of {pending:,} pending communities in "
        f"{kept:.1f} s",
        flush=True,
    )
    facts = {"events": folded, "project_seconds": round(projected, 2), "keeper_seconds": round(kept, 2)}
    return Database(url, pool, store, listed[:PAGE]), facts


async def build_city(url: str, size: int, months: int) -> tuple[Database, dict[str, Any]]:
    city = City(size, months, local_date(utc_now()))
    began = time.perf_counter()
    head = await import_city(url, city)
    imported = time.perf_counter() - began
    print(
        f"city of {size:,}: {head:,} events ({months} months from {city.first_month.isoformat()}) imported "
        f"in {imported:.1f} s",
        flush=True,
    )
    db, facts = await project(url, f"city of {size:,}")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("vacuum (analyze)")
        await conn.execute("checkpoint")
    finally:
        await conn.close()
    return db, {"import_seconds": round(imported, 2), **facts, "months": months, "first": city.first_month}


@dataclass(frozen=True, slots=True)
class Credentials:
    integrator: str
    clerk: str


async def build_demo(url: str) -> tuple[Database, Credentials, dict[str, Any]]:
    pool = await create_pool(url, None, min_size=1, max_size=4)
    store = EventStore(pool, CATALOGUE)
    try:
        began = time.perf_counter()
        await load_demo(Commands(store, CATALOGUE), store, until=ARTICLE_END)
        loaded = time.perf_counter() - began
        tokens = Tokens(pool, store)
        integrator = await tokens.create(
            role=Role.INTEGRATOR, scope=Scope(), label="tests.bench.query heavy", issuer="bench"
        )
        clerk = await tokens.create(
            role=Role.CLERK, scope=Scope(), label="tests.bench.query writes", issuer="bench"
        )
    finally:
        await store.close()
        await pool.close()
    print(f"demo (the article's eighteen months) loaded in {loaded:.1f} s", flush=True)
    db, facts = await project(url, "demo")
    return db, Credentials(integrator.token, clerk.token), {"load_seconds": round(loaded, 2), **facts}


def worst_case_cost(document: str) -> int:
    """What the API's cost limit counts for `document` (schema/cost.py), with the API's own schema."""
    parsed = parse(document)
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    return document_cost(SCHEMA._schema, operation, fragments, {})


# -- checks before timing ---------------------------------------------------------------------------------


async def answer(phase: Phase, bench: Bench, request: bytes | None = None) -> tuple[int, Any]:
    """The phase's server's answer to its first group's request (or `request`), nothing being written."""
    async with running(phase) as server, connection(server.port) as conn:
        await bench.databases[phase.database].settled()
        status, body = await conn.exchange(request or phase.groups[0].request)
        assert status == 200, body[:500]
        return status, json.loads(body)


async def checks(every: list[Phase], bench: Bench, sizes: Sequence[int]) -> dict[str, Any]:
    """The same JSON from api, bare, cached and bare_cached; every community listed at each size; HEAVY
    answered without errors; a mutation recorded and settled."""
    found: dict[str, Any] = {}
    by_name = {phase.name: phase for phase in every}
    demo = [by_name[name] for name in ("api", "bare", "cached", "bare_cached") if name in by_name]
    if demo:
        first = (await answer(demo[0], bench))[1]
        for phase in demo[1:]:
            assert first == (await answer(phase, bench))[1], f"{phase.name} answers differently from api"
        print(f"{', '.join(p.name for p in demo)} give the same answer", flush=True)
    for size in sizes:
        if f"scale_{size}" not in by_name:
            continue
        got = (await answer(by_name[f"scale_{size}"], bench))[1]
        assert "errors" not in got, got["errors"]
        data = got["data"]
        assert data["communities"]["totalCount"] == size, data["communities"]["totalCount"]
        assert len(data["towns"]) == TOWNS
        assert len(data["communities"]["edges"]) == min(size, PAGE)
        assert data["city"]["coverage"]["communities"] == size
    if "mix" in by_name or "stall" in by_name:
        phase = by_name.get("mix") or by_name["stall"]
        heavy = next(group for group in phase.groups if group.label == "heavy")
        got = (await answer(phase, bench, heavy.request))[1]
        assert "errors" not in got, got["errors"]
        edges = got["data"]["communities"]["edges"]
        assert len(edges) == 100
        assert all(e["node"]["trainings"] is not None for e in edges)
        found["heavy_communities"] = len(edges)
        found["heavy_cost"] = worst_case_cost(HEAVY)
        found["dashboard_cost"] = worst_case_cost(DASHBOARD)
        print(
            f"HEAVY (worst-case cost {found['heavy_cost']:,}; the dashboard's {found['dashboard_cost']:,}) "
            "is answered without errors: 100 communities, their status, town and records",
            flush=True,
        )
    if "writes" in by_name and bench.mutations is not None:
        phase = by_name["writes"]
        async with running(phase) as server, connection(server.port) as conn:
            await bench.databases[phase.database].settled()
            status, body = await conn.exchange(bench.mutations.request(-1))
            result = json.loads(body)["data"]["recordTraining"]
            assert status == 200
            assert result["__typename"] == "Recorded", body[:500]
            found["check_mutation_settled"] = result["settled"]
        print(f"a clerk's recordTraining is recorded (settled: {result['settled']})", flush=True)
    return found


# -- the run ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def pinned(cpu: int) -> Iterator[None]:
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def summarize(every: list[Phase], results: dict[str, list[Run]]) -> dict[str, Any]:
    """Each phase's runs and medians, by phase name."""
    out: dict[str, Any] = {}
    for phase in every:
        runs = results.get(phase.name, [])
        if not runs:
            continue
        p = phase.name

        def put(key: str, values: list[float], digits: int = 2, p: str = p) -> None:
            out[f"{p}_{key}"] = round(median(values), digits)
            out[f"{p}_{key}_runs"] = [round(v, digits) for v in values]

        for label in [group.label for group in phase.groups]:
            samples = [run.samples[label] for run in runs]
            put(f"{label}_per_s", [s.good / r.seconds for s, r in zip(samples, runs, strict=True)], 1)
            put(f"{label}_p50_ms", [s.ms(50) for s in samples])
            put(f"{label}_p99_ms", [s.ms(99) for s in samples])
            out[f"{p}_{label}_answers_runs"] = [len(s.latencies) for s in samples]
            out[f"{p}_{label}_failures_runs"] = [dict(s.failures) for s in samples]
        if phase.healthz:
            polled = [run.healthz for run in runs if run.healthz is not None]
            put("healthz_p50_ms", [s.ms(50) for s in polled])
            put("healthz_p99_ms", [s.ms(99) for s in polled])
            put("healthz_max_ms", [max(s.latencies, default=0.0) * 1000 for s in polled])
            out[f"{p}_healthz_answers_runs"] = [len(s.latencies) for s in polled]
        if phase.writer == "mutations":
            put("mutation_p50_ms", [percentile_ms([m.seconds for m in r.mutations], 50) for r in runs])
            put("mutation_p99_ms", [percentile_ms([m.seconds for m in r.mutations], 99) for r in runs])
            put("mutation_max_ms", [max((m.seconds for m in r.mutations), default=0.0) * 1000 for r in runs])
            out[f"{p}_mutations_runs"] = [len(r.mutations) for r in runs]
            out[f"{p}_mutations_settled_runs"] = [sum(m.settled for m in r.mutations) for r in runs]
            out[f"{p}_mutations_failed_runs"] = [
                dict(Counter(m.failure for m in r.mutations if m.failure is not None)) for r in runs
            ]
            total = sum(len(r.mutations) for r in runs)
            out[f"{p}_settled_fraction"] = (
                round(sum(m.settled for r in runs for m in r.mutations) / total, 4) if total else 0.0
            )
            put("commit_to_checkpoint_p50_ms", [percentile_ms(r.visible, 50) for r in runs])
            put("commit_to_checkpoint_p99_ms", [percentile_ms(r.visible, 99) for r in runs])
        put("rss_warm_mb", [r.rss_warm_mb for r in runs], 1)
        put("rss_end_mb", [r.rss_end_mb for r in runs], 1)
        put("hwm_mb", [r.hwm_mb for r in runs], 1)
        put("server_cpu", [r.server_cpu for r in runs], 3)
        put("client_cpu", [r.client_cpu for r in runs], 3)
        out[f"{p}_writes_runs"] = [r.writes for r in runs]
        out[f"{p}_projected_runs"] = [r.projected for r in runs]
        out[f"{p}_keeper_before_seconds_runs"] = [round(r.keeper_seconds, 2) for r in runs]
        out[f"{p}_keeper_before_recomputed_runs"] = [r.recomputed for r in runs]
        if any(r.cache for r in runs):
            out[f"{p}_cache_runs"] = [r.cache for r in runs]
    return out


def judge(summary: dict[str, Any], sizes: Sequence[int]) -> tuple[dict[str, Any], dict[str, bool]]:
    """The figures the targets are about, and whether each is met (where its phases ran)."""
    figures: dict[str, Any] = {}
    met: dict[str, bool] = {}
    ran = [size for size in sizes if f"scale_{size}_dashboard_p50_ms" in summary]
    if len(ran) >= 2:
        small, large = min(ran), max(ran)
        p50 = summary[f"scale_{large}_dashboard_p50_ms"] / summary[f"scale_{small}_dashboard_p50_ms"]
        growth = summary[f"scale_{large}_rss_end_mb"] - summary[f"scale_{small}_rss_end_mb"]
        figures["scale_sizes_compared"] = [small, large]
        figures["scale_p50_largest_over_smallest"] = round(p50, 3)
        figures["scale_rss_growth_mb"] = round(growth, 1)
        met["scale_p50"] = p50 <= TARGETS["scale_p50_largest_over_smallest_at_most"]
        met["scale_rss"] = growth <= TARGETS["scale_rss_growth_mb_at_most"]
    if "api_dashboard_per_s" in summary and summary.get("bare_dashboard_per_s"):
        ratio = summary["api_dashboard_per_s"] / summary["bare_dashboard_per_s"]
        figures["api_over_bare"] = round(ratio, 3)
        met["api_over_bare"] = ratio >= TARGETS["api_over_bare_at_least"]
    if "cached_dashboard_per_s" in summary and summary.get("bare_cached_dashboard_per_s"):
        ratio = summary["cached_dashboard_per_s"] / summary["bare_cached_dashboard_per_s"]
        figures["cached_over_bare_cached"] = round(ratio, 3)
        met["cached_over_bare_cached"] = ratio >= TARGETS["cached_over_bare_cached_at_least"]
    if "writes_mutation_p99_ms" in summary:
        p99 = summary["writes_mutation_p99_ms"]
        figures["mutation_p99_ms"] = p99
        figures["settled_fraction"] = summary["writes_settled_fraction"]
        met["mutation_settled_p99"] = (
            p99 <= TARGETS["mutation_p99_ms_at_most"] and summary["writes_settled_fraction"] == 1.0
        )
    if "stall_healthz_p99_ms" in summary:
        figures["healthz_p99_ms_stall"] = summary["stall_healthz_p99_ms"]
        figures["healthz_p99_ms_idle"] = summary["idle_healthz_p99_ms"]
        met["healthz_p99"] = summary["stall_healthz_p99_ms"] <= TARGETS["healthz_p99_ms_at_most"]
    if "mix_healthz_p99_ms" in summary:
        figures["healthz_p99_ms_mix"] = summary["mix_healthz_p99_ms"]
        alone = summary["alone_dashboard_p99_ms"]
        ratio = summary["mix_dashboard_p99_ms"] / alone if alone else 0.0
        figures["mix_dashboard_p99_over_alone"] = round(ratio, 3)
        met["mix_dashboard_p99"] = ratio <= TARGETS["mix_dashboard_p99_over_alone_at_most"]
    return figures, met


def print_medians(summary: dict[str, Any], sizes: Sequence[int], rounds: int) -> None:
    def get(key: str) -> float:
        value: float = summary[key]
        return value

    for size in sizes:
        p = f"scale_{size}"
        print(
            f"{p:<12} median of {rounds}: p50 {get(f'{p}_dashboard_p50_ms'):8.1f} ms  "
            f"p99 {get(f'{p}_dashboard_p99_ms'):8.1f} ms  {get(f'{p}_dashboard_per_s'):6.1f}/s  "
            f"RSS {get(f'{p}_rss_warm_mb'):.0f} MB after warm-up, {get(f'{p}_rss_end_mb'):.0f} MB "
            f"after the window (peak {get(f'{p}_hwm_mb'):.0f} MB)",
            flush=True,
        )
    for p in ("api", "bare", "cached", "bare_cached", "alone", "mix"):
        if f"{p}_dashboard_per_s" not in summary:
            continue
        line = (
            f"{p:<12} median of {rounds}: dashboard {get(f'{p}_dashboard_per_s'):7.1f}/s "
            f"p50 {get(f'{p}_dashboard_p50_ms'):8.1f} ms p99 {get(f'{p}_dashboard_p99_ms'):8.1f} ms"
        )
        if f"{p}_heavy_per_s" in summary:
            line += (
                f"; heavy {get(f'{p}_heavy_per_s'):.1f}/s p50 {get(f'{p}_heavy_p50_ms'):.0f} ms "
                f"p99 {get(f'{p}_heavy_p99_ms'):.0f} ms"
            )
        if f"{p}_healthz_p99_ms" in summary:
            line += f"; healthz p99 {get(f'{p}_healthz_p99_ms'):.1f} ms"
        print(line, flush=True)
    for p in ("idle", "stall"):
        if f"{p}_healthz_p99_ms" in summary:
            line = f"{p:<12} median of {rounds}: healthz p50 {get(f'{p}_healthz_p50_ms'):.1f} ms "
            line += f"p99 {get(f'{p}_healthz_p99_ms'):.1f} ms"
            if f"{p}_heavy_per_s" in summary:
                line += (
                    f"; heavy {get(f'{p}_heavy_per_s'):.1f}/s p50 {get(f'{p}_heavy_p50_ms'):.0f} ms "
                    f"p99 {get(f'{p}_heavy_p99_ms'):.0f} ms"
                )
            print(line, flush=True)
    for p in ("writes", "alone", "mix"):
        if f"{p}_mutation_p99_ms" in summary:
            print(
                f"{p:<12} mutations p50 {get(f'{p}_mutation_p50_ms'):.1f} ms p99 "
                f"{get(f'{p}_mutation_p99_ms'):.1f} ms, settled {get(f'{p}_settled_fraction'):.2%}; "
                f"commit to checkpoint p50 {get(f'{p}_commit_to_checkpoint_p50_ms'):.1f} ms p99 "
                f"{get(f'{p}_commit_to_checkpoint_p99_ms'):.1f} ms",
                flush=True,
            )


async def run_all(admin_url: str, options: argparse.Namespace) -> dict[str, Any]:
    parts: list[str] = options.parts
    sizes: list[int] = options.sizes if "scale" in parts else []
    settings = await server_settings(admin_url, ("server_version", "synchronous_commit", "shared_buffers"))
    cpus = os.cpu_count() or 1
    placement = (
        f"server process on CPU {SERVER_CPU}, load generator and writers (one process) on CPU {CLIENT_CPU}, "
        f"PostgreSQL unpinned on all {cpus}"
    )
    print(
        f"PostgreSQL {settings['server_version']}; Python {platform.python_version()}, {cpus} CPUs; "
        f"{placement}; parts {', '.join(parts)}; sizes {', '.join(map(str, sizes)) or '-'}; "
        f"{options.rounds} rounds of {options.warmup:g} s warm-up + {options.timed:g} s timed",
        flush=True,
    )
    names: list[str] = []
    databases: dict[str, Database] = {}
    built: dict[str, Any] = {}
    results: dict[str, list[Run]] = {}
    every: list[Phase] = []
    began = time.perf_counter()
    try:
        urls: dict[str, str] = {}
        tokens = Credentials("", "")
        if any(part in parts for part in ("serve", "writes", "mix", "stall")):
            names.append(unique_name("qinglian_bench"))
            urls["demo"] = await create_migrated_database(admin_url, names[-1])
            databases["demo"], tokens, built["demo"] = await build_demo(urls["demo"])
        for size in sizes:
            names.append(unique_name("qinglian_bench"))
            urls[str(size)] = await create_migrated_database(admin_url, names[-1])
            databases[str(size)], facts = await build_city(urls[str(size)], size, options.months)
            built[f"city_{size}"] = {**facts, "first": facts["first"].isoformat()}
        demo = databases.get("demo")
        bench = Bench(
            databases,
            Writer(Commands(demo.store, CATALOGUE), demo.listed) if demo is not None else None,
            MutationWriter(f"Bearer {tokens.clerk}", demo.listed) if demo is not None else None,
            options.warmup,
            options.timed,
        )
        built_seconds = time.perf_counter() - began
        with tempfile.TemporaryDirectory(prefix="qinglian-bench-query-") as tmp, pinned(CLIENT_CPU):
            every = phases(parts, sizes, urls, Path(tmp), tokens.integrator)
            checked = await checks(every, bench, sizes)
            for round_ in range(1, options.rounds + 1):
                for phase in every:
                    run = await timed_run(phase, bench)
                    results.setdefault(phase.name, []).append(run)
                    report(phase, round_, options.rounds, run)
        heads = {name: await db.store.head() for name, db in databases.items()}
    finally:
        for db in databases.values():
            await db.store.close()
            await db.pool.close()
        for name in names:
            await drop_database(admin_url, name)

    summary = summarize(every, results)
    figures, met = judge(summary, sizes)
    misses = [name for name, ok in met.items() if not ok]
    print_medians(summary, sizes, options.rounds)
    for name, value in figures.items():
        print(f"{name} = {value}", flush=True)
    print(
        "targets: "
        + ", ".join(f"{k} {v:g}" for k, v in TARGETS.items())
        + "; "
        + (f"missed: {', '.join(misses)}" if misses else "all judged met"),
        flush=True,
    )
    return {
        **figures,
        "targets": TARGETS,
        "met": met,
        "misses": misses,
        **summary,
        **checked,
        "built": built,
        "build_seconds": round(built_seconds, 1),
        "seconds": round(time.perf_counter() - began, 1),
        "heads": heads,
        "parts": parts,
        "sizes": sizes,
        "months": options.months,
        "rounds": options.rounds,
        "order": [phase.name for phase in every],
        "warmup_seconds": options.warmup,
        "timed_seconds": options.timed,
        "clients": {
            "scale": SCALE_CLIENTS,
            "serve": CLIENTS,
            "mix_dashboard": DASHBOARD_CLIENTS,
            "mix_heavy": HEAVY_CLIENTS,
        },
        "writes_per_second": WRITES_PER_SECOND,
        "healthz_every_ms": HEALTHZ_EVERY * 1000,
        "placement": placement,
        "server_version": settings["server_version"],
        "synchronous_commit": settings["synchronous_commit"],
        "shared_buffers": settings["shared_buffers"],
        "cpus": cpus,
        "python": platform.python_version(),
    }


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="python -m tests.bench.query", description=summary)

    def numbers(text: str) -> list[int]:
        return sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})

    def chosen(text: str) -> list[str]:
        picked = [part.strip() for part in text.split(",") if part.strip()]
        unknown = set(picked) - set(PARTS)
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown parts {sorted(unknown)}; the parts are {', '.join(PARTS)}"
            )
        return [part for part in PARTS if part in picked]

    parser.add_argument("--sizes", type=numbers, default=list(SIZES), help="city sizes (communities)")
    parser.add_argument("--months", type=int, default=MONTHS, help="months of activity per community")
    parser.add_argument("--parts", type=chosen, default=list(PARTS), help=f"of {', '.join(PARTS)}")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--warmup", type=float, default=WARMUP_SECONDS, help="seconds")
    parser.add_argument("--timed", type=float, default=TIMED_SECONDS, help="seconds")
    return parser.parse_args(argv)


async def main(options: argparse.Namespace) -> dict[str, Any]:
    with server_url() as admin_url:
        return await run_all(admin_url, options)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare-server"]:
        serve_bare(sys.argv[2], int(sys.argv[3]))
    else:
        summary = asyncio.run(main(arguments(sys.argv[1:])))
        print(json.dumps(summary, ensure_ascii=False), flush=True)
