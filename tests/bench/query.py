"""Dashboard queries over HTTP: the GraphQL API against a minimal Starlette endpoint serving the same data.

    python -m tests.bench.query             # embedded PostgreSQL, or DATABASE_URL when set

One fresh migrated database holding the demo (service/demo: 19 towns, 100 communities), projected,
dropped afterwards. The document is the dashboard: the city's coverage, every town with its coverage, and
the first 50 communities (by name) with their status and town, as of today.

Each run starts its own server in a subprocess, one uvicorn worker configured as `qinglian serve`
configures it, pinned to CPU 0; this process (the load generator and the writer) is pinned to CPU 1;
PostgreSQL runs on both. Every server, baselines included, is built by the service's `create_app`, so its
lifespan runs what `qinglian serve` runs beside the requests: the head watcher (LISTEN/NOTIFY), the
projector (`Projector.run`) and the tree sealer (`LogTree.run`); no signer, as no key is set. Before a run
is timed, the projection is waited for until it has folded the whole log. Then 32 keep-alive HTTP/1.1
connections send the request as soon as the previous answer is in, for 2 s of warm-up and then 10 s
timed. In every phase but the two `hits` phases, a writer in this process records 20 commands a second
through `Commands.record` throughout both (trainings and disclosures dated today, on the communities the
dashboard lists), and the server's own projector folds them into `facts` as they commit, so the read
model — and the figures shown — move underneath those phases alike.

  rows     baseline: a Starlette endpoint that reads the live generation of `facts` with asyncpg on every
           request, decodes it with `world_from_rows`, computes coverage and statuses with the projections'
           own functions (`coverage`, `evaluate`) and `json.dumps` the same response the API gives.
  warm     baseline: the same endpoint over `ReadModel.world()` — one checkpoint query per request, the
           facts re-read only when the checkpoint moved — so what is left is computing and encoding.
  api      `qinglian serve` with QINGLIAN_RESPONSE_CACHE=off: every request executes the document.
  api+auth the same, with every request carrying `Authorization: Bearer <token>`: one built-in integrator
           token (city scope), issued once into the benchmark's database before any server starts. Each
           request is authenticated before it runs: a SHA-256 of the token, and its grant, read with one
           indexed query, checked against the secret and folded, then remembered for REMEMBER_GRANTS
           seconds, as the server runs.
  cached   `qinglian serve` with the response cache on (the default).
  cached+auth
           the same, with the same token on every request; it is authenticated before the cache is
           consulted, and the cache keys an integrator's answers apart from an anonymous caller's.
  hits     the cached server, configured exactly as for `cached`, with the writer paused for the warm-up
           and the timed window: the projection does not move, so after the first request every answer
           is a cache hit. The path where authentication's share of a request is largest.
  hits+auth
           the same, with the same token on every request.

Before timing, with the writer stopped, the eight servers' answers are checked to be the same JSON (the
dashboard reads public figures only, so an integrator gets what an anonymous caller gets); the token is
checked to authenticate as an integrator, and each auth server to refuse the token with a wrong secret
(HTTP 401), so the auth phases do their twins' work plus authentication. Then the phases run in turn, in
ROUNDS (six) rounds: rows, warm, then each pair of twins back to back — api and api+auth, cached and
cached+auth, hits and hits+auth — the anonymous twin first in odd rounds and the auth twin first in even
ones. Each phase's figures are the medians of its runs (of six, the mean of the middle two). The API's
ratios are ratios of median rates: over the stronger (warm) baseline's, and over `rows` too (the hits
phases, run without the writer, are not compared with the baselines). Authentication's cost is taken of
each auth phase against its anonymous twin, two ways: the ratio of their median rates, and the median of
the per-round paired ratios (each round's auth run over its twin's run, the two back to back). The paired
median decides whether the target is met (authentication costs at most AUTH_TARGET of the rate: paired
median >= 1 - AUTH_TARGET); the ratio of medians is reported beside it. `Authenticator.authenticate` of
the header is also timed on its own, in this process. Every request's log line is kept (JSON, written to a
file), and the cache's hits, misses and bypasses are counted from them; the baselines log the service's
own lines but none per request. In each timed window, the CPU time the server process used (from /proc,
user and system) and the CPU time this process used are taken, each as a share of one CPU (PostgreSQL's
processes are not counted): a side near 100% is what set the rate. Every answer is parsed: the rates count
only a 200 carrying the dashboard with no errors, and the others are reported by why (HTTP status, or the
first error's code, e.g. the API's TIMEOUT); latencies are of every answer. Human-readable lines go out as
each run ends; the last line is one JSON object for scripts to read. The targets are reported, never
enforced: a miss is information, not a failure.
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events.access import Role
from events.catalogue import CATALOGUE
from events.disclosure import Channel, DisclosureCategory, DisclosurePublished
from events.training import TrainingHeld, TrainingKind
from projections.access import Scope
from projections.community import World
from projections.coverage import Share, coverage
from projections.evaluation import evaluate
from projections.localtime import local_date
from service.access.authenticator import Authenticator
from service.access.tokens import Tokens
from service.commands.handler import Commands
from service.demo.loader import load_demo
from service.log.clock import utc_now
from service.log.pool import create_pool
from service.log.store import EventStore
from service.read.projector import NAME, Projector, world_from_rows
from service.read.queries import query
from service.read.readmodel import ReadModel
from service.read.views import CITY_ID
from service.runtime.app import REMEMBER_GRANTS, DatabaseUrls, Services, create_app
from service.runtime.logging import configure_logging
from service.runtime.settings import Settings
from tests.support.domain import digest
from tests.support.pg import in_fresh_database, server_settings

CLIENTS = 32
WARMUP_SECONDS = 2.0
TIMED_SECONDS = 10.0
WRITES_PER_SECOND = 20
PAGE = 50
ROUNDS = 6  # each phase's runs, alternating with the others'; its figures are their medians
TARGET = 0.5  # the API's rate over the baseline's
AUTH_TARGET = 0.05  # what authentication may cost: at most 5% of the anonymous rate
AUTH = "+auth"  # the suffix of a phase whose every request carries the integrator's token
AUTH_RULE = (
    "met when the median of the per-round paired ratios (auth run / anonymous twin's run, back to back) "
    "is at least 1 - auth_target; the ratio of median rates is reported beside it"
)
AUTHENTICATE_CALLS = 200  # in-process `Authenticator.authenticate` calls timed, for the cost per request
SERVER_CPU, CLIENT_CPU = 0, 1
TICKS = os.sysconf("SC_CLK_TCK")  # /proc's CPU times are in these
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


def baseline_endpoint(mode: str) -> Callable[[Request], Awaitable[Response]]:
    """GET /dashboard: `rows` reads every fact on each request; `warm` keeps them by checkpoint."""

    async def read_rows(services: Services) -> World:
        rows = await services.pool.fetch(FACTS, NAME)
        return world_from_rows((r[0], r[1], r[2]) for r in rows)

    async def read_warm(services: Services) -> World:
        world: World = await services.read_model.world()
        return world

    read = read_rows if mode == "rows" else read_warm

    async def serve_dashboard(request: Request) -> Response:
        world = await read(request.app.state.services)
        # json.dumps as strawberry's view encodes: the same bytes for the same answer.
        body = json.dumps(dashboard(world, local_date(utc_now())))
        return Response(body, media_type="application/json")

    return serve_dashboard


def serve_baseline(mode: str, port: int) -> None:
    """The baseline's endpoint inside the service's own app: its lifespan starts the same pool, head
    watcher, projector and sealer as `qinglian serve`'s, so the baseline carries the same background work."""
    settings = Settings.from_process()
    configure_logging(settings)
    if settings.database_url is None:
        raise SystemExit("the baseline server needs DATABASE_URL")
    urls = DatabaseUrls(owner=settings.database_url, app=settings.app_database_url)
    app = create_app(settings, urls, routes=[Route("/dashboard", baseline_endpoint(mode))])
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
class Phase:
    name: str
    path: str  # what the client asks for
    command: tuple[str, ...]
    env: dict[str, str]
    log: Path
    authorization: str | None = None  # the Authorization header every request carries, if any
    writes: bool = True  # whether the writer records through the warm-up and the timed window

    @property
    def timed_log(self) -> Path:
        """The lines the server logged during the latest timed window."""
        return self.log.with_suffix(".timed.log")


