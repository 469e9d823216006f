"""The projection runner: folds the log into `facts`, one transaction per batch.

In each transaction it locks its checkpoint row, reads the events after it, folds them into the facts of
the entities they touch, writes those back and advances the checkpoint. Killed at any instant, it either
committed a batch (facts and checkpoint together) or did not: it resumes with no loss and no double count.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeAlias

import asyncpg
import structlog

from events.catalogue import subject_of
from events.envelope import Recorded, payload_json_of
from events.erasure import Erased
from events.hierarchy import TownRegistered
from events.payloads import from_json_text, to_json_text
from events.registry import Event, Registry
from events.standard import StandardRevised
from projections.community import Folder, StandardVersion, TownFacts, World, fold_events
from projections.facts import CommunityFacts
from projections.timeline import affected_from
from service.log.queries import query as log_query
from service.log.reads import Conn
from service.log.watcher import HeadWatcher
from service.read.queries import query
from service.read.records import drop_records, record_rows, records_missing, save_records
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


def events_of(registry: Registry, rows: Iterable[asyncpg.Record]) -> list[tuple[int, Event]]:
    """(position, event) of each row of `read_all`: each payload decoded from the envelope's canonical
    bytes straight into its class, the rest of the envelope left unbuilt."""
    decode = registry.decode_text
    return [
        (row["position"], decode(row["type"], row["schema_version"], payload_json_of(row["canonical"])))
        for row in rows
    ]


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


async def mark_status_pending(conn: Conn, generation: int, events: Sequence[tuple[int, Event]]) -> None:
    """Mark each community whose status the events can change, from the first day they can change it
    (`affected_from`); a standard revision marks every community. `service/read/status.py` catches up."""
    since: dict[str, date] = {}
    # The first event that changes each community's status: where its stored rows stop being known.
    first: dict[str, int] = {}
    revised: list[tuple[date, int]] = []
    for position, event in events:
        day = affected_from(event)
        if day is None:
            continue
        if isinstance(event, StandardRevised):
            revised.append((day, position))
            continue
        key = entity_of(event)
        if key is not None and key[0] == "community":
            since[key[1]] = min(day, since.get(key[1], day))
            first.setdefault(key[1], position)
    if since:
        ids = list(since)
        await conn.execute(
            query("mark_status_pending"), generation, ids, [since[i] for i in ids], [first[i] for i in ids]
        )
    if revised:
        await conn.execute(
            query("mark_all_status_pending"),
            generation,
            min(d for d, _ in revised),
            min(p for _, p in revised),
        )


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
        self._batch_size = batch_size
        self._position = 0
        self._advanced = asyncio.Event()
        # The page after a full one, being read on another connection: (after position, limit, the read).
        self._ahead: tuple[int, int, asyncio.Task[list[asyncpg.Record]]] | None = None

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
        it has more than one), which the next step takes if it starts where this one ends, with the same
        limit: the log is read while this batch is decoded and written. The caller then ends with
        `drop_read_ahead`.
        """
        size = limit or self._batch_size
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(query("checkpoint_for_update"), NAME)
            assert row is not None, "migration 0002 inserts the checkpoint row"
            generation, position = row["generation"], row["position"]
            rows = await self._rows_after(conn, position, size)
            if not rows:
                self._note(position)
                return 0
            if read_ahead and len(rows) == size and self._pool.get_max_size() > 1:
                after = rows[-1]["position"]
                self._ahead = (after, size, asyncio.create_task(self._read(after, size)))

            events = events_of(self._registry, rows)
            # Towns and the standard are kept as documents; communities only as rows (save_records).
            documents = [(p, event) for p, event in events if _document_of(event) is not None]
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
            await save_records(conn, record_rows(generation, events))
            await mark_status_pending(conn, generation, events)
            # An erasure is carried out where it is projected, in the same transaction: once the
            # projection has passed an Erased event, the text it names is gone.
            for p, event in events:
                if isinstance(event, Erased):
                    await apply_erasure(conn, p, event)
            last = events[-1][0]
            await conn.execute(query("advance_checkpoint"), NAME, generation, last)
        self._note(last)
        return len(events)

    async def _rows_after(self, conn: Conn, position: int, limit: int) -> list[asyncpg.Record]:
        """`limit` events of the log after `position`: the page read ahead if it is that one, else read now
        (the log only grows, so a page read earlier holds the same events)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            after, size, read = ahead
            if (after, size) == (position, limit):
                return await read
            await _dropped(read)
        rows: list[asyncpg.Record] = await conn.fetch(log_query("read_all"), position, limit, None, None)
        return rows

    async def _read(self, after: int, limit: int) -> list[asyncpg.Record]:
        async with self._pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(log_query("read_all"), after, limit, None, None)
            return rows

    async def drop_read_ahead(self) -> None:
        """Stop a read ahead that no step will take, and give its connection back."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            await _dropped(ahead[2])

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

        position = await _replay(pool, conn, registry, folder, generation, batch_size, report)
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
            while rows := await conn.fetch(log_query("read_all"), position, batch_size, None, None):
                events = events_of(registry, rows)
                world = fold_events(world, [(p, e) for p, e in events if _document_of(e) is not None])
                touched = sorted({k for _, e in events if (k := _document_of(e)) is not None})
                await save(conn, generation, rows_of(world, touched))
                await save_records(conn, record_rows(generation, events))
                position = rows[-1]["position"]
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
    registry: Registry,
    folder: Folder,
    generation: int,
    batch_size: int,
    report: Callable[[int], None],
) -> int:
    """Every event of the log, read on `conn` page by page: its towns and standard folded into `folder`, its
    record rows written into `generation`, and `report` called with the last position of each page
    written. Return the last position read (0 for an empty log).

    Each page's rows are written on a second connection of the pool, in one transaction (one commit per
    page, not per table: each commit waits for its WAL to be flushed), while the next page is read and
    decoded on `conn`: PostgreSQL inserts one page while this process decodes the next. A pool of one
    connection writes them on `conn`, in turn.
    """
    decode = registry.decode_text
    position = 0
    async with contextlib.AsyncExitStack() as stack:
        writer = await stack.enter_async_context(pool.acquire()) if pool.get_max_size() > 1 else conn
        writing: asyncio.Task[int] | None = None
        try:
            while rows := await conn.fetch(log_query("read_payloads"), position, batch_size):
                pairs = [(r[0], decode(r[1], r[2], r[3])) for r in rows]
                folder.add((p, e) for p, e in pairs if _document_of(e) is not None)
                added = record_rows(generation, pairs)
                position = rows[-1][0]
                del pairs, rows
                if writing is not None:
                    report(await writing)
                writing = asyncio.create_task(_write_page(writer, added, position))
                del added
                if writer is conn:
                    report(await writing)
                    writing = None
                # The world only grows, and holds no cycles: keep the collector from walking it again and
                # again (refcounting still frees what a later batch replaces). rebuild() unfreezes.
                gc.freeze()
            if writing is not None:
                report(await writing)
                writing = None
        finally:
            if writing is not None:  # something failed while a page was being written: stop it first
                await _dropped(writing)
    return position


async def _write_page(conn: Conn, rows: dict[str, list[tuple[Any, ...]]], position: int) -> int:
    async with conn.transaction():
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
