"""Replay at scale: rebuilding the projections and catching them up from a log of 1,000,000 events, and a
community's status as of a date and as the log stood.

    python -m tests.bench.replay                   # embedded PostgreSQL, or DATABASE_URL when set
    python -m tests.bench.replay --events 50000    # a small run (the city scaled down with the log)

One fresh migrated database, dropped afterwards. The log is generated with `EventStore.bulk_import` in
chunks: 20 towns, the default standard, 1,000 communities each with 8 years or so of monthly activity
(disclosures, meetings, trainings, reports and their closures, quarterly spot checks with findings and
rectifications, rule revisions, corrections, duty reports, recognitions, a few transfers and renames), and
one of them, the big one, with 10,000 events. With `--events N` the communities and the big community's
events scale with N (N/1,000 communities, the big one with N/100 events). Then `vacuum (freeze, analyze)`,
a checkpoint, one untimed pass over the log, so every timed read below finds the same warm, settled pages,
and one untimed rebuild, so every timed run starts with one whole generation of the projections live.
The log is built once; the timed phases are repeated on it.

  raw       the baseline: the rebuild's own read, raw — the `read_payloads` query (position, type, schema
            version, payload as text; log order) run page by page with the rebuild's page size (PAGE) and
            paging (after the last position of the previous page) on one application-role connection of
            the same pool, rows fetched and dropped. The live projector reads the same query, in pages
            of its catch-up batch (CATCH_UP_BATCH).
  raw_all   a second baseline, for information: `read_all` (the whole stored envelope: canonical bytes,
            leaf hash, time …), the log's general read, which the live projector read until it read
            `read_payloads` as the rebuild does, page by page with the catch-up batch, fetched and dropped.
  rebuild   `service.read.projector.rebuild(pool, CATALOGUE, batch_size=PAGE)`: read, decode, the record
            tables' rows written by COPY into the next generation on a second connection (each write all
            the pages decoded since the previous one), towns and the standard folded; then their documents
            written, the switch, and the old generation's facts, records and status deleted. Timed end to
            end; its progress callback splits the batches from the rest.
  catch_up  the live projector after a bulk import: the checkpoint moved to a fresh generation at
            position 0 (its leftovers deleted first), then `Projector(pool, CATALOGUE).catch_up()` timed
            — batches of CATCH_UP_BATCH, each one transaction under the checkpoint's lock, as `serve`'s
            projector runs when it is far behind. The previous generation is deleted afterwards, untimed.

  The four alternate, ROUNDS rounds (raw, raw_all, rebuild, catch_up, raw, …), each run after `vacuum
  (analyze)` of the database and a checkpoint, so no run pays for the previous one's dead rows or dirty
  pages. Each phase's figure is the median of its runs; a ratio is the ratio of the medians.

  fresh     once, at the end, for comparison with catch_up (not alternated): a second fresh migrated
            database, the same log bulk-imported into it the same way, and right after the import, with no
            vacuum and no warm-up, `Projector.catch_up()` timed — what a projector meets after a bulk
            import into an empty database. Skipped with --no-fresh.

  keeper    after the rounds and a `vacuum (analyze)`: `StatusKeeper(pool).catch_up()`, timed once — every
            community of the live generation is pending, so it computes every community's segments.

  status    then, after another `vacuum (analyze)`, the big community's status through the GraphQL schema,
            in process (`SCHEMA.execute` with a `Context` of the service's parts, a fresh one per request
            as the endpoint makes, an anonymous caller; the service's JSON log line per operation rendered
            and discarded). Three requests, alternating request by request (each goes first in turn):
              current  community(id) { status { standardized score unmet { criterion } } }
              as_of    the same with asOf: the month of the big community's middle event
              known_at the same with knownAt: that event's position (as the log stood then, as of today)
            Every answer is checked against `evaluate` of the facts read directly. After WARM_UP untimed
            requests of each, a run is REQUESTS of each (--requests), then PART_REQUESTS of each part timed
            on its own: `read_facts` of the community as the log stands and at the middle position (a
            pooled connection, the query, the decoding), and `evaluate` for each request. Each figure is
            the p50 of its run; the figures reported are the medians of ROUNDS runs' p50s, and a ratio is
            the ratio of those medians.

Human-readable lines go out as each run ends; the last line is one JSON object for scripts to read.
Targets are reported, never enforced: a miss is information, not a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
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
from projections.access import ANONYMOUS
from projections.community import known_at
from projections.evaluation import Status, evaluate
from projections.facts import CommunityFacts
from projections.localtime import local_date
from projections.standards import DEFAULT_STANDARD
from schema.build import SCHEMA
from schema.context import Context, Services
from service.commands.handler import Commands
from service.log.pool import create_pool
from service.log.queries import query as log_query
from service.log.reads import Conn
from service.log.store import EventStore
from service.read.projector import CATCH_UP_BATCH, NAME, Projector, rebuild
from service.read.queries import query
from service.read.readmodel import ReadModel
from service.read.records import drop_records, read_facts
from service.read.status import StatusKeeper
from service.runtime.logging import configure_logging
from service.runtime.settings import Settings
from service.transparency.tree import LogTree
from tests.support.domain import digest
from tests.support.pg import create_migrated_database, drop_database, server_settings, server_url, unique_name
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
REQUESTS = 100  # status requests of each kind in a run
PART_REQUESTS = 30  # timings of each part in a run
WARM_UP = 5  # untimed requests of each kind before the first run
MIN_EVENTS = 10_000
TARGETS = {
    "rebuild_over_raw": 0.3,
    "catch_up_over_raw": 0.3,
    "as_of_over_current": 3.0,
    "known_at_over_current": 3.0,
}

BIG = "c0000"
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


@dataclass(frozen=True, slots=True)
class Size:
    """How much to generate: events in all, communities (the big one included), and the big one's events."""

    events: int = EVENTS
    communities: int = COMMUNITIES
    big_events: int = BIG_EVENTS


