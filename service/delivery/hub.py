"""Live events for subscribers: one reader of the log per process, fanned out to a bounded queue each.

The hub follows the head watcher (one LISTEN connection per process, whatever the number of subscribers),
reads each new event once, in position order, and offers it to every attached feed. Offering never waits:
a feed whose queue is full is detached and told so (`Feed.overflowed`), so a slow or stalled subscriber
never slows the writer, the hub or the other subscribers.

A subscription starts from a position: `follow` replays the log after it straight from the table, in
pages, then attaches to the hub at a position the hub has not yet passed and skips what it has already
replayed. Positions are assigned in commit order (service/log), so a reader that has seen every position up
to the head it read has missed nothing, and the switch from replay to live neither skips nor repeats an
event. Every event after the starting position is yielded exactly once, strictly in position order.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from events.envelope import Recorded
from service.log.reads import LogReader
from service.log.watcher import HeadWatcher

log = structlog.get_logger(__name__)

# Events the hub reads from the log at once, and a replay's page.
BATCH = 500
# Events a feed may hold that its subscriber has not taken yet; past it the feed overflows.
QUEUE_LIMIT = 1000
# How long the hub rests after a failed read before trying again (the watcher reconnects meanwhile).
RETRY_DELAY = 1.0
# Events whose renderings are kept for the subscribers that have not sent them yet.
MEMO_EVENTS = 4096


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a subscriber wants: of these types (None: any), of streams with this prefix."""

    types: frozenset[str] | None = None
    stream_prefix: str | None = None

    def admits(self, rec: Recorded) -> bool:
        if self.types is not None and rec.type not in self.types:
            return False
        return self.stream_prefix is None or rec.stream_id.startswith(self.stream_prefix)


class Overflowed(Exception):
    """The subscriber fell more than its queue's limit behind; `last` is the position it last took."""

    def __init__(self, last: int) -> None:
        self.last = last
        super().__init__(f"fell more than its queue's limit behind after position {last}")


class Feed:
    """One subscriber's queue of live events. Events at or before `after` are skipped: the subscriber has
    them from its replay."""

    def __init__(
        self, where: EventFilter, *, after: int, limit: int, on_overflow: Callable[[], None] | None
    ) -> None:
        self.where = where
        self._after = after
        self._limit = limit
        self._items: deque[Recorded] = deque()
        self._wake = asyncio.Event()
        self._on_overflow = on_overflow
        self.overflowed = False

    def offer(self, rec: Recorded) -> bool:
        """Queue `rec` if the subscriber wants it; False once the feed has overflowed (detach it)."""
        if rec.position <= self._after or not self.where.admits(rec):
            return True
        if len(self._items) >= self._limit:
            self.overflowed = True
            self._items.clear()
            self._wake.set()
            if self._on_overflow is not None:
                self._on_overflow()
            return False
        self._items.append(rec)
        self._wake.set()
        return True

    async def take(self) -> Recorded:
        """The next event, waiting for one; Overflowed once the feed has overflowed."""
        while not self._items:
            if self.overflowed:
                raise Overflowed(self._after)
            self._wake.clear()
            await self._wake.wait()
        rec = self._items.popleft()
        self._after = rec.position
        return rec

    def __len__(self) -> int:
        return len(self._items)


class Hub:
    """The process's one reader of live events; start it with `run` as a background task."""

    def __init__(self, reader: LogReader, watcher: HeadWatcher, *, queue_limit: int = QUEUE_LIMIT) -> None:
        self._reader = reader
        self._watcher = watcher
        self.queue_limit = queue_limit
        self._feeds: set[Feed] = set()
        self._started = asyncio.Event()
        # Every event at or before this position has been offered to every attached feed.
        self.position = 0
        self.overflows = 0  # feeds detached for falling behind, since start; for operators and tests
        self._memos: OrderedDict[int, dict[object, object]] = OrderedDict()

    @property
    def subscribers(self) -> int:
        return len(self._feeds)

    def memo(self, position: int) -> dict[object, object]:
        """A place to keep what is made of the event at `position` for every subscriber alike (its
        rendering, by document and by what the caller may see), for the most recent `MEMO_EVENTS`
        events: a hundred subscribers to one document cost one rendering."""
        found = self._memos.get(position)
        if found is None:
            found = self._memos[position] = {}
            if len(self._memos) > MEMO_EVENTS:
                self._memos.popitem(last=False)
        return found

    async def started(self) -> None:
        await self._started.wait()

    def attach(
        self, where: EventFilter, *, after: int, on_overflow: Callable[[], None] | None = None
    ) -> Feed:
        """A feed of the events after `after` that `where` admits. `after` must not be behind the hub's
        position (what the hub has offered is not offered again); `follow` sees to that."""
        if after < self.position:
            raise ValueError(f"cannot attach at {after}: the hub is at {self.position}")
        feed = Feed(where, after=after, limit=self.queue_limit, on_overflow=on_overflow)
        self._feeds.add(feed)
        return feed

    def detach(self, feed: Feed) -> None:
        self._feeds.discard(feed)

    async def run(self) -> None:
        """Follow the head for as long as the task lives, offering each new event to every feed."""
        while not self._started.is_set():
            try:
                self.position = await self._reader.head()
                self._started.set()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("event hub could not read the head; will retry", error=str(exc))
                await asyncio.sleep(RETRY_DELAY)
        async for head in self._watcher.heads():
            while self.position < head:
                try:
                    rows = await self._reader.read_all(after_position=self.position, limit=BATCH)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("event hub could not read the log; will retry", error=str(exc))
                    await asyncio.sleep(RETRY_DELAY)
                    continue
                if not rows:
                    break
                self._offer(rows)

    def _offer(self, rows: Sequence[Recorded]) -> None:
        # No await in here: a subscription attaches between two batches, never inside one.
        for rec in rows:
            for feed in tuple(self._feeds):
                if not feed.offer(rec):
                    self._feeds.discard(feed)
                    self.overflows += 1
            self.position = rec.position


async def follow(
    hub: Hub,
    reader: LogReader,
    *,
    after: int,
    where: EventFilter,
    on_overflow: Callable[[], None] | None = None,
    page: int = BATCH,
) -> AsyncGenerator[Recorded, None]:
    """Every event after position `after` that `where` admits, replayed from the log and then live, in
    position order, each once. Raises Overflowed if the subscriber falls too far behind once live."""
    scanned = after  # every admitted event up to here has been yielded
    types = sorted(where.types) if where.types is not None else None
    await hub.started()
    while True:
        head = await reader.head()
        rows = await reader.read_all(
            after_position=scanned, limit=page, types=types, stream_prefix=where.stream_prefix
        )
        for rec in rows:
            yield rec
            scanned = rec.position
        if len(rows) == page:
            continue
        # A short page holds every admitted event committed when it was read, and so every one up to
        # `head`, read before it: positions commit in order.
        scanned = max(scanned, head)
        if hub.position <= scanned:
            break
        # The hub has offered events this replay has not read: read on, then try again.
    feed = hub.attach(where, after=scanned, on_overflow=on_overflow)
    try:
        while True:
            yield await feed.take()
    finally:
        hub.detach(feed)
