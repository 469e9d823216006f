"""The log cannot be changed: the application role lacks the privilege, and triggers stop the owner."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from events.envelope import ExpectedVersion
from events.hierarchy import CommunityRenamed
from service.log.store import EventStore

CHANGES = [
    "update events set type = 'Forged'",
    "delete from events",
    "truncate events",
    "update idempotency_keys set first_position = 99",
    "delete from idempotency_keys",
    "truncate idempotency_keys",
]

DAY = date(2022, 6, 8)


@pytest.fixture
async def one_event(store: EventStore) -> None:
    await store.append(
        "community-a",
        [CommunityRenamed(community_id="a", name="x", effective_on=DAY)],
        expected_version=ExpectedVersion.any(),
        idempotency_key="k",
    )


@pytest.mark.usefixtures("one_event")
@pytest.mark.parametrize("statement", CHANGES)
async def test_the_application_role_may_not_change_the_log(pool: asyncpg.Pool, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await pool.execute(statement)


@pytest.mark.usefixtures("one_event")
@pytest.mark.parametrize("statement", CHANGES)
async def test_triggers_refuse_changes_even_from_the_owner(owner: asyncpg.Connection, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await owner.execute(statement)
    assert 1 == await owner.fetchval("select count(*) from events")
    assert 1 == await owner.fetchval("select count(*) from idempotency_keys")


async def test_the_application_role_may_read_and_insert(pool: asyncpg.Pool) -> None:
    assert "qinglian_app" == await pool.fetchval("select current_user")
    assert await pool.fetchval("select has_table_privilege('events', 'insert')")
    assert await pool.fetchval("select has_table_privilege('events', 'select')")
    assert not await pool.fetchval("select has_table_privilege('events', 'update')")
    assert not await pool.fetchval("select has_table_privilege('events', 'delete')")
    assert not await pool.fetchval("select has_table_privilege('events', 'truncate')")


async def test_the_application_role_may_not_alter_the_schema(pool: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("alter table events disable trigger events_append_only")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("drop table events")


@pytest.mark.usefixtures("one_event")
async def test_the_table_refuses_bytes_whose_leaf_hash_is_not_theirs_even_with_the_triggers_off(
    owner: asyncpg.Connection,
) -> None:
    await owner.execute("set session_replication_role = replica")  # the triggers are not ENABLE ALWAYS
    with pytest.raises(asyncpg.CheckViolationError, match="events_leaf_hash_matches_check"):
        await owner.execute("update events set canonical = canonical || ' '::bytea where position = 1")
    # Bytes and hash changed together pass this check: what catches that is the signed tree.
    await owner.execute(
        "update events set canonical = canonical || ' '::bytea, "
        "leaf_hash = sha256('\\x00'::bytea || canonical || ' '::bytea) where position = 1"
    )
    assert 1 == await owner.fetchval(
        "select count(*) from events where leaf_hash = sha256('\\x00'::bytea || canonical)"
    )


# Position 1's row again, at position $1 (its hash still matches its bytes).
FORGED = (
    "insert into events (position, stream_id, stream_version, event_id, type, schema_version, payload, "
    "metadata, recorded_at, canonical, leaf_hash) select $1, stream_id, stream_version + $1, "
    "gen_random_uuid(), type, schema_version, payload, metadata, recorded_at, canonical, leaf_hash "
    "from events where position = 1"
)


@pytest.mark.usefixtures("one_event")
@pytest.mark.parametrize("position", [3, 10**6])
async def test_the_table_refuses_a_row_that_does_not_extend_the_log_at_its_head(
    pool: asyncpg.Pool, position: int
) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match="extend the log at its head"):
        await pool.execute(FORGED, position)
    assert 1 == await pool.fetchval("select count(*) from events")


@pytest.mark.usefixtures("one_event")
async def test_the_next_position_is_accepted(pool: asyncpg.Pool) -> None:
    await pool.execute(FORGED, 2)
    assert [1, 2] == [
        r["position"] for r in await pool.fetch("select position from events order by position")
    ]
