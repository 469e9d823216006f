"""Forward-only, numbered SQL migrations with checksums; they run as the database owner.

An applied migration whose file has since changed is refused: the database and the code would disagree
about what the schema is, and the fix is a new migration, never an edit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import asyncpg

# Session-level advisory lock so two processes starting at once migrate one after the other.
MIGRATION_LOCK = 0x716C_6D69_6772  # "qlmigr"
_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


class MigrationError(Exception):
    """The database's migrations and the code's disagree; the message says how."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Applied:
    version: int
    name: str
    checksum: str
    applied_at: datetime


def load_migrations() -> list[Migration]:
    """The migrations shipped with the code, in version order; versions must run 1, 2, 3 …"""
    folder = resources.files("service.log").joinpath("sql/migrations")
    found = []
    for entry in folder.iterdir():
        match = _FILE.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration numbers must run 1, 2, 3 …; {expected:04d} is missing")
    return found


_CREATE_TABLE = """
create table if not exists schema_migrations (
    version     integer     not null,
    name        text        not null,
    checksum    text        not null,
    applied_at  timestamptz not null default now(),
    constraint schema_migrations_pkey primary key (version)
)
"""


async def applied_migrations(conn: asyncpg.Connection) -> list[Applied]:
    """What the database says was applied; empty for a database never migrated."""
    exists = await conn.fetchval("select to_regclass('schema_migrations') is not null")
    if not exists:
        return []
    rows = await conn.fetch(
        "select version, name, checksum, applied_at from schema_migrations order by version"
    )
    return [Applied(r["version"], r["name"], r["checksum"], r["applied_at"]) for r in rows]


def check_history(applied: list[Applied], shipped: list[Migration]) -> list[Migration]:
    """The shipped migrations still to apply; raises MigrationError if history and code disagree."""
    by_version = {m.version: m for m in shipped}
    for record in applied:
        migration = by_version.get(record.version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {record.version:04d}_{record.name}, which this version "
                "of qinglian does not know; run a newer qinglian"
            )
        if migration.checksum != record.checksum:
            raise MigrationError(
                f"migration {record.version:04d}_{record.name} was edited after it was applied "
                f"(database checksum {record.checksum[:12]}…, file {migration.checksum[:12]}…); "
                "restore the file and put the change in a new migration"
            )
    done = {record.version for record in applied}
    return [m for m in shipped if m.version not in done]


async def migrate(conn: asyncpg.Connection) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; return those applied."""
    shipped = load_migrations()
    await conn.execute("select pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(_CREATE_TABLE)
        pending = check_history(await applied_migrations(conn), shipped)
        for migration in pending:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        return pending
    finally:
        await conn.execute("select pg_advisory_unlock($1)", MIGRATION_LOCK)