def phases(url: str, folder: Path, token: str) -> list[Phase]:
    """rows, warm, api, api+auth, cached, cached+auth, hits, hits+auth: each auth phase beside its
    anonymous twin; `hits` is `cached`'s server with the writer paused."""
    python = sys.executable
    made: list[Phase] = []
    command: tuple[str, ...]
    for name, cache, writes in (
        ("rows", None, True),
        ("warm", None, True),
        ("api", "off", True),
        ("cached", "on", True),
        ("hits", "on", False),
    ):
        env = {
            "DATABASE_URL": url,
            "QINGLIAN_DATA_DIR": str(folder / name),
            "QINGLIAN_LOG_FORMAT": "json",
            "QINGLIAN_LOG_LEVEL": "info",
            # The load generator is one client sending hundreds of requests a second: the per-caller rate
            # limits, there to stop one client starving the others, would refuse most of it.
            "QINGLIAN_RATE_LIMIT": "off",
            "QINGLIAN_ANONYMOUS_RATE_LIMIT": "off",
        }
        if cache is None:
            command = (python, "-m", "tests.bench.query", "--baseline-server", name, "{port}")
            made.append(Phase(name, "/dashboard", command, env, folder / f"{name}.log"))
        else:
            env["QINGLIAN_RESPONSE_CACHE"] = cache
            command = (python, "-m", "schema.main", "serve", "--port", "{port}")
            made.append(Phase(name, "/graphql", command, env, folder / f"{name}.log", writes=writes))
            authed = name + AUTH
            made.append(
                Phase(
                    authed,
                    "/graphql",
                    command,
                    {**env, "QINGLIAN_DATA_DIR": str(folder / authed)},
                    folder / f"{authed}.log",
                    authorization=f"Bearer {token}",
                    writes=writes,
                )
            )
    return made


