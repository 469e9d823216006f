"""Webhooks: events POSTed to endpoints an admin registers, signed as Standard Webhooks specifies.

**The outbox is the log.** An endpoint keeps one position: every event at or before it has been delivered
or dead-lettered. A worker in every `serve` process takes the endpoints that are due and free (a lease of
`LEASE` seconds, renewed with every delivery, so two processes never deliver for one endpoint at once),
reads the events after the position that the endpoint's filter admits, and POSTs them one at a time, in
position order; the position moves only past events answered 2xx (written every 10 deliveries or a
quarter of a second, and before the worker stops: a process killed outright may send those few again,
with the same webhook-id). Each endpoint goes at its own pace (up to `PARALLEL` at once), so a slow one
holds up only its own events. Nothing here touches the append path: the worker reads what was committed,
so a slow or failing endpoint never slows a write.

**Retries.** A failed attempt (no answer within `TIMEOUT`, an answer other than 2xx, a refused
destination) is tried again after `retry_base * 2 ** (attempts - 1)` seconds (at most `MAX_DELAY`), each
delay scaled by a random factor from 0.5 to 1.5 (jitter, so endpoints that failed together do not retry
together). After `max_attempts` failed attempts the event is dead-lettered (`webhook_dead_letters`) and
delivery goes on with the next; `qinglian webhook redeliver` sends them again.

**Messages** (https://www.standardwebhooks.com): a JSON body `{"type", "timestamp", "data"}` where data is
the event's public form (restricted fields blanked, as the relay publishes it), and the headers
`webhook-id` (the event id: the same on every attempt, so a receiver can drop a repeat),
`webhook-timestamp` (seconds, at the attempt) and `webhook-signature` (`v1,` and the base64 of
HMAC-SHA256 over `id.timestamp.body` with the endpoint's secret).

**Server-side request forgery.** An endpoint's host must resolve only to public addresses: loopback,
private, link-local, multicast, reserved and unspecified ones are refused when it is registered and again
before every attempt (a name may be re-pointed), unless the operator allows them
(`QINGLIAN_WEBHOOK_ALLOW_PRIVATE=on`). Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import asyncpg
import httpx
import structlog

from events.catalogue import CATALOGUE
from events.envelope import Recorded, format_timestamp
from service.delivery.queries import query
from service.delivery.relay import public_form
from service.log.clock import utc_now
from service.log.reads import LogReader
from service.log.watcher import HeadWatcher

log = structlog.get_logger(__name__)

TIMEOUT = 10.0
LEASE = 60
MAX_DELAY = 6 * 3600.0
BATCH = 50
# The position is written after this many deliveries, or this many seconds, whichever comes first.
FLUSH_EVERY = 10
FLUSH_AFTER = 0.25
# Endpoints one process delivers for at once.
PARALLEL = 8
MAX_URL = 2000
MAX_TYPES = 50
MAX_PREFIX = 200
USER_AGENT = "qinglian-webhooks/1"
REFUSED = (
    "its host resolves to a loopback, private or otherwise non-public address "
    "(QINGLIAN_WEBHOOK_ALLOW_PRIVATE=on allows them)"
)
FIRST = asyncio.FIRST_COMPLETED


class EndpointError(Exception):
    """An endpoint cannot be registered (or found) as asked; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Policy:
    """How the workers deliver: retries, the dead-letter limit, and whether private addresses are allowed."""

    retry_base: float = 5.0
    max_attempts: int = 10
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    url: str
    types: tuple[str, ...] | None
    stream_prefix: str | None
    position: int
    delivered: int
    attempts: int
    last_error: str | None
    failed_at: datetime | None
    created_at: datetime
    removed_at: datetime | None
    dead_letters: int
    lag: int


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header's value for one message (Standard Webhooks, version 1)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def message(rec: Recorded) -> str:
    """The body POSTed for an event."""
    return json.dumps(
        {"type": rec.type, "timestamp": format_timestamp(rec.recorded_at), "data": public_form(rec)},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def retry_delay(attempts: int, base: float, *, jitter: Callable[[], float] = random.random) -> float:
    """Seconds before the next attempt after `attempts` failed ones."""
    delay: float = min(MAX_DELAY, base * 2.0 ** (attempts - 1)) * (0.5 + jitter())
    return delay


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def check_destination(url: str, *, allow_private: bool) -> str | None:
    """Why `url` may not be delivered to, or None: an http(s) URL whose host resolves to public addresses
    only (any address, where private ones are allowed)."""
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        return f"is not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.username or parts.password:
        return "must not carry credentials"
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None:
        # An address, not a name: nothing to resolve (and nothing to re-point).
        blocked = not allow_private and _blocked(str(literal))
        return REFUSED if blocked else None
    try:
        found = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return f"its host does not resolve: {exc}"
    addresses = {str(info[4][0]) for info in found}
    if not addresses:
        return "its host does not resolve"
    if not allow_private and any(_blocked(a) for a in addresses):
        return REFUSED
    return None


class Endpoints:
    """Registering, listing, removing endpoints and redelivering their dead letters (admins)."""

    def __init__(self, pool: asyncpg.Pool, reader: LogReader, policy: Policy) -> None:
        self._pool = pool
        self._reader = reader
        self._policy = policy

    async def register(
        self, url: str, *, types: Sequence[str] | None, stream_prefix: str | None, created_by: str
    ) -> tuple[Endpoint, str]:
        """A new endpoint, delivered the events appended from now on; returns it and its secret."""
        url = url.strip()
        reason = await check_destination(url, allow_private=self._policy.allow_private)
        if reason is not None:
            raise EndpointError("url", reason)
        if types is not None:
            if not 1 <= len(types) <= MAX_TYPES:
                raise EndpointError("types", f"from 1 to {MAX_TYPES} types, or none for every type")
            # As the events query's filter: a misspelt type would otherwise match nothing, silently.
            unknown = sorted(set(types) - {cls.TYPE for cls in CATALOGUE.types()})
            if unknown:
                raise EndpointError("types", f"unknown event type(s): {', '.join(unknown)}")
        if stream_prefix is not None and not 1 <= len(stream_prefix) <= MAX_PREFIX:
            raise EndpointError("streamPrefix", f"1 to {MAX_PREFIX} characters")
        endpoint_id = "wh_" + secrets.token_hex(6)
        secret = new_secret()
        head = await self._reader.head()
        await self._pool.execute(
            query("webhook_register"),
            endpoint_id,
            url,
            list(types) if types is not None else None,
            stream_prefix,
            secret,
            created_by,
            head,
        )
        return await self.get(endpoint_id), secret

    async def get(self, endpoint_id: str) -> Endpoint:
        row = await self._pool.fetchrow(query("webhook_one"), endpoint_id)
        if row is None:
            raise EndpointError("id", f"no webhook endpoint {endpoint_id[:40]!r}")
        return _endpoint(row)

    async def list(self, *, removed: bool = False) -> list[Endpoint]:
        return [_endpoint(r) for r in await self._pool.fetch(query("webhook_list"), removed)]

    async def remove(self, endpoint_id: str) -> Endpoint:
        if await self._pool.fetchval(query("webhook_remove"), endpoint_id) is None:
            raise EndpointError("id", f"no webhook endpoint {endpoint_id[:40]!r} (or removed already)")
        return await self.get(endpoint_id)

    async def redeliver(self, endpoint_id: str, *, after: int | None = None) -> int:
        """Deliver again, in order, every event after `after` (default: just before its earliest dead
        letter still held); returns the position it goes back to. Receivers drop what they already have
        by its webhook-id."""
        endpoint = await self.get(endpoint_id)
        if after is None:
            earliest = await self._pool.fetchval(query("webhook_earliest_dead"), endpoint_id)
            if earliest is None:
                raise EndpointError("id", f"endpoint {endpoint_id} has no dead letters")
            after = earliest - 1
        if not 0 <= after <= endpoint.position:
            raise EndpointError("from", f"must be from 0 to its position, {endpoint.position}")
        await self._pool.execute(query("webhook_rewind"), endpoint_id, after)
        return after


class WebhookWorker:
    """Delivers for the endpoints it can lease, for as long as its task lives."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        reader: LogReader,
        watcher: HeadWatcher,
        policy: Policy,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utc_now,
        poll: float = 1.0,
        timeout: float = TIMEOUT,
    ) -> None:
        self._pool = pool
        self._reader = reader
        self._watcher = watcher
        self._policy = policy
        self._client = client
        self._own_client: httpx.AsyncClient | None = None
        self._clock = clock
        self._poll = poll
        self._timeout = timeout
        self.worker_id = f"{socket.gethostname()}:{id(self):x}:{secrets.token_hex(3)}"

    async def run(self) -> None:
        heads = self._watcher.heads()
        # One read of the next head stays pending across polls. Cancelling it at a poll's timeout would
        # throw into the generator and close it: the next read would end the worker for good.
        moved = asyncio.ensure_future(anext(heads))
        # A task per endpoint under way, so each goes at its own pace: an endpoint slow to answer holds
        # up only its own events, and the others are claimed again as soon as they are done.
        active: dict[str, asyncio.Task[int]] = {}
        # Endpoints whose delivery raised (the database, most likely) rest a poll before the next claim,
        # rather than being claimed again at once and failing in a tight loop.
        resting: dict[str, float] = {}
        try:
            while True:
                now = time.monotonic()
                for endpoint_id, task in list(active.items()):
                    if task.done():
                        del active[endpoint_id]
                        if not task.cancelled() and (exc := task.exception()) is not None:
                            if isinstance(exc, OSError | asyncpg.PostgresError | asyncpg.InterfaceError):
                                log.warning("webhook delivery step failed; will retry", error=str(exc))
                            else:
                                log.error("webhook delivery failed unexpectedly", exc_info=exc)
                            resting[endpoint_id] = now + self._poll
                resting = {e: until for e, until in resting.items() if until > now}
                if len(active) < PARALLEL:
                    try:
                        exclude = [*active, *resting]
                        for row in await self._claim(PARALLEL - len(active), exclude=exclude):
                            active[row["id"]] = asyncio.ensure_future(self._deliver(row, row["head"]))
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                        log.warning("webhook delivery step failed; will retry", error=str(exc))
                # A new event, an endpoint done, or a retry falling due: whichever comes first.
                await asyncio.wait({moved, *active.values()}, timeout=self._poll, return_when=FIRST)
                if moved.done():
                    moved.result()
                    moved = asyncio.ensure_future(anext(heads))
        finally:
            for task in active.values():
                task.cancel()
            # Each delivery gives its lease back as it ends, so another process can go on at once.
            await asyncio.gather(*active.values(), return_exceptions=True)
            moved.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await moved
            await self.close()

    async def close(self) -> None:
        """Close the HTTP client if this worker made it (one given to it is its owner's to close)."""
        if self._own_client is not None:
            await self._own_client.aclose()
            self._own_client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is not None:
            return self._client
        if self._own_client is None:
            self._own_client = httpx.AsyncClient(
                timeout=self._timeout, follow_redirects=False, headers={"user-agent": USER_AGENT}
            )
        return self._own_client

    async def step(self) -> int:
        """Deliver for every endpoint due now that this worker can lease, until each is done or fails;
        returns how many events (one round of what `run` does continuously)."""
        claimed = await self._claim(PARALLEL, exclude=[])
        if not claimed:
            return 0
        done = await asyncio.gather(*(self._deliver(row, row["head"]) for row in claimed))
        return sum(done)

    async def _claim(self, limit: int, *, exclude: list[str]) -> list[asyncpg.Record]:
        """Lease up to `limit` endpoints due now with events to deliver, but those in `exclude`; each row
        carries the head it was claimed at."""
        head = await self._reader.head()
        rows: list[asyncpg.Record] = await self._pool.fetch(
            query("webhook_claim"), self.worker_id, LEASE, head, limit, exclude
        )
        return rows

    async def _deliver(self, endpoint: asyncpg.Record, head: int) -> int:
        endpoint_id = endpoint["id"]
        attempts = endpoint["attempts"]
        done = _Delivered(self._pool, endpoint_id, self.worker_id)
        try:
            rows = await self._reader.read_all(
                after_position=endpoint["position"],
                limit=BATCH,
                types=endpoint["types"],
                stream_prefix=endpoint["stream_prefix"],
            )
            if not rows:
                # Nothing it wants up to the head: move past it all at once.
                await self._pool.execute(query("webhook_skip"), endpoint_id, self.worker_id, head)
                return 0
            for rec in rows:
                error = await self._attempt(endpoint["url"], endpoint["secret"], rec)
                if error is None:
                    if not await done.add(rec.position):
                        return done.count  # the lease was lost: another worker goes on from the position
                    attempts = 0
                    continue
                await done.flush()
                attempts += 1
                if attempts >= self._policy.max_attempts:
                    log.warning(
                        "webhook event dead-lettered",
                        endpoint=endpoint_id,
                        position=rec.position,
                        error=error,
                    )
                    await self._pool.execute(
                        query("webhook_dead_letter"),
                        endpoint_id,
                        self.worker_id,
                        rec.position,
                        rec.event_id,
                        attempts,
                        error,
                    )
                    attempts = 0
                    continue
                delay = retry_delay(attempts, self._policy.retry_base)
                await self._pool.execute(
                    query("webhook_failed"), endpoint_id, self.worker_id, error, delay, attempts
                )
                return done.count
            await done.flush()
            if len(rows) < BATCH:
                await self._pool.execute(query("webhook_skip"), endpoint_id, self.worker_id, head)
            return done.count
        finally:
            # Even when the task is being cancelled (the service stopping): what was delivered is written,
            # so a restart does not send it again.
            await asyncio.shield(done.flush())
            await asyncio.shield(self._pool.execute(query("webhook_release"), endpoint_id, self.worker_id))

    async def _attempt(self, url: str, secret: str, rec: Recorded) -> str | None:
        """POST one event; the reason it failed, or None."""
        reason = await check_destination(url, allow_private=self._policy.allow_private)
        if reason is not None:
            return f"destination refused: {reason}"
        body = message(rec)
        stamp = int(time.time())
        msg_id = str(rec.event_id)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, msg_id, stamp, body),
        }
        try:
            # The client's timeout bounds each read, not the whole answer: one sent a byte at a time
            # would hold this worker, and every endpoint it delivers for, for as long as it liked. Only
            # the status counts, so the body is never read (nor held in memory, however large).
            async with asyncio.timeout(self._timeout):
                async with self._http().stream("POST", url, content=body.encode(), headers=headers) as answer:
                    status = answer.status_code
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= status < 300:
            return None
        return f"HTTP {status}"


