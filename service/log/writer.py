"""The group-commit writer: every append in the process goes through one task.

It takes whatever requests are waiting and writes them as one group under the append lock (see
`service/log/lease.py`): one read and one autocommitted write statement for the whole group, while each
request keeps its own expected-version check, idempotency check and result (DESIGN §4).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from events.codec import JSON, canonical_json
from events.envelope import (
    ExpectedVersion,
    check_idempotency_key,
    check_stream_id,
    format_timestamp,
)
from events.errors import IdempotencyKeyReused, InvalidAppend, QinglianError, VersionConflict
from events.merkle import leaf_hash
from events.registry import Event
from events.sealing import Opening, Sealed, seal
from service.log.appending import Appending
from service.log.encoding import (
    Encoded,
    canonical_envelope,
    encode_events,
    fingerprint,
    metadata_json,
)
from service.log.lease import IDLE_RELEASE_SECONDS, Lease
from service.log.queries import query
from service.log.reads import Conn
from service.log.results import AppendResult, Prior, replay

log = structlog.get_logger(__name__)

# A group stops growing at this many events, to bound a statement's size and the lock's hold.
MAX_GROUP_EVENTS = 2000


@dataclass(slots=True, kw_only=True)
class _Request:
    stream_id: str
    events: list[Encoded]
    expected: ExpectedVersion
    key: str
    metadata_json: str
    fingerprint: bytes
    future: asyncio.Future[AppendResult] = field(repr=False)


class GroupWriter(Appending):
    """Appends, grouped: one writer task per process, started on the first append."""

    # Made on the first append, and kept: a writer task started again finds what is still queued. None in
    # the queue asks the writer to stop (see close()).
    _queue: asyncio.Queue[_Request | None] | None = None
    _writer: asyncio.Task[None] | None = None

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        *,
        expected_version: ExpectedVersion,
        idempotency_key: str,
        metadata: Mapping[str, JSON] | None = None,
        openings: Sequence[Sequence[Opening]] | None = None,
    ) -> AppendResult:
        """Append `events` to a stream if it is at `expected_version`; return their positions.

        `openings` holds, for each event, the salt and value of each of its sealed fields: they are
        written beside the log in the same statement as the events.

        Raises VersionConflict (nothing written), IdempotencyKeyReused, InvalidAppend or CodecError.
        A retry with the same key and the same events returns the first result and writes nothing.
        """
        check_stream_id(stream_id)
        check_idempotency_key(idempotency_key)
        if not isinstance(expected_version, ExpectedVersion):
            raise InvalidAppend("expected_version", "must be an ExpectedVersion")
        encoded = encode_events(self._registry, events, openings)
        loop = asyncio.get_running_loop()
        request = _Request(
            stream_id=stream_id,
            events=encoded,
            expected=expected_version,
            key=idempotency_key,
            metadata_json=metadata_json(metadata, idempotency_key),
            fingerprint=fingerprint(stream_id, encoded),
            future=loop.create_future(),
        )
        self._ensure_writer().put_nowait(request)
        # Shielded: a caller that gives up must not cancel a write that may already be committing; a
        # retry with the same key then finds out what happened.
        return await asyncio.shield(request.future)

    async def prior_result(
        self,
        stream_id: str,
        events: Sequence[Event],
        *,
        idempotency_key: str,
        openings: Sequence[Sequence[Opening]] | None = None,
    ) -> AppendResult | None:
        """The result an earlier append under `idempotency_key` had, if there was one.

        Commands ask before validating, so a retry of a command that succeeded gets its first result
        back instead of an error saying the thing it recorded already exists. A retry seals its text with
        a salt of its own; it is the same request if, sealed with the first attempt's salts, it is the
        same events.
        """
        check_idempotency_key(idempotency_key)
        row = await self._pool.fetchrow(query("idempotency_records"), [idempotency_key])
        if row is None:
            return None
        prior = Prior.from_row(row)
        if openings is not None and any(openings):
            events, openings = await self._resealed(prior, events, openings)
        asked = fingerprint(stream_id, encode_events(self._registry, events, openings))
        outcome = replay(idempotency_key, stream_id, asked, prior)
        if isinstance(outcome, QinglianError):
            raise outcome
        return outcome

    async def _resealed(
        self, prior: Prior, events: Sequence[Event], openings: Sequence[Sequence[Opening]]
    ) -> tuple[list[Event], list[list[Opening]]]:
        """`events` sealed with the salts the prior append under the same key used (kept beside the log).
        An erased salt is gone: the events then keep their own, and the request cannot match."""
        rows = await self._pool.fetch(
            query("salts_between"), prior.first_position, prior.first_position + prior.event_count - 1
        )
        salts = {(r["position"] - prior.first_position, r["field"]): r["salt"] for r in rows}
        resealed_events: list[Event] = []
        resealed_openings: list[list[Opening]] = []
        for index, (event, given) in enumerate(zip(events, openings, strict=True)):
            changes: dict[str, Sealed] = {}
            kept: list[Opening] = []
            for opening in given:
                salt = salts.get((index, opening.field))
                if salt is None:
                    kept.append(opening)
                    continue
                sealed, again = seal(opening.field, opening.value, salt)
                changes[opening.field] = sealed
                kept.append(again)
            resealed_events.append(dataclasses.replace(event, **changes) if changes else event)  # type: ignore[type-var]
            resealed_openings.append(kept)
        return resealed_events, resealed_openings

    def _ensure_writer(self) -> asyncio.Queue[_Request | None]:
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write_forever(self._queue), name="qinglian-event-writer"
            )
        return self._queue

    async def close(self) -> None:
        """Stop the writer after the requests already queued are written."""
        if self._writer is None or self._queue is None:
            return
        self._queue.put_nowait(None)  # after everything queued so far
        await self._writer
        self._writer = None

    async def _write_forever(self, queue: asyncio.Queue[_Request | None]) -> None:
        lease = Lease(self._pool)
        stopping = False
        try:
            while not stopping:
                try:
                    async with asyncio.timeout(IDLE_RELEASE_SECONDS if lease.held else None):
                        first = await queue.get()
                except TimeoutError:
                    await lease.release()
                    continue
                if first is None:
                    break
                group = [first]
                size = len(first.events)
                while size < MAX_GROUP_EVENTS and not queue.empty():
                    request = queue.get_nowait()
                    if request is None:
                        stopping = True
                        break
                    group.append(request)
                    size += len(request.events)
                try:
                    await self._write_group(await lease.locked(), group)
                    await lease.share_if_held_long()
                except Exception as exc:  # noqa: BLE001 - whatever failed, its callers must hear of it
                    # The connection failed, or the lease could not be had (too many connections, the
                    # lock's statement cancelled, the server shutting down): every request of the group
                    # not yet answered fails with it, and the next group starts on a fresh connection.
                    # The writer itself goes on; nobody is left waiting.
                    log.warning("append group failed", error=type(exc).__name__, requests=len(group))
                    for request in group:
                        _settle(request, exc)
                    with contextlib.suppress(Exception):
                        await lease.release()
        finally:
            await lease.release()

    async def _write_group(self, conn: Conn, group: list[_Request]) -> None:
        try:
            outcomes = await self._decide_and_write(conn, group)
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

    async def _decide_and_write(
        self, conn: Conn, group: list[_Request]
    ) -> list[AppendResult | QinglianError]:
        # Two round trips a group: one read, one write. The writer holds the append lock at session level
        # while it has work (see Lease), so nothing else appends between its read and its write, and the
        # write, a single statement in autocommit, commits before the next group's read.
        streams = list({request.stream_id for request in group})
        state = await conn.fetchrow(query("group_state"), streams, list({r.key for r in group}))
        assert state is not None  # an aggregate query returns one row
        head: int = state["head"] or 0
        now = self._clock()
        # recorded_at never runs backwards along the log, so "as of a time" and "as of a position" agree.
        recorded_at = max(now, state["head_at"]) if state["head_at"] is not None else now
        recorded_text = format_timestamp(recorded_at)
        versions = dict(zip(streams, state["versions"], strict=True))
        known = {prior.key: prior for prior in map(Prior.from_json, json.loads(state["known"] or "[]"))}
        rows = _Rows()
        accepted: dict[str, tuple[bytes, AppendResult]] = {}
        outcomes: list[AppendResult | QinglianError] = []
        position = head
        for request in group:
            prior = known.get(request.key)
            if prior is not None:
                outcomes.append(replay(request.key, request.stream_id, request.fingerprint, prior))
                continue
            earlier = accepted.get(request.key)
            if earlier is not None:
                first_fingerprint, result = earlier
                outcomes.append(
                    _replayed(result)
                    if first_fingerprint == request.fingerprint
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
                rows.add_openings(position, item)
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


class _Rows:
    """Column arrays for one group's write, passed to `write_batch` as unnest() arguments."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.keys: list[tuple[Any, ...]] = []
        self.openings: list[tuple[Any, ...]] = []

    def add_openings(self, position: int, item: Encoded) -> None:
        for opening in item.openings:
            self.openings.append((position, opening.field, opening.salt, opening.value))

    def add_event(
        self,
        *,
        position: int,
        stream_id: str,
        stream_json: str,
        stream_version: int,
        event_id: UUID,
        item: Encoded,
        metadata_json: str,
        recorded_at: str,
    ) -> None:
        # The id as text once: the envelope needs it, and asyncpg takes text for uuid[] as well.
        event_id_text = str(event_id)
        canonical = canonical_envelope(
            position=position,
            stream_json=stream_json,
            stream_version=stream_version,
            event_id=event_id_text,
            item=item,
            metadata_json=metadata_json,
            recorded_at=recorded_at,
        )
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
        opening_columns = [list(column) for column in zip(*self.openings, strict=True)] or [[], [], [], []]
        return [*event_columns, recorded_at, *key_columns, str(head), *opening_columns]


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
