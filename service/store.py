"""The event store: ordered, idempotent, group-committed appends, and reads by stream or position.

Appends from every task in the process go through one writer. It takes whatever requests are waiting, and
writes them in one transaction under one advisory lock: one lock wait and one commit for the whole group,
while each request keeps its own expected-version check, idempotency check and result (DESIGN §4).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from events.codec import JSON, canonical_json
from events.envelope import (
    ExpectedVersion,
    Recorded,
    check_idempotency_key,
    check_stream_id,
    envelope_text,
    format_timestamp,
)
from events.errors import CodecError, IdempotencyKeyReused, InvalidAppend, QinglianError, VersionConflict
from events.merkle import leaf_hash
from events.registry import Event, Registry
from service.queries import query

# Key of the transaction-scoped advisory lock that orders all appends; any fixed bigint no other
# application in the database uses.
APPEND_LOCK = 0x716C_6C6F_6721  # "qllog!"
MAX_EVENTS_PER_APPEND = 1000
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_METADATA_BYTES = 16 * 1024
# A group stops growing at this many events, to bound a transaction's size and its lock time.
MAX_GROUP_EVENTS = 2000
# A writer idle this long gives back the append lock and its connection.
IDLE_RELEASE_SECONDS = 0.2
# A busy writer lets go of the append lock this often, so writers in other processes get their turn.
MAX_HOLD_SECONDS = 0.05
# APPEND_LOCK is a constant of this module, so no input reaches these texts.
_LOCK = f"select pg_advisory_lock({APPEND_LOCK})"
_UNLOCK = f"select pg_advisory_unlock({APPEND_LOCK})"

Conn: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def utc_now() -> datetime:
    return datetime.now(UTC)


class RandomIds:
    """Version-4 UUIDs drawn 256 at a time from one `os.urandom` call; `uuid4()` makes a system call for
    every id, which shows on a hot path."""

    def __init__(self) -> None:
        self._ready: list[UUID] = []

    def __call__(self) -> UUID:
        if not self._ready:
            raw = os.urandom(16 * 256)
            self._ready = [UUID(bytes=raw[i : i + 16], version=4) for i in range(0, len(raw), 16)]
        return self._ready.pop()


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendResult:
    """Where an append's events landed. `replayed` is true when an idempotent retry returned it."""

    stream_id: str
    first_position: int
    event_count: int
    stream_version: int
    replayed: bool = False

    @property
    def positions(self) -> range:
        return range(self.first_position, self.first_position + self.event_count)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    first_position: int
    event_count: int
    replayed: bool = False

    @property
    def positions(self) -> range:
        return range(self.first_position, self.first_position + self.event_count)


@dataclass(frozen=True, slots=True)
class _Encoded:
    type: str
    schema_version: int
    payload_json: str


@dataclass(slots=True, kw_only=True)
class _Request:
    stream_id: str
    events: list[_Encoded]
    expected: ExpectedVersion
    key: str
    metadata_json: str
    fingerprint: bytes
    future: asyncio.Future[AppendResult] = field(repr=False)


def _fingerprint(stream_id: str | None, encoded: Iterable[_Encoded]) -> bytes:
    # Canonical JSON has no raw newlines, so newline-separated parts cannot be confused with each other.
    digest = hashlib.sha256((stream_id or "*").encode())
    for item in encoded:
        digest.update(f"\n{item.type}\n{item.schema_version}\n".encode())
        digest.update(item.payload_json.encode())
    return digest.digest()


