"""Dashboard queries over HTTP: the GraphQL API against a minimal Starlette endpoint serving the same data.

    python -m tests.bench.query             # embedded PostgreSQL, or DATABASE_URL when set

One fresh migrated database holding the demo (service/demo.py: 19 towns, 100 communities), projected,
dropped afterwards. The document is the dashboard: the city's coverage, every town with its coverage, and
the first 50 communities (by name) with their status and town, as of today.

Each phase starts its own server in a subprocess, one uvicorn worker configured as `qinglian serve`
configures it, pinned to CPU 0; this process (the load generator and the writer) is pinned to CPU 1;
PostgreSQL runs on both. 32 keep-alive HTTP/1.1 connections send the request as soon as the previous
answer is in, for 2 s of warm-up and then 10 s timed. Throughout both, a writer in this process records
20 commands a second through `Commands.record` (trainings and disclosures dated today, on the communities
the dashboard lists), so the projections — and the figures shown — move underneath.

  rows     baseline: a Starlette endpoint that reads the live generation of `facts` with asyncpg on every
           request, decodes it with `world_from_rows`, computes coverage and statuses with the projections'
           own functions (`coverage`, `evaluate`) and `json.dumps` the same response the API gives.
  warm     baseline: the same endpoint over `ReadModel.world()` — one checkpoint query per request, the
           facts re-read only when the checkpoint moved — so what is left is computing and encoding.
  api      `qinglian serve` with QINGLIAN_RESPONSE_CACHE=off: every request executes the document.
  cached   `qinglian serve` with the response cache on (the default).

Before timing, with the writer stopped, the four servers' answers are checked to be the same JSON.
The ratios are the API's rate over the stronger (warm) baseline's; over `rows` too. Every request's log
line is kept (JSON, written to a file), and the cache's hits, misses and bypasses are counted from them.
Human-readable lines go out as each phase ends; the last line is one JSON object for scripts to read.
The target is reported, never enforced: a miss is information, not a failure.
"""

from __future__ import annotations

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
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from events.catalogue import CATALOGUE
from events.disclosure import Channel, DisclosureCategory, DisclosurePublished
from events.training import TrainingHeld, TrainingKind
from projections.community import World
from projections.coverage import Share, coverage
from projections.evaluation import evaluate
from projections.localtime import local_date
from service.commands.handler import Commands
from service.demo.loader import load_demo
from service.log.clock import utc_now
from service.log.pool import create_pool
from service.log.store import EventStore
from service.read.projector import NAME, Projector, world_from_rows
from service.read.readmodel import ReadModel
from service.read.views import CITY_ID
from tests.support.domain import digest
from tests.support.pg import in_fresh_database, server_settings

CLIENTS = 32
WARMUP_SECONDS = 2.0
TIMED_SECONDS = 10.0
WRITES_PER_SECOND = 20
PAGE = 50
TARGET = 0.5  # the API's rate over the baseline's
SERVER_CPU, CLIENT_CPU = 0, 1
START_TIMEOUT = 60.0

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

# The baseline's one read of the stored projections: the live generation's facts, with their bodies.
FACTS = """
select f.entity, f.entity_id, f.body::text
from facts f join projection_checkpoints c on c.generation = f.generation
where c.name = $1
"""


# -- the baseline server ---------------------------------------------------------------------------------


def _coverage(share: Share | None) -> dict[str, Any]:
    share = share or Share(0, 0)
    return {"communities": share.whole, "standardized": share.part, "rate": share.rate}