def round_order(every: list[Phase], round_: int) -> list[Phase]:
    """The phases in the order round `round_` (from 1) runs them: as `phases` lists them, each pair of twins
    back to back, the anonymous twin first in odd rounds and the auth twin first in even ones."""
    ordered: list[Phase] = []
    for phase in every:
        if phase.name.endswith(AUTH) and round_ % 2 == 0:
            ordered.insert(len(ordered) - 1, phase)  # before its twin, which `phases` puts just before it
        else:
            ordered.append(phase)
    return ordered


@dataclass(frozen=True, slots=True)
class Server:
    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far, user and system (from /proc)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on, after "pid (comm) "
        return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15: utime, stime


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


def log_tail(log: Path) -> str:
    """The end of a server's log: it lives in a temporary folder that goes with the run."""
    return log.read_text(encoding="utf-8", errors="replace")[-2000:]


async def wait_until_up(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}:\n{log_tail(log)}")
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


def request_bytes(path: str, authorization: str | None = None) -> bytes:
    credential = b"" if authorization is None else b"Authorization: " + authorization.encode() + b"\r\n"
    if path == "/graphql":
        body = json.dumps({"query": DASHBOARD, "operationName": "Dashboard"}).encode()
        return (
            b"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            + credential
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n".encode() + credential + b"\r\n"


@dataclass(slots=True)
class Run:
    requests: int  # every answer, good or not
    seconds: float
    latencies: list[float] = field(repr=False)  # of every answer
    failures: Counter[str] = field(default_factory=Counter)  # answers that do not count, by why
    writes: int = 0  # commands the writer recorded in the timed window
    projected: int = 0  # events the server's projector folded in the timed window
    server_cpu: float = 0.0  # CPU the server process used in the timed window, as a share of one CPU
    client_cpu: float = 0.0  # CPU this process (load generator and writer) used in it, likewise

    @property
    def bad(self) -> int:
        return sum(self.failures.values())

    @property
    def per_second(self) -> float:
        """Good answers (a 200 carrying the dashboard, no errors) per second."""
        return (self.requests - self.bad) / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self, quantile: int) -> float:
        if len(self.latencies) < 2:
            return 0.0
        return statistics.quantiles(self.latencies, n=100)[quantile - 1] * 1000


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


async def load(port: int, phase: Phase, seconds: float) -> Run:
    """CLIENTS connections, each sending the next request as soon as its answer is in, for `seconds`.
    Every answer is parsed and checked; work in flight at the deadline is counted and timed."""
    request = request_bytes(phase.path, phase.authorization)
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    start = time.perf_counter()
    deadline = start + seconds

    async def client() -> int:
        done = 0
        async with connection(port) as conn:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                status, body = await conn.exchange(request)
                latencies.append(time.perf_counter() - began)
                why = failure(status, body)
                if why is not None:
                    failures[why] += 1
                done += 1
        return done

    counts = await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return Run(sum(counts), time.perf_counter() - start, latencies, failures)


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


