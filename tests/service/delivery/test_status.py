"""Live status under a clock the test moves: the real app (`create_graphql_app` with a fake clock) under
uvicorn on a real socket, a real database, a real WebSocket. A community that meets the standard until a
disclosure falls due is told, once the clock passes the due date with its grace and nothing is written,
that it no longer does (cause DATE, the criterion and since when), and its town's coverage falls; a record
that makes a community standardized is told with its log position (cause RECORD). A subscriber that comes
after others is told changes only, not the difference between what was read before and what is now."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import uvicorn
from starlette.applications import Starlette

from events.disclosure import DisclosureCategory
from events.standard import Criterion, StandardRevised
from schema.app import create_graphql_app
from service.delivery.status import StatusWatch
from service.log.store import EventStore
from service.runtime.app import DatabaseUrls
from service.runtime.settings import Settings
from tests.service.delivery.live import TIMEOUT, Socket, city, record
from tests.support.domain import START, disclosure

# One criterion: the last due quarter's finance disclosure (due 15 days after the quarter ends).
STANDARD = StandardRevised(
    version=1,
    effective_from=START,
    title="一条标准",
    criteria=(
        Criterion(
            criterion_id="finance",
            kind="disclosure_every_period",
            params={"category": "finance", "period": "quarter", "lookback": 1},
        ),
    ),
)
# 15 April 2022, 20:00 in Cixi: 2022-Q1 is within its grace (due on the 15th), 2021-Q4 is due.
BEFORE_DUE = datetime(2022, 4, 15, 12, 0, tzinfo=UTC)
# 16 April 2022, 00:30 in Cixi: 2022-Q1 is overdue from today.
AFTER_DUE = datetime(2022, 4, 15, 16, 30, tzinfo=UTC)
OVERDUE_FROM = "2022-04-16"

SUMMARY = "standardized score unmet { criterion kind since } townId"
STATUS = f"""subscription($id: ID!) {{ communityStatusChanged(communityId: $id) {{
  communityId cause position since before {{ {SUMMARY} }} after {{ {SUMMARY} }}
  newlyUnmet {{ criterion since }} nowMet }} }}"""
COVERAGE = """subscription($town: ID!) { coverageChanged(townId: $town) {
  townId cause position since before { communities standardized } after { communities standardized } } }"""


@dataclass
class Clock:
    """The service's now, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def app_serving(tmp_path: Path, url: str, clock: Clock) -> AsyncIterator[tuple[str, Starlette]]:
    """The GraphQL app on `url`'s database under uvicorn, on a free port; its WebSocket URL, and it."""
    settings = Settings(data_dir=tmp_path, database_url=url)
    app = create_graphql_app(settings, DatabaseUrls(owner=url), clock=clock, status_poll=0.2)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None, access_log=False))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(TIMEOUT):
            while not server.started:
                assert not serving.done(), serving
                await asyncio.sleep(0.05)
        yield f"ws://127.0.0.1:{port}/graphql", app
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def watching(watch: StatusWatch, n: int) -> None:
    """Wait until the status watch has `n` subscriptions and has read the standings they watch."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            if watch.watching == n:
                break
            # The server's tasks run on this loop: let them take their turns.
            await asyncio.sleep(0.01)
        await watch.settled()


async def settled(owner: asyncpg.Connection, communities: int) -> None:
    """Wait until the status keeper has written every community's segments and has nothing pending."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            done = await owner.fetchval(
                "select not exists (select 1 from status_pending)"
                " and (select count(distinct community_id) from status_segments) >= $1",
                communities,
            )
            if done:
                return
            # The keeper's progress is another task's, seen only in the database: look again shortly.
            await asyncio.sleep(0.1)


async def test_a_due_date_passing_and_a_record_are_told_to_status_and_coverage_subscribers(
    tmp_path: Path, database_url: str, store: EventStore, owner: asyncpg.Connection
) -> None:
    await record(store, [STANDARD], "standard")
    await city(store, "t1", ["c1", "c2"])
    # c1 disclosed 2021-Q4 and meets the standard until 2022-Q1 falls due; c2 has not disclosed it yet.
    await record(store, [disclosure("c1", DisclosureCategory.FINANCE, "2021-Q4", date(2022, 1, 10))], "d1")
    clock = Clock(BEFORE_DUE)
    async with app_serving(tmp_path, database_url, clock) as (url, app), Socket.opened(url) as ws:
        await settled(owner, 2)
        watch = app.state.services.status_watch
        # One subscriber comes first, two more later (the town's coverage among them): each is live once
        # the process's watch has it and has read its starting point.
        await ws.subscribe("c1", STATUS, {"id": "c1"})
        await watching(watch, 1)
        await ws.subscribe("c2", STATUS, {"id": "c2"})
        await ws.subscribe("t1", COVERAGE, {"town": "t1"})
        await watching(watch, 3)

        [recorded] = await record(
            store, [disclosure("c2", DisclosureCategory.FINANCE, "2021-Q4", date(2022, 4, 14))], "d2"
        )
        await ws.until(lambda: len(ws.data("c2")) >= 1 and len(ws.data("t1")) >= 1)
        assert [] == ws.data("c1")

        clock.now = AFTER_DUE  # and nothing is written
        await ws.until(
            lambda: len(ws.data("c1")) >= 1 and len(ws.data("c2")) >= 2 and len(ws.data("t1")) >= 2
        )

    [c1_overdue] = [d["communityStatusChanged"] for d in ws.data("c1")]
    c2_recorded, c2_overdue = [d["communityStatusChanged"] for d in ws.data("c2")]
    t1_recorded, t1_overdue = [d["coverageChanged"] for d in ws.data("t1")]
    unmet = [{"criterion": "finance", "kind": "disclosure_every_period", "since": OVERDUE_FROM}]

    assert ("c1", "DATE", None, OVERDUE_FROM) == (
        c1_overdue["communityId"],
        c1_overdue["cause"],
        c1_overdue["position"],
        c1_overdue["since"],
    )
    assert (True, False) == (c1_overdue["before"]["standardized"], c1_overdue["after"]["standardized"])
    assert [] == c1_overdue["before"]["unmet"]
    assert unmet == c1_overdue["after"]["unmet"]
    assert [{"criterion": "finance", "since": OVERDUE_FROM}] == c1_overdue["newlyUnmet"]
    assert [] == c1_overdue["nowMet"]

    assert ("c2", "RECORD", recorded) == (
        c2_recorded["communityId"],
        c2_recorded["cause"],
        c2_recorded["position"],
    )
    assert (False, True) == (c2_recorded["before"]["standardized"], c2_recorded["after"]["standardized"])
    assert (["finance"], []) == (c2_recorded["nowMet"], c2_recorded["newlyUnmet"])
    assert ("DATE", None, False) == (
        c2_overdue["cause"],
        c2_overdue["position"],
        c2_overdue["after"]["standardized"],
    )

    assert ("t1", "RECORD", recorded) == (
        t1_recorded["townId"],
        t1_recorded["cause"],
        t1_recorded["position"],
    )
    assert ({"communities": 2, "standardized": 1}, {"communities": 2, "standardized": 2}) == (
        t1_recorded["before"],
        t1_recorded["after"],
    )
    assert ("t1", "DATE", None, OVERDUE_FROM) == (
        t1_overdue["townId"],
        t1_overdue["cause"],
        t1_overdue["position"],
        t1_overdue["since"],
    )
    assert ({"communities": 2, "standardized": 2}, {"communities": 2, "standardized": 0}) == (
        t1_overdue["before"],
        t1_overdue["after"],
    )