def dashboard(world: World, on: date) -> dict[str, Any]:
    """The dashboard's answer, in the API's response shape, computed with the projections' functions."""
    towns, city = coverage(world, on, CITY_ID)
    by_town = {s.area_id: s.share for s in towns}
    standard = world.standard_on(on)
    in_scope = sorted(
        ((facts.name_on(on) or "", facts.community_id, facts) for facts in world.communities.values()),
        key=lambda item: (item[0], item[1]),
    )
    in_scope = [item for item in in_scope if item[2].in_scope_on(on)]
    edges = []
    for name, community_id, facts in in_scope[:PAGE]:
        status = evaluate(facts, standard, on)
        town_id = facts.town_on(on)
        town = world.towns.get(town_id) if town_id is not None else None
        edges.append(
            {
                "node": {
                    "id": community_id,
                    "name": name,
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
    return {
        "data": {
            "city": {"coverage": _coverage(city.share)},
            "towns": [
                {"id": t, "name": world.towns[t].name, "coverage": _coverage(by_town.get(t))}
                for t in sorted(world.towns)
            ],
            "communities": {"totalCount": len(in_scope), "edges": edges},
        }
    }


def baseline_app(url: str, mode: str) -> Starlette:
    """GET /dashboard: `rows` reads every fact on each request; `warm` keeps them by checkpoint."""
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The pool the service builds: the application role, the default sizes.
        pool = await create_pool(url, None, min_size=2, max_size=10)
        state["pool"], state["read_model"] = pool, ReadModel(pool)
        try:
            yield
        finally:
            await pool.close()

    async def read_rows() -> World:
        rows = await state["pool"].fetch(FACTS, NAME)
        return world_from_rows((r[0], r[1], r[2]) for r in rows)

    async def read_warm() -> World:
        world: World = await state["read_model"].world()
        return world

    read = read_rows if mode == "rows" else read_warm

    async def serve_dashboard(request: Request) -> Response:
        world = await read()
        # json.dumps as strawberry's view encodes: the same bytes for the same answer.
        body = json.dumps(dashboard(world, local_date(utc_now())))
        return Response(body, media_type="application/json")

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/dashboard", serve_dashboard), Route("/healthz", healthz)], lifespan=lifespan
    )


def serve_baseline(url: str, mode: str, port: int) -> None:
    app = baseline_app(url, mode)
    # As `qinglian serve` runs uvicorn (service/cli.py), but without the service's log lines.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on",
        access_log=False,
        log_level="warning",
    )
    asyncio.run(uvicorn.Server(config).serve())


# -- servers in subprocesses ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    path: str  # what the client asks for
    command: tuple[str, ...]
    env: dict[str, str]
    log: Path


def phases(url: str, folder: Path) -> list[Phase]:
    python = sys.executable
    made: list[Phase] = []
    command: tuple[str, ...]
    for mode in ("rows", "warm"):
        command = (python, "-m", "tests.bench.query", "--baseline-server", mode, url, "{port}")
        made.append(Phase(mode, "/dashboard", command, {}, folder / f"{mode}.log"))
    for name, cache in (("api", "off"), ("cached", "on")):
        env = {
            "DATABASE_URL": url,
            "QINGLIAN_DATA_DIR": str(folder / name),
            "QINGLIAN_RESPONSE_CACHE": cache,
            "QINGLIAN_LOG_FORMAT": "json",
            "QINGLIAN_LOG_LEVEL": "info",
        }
        command = (python, "-m", "schema.main", "serve", "--port", "{port}")
        made.append(Phase(name, "/graphql", command, env, folder / f"{name}.log"))
    return made


@contextlib.asynccontextmanager
async def running(phase: Phase) -> AsyncIterator[int]:
    """The phase's server on a free port, pinned to SERVER_CPU, until the block ends."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in phase.command]
    with phase.log.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, env={**os.environ, **phase.env}, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        try:
            os.sched_setaffinity(process.pid, {SERVER_CPU})
            await wait_until_up(port, process)
            yield port
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_until_up(port: int, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            async with connection(port) as conn:
                status, _ = await conn.exchange(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
                if status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start in time")


# -- the load generator -----------------------------------------------------------------------------------


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


@contextlib.asynccontextmanager
async def connection(port: int) -> AsyncIterator[Connection]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield Connection(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def request_bytes(path: str) -> bytes:
    if path == "/graphql":
        body = json.dumps({"query": DASHBOARD, "operationName": "Dashboard"}).encode()
        return (
            b"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


@dataclass(slots=True)
class Run:
    requests: int
    seconds: float
    latencies: list[float] = field(repr=False)
    bad: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self, quantile: int) -> float:
        if len(self.latencies) < 2:
            return 0.0
        return statistics.quantiles(self.latencies, n=100)[quantile - 1] * 1000


def answered(status: int, body: bytes) -> bool:
    """A 200 with data and no errors: what every counted response must be."""
    if status != 200:
        return False
    parsed = json.loads(body)
    return isinstance(parsed, dict) and "errors" not in parsed and parsed.get("data") is not None


async def load(port: int, path: str, seconds: float) -> Run:
    """CLIENTS connections, each sending the next request as soon as its answer is in, for `seconds`.
    Every answer's status is checked and the first of each connection parsed; work in flight at the
    deadline is counted and timed."""
    request = request_bytes(path)
    latencies: list[float] = []
    bad = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def client() -> int:
        nonlocal bad
        done = 0
        async with connection(port) as conn:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                status, body = await conn.exchange(request)
                latencies.append(time.perf_counter() - began)
                if status != 200 or (done == 0 and not answered(status, body)):
                    bad += 1
                done += 1
        return done

    counts = await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return Run(sum(counts), time.perf_counter() - start, latencies, bad)


# -- the writer -------------------------------------------------------------------------------------------


class Writer:
    """20 commands a second through `Commands.record`: a training or a disclosure dated today, on the
    communities the dashboard lists, each a new fact that changes the community's status position."""

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

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not stop.is_set():
            n = self._n
            self._n += 1
            await self._commands.record(
                self._event(n), idempotency_key=f"bench-query-{n}", metadata={"actor": "bench"}
            )
            self.written += 1
            due += 1 / WRITES_PER_SECOND
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - loop.time()))


