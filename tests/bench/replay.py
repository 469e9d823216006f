"""Replay at scale: rebuilding the projections from a log of 1,000,000 events, and status as of a past date.

    python -m tests.bench.replay            # embedded PostgreSQL, or DATABASE_URL when set

One fresh migrated database, dropped afterwards. The log is generated with `EventStore.bulk_import` in
chunks: 20 towns, the default standard, 1,000 communities each with 8 years or so of monthly activity
(disclosures, meetings, trainings, reports and their closures, quarterly spot checks with findings and
rectifications, rule revisions, corrections, duty reports, recognitions, a few transfers and renames), and
one of them, the big one, with 10,000 events. Then `vacuum (freeze, analyze)`, a checkpoint, and one
untimed pass over the log, so every timed read below finds the same warm, settled pages. The log is built
once; the timed phases are repeated on it.

  raw      the baseline: the rebuild's own read, raw — the `read_payloads` query (position, type, schema
           version, payload as text; log order) run page by page with the rebuild's page size (PAGE) and
           paging (after the last position of the previous page) on one application-role connection of the
           same pool, rows fetched and dropped.
  rebuild  `service.read.projector.rebuild(pool, CATALOGUE, batch_size=PAGE)`: read, decode, fold, write
           every entity's facts into a new generation and switch (the switch's one look for events that
           arrived meanwhile finds none). Timed end to end; its progress callback splits read+decode+fold
           from the write and switch.

  The two alternate, three rounds (raw, rebuild, raw, rebuild, raw, rebuild), each run after
  `vacuum (analyze) facts` and a checkpoint, so no run pays for the previous one's dead rows or dirty pages.
  Each phase's figure is the median of its three runs; the ratio is the ratio of the medians.

  status   the big community's status now (`evaluate(facts, standard, today)`) against its status as of a
           past date (`evaluate(facts.up_to(mid), standard_on(past), past)`, `mid` the position of its
           5,000th event and `past` that event's month), each timed as a request the service would serve:
             warm  `ReadModel.world()` (one checkpoint query, the World cached), look-ups, [up_to], evaluate
             rows  the community's and the standards' rows read from `facts` (`load_facts`), decoded with
                   `world_from_rows`, + look-ups + [up_to] + evaluate: what a request costs with no cache
           Now and past alternate request by request; a run is WARM_REQUESTS pairs of warm requests then
           ROW_REQUESTS pairs of rows requests, with their parts (load, up_to, evaluate) timed on their own,
           and each figure is the p50 of its run. Three runs; the figures are the medians of their p50s,
           and past/now is the ratio of those medians.

Human-readable lines go out as each run ends; the last line is one JSON object for scripts to read.
Targets are reported, never enforced: a miss is information, not a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeAlias

import asyncpg

from events.catalogue import CATALOGUE
from events.codec import JSON
from events.disclosure import Channel, DisclosureCategory, DisclosureCorrected, DisclosurePublished
from events.hierarchy import (
    CommunityKind,
    CommunityRegistered,
    CommunityRenamed,
    CommunityTransferred,
    TownKind,
    TownRegistered,
)
from events.recognition import DemonstrationPointDesignated, DutyReportFiled, LeadingTalentRecognized, Level
from events.registry import Event
from events.rules import RuleDocument, RuleRevised
from events.sealing import Opening
from events.supervision import (
    Finding,
    FindingRectified,
    MeetingHeld,
    MeetingKind,
    ReportClosed,
    ReportReceived,
    SpotCheckRecorded,
)
from events.training import TrainingHeld, TrainingKind
from projections.community import World
from projections.evaluation import Status, evaluate
from projections.localtime import local_date
from projections.standards import DEFAULT_STANDARD
from service.log.pool import create_pool
from service.log.queries import query as log_query
from service.log.store import EventStore
from service.read.projector import NAME, rebuild, world_from_rows
from service.read.queries import query
from service.read.readmodel import ReadModel
from tests.support.domain import digest
from tests.support.pg import in_fresh_database, server_settings
from tests.support.sealing import openings, sealed

EVENTS = 1_000_000
TOWNS = 20
COMMUNITIES = 1_000  # the big one included
BIG_EVENTS = 10_000
# The big community does ten communities' monthly activity (one more every fifth month), so it reaches
# BIG_EVENTS in the last months, before the log ends.
BIG_LANES = 10
MONTHS = 101
IMPORT_CHUNK = 50_000
PAGE = 5_000  # rebuild()'s default batch size, and the baseline's page size
ROUNDS = 3  # runs of each timed phase, alternating; the figures are their medians
WARM_REQUESTS = 200
ROW_REQUESTS = 30
TARGETS = {"rebuild_over_raw": 0.3, "past_over_current": 3.0}

BIG = "c0000"
# What a status request for the big community reads when it reads rows: its facts and the standard's.
STATUS_KEYS = (["community", "standard"], [BIG, str(DEFAULT_STANDARD.version)])
_TOWN_NAMES = ("古塘", "白沙路", "浒山", "宗汉", "坎墩", "周巷", "观海卫", "龙山", "掌起", "附海")
_COMMUNITY_NAMES = ("舒苑", "宝石", "翠苑", "文鼎苑", "桂花城", "运河湾", "杨家牌楼", "青莲", "孙塘", "三北")
_RULE_DOCUMENTS = (
    RuleDocument.RESIDENTS_CONVENTION,
    RuleDocument.AUTONOMY_CHARTER,
    RuleDocument.MICRO_POWER_LIST,
    RuleDocument.BURDEN_REDUCTION_LIST,
)
_TRAININGS = tuple(TrainingKind)

Entry: TypeAlias = tuple[str, Event, Mapping[str, JSON], tuple[Opening, ...]]


# -- the log ---------------------------------------------------------------------------------------------


def month_start(first: date, k: int) -> date:
    months = first.year * 12 + first.month - 1 + k
    return date(months // 12, months % 12 + 1, 1)


def town_id(n: int) -> str:
    return f"t{n % TOWNS:02d}"


def community_id(n: int) -> str:
    return f"c{n:04d}"


@dataclass(slots=True)
class Log:
    """The generated log, in the order it is imported; counts and the big community's midpoint as it goes.

    Positions are 1.. in this order (one importer into an empty log), so the index of an entry is its
    position minus one.
    """

    first_month: date
    emitted: int = 0
    big_events: int = 0
    mid_position: int = 0  # the position of the big community's (BIG_EVENTS // 2)-th event
    mid_date: date | None = None  # the month that event belongs to
    by_type: dict[str, int] = field(default_factory=dict)

    def entries(self) -> Iterator[Entry]:
        for entry in self._all():
            self.emitted += 1
            name = type(entry[1]).__name__
            self.by_type[name] = self.by_type.get(name, 0) + 1
            yield entry

    def _all(self) -> Iterator[Entry]:
        first = self.first_month
        for t in range(TOWNS):
            name = (
                f"{_TOWN_NAMES[t % len(_TOWN_NAMES)]}{'街道' if t % 2 else '镇'}{t // len(_TOWN_NAMES) or ''}"
            )
            town = TownRegistered(
                town_id=town_id(t),
                city_id="cixi",
                name=name,
                kind=TownKind.SUBDISTRICT if t % 2 else TownKind.TOWN,
                registered_on=first,
            )
            yield (f"town-{town_id(t)}", town, {"actor": "import"}, ())
        yield ("standard-main", DEFAULT_STANDARD, {"actor": "import"}, ())
        for n in range(COMMUNITIES):
            village = n % 4 == 0
            base = _COMMUNITY_NAMES[n % len(_COMMUNITY_NAMES)]
            registered = CommunityRegistered(
                community_id=community_id(n),
                town_id=town_id(n),
                name=f"{base}{n}{'村' if village else '社区'}",
                kind=CommunityKind.VILLAGE if village else CommunityKind.COMMUNITY,
                registered_on=first,
            )
            yield self._count(n, (f"community-{community_id(n)}", registered, {"actor": "import"}, ()))
        for k in range(MONTHS):
            for n in range(COMMUNITIES):
                for lane in range((BIG_LANES + (k % 5 == 0)) if n == 0 else 1):
                    for event in month_events(n, lane, first, k):
                        if n == 0 and self.big_events >= BIG_EVENTS:
                            break
                        meta: Mapping[str, JSON] = {"actor": f"clerk-{(n * 7 + k) % 400:04d}"}
                        entry = (f"community-{community_id(n)}", event, meta, openings(event))
                        yield self._count(n, entry, month_start(first, k))

    def _count(self, n: int, entry: Entry, month: date | None = None) -> Entry:
        if n == 0:
            self.big_events += 1
            if self.big_events == BIG_EVENTS // 2:
                self.mid_position = self.emitted + 1
                self.mid_date = month
        return entry


def month_events(n: int, lane: int, first: date, k: int) -> list[Event]:
    """Community n's activity in month k (about ten events); `lane` > 0 is more of the same, other ids."""
    cid = community_id(n)
    start = month_start(first, k)
    y, m = start.year, start.month
    tag = f"{y}{m:02d}" + (f"-{lane}" if lane else "")
    day = 3 + (n + lane) % 20

    def on(offset: int) -> date:
        return start + timedelta(days=min(day + offset, 27))

    def disclose(category: DisclosureCategory, period: str, offset: int) -> DisclosurePublished:
        return DisclosurePublished(
            community_id=cid,
            disclosure_id=f"{cid}-{category.value}-{period}" + (f"-{lane}" if lane else ""),
            category=category,
            period=period,
            channel=Channel.ONLINE if (n + k) % 3 == 0 else Channel.NOTICE_BOARD,
            published_on=on(offset),
            title=f"{period} {category.value} 公开",
            digest=digest(f"{cid}/{category}/{period}/{lane}"),
        )

    previous = month_start(first, k - 1)
    events: list[Event] = [
        disclose(DisclosureCategory.FINANCE, f"{previous.year}-{previous.month:02d}", 0),
        disclose(DisclosureCategory.RESIDENTS_AFFAIRS, f"{previous.year}-{previous.month:02d}", 1),
        disclose(DisclosureCategory.PARTY_AFFAIRS, f"{previous.year}-{previous.month:02d}", 2),
        MeetingHeld(
            community_id=cid,
            meeting_id=f"{cid}-rep-{tag}",
            kind=MeetingKind.REPRESENTATIVES,
            held_on=on(3),
            attendees=25 + n % 20,
            topics=("财务收支", "民生实事"),
        ),
        MeetingHeld(
            community_id=cid,
            meeting_id=f"{cid}-council-{tag}",
            kind=MeetingKind.COUNCIL,
            held_on=on(5),
            attendees=12,
        ),
        TrainingHeld(
            community_id=cid,
            training_id=f"{cid}-training-{tag}",
            kind=_TRAININGS[(k + lane) % len(_TRAININGS)],
            held_on=on(4),
            title="清廉教育",
            attendees=30 + n % 15,
            hours=1.5 if k % 2 else 2.0,
        ),
        ReportReceived(
            community_id=cid,
            report_id=f"{cid}-report-{tag}",
            received_on=on(1),
            channel="hotline",
            summary=sealed("summary", "反映公开栏信息未及时更新"),
            reporter_ref=None if k % 2 else f"ref-{n}-{k}",
        ),
    ]
    if k > 0:
        last = f"{previous.year}{previous.month:02d}" + (f"-{lane}" if lane else "")
        events.append(
            ReportClosed(
                community_id=cid,
                report_id=f"{cid}-report-{last}",
                closed_on=on(6),
                outcome=sealed("outcome", "已核实处理"),
            )
        )
    if m % 3 == 0:
        findings = tuple(
            Finding(finding_id=f"{cid}-check-{tag}-{i}", summary="台账不全") for i in range(1 + (n + k) % 2)
        )
        events.append(
            SpotCheckRecorded(
                community_id=cid,
                check_id=f"{cid}-check-{tag}",
                checked_on=on(7),
                checked_by="市纪委",
                findings=findings,
            )
        )
    if m % 3 == 1 and k > 0:
        checked = f"{previous.year}{previous.month:02d}" + (f"-{lane}" if lane else "")
        for i in range(1 + (n + k - 1) % 2):
            events.append(
                FindingRectified(
                    community_id=cid,
                    finding_id=f"{cid}-check-{checked}-{i}",
                    rectified_on=on(8),
                    note=sealed("note", "已整改"),
                )
            )
        quarter = (previous.month - 1) // 3 + 1
        events.append(disclose(DisclosureCategory.MAJOR_MATTER, f"{previous.year}-Q{quarter}", 9))
    if m == 1:
        events.append(disclose(DisclosureCategory.ANNUAL_PLAN, str(y), 10))
        events.append(
            DutyReportFiled(community_id=cid, year=y - 1, filed_on=on(11), reporter_role="社区书记")
        )
    if m in (2, 5, 8, 11):
        document = _RULE_DOCUMENTS[(m - 2) // 3]
        events.append(
            RuleRevised(
                community_id=cid,
                document=document,
                version=y * 10 + lane,
                adopted_on=on(12),
                adopted_by="居民代表会议",
                digest=digest(f"{cid}/{document}/{y}/{lane}"),
                summary=f"{document.value} {y} 年修订",
            )
        )
    if m % 6 == 3:
        events.append(
            DisclosureCorrected(
                community_id=cid,
                corrects=f"{cid}-finance-{previous.year}-{previous.month:02d}" + (f"-{lane}" if lane else ""),
                corrected_on=on(13),
                title="更正",
                digest=digest(f"{cid}/correction/{tag}"),
                reason="金额录入有误",
            )
        )
    if k % 12 == 6:
        events.append(
            LeadingTalentRecognized(
                community_id=cid, person_ref=f"person-{n}-{k}-{lane}", level=Level.CITY, recognized_on=on(14)
            )
        )
    if k % 24 == 18 and n % 3 == 0:
        events.append(
            DemonstrationPointDesignated(
                community_id=cid, level=Level.PREFECTURE, designated_on=on(15), title="清廉社区示范点"
            )
        )
    if k == 40 and n % 50 == 7:
        events.append(
            CommunityTransferred(
                community_id=cid, from_town_id=town_id(n), to_town_id=town_id(n + 1), effective_on=on(16)
            )
        )
    if k == 60 and n % 100 == 11:
        events.append(CommunityRenamed(community_id=cid, name=f"新{n}社区", effective_on=on(17)))
    return events


async def generate(url: str, log: Log) -> float:
    """Import EVENTS events in chunks; return the seconds it took (building the events included)."""
    pool = await create_pool(url, None, min_size=1, max_size=2)
    store = EventStore(pool, CATALOGUE)
    entries = log.entries()
    began = time.perf_counter()
    try:
        imported = 0
        while imported < EVENTS:
            chunk = list(itertools.islice(entries, min(IMPORT_CHUNK, EVENTS - imported)))
            if not chunk:
                raise RuntimeError(f"the generator ran dry at {imported:,} events; raise MONTHS")
            result = await store.bulk_import(chunk, idempotency_key=f"bench-replay-{imported}")
            assert result.first_position == imported + 1, "positions follow the import order"
            imported += result.event_count
    finally:
        await store.close()
        await pool.close()
    return time.perf_counter() - began


# -- timing ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Samples:
    seconds: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.seconds.append(seconds)

    def p50_ms(self) -> float:
        return statistics.median(self.seconds) * 1000 if self.seconds else 0.0

    def p90_ms(self) -> float:
        if len(self.seconds) < 2:
            return self.p50_ms()
        return statistics.quantiles(self.seconds, n=10)[8] * 1000


async def timed(samples: Samples, work: Callable[[], Awaitable[Any]]) -> Any:
    began = time.perf_counter()
    result = await work()
    samples.seconds.append(time.perf_counter() - began)
    return result


async def settle(owner_url: str) -> None:
    """Vacuum (sets hint bits and the visibility map, as a settled table has) and flush dirty pages."""
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.execute("vacuum (freeze, analyze) events")
        await conn.execute("checkpoint")
    finally:
        await conn.close()


async def quiesce(owner_url: str) -> None:
    """Before each timed run: the generation a rebuild dropped vacuumed away and dirty pages flushed, so
    neither autovacuum nor the checkpointer works on a run's clock for the run before."""
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.execute("vacuum (analyze) facts")
        await conn.execute("checkpoint")
    finally:
        await conn.close()


async def raw_read(pool: asyncpg.Pool) -> tuple[int, float]:
    """Every row of the log through the rebuild's read query and paging, fetched and dropped; (rows, s)."""
    rows = 0
    position = 0
    async with pool.acquire() as conn:
        began = time.perf_counter()
        while page := await conn.fetch(log_query("read_payloads"), position, PAGE):
            rows += len(page)
            position = page[-1][0]
        return rows, time.perf_counter() - began


@dataclass(slots=True)
class Rebuilt:
    events: int
    seconds: float
    fold_seconds: float  # until the last progress call: read, decode and fold of the whole log
    generation: int

    @property
    def write_seconds(self) -> float:
        """After the fold: the facts written into the new generation and the switch."""
        return self.seconds - self.fold_seconds


async def timed_rebuild(pool: asyncpg.Pool) -> Rebuilt:
    last_progress = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_progress
        last_progress = time.perf_counter()

    began = time.perf_counter()
    checkpoint = await rebuild(pool, CATALOGUE, batch_size=PAGE, progress=progress)
    ended = time.perf_counter()
    return Rebuilt(checkpoint.position, ended - began, last_progress - began, checkpoint.generation)


@dataclass(slots=True)
class StatusTimes:
    warm_current: Samples = field(default_factory=Samples)
    warm_past: Samples = field(default_factory=Samples)
    rows_current: Samples = field(default_factory=Samples)
    rows_past: Samples = field(default_factory=Samples)
    warm_load: Samples = field(default_factory=Samples)
    rows_load: Samples = field(default_factory=Samples)
    up_to: Samples = field(default_factory=Samples)
    evaluate_current: Samples = field(default_factory=Samples)
    evaluate_past: Samples = field(default_factory=Samples)


def status_now(world: World, today: date) -> Status:
    return evaluate(world.communities[BIG], world.standard_on(today), today)


def status_then(world: World, mid: int, past: date) -> Status:
    return evaluate(world.communities[BIG].up_to(mid), world.standard_on(past), past)


async def big_from_rows(pool: asyncpg.Pool) -> World:
    """The big community and the standard, read from the live generation of `facts` (one snapshot)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        row = await conn.fetchrow(query("checkpoint"), NAME)
        assert row is not None
        loaded = await conn.fetch(query("load_facts"), row["generation"], *STATUS_KEYS)
    return world_from_rows((r["entity"], r["entity_id"], r["body"]) for r in loaded)


async def status_latency(
    pool: asyncpg.Pool, read_model: ReadModel, mid: int, past: date, today: date
) -> StatusTimes:
    times = StatusTimes()
    # Warm-up: the rules are parsed once per standard (lru_cache), as in a running service.
    world = await read_model.world()
    now_status, then_status = status_now(world, today), status_then(world, mid, past)
    assert then_status.position == mid < now_status.position

    async def warm_now() -> Status:
        return status_now(await read_model.world(), today)

    async def warm_then() -> Status:
        return status_then(await read_model.world(), mid, past)

    async def rows_now() -> Status:
        return status_now(await big_from_rows(pool), today)

    async def rows_then() -> Status:
        return status_then(await big_from_rows(pool), mid, past)

    for _ in range(WARM_REQUESTS):
        assert now_status == await timed(times.warm_current, warm_now)
        assert then_status == await timed(times.warm_past, warm_then)
        # The parts, one at a time.
        world = await timed(times.warm_load, read_model.world)
        facts = world.communities[BIG]
        standard_now, standard_then = world.standard_on(today), world.standard_on(past)
        began = time.perf_counter()
        earlier = facts.up_to(mid)
        times.up_to.add(time.perf_counter() - began)
        began = time.perf_counter()
        evaluate(facts, standard_now, today)
        times.evaluate_current.add(time.perf_counter() - began)
        began = time.perf_counter()
        evaluate(earlier, standard_then, past)
        times.evaluate_past.add(time.perf_counter() - began)
    for _ in range(ROW_REQUESTS):
        assert now_status == await timed(times.rows_current, rows_now)
        assert then_status == await timed(times.rows_past, rows_then)
        await timed(times.rows_load, lambda: big_from_rows(pool))
    return times


# -- the run ---------------------------------------------------------------------------------------------


async def server_facts(url: str) -> dict[str, Any]:
    return dict(
        await server_settings(
            url, ("server_version", "synchronous_commit", "fsync", "shared_buffers", "work_mem")
        )
    )


async def main() -> dict[str, Any]:
    return await in_fresh_database(run_all)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


async def run_all(url: str) -> dict[str, Any]:
    facts = await server_facts(url)
    print(
        f"PostgreSQL {facts['server_version']} (shared_buffers={facts['shared_buffers']}, "
        f"synchronous_commit={facts['synchronous_commit']}); Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    today = local_date(datetime.now(UTC))
    log = Log(first_month=month_start(date(today.year, today.month, 1), -MONTHS))
    generate_seconds = await generate(url, log)
    assert log.mid_date is not None
    assert BIG_EVENTS == log.big_events, f"the big community has {log.big_events:,} events; raise BIG_LANES"
    print(
        f"generated {EVENTS:,} events in {generate_seconds:.1f} s ({rate(EVENTS, generate_seconds):,.0f}/s): "
        f"{TOWNS} towns, {COMMUNITIES:,} communities, {BIG} with {log.big_events:,} events; months from "
        f"{log.first_month.isoformat()}",
        flush=True,
    )
    print("  " + ", ".join(f"{k} {v:,}" for k, v in sorted(log.by_type.items(), key=lambda kv: -kv[1])))

    began = time.perf_counter()
    await settle(url)
    conn = await asyncpg.connect(url)
    try:
        events_mb = await conn.fetchval("select pg_total_relation_size('events') / 1048576")
    finally:
        await conn.close()
    pool = await create_pool(url, None, min_size=1, max_size=2)
    try:
        warm_rows, _ = await raw_read(pool)  # untimed: every page read once before any timed read
        assert EVENTS == warm_rows
        print(
            f"vacuumed, checkpointed and read once in {time.perf_counter() - began:.1f} s ({events_mb:,} MB)"
        )

        raws: list[float] = []
        rebuilds: list[Rebuilt] = []
        for round_ in range(1, ROUNDS + 1):
            await quiesce(url)
            rows, seconds = await raw_read(pool)
            assert EVENTS == rows
            raws.append(seconds)
            print(
                f"raw     {round_}/{ROUNDS} {EVENTS:>9,} rows   in {seconds:6.2f} s = "
                f"{rate(EVENTS, seconds):>9,.0f} rows/s",
                flush=True,
            )
            await quiesce(url)
            rebuilt = await timed_rebuild(pool)
            assert EVENTS == rebuilt.events
            rebuilds.append(rebuilt)
            print(
                f"rebuild {round_}/{ROUNDS} {rebuilt.events:>9,} events in {rebuilt.seconds:6.2f} s = "
                f"{rate(rebuilt.events, rebuilt.seconds):>9,.0f} events/s   (read+decode+fold "
                f"{rebuilt.fold_seconds:.2f} s, write facts+switch {rebuilt.write_seconds:.2f} s)",
                flush=True,
            )
        raw_seconds = statistics.median(raws)
        rebuild_seconds = statistics.median(r.seconds for r in rebuilds)
        fold_seconds = statistics.median(r.fold_seconds for r in rebuilds)
        write_seconds = statistics.median(r.write_seconds for r in rebuilds)
        raw_rate, rebuild_rate = rate(EVENTS, raw_seconds), rate(EVENTS, rebuild_seconds)
        ratio_rebuild = rebuild_rate / raw_rate if raw_rate else 0.0
        print(
            f"medians of {ROUNDS}: raw {raw_seconds:.2f} s = {raw_rate:,.0f} rows/s, rebuild "
            f"{rebuild_seconds:.2f} s = {rebuild_rate:,.0f} events/s (read+decode+fold {fold_seconds:.2f} s, "
            f"write facts+switch {write_seconds:.2f} s); rebuild/raw = {ratio_rebuild:.3f} "
            f"(target >= {TARGETS['rebuild_over_raw']})",
            flush=True,
        )

        read_model = ReadModel(pool)
        began = time.perf_counter()
        world = await read_model.world()
        cold_world_seconds = time.perf_counter() - began
        big = world.communities[BIG]
        print(
            f"read model loaded cold in {cold_world_seconds:.1f} s ({len(world.communities):,} communities); "
            f"{BIG} holds {len(big.disclosures):,} disclosures, {len(big.meetings):,} meetings, "
            f"{len(big.trainings):,} trainings",
            flush=True,
        )
        mid, past = log.mid_position, log.mid_date
        runs = [await status_latency(pool, read_model, mid, past, today) for _ in range(ROUNDS)]
    finally:
        await pool.close()

    def p50s(part: str) -> list[float]:
        """Each run's p50 of one part, in ms."""
        samples: list[Samples] = [getattr(times, part) for times in runs]
        return [sample.p50_ms() for sample in samples]

    def p50(part: str) -> float:
        """The median over the runs of one part's p50, in ms."""
        return statistics.median(p50s(part))

    def shown(part: str) -> list[float]:
        return [round(ms, 3) for ms in p50s(part)]

    ratio_warm = p50("warm_past") / p50("warm_current") if p50("warm_current") else 0.0
    ratio_rows = p50("rows_past") / p50("rows_current") if p50("rows_current") else 0.0
    print(
        f"status of {BIG} now ({today.isoformat()}) vs as of {past.isoformat()} at position {mid:,}, "
        f"medians of {ROUNDS} runs' p50s (each run's p50s):",
        flush=True,
    )
    print(
        f"  warm read model: now {p50('warm_current'):7.2f} ms {shown('warm_current')}, "
        f"past {p50('warm_past'):7.2f} ms {shown('warm_past')}; "
        f"past/now = {ratio_warm:.2f} (target <= {TARGETS['past_over_current']})"
    )
    print(
        f"  rows from facts: now {p50('rows_current'):7.2f} ms {shown('rows_current')}, "
        f"past {p50('rows_past'):7.2f} ms {shown('rows_past')}; past/now = {ratio_rows:.2f}"
    )
    print(
        f"  parts: ReadModel.world() {p50('warm_load'):.3f} ms, load_facts+decode "
        f"{p50('rows_load'):.2f} ms, up_to {p50('up_to'):.2f} ms, evaluate now "
        f"{p50('evaluate_current'):.2f} ms, evaluate past {p50('evaluate_past'):.2f} ms",
        flush=True,
    )
    return {
        "events": EVENTS,
        "rounds": ROUNDS,
        "generate_events_per_s": round(rate(EVENTS, generate_seconds), 1),
        "raw_rows_per_s": round(raw_rate, 1),
        "rebuild_events_per_s": round(rebuild_rate, 1),
        "ratio_rebuild_over_raw": round(ratio_rebuild, 3),
        "raw_seconds": round(raw_seconds, 3),
        "raw_seconds_runs": [round(seconds, 3) for seconds in raws],
        "rebuild_seconds": round(rebuild_seconds, 3),
        "rebuild_seconds_runs": [round(r.seconds, 3) for r in rebuilds],
        "rebuild_fold_seconds": round(fold_seconds, 3),
        "rebuild_fold_seconds_runs": [round(r.fold_seconds, 3) for r in rebuilds],
        "rebuild_write_seconds": round(write_seconds, 3),
        "rebuild_write_seconds_runs": [round(r.write_seconds, 3) for r in rebuilds],
        "read_model_cold_seconds": round(cold_world_seconds, 3),
        "status_warm_current_p50_ms": round(p50("warm_current"), 3),
        "status_warm_current_p50_ms_runs": shown("warm_current"),
        "status_warm_past_p50_ms": round(p50("warm_past"), 3),
        "status_warm_past_p50_ms_runs": shown("warm_past"),
        "ratio_past_over_current": round(ratio_warm, 3),
        "status_rows_current_p50_ms": round(p50("rows_current"), 3),
        "status_rows_current_p50_ms_runs": shown("rows_current"),
        "status_rows_past_p50_ms": round(p50("rows_past"), 3),
        "status_rows_past_p50_ms_runs": shown("rows_past"),
        "ratio_rows_past_over_current": round(ratio_rows, 3),
        "read_model_world_p50_ms": round(p50("warm_load"), 3),
        "load_facts_decode_p50_ms": round(p50("rows_load"), 3),
        "up_to_p50_ms": round(p50("up_to"), 3),
        "evaluate_current_p50_ms": round(p50("evaluate_current"), 3),
        "evaluate_past_p50_ms": round(p50("evaluate_past"), 3),
        "targets": TARGETS,
        "met": {
            "rebuild_over_raw": ratio_rebuild >= TARGETS["rebuild_over_raw"],
            "past_over_current": ratio_warm <= TARGETS["past_over_current"],
        },
        "big_community_events": log.big_events,
        "mid_position": mid,
        "past_date": past.isoformat(),
        "today": today.isoformat(),
        "communities": COMMUNITIES,
        "towns": TOWNS,
        "page_size": PAGE,
        "events_table_mb": events_mb,
        "server_version": facts["server_version"],
        "shared_buffers": facts["shared_buffers"],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    summary = asyncio.run(main())
    print(json.dumps(summary, ensure_ascii=False), flush=True)
