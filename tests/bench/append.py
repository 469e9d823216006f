"""Append throughput of the event store against raw asyncpg on the same server.

    python -m tests.bench.append            # embedded PostgreSQL, or DATABASE_URL when set

Four timed phases, in one fresh migrated database that is dropped afterwards:

  A      single-row INSERT, each its own transaction, from 32 connections, into a trigger-free copy of
         `events` (`like events including all`), with rows built before timing: what the server can commit
         with no lock, no encoding and no hashing in the way. 1 s of warm-up, then 5 s timed.
  store  single-event `EventStore.append` from 32 concurrent tasks, each on its own stream with exact
         expected versions, through one pool as the service builds it. 1 s of warm-up, then 5 s timed.
  B      COPY of 100,000 pre-built rows into another trigger-free copy of `events`.
  bulk   `EventStore.bulk_import` of 100,000 events over 1,000 new streams, its encoding and hashing timed
         too.

The rows are built once. The phases then run in turn, three rounds (A, store, B, bulk, A, store, …), each
after a checkpoint so it does not pay for the previous one's dirty pages. A and B write into a fresh table
each round (dropped after timing); the store's appends and imports go to the one log, which therefore
grows from round to round, each round's appenders continuing their own streams. Each phase's figure is
the median of its three runs, and the ratios (store / A, bulk / B) are ratios of the medians.

Human-readable lines go out as each run ends; the last line is one JSON object for scripts to read.
Targets are reported, never enforced: a miss is information, not a failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from events.catalogue import CATALOGUE
from events.codec import JSON, canonical_json
from events.envelope import ExpectedVersion, envelope_json
from events.hierarchy import CommunityKind, CommunityRegistered
from events.merkle import leaf_hash
from service.log.bulk import EVENT_COLUMNS
from service.log.pool import create_pool
from service.log.store import EventStore
from tests.support.pg import in_fresh_database, server_settings

CALLERS = 32
# The store writes every group through one writer on one connection (a bulk import takes one more), so a
# small pool is enough; this is the size range the service itself runs with.
POOL_MIN_SIZE = 2
POOL_MAX_SIZE = 8
WARMUP_SECONDS = 1.0
TIMED_SECONDS = 5.0
BULK_EVENTS = 100_000
BULK_STREAMS = 1_000
ROUNDS = 3  # runs of each phase, alternating; the figures are their medians
TARGETS = {"store_over_a": 1.0, "bulk_over_b": 0.5}

A_TABLE = "bench_baseline_a"
B_TABLE = "bench_baseline_b"
COLUMNS = tuple(EVENT_COLUMNS)  # the same row shape as the store writes


def insert_a(table: str) -> str:
    return (
        f"insert into {table} ({', '.join(COLUMNS)}) "
        f"values ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
    )


# Real place names keep payloads at the size and in the script (3-byte UTF-8) the registry will hold.
_TOWNS = ("古塘街道", "北山街道", "西溪镇", "良渚街道", "瓶窑镇", "塘栖镇", "仁和街道", "崇贤街道")
_COMMUNITIES = (
    ("舒苑", "Shuyuan"),
    ("宝石", "Baoshi"),
    ("翠苑", "Cuiyuan"),
    ("文鼎苑", "Wendingyuan"),
    ("桂花城", "Guihuacheng"),
    ("运河湾", "Yunhewan"),
    ("杨家牌楼", "Yangjiapailou"),
    ("青莲", "Qinglian"),
)

Row = tuple[int, str, int, UUID, str, int, str, str, bytes, bytes, datetime]


# Payload schemas gain dated fields (the day a fact takes effect) as the domain grows; any required date is
# filled, so the benchmark measures the event as it stands instead of breaking on each such change.
_REQUIRED_DATES = frozenset(
    item.name
    for item in dataclasses.fields(CommunityRegistered)
    if item.default is dataclasses.MISSING
    and item.default_factory is dataclasses.MISSING
    and item.type in ("date", date)
)


def community(n: int) -> CommunityRegistered:
    village = n % 5 == 0
    base, base_en = _COMMUNITIES[n % len(_COMMUNITIES)]
    values: dict[str, Any] = {
        "community_id": f"c{n:06d}",
        "town_id": f"town-{n % len(_TOWNS):02d}",
        "name": f"{_TOWNS[n % len(_TOWNS)]}{base}{'村' if village else '社区'}",
        "kind": CommunityKind.VILLAGE if village else CommunityKind.COMMUNITY,
        "name_en": f"{base_en} {'Village' if village else 'Community'}",
    }
    for name in _REQUIRED_DATES.difference(values):
        values[name] = date(2024, 1, 1) + timedelta(days=n % 366)
    return CommunityRegistered(**values)


def request_metadata(n: int) -> dict[str, JSON]:
    """What the HTTP layer passes along with a command: who asked, and the request to trace it by."""
    return {
        "actor": f"clerk-{n % 400:04d}",
        "request_id": str(uuid4()),
    }


def build_rows(count: int, streams: int, recorded_at: datetime) -> list[Row]:
    """Rows exactly as the store would write them: the registry's payload, canonical envelope and hash.

    Positions run 1..count with no gaps and each stream's versions run from 1, so any contiguous slice is
    a disjoint position range and every row satisfies every constraint of `events`.
    """
    versions = [0] * streams
    rows: list[Row] = []
    for index in range(count):
        position = index + 1
        stream = index % streams
        versions[stream] += 1
        stream_id = f"community-r{stream}"
        type_, schema_version, payload = CATALOGUE.encode(community(index))
        payload_json = canonical_json(payload)
        metadata_json = canonical_json({**request_metadata(index), "idempotency_key": f"import-{index}"})
        event_id = uuid4()
        canonical = envelope_json(
            position=position,
            stream_id=stream_id,
            stream_version=versions[stream],
            event_id=event_id,
            type_=type_,
            schema_version=schema_version,
            payload_json=payload_json,
            metadata_json=metadata_json,
            recorded_at=recorded_at,
        ).encode()
        rows.append(
            (
                position,
                stream_id,
                versions[stream],
                event_id,
                type_,
                schema_version,
                payload_json,
                metadata_json,
                canonical,
                leaf_hash(canonical),
                recorded_at,
            )
        )
    return rows


# -- driving concurrent callers --------------------------------------------------------------------------

# One unit of work; False means the caller has nothing more to do (its pre-built rows ran out).
Step = Callable[[], Awaitable[bool]]


@dataclass(slots=True)
class Run:
    events: int
    seconds: float
    latencies: list[float] = field(repr=False)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self, quantile: int) -> float:
        """The `quantile`th percentile of one call's latency, in milliseconds."""
        if len(self.latencies) < 2:
            return 0.0
        return statistics.quantiles(self.latencies, n=100)[quantile - 1] * 1000


