"""`qinglian relay`: the log, relayed to NATS JetStream (service/delivery/relay.py), until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import asyncpg

from events.catalogue import CATALOGUE
from service.delivery.relay import NAME, PREFIX, STREAM, Relay, Target
from service.log.pool import APP_ROLE, connect, create_pool
from service.log.store import EventStore
from service.log.watcher import HeadWatcher
from service.runtime.app import DatabaseUrls
from service.runtime.settings import Settings
from service.runtime.target import apply_migrations, database


def add_relay_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> list[argparse.ArgumentParser]:
    """Register `relay`; returns it (it uses a database, so it takes --data-dir)."""
    relay = commands.add_parser(
        "relay",
        help="publish every event, in order, exactly once, to NATS JetStream (runs until stopped)",
        description="Publishes the log to a JetStream stream it creates when missing. Several may run: "
        "one publishes, the others wait and take over if it stops.",
    )
    relay.add_argument("--nats-url", required=True, help="the NATS server, e.g. nats://127.0.0.1:4222")
    relay.add_argument("--stream", default=STREAM, help=f"the JetStream stream (default {STREAM})")
    relay.add_argument(
        "--subject-prefix", default=PREFIX, help=f"subjects are PREFIX.<family>.<Type> (default {PREFIX})"
    )
    relay.add_argument(
        "--name", default=NAME, help=f"this relay's name, where its position is kept (default {NAME})"
    )
    relay.set_defaults(run=_relay)
    return [relay]


def _relay(settings: Settings, args: argparse.Namespace) -> int:
    target = Target(nats_url=args.nats_url, stream=args.stream, prefix=args.subject_prefix, name=args.name)
    with database(settings) as db:
        asyncio.run(apply_migrations(db.urls.owner))
        asyncio.run(_run(db.urls, target))
    return 0


async def _run(urls: DatabaseUrls, target: Target) -> None:
    async def app_connection() -> asyncpg.Connection:
        if urls.app is not None:
            return await connect(urls.app)
        return await connect(urls.owner, server_settings={"role": APP_ROLE})

    pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=3)
    watcher = HeadWatcher(app_connection)
    store = EventStore(pool, CATALOGUE)
    try:
        await watcher.start()
        await Relay(pool, store, watcher, target, connect_leader=app_connection).run()
    finally:
        with contextlib.suppress(Exception):
            await store.close()
        await watcher.stop()
        await pool.close()
