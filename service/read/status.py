"""Stored status: each community's segments (`projections/timeline.py`) kept up with its facts.

The projector marks a community pending, from the first day its new events can change anything (a
standard revision: every community, from its effective date); `StatusKeeper` takes the pending ones in
batches, recomputes their segments from that day to the horizon, and writes them, in one transaction a
batch. Replicas' keepers take different communities (SKIP LOCKED). While a community is pending, its
stored segments are behind its facts and a reader must use the facts.

The horizon is the last day stored: the end of next year (local time). Days after it are read from the
facts; a keeper extends every community's segments once the year turns.

With the segments, the keeper writes each recomputed community's disclosure years (`disclosure_years`:
the day each year's disclosures were complete), from the same marks, in the same transaction.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg
import structlog

from events.payloads import from_json
from projections.community import StandardVersion
from projections.coverage import disclosure_years
from projections.evaluation import Status
from projections.facts import CommunityFacts
from projections.localtime import local_date
from projections.timeline import Segment, extended, shape
from projections.unmet import Unmet
from service.log.clock import utc_now
from service.log.reads import Conn
from service.log.watcher import STATUS_CHANNEL, HeadWatcher
from service.read.projector import NAME, Projector
from service.read.queries import query
from service.read.records import read_facts

log = structlog.get_logger(__name__)

# Communities a batch recomputes: each a few to a few hundred evaluations.
BATCH = 50
# How long to wait for the projector to reach a new head before looking at what is pending anyway.
PROJECTOR_WAIT = 5.0


def horizon(today: date) -> date:
    """The last day the segments cover: the end of next year."""
    return date(today.year + 1, 12, 31)


def segment_rows(
    generation: int, community_id: str, segments: Iterable[Segment], known_from: int
) -> list[tuple[Any, ...]]:
    """The status_segments rows of one community's segments, known from the log position `known_from`,
    in COPY's column order (see COLUMNS)."""
    return [
        (
            generation,
            community_id,
            s.valid_from,
            s.valid_to,
            s.town_id,
            s.status.in_scope,
            s.status.standardized,
            s.status.score,
            s.status.standard_version,
            list(s.status.met),
            json.dumps(
                [
                    {
                        "criterion": u.criterion_id,
                        "kind": u.kind,
                        "since": u.since.isoformat() if u.since else None,
                    }
                    for u in s.status.unmet
                ],
                ensure_ascii=False,
            ),
            known_from,
        )
        for s in segments
    ]


COLUMNS = [
    "generation",
    "community_id",
    "valid_from",
    "valid_to",
    "town_id",
    "in_scope",
    "standardized",
    "score",
    "standard_version",
    "met",
    "unmet",
    "position",
]

YEAR_COLUMNS = ["generation", "community_id", "year", "town_id", "disclosed_on", "position"]


def segment_of(row: asyncpg.Record) -> Segment:
    """A stored segment read back: its status holds what the segment keeps constant (`shape`), and no
    wording, which only `evaluate` on a given day gives."""
    unmet = tuple(
        Unmet(u["criterion"], u["kind"], date.fromisoformat(u["since"]) if u["since"] else None)
        for u in json.loads(row["unmet"])
    )
    status = Status(
        row["community_id"],
        row["valid_from"],
        row["in_scope"],
        row["standardized"],
        row["score"],
        tuple(row["met"]),
        unmet,
        row["standard_version"],
        row["position"],
    )
    return Segment(row["valid_from"], row["valid_to"], row["town_id"], status)


