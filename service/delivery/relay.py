"""The log, relayed to NATS JetStream: every event once, in position order, for integrators who run a broker.

Each event is published to `<prefix>.<family>.<Type>` (the family is its stream's kind: community, town,
standard, access …) on a JetStream stream the relay creates when missing (`ensure_stream`: the retention
and limits below). The message is the event's public form (`body`): restricted fields are never
published. Its headers: `Nats-Msg-Id` (the event id, so JetStream's duplicate window absorbs a resend),
`Qinglian-Position` and `Qinglian-Leaf-Hash`.

**Exactly once, in order.** One relay publishes at a time: the one holding a PostgreSQL advisory lock on a
connection of its own (`LOCK`); the others wait and take over when that connection ends (the process
died, the network failed). The leader publishes a batch in position order on one NATS connection, waits
for every acknowledgement, and only then writes the batch's last position to `relay_positions`. It
resumes from there — or from the stream's last message, if that is further (a leader killed after
JetStream stored a batch but before it wrote the position). Every position up to the stream's last one
is in the stream, because one connection's messages are stored in the order sent; so nothing is
published twice, and a resend in the window where two leaders overlap is dropped by its message id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import nats
import structlog
from nats.aio.client import Client as Nats
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, PubAck, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from events.envelope import Recorded, format_timestamp
from projections.access import public_payload
from service.delivery.queries import query
from service.log.reads import LogReader
from service.log.watcher import HeadWatcher

log = structlog.get_logger(__name__)

STREAM = "QINGLIAN"
PREFIX = "qinglian.events"
NAME = "jetstream"
# The leader's advisory lock (one bigint; any other user of advisory locks must pick another).
LOCK = 0x71696E676C69616E  # "qinglian"
BATCH = 500
# Retention: a year of events, at most 10 GiB, the oldest discarded first; one message at most 1 MiB (an
# event is at most 64 KiB, service/log/encoding.py). Resends within 10 minutes are dropped by event id.
MAX_AGE = timedelta(days=365)
MAX_BYTES = 10 * 2**30
MAX_MSG_SIZE = 2**20
DUPLICATE_WINDOW = timedelta(minutes=10)
# How long a follower waits between attempts to take the lead, and the leader after a failure.
RETRY_DELAY = 1.0
ACK_TIMEOUT = 10.0

POSITION = "Qinglian-Position"
LEAF_HASH = "Qinglian-Leaf-Hash"


@dataclass(frozen=True, slots=True)
class Target:
    """Where the relay publishes."""

    nats_url: str
    stream: str = STREAM
    prefix: str = PREFIX
    name: str = NAME


def subject_of(prefix: str, rec: Recorded) -> str:
    """`<prefix>.<family>.<Type>`: a consumer filters by family (`qinglian.events.community.>`) or type."""
    family = rec.stream_id.split("-", 1)[0] or "log"
    return f"{prefix}.{family}.{rec.type}"


def public_form(rec: Recorded) -> dict[str, object]:
    """An event's public form: its place in the log, its leaf hash, and its payload with restricted fields
    blanked; of its metadata only who recorded it (kind, role, label). What leaves the service for a
    broker or a webhook."""
    actor = rec.metadata.get("actor")
    return {
        "position": rec.position,
        "event_id": str(rec.event_id),
        "stream_id": rec.stream_id,
        "stream_version": rec.stream_version,
        "type": rec.type,
        "schema_version": rec.schema_version,
        "recorded_at": format_timestamp(rec.recorded_at),
        "leaf_hash": rec.leaf_hash.hex(),
        "payload": public_payload(rec.type, rec.schema_version, rec.payload),
        "actor": ({k: actor.get(k) for k in ("kind", "role", "label")} if isinstance(actor, dict) else actor),
    }


def body(rec: Recorded) -> bytes:
    """The message a relay publishes: the public form as compact JSON, UTF-8 (msgspec: the log's codec)."""
    return msgspec.json.encode(public_form(rec))


def headers_of(rec: Recorded) -> dict[str, str]:
    return {"Nats-Msg-Id": str(rec.event_id), POSITION: str(rec.position), LEAF_HASH: rec.leaf_hash.hex()}


def stream_config(target: Target) -> StreamConfig:
    return StreamConfig(
        name=target.stream,
        subjects=[f"{target.prefix}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=MAX_AGE.total_seconds(),
        max_bytes=MAX_BYTES,
        max_msg_size=MAX_MSG_SIZE,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
    )


async def ensure_stream(js: JetStreamContext, target: Target) -> None:
    """The stream, created when missing; an existing one is left as the operator configured it."""
    try:
        await js.stream_info(target.stream)
    except NotFoundError:
        await js.add_stream(stream_config(target))
        log.info("created the JetStream stream", stream=target.stream, subjects=f"{target.prefix}.>")


async def last_published(js: JetStreamContext, target: Target) -> int:
    """The position of the stream's last message (0: none)."""
    try:
        msg = await js.get_last_msg(target.stream, f"{target.prefix}.>")
    except NotFoundError:
        return 0
    return int((msg.headers or {}).get(POSITION, 0))


async def acknowledged(pending: list[asyncio.Future[PubAck]], broken: asyncio.Event) -> None:
    """Every acknowledgement, or an error at once: one of them refused, the connection lost (its missing
    acknowledgements would never come), or ACK_TIMEOUT without all of them."""
    acks = asyncio.gather(*pending)
    lost = asyncio.ensure_future(broken.wait())
    waiting: set[asyncio.Future[Any]] = {acks, lost}
    try:
        done, _ = await asyncio.wait(waiting, timeout=ACK_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    finally:
        lost.cancel()
    if acks in done:
        acks.result()
        return
    acks.cancel()
    if lost in done:
        raise ConnectionError("the NATS connection was lost before every acknowledgement came")
    raise TimeoutError(f"not every acknowledgement came within {ACK_TIMEOUT:.0f} s")


class Relay:
    """Publishes the log to JetStream while it leads; waits to lead otherwise. Run with `run`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        reader: LogReader,
        watcher: HeadWatcher,
        target: Target,
        *,
        connect_leader: Callable[[], Awaitable[asyncpg.Connection]],
        batch: int = BATCH,
    ) -> None:
        self._pool = pool
        self._reader = reader
        self._watcher = watcher
        self._target = target
        self._connect_leader = connect_leader
        self._batch = batch
        self.position = 0
        self.leading = False

    async def run(self) -> None:
        """Lead when possible, publish while leading, for as long as the task lives."""
        await self._pool.execute(query("relay_known"), self._target.name)
        while True:
            try:
                await self._lead()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, nats.errors.Error) as exc:
                await self._failed(exc)
            except TimeoutError as exc:
                await self._failed(exc)
            self.leading = False
            await asyncio.sleep(RETRY_DELAY)

    async def _failed(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("relay stopped publishing; will retry", error=text)
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await self._pool.execute(query("relay_failed"), self._target.name, text)

    async def _lead(self) -> None:
        lock = await self._connect_leader()
        lost = asyncio.Event()
        lock.add_termination_listener(lambda _conn: lost.set())
        try:
            while not await lock.fetchval(query("relay_try_lead"), LOCK):  # noqa: ASYNC110 - a lock is polled
                await asyncio.sleep(RETRY_DELAY)
            log.info("relay leads", name=self._target.name)
            self.leading = True
            broken = asyncio.Event()

            async def on_disconnected() -> None:
                broken.set()

            async def on_error(exc: Exception) -> None:
                # One line: nats-py's default logs a traceback for every failed connection attempt.
                log.warning("NATS connection error", error=f"{type(exc).__name__}: {exc}"[:500])

            # No reconnection: messages sent after a reconnect could be stored while some sent before the
            # break were lost, leaving a gap below the stream's last message, which the resume would skip.
            # (nats-py reads max_reconnect_attempts=0 as "no limit".) A lost connection ends the lead; the
            # next one resumes on a new connection from what the stream and relay_positions hold.
            nc = await nats.connect(
                self._target.nats_url,
                allow_reconnect=False,
                connect_timeout=5,
                disconnected_cb=on_disconnected,
                closed_cb=on_disconnected,
                error_cb=on_error,
            )
            try:
                await self._publish(nc, lost, broken)
            finally:
                with contextlib.suppress(Exception):
                    await nc.close()
        finally:
            if not lock.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.shield(lock.close(timeout=2))

    async def _publish(self, nc: Nats, lost: asyncio.Event, broken: asyncio.Event) -> None:
        js = nc.jetstream(timeout=ACK_TIMEOUT)
        await ensure_stream(js, self._target)
        stored = int(await self._pool.fetchval(query("relay_position"), self._target.name) or 0)
        self.position = max(stored, await last_published(js, self._target))
        if self.position > stored:
            # The stream holds more than was written (a leader killed between the acknowledgements and
            # its write): write it now, or the lag operators read stays wrong until the next event.
            await self._pool.execute(query("relay_advance"), self._target.name, self.position, 0)
        async for head in self._watcher.heads():
            ahead: asyncio.Task[list[Recorded]] | None = None
            try:
                while self.position < head:
                    if lost.is_set():
                        raise OSError("the relay's lock connection was lost")
                    if ahead is not None:
                        rows, ahead = await ahead, None
                    else:
                        rows = await self._reader.read_all(after_position=self.position, limit=self._batch)
                    if not rows:
                        break
                    # In order on one connection, then every acknowledgement: JetStream stores them as sent.
                    pending = [
                        await js.publish_async(
                            subject_of(self._target.prefix, rec), body(rec), headers=headers_of(rec)
                        )
                        for rec in rows
                    ]
                    if len(rows) == self._batch:
                        # The next batch is read while this one's acknowledgements come back.
                        ahead = asyncio.ensure_future(
                            self._reader.read_all(after_position=rows[-1].position, limit=self._batch)
                        )
                    await acknowledged(pending, broken)
                    self.position = rows[-1].position
                    await self._pool.execute(
                        query("relay_advance"), self._target.name, self.position, len(rows)
                    )
            finally:
                if ahead is not None:
                    ahead.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await ahead
