"""`python -m tests.bench.webhooks`: webhook deliveries from a real `qinglian serve` to a local receiver.

A fresh migrated database holding one town and one community; `qinglian serve` on it (the benchmark's
settings, `QINGLIAN_WEBHOOK_ALLOW_PRIVATE=on`); a receiver in this process (a minimal HTTP/1.1 server on
127.0.0.1 that answers 200 at once and notes, for each request, when it arrived and the event's position
and `recorded_at`); one endpoint registered as `qinglian webhook add` registers it. Then `--rounds` rounds
(3) of three phases, alternating:

- **burst** — `--burst` events (2,000) appended as fast as the command layer takes them (16 at a time,
  `Commands.record` in this process): the worker is the bottleneck, and its rate is the events delivered
  over the time from the first delivery of the burst to the last;
- **bare** — the baseline: the same number of signed webhook messages POSTed one at a time (as the worker
  sends them: in order, each waiting for the answer) by a bare `httpx.AsyncClient` in this process to the
  same receiver: what one ordered sender can do over this HTTP path at all;
- **paced** — `--rate` events a second (50) for `--seconds` (20) through the command layer, each delivery's
  latency being its arrival at the receiver minus the event's `recorded_at` (taken in the writer's
  transaction before commit, so it slightly overstates commit-to-delivery).

Every event must be delivered exactly once, in position order (checked; `complete` in the JSON). A figure
is the median over the rounds. The last line is one JSON object: `burst_per_s`, `bare_per_s`, their ratio,
`p50_ms`/`p99_ms` at the paced rate, the machine's load, and `met` (p99 ≤ 1 s at 50 events a second, and
no event missing or repeated — targets this benchmark sets itself; the issue asks only for the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from events.catalogue import CATALOGUE
from events.envelope import Recorded
from events.training import TrainingKind
from projections.localtime import local_date
from service.commands.handler import Commands, install_default_standard
from service.delivery.webhooks import Endpoints, Policy, message, sign
from service.log.clock import utc_now
from service.log.pool import create_pool
from service.log.store import EventStore
from tests.bench.query import free_port, serve_env
from tests.service.runtime.test_serve import qinglian_command
from tests.support.domain import community, town, training
from tests.support.pg import create_migrated_database, drop_database, server_url, unique_name

START_TIMEOUT = 120.0
DELIVERY_TIMEOUT = 300.0
# Writers appending at once during a burst.
LANES = 16


@dataclass(slots=True)
class Arrival:
    path: str
    position: int
    webhook_id: str
    at: float  # time.time() on arrival
    recorded_at: float


@dataclass(slots=True)
class Receiver:
    """HTTP/1.1 on 127.0.0.1: 200 to every request, noting each webhook's arrival."""

    arrivals: list[Arrival] = field(default_factory=list)
    server: asyncio.Server | None = None
    port: int = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode("latin-1")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.time()
                data = json.loads(body)["data"]
                recorded = datetime.fromisoformat(data["recorded_at"].replace("Z", "+00:00")).timestamp()
                self.arrivals.append(
                    Arrival(path, data["position"], headers.get("webhook-id", ""), arrived, recorded)
                )
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        writer.close()

    def hooked(self) -> list[Arrival]:
        """What the service delivered (the baseline's requests go to another path)."""
        return [a for a in self.arrivals if a.path == "/hook"]

    async def wait_for(self, position: int) -> None:
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while not (hooked := self.hooked()) or hooked[-1].position < position:
            if time.monotonic() > deadline:
                raise RuntimeError(f"position {position} was not delivered in time")
            await asyncio.sleep(0.02)


@dataclass(slots=True)
class World:
    commands: Commands
    store: EventStore
    n: int = 0

    async def append(self, count: int, *, parallel: int) -> None:
        today = local_date(utc_now())
        queue = list(range(self.n, self.n + count))
        self.n += count

        # One community per writer: each writes its own stream, so no two appends contend for a version.
        async def one(lane: int) -> None:
            while queue:
                n = queue.pop(0)
                event = training(f"bench-hook-{lane}", TrainingKind.INTEGRITY_COURSE, today, n)
                await self.commands.record(event, idempotency_key=f"hook-{n}", metadata={"actor": "bench"})

        await asyncio.gather(*(one(lane) for lane in range(parallel)))

    async def paced(self, rate: float, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        end = due + seconds
        while due < end:
            await self.append(1, parallel=1)
            due += 1 / rate
            await asyncio.sleep(max(0.0, due - loop.time()))


def percentile_ms(values: Sequence[float], q: int) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] * 1000, 1)


