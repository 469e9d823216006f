"""Delivery commands: `qinglian relay` (the log, relayed to NATS JetStream until stopped,
service/delivery/relay.py) and `qinglian webhook add|list|remove|redeliver` (service/delivery/webhooks.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from events.catalogue import CATALOGUE
from service.delivery.relay import NAME, PREFIX, STREAM, Relay, Target
from service.delivery.webhooks import Endpoint, EndpointError, Endpoints
from service.log.pool import APP_ROLE, connect, create_pool
from service.log.reads import LogReader
from service.log.store import EventStore
from service.log.watcher import HeadWatcher
from service.runtime.app import DatabaseUrls, webhook_policy
from service.runtime.settings import Settings
from service.runtime.target import apply_migrations, database

T = TypeVar("T")


def add_relay_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> list[argparse.ArgumentParser]:
    """Register `relay` and `webhook`; returns those that use a database (they take --data-dir)."""
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

    webhook = commands.add_parser("webhook", help="webhook endpoints: add, list, remove, redeliver")
    hooks = webhook.add_subparsers(title="webhook commands", required=True, metavar="ACTION")
    add = hooks.add_parser("add", help="register an endpoint; prints its id and, this once, its secret")
    add.add_argument("url", help="where events are POSTed (http or https; public addresses only)")
    add.add_argument("--type", action="append", dest="types", metavar="TYPE", help="only this type (repeat)")
    add.add_argument("--stream-prefix", help="only events of streams whose id starts with this")
    add.set_defaults(run=_webhook_add)
    listed = hooks.add_parser("list", help="every endpoint: position, lag, attempts, last error")
    listed.add_argument("--json", action="store_true", help="one JSON object")
    listed.add_argument("--removed", action="store_true", help="removed endpoints too")
    listed.set_defaults(run=_webhook_list)
    remove = hooks.add_parser("remove", help="stop delivering to an endpoint (it stays listed as removed)")
    remove.add_argument("id")
    remove.set_defaults(run=_webhook_remove)
    redeliver = hooks.add_parser(
        "redeliver", help="deliver again, in order, from an endpoint's earliest dead letter (or --from)"
    )
    redeliver.add_argument("id")
    redeliver.add_argument("--from", dest="after", type=int, metavar="POSITION", help="every event after it")
    redeliver.set_defaults(run=_webhook_redeliver)
    return [relay, add, listed, remove, redeliver]


def _endpoints_do(settings: Settings, work: Callable[[Endpoints], Awaitable[T]]) -> T:
    async def run(urls: DatabaseUrls) -> T:
        pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=2)
        try:
            return await work(Endpoints(pool, LogReader(pool), webhook_policy(settings)))
        finally:
            await pool.close()

    with database(settings) as db:
        asyncio.run(apply_migrations(db.urls.owner))
        return asyncio.run(run(db.urls))


def _webhook_add(settings: Settings, args: argparse.Namespace) -> int:
    try:
        endpoint, secret = _endpoints_do(
            settings,
            lambda e: e.register(
                args.url, types=args.types, stream_prefix=args.stream_prefix, created_by="cli"
            ),
        )
    except EndpointError as exc:
        print(f"qinglian: error: {exc.field}: {exc.reason}", file=sys.stderr)
        return 2
    print(f"endpoint {endpoint.id}: {endpoint.url}, from position {endpoint.position}")
    print(f"secret (shown once; verify webhook-signature with it): {secret}")
    return 0


def _webhook_list(settings: Settings, args: argparse.Namespace) -> int:
    endpoints = _endpoints_do(settings, lambda e: e.list(removed=args.removed))
    if args.json:
        print(json.dumps({"endpoints": [endpoint_json(e) for e in endpoints]}, ensure_ascii=False))
        return 0
    if not endpoints:
        print("no webhook endpoints")
    for e in endpoints:
        state = "removed" if e.removed_at is not None else f"lag {e.lag}"
        print(
            f"{e.id}  {e.url}  position {e.position}  {state}  delivered {e.delivered}  "
            f"dead letters {e.dead_letters}  attempts {e.attempts}"
            + (f"  last error: {e.last_error}" if e.last_error else "")
        )
    return 0


def _webhook_remove(settings: Settings, args: argparse.Namespace) -> int:
    try:
        endpoint = _endpoints_do(settings, lambda e: e.remove(args.id))
    except EndpointError as exc:
        print(f"qinglian: error: {exc.reason}", file=sys.stderr)
        return 2
    print(f"endpoint {endpoint.id} removed")
    return 0


def _webhook_redeliver(settings: Settings, args: argparse.Namespace) -> int:
    try:
        after = _endpoints_do(settings, lambda e: e.redeliver(args.id, after=args.after))
    except EndpointError as exc:
        print(f"qinglian: error: {exc.reason}", file=sys.stderr)
        return 2
    print(f"endpoint {args.id}: delivering again every event after position {after}")
    return 0


def endpoint_json(e: Endpoint) -> dict[str, object]:
    return {
        "id": e.id,
        "url": e.url,
        "types": list(e.types) if e.types is not None else None,
        "stream_prefix": e.stream_prefix,
        "position": e.position,
        "lag": e.lag,
        "delivered": e.delivered,
        "attempts": e.attempts,
        "dead_letters": e.dead_letters,
        "last_error": e.last_error,
        "failed_at": e.failed_at.isoformat() if e.failed_at else None,
        "removed_at": e.removed_at.isoformat() if e.removed_at else None,
    }


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
