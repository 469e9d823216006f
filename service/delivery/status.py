"""Live status: each watched community's stored status today, and its towns' and the city's coverage,
told to subscribers when it changes — because the status keeper wrote new segments (a record, a standard
revision) or because a day began on which a segment ends (a due date passed, an age limit was reached),
with no event at all.

One `StatusWatch` per process holds, for the communities its subscribers watch, the segment that holds
today. It looks again when the keeper says it wrote (over the watcher's LISTEN connection), when the
local date reaches the end of a held segment, and every `poll` seconds in case a wake-up was lost. A
change is told once per process, to every watch whose scope it concerns, through a bounded queue as the
event hub's are: a subscriber that falls behind is dropped, never waited for.

A pending community (its segments behind its facts) keeps what was last read of it until the keeper has
written, so coverage is what the stored status gives once the keeper has caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Generic, Literal, TypeVar

import asyncpg
import structlog

from projections.localtime import SHANGHAI, local_date
from service.delivery.queries import query
from service.log.clock import utc_now
from service.log.watcher import HeadWatcher
from service.read.projector import NAME

log = structlog.get_logger(__name__)

# However quiet the keeper, the watch looks again this often (seconds).
POLL = 30.0
RETRY_DELAY = 1.0

Cause = Literal["record", "date"]


@dataclass(frozen=True, slots=True)
class UnmetShape:
    """An unmet criterion as a stored segment keeps it."""

    criterion: str
    kind: str
    since: date | None


@dataclass(frozen=True, slots=True)
class Standing:
    """A community's stored status on a day: the segment holding then."""

    community_id: str
    town_id: str | None
    in_scope: bool
    standardized: bool
    score: float
    standard_version: int | None
    unmet: tuple[UnmetShape, ...]
    position: int
    valid_from: date
    valid_to: date

    def shape(self) -> tuple[object, ...]:
        """What a subscriber is told of: a segment that only moved its end is the same status."""
        return (self.town_id, self.in_scope, self.standardized, self.score, self.standard_version, self.unmet)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A community's status today changed from `before` (None: it was not known) to `after`, from the
    local date `on`; `cause` says whether a record did it (at log position `position`) or a date."""

    community_id: str
    before: Standing | None
    after: Standing
    cause: Cause
    position: int | None
    on: date


@dataclass(frozen=True, slots=True)
class Figures:
    communities: int
    standardized: int

    @property
    def rate(self) -> float:
        return self.standardized / self.communities if self.communities else 0.0


@dataclass(frozen=True, slots=True)
class CoverageChange:
    """A town's coverage (the city's: `town_id` None) changed today; the cause is the latest of the
    changes of its communities that moved it."""

    town_id: str | None
    before: Figures
    after: Figures
    cause: Cause
    position: int | None
    on: date


T = TypeVar("T")


class Overflowed(Exception):
    """The subscriber fell more than its queue's limit behind."""


class Watch(Generic[T]):
    """One subscription's queue of changes in its scope: a community, a town's communities (or coverage),
    or the whole city (`community_id` and `town_id` both None)."""

    def __init__(
        self,
        *,
        coverage: bool,
        community_id: str | None,
        town_id: str | None,
        limit: int,
        on_overflow: Callable[[], None] | None,
    ) -> None:
        self.coverage = coverage
        self.community_id = community_id
        self.town_id = town_id
        self._limit = limit
        self._items: deque[T] = deque()
        self._wake = asyncio.Event()
        self._on_overflow = on_overflow
        self.overflowed = False

    def offer(self, item: T) -> bool:
        if len(self._items) >= self._limit:
            self.overflowed = True
            self._items.clear()
            self._wake.set()
            if self._on_overflow is not None:
                self._on_overflow()
            return False
        self._items.append(item)
        self._wake.set()
        return True

    async def take(self) -> T:
        while not self._items:
            if self.overflowed:
                raise Overflowed
            self._wake.clear()
            await self._wake.wait()
        return self._items.popleft()