@contextlib.asynccontextmanager
async def writing(writer: Writer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(writer.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


# -- the run ----------------------------------------------------------------------------------------------


def cache_outcomes(log: Path) -> dict[str, int]:
    """How many operation lines the server logged with each `cache` value."""
    counts: Counter[str] = Counter()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"graphql operation"' not in line:
            continue
        with contextlib.suppress(ValueError):
            counts[str(json.loads(line).get("cache"))] += 1
    return dict(counts)


@contextlib.contextmanager
def pinned(cpu: int) -> Iterator[None]:
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


async def answers(phase: Phase) -> Any:
    async with running(phase) as port, connection(port) as conn:
        status, body = await conn.exchange(request_bytes(phase.path))
        assert status == 200, body[:500]
        return json.loads(body)


async def run_all(url: str) -> dict[str, Any]:
    facts = await server_settings(url, ("server_version", "synchronous_commit", "shared_buffers"))
    cpus = os.cpu_count() or 1
    placement = (
        f"server process on CPU {SERVER_CPU}, load generator and writer (one process) on CPU {CLIENT_CPU}, "
        f"PostgreSQL unpinned on all {cpus}"
    )
    print(
        f"PostgreSQL {facts['server_version']}; Python {platform.python_version()}, {cpus} CPUs; {placement}",
        flush=True,
    )
    pool = await create_pool(url, None, min_size=1, max_size=4)
    store = EventStore(pool, CATALOGUE)
    commands = Commands(store, CATALOGUE)
    try:
        began = time.perf_counter()
        await load_demo(commands, store)
        await Projector(pool, CATALOGUE).catch_up()
        world = await ReadModel(pool).world()
        today = local_date(utc_now())
        listed = sorted(
            (f for f in world.communities.values() if f.in_scope_on(today)),
            key=lambda f: (f.name_on(today) or "", f.community_id),
        )
        print(
            f"demo loaded and projected in {time.perf_counter() - began:.1f} s: {len(world.towns)} towns, "
            f"{len(world.communities)} communities, head {world.position}",
            flush=True,
        )
        writer = Writer(commands, [f.community_id for f in listed[:PAGE]])
        results: dict[str, Run] = {}
        outcomes: dict[str, dict[str, int]] = {}
        with tempfile.TemporaryDirectory(prefix="qinglian-bench-query-") as tmp, pinned(CLIENT_CPU):
            folder = Path(tmp)
            every = phases(url, folder)
            # The same answer from all four, with nothing moving underneath.
            first = await answers(every[0])
            for phase in every[1:]:
                assert first == await answers(phase), f"{phase.name} answers differently from rows"
            print("all four servers give the same answer", flush=True)
            for phase in every:
                async with running(phase) as port, writing(writer):
                    await load(port, phase.path, WARMUP_SECONDS)
                    mark = phase.log.stat().st_size
                    run = await load(port, phase.path, TIMED_SECONDS)
                results[phase.name] = run
                with phase.log.open("rb") as log:
                    log.seek(mark)
                    timed_log = folder / f"{phase.name}.timed.log"
                    timed_log.write_bytes(log.read())
                outcomes[phase.name] = cache_outcomes(timed_log)
                report(phase.name, run, outcomes[phase.name])
        head = await store.head()
    finally:
        await store.close()
        await pool.close()

    warm, rows = results["warm"].per_second, results["rows"].per_second
    ratios = {
        "cached_over_warm": results["cached"].per_second / warm if warm else 0.0,
        "api_over_warm": results["api"].per_second / warm if warm else 0.0,
        "cached_over_rows": results["cached"].per_second / rows if rows else 0.0,
        "api_over_rows": results["api"].per_second / rows if rows else 0.0,
    }
    print(
        f"cached/warm = {ratios['cached_over_warm']:.2f}, api/warm = {ratios['api_over_warm']:.2f} "
        f"(target {TARGET}); cached/rows = {ratios['cached_over_rows']:.2f}, "
        f"api/rows = {ratios['api_over_rows']:.2f}; the writer recorded {writer.written:,} commands",
        flush=True,
    )
    summary: dict[str, Any] = {}
    for name, run in results.items():
        summary[f"{name}_req_per_s"] = round(run.per_second, 1)
        summary[f"{name}_p50_ms"] = round(run.latency_ms(50), 2)
        summary[f"{name}_p99_ms"] = round(run.latency_ms(99), 2)
        summary[f"{name}_bad"] = run.bad
    summary.update({k: round(v, 3) for k, v in ratios.items()})
    summary.update(
        {
            "target": TARGET,
            "met": ratios["cached_over_warm"] >= TARGET,
            "met_without_cache": ratios["api_over_warm"] >= TARGET,
            "cache_outcomes": outcomes.get("cached", {}),
            "writes": writer.written,
            "head": head,
            "clients": CLIENTS,
            "timed_seconds": TIMED_SECONDS,
            "writes_per_second": WRITES_PER_SECOND,
            "placement": placement,
            "server_version": facts["server_version"],
            "synchronous_commit": facts["synchronous_commit"],
            "cpus": cpus,
            "python": platform.python_version(),
        }
    )
    return summary


def report(name: str, run: Run, outcomes: dict[str, int]) -> None:
    line = (
        f"{name:<7} {run.requests:>7,} requests in {run.seconds:5.2f} s = {run.per_second:>7,.0f} req/s   "
        f"p50 {run.latency_ms(50):7.2f} ms  p99 {run.latency_ms(99):7.2f} ms"
    )
    if run.bad:
        line += f"   {run.bad} bad answers"
    if outcomes:
        line += "   cache " + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))
    print(line, flush=True)


async def main() -> dict[str, Any]:
    return await in_fresh_database(run_all)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--baseline-server"]:
        serve_baseline(sys.argv[3], sys.argv[2], int(sys.argv[4]))
    else:
        summary = asyncio.run(main())
        print(json.dumps(summary, ensure_ascii=False), flush=True)