async def bare(port: int, secret: str, store: EventStore, first: int, count: int) -> float:
    """The baseline's rate: the same messages, signed, POSTed one at a time by a bare client."""
    rows: list[Recorded] = []
    after = first - 1
    while len(rows) < count:
        page = await store.read_all(after_position=after, limit=min(1000, count - len(rows)))
        if not page:
            break
        rows += page
        after = page[-1].position
    bodies = [(str(r.event_id), message(r)) for r in rows]
    async with httpx.AsyncClient(timeout=10) as client:
        started = time.perf_counter()
        for msg_id, body in bodies:
            stamp = int(time.time())
            answer = await client.post(
                f"http://127.0.0.1:{port}/bare",
                content=body.encode(),
                headers={
                    "content-type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": sign(secret, msg_id, stamp, body),
                },
            )
            answer.raise_for_status()
        return len(bodies) / (time.perf_counter() - started)


@contextlib.asynccontextmanager
async def serving(url: str, folder: Path) -> AsyncIterator[int]:
    port = free_port()
    env = {**os.environ, **serve_env(url, folder), "QINGLIAN_WEBHOOK_ALLOW_PRIVATE": "on"}
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *qinglian_command(), "serve", "--port", str(port), env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient() as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text(errors="replace")[-2000:])
                await asyncio.sleep(0.2)
        yield port
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


async def run(admin_url: str, options: argparse.Namespace) -> dict[str, Any]:
    name = unique_name("qinglian_bench_webhooks")
    url = await create_migrated_database(admin_url, name)
    folder = Path(tempfile.mkdtemp(prefix="qinglian-bench-webhooks-"))
    pool = await create_pool(url, None, min_size=2, max_size=20)
    store = EventStore(pool, CATALOGUE)
    commands = Commands(store, CATALOGUE)
    receiver = Receiver()
    loads = [load_average()]
    try:
        await install_default_standard(commands, store)
        setup = [town("bench-town")] + [
            community(f"bench-hook-{lane}", "bench-town", on=date(2021, 1, 1)) for lane in range(LANES)
        ]
        for i, event in enumerate(setup):
            await commands.record(event, idempotency_key=f"setup-{i}", metadata={"actor": "bench"})
        await receiver.start()
        # Registered as `qinglian webhook add` registers it: from the head on.
        endpoints = Endpoints(pool, store, Policy(allow_private=True))
        _, secret = await endpoints.register(
            f"http://127.0.0.1:{receiver.port}/hook", types=None, stream_prefix=None, created_by="bench"
        )
        world = World(commands, store)
        burst: list[float] = []
        bare_rates: list[float] = []
        p50: list[float] = []
        p99: list[float] = []
        async with serving(url, folder):
            for round_ in range(options.rounds):
                # burst
                first = await store.head() + 1
                seen = len(receiver.hooked())
                await world.append(options.burst, parallel=LANES)
                last = await store.head()
                await receiver.wait_for(last)
                got = receiver.hooked()[seen:]
                burst.append(len(got) / max(got[-1].at - got[0].at, 1e-9))
                # bare
                bare_rates.append(await bare(receiver.port, secret, store, first, options.burst))
                # paced
                seen = len(receiver.hooked())
                await world.paced(options.rate, options.seconds)
                await receiver.wait_for(await store.head())
                late = [a.at - a.recorded_at for a in receiver.hooked()[seen:]]
                p50.append(percentile_ms(late, 50))
                p99.append(percentile_ms(late, 99))
                loads.append(load_average())
                print(
                    f"round {round_ + 1}: burst {burst[-1]:.0f}/s, bare {bare_rates[-1]:.0f}/s, "
                    f"paced p50 {p50[-1]} ms p99 {p99[-1]} ms",
                    file=sys.stderr,
                    flush=True,
                )
        hooked = [a.position for a in receiver.hooked()]
        delivered = len(hooked)
        # Every event after the endpoint's start, once each, in order.
        complete = hooked == list(range(hooked[0], hooked[-1] + 1)) if hooked else False
    finally:
        await store.close()
        await pool.close()
        if receiver.server is not None:
            receiver.server.close()
        await drop_database(admin_url, name)
    burst_rate = statistics.median(burst)
    bare_rate = statistics.median(bare_rates)
    summary = {
        "bench": "webhooks",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": options.rounds,
        "burst_events": options.burst,
        "burst_per_s": round(burst_rate, 1),
        "bare_per_s": round(bare_rate, 1),
        "burst_over_bare": round(burst_rate / bare_rate, 3),
        "rate_per_s": options.rate,
        "p50_ms": statistics.median(p50),
        "p99_ms": statistics.median(p99),
        "rounds_p99_ms": p99,
        "delivered": delivered,
        "complete": complete,
        "load_average": loads,
    }
    summary["met"] = {"p99_at_rate_le_1s": summary["p99_ms"] <= 1000, "exactly_once_in_order": complete}
    return summary


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.webhooks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    return parser.parse_args(argv)


async def main(options: argparse.Namespace) -> dict[str, Any]:
    with server_url() as admin_url:
        return await run(admin_url, options)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(arguments(sys.argv[1:]))), ensure_ascii=False), flush=True)