async def projected_position(pool: asyncpg.Pool) -> int:
    row = await pool.fetchrow(query("checkpoint"), NAME)
    assert row is not None, "migration 0002 inserts the checkpoint row"
    return int(row["position"])


async def caught_up(pool: asyncpg.Pool, store: EventStore) -> None:
    """Until the projection has folded the whole log: every run starts from a projection at the head, not
    from the writes the previous run left for the next server's projector."""
    deadline = time.monotonic() + START_TIMEOUT
    while await projected_position(pool) < await store.head():
        if time.monotonic() > deadline:
            raise RuntimeError("the server's projector did not reach the head in time")
        await asyncio.sleep(0.05)


def wrong_secret(authorization: str) -> str:
    """The same token id with another secret of the same shape: well formed, but not the one issued."""
    last = authorization[-1]
    return authorization[:-1] + ("A" if last != "A" else "B")


async def answers(phase: Phase, pool: asyncpg.Pool, store: EventStore) -> Any:
    """The phase's answer with nothing moving; an auth phase's server must also refuse a wrong secret, so
    its header is known to be checked on every request rather than ignored."""
    async with running(phase) as server, connection(server.port) as conn:
        await caught_up(pool, store)
        status, body = await conn.exchange(request_bytes(phase.path, phase.authorization))
        assert status == 200, body[:500]
        if phase.authorization is not None:
            refused, why = await conn.exchange(request_bytes(phase.path, wrong_secret(phase.authorization)))
            assert refused == 401, f"{phase.name}: a wrong secret got HTTP {refused}: {why[:300]!r}"
        return json.loads(body)


async def authenticate_cost(pool: asyncpg.Pool, authorization: str, remember: float = 0.0) -> list[float]:
    """Seconds per `Authenticator.authenticate` of the header, called one after another in this process on
    the benchmark's pool, without load: with `remember` 0, the grant is read from the database every time
    (what a server pays when it has not seen the token for REMEMBER_GRANTS seconds); with REMEMBER_GRANTS,
    as the server is configured (the grant read once, then remembered)."""
    authenticator = Authenticator(pool, remember_seconds=remember)
    principal = await authenticator.authenticate(authorization)
    assert principal.role is Role.INTEGRATOR, principal
    assert principal.kind == "token", principal
    took: list[float] = []
    for _ in range(AUTHENTICATE_CALLS):
        began = time.perf_counter()
        await authenticator.authenticate(authorization)
        took.append(time.perf_counter() - began)
    return took