async def drive(steps: Sequence[Step], seconds: float) -> Run:
    """Run every step in a loop, concurrently, until `seconds` have passed; count what completed.

    Callers stop starting new work at the deadline, and the clock stops when the last one finishes, so
    work in flight at the deadline is both counted and timed.
    """
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds

    async def loop(step: Step) -> int:
        done = 0
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            if not await step():
                break
            latencies.append(time.perf_counter() - began)
            done += 1
        return done

    counts = await asyncio.gather(*(loop(step) for step in steps))
    return Run(sum(counts), time.perf_counter() - start, latencies)


class Inserter:
    """Baseline A's caller: one connection, each row its own autocommitted INSERT."""

    def __init__(self, conn: asyncpg.Connection, table: str, rows: Sequence[Row]) -> None:
        self._conn = conn
        self._insert = insert_a(table)
        self._rows = iter(rows)

    async def __call__(self) -> bool:
        row = next(self._rows, None)
        if row is None:
            return False
        await self._conn.execute(self._insert, *row)
        return True


class Appender:
    """The store's caller: its own stream, one event per append, the version it last saw as expected."""

    def __init__(self, store: EventStore, caller: int) -> None:
        self._store = store
        self._caller = caller
        self._stream = f"community-c{caller}"
        self._version = 0
        # A few distinct events per caller, built up front: encoding them is the store's work, building
        # the dataclass is the caller's.
        self._events = [community(caller * 1000 + n) for n in range(16)]

    async def __call__(self) -> bool:
        n = self._version
        result = await self._store.append(
            self._stream,
            [self._events[n % len(self._events)]],
            expected_version=ExpectedVersion.exactly(n),
            idempotency_key=f"bench-{self._caller}-{n}",
            metadata=request_metadata(self._caller * 100_000 + n),
        )
        self._version = result.stream_version
        return True


# -- phases --------------------------------------------------------------------------------------------