class EventStore:
    """Appends and reads on a pool whose role may only SELECT and INSERT."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: Registry,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], UUID] | None = None,
    ) -> None:
        self._pool = pool
        self._registry = registry
        self._clock = clock
        self._new_id = new_id or RandomIds()
        # None in the queue asks the writer to stop (see close()).
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    # -- appending -----------------------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        *,
        expected_version: ExpectedVersion,
        idempotency_key: str,
        metadata: Mapping[str, JSON] | None = None,
    ) -> AppendResult:
        """Append `events` to a stream if it is at `expected_version`; return their positions.

        Raises VersionConflict (nothing written), IdempotencyKeyReused, InvalidAppend or CodecError.
        A retry with the same key and the same events returns the first result and writes nothing.
        """
        check_stream_id(stream_id)
        check_idempotency_key(idempotency_key)
        if not isinstance(expected_version, ExpectedVersion):
            raise InvalidAppend("expected_version", "must be an ExpectedVersion")
        encoded = self._encode_events(events)
        loop = asyncio.get_running_loop()
        request = _Request(
            stream_id=stream_id,
            events=encoded,
            expected=expected_version,
            key=idempotency_key,
            metadata_json=_metadata_json(metadata, idempotency_key),
            fingerprint=_fingerprint(stream_id, encoded),
            future=loop.create_future(),
        )
        self._ensure_writer()
        self._queue.put_nowait(request)
        # Shielded: a caller that gives up must not cancel a write that may already be committing; a
        # retry with the same key then finds out what happened.
        return await asyncio.shield(request.future)

    def _encode_events(self, events: Sequence[Event]) -> list[_Encoded]:
        if not isinstance(events, Sequence) or isinstance(events, str | bytes):
            raise InvalidAppend("events", "must be a sequence of events")
        if not events:
            raise InvalidAppend("events", "an append needs at least one event")
        if len(events) > MAX_EVENTS_PER_APPEND:
            raise InvalidAppend("events", f"at most {MAX_EVENTS_PER_APPEND} events per append")
        return [self._encode_one(event, f"events[{index}]") for index, event in enumerate(events)]

    def _encode_one(self, event: Event, field: str) -> _Encoded:
        type_, version, payload_json = self._registry.encode_canonical(event)
        # Characters take 1 to 4 bytes: only a long text needs measuring in bytes.
        if len(payload_json) > MAX_PAYLOAD_BYTES // 4 and len(payload_json.encode()) > MAX_PAYLOAD_BYTES:
            raise InvalidAppend(field, f"payload is larger than {MAX_PAYLOAD_BYTES} bytes")
        return _Encoded(type_, version, payload_json)

    def _ensure_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write_forever(), name="qinglian-event-writer"
            )

    async def close(self) -> None:
        """Stop the writer after the requests already queued are written."""
        if self._writer is None:
            return
        self._queue.put_nowait(None)  # after everything queued so far
        await self._writer
        self._writer = None

    async def _write_forever(self) -> None:
        lease = _Lease(self._pool)
        stopping = False
        try:
            while not stopping:
                try:
                    async with asyncio.timeout(IDLE_RELEASE_SECONDS if lease.held else None):
                        first = await self._queue.get()
                except TimeoutError:
                    await lease.release()
                    continue
                if first is None:
                    break
                group = [first]
                size = len(first.events)
                while size < MAX_GROUP_EVENTS and not self._queue.empty():
                    request = self._queue.get_nowait()
                    if request is None:
                        stopping = True
                        break
                    group.append(request)
                    size += len(request.events)
                try:
                    await self._write_group(await lease.locked(), group)
                    await lease.share_if_held_long()
                except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
                    # The connection failed: these requests fail; the next group takes a fresh one.
                    for request in group:
                        _settle(request, exc)
                    await lease.release()
        finally:
            await lease.release()

    async def _write_group(self, conn: Conn, group: list[_Request]) -> None:
        try:
            outcomes = await self._write_once(conn, group)
        except asyncio.CancelledError:
            for request in group:
                request.future.cancel()
            raise
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0], _domain_error(exc, group[0]))
                return
            if conn.is_closed():
                raise
            # Write each alone, so one request the database refuses cannot fail the rest of its group.
            for request in group:
                await self._write_group(conn, [request])
            return
        for request, outcome in zip(group, outcomes, strict=True):
            _settle(request, outcome)

    async def _write_once(self, conn: Conn, group: list[_Request]) -> list[AppendResult | QinglianError]:
        # Two round trips a group: one read, one write. The writer holds the append lock at session level
        # while it has work (see _Lease), so nothing else appends between its read and its write, and the
        # write, a single statement in autocommit, commits before the next group's read.
        return await self._decide_and_write(conn, group)

    async def _decide_and_write(
        self, conn: Conn, group: list[_Request]
    ) -> list[AppendResult | QinglianError]:
        streams = list({request.stream_id for request in group})
        state = await conn.fetchrow(query("group_state"), streams, list({r.key for r in group}))
        assert state is not None  # an aggregate query returns one row
        head: int = state["head"] or 0
        now = self._clock()
        # recorded_at never runs backwards along the log, so "as of a time" and "as of a position" agree.
        recorded_at = max(now, state["head_at"]) if state["head_at"] is not None else now
        recorded_text = format_timestamp(recorded_at)
        versions = dict(zip(streams, state["versions"], strict=True))
        known = {prior.key: prior for prior in map(_Prior.from_json, json.loads(state["known"] or "[]"))}
        rows = _Rows()
        accepted: dict[str, tuple[bytes, AppendResult]] = {}
        outcomes: list[AppendResult | QinglianError] = []
        position = head
        for request in group:
            prior = known.get(request.key)
            if prior is not None:
                outcomes.append(_replay(request.key, request.stream_id, request.fingerprint, prior))
                continue
            earlier = accepted.get(request.key)
            if earlier is not None:
                fingerprint, result = earlier
                outcomes.append(
                    _replayed(result)
                    if fingerprint == request.fingerprint
                    else IdempotencyKeyReused(request.key)
                )
                continue
            actual = versions[request.stream_id]
            if not request.expected.admits(actual):
                outcomes.append(VersionConflict(request.stream_id, str(request.expected), actual))
                continue
            first = position + 1
            stream_json = canonical_json(request.stream_id)
            for offset, item in enumerate(request.events, start=1):
                position += 1
                rows.add_event(
                    position=position,
                    stream_id=request.stream_id,
                    stream_json=stream_json,
                    stream_version=actual + offset,
                    event_id=self._new_id(),
                    item=item,
                    metadata_json=request.metadata_json,
                    recorded_at=recorded_text,
                )
            versions[request.stream_id] = actual + len(request.events)
            result = AppendResult(
                stream_id=request.stream_id,
                first_position=first,
                event_count=len(request.events),
                stream_version=versions[request.stream_id],
            )
            rows.add_key(request.key, request.fingerprint, result)
            accepted[request.key] = (request.fingerprint, result)
            outcomes.append(result)
        if rows.events:
            await conn.fetchrow(query("write_batch"), *rows.arguments(recorded_at, position))
        return outcomes

    async def prior_result(
        self, stream_id: str, events: Sequence[Event], *, idempotency_key: str
    ) -> AppendResult | None:
        """The result an earlier append under `idempotency_key` had, if there was one.

        Commands ask before validating, so a retry of a command that succeeded gets its first result
        back instead of an error saying the thing it recorded already exists.
        """
        check_idempotency_key(idempotency_key)
        row = await self._pool.fetchrow(query("idempotency_records"), [idempotency_key])
        if row is None:
            return None
        fingerprint = _fingerprint(stream_id, self._encode_events(events))
        outcome = _replay(idempotency_key, stream_id, fingerprint, _Prior.from_row(row))
        if isinstance(outcome, QinglianError):
            raise outcome
        return outcome

    # -- bulk import ---------------------------------------------------------------------------------

    async def bulk_import(
        self,
        entries: Iterable[tuple[str, Event, Mapping[str, JSON]]],
        *,
        idempotency_key: str,
    ) -> ImportResult:
        """Append many events to many streams in one transaction, by COPY, in the order given.

        There is no expected version: each stream continues from wherever it stands. For loading a
        history (a migration from another system, the demo), not for commands.
        """
        # An import allocates a few objects per event and keeps them all until COPY ends; the cyclic
        # collector would walk that growing heap again and again (a third of the import's time, measured).
        # Nothing here makes reference cycles, so it is paused for the import; reference counting still
        # frees everything as usual.
        with _gc_paused():
            return await self._bulk_import(entries, idempotency_key=idempotency_key)

    async def _bulk_import(
        self,
        entries: Iterable[tuple[str, Event, Mapping[str, JSON]]],
        *,
        idempotency_key: str,
    ) -> ImportResult:
        """See bulk_import."""
        check_idempotency_key(idempotency_key)
        listed = list(entries)
        if not listed:
            raise InvalidAppend("entries", "an import needs at least one event")
        streams: set[str] = set()
        for index, (stream_id, _, _) in enumerate(listed):
            if stream_id not in streams:
                try:
                    check_stream_id(stream_id)
                except InvalidAppend as exc:
                    raise InvalidAppend(f"entries[{index}].{exc.field}", exc.reason) from exc
                streams.add(stream_id)

        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(query("take_append_lock"), APPEND_LOCK)
            prior = await conn.fetchrow(query("idempotency_records"), [idempotency_key])
            if prior is not None:
                digest = hashlib.sha256()
                for _ in self._stage(listed, idempotency_key, digest):
                    pass
                if prior["fingerprint"] != digest.digest():
                    raise IdempotencyKeyReused(idempotency_key)
                return ImportResult(
                    first_position=prior["first_position"], event_count=prior["event_count"], replayed=True
                )
            head_row = await conn.fetchrow(query("head"))
            head = head_row["position"] if head_row else 0
            now = self._clock()
            recorded_at = max(now, head_row["recorded_at"]) if head_row else now
            versions: dict[str, int] = {
                row["stream_id"]: row["version"]
                for row in await conn.fetch(query("stream_versions"), list(streams))
            }
            # Entries are encoded inside COPY's row generator, so the server takes in rows while the next
            # ones are encoded and hashed. A bad entry raises there: COPY is abandoned, the transaction
            # rolls back, and the import writes nothing.
            digest = hashlib.sha256()
            staged = self._stage(listed, idempotency_key, digest)
            records = self._import_records(staged, head, versions, recorded_at)
            await conn.copy_records_to_table("events", records=records, columns=EVENT_COLUMNS)
            await conn.execute(
                query("remember_import"), idempotency_key, digest.digest(), head + 1, len(listed), recorded_at
            )
            await conn.execute(query("notify_head"), str(head + len(listed)))
        return ImportResult(first_position=head + 1, event_count=len(listed))

    def _stage(
        self,
        entries: list[tuple[str, Event, Mapping[str, JSON]]],
        idempotency_key: str,
        digest: Any,
    ) -> Iterator[tuple[str, _Encoded, str]]:
        """Each entry encoded, in order, while `digest` takes in the import's fingerprint."""
        for index, (stream_id, event, metadata) in enumerate(entries):
            try:
                item = self._encode_one(event, "event")
                metadata_json = _metadata_json(metadata, idempotency_key)
            except InvalidAppend as exc:
                raise InvalidAppend(f"entries[{index}].{exc.field}", exc.reason) from exc
            except CodecError as exc:
                raise CodecError(f"entries[{index}].{exc.path}".rstrip("."), exc.reason) from exc
            digest.update(_fingerprint(stream_id, [item]))
            yield stream_id, item, metadata_json

    def _import_records(
        self,
        staged: Iterable[tuple[str, _Encoded, str]],
        head: int,
        versions: dict[str, int],
        recorded_at: datetime,
    ) -> Iterable[tuple[Any, ...]]:
        # A generator: COPY streams rows to the server while the next ones are hashed.
        position = head
        recorded_text = format_timestamp(recorded_at)
        stream_json: dict[str, str] = {}
        for stream_id, item, metadata_json in staged:
            position += 1
            version = versions[stream_id] + 1
            versions[stream_id] = version
            event_id = self._new_id()
            quoted = stream_json.get(stream_id)
            if quoted is None:
                quoted = stream_json[stream_id] = canonical_json(stream_id)
            canonical = envelope_text(
                position=position,
                stream_json=quoted,
                stream_version=version,
                event_id=str(event_id),
                type_json=_type_json(item.type),
                schema_version=item.schema_version,
                payload_json=item.payload_json,
                metadata_json=metadata_json,
                recorded_at=recorded_text,
            ).encode()
            yield (
                position,
                stream_id,
                version,
                event_id,
                item.type,
                item.schema_version,
                item.payload_json,
                metadata_json,
                canonical,
                leaf_hash(canonical),
                recorded_at,
            )

    # -- reading -------------------------------------------------------------------------------------

    async def read_stream(
        self, stream_id: str, *, after_version: int = 0, limit: int = 1000
    ) -> list[Recorded]:
        """A stream's events with version > `after_version`, oldest first."""
        check_stream_id(stream_id)
        rows = await self._pool.fetch(query("read_stream"), stream_id, after_version, limit)
        return [recorded_from_row(row) for row in rows]

    async def read_all(
        self,
        *,
        after_position: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        stream_prefix: str | None = None,
    ) -> list[Recorded]:
        """Events with position > `after_position`, in position order, optionally filtered."""
        rows = await self._pool.fetch(
            query("read_all"),
            after_position,
            limit,
            list(types) if types is not None else None,
            stream_prefix,
        )
        return [recorded_from_row(row) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        """The version of a stream's latest event; 0 for a stream with none."""
        check_stream_id(stream_id)
        version: int = await self._pool.fetchval(query("stream_version"), stream_id)
        return version

    async def head(self) -> int:
        """The position of the latest event; 0 for an empty log."""
        position: int = await self._pool.fetchval(query("head_position"))
        return position


# The events table's columns, in the order COPY receives them.
EVENT_COLUMNS = [
    "position",
    "stream_id",
    "stream_version",
    "event_id",
    "type",
    "schema_version",
    "payload",
    "metadata",
    "canonical",
    "leaf_hash",
    "recorded_at",
]


class _Lease:
    """The writer's connection and, while it has work, the session-level append lock.

    Holding the lock across groups saves a BEGIN and a COMMIT round trip per group: each group's write is
    one autocommitted statement. Every other writer (another process's store, a bulk import) waits on the
    same lock key, so position order is still commit order. A backend that dies releases its locks.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._since: float | None = None  # when the lock was taken; None while not held

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def locked(self) -> asyncpg.pool.PoolConnectionProxy:
        """A connection that holds the append lock."""
        if self._conn is not None and self._conn.is_closed():
            await self.release()
        if self._conn is None:
            self._conn = await self._pool.acquire()
        if self._since is None:
            await self._conn.execute(_LOCK)
            self._since = time.monotonic()
        return self._conn

    async def share_if_held_long(self) -> None:
        if (
            self._conn is not None
            and self._since is not None
            and time.monotonic() - self._since > MAX_HOLD_SECONDS
        ):
            await self._conn.execute(_UNLOCK)
            self._since = None

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        since, self._since = self._since, None
        if conn is None:
            return
        if since is not None and not conn.is_closed():
            with contextlib.suppress(OSError, asyncpg.InterfaceError, asyncpg.PostgresError):
                await conn.execute(_UNLOCK)
        await self._pool.release(conn)


class _Rows:
    """Column arrays for one group's write, passed to `write_batch` as unnest() arguments."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.keys: list[tuple[Any, ...]] = []

    def add_event(
        self,
        *,
        position: int,
        stream_id: str,
        stream_json: str,
        stream_version: int,
        event_id: UUID,
        item: _Encoded,
        metadata_json: str,
        recorded_at: str,
    ) -> None:
        # The id as text once: the envelope needs it, and asyncpg takes text for uuid[] as well.
        event_id_text = str(event_id)
        canonical = envelope_text(
            position=position,
            stream_json=stream_json,
            stream_version=stream_version,
            event_id=event_id_text,
            type_json=_type_json(item.type),
            schema_version=item.schema_version,
            payload_json=item.payload_json,
            metadata_json=metadata_json,
            recorded_at=recorded_at,
        ).encode()
        self.events.append(
            (
                position,
                stream_id,
                stream_version,
                event_id_text,
                item.type,
                item.schema_version,
                item.payload_json,
                metadata_json,
                canonical,
                leaf_hash(canonical),
            )
        )

    def add_key(self, key: str, fingerprint: bytes, result: AppendResult) -> None:
        self.keys.append(
            (
                key,
                fingerprint,
                result.stream_id,
                result.first_position,
                result.event_count,
                result.stream_version,
            )
        )

    def arguments(self, recorded_at: datetime, head: int) -> list[Any]:
        event_columns = [list(column) for column in zip(*self.events, strict=True)]
        key_columns = [list(column) for column in zip(*self.keys, strict=True)]
        return [*event_columns, recorded_at, *key_columns, str(head)]


@functools.cache
def _type_json(type_: str) -> str:
    return canonical_json(type_)


def _metadata_json(metadata: Mapping[str, JSON] | None, key: str) -> str:
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidAppend("metadata", "must be an object")
    text = canonical_json({**(metadata or {}), "idempotency_key": key})
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise InvalidAppend("metadata", f"larger than {MAX_METADATA_BYTES} bytes")
    return text


@dataclass(frozen=True, slots=True)
class _Prior:
    """What an idempotency record says of the append that first used its key."""

    key: str
    fingerprint: bytes
    stream_id: str | None
    first_position: int
    event_count: int
    stream_version: int | None

    @staticmethod
    def from_json(item: list[Any]) -> _Prior:
        key, fingerprint, stream_id, first, count, version = item
        return _Prior(key, bytes.fromhex(fingerprint), stream_id, first, count, version)

    @staticmethod
    def from_row(row: asyncpg.Record) -> _Prior:
        return _Prior(
            row["key"],
            row["fingerprint"],
            row["stream_id"],
            row["first_position"],
            row["event_count"],
            row["stream_version"],
        )


def _replay(key: str, stream_id: str, fingerprint: bytes, prior: _Prior) -> AppendResult | QinglianError:
    # A bulk import's key (no stream) can never be replayed as a single append.
    if prior.fingerprint != fingerprint or prior.stream_id != stream_id or prior.stream_version is None:
        return IdempotencyKeyReused(key)
    return AppendResult(
        stream_id=stream_id,
        first_position=prior.first_position,
        event_count=prior.event_count,
        stream_version=prior.stream_version,
        replayed=True,
    )


def _replayed(result: AppendResult) -> AppendResult:
    return AppendResult(
        stream_id=result.stream_id,
        first_position=result.first_position,
        event_count=result.event_count,
        stream_version=result.stream_version,
        replayed=True,
    )


def _domain_error(exc: Exception, request: _Request) -> Exception:
    """The one place a driver error becomes a domain error, by constraint name."""
    if isinstance(exc, asyncpg.UniqueViolationError) and exc.constraint_name == "events_stream_version_key":
        # Only a writer that bypassed the append lock can get here; report it as what it means.
        conflict = VersionConflict(request.stream_id, str(request.expected), -1)
        conflict.__cause__ = exc
        return conflict
    return exc


def _settle(request: _Request, outcome: AppendResult | BaseException) -> None:
    if request.future.done():
        return
    if isinstance(outcome, BaseException):
        request.future.set_exception(outcome)
    else:
        request.future.set_result(outcome)


def recorded_from_row(row: asyncpg.Record) -> Recorded:
    canonical: bytes = row["canonical"]
    envelope = json.loads(canonical)
    return Recorded(
        position=row["position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        type=row["type"],
        schema_version=row["schema_version"],
        payload=envelope["payload"],
        metadata=envelope["metadata"],
        recorded_at=row["recorded_at"],
        canonical=canonical,
        leaf_hash=row["leaf_hash"],
    )
