"""Fixtures for the API: the services as the app runs them (the projector following the log), and a way
to execute operations through the schema as a principal and with a request id."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from strawberry.types import ExecutionResult

from events.catalogue import CATALOGUE
from projections.access import Principal
from schema.build import SCHEMA
from schema.context import Context, Services
from service.commands.handler import Commands, install_default_standard
from service.delivery.hub import Hub
from service.delivery.status import StatusWatch
from service.delivery.webhooks import Endpoints, Policy
from service.demo.generator import ARTICLE_END
from service.demo.loader import load_demo
from service.log.pool import APP_ROLE, connect, create_pool
from service.log.store import EventStore
from service.log.watcher import HeadWatcher
from service.read.projector import Projector
from service.read.readmodel import ReadModel
from service.transparency.tree import LogTree
from tests.support.pg import create_database, drop_database, unique_name, with_database
from tests.support.principals import ADMIN


@dataclass
class Api:
    services: Services

    async def execute(
        self, query: str, variables: Mapping[str, Any] | None = None, *, principal: Principal = ADMIN
    ) -> ExecutionResult:
        context = Context(services=self.services, principal=principal, request_id="test-request")
        return await SCHEMA.execute(query, dict(variables or {}), context_value=context)

    async def first_result(
        self, query: str, *, principal: Principal = ADMIN, within: float
    ) -> ExecutionResult | None:
        """A subscription's first result, or None if none comes within `within` seconds."""
        context = Context(services=self.services, principal=principal, request_id="test-request")
        results = await SCHEMA.subscribe(query, context_value=context)
        assert not isinstance(results, ExecutionResult), results.errors
        try:
            async with asyncio.timeout(within):
                return await anext(results)
        except TimeoutError:
            return None
        finally:
            await results.aclose()

    async def data(
        self, query: str, variables: Mapping[str, Any] | None = None, *, principal: Principal = ADMIN
    ) -> dict[str, Any]:
        """The data of an operation that must succeed."""
        result = await self.execute(query, variables, principal=principal)
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data


@contextlib.asynccontextmanager
async def running(pool: asyncpg.Pool, url: str) -> AsyncIterator[Api]:
    """The services of the app's lifespan on `pool`, with the projector following the log."""
    store = EventStore(pool, CATALOGUE)
    commands = Commands(store, CATALOGUE)
    projector = Projector(pool, CATALOGUE)
    watcher = HeadWatcher(lambda: connect(url, server_settings={"role": APP_ROLE}))
    await install_default_standard(commands, store)
    await watcher.start()
    loop = asyncio.get_running_loop()
    following = loop.create_task(projector.run(watcher))
    hub = Hub(store, watcher)
    status_watch = StatusWatch(pool, watcher)
    live = [loop.create_task(hub.run()), loop.create_task(status_watch.run())]
    try:
        await projector.wait_for(await store.head(), within=30.0)
        yield Api(
            Services(
                store=store,
                commands=commands,
                projector=projector,
                read_model=ReadModel(pool),
                registry=CATALOGUE,
                tree=LogTree(pool),
                pool=pool,
                hub=hub,
                status_watch=status_watch,
                endpoints=Endpoints(pool, store, Policy()),
            )
        )
    finally:
        for task in (following, *live):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.close()
        await watcher.stop()


@pytest.fixture
async def api(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[Api]:
    async with running(pool, database_url) as api:
        yield api


async def _load_demo(url: str) -> None:
    pool = await create_pool(url, None, min_size=1, max_size=8)
    try:
        store = EventStore(pool, CATALOGUE)
        await load_demo(Commands(store, CATALOGUE), store, until=ARTICLE_END)
        await store.close()
        await Projector(pool, CATALOGUE).catch_up()
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def demo_url(admin_url: str, template_db: str) -> Iterator[str]:
    """A database holding the demo, projected, shared by a module's tests (which only read it)."""
    name = unique_name("qinglian_demo")
    asyncio.run(create_database(admin_url, name, template=template_db))
    url = with_database(admin_url, name)
    asyncio.run(_load_demo(url))
    yield url
    asyncio.run(drop_database(admin_url, name))


@pytest.fixture
async def demo(demo_url: str) -> AsyncIterator[Api]:
    pool = await create_pool(demo_url, None, min_size=1, max_size=4)
    try:
        async with running(pool, demo_url) as api:
            yield api
    finally:
        await pool.close()


class Counter:
    def __init__(self) -> None:
        self.queries: list[str] = []

    def __call__(self, record: asyncpg.connection.LoggedQuery) -> None:
        self.queries.append(record.query)


@pytest.fixture
async def counted(demo_url: str) -> AsyncIterator[tuple[Api, Counter]]:
    counter = Counter()

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(counter)

    pool = await asyncpg.create_pool(
        demo_url, min_size=1, max_size=4, init=init, server_settings={"role": APP_ROLE}
    )
    try:
        async with running(pool, demo_url) as api:
            yield api, counter
    finally:
        await pool.close()
