"""The writer under database failures, each injected against the real server: a cancelled statement, a
terminated backend, no connection to be had. Every caller of the failed group hears of it, nobody waits
forever, and the next append succeeds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.envelope import ExpectedVersion
from events.hierarchy import CommunityRenamed
from service.log.lease import APPEND_LOCK
from service.log.pool import APP_ROLE
from service.log.results import AppendResult
from service.log.store import EventStore
from tests.support.pg import unique_name

# A hang guard: each outcome arrives within a second or so.
WITHIN = 15.0


def append(store: EventStore, key: str) -> asyncio.Future[AppendResult]:
    event = CommunityRenamed(community_id="a", name=f"名{key}", effective_on=date(2022, 6, 8))
    return asyncio.ensure_future(
        store.append("community-a", [event], expected_version=ExpectedVersion.any(), idempotency_key=key)
    )


async def waiting_for_the_lock(owner: asyncpg.Connection) -> int:
    """The backend of the writer, once it waits for the append lock that `owner` holds."""
    for _ in range(int(WITHIN / 0.02)):
        pid = await owner.fetchval(
            "select pid from pg_stat_activity where wait_event_type = 'Lock' and query like "
            "'select pg_advisory_lock(%' and pid <> pg_backend_pid() and datname = current_database()"
        )
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.02)
    pytest.fail("the writer never waited for the append lock")


@pytest.mark.parametrize("how", ["pg_cancel_backend", "pg_terminate_backend"])
async def test_a_group_whose_statement_is_cancelled_or_backend_terminated_fails_and_the_writer_recovers(
    store: EventStore, owner: asyncpg.Connection, how: str
) -> None:
    await owner.execute(f"select pg_advisory_lock({APPEND_LOCK})")
    waiting = [append(store, "1"), append(store, "2")]
    pid = await waiting_for_the_lock(owner)
    assert await owner.fetchval(f"select {how}($1)", pid)
    outcomes = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), WITHIN)
    await owner.execute(f"select pg_advisory_unlock({APPEND_LOCK})")

    assert all(isinstance(o, asyncpg.PostgresError | asyncpg.InterfaceError) for o in outcomes), outcomes
    after = await asyncio.wait_for(append(store, "3"), WITHIN)
    assert [1] == list(after.positions)
    assert 1 == await owner.fetchval("select count(*) from events")


@pytest.fixture
async def limited(database_url: str, owner: asyncpg.Connection) -> AsyncIterator[str]:
    """A login allowed one connection at a time, acting as the application role; its URL."""
    role = unique_name("qinglian_limited")
    await owner.execute(f"create role {role} login connection limit 1 in role {APP_ROLE}")
    parts = urlsplit(database_url)
    # The same server, host or socket, as the new login.
    yield urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))
    await owner.execute(f"drop role {role}")


async def test_no_connection_to_be_had_fails_the_group_and_the_writer_recovers(limited: str) -> None:
    pool = await asyncpg.create_pool(limited, min_size=0, max_size=1, server_settings={"role": APP_ROLE})
    store = EventStore(pool, CATALOGUE)
    try:
        hog = await asyncpg.connect(limited)  # the one connection the role may have
        refused = await asyncio.wait_for(asyncio.gather(append(store, "1"), return_exceptions=True), WITHIN)
        await hog.close()
        after = await asyncio.wait_for(append(store, "2"), WITHIN)
    finally:
        await store.close()
        await pool.close()

    [error] = refused
    assert isinstance(error, asyncpg.TooManyConnectionsError), error
    assert [1] == list(after.positions)