class _Delivered:
    """Deliveries not yet written: the position moves every FLUSH_EVERY deliveries or FLUSH_AFTER
    seconds, not after each one (a round trip an event would halve the rate), and before anything else is
    written of the endpoint. A process killed outright sends at most those again, with the same
    webhook-id, which receivers drop."""

    def __init__(self, pool: asyncpg.Pool, endpoint_id: str, worker_id: str) -> None:
        self._pool = pool
        self._endpoint_id = endpoint_id
        self._worker_id = worker_id
        self._position: int | None = None
        self._unwritten = 0
        self._since = time.monotonic()
        self.count = 0

    async def add(self, position: int) -> bool:
        """Note a delivery; False if the lease turned out lost when writing."""
        self._position = position
        self._unwritten += 1
        self.count += 1
        if self._unwritten >= FLUSH_EVERY or time.monotonic() - self._since >= FLUSH_AFTER:
            return await self.flush()
        return True

    async def flush(self) -> bool:
        if self._position is None or not self._unwritten:
            return True
        moved = await self._pool.fetchval(
            query("webhook_delivered"),
            self._endpoint_id,
            self._worker_id,
            self._position,
            LEASE,
            self._unwritten,
        )
        self._unwritten = 0
        self._since = time.monotonic()
        return moved is not None


def _endpoint(row: asyncpg.Record) -> Endpoint:
    return Endpoint(
        id=row["id"],
        url=row["url"],
        types=tuple(row["types"]) if row["types"] is not None else None,
        stream_prefix=row["stream_prefix"],
        position=row["position"],
        delivered=row["delivered"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        failed_at=row["failed_at"],
        created_at=row["created_at"],
        removed_at=row["removed_at"],
        dead_letters=row["dead_letters"],
        lag=row["lag"],
    )