class StatusWatch:
    """The process's reader of live status; start it with `run` as a background task."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        watcher: HeadWatcher,
        *,
        clock: Callable[[], datetime] = utc_now,
        queue_limit: int = 1000,
        poll: float = POLL,
    ) -> None:
        self._pool = pool
        self._watcher = watcher
        self._clock = clock
        self.queue_limit = queue_limit
        self._poll = poll
        self._status: set[Watch[StatusChange]] = set()
        self._coverage: set[Watch[CoverageChange]] = set()
        self._held: dict[str, Standing] = {}
        # What was read at the last look: the whole city, these towns, these communities.
        self._covered: tuple[bool, frozenset[str], frozenset[str]] = (False, frozenset(), frozenset())
        self._generation: int | None = None
        self._again = asyncio.Event()
        self._looking = False
        self._looked = asyncio.Event()

    @property
    def watching(self) -> int:
        """Subscriptions watching status or coverage now; for operators and tests."""
        return len(self._status) + len(self._coverage)

    def watch_status(
        self, *, community_id: str | None, town_id: str | None, on_overflow: Callable[[], None] | None = None
    ) -> Watch[StatusChange]:
        watch: Watch[StatusChange] = Watch(
            coverage=False,
            community_id=community_id,
            town_id=town_id,
            limit=self.queue_limit,
            on_overflow=on_overflow,
        )
        self._status.add(watch)
        self._again.set()
        return watch

    def watch_coverage(
        self, *, town_id: str | None, on_overflow: Callable[[], None] | None = None
    ) -> Watch[CoverageChange]:
        watch: Watch[CoverageChange] = Watch(
            coverage=True, community_id=None, town_id=town_id, limit=self.queue_limit, on_overflow=on_overflow
        )
        self._coverage.add(watch)
        self._again.set()
        return watch

    def unwatch(self, watch: Watch[StatusChange] | Watch[CoverageChange]) -> None:
        self._status.discard(watch)
        self._coverage.discard(watch)

    async def settled(self) -> None:
        """Returns once the watch has read the standings of every scope watched now (a new subscription's
        starting point: what changes after it is told)."""
        # A look under way may have started before the new scope was added: then wait for the next one.
        rounds = 2 if self._looking else 1
        self._again.set()
        for _ in range(rounds):
            await self._looked.wait()

    async def run(self) -> None:
        """Look whenever the keeper wrote, a held segment ended, or `poll` seconds passed."""
        changes = self._watcher.status_changes()
        keeper = asyncio.ensure_future(anext(changes))
        try:
            while True:
                self._again.clear()
                if self._status or self._coverage:
                    self._looking = True
                    try:
                        await self._look()
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                        log.warning("status watch could not read the standings; will retry", error=str(exc))
                        await asyncio.sleep(RETRY_DELAY)
                        self._again.set()
                        continue
                    finally:
                        self._looking = False
                looked, self._looked = self._looked, asyncio.Event()
                looked.set()
                again = asyncio.ensure_future(self._again.wait())
                await asyncio.wait(
                    {keeper, again}, timeout=self._until_next(), return_when=asyncio.FIRST_COMPLETED
                )
                again.cancel()
                if keeper.done():
                    keeper = asyncio.ensure_future(anext(changes))
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await keeper

    def _until_next(self) -> float:
        """Seconds until the local date reaches the earliest end of a held segment, at most `poll`."""
        ends = [s.valid_to for s in self._held.values()]
        if not ends:
            return self._poll
        moment = datetime.combine(min(ends), time(0), SHANGHAI)
        return max(0.0, min(self._poll, (moment - self._clock()).total_seconds()))

    async def _look(self) -> None:
        everyone = any(w.community_id is None and w.town_id is None for w in self._status | self._coverage)
        towns = frozenset(w.town_id for w in self._status | self._coverage if w.town_id is not None)
        ids = frozenset(w.community_id for w in self._status if w.community_id is not None)
        today = local_date(self._clock())
        async with self._pool.acquire() as conn:
            generation = await conn.fetchval(query("live_generation"), NAME)
            rows = await conn.fetch(
                query("standings_today"), generation, today, everyone, list(towns), list(ids)
            )
        was_everyone, was_towns, was_ids = self._covered
        known_scope = self._generation == generation

        def covered_before(s: Standing) -> bool:
            return known_scope and (
                was_everyone
                or (s.town_id is not None and s.town_id in was_towns)
                or s.community_id in was_ids
            )

        before_cov = self._coverage_figures()
        held: dict[str, Standing] = {}
        changes: list[StatusChange] = []
        for row in rows:
            now = _standing(row)
            old = self._held.get(now.community_id)
            if row["pending"] and old is not None:
                held[now.community_id] = old  # behind its facts: wait for the keeper
                continue
            held[now.community_id] = now
            if old is None and not covered_before(now):
                continue  # newly watched: the starting point, not a change
            if old is not None and old.shape() == now.shape():
                continue
            if old is not None and old.valid_to <= today:
                # The segment held ended: a day began past it. The one holding now may rest on an older or
                # a newer position than it (segments are recomputed from a record's day on, and kept where
                # they did not change), so positions cannot tell a date from a record; the end can.
                changes.append(StatusChange(now.community_id, old, now, "date", None, now.valid_from))
            else:
                changes.append(
                    StatusChange(now.community_id, old, now, "record", now.position, now.valid_from)
                )
        self._held = held
        self._covered = (everyone, towns, ids)
        self._generation = generation
        for change in changes:
            self._tell_status(change)
        if known_scope:
            read_whole = (was_everyone, was_towns)
            self._tell_coverage(before_cov, self._coverage_figures(), changes, today, read_whole)

    def _coverage_figures(self) -> dict[str | None, Figures]:
        counts: dict[str | None, list[int]] = {}
        for s in self._held.values():
            if not s.in_scope:
                continue
            for key in (None, s.town_id):
                figures = counts.setdefault(key, [0, 0])
                figures[0] += 1
                figures[1] += int(s.standardized)
        return {key: Figures(n, k) for key, (n, k) in counts.items()}

    def _tell_status(self, change: StatusChange) -> None:
        towns = {change.after.town_id, change.before.town_id if change.before is not None else None}
        for watch in tuple(self._status):
            concerned = (
                change.community_id == watch.community_id
                if watch.community_id is not None
                else watch.town_id in towns
                if watch.town_id is not None
                else True
            )
            if concerned and not watch.offer(change):
                self._status.discard(watch)

    def _tell_coverage(
        self,
        before: dict[str | None, Figures],
        after: dict[str | None, Figures],
        changes: Iterable[StatusChange],
        today: date,
        read_whole: tuple[bool, frozenset[str]],
    ) -> None:
        """`read_whole`: whether the last look read every community, and the towns it read whole. The
        figures before are known only for those; a scope it read in part (watched only now, beside
        communities watched one by one) starts from this look instead: its figures grew with what was read,
        not with a change."""
        everyone, towns = read_whole
        listed = list(changes)
        for watch in tuple(self._coverage):
            if not (everyone or (watch.town_id is not None and watch.town_id in towns)):
                continue
            old = before.get(watch.town_id, Figures(0, 0))
            new = after.get(watch.town_id, Figures(0, 0))
            if old == new:
                continue
            moved = [
                c
                for c in listed
                if watch.town_id is None
                or watch.town_id in (c.after.town_id, c.before.town_id if c.before is not None else None)
            ]
            by_record = [c.position for c in moved if c.position is not None]
            cause: Cause = "record" if by_record else "date"
            change = CoverageChange(
                watch.town_id,
                old,
                new,
                cause,
                max(by_record) if by_record else None,
                max((c.on for c in moved), default=today),
            )
            if not watch.offer(change):
                self._coverage.discard(watch)


def _standing(row: asyncpg.Record) -> Standing:
    unmet = tuple(
        UnmetShape(u["criterion"], u["kind"], date.fromisoformat(u["since"]) if u["since"] else None)
        for u in json.loads(row["unmet"])
    )
    return Standing(
        community_id=row["community_id"],
        town_id=row["town_id"],
        in_scope=row["in_scope"],
        standardized=row["standardized"],
        score=row["score"],
        standard_version=row["standard_version"],
        unmet=unmet,
        position=row["position"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
    )