class StatusKeeper:
    """Recomputes the pending communities' status segments; any number may run, on any replicas."""

    def __init__(
        self, pool: asyncpg.Pool, *, clock: Callable[[], datetime] = utc_now, batch_size: int = BATCH
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._batch_size = batch_size
        self._extended_for: date | None = None

    async def pending(self) -> int:
        """How many communities' segments are behind their facts (in the live generation)."""
        row = await self._pool.fetchrow(query("checkpoint"), NAME)
        assert row is not None
        count: int = await self._pool.fetchval(query("status_pending_count"), row["generation"])
        return count

    async def step(self) -> int:
        """Recompute one batch of pending communities in one transaction; return how many (0: none)."""
        last = horizon(local_date(self._clock()))
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(query("checkpoint"), NAME)
            assert row is not None
            generation = row["generation"]
            taken = [
                Mark(r["community_id"], r["since"], r["from_position"])
                for r in await conn.fetch(query("take_status_pending"), generation, self._batch_size)
            ]
            if not taken:
                return 0
            ids = [m.community_id for m in taken]
            # From the record tables, in one query: no community's facts are rewritten or held elsewhere.
            facts = await read_facts(conn, generation, ids)
            standards = await _standards(conn, generation)
            stored: dict[str, list[Segment]] = {}
            for r in await conn.fetch(query("load_segments"), generation, ids):
                stored.setdefault(r["community_id"], []).append(segment_of(r))
            years: dict[str, dict[int, tuple[str | None, date | None]]] = {}
            for r in await conn.fetch(query("load_disclosure_years"), generation, ids):
                years.setdefault(r["community_id"], {})[r["year"]] = (r["town_id"], r["disclosed_on"])
            spans = {
                r["community_id"]: r["known_from"]
                for r in await conn.fetch(query("load_status_versions"), generation, ids)
            }
            # The evaluations are CPU work (a few to a few hundred per community): off the event loop, so
            # requests go on being served meanwhile.
            done = await asyncio.to_thread(
                _recomputed, generation, taken, facts, standards, stored, years, spans, last
            )
            await conn.execute(query("close_segments"), generation, *_columns(done.closed, 3))
            if done.rows:
                await conn.copy_records_to_table("status_segments", records=done.rows, columns=COLUMNS)
            await conn.execute(query("close_disclosure_years"), generation, *_columns(done.closed_years, 3))
            if done.years:
                await conn.copy_records_to_table("disclosure_years", records=done.years, columns=YEAR_COLUMNS)
            await conn.execute(query("next_status_versions"), generation, *_columns(done.versions, 3))
            await conn.execute(
                query("done_status_pending"),
                generation,
                ids,
                [m.since for m in taken],
                [m.from_position for m in taken],
            )
            if done.rows or done.closed:
                # Heard by every process's watcher once this commits: their subscribers' statuses moved.
                await conn.execute(query("status_changed"), STATUS_CHANNEL)
        return len(ids)

    async def catch_up(self) -> int:
        """Recompute every pending community; return how many batches' worth of communities."""
        total = 0
        while done := await self.step():
            total += done
        return total

    async def extend_once_the_year_turns(self) -> None:
        """Once per horizon: every community whose segments end before it is pending from its end."""
        last = horizon(local_date(self._clock()))
        if self._extended_for == last:
            return
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(query("checkpoint"), NAME)
            assert row is not None
            await conn.execute(query("extend_segments"), row["generation"], last)
        self._extended_for = last

    async def _keep_up(self) -> None:
        """`catch_up`, resting after each batch as long as it took: the keeper shares the process with the
        API, and a reader of a pending community gets the right answer from its facts meanwhile, so the
        keeper takes at most about half of the process's time, however much is pending."""
        while True:
            started = time.perf_counter()
            if not await self.step():
                return
            await asyncio.sleep(time.perf_counter() - started)

    async def run(self, heads: HeadWatcher, projector: Projector) -> None:
        """Follow the projector for as long as the task lives: once it has folded up to a new head (and so
        marked what the new events change), recompute what is pending."""
        async for head in heads.heads():
            try:
                await projector.wait_for(head, within=PROJECTOR_WAIT)
                await self.extend_once_the_year_turns()
                await self._keep_up()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("status step failed; will retry", error=str(exc))
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("status keeping stopped at a community it cannot evaluate")
                await asyncio.sleep(30.0)


@dataclass(frozen=True, slots=True)
class Mark:
    """A pending community: recompute from `since`, because of the event at `from_position` (None: no
    event; the horizon moved, and the rows are extended rather than corrected)."""

    community_id: str
    since: date
    from_position: int | None


@dataclass(slots=True)
class Recomputed:
    """What a batch writes: new rows, and the current rows they replace (community, first day or year,
    and the position from which the old row is no longer known), and each community's new span."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    closed: list[tuple[str, date, int | None]] = field(default_factory=list)
    years: list[tuple[Any, ...]] = field(default_factory=list)
    closed_years: list[tuple[str, int, int | None]] = field(default_factory=list)
    versions: list[tuple[str, int | None, int]] = field(default_factory=list)


def _recomputed(
    generation: int,
    taken: Sequence[Mark],
    facts: Mapping[str, CommunityFacts],
    standards: Sequence[StandardVersion],
    stored: Mapping[str, list[Segment]],
    stored_years: Mapping[str, Mapping[int, tuple[str | None, date | None]]],
    spans: Mapping[str, int],
    last: date,
) -> Recomputed:
    """Each community's segments from its mark's day to `last`, and its disclosure years (all of them: a
    year's row depends on disclosures of any date, and costs little), as rows to write and rows they
    replace. A row that comes out the same as the stored one is left as it is: it stays known from when
    it was first computed."""
    done = Recomputed()
    standards_known = max((s.position for s in standards), default=0)
    for mark in taken:
        community_id = mark.community_id
        community = facts.get(community_id)
        first = community.registered_on if community is not None else None
        # The log position the new rows are known from: the facts they come from, community and standard.
        # A mark no event made keeps the current span: nothing the status depends on has changed.
        if mark.from_position is None and community_id in spans:
            known_from = spans[community_id]
        else:
            known_from = max(community.position if community is not None else 0, standards_known)
        done.versions.append((community_id, mark.from_position, known_from))
        # Nothing is stored before the registration: a community is not in scope before it.
        earlier = stored.get(community_id, [])
        start = last if first is None else max(mark.since, first) if earlier else first
        replaced = [s for s in earlier if s.valid_to >= start]
        if community is None or first is None or start > last:
            fresh: list[Segment] = []
        else:
            # Rewritten: every segment that reaches the start (the one ending there may be joined).
            segments = extended(earlier, community, standards, start, last)
            fresh = [s for s in segments if s.valid_to >= start]
        same = {_key(s) for s in replaced} & {_key(s) for s in fresh}
        done.closed += [
            (community_id, s.valid_from, mark.from_position) for s in replaced if _key(s) not in same
        ]
        done.rows += segment_rows(
            generation, community_id, [s for s in fresh if _key(s) not in same], known_from
        )
        old_years = stored_years.get(community_id, {})
        new_years = {
            y.year: (y.town_id, y.disclosed_on)
            for y in (disclosure_years(community, standards, last.year) if community is not None else [])
        }
        done.closed_years += [
            (community_id, year, mark.from_position)
            for year, row in old_years.items()
            if new_years.get(year) != row
        ]
        done.years += [
            (generation, community_id, year, town_id, disclosed_on, known_from)
            for year, (town_id, disclosed_on) in new_years.items()
            if old_years.get(year) != (town_id, disclosed_on)
        ]
    return done


def _key(segment: Segment) -> tuple[object, ...]:
    return (segment.valid_from, segment.valid_to, segment.town_id, shape(segment.status))


def _columns(items: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Tuples as columns, for `unnest`."""
    return [[item[i] for item in items] for i in range(width)]


async def _standards(conn: Conn, generation: int) -> Sequence[StandardVersion]:
    rows = await conn.fetch(query("load_standards"), generation)
    found = [from_json(StandardVersion, json.loads(r["body"])) for r in rows]
    return tuple(sorted(found, key=lambda s: s.position))
