"""Fixtures: one PostgreSQL per run, a migrated template database, and a fresh copy per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from service.log.pool import create_pool
from service.log.store import EventStore
from tests.support.pg import (
    create_database,
    create_migrated_database,
    drop_database,
    server_url,
    unique_name,
    with_database,
)


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    """A superuser URL for this run's server."""
    with server_url() as url:
        yield url


@pytest.fixture(scope="session")
def template_db(admin_url: str) -> Iterator[str]:
    """A database migrated once; each test copies it (CREATE DATABASE … TEMPLATE is cheap)."""
    name = unique_name("qinglian_tpl")
    asyncio.run(create_migrated_database(admin_url, name))
    yield name
    asyncio.run(drop_database(admin_url, name))


@pytest.fixture
def database_url(admin_url: str, template_db: str) -> Iterator[str]:
    """The owner's URL of a fresh, migrated database for one test."""
    name = unique_name("qinglian_t")
    asyncio.run(create_database(admin_url, name, template=template_db))
    yield with_database(admin_url, name)
    asyncio.run(drop_database(admin_url, name))


@pytest.fixture
def empty_database_url(admin_url: str) -> Iterator[str]:
    """The owner's URL of a fresh database that was never migrated."""
    name = unique_name("qinglian_e")
    url = asyncio.run(create_database(admin_url, name))
    yield url
    asyncio.run(drop_database(admin_url, name))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool working as the application role, as the service's is."""
    pool = await create_pool(database_url, None, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def store(pool: asyncpg.Pool) -> AsyncIterator[EventStore]:
    store = EventStore(pool, CATALOGUE)
    yield store
    await store.close()


@pytest.fixture
async def owner(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the database owner (a superuser here), for looking behind the service's back."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Anything that asks for a database is a storage test, so `.ci/run` can rerun exactly those.
    storage_fixtures = {"admin_url", "database_url", "empty_database_url", "pool", "store", "owner"}
    for item in items:
        if storage_fixtures & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.storage)
