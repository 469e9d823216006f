"""What the live tests share: `qinglian serve` processes, a graphql-transport-ws client on a real socket,
tokens, and events appended behind the service's back (through a store of the test's own)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from events.access import Role
from events.envelope import ExpectedVersion
from events.hierarchy import CommunityRenamed
from events.registry import Event
from projections.access import Scope
from service.access.tokens import Tokens
from service.commands.handler import stream_of
from service.log.store import EventStore
from service.read.paging import position_cursor
from tests.service.runtime.test_serve import Service, child_env, serving
from tests.support.domain import community, town

# Hang guards only: nothing here expects anything to be fast.
TIMEOUT = 60.0
PROTOCOL = Subprotocol("graphql-transport-ws")
EVENTS = """subscription($after: String, $filter: EventFilter) {
  events(after: $after, filter: $filter) { cursor event { position type streamId } } }"""
DAY = date(2022, 6, 8)


def cursor(position: int) -> str:
    return position_cursor("events", position)


def ws_url(service: Service) -> str:
    return service.base_url.replace("http://", "ws://", 1) + "/graphql"


@contextlib.contextmanager
def served(folder: Path, database_url: str, **settings: str) -> Iterator[Service]:
    """`qinglian serve` on the database, with QINGLIAN_<NAME> settings given as name=value."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**child_env(database_url), **{f"QINGLIAN_{k.upper()}": v for k, v in settings.items()}}
    with serving(folder, env) as service:
        yield service


async def issue(pool: asyncpg.Pool, store: EventStore, role: Role, label: str = "live test") -> str:
    """A built-in token of `role` (city-wide), as `qinglian token create` issues it."""
    issued = await Tokens(pool, store).create(role=role, scope=Scope(), label=label, issuer="test")
    return issued.token


async def record(
    store: EventStore, events: Sequence[Event], key: str, metadata: Mapping[str, Any] | None = None
) -> list[int]:
    """Append events (all of one stream) and return their positions."""
    result = await store.append(
        stream_of(events[0]),
        list(events),
        expected_version=ExpectedVersion.any(),
        idempotency_key=key,
        metadata=dict(metadata) if metadata is not None else None,
    )
    return list(result.positions)


async def city(store: EventStore, town_id: str, communities: Sequence[str]) -> None:
    await record(store, [town(town_id)], f"town-{town_id}")
    for community_id in communities:
        await record(store, [community(community_id, town_id)], f"community-{community_id}")


def renames(community_id: str, n: int, tag: str) -> list[Event]:
    return [CommunityRenamed(community_id=community_id, name=f"{tag}{i}", effective_on=DAY) for i in range(n)]


async def fill(store: EventStore, community_id: str, n: int, *, tag: str, per_append: int = 100) -> list[int]:
    """`n` renames of a community, `per_append` to an append, the appends in flight together."""
    chunks = [
        record(store, renames(community_id, min(per_append, n - i), f"{tag}{i}-"), f"{tag}-{i}")
        for i in range(0, n, per_append)
    ]
    return sorted(p for positions in await asyncio.gather(*chunks) for p in positions)


class Socket:
    """One graphql-transport-ws connection: a reader task keeps every message it is sent, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.closed: tuple[int | None, str | None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(
        cls,
        url: str,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        origin: str | None = None,
        **options: Any,
    ) -> AsyncIterator[Socket]:
        """A connection acknowledged by the server (connection_init carries the token, if any)."""
        async with connect(
            url,
            subprotocols=[PROTOCOL],
            additional_headers=dict(headers or {}),
            origin=Origin(origin) if origin is not None else None,
            open_timeout=TIMEOUT,
            ping_interval=None,
            proxy=None,
            **options,
        ) as ws:
            socket = cls(ws)
            payload = {"Authorization": f"Bearer {token}"} if token is not None else {}
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            socket.read()
            try:
                yield socket
            finally:
                await socket.stop()

    def read(self) -> None:
        """Start (or restart) keeping what arrives."""
        self._reader = asyncio.ensure_future(self._read())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for text in self.ws:
                self.messages.append(json.loads(text))
                self._arrived.set()
        # Closed: by the server, by us, or the connection dropped.
        self.closed = (self.ws.close_code, self.ws.close_reason)
        self._arrived.set()

    async def until(self, done: Callable[[], bool], *, within: float = TIMEOUT) -> None:
        """Wait until `done()` holds, looking again each time a message arrives (or the socket closes)."""
        async with asyncio.timeout(within):
            while not done():
                self._arrived.clear()
                if done():
                    return
                await self._arrived.wait()

    async def subscribe(self, op: str, query: str, variables: Mapping[str, Any] | None = None) -> None:
        await self.until(
            lambda: any(m["type"] == "connection_ack" for m in self.messages) or self.closed is not None
        )
        message = {
            "type": "subscribe",
            "id": op,
            "payload": {"query": query, "variables": dict(variables or {})},
        }
        await self.ws.send(json.dumps(message))

    def of(self, op: str) -> list[dict[str, Any]]:
        """The messages of one operation."""
        return [m for m in self.messages if m.get("id") == op]

    def data(self, op: str) -> list[dict[str, Any]]:
        """The data of each `next` message of an operation (one with errors fails the test)."""
        found = []
        for m in self.of(op):
            if m["type"] == "next":
                assert "errors" not in m["payload"], m
                found.append(m["payload"]["data"])
        return found

    def positions(self, op: str) -> list[int]:
        return [d["events"]["event"]["position"] for d in self.data(op)]

    async def reached(self, op: str, position: int, *, within: float = TIMEOUT) -> list[int]:
        """Wait until an `events` operation has delivered `position` (or ended); its positions so far."""

        def done() -> bool:
            got = self.positions(op)
            ended = self.closed is not None or any(m["type"] in ("complete", "error") for m in self.of(op))
            return ended or bool(got and got[-1] >= position)

        await self.until(done, within=within)
        return self.positions(op)
