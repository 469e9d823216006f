"""Forward-only migrations with checksums."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import asyncpg
import pytest

from service.log.migrations import (
    Applied,
    Migration,
    MigrationError,
    applied_migrations,
    check_history,
    load_migrations,
    migrate,
)


def test_shipped_migrations_are_numbered_from_one_without_gaps() -> None:
    migrations = load_migrations()
    assert list(range(1, len(migrations) + 1)) == [m.version for m in migrations]
    assert "event_log" == migrations[0].name


def test_every_migration_states_its_intent_and_lock_cost() -> None:
    for migration in load_migrations():
        assert "-- Intent:" in migration.sql, migration.name
        assert "-- Lock cost:" in migration.sql, migration.name


async def test_migrate_applies_each_migration_once(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        applied = await applied_migrations(conn)
    finally:
        await conn.close()
    assert [m.version for m in load_migrations()] == [m.version for m in first]
    assert [] == second
    assert [m.checksum for m in load_migrations()] == [a.checksum for a in applied]


async def test_two_processes_migrating_at_once_apply_each_migration_once(empty_database_url: str) -> None:
    conns = [await asyncpg.connect(empty_database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(conn) for conn in conns))
    finally:
        for conn in conns:
            await conn.close()
    assert [len(load_migrations()), 0, 0] == sorted((len(r) for r in results), reverse=True)


async def test_an_applied_migration_that_was_edited_is_refused(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("update schema_migrations set checksum = 'edited' where version = 1")
        with pytest.raises(MigrationError, match="0001_event_log was edited after it was applied"):
            await migrate(conn)
    finally:
        await conn.close()


def test_a_database_newer_than_the_code_is_refused() -> None:
    shipped = load_migrations()
    now = datetime.now(UTC)
    applied = [Applied(m.version, m.name, m.checksum, now) for m in shipped]
    applied.append(Applied(len(shipped) + 1, "from_the_future", "x", now))
    with pytest.raises(MigrationError, match="does not know; run a newer qinglian"):
        check_history(applied, shipped)


def test_pending_migrations_are_those_not_yet_applied() -> None:
    first = Migration(1, "one", "select 1")
    second = Migration(2, "two", "select 2")
    applied = [Applied(1, "one", first.checksum, datetime.now(UTC))]
    assert [second] == check_history(applied, [first, second])
    edited = dataclasses.replace(first, sql="select 11")
    with pytest.raises(MigrationError, match="edited"):
        check_history(applied, [edited, second])