def size_for(events: int, first_month: date) -> Size:
    """The default city scaled to `events` (the default itself at EVENTS): events/1,000 communities, and
    events/100 for the big one — with at least enough communities for the log to reach `events`."""
    big = max(2, BIG_EVENTS * events // EVENTS)
    # The least any community does over MONTHS, its registration included.
    each = min(1 + sum(len(month_events(n, 0, first_month, k)) for k in range(MONTHS)) for n in range(1, 7))
    needed = 1 + math.ceil((events - big - TOWNS - 1) / each)
    return Size(events, max(round(COMMUNITIES * events / EVENTS), needed), big)


@dataclass(slots=True)
class Log:
    """The generated log, in the order it is imported; counts and the big community's midpoint as it goes.

    Positions are 1.. in this order (one importer into an empty log), so the index of an entry is its
    position minus one.
    """

    first_month: date
    size: Size = field(default_factory=Size)
    emitted: int = 0
    big_events: int = 0
    mid_position: int = 0  # the position of the big community's (size.big_events // 2)-th event
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
        for n in range(self.size.communities):
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
            for n in range(self.size.communities):
                for lane in range((BIG_LANES + (k % 5 == 0)) if n == 0 else 1):
                    for event in month_events(n, lane, first, k):
                        if n == 0 and self.big_events >= self.size.big_events:
                            break
                        meta: Mapping[str, JSON] = {"actor": f"clerk-{(n * 7 + k) % 400:04d}"}
                        entry = (f"community-{community_id(n)}", event, meta, openings(event))
                        yield self._count(n, entry, month_start(first, k))

    def _count(self, n: int, entry: Entry, month: date | None = None) -> Entry:
        if n == 0:
            self.big_events += 1
            if self.big_events == self.size.big_events // 2:
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
    """Import the log's events (`log.size.events`) in chunks; return the seconds it took (building the
    events included)."""
    pool = await create_pool(url, None, min_size=1, max_size=2)
    store = EventStore(pool, CATALOGUE)
    entries = log.entries()
    events = log.size.events
    began = time.perf_counter()
    try:
        imported = 0
        while imported < events:
            chunk = list(itertools.islice(entries, min(IMPORT_CHUNK, events - imported)))
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


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


async def settle(owner_url: str) -> None:
    """Vacuum (sets hint bits and the visibility map, as a settled table has) and flush dirty pages."""
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.execute("vacuum (freeze, analyze) events")
        await conn.execute("checkpoint")
    finally:
        await conn.close()


async def quiesce(owner_url: str) -> None:
    """Before each timed run: the rows a previous run deleted (an old generation's facts, records and
    status) vacuumed away, statistics fresh and dirty pages flushed, so neither autovacuum nor the
    checkpointer works on a run's clock for the run before."""
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.execute("vacuum (analyze)")
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


async def raw_read_all(pool: asyncpg.Pool) -> tuple[int, float]:
    """Every row of the log through `read_all`, the whole envelope, in pages of the catch-up batch, fetched
    and dropped; (rows, s)."""
    rows = 0
    position = 0
    async with pool.acquire() as conn:
        began = time.perf_counter()
        while page := await conn.fetch(log_query("read_all"), position, CATCH_UP_BATCH, None, None):
            rows += len(page)
            position = page[-1][0]
        return rows, time.perf_counter() - began


@dataclass(slots=True)
class Rebuilt:
    events: int
    seconds: float
    batches_seconds: float  # until the last progress call: read, decode, records written, towns folded
    generation: int

    @property
    def rest_seconds(self) -> float:
        """After the batches: the documents written, the switch, and the old generation deleted."""
        return self.seconds - self.batches_seconds


async def timed_rebuild(pool: asyncpg.Pool) -> Rebuilt:
    last_progress = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_progress
        last_progress = time.perf_counter()

    began = time.perf_counter()
    checkpoint = await rebuild(pool, CATALOGUE, batch_size=PAGE, progress=progress)
    ended = time.perf_counter()
    return Rebuilt(checkpoint.position, ended - began, last_progress - began, checkpoint.generation)


async def drop_generation(conn: Conn, generation: int) -> None:
    """Everything the projections hold for one generation, deleted as `rebuild` deletes it."""
    await conn.execute(query("drop_generation"), generation)
    await drop_records(conn, generation)
    await conn.execute(query("drop_status_generation"), generation)
    await conn.execute(query("drop_status_pending_generation"), generation)


async def fresh_generation(pool: asyncpg.Pool) -> tuple[int, int]:
    """Point the projection's checkpoint at a fresh generation at position 0, as an empty database's is
    before its first catch-up; (the old generation, the new one)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(query("checkpoint_for_update"), NAME)
        assert row is not None
        old = row["generation"]
        await drop_generation(conn, old + 1)  # leftovers, if any
        await conn.execute(query("advance_checkpoint"), NAME, old + 1, 0)
    return old, old + 1


async def timed_catch_up(pool: asyncpg.Pool) -> tuple[int, float]:
    """`Projector.catch_up()` from wherever the checkpoint stands; (events applied, s)."""
    began = time.perf_counter()
    applied = await Projector(pool, CATALOGUE).catch_up()
    return applied, time.perf_counter() - began


# -- status through the API ------------------------------------------------------------------------------

CURRENT, AS_OF, KNOWN_AT = "current", "as_of", "known_at"
KINDS = (CURRENT, AS_OF, KNOWN_AT)
PARTS = ("read_now", "read_mid", "evaluate_current", "evaluate_as_of", "evaluate_known_at")


def status_document(kind: str, past: date, mid: int) -> str:
    arguments = {CURRENT: "", AS_OF: f', asOf: "{past.isoformat()}"', KNOWN_AT: f", knownAt: {mid}"}[kind]
    return (
        f'{{ community(id: "{BIG}"{arguments}) {{ status {{ standardized score unmet {{ criterion }} }} }} }}'
    )


def status_answer(status: Status) -> dict[str, Any]:
    """What the document asks of a status, as the API answers it."""
    return {
        "standardized": status.standardized,
        "score": status.score,
        "unmet": [{"criterion": u.criterion_id} for u in status.unmet],
    }


@dataclass(slots=True)
class StatusRun:
    requests: dict[str, Samples] = field(default_factory=lambda: {kind: Samples() for kind in KINDS})
    parts: dict[str, Samples] = field(default_factory=lambda: {part: Samples() for part in PARTS})


@dataclass(slots=True)
class StatusBench:
    """The service's parts for executing operations in process, as `serve` builds them, and what each
    status request must answer."""

    pool: asyncpg.Pool
    services: Services
    documents: dict[str, str]
    expected: dict[str, dict[str, Any]]
    generation: int
    position: int
    mid: int
    past: date
    today: date
    requests: int = REQUESTS
    part_requests: int = PART_REQUESTS

    async def request(self, kind: str) -> dict[str, Any]:
        """One operation, as the API's endpoint runs it: a fresh context (and loaders), the schema."""
        context = Context(services=self.services, principal=ANONYMOUS, request_id="bench-replay")
        result = await SCHEMA.execute(self.documents[kind], context_value=context)
        assert result.errors is None, result.errors
        assert result.data is not None
        status: dict[str, Any] = result.data["community"]["status"]
        return status

    async def read(self, known: int) -> CommunityFacts:
        """The community's facts from the record tables, as the API's loader reads them."""
        async with self.pool.acquire() as conn:
            found = await read_facts(conn, self.generation, [BIG], known)
        return found[BIG]

    async def run(self) -> StatusRun:
        times = StatusRun()
        for i in range(self.requests):
            # Each kind goes first as often as the others.
            for kind in KINDS[i % 3 :] + KINDS[: i % 3]:
                began = time.perf_counter()
                answer = await self.request(kind)
                times.requests[kind].add(time.perf_counter() - began)
                assert answer == self.expected[kind], (kind, answer, self.expected[kind])
        world = await self.services.read_model.world()
        then = known_at(world, self.mid)
        for _ in range(self.part_requests):
            now_facts = await timed(times.parts["read_now"], lambda: self.read(self.position))
            mid_facts = await timed(times.parts["read_mid"], lambda: self.read(self.mid))
            for part, facts, standard_world, on in (
                ("evaluate_current", now_facts, world, self.today),
                ("evaluate_as_of", now_facts, world, self.past),
                ("evaluate_known_at", mid_facts, then, self.today),
            ):
                began = time.perf_counter()
                evaluate(facts, standard_world.standard_on(on), on)
                times.parts[part].add(time.perf_counter() - began)
        return times


async def status_bench(
    pool: asyncpg.Pool, store: EventStore, mid: int, past: date, today: date
) -> StatusBench:
    services = Services(
        store=store,
        commands=Commands(store, CATALOGUE),
        projector=Projector(pool, CATALOGUE),
        read_model=ReadModel(pool),
        registry=CATALOGUE,
        tree=LogTree(pool),
        pool=pool,
    )
    checkpoint, world = await services.read_model.snapshot()
    async with pool.acquire() as conn:
        now_facts = (await read_facts(conn, checkpoint.generation, [BIG], checkpoint.position))[BIG]
        mid_facts = (await read_facts(conn, checkpoint.generation, [BIG], mid))[BIG]
    # What each request must answer, evaluated here from the same facts.
    then = known_at(world, mid)
    current = evaluate(now_facts, world.standard_on(today), today)
    as_of = evaluate(now_facts, world.standard_on(past), past)
    known = evaluate(mid_facts, then.standard_on(today), today)
    assert mid_facts.position == mid < now_facts.position, (mid_facts.position, mid, now_facts.position)
    return StatusBench(
        pool=pool,
        services=services,
        documents={kind: status_document(kind, past, mid) for kind in KINDS},
        expected={
            CURRENT: status_answer(current),
            AS_OF: status_answer(as_of),
            KNOWN_AT: status_answer(known),
        },
        generation=checkpoint.generation,
        position=checkpoint.position,
        mid=mid,
        past=past,
        today=today,
    )


# -- the run ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    events: int = EVENTS
    requests: int = REQUESTS
    fresh: bool = True


async def server_facts(url: str) -> dict[str, Any]:
    return dict(
        await server_settings(
            url, ("server_version", "synchronous_commit", "fsync", "shared_buffers", "work_mem")
        )
    )


def service_logging() -> None:
    """Logging as `serve` sets it up (JSON lines): the line each operation logs is rendered, as it is in the
    service, and discarded; warnings and errors still reach stderr."""
    configure_logging(Settings(data_dir=Path(tempfile.gettempdir()), log_format="json"))
    root = logging.getLogger()
    rendered = root.handlers[0]
    assert isinstance(rendered, logging.StreamHandler)
    rendered.setStream(open(os.devnull, "w"))  # noqa: SIM115 — kept open for the process's life
    shown = logging.StreamHandler()
    shown.setLevel(logging.WARNING)
    shown.setFormatter(rendered.formatter)
    root.addHandler(shown)


async def main(options: Options | None = None) -> dict[str, Any]:
    """The benchmark on a fresh migrated database of this run's server, dropped afterwards."""
    options = options or Options()
    service_logging()
    with server_url() as admin_url:
        name = unique_name("qinglian_bench")
        url = await create_migrated_database(admin_url, name)
        try:
            return await run_all(admin_url, url, options)
        finally:
            await drop_database(admin_url, name)


@dataclass(slots=True)
class Fresh:
    import_seconds: float
    events: int
    seconds: float


async def fresh_catch_up(admin_url: str, first_month: date, size: Size) -> Fresh:
    """The same log imported into a second fresh database, then the projector's catch-up timed at once."""
    name = unique_name("qinglian_bench_fresh")
    url = await create_migrated_database(admin_url, name)
    try:
        log = Log(first_month=first_month, size=size)
        import_seconds = await generate(url, log)
        pool = await create_pool(url, None, min_size=1, max_size=2)
        try:
            applied, seconds = await timed_catch_up(pool)
        finally:
            await pool.close()
        assert size.events == applied
        return Fresh(import_seconds, applied, seconds)
    finally:
        await drop_database(admin_url, name)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def shown(values: list[float], digits: int = 3) -> list[float]:
    return [round(v, digits) for v in values]


async def run_all(admin_url: str, url: str, options: Options) -> dict[str, Any]:
    facts = await server_facts(url)
    print(
        f"PostgreSQL {facts['server_version']} (shared_buffers={facts['shared_buffers']}, "
        f"synchronous_commit={facts['synchronous_commit']}); Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    today = local_date(datetime.now(UTC))
    first_month = month_start(date(today.year, today.month, 1), -MONTHS)
    size = size_for(options.events, first_month)
    events = size.events
    log = Log(first_month=first_month, size=size)
    generate_seconds = await generate(url, log)
    assert log.mid_date is not None
    assert size.big_events == log.big_events, f"{BIG} has {log.big_events:,} events; raise BIG_LANES"
    mid, past = log.mid_position, log.mid_date
    print(
        f"generated {events:,} events in {generate_seconds:.1f} s ({rate(events, generate_seconds):,.0f}/s): "
        f"{TOWNS} towns, {size.communities:,} communities, {BIG} with {log.big_events:,} events; months "
        f"from {first_month.isoformat()}",
        flush=True,
    )
    print("  " + ", ".join(f"{k} {v:,}" for k, v in sorted(log.by_type.items(), key=lambda kv: -kv[1])))

    began = time.perf_counter()
    await settle(url)
    owner = await asyncpg.connect(url)
    try:
        events_mb = await owner.fetchval("select pg_total_relation_size('events') / 1048576")
    finally:
        await owner.close()
    pool = await create_pool(url, None, min_size=1, max_size=2)
    store = EventStore(pool, CATALOGUE)
    try:
        warm_rows, _ = await raw_read(pool)  # untimed: every page read once before any timed read
        assert events == warm_rows
        first = await timed_rebuild(pool)  # untimed: every timed run starts with a whole generation live
        assert events == first.events
        print(
            f"vacuumed, checkpointed, read once and projected once (a rebuild, {first.seconds:.1f} s) in "
            f"{time.perf_counter() - began:.1f} s ({events_mb:,} MB of events)",
            flush=True,
        )

        raws: list[float] = []
        raw_alls: list[float] = []
        rebuilds: list[Rebuilt] = []
        catch_ups: list[float] = []
        for round_ in range(1, ROUNDS + 1):
            await quiesce(url)
            rows, seconds = await raw_read(pool)
            assert events == rows
            raws.append(seconds)
            print(
                f"raw      {round_}/{ROUNDS} {rows:>9,} rows   in {seconds:7.2f} s = "
                f"{rate(rows, seconds):>9,.0f} rows/s",
                flush=True,
            )
            await quiesce(url)
            rows, seconds = await raw_read_all(pool)
            assert events == rows
            raw_alls.append(seconds)
            print(
                f"raw_all  {round_}/{ROUNDS} {rows:>9,} rows   in {seconds:7.2f} s = "
                f"{rate(rows, seconds):>9,.0f} rows/s",
                flush=True,
            )
            await quiesce(url)
            rebuilt = await timed_rebuild(pool)
            assert events == rebuilt.events
            rebuilds.append(rebuilt)
            print(
                f"rebuild  {round_}/{ROUNDS} {rebuilt.events:>9,} events in {rebuilt.seconds:7.2f} s = "
                f"{rate(rebuilt.events, rebuilt.seconds):>9,.0f} events/s   (batches "
                f"{rebuilt.batches_seconds:.2f} s, documents+switch+old generation deleted "
                f"{rebuilt.rest_seconds:.2f} s)",
                flush=True,
            )
            old, _ = await fresh_generation(pool)
            await quiesce(url)
            applied, seconds = await timed_catch_up(pool)
            assert events == applied
            catch_ups.append(seconds)
            async with pool.acquire() as conn:
                await drop_generation(conn, old)
            print(
                f"catch_up {round_}/{ROUNDS} {applied:>9,} events in {seconds:7.2f} s = "
                f"{rate(applied, seconds):>9,.0f} events/s",
                flush=True,
            )
        raw_rate, raw_all_rate = rate(events, median(raws)), rate(events, median(raw_alls))
        rebuild_rate = rate(events, median([r.seconds for r in rebuilds]))
        catch_up_rate = rate(events, median(catch_ups))
        ratios = {
            "rebuild_over_raw": ratio(rebuild_rate, raw_rate),
            "catch_up_over_raw": ratio(catch_up_rate, raw_rate),
            "catch_up_over_raw_all": ratio(catch_up_rate, raw_all_rate),
        }
        print(
            f"medians of {ROUNDS}: raw {raw_rate:,.0f} rows/s, raw_all {raw_all_rate:,.0f} rows/s, rebuild "
            f"{rebuild_rate:,.0f} events/s, catch_up {catch_up_rate:,.0f} events/s; rebuild/raw = "
            f"{ratios['rebuild_over_raw']:.3f} (target >= {TARGETS['rebuild_over_raw']}), catch_up/raw = "
            f"{ratios['catch_up_over_raw']:.3f} (target >= {TARGETS['catch_up_over_raw']}), catch_up/raw_all "
            f"= {ratios['catch_up_over_raw_all']:.3f}",
            flush=True,
        )

        await quiesce(url)
        keeper = StatusKeeper(pool)
        pending = await keeper.pending()
        began = time.perf_counter()
        kept = await keeper.catch_up()
        keeper_seconds = time.perf_counter() - began
        async with pool.acquire() as conn:
            segments = await conn.fetchval(
                "select count(*) from status_segments where generation = "
                "(select generation from projection_checkpoints where name = $1)",
                NAME,
            )
        print(
            f"status keeper caught up: {kept:,} communities ({pending:,} pending) in {keeper_seconds:.1f} s, "
            f"{segments:,} segments stored",
            flush=True,
        )

        await quiesce(url)
        bench = await status_bench(pool, store, mid, past, today)
        bench.requests = options.requests
        for _ in range(WARM_UP):  # untimed: the document parsed and validated, the rules compiled
            for kind in KINDS:
                await bench.request(kind)
        runs: list[StatusRun] = []
        for run in range(1, ROUNDS + 1):
            times = await bench.run()
            runs.append(times)
            print(
                f"status   {run}/{ROUNDS} p50 of {bench.requests} each: "
                + ", ".join(f"{kind} {times.requests[kind].p50_ms():.2f} ms" for kind in KINDS)
                + "; parts: "
                + ", ".join(f"{part} {times.parts[part].p50_ms():.2f} ms" for part in PARTS),
                flush=True,
            )
    finally:
        await store.close()
        await pool.close()

    def p50s(kind: str) -> list[float]:
        return [times.requests[kind].p50_ms() for times in runs]

    def part_p50s(part: str) -> list[float]:
        return [times.parts[part].p50_ms() for times in runs]

    status_ms = {kind: median(p50s(kind)) for kind in KINDS}
    ratios["as_of_over_current"] = ratio(status_ms[AS_OF], status_ms[CURRENT])
    ratios["known_at_over_current"] = ratio(status_ms[KNOWN_AT], status_ms[CURRENT])
    print(
        f"status of {BIG} ({log.big_events:,} events), medians of {ROUNDS} runs' p50s: current "
        f"{status_ms[CURRENT]:.2f} ms; asOf {past.isoformat()} {status_ms[AS_OF]:.2f} ms "
        f"(as_of/current = {ratios['as_of_over_current']:.2f}); knownAt {mid:,} "
        f"{status_ms[KNOWN_AT]:.2f} ms (known_at/current = {ratios['known_at_over_current']:.2f}); "
        f"target <= {TARGETS['as_of_over_current']}",
        flush=True,
    )

    fresh = await fresh_catch_up(admin_url, first_month, size) if options.fresh else None
    if fresh is not None:
        ratios["fresh_catch_up_over_raw"] = ratio(rate(fresh.events, fresh.seconds), raw_rate)
        print(
            f"fresh database, once: imported in {fresh.import_seconds:.1f} s, then catch_up {fresh.events:,} "
            f"events in {fresh.seconds:.2f} s = {rate(fresh.events, fresh.seconds):,.0f} events/s "
            f"(over raw's median: {ratios['fresh_catch_up_over_raw']:.3f})",
            flush=True,
        )

    met = {
        name: ratios[name] >= target if name.endswith("_over_raw") else ratios[name] <= target
        for name, target in TARGETS.items()
    }
    missed = [name for name, ok in met.items() if not ok]
    print(f"targets missed: {', '.join(missed)}" if missed else "targets: all met", flush=True)
    return {
        "events": events,
        "communities": size.communities,
        "big_community_events": log.big_events,
        "rounds": ROUNDS,
        "generate_events_per_s": round(rate(events, generate_seconds), 1),
        "raw_rows_per_s": round(raw_rate, 1),
        "raw_all_rows_per_s": round(raw_all_rate, 1),
        "rebuild_events_per_s": round(rebuild_rate, 1),
        "catch_up_events_per_s": round(catch_up_rate, 1),
        "ratio_rebuild_over_raw": round(ratios["rebuild_over_raw"], 3),
        "ratio_catch_up_over_raw": round(ratios["catch_up_over_raw"], 3),
        "ratio_catch_up_over_raw_all": round(ratios["catch_up_over_raw_all"], 3),
        "raw_seconds_runs": shown(raws),
        "raw_all_seconds_runs": shown(raw_alls),
        "rebuild_seconds_runs": shown([r.seconds for r in rebuilds]),
        "rebuild_batches_seconds_runs": shown([r.batches_seconds for r in rebuilds]),
        "rebuild_rest_seconds_runs": shown([r.rest_seconds for r in rebuilds]),
        "catch_up_seconds_runs": shown(catch_ups),
        "catch_up_batch": CATCH_UP_BATCH,
        "fresh_import_seconds": round(fresh.import_seconds, 3) if fresh else None,
        "fresh_catch_up_seconds": round(fresh.seconds, 3) if fresh else None,
        "fresh_catch_up_events_per_s": round(rate(fresh.events, fresh.seconds), 1) if fresh else None,
        "ratio_fresh_catch_up_over_raw": round(ratios["fresh_catch_up_over_raw"], 3) if fresh else None,
        "status_keeper_seconds": round(keeper_seconds, 3),
        "status_keeper_communities": kept,
        "status_segments": segments,
        "status_requests_per_run": bench.requests,
        "status_current_p50_ms": round(status_ms[CURRENT], 3),
        "status_current_p50_ms_runs": shown(p50s(CURRENT)),
        "status_as_of_p50_ms": round(status_ms[AS_OF], 3),
        "status_as_of_p50_ms_runs": shown(p50s(AS_OF)),
        "status_known_at_p50_ms": round(status_ms[KNOWN_AT], 3),
        "status_known_at_p50_ms_runs": shown(p50s(KNOWN_AT)),
        "ratio_as_of_over_current": round(ratios["as_of_over_current"], 3),
        "ratio_known_at_over_current": round(ratios["known_at_over_current"], 3),
        **{f"{part}_p50_ms": round(median(part_p50s(part)), 3) for part in PARTS},
        **{f"{part}_p50_ms_runs": shown(part_p50s(part)) for part in PARTS},
        "targets": TARGETS,
        "met": met,
        "missed": missed,
        "as_of": past.isoformat(),
        "known_at": mid,
        "today": today.isoformat(),
        "towns": TOWNS,
        "page_size": PAGE,
        "events_table_mb": events_mb,
        "server_version": facts["server_version"],
        "shared_buffers": facts["shared_buffers"],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def options_from(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.replay", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--events",
        type=int,
        default=EVENTS,
        help=f"events in the log (default {EVENTS:,}; at least {MIN_EVENTS:,}); the city scales with it",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=REQUESTS,
        help=f"status requests of each kind per run (default {REQUESTS})",
    )
    parser.add_argument(
        "--no-fresh", action="store_true", help="skip the catch-up in a second, freshly imported database"
    )
    args = parser.parse_args(argv)
    if args.events < MIN_EVENTS:
        parser.error(f"--events must be at least {MIN_EVENTS:,}")
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    return Options(events=args.events, requests=args.requests, fresh=not args.no_fresh)


if __name__ == "__main__":
    summary = asyncio.run(main(options_from()))
    print(json.dumps(summary, ensure_ascii=False), flush=True)
