"""Two `qinglian serve` processes on one database: what is written through one reaches subscribers of the
other, each process follows the log over one LISTEN connection whatever its number of subscribers, and when
a process's LISTEN connection is killed, delivery is delayed, never lossy, and stays in order."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

# psutil ships no type information and the run installs no stubs for it.
from events.access import Role, ScopeKind
from projections.access import Scope
from service.access.tokens import Tokens
from service.log.store import EventStore
from tests.service.delivery.live import (
    EVENTS,
    TIMEOUT,
    Socket,
    city,
    cursor,
    fill,
    issue,
    served,
    ws_url,
)
from tests.service.runtime.test_serve import Service

MEETING = """mutation($key: String!, $input: RecordMeetingInput!) {
  recordMeeting(idempotencyKey: $key, input: $input) {
    __typename ... on Recorded { events { position } } } }"""


def listeners(rows: list[asyncpg.Record], service: Service) -> list[asyncpg.Record]:
    """The backends that are the process's LISTEN connection: named with its process id (the pool's
    connections are named `qinglian`, and leave every channel when returned to it)."""
    return [r for r in rows if r["application_name"] == f"qinglian-listen:{service.process.pid}"]


async def backends(owner: asyncpg.Connection) -> list[asyncpg.Record]:
    return await owner.fetch(
        "select pid, application_name, client_port, query from pg_stat_activity"
        " where datname = current_database() and pid <> pg_backend_pid()"
    )


async def until_one_listener(
    owner: asyncpg.Connection, service: Service, *, gone: int
) -> list[asyncpg.Record]:
    """The backends, once `service` again holds one LISTEN connection and the backend `gone` is gone."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            rows = await backends(owner)
            if len(listeners(rows, service)) == 1 and gone not in {r["pid"] for r in rows}:
                return rows
            # Another process's state: nothing here to wait on but time.
            await asyncio.sleep(0.1)


async def meetings(service: Service, token: str, first: int, n: int) -> list[int]:
    """`n` meetings recorded through the service's GraphQL API by a clerk; their positions."""
    positions: list[int] = []
    async with httpx.AsyncClient(base_url=service.base_url, timeout=TIMEOUT) as http:
        for i in range(first, first + n):
            meeting: dict[str, Any] = {
                "communityId": "c1",
                "meetingId": f"m-{i}",
                "kind": "REPRESENTATIVES",
                "heldOn": (date(2022, 1, 1) + timedelta(days=i)).isoformat(),
                "attendees": 30,
            }
            answer = await http.post(
                "/graphql",
                json={"query": MEETING, "variables": {"key": f"meeting-{i}", "input": meeting}},
                headers={"Authorization": f"Bearer {token}"},
            )
            result = answer.json()["data"]["recordMeeting"]
            assert "Recorded" == result["__typename"], answer.text
            positions += [e["position"] for e in result["events"]]
    return positions


async def test_events_written_through_one_process_reach_subscribers_of_another_through_a_lost_listener(
    tmp_path: Path, database_url: str, pool: asyncpg.Pool, store: EventStore, owner: asyncpg.Connection
) -> None:
    await city(store, "t1", ["c1"])
    reader = await issue(pool, store, Role.INSPECTOR)
    issued = await Tokens(pool, store).create(
        role=Role.CLERK, scope=Scope(kind=ScopeKind.COMMUNITY, id="c1"), label="clerk", issuer="test"
    )
    clerk = issued.token
    start = await store.head()
    with served(tmp_path / "a", database_url) as a, served(tmp_path / "b", database_url) as b:
        async with contextlib.AsyncExitStack() as stack:
            on_a = [await stack.enter_async_context(Socket.opened(ws_url(a), token=reader)) for _ in range(2)]
            on_b = [await stack.enter_async_context(Socket.opened(ws_url(b), token=reader)) for _ in range(4)]
            for ws in on_a + on_b:
                await ws.subscribe("1", EVENTS, {"after": cursor(start)})

            written = await meetings(a, clerk, 0, 20)
            for ws in on_b + on_a:
                await ws.reached("1", written[-1])
            rows = await backends(owner)
            before = {"a": listeners(rows, a), "b": listeners(rows, b)}

            # B's LISTEN connection is killed while events are written, through A and behind both.
            killed = before["b"][0]["pid"]
            assert await owner.fetchval("select pg_terminate_backend($1, 10000)", killed)
            during = await asyncio.gather(meetings(a, clerk, 20, 20), fill(store, "c1", 500, tag="during"))
            written_during = sorted(p for positions in during for p in positions)
            for ws in on_b + on_a:
                await ws.reached("1", written_during[-1])

            # B follows over a new connection: again one, and A's untouched.
            rows = await until_one_listener(owner, b, gone=killed)
            after = {"a": listeners(rows, a), "b": listeners(rows, b)}

    everything = list(range(start + 1, written_during[-1] + 1))
    assert set(written) | set(written_during) <= set(everything)
    for ws in on_b + on_a:
        assert everything == ws.positions("1")
    for name in ("a", "b"):
        assert 1 == len(before[name]), before
        assert 1 == len(after[name]), after
        # Its last statement: LISTEN, or the head it reads on the same connection every few seconds.
        assert before[name][0]["query"].startswith(("LISTEN", "select coalesce(max(position)")), before
    assert before["a"][0]["pid"] == after["a"][0]["pid"]
    assert killed != after["b"][0]["pid"]