def report(label: str, run: Run, unit: str = "events") -> None:
    line = f"{label:<12} {run.events:>8,} {unit} in {run.seconds:6.2f} s = {run.per_second:>10,.0f} {unit}/s"
    if len(run.latencies) > 1:
        line += f"   latency p50 {run.latency_ms(50):6.2f} ms  p99 {run.latency_ms(99):6.2f} ms"
    print(line, flush=True)


async def checkpoint(url: str) -> None:
    """Flush the previous phase's dirty pages, so its writes do not land on the next phase's clock."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("checkpoint")
    finally:
        await conn.close()


async def baseline_a(url: str, rows: Sequence[Row], round_: int) -> Run:
    table = f"{A_TABLE}_{round_}"
    per_connection = len(rows) // CALLERS
    conns = await asyncio.gather(*(asyncpg.connect(url) for _ in range(CALLERS)))
    try:
        await conns[0].execute(f"create table {table} (like events including all)")
        inserters = [
            Inserter(conn, table, rows[k * per_connection : (k + 1) * per_connection])
            for k, conn in enumerate(conns)
        ]
        # Warm-up prepares each connection's statement and settles the server; timing starts after.
        await drive(inserters, WARMUP_SECONDS)
        run = await drive(inserters, TIMED_SECONDS)
        if run.seconds < TIMED_SECONDS * 0.9:
            # The rate stays valid (events over the time they took); the window is just shorter.
            print(f"note: baseline A ran out of its {len(rows):,} pre-built rows early", flush=True)
        await conns[0].execute(f"drop table {table}")
        return run
    finally:
        await asyncio.gather(*(conn.close() for conn in conns))


@dataclass(slots=True)
class StoreRun:
    run: Run
    groups: int

    @property
    def mean_group(self) -> float:
        return self.run.events / self.groups if self.groups else 0.0


async def store_appends(url: str, store: EventStore, appenders: Sequence[Appender]) -> StoreRun:
    await drive(appenders, WARMUP_SECONDS)
    head_before = await store.head()
    run = await drive(appenders, TIMED_SECONDS)
    # Each group is written with one clock reading, so distinct recorded_at values count the groups.
    conn = await asyncpg.connect(url)
    try:
        groups: int = await conn.fetchval(
            "select count(distinct recorded_at) from events where position > $1", head_before
        )
    finally:
        await conn.close()
    return StoreRun(run, groups)


async def baseline_b(url: str, rows: Sequence[Row], round_: int) -> Run:
    table = f"{B_TABLE}_{round_}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"create table {table} (like events including all)")
        start = time.perf_counter()
        await conn.copy_records_to_table(table, records=rows, columns=COLUMNS)
        run = Run(len(rows), time.perf_counter() - start, [])
        await conn.execute(f"drop table {table}")
        return run
    finally:
        await conn.close()


async def store_bulk(store: EventStore, round_: int) -> Run:
    # New streams each round, so every import continues no stream and writes what the first one wrote.
    entries = [
        (f"community-i{round_}-{index % BULK_STREAMS}", community(index), request_metadata(index))
        for index in range(BULK_EVENTS)
    ]
    start = time.perf_counter()
    result = await store.bulk_import(entries, idempotency_key=f"bench-bulk-import-{round_}")
    seconds = time.perf_counter() - start
    assert result.event_count == BULK_EVENTS
    assert not result.replayed
    return Run(result.event_count, seconds, [])


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


async def server_facts(url: str) -> dict[str, Any]:
    return dict(
        await server_settings(
            url, ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "shared_buffers")
        )
    )


async def main() -> dict[str, Any]:
    return await in_fresh_database(run_all)


async def run_all(url: str) -> dict[str, Any]:
    facts = await server_facts(url)
    print(
        f"PostgreSQL {facts['server_version']} (synchronous_commit={facts['synchronous_commit']}, "
        f"fsync={facts['fsync']}); Python {platform.python_version()}, {os.cpu_count()} CPUs",
        flush=True,
    )

    began = time.perf_counter()
    rows = build_rows(BULK_EVENTS, BULK_STREAMS, datetime.now(UTC))
    mean_canonical = statistics.fmean(len(row[8]) for row in rows)
    print(
        f"built {len(rows):,} rows in {time.perf_counter() - began:.1f} s "
        f"(canonical envelope {mean_canonical:.0f} bytes on average)",
        flush=True,
    )

    a_runs: list[Run] = []
    store_runs: list[StoreRun] = []
    b_runs: list[Run] = []
    bulk_runs: list[Run] = []
    pool = await create_pool(url, None, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE)
    store = EventStore(pool, CATALOGUE)
    try:
        appenders = [Appender(store, caller) for caller in range(CALLERS)]
        for round_ in range(1, ROUNDS + 1):
            await checkpoint(url)
            a_runs.append(await baseline_a(url, rows, round_))
            report(f"A {round_}/{ROUNDS}", a_runs[-1])

            await checkpoint(url)
            store_runs.append(await store_appends(url, store, appenders))
            appended = store_runs[-1]
            report(f"store {round_}/{ROUNDS}", appended.run)
            print(
                f"{'':<12} {appended.groups:,} groups, {appended.mean_group:.1f} events per group", flush=True
            )

            await checkpoint(url)
            b_runs.append(await baseline_b(url, rows, round_))
            report(f"B {round_}/{ROUNDS}", b_runs[-1], "rows")

            await checkpoint(url)
            bulk_runs.append(await store_bulk(store, round_))
            report(f"bulk {round_}/{ROUNDS}", bulk_runs[-1])
    finally:
        await store.close()
        await pool.close()

    a_rate = median([run.per_second for run in a_runs])
    store_rate = median([s.run.per_second for s in store_runs])
    b_rate = median([run.per_second for run in b_runs])
    bulk_rate = median([run.per_second for run in bulk_runs])
    ratio_store = store_rate / a_rate if a_rate else 0.0
    ratio_bulk = bulk_rate / b_rate if b_rate else 0.0
    print(
        f"medians of {ROUNDS}: A {a_rate:,.0f} events/s, store {store_rate:,.0f} events/s, "
        f"B {b_rate:,.0f} rows/s, bulk {bulk_rate:,.0f} events/s",
        flush=True,
    )
    print(
        f"store/A = {ratio_store:.2f} (target {TARGETS['store_over_a']}), "
        f"bulk/B = {ratio_bulk:.2f} (target {TARGETS['bulk_over_b']}) (ratios of medians)",
        flush=True,
    )
    return {
        "baseline_a_events_per_s": round(a_rate, 1),
        "baseline_a_events_per_s_runs": [round(run.per_second, 1) for run in a_runs],
        "store_append_events_per_s": round(store_rate, 1),
        "store_append_events_per_s_runs": [round(s.run.per_second, 1) for s in store_runs],
        "ratio_store_over_a": round(ratio_store, 3),
        "baseline_b_rows_per_s": round(b_rate, 1),
        "baseline_b_rows_per_s_runs": [round(run.per_second, 1) for run in b_runs],
        "store_bulk_events_per_s": round(bulk_rate, 1),
        "store_bulk_events_per_s_runs": [round(run.per_second, 1) for run in bulk_runs],
        "ratio_bulk_over_b": round(ratio_bulk, 3),
        "targets": TARGETS,
        "met": {
            "store_over_a": ratio_store >= TARGETS["store_over_a"],
            "bulk_over_b": ratio_bulk >= TARGETS["bulk_over_b"],
        },
        "rounds": ROUNDS,
        "server_version": facts["server_version"],
        "synchronous_commit": facts["synchronous_commit"],
        "fsync": facts["fsync"],
        "wal_sync_method": facts["wal_sync_method"],
        "shared_buffers": facts["shared_buffers"],
        "callers": CALLERS,
        "pool_max_size": POOL_MAX_SIZE,
        "timed_seconds": TIMED_SECONDS,
        "baseline_a_events_runs": [run.events for run in a_runs],
        "baseline_a_seconds_runs": [round(run.seconds, 3) for run in a_runs],
        "baseline_a_p50_ms": round(median([run.latency_ms(50) for run in a_runs]), 3),
        "baseline_a_p99_ms": round(median([run.latency_ms(99) for run in a_runs]), 3),
        "store_append_events_runs": [s.run.events for s in store_runs],
        "store_append_p50_ms": round(median([s.run.latency_ms(50) for s in store_runs]), 3),
        "store_append_p99_ms": round(median([s.run.latency_ms(99) for s in store_runs]), 3),
        "store_groups_runs": [s.groups for s in store_runs],
        "store_mean_group_events": round(median([s.mean_group for s in store_runs]), 2),
        "bulk_events": BULK_EVENTS,
        "mean_canonical_bytes": round(mean_canonical, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    summary = asyncio.run(main())
    print(json.dumps(summary, ensure_ascii=False), flush=True)