async def timed_run(phase: Phase, writer: Writer, pool: asyncpg.Pool, store: EventStore) -> Run:
    """One run of a phase: its server, the projection caught up, then warm-up and the timed window, with
    the writer recording throughout both, or paused for both for a phase without writes."""
    async with running(phase) as server:
        await caught_up(pool, store)
        async with writing(writer) if phase.writes else contextlib.nullcontext():
            await load(server.port, phase, WARMUP_SECONDS)
            mark = phase.log.stat().st_size
            written, position = writer.written, await projected_position(pool)
            server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
            run = await load(server.port, phase, TIMED_SECONDS)
            run.server_cpu = (server.cpu_seconds() - server_cpu) / run.seconds
            run.client_cpu = (time.process_time() - client_cpu) / run.seconds
            run.writes = writer.written - written
            run.projected = await projected_position(pool) - position
    with phase.log.open("rb") as log:
        log.seek(mark)
        phase.timed_log.write_bytes(log.read())
    return run


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


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
        # The auth phases' credential, issued once before any server starts; its grant is one more event.
        issued = await Tokens(pool, store).create(
            role=Role.INTEGRATOR, scope=Scope(), label="tests.bench.query", issuer="bench"
        )
        authorization = f"Bearer {issued.token}"
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
        took = await authenticate_cost(pool, authorization)
        authenticate_ms = {
            "p50": statistics.median(took) * 1000,
            "p99": statistics.quantiles(took, n=100)[98] * 1000,
        }
        remembered = await authenticate_cost(pool, authorization, REMEMBER_GRANTS)
        remembered_ms = statistics.median(remembered) * 1000
        print(
            f"token {issued.grant.token_id} authenticates as {issued.grant.role.value}; "
            f"Authenticator.authenticate in this process, {AUTHENTICATE_CALLS} calls in a row: "
            f"p50 {authenticate_ms['p50']:.2f} ms, p99 {authenticate_ms['p99']:.2f} ms reading the grant "
            f"each time; p50 {remembered_ms:.3f} ms with the grant remembered, as the server runs it",
            flush=True,
        )
        writer = Writer(commands, [f.community_id for f in listed[:PAGE]])
        every: list[Phase] = []
        orders: list[list[str]] = []
        results: dict[str, list[Run]] = {}
        outcomes: dict[str, list[dict[str, int]]] = {}
        with tempfile.TemporaryDirectory(prefix="qinglian-bench-query-") as tmp, pinned(CLIENT_CPU):
            folder = Path(tmp)
            every = phases(url, folder, issued.token)
            # The same answer from all eight, anonymous or not, with nothing moving underneath.
            first = await answers(every[0], pool, store)
            for phase in every[1:]:
                assert first == await answers(phase, pool, store), (
                    f"{phase.name} answers differently from rows"
                )
            print(
                f"all {len(every)} servers give the same answer; the auth servers refuse a wrong secret "
                "with HTTP 401",
                flush=True,
            )
            for round_ in range(1, ROUNDS + 1):
                order = round_order(every, round_)
                orders.append([phase.name for phase in order])
                for phase in order:
                    run = await timed_run(phase, writer, pool, store)
                    results.setdefault(phase.name, []).append(run)
                    outcomes.setdefault(phase.name, []).append(cache_outcomes(phase.timed_log))
                    report(f"{phase.name} {round_}/{ROUNDS}", run, outcomes[phase.name][-1])
        head = await store.head()
    finally:
        await store.close()
        await pool.close()

    rate = {name: median([run.per_second for run in runs]) for name, runs in results.items()}
    for phase in every:
        runs = results[phase.name]
        print(
            f"{phase.name:<11} median of {ROUNDS}: {rate[phase.name]:>7,.1f} req/s   "
            f"p50 {median([r.latency_ms(50) for r in runs]):7.2f} ms  "
            f"p99 {median([r.latency_ms(99) for r in runs]):7.2f} ms   "
            f"server CPU {median([r.server_cpu for r in runs]):.0%}, "
            f"load generator CPU {median([r.client_cpu for r in runs]):.0%}",
            flush=True,
        )
    warm, rows = rate["warm"], rate["rows"]
    ratios = {
        "cached_over_warm": rate["cached"] / warm if warm else 0.0,
        "api_over_warm": rate["api"] / warm if warm else 0.0,
        "cached_over_rows": rate["cached"] / rows if rows else 0.0,
        "api_over_rows": rate["api"] / rows if rows else 0.0,
    }
    print(
        f"cached/warm = {ratios['cached_over_warm']:.2f}, api/warm = {ratios['api_over_warm']:.2f} "
        f"(target {TARGET}); cached/rows = {ratios['cached_over_rows']:.2f}, "
        f"api/rows = {ratios['api_over_rows']:.2f} (ratios of medians); "
        f"the writer recorded {writer.written:,} commands",
        flush=True,
    )
    # Authentication's cost, of each auth phase against its anonymous twin, two ways: the ratio of their
    # median rates, and the median of the rounds' paired ratios (each round's two runs ran back to back).
    # The paired median decides the target: its shortfall from 1 is `auth_cost_…`.
    auth: dict[str, Any] = {}
    for name in [phase.name for phase in every if phase.name.endswith(AUTH)]:
        twin = name.removesuffix(AUTH)
        of_medians = rate[name] / rate[twin] if rate[twin] else 0.0
        by_round = [
            authed.per_second / plain.per_second if plain.per_second else 0.0
            for authed, plain in zip(results[name], results[twin], strict=True)
        ]
        paired = median(by_round)
        met = 1 - paired <= AUTH_TARGET
        auth[f"auth_ratio_{twin}"] = round(of_medians, 3)
        auth[f"auth_ratio_{twin}_paired"] = round(paired, 3)
        auth[f"auth_ratio_{twin}_rounds"] = [round(r, 3) for r in by_round]
        auth[f"auth_cost_{twin}"] = round(1 - paired, 3)
        auth[f"auth_cost_{twin}_of_medians"] = round(1 - of_medians, 3)
        auth[f"auth_met_{twin}"] = met
        print(
            f"{name}/{twin}: median of paired ratios {paired:.3f} (rounds "
            f"{', '.join(f'{r:.3f}' for r in by_round)}): authentication costs {1 - paired:+.1%} of the "
            f"rate (target at most {AUTH_TARGET:.0%}: {'met' if met else 'missed'}); "
            f"ratio of medians {of_medians:.3f} ({1 - of_medians:+.1%})",
            flush=True,
        )
    summary: dict[str, Any] = {}
    for phase_name, runs in results.items():
        name = phase_name.replace("+", "_")
        per_second = [round(run.per_second, 1) for run in runs]
        p50 = [round(run.latency_ms(50), 2) for run in runs]
        p99 = [round(run.latency_ms(99), 2) for run in runs]
        summary[f"{name}_req_per_s"] = round(rate[phase_name], 1)
        summary[f"{name}_req_per_s_runs"] = per_second
        summary[f"{name}_p50_ms"] = round(median([run.latency_ms(50) for run in runs]), 2)
        summary[f"{name}_p50_ms_runs"] = p50
        summary[f"{name}_p99_ms"] = round(median([run.latency_ms(99) for run in runs]), 2)
        summary[f"{name}_p99_ms_runs"] = p99
        summary[f"{name}_answers_runs"] = [run.requests for run in runs]
        summary[f"{name}_bad"] = sum(run.bad for run in runs)
        summary[f"{name}_failures_runs"] = [dict(run.failures) for run in runs]
        summary[f"{name}_writes_runs"] = [run.writes for run in runs]
        summary[f"{name}_projected_runs"] = [run.projected for run in runs]
        summary[f"{name}_server_cpu_runs"] = [round(run.server_cpu, 3) for run in runs]
        summary[f"{name}_client_cpu_runs"] = [round(run.client_cpu, 3) for run in runs]
    summary.update({k: round(v, 3) for k, v in ratios.items()})
    summary.update(auth)
    summary.update(
        {
            "target": TARGET,
            "met": ratios["cached_over_warm"] >= TARGET,
            "met_without_cache": ratios["api_over_warm"] >= TARGET,
            "cache_outcomes_runs": outcomes.get("cached", []),
            "cache_outcomes_auth_runs": outcomes.get("cached" + AUTH, []),
            "cache_outcomes_hits_runs": outcomes.get("hits", []),
            "cache_outcomes_hits_auth_runs": outcomes.get("hits" + AUTH, []),
            "auth_target": AUTH_TARGET,
            "auth_rule": AUTH_RULE,
            "authenticate_ms_p50": round(authenticate_ms["p50"], 3),
            "authenticate_ms_p99": round(authenticate_ms["p99"], 3),
            "authenticate_remembered_ms_p50": round(remembered_ms, 4),
            "rounds": ROUNDS,
            "order": orders[0] if orders else [],
            "order_rounds": orders,
            "writes": writer.written,
            "head": head,
            "clients": CLIENTS,
            "warmup_seconds": WARMUP_SECONDS,
            "timed_seconds": TIMED_SECONDS,
            "writes_per_second": WRITES_PER_SECOND,
            "phases_without_writes": [phase.name for phase in every if not phase.writes],
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
        f"{name:<15} {run.requests - run.bad:>7,} good answers in {run.seconds:5.2f} s = "
        f"{run.per_second:>7,.1f} req/s   "
        f"p50 {run.latency_ms(50):7.2f} ms  p99 {run.latency_ms(99):7.2f} ms   "
        f"{run.writes} written, {run.projected} projected   "
        f"CPU: server {run.server_cpu:.0%}, load generator {run.client_cpu:.0%}"
    )
    if run.bad:
        line += "   not counted: " + ", ".join(f"{k} {v:,}" for k, v in sorted(run.failures.items()))
    if outcomes:
        line += "   cache " + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))
    print(line, flush=True)


async def main() -> dict[str, Any]:
    return await in_fresh_database(run_all)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--baseline-server"]:
        serve_baseline(sys.argv[2], int(sys.argv[3]))
    else:
        summary = asyncio.run(main())
        print(json.dumps(summary, ensure_ascii=False), flush=True)
