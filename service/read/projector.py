"""The projection runner: folds the log into `facts`, one transaction per batch.

In each transaction it locks its checkpoint row, reads the events after it, folds them into the facts of
the entities they touch, writes those back and advances the checkpoint. Killed at any instant, it either
committed a batch (facts and checkpoint together) or did not: it resumes with no loss and no double count.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import operator
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeAlias, cast

import asyncpg
import msgspec
import structlog

from events.catalogue import subject_of
from events.envelope import Recorded
from events.erasure import Erased
from events.hierarchy import TownRegistered
from events.payloads import from_json_text, to_json_text, twin_of, twin_reader
from events.registry import Event, Registry
from events.standard import StandardRevised
from projections.community import Folder, StandardVersion, TownFacts, World, fold_events
from projections.facts import CommunityFacts
from projections.timeline import affected_from, date_fields
from service.log.queries import query as log_query
from service.log.reads import Conn
from service.log.watcher import HeadWatcher
from service.read.queries import query
from service.read.records import add_rows, copied_row, drop_records, records_missing, save_records
from service.read.restricted import apply_erasure

NAME = "facts"
log = structlog.get_logger(__name__)

Key: TypeAlias = tuple[str, str]  # (entity, entity_id)
Row: TypeAlias = tuple[str, str, int, str | None, str]  # (entity, entity_id, position, town_id, body)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    generation: int
    position: int


def entity_of(event: Event) -> Key | None:
    """Which stored entity an event changes: its subject, except that each version of the standard is
    stored as an entity of its own."""
    if isinstance(event, StandardRevised):
        return ("standard", str(event.version))
    subject = subject_of(event)
    # Grants are not facts of the programme: the authenticator reads them from their own streams.
    return subject if subject is not None and subject[0] != "access" else None


def _document_of(event: Event) -> Key | None:
    """The town or standard version an event changes, kept as a document in `facts`; None for the rest
    (a community's facts are rows of the record tables)."""
    # Of the subjects `entity_of` names, only these two events' are documents: asked of every event
    # projected, the type check spares the rest the whole look-up.
    if not isinstance(event, TownRegistered | StandardRevised):
        return None
    key = entity_of(event)
    return key if key is not None and key[0] != "community" else None


def decode_all(registry: Registry, records: Iterable[Recorded]) -> list[tuple[Recorded, Event]]:
    return [(rec, registry.decode(rec.type, rec.schema_version, rec.payload)) for rec in records]


def world_from_rows(rows: Iterable[tuple[str, str, str]], base: World | None = None) -> World:
    """A World holding the entities of `rows` (entity, entity_id, JSON body), over `base`."""
    towns = dict(base.towns) if base else {}
    communities = dict(base.communities) if base else {}
    standards = {s.version: s for s in base.standards} if base else {}
    position = base.position if base else 0
    for entity, entity_id, body in rows:
        if entity == "town":
            towns[entity_id] = from_json_text(TownFacts, body)
        elif entity == "community":
            communities[entity_id] = from_json_text(CommunityFacts, body)
        elif entity == "standard":
            version = from_json_text(StandardVersion, body)
            standards[version.version] = version
    ordered = tuple(sorted(standards.values(), key=lambda s: s.position))
    return World(towns=towns, communities=communities, standards=ordered, position=position)


def rows_of(world: World, keys: Iterable[Key]) -> list[Row]:
    """(entity, entity_id, position, town_id, JSON body) for each key the world holds."""
    standards = {str(s.version): s for s in world.standards}
    rows: list[Row] = []
    for entity, entity_id in keys:
        if entity == "town":
            town = world.towns[entity_id]
            rows.append((entity, entity_id, town.position, None, _dump(town)))
        elif entity == "community":
            facts = world.communities[entity_id]
            town_id = facts.memberships[-1].town_id if facts.memberships else None
            rows.append((entity, entity_id, facts.position, town_id, _dump(facts)))
        else:
            standard = standards[entity_id]
            rows.append((entity, entity_id, standard.position, None, _dump(standard)))
    return rows


def _dump(value: object) -> str:
    return to_json_text(value)


@dataclass(slots=True)
class StatusMarks:
    """The communities whose status a batch's events can change, each from the first day they can change
    it (`affected_from`), and the standard's revisions, which change every community's; gathered event by
    event in log order, written by `mark_status_pending`."""

    since: dict[str, date] = field(default_factory=dict)
    # The first event that changes each community's status: where its stored rows stop being known.
    first: dict[str, int] = field(default_factory=dict)
    revised: list[tuple[date, int]] = field(default_factory=list)

    def add(self, position: int, community_id: str, day: date) -> None:
        """The event at `position` changes the community's status from `day`."""
        since = self.since.get(community_id)
        if since is None:
            self.since[community_id] = day
            self.first[community_id] = position
        elif day < since:
            self.since[community_id] = day

    def add_event(self, position: int, event: Event) -> None:
        day = affected_from(event)
        if day is None:
            return
        if isinstance(event, StandardRevised):
            self.revised.append((day, position))
            return
        key = entity_of(event)
        if key is not None and key[0] == "community":
            self.add(position, key[1], day)


async def mark_status_pending(conn: Conn, generation: int, marks: StatusMarks) -> None:
    """Mark each community whose status the events can change, from the first day they can change it
    (`affected_from`); a standard revision marks every community. `service/read/status.py` catches up."""
    if marks.since:
        ids = list(marks.since)
        await conn.execute(
            query("mark_status_pending"),
            generation,
            ids,
            [marks.since[i] for i in ids],
            [marks.first[i] for i in ids],
        )
    if marks.revised:
        await conn.execute(
            query("mark_all_status_pending"),
            generation,
            min(d for d, _ in marks.revised),
            min(p for _, p in marks.revised),
        )


# A page of the log as the projector reads it: (position, type, schema version, payload JSON text).
Item: TypeAlias = tuple[int, str, int, Any]


@dataclass(slots=True)
class Page:
    """What a page of the log adds: its record rows by table, the events it decoded whole (in log order),
    and its last position."""

    rows: dict[str, list[tuple[Any, ...]]]
    events: list[tuple[int, Event]]
    last: int


def _day_of(cls: type[Event]) -> Callable[[Any], date | None]:
    """`affected_from` of an event of `cls` (no erasure), read from its twin: its earliest date."""
    names = date_fields(cls)
    if not names:
        return lambda _: None
    get = operator.attrgetter(*names)
    if len(names) == 1:
        if typing.get_type_hints(cls)[names[0]] is date:  # always a date: the getter is enough
            return cast(Callable[[Any], date], get)
        return lambda twin: day if isinstance(day := get(twin), date) else None

    def day_of(twin: Any) -> date | None:
        days = [day for day in get(twin) if isinstance(day, date)]
        return min(days) if days else None

    return day_of


class Reader:
    """Reads the projector's pages of the log: each event's record rows, and what else it needs.

    Most events add one record copied field by field from the payload (`records.copied_row`): a
    disclosure, a meeting, a training … Their payloads are checked and decoded into their twins
    (`events.payloads.twin_of`), and the row taken from the twin, with no event built: that is a quarter
    of the cost of building the event and then its facts. The rest — towns and the standard, which are
    folded, erasures, registrations, renames and spot checks, and any payload of an earlier schema
    version, which is upcast — are decoded whole and their rows built from the event (`add_rows`).
    """

    def __init__(self, registry: Registry) -> None:
        self._decode = registry.decode_text
        # type -> (its current schema version, its twin's decoder, its table, the row's columns but the
        # first and last, its day, its checked reader)
        self._copied: dict[str, tuple[int, Callable[[Any], Any], str, Callable[[Any], Any], Any, Any]] = {}
        for cls in registry.types():
            copied = copied_row(cls)
            if copied is not None:
                self._copied[cls.TYPE] = (
                    cls.VERSION,
                    msgspec.json.Decoder(twin_of(cls)).decode,
                    copied.table,
                    copied.columns,
                    _day_of(cls),
                    twin_reader(cls),
                )

    def page(self, generation: int, items: Iterable[Item], marks: StatusMarks | None = None) -> Page:
        """The record rows of `generation` the items add, the events decoded whole; the status marks added
        to `marks` if given."""
        page = self._page()
        self._add(page, generation, items, marks)
        return page

    async def page_in_slices(
        self, generation: int, items: Sequence[Item], marks: StatusMarks | None = None
    ) -> Page:
        """`page`, a slice of SLICE items at a time, giving the event loop a turn after each: a write
        in flight on another task (the page before, being written) goes on to its next statement without
        waiting for the whole page to be decoded."""
        page = self._page()
        for start in range(0, len(items), SLICE):
            if start:
                await asyncio.sleep(0)
            self._add(page, generation, items[start : start + SLICE], marks)
        return page

    def _page(self) -> Page:
        # A list for every table a copied row goes to, made here rather than looked for per row; those
        # left empty are skipped when written.
        return Page({how[2]: [] for how in self._copied.values()}, [], 0)

    def _add(self, page: Page, generation: int, items: Iterable[Item], marks: StatusMarks | None) -> None:
        # The loop every event of a replay goes through: locals only, the status marks written out.
        rows, events, copied = page.rows, page.events, self._copied.get
        since, first = (marks.since, marks.first) if marks is not None else ({}, {})
        since_of = since.get
        position = page.last
        for position, type_, version, text in items:
            how = copied(type_)
            if how is not None and how[0] == version:
                try:
                    twin = how[1](text)
                except msgspec.MsgspecError:
                    how[5](text)  # raises the CodecError naming the field, as a whole decode would
                    raise
                rows[how[2]].append((generation, *how[3](twin), position))
                if marks is not None and (day := how[4](twin)) is not None:
                    # StatusMarks.add, written out
                    community_id = twin.community_id
                    known = since_of(community_id)
                    if known is None:
                        since[community_id] = day
                        first[community_id] = position
                    elif day < known:
                        since[community_id] = day
            else:
                event = self._decode(type_, version, text)
                events.append((position, event))
                add_rows(rows, generation, position, event)
                if marks is not None:
                    marks.add_event(position, event)
        page.last = position


@dataclass(frozen=True, slots=True)
class Read:
    """A page of the log read by the projector: how many events, what they add, the status marks."""

    count: int
    page: Page
    marks: StatusMarks


# Items decoded between two turns of the event loop (`Reader.page_in_slices`): a few tenths of a
# millisecond, so that a write in flight waits no longer than that to go on to its next statement.
SLICE = 200


async def save(conn: Conn, generation: int, rows: Sequence[Row]) -> None:
    if rows:
        columns = [list(column) for column in zip(*rows, strict=True)]
        await conn.execute(query("save_facts"), generation, *columns)


_FACT_COLUMNS = ["generation", "entity", "entity_id", "position", "town_id", "body"]


# Far behind the log (a bulk import, a first start), a step takes this many events: each touched entity's
# facts are then loaded and written once per 20,000 events rather than once per 1,000, which on a long log
# is the difference between minutes and hours (facts grow with the log).
CATCH_UP_BATCH = 20_000


class Projector:
    """Keeps `facts` up with the log; tasks may wait until it has reached a position."""

    def __init__(self, pool: asyncpg.Pool, registry: Registry, *, batch_size: int = 1000) -> None:
        self._pool = pool
        self._registry = registry
        self._reader = Reader(registry)
        self._batch_size = batch_size
        self._position = 0
        self._advanced = asyncio.Event()
        # The page after a full one, being read on another connection and decoded for a generation:
        # (after position, limit, generation, the read).
        self._ahead: tuple[int, int, int, asyncio.Task[Read]] | None = None

    @property
    def position(self) -> int:
        """The last position this process has seen the projection reach."""
        return self._position

    async def checkpoint(self) -> Checkpoint:
        row = await self._pool.fetchrow(query("checkpoint"), NAME)
        assert row is not None, "migration 0002 inserts the checkpoint row"
        self._note(row["position"])
        return Checkpoint(row["generation"], row["position"])

    async def step(self, limit: int | None = None, *, read_ahead: bool = False) -> int:
        """Fold one batch (of `limit` events, default the batch size) in one transaction; return how many
        events it applied (0: caught up).

        With `read_ahead`, a full batch starts reading the next one on another connection of the pool (if
        it has more than one) and decoding it for this batch's generation, which the next step takes if it
        starts where this one ends, with the same limit, in the same generation: the log is read and decoded
        while this batch is written. The caller then ends with `drop_read_ahead`.
        """
        size = limit or self._batch_size
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(query("checkpoint_for_update"), NAME)
            assert row is not None, "migration 0002 inserts the checkpoint row"
            generation, position = row["generation"], row["position"]
            read = await self._page_after(conn, generation, position, size, read_ahead)
            if not read.count:
                self._note(position)
                return 0
            page, marks = read.page, read.marks
            # Towns and the standard are kept as documents; communities only as rows (save_records).
            documents = [(p, event) for p, event in page.events if _document_of(event) is not None]
            keys = sorted({key for _, event in documents if (key := _document_of(event)) is not None})
            loaded = await conn.fetch(
                query("load_facts"), generation, [k[0] for k in keys], [k[1] for k in keys]
            )
            world = world_from_rows((r["entity"], r["entity_id"], r["body"]) for r in loaded)
            # Folder, not fold_world: a long batch grows each community's facts in lists, where evolving one
            # event at a time would copy every growing tuple once per event.
            folder = Folder(world)
            folder.add(documents)
            world = folder.world()
            await save(conn, generation, rows_of(world, keys))
            await save_records(conn, page.rows)
            await mark_status_pending(conn, generation, marks)
            # An erasure is carried out where it is projected, in the same transaction: once the
            # projection has passed an Erased event, the text it names is gone.
            for p, event in page.events:
                if isinstance(event, Erased):
                    await apply_erasure(conn, p, event)
            last = page.last
            await conn.execute(query("advance_checkpoint"), NAME, generation, last)
        self._note(last)
        return read.count

    async def _page_after(
        self, conn: Conn, generation: int, position: int, limit: int, read_ahead: bool
    ) -> Read:
        """`limit` events of the log after `position`, decoded for `generation`: the page read ahead if it is
        that one, else read now (the log only grows, so a page read earlier holds the same events). With
        `read_ahead`, a full page starts the read of the next."""
        ahead, self._ahead = self._ahead, None
        read: Read | None = None
        if ahead is not None:
            *made_for, task = ahead
            if made_for == [position, limit, generation]:
                read = await task
            else:
                await _dropped(task)
        if read is None:
            rows: list[asyncpg.Record] = await conn.fetch(log_query("read_payloads"), position, limit)
            if rows:
                self._read_ahead(read_ahead, len(rows), rows[-1][0], limit, generation)
            return await self._decoded(generation, rows)
        self._read_ahead(read_ahead, read.count, read.page.last, limit, generation)
        return read

    def _read_ahead(self, wanted: bool, count: int, after: int, limit: int, generation: int) -> None:
        if wanted and count == limit and self._pool.get_max_size() > 1:
            read = asyncio.create_task(self._read(after, limit, generation))
            self._ahead = (after, limit, generation, read)

    async def _read(self, after: int, limit: int, generation: int) -> Read:
        async with self._pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(log_query("read_payloads"), after, limit)
        return await self._decoded(generation, rows)

    async def _decoded(self, generation: int, rows: Sequence[asyncpg.Record]) -> Read:
        marks = StatusMarks()
        # A row of `read_payloads` is an item: (position, type, schema version, payload text).
        page = await self._reader.page_in_slices(generation, cast(Sequence[Item], rows), marks)
        return Read(len(rows), page, marks)

    async def drop_read_ahead(self) -> None:
        """Stop a read ahead that no step will take, and give its connection back."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            await _dropped(ahead[3])

    async def catch_up(self) -> int:
        """Run batches until the projection has read the whole log; return how many events it applied."""
        total = 0
        try:
            while applied := await self.step(CATCH_UP_BATCH, read_ahead=True):
                total += applied
        finally:
            await self.drop_read_ahead()
        return total

    async def run(self, heads: HeadWatcher) -> None:
        """Follow the log for as long as the task lives."""
        try:
            await self._follow(heads)
        finally:
            await self.drop_read_ahead()

    async def _follow(self, heads: HeadWatcher) -> None:
        async for head in heads.heads():
            while self._position < head:
                # Hand-written, not tenacity: a fixed pause per kind of failure; no backoff, no stop.
                try:
                    far_behind = head - self._position > self._batch_size
                    if not await self.step(CATCH_UP_BATCH if far_behind else None, read_ahead=far_behind):
                        break
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("projection step failed; will retry", error=str(exc))
                    await asyncio.sleep(1.0)
                except Exception:
                    # An event this version cannot fold (say, written by a newer version): say so loudly,
                    # keep the checkpoint where it is, and try again later rather than skip it.
                    log.exception("projection stopped at an event it cannot fold", position=self._position)
                    await asyncio.sleep(30.0)

    async def wait_for(self, position: int, *, within: float) -> bool:
        """Read-your-writes: True once the projection has passed `position`, False after `within` s."""
        try:
            async with asyncio.timeout(within):
                while self._position < position:
                    event = self._advanced
                    if self._position >= position:
                        break
                    try:
                        async with asyncio.timeout(0.5):
                            await event.wait()
                    except TimeoutError:
                        # Another replica may be the one projecting: look at the shared checkpoint.
                        await self.checkpoint()
        except TimeoutError:
            return False
        return True

    def _note(self, position: int) -> None:
        if position > self._position:
            self._position = position
            advanced, self._advanced = self._advanced, asyncio.Event()
            advanced.set()


async def _dropped(task: asyncio.Task[Any]) -> None:
    """A task whose outcome no one will take (a read ahead, a write after a failure), stopped and waited
    for; its outcome, an error included, is dropped."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()


async def rebuild(
    pool: asyncpg.Pool,
    registry: Registry,
    *,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> Checkpoint:
    """Fold the whole log into a fresh generation of `facts`, then switch to it in one transaction."""
    try:
        return await _rebuild(pool, registry, batch_size=batch_size, progress=progress)
    finally:
        gc.unfreeze()


async def _rebuild(
    pool: asyncpg.Pool,
    registry: Registry,
    *,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
) -> Checkpoint:

    async with pool.acquire() as conn:
        current = await conn.fetchrow(query("checkpoint"), NAME)
        assert current is not None
        generation = current["generation"] + 1
        head = await conn.fetchval(log_query("head_position"))
        await conn.execute(query("drop_generation"), generation)  # leftovers of an interrupted rebuild
        await drop_records(conn, generation)
        await conn.execute(query("drop_status_generation"), generation)
        await conn.execute(query("drop_status_pending_generation"), generation)
        folder = Folder(World())

        def report(done: int) -> None:
            if progress is not None:
                progress(done, max(head, done))

        reader = Reader(registry)
        position = await _replay(pool, conn, reader, folder, generation, batch_size, report)
        world = folder.world()
        keys: list[Key] = [("town", t) for t in world.towns]
        keys += [("standard", str(s.version)) for s in world.standards]
        # A fresh generation has nothing to conflict with: COPY, in chunks that keep each message small.
        for start in range(0, len(keys), 50):
            records = [(generation, *row) for row in rows_of(world, keys[start : start + 50])]
            await conn.copy_records_to_table("facts", records=records, columns=_FACT_COLUMNS)
        async with conn.transaction():
            await conn.fetchrow(query("checkpoint_for_update"), NAME)
            # Events that arrived during the rebuild: fold them in under the lock, then switch.
            while rows := await conn.fetch(log_query("read_payloads"), position, batch_size):
                page = reader.page(generation, cast(Sequence[Item], rows))
                documents = [(p, e) for p, e in page.events if _document_of(e) is not None]
                world = fold_events(world, documents)
                touched = sorted({k for _, e in documents if (k := _document_of(e)) is not None})
                await save(conn, generation, rows_of(world, touched))
                await save_records(conn, page.rows)
                position = page.last
            # The new generation's status is computed from scratch, by the status keepers, after the switch.
            await conn.execute(query("mark_all_status_pending"), generation, date.min, 0)
            await conn.execute(query("advance_checkpoint"), NAME, generation, position)
        await conn.execute(query("drop_generation"), current["generation"])
        await drop_records(conn, current["generation"])
        await conn.execute(query("drop_status_generation"), current["generation"])
        await conn.execute(query("drop_status_pending_generation"), current["generation"])
    return Checkpoint(generation, position)


async def _replay(
    pool: asyncpg.Pool,
    conn: Conn,
    reader: Reader,
    folder: Folder,
    generation: int,
    batch_size: int,
    report: Callable[[int], None],
) -> int:
    """Every event of the log, read on `conn` page by page: its towns and standard folded into `folder`, its
    record rows written into `generation`, and `report` called with the last position of each write.
    Return the last position read (0 for an empty log).

    The rows are written on a second connection of the pool (`_Pages`), each write taking every page
    decoded since the last one, in one transaction, while the next pages are read and decoded on `conn` (a
    slice at a time, so the write goes on from one table's COPY to the next meanwhile): PostgreSQL inserts
    while this process reads and decodes, and the slower the inserts, the fewer and larger the COPYs. A
    pool of one connection writes each page on `conn`, in turn.
    """
    position = 0
    async with contextlib.AsyncExitStack() as stack:
        writer = await stack.enter_async_context(pool.acquire()) if pool.get_max_size() > 1 else conn
        pages = _Pages(writer, report)
        try:
            while rows := await conn.fetch(log_query("read_payloads"), position, batch_size):
                count = len(rows)
                # A row of `read_payloads` is an item: (position, type, schema version, payload text).
                page = await reader.page_in_slices(generation, cast(Sequence[Item], rows))
                del rows
                folder.add((p, e) for p, e in page.events if _document_of(e) is not None)
                position = page.last
                pages.add(page.rows, count, position)
                del page
                await pages.behind(WRITE_BEHIND * batch_size if writer is not conn else 0)
                # The world only grows, and holds no cycles: keep the collector from walking it again and
                # again (refcounting still frees what a later batch replaces). rebuild() unfreezes.
                gc.freeze()
            await pages.behind(0)
        finally:
            await pages.stop()
    return position


# How many pages' events a rebuild decodes ahead of its writer at most, before it waits for it.
WRITE_BEHIND = 4


class _Pages:
    """The rebuild's writer: pages' rows handed over as they are decoded, written on `conn` by one task
    while there are any, each time all that were handed over since its last write, in one transaction
    (`_write_page`); `report` called with the last position of each write."""

    def __init__(self, conn: Conn, report: Callable[[int], None]) -> None:
        self._conn = conn
        self._report = report
        self._rows: dict[str, list[tuple[Any, ...]]] = {}
        self._events = 0
        self._position = 0
        self._task: asyncio.Task[None] | None = None
        self._taken = asyncio.Event()

    def add(self, rows: dict[str, list[tuple[Any, ...]]], events: int, position: int) -> None:
        for table, added in rows.items():
            self._rows.setdefault(table, []).extend(added)
        self._events += events
        self._position = position
        self._start()

    def _start(self) -> None:
        if self._task is not None and self._task.done():
            task, self._task = self._task, None
            task.result()  # what a write raised
        if self._task is None and self._events:
            self._task = asyncio.create_task(self._write())

    async def behind(self, events: int) -> None:
        """Wait until no more than `events` events wait to be written (0: until all are written), raising
        what a write raised."""
        while True:
            self._start()
            if self._task is None or (events and self._events <= events):
                return
            self._taken.clear()
            taken = asyncio.ensure_future(self._taken.wait())
            try:
                await asyncio.wait([self._task, taken], return_when=asyncio.FIRST_COMPLETED)
            finally:
                taken.cancel()

    async def _write(self) -> None:
        while self._events:
            rows, position = self._rows, self._position
            self._rows, self._events = {}, 0
            self._taken.set()
            await _write_page(self._conn, rows, position)
            self._report(position)

    async def stop(self) -> None:
        """Stop a write still in flight (after a failure), and wait for it."""
        if self._task is not None:
            await _dropped(self._task)
            self._task = None


async def _write_page(conn: Conn, rows: dict[str, list[tuple[Any, ...]]], position: int) -> int:
    async with conn.transaction():
        # One commit per page, not per table, and without waiting for its WAL to reach the disk: the page
        # belongs to a generation nothing reads before the switch, and the switch's own commit, which does
        # wait, flushes the WAL of every page before it. A crash before the switch loses at most pages
        # of a generation the next rebuild drops as leftovers.
        await conn.execute(query("commit_without_flush"))
        await save_records(conn, rows)
    return position


async def fill_missing_records(pool: asyncpg.Pool, registry: Registry) -> bool:
    """Rebuild once if the live generation holds facts but no records (a database projected before the
    records were kept in tables): the rebuild writes them beside and switches. True if it ran."""
    async with pool.acquire() as conn:
        current = await conn.fetchrow(query("checkpoint"), NAME)
        assert current is not None
        if not await records_missing(conn, current["generation"], current["position"]):
            return False
    log.info("the projections hold no records in tables yet: rebuilding them beside the live ones")
    checkpoint = await rebuild(pool, registry)
    log.info("records rebuilt", generation=checkpoint.generation, position=checkpoint.position)
    return True
