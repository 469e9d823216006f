"""`qinglian`: serve, migrate, status.

Every expected failure (bad settings, no database, wrong password, unwritable data folder, busy port)
ends as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeAlias, cast

import structlog
import uvicorn
from starlette.applications import Starlette

from events.catalogue import CATALOGUE
from projections.community import World
from projections.localtime import local_date
from service.commands.handler import Commands
from service.delivery.queries import query as delivery_query
from service.demo.generator import DEFAULT_SEED
from service.demo.loader import DemoLoad, DemoRefused, load_demo
from service.log.migrations import (
    MigrationError,
    applied_migrations,
    check_history,
    load_migrations,
)
from service.log.pool import DatabaseUnavailable, connect, create_pool
from service.log.store import EventStore
from service.read.projector import Projector, rebuild
from service.read.readmodel import whole_world
from service.read.reports import ReportError, community_report, coverage_report, disclosure_report, render
from service.runtime import allocator, collector
from service.runtime.access import add_commands as add_token_commands
from service.runtime.access import demo_lines, demo_tokens
from service.runtime.app import DatabaseUrls, create_app
from service.runtime.arguments import as_of
from service.runtime.embedded import EmbeddedError
from service.runtime.erasure import add_commands as add_erase_commands
from service.runtime.inspection import InputError, add_commands
from service.runtime.logging import configure_logging
from service.runtime.progress import progress_bar
from service.runtime.relaying import add_relay_commands
from service.runtime.settings import Settings, SettingsError
from service.runtime.target import apply_migrations, database, require_migrated
from service.runtime.turns import TurnLoop
from service.transparency.export import ExportError
from service.transparency.signer import SigningKeyError, SigningRefused, load_signing_key
from service.transparency.tree import TreeSizeError

# Builds the ASGI app `serve` runs, from the settings and where the database is.
AppFactory: TypeAlias = Callable[[Settings, DatabaseUrls], Starlette]
EXPECTED_FAILURES = (
    SettingsError,
    DatabaseUnavailable,
    EmbeddedError,
    MigrationError,
    DemoRefused,
    SigningKeyError,
    SigningRefused,
    ExportError,
    TreeSizeError,
    InputError,
)


class PortInUse(Exception):
    """The address to listen on is taken or cannot be bound."""


class _Stop(Exception):
    """Raised by the SIGTERM handler so clean-up (the embedded server) runs as for Ctrl-C."""


def main(argv: Sequence[str] | None = None, *, app_factory: AppFactory = create_app) -> int:
    """Run one command. `app_factory` builds what `serve` serves; the GraphQL API's entry point passes
    one that adds its routes (this package cannot import the one above it)."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.app_factory = app_factory
    # Every command, not only `serve`: `migrate` and `status` may run the embedded server too, and a SIGTERM
    # left to its default would end the process without stopping it.
    previous_term = signal.signal(signal.SIGTERM, _on_term)
    try:
        settings = Settings.from_process()
        if getattr(args, "data_dir", None):
            settings = dataclasses.replace(settings, data_dir=Path(args.data_dir).expanduser())
        configure_logging(settings)
        code: int = args.run(settings, args)
        return code
    except EXPECTED_FAILURES as exc:
        print(f"qinglian: error: {exc}", file=sys.stderr)
        return 2
    except PortInUse as exc:
        print(f"qinglian: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, _Stop):
        return 0
    except BrokenPipeError:
        # The reader went away (`qinglian status | head -3`): not an error of ours, and nothing more to say.
        # stdout is pointed at /dev/null so that the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_term)


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qinglian",
        description="The system of record for a city's clean-community programme.",
        epilog="The database is DATABASE_URL when set; otherwise an embedded PostgreSQL in the data folder.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load the demo data up to today (or top an earlier load up to today)",
    )
    serve.add_argument("--host", help="address to listen on (QINGLIAN_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (QINGLIAN_PORT, default 8000)")
    serve.set_defaults(run=_serve)

    migrate_ = commands.add_parser("migrate", help="apply pending database migrations")
    migrate_.set_defaults(run=_migrate)

    status = commands.add_parser("status", help="show the database, the log's head and migrations")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(run=_status)

    rebuild_ = commands.add_parser(
        "rebuild", help="rebuild projections into fresh tables, then switch to them"
    )
    rebuild_.add_argument("name", nargs="?", default="facts", help="the projection (default and only: facts)")
    rebuild_.set_defaults(run=_rebuild)

    demo = commands.add_parser("demo", help="the demo data set (慈溪市, from 2021-01-01 to today)")
    demos = demo.add_subparsers(title="demo commands", required=True, metavar="ACTION")
    demo_load = demos.add_parser(
        "load", help="load the demo into an empty database (again: adds only the days since, if any)"
    )
    demo_load.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the generator's seed")
    demo_load.add_argument(
        "--until",
        type=date.fromisoformat,
        help="the demo's last day, ISO date (default: today in Asia/Shanghai)",
    )
    demo_load.set_defaults(run=_demo_load)

    report = commands.add_parser("report", help="coverage, disclosure rate or one community's status")
    reports = report.add_subparsers(title="reports", required=True, metavar="REPORT")
    cover = reports.add_parser("coverage", help="standardization coverage per town and for the city")
    cover.add_argument("--as-of", type=as_of, help="ISO date or date-time (default: today in Asia/Shanghai)")
    cover.add_argument("--town", help="one town's row only")
    disclose = reports.add_parser("disclosure", help="disclosure rate for a year per town and for the city")
    disclose.add_argument("--year", type=int, required=True)
    disclose.add_argument("--as-of", type=as_of, help="count disclosures published by then (default: today)")
    disclose.add_argument("--town", help="one town's row only")
    one = reports.add_parser("community", help="one community's status, each unmet criterion explained")
    one.add_argument("community_id", metavar="ID")
    one.add_argument("--as-of", type=as_of, help="ISO date or date-time (default: today in Asia/Shanghai)")
    for sub in (cover, disclose, one):
        sub.add_argument("--format", choices=("table", "csv", "json"), default="table")
        sub.set_defaults(run=_report, report=sub.prog.rsplit(" ", 1)[-1])

    with_database = [
        *add_commands(commands),
        *add_token_commands(commands),
        *add_erase_commands(commands),
        *add_relay_commands(commands),
    ]
    for command in (serve, migrate_, status, rebuild_, demo_load, cover, disclose, one, *with_database):
        command.add_argument(
            "--data-dir",
            help="folder of the embedded PostgreSQL (QINGLIAN_DATA_DIR; default: the user data folder)",
        )
    return parser


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as target:
        applied = asyncio.run(apply_migrations(target.urls.owner))
    if applied:
        print(f"applied {len(applied)} migration(s) to {target.description}: {', '.join(applied)}")
    else:
        print(f"{target.description} is up to date")
    return 0


STATUS_BEHIND = """
select count(*) from status_pending p
join projection_checkpoints c on c.name = 'facts' and c.generation = p.generation
"""


def _status(settings: Settings, args: argparse.Namespace) -> int:
    async def read(owner_url: str) -> dict[str, object]:
        conn = await connect(owner_url)
        try:
            applied = await applied_migrations(conn)
            pending = check_history(applied, load_migrations())
            has_log = await conn.fetchval("select to_regclass('events') is not null")
            head = await conn.fetchval("select coalesce(max(position), 0) from events") if has_log else 0
            version = await conn.fetchval("show server_version")
            has_status = await conn.fetchval("select to_regclass('status_pending') is not null")
            # Communities whose stored status is behind their facts (a standard revised: all of them).
            behind = await conn.fetchval(STATUS_BEHIND) if has_status else None
            has_relays = await conn.fetchval("select to_regclass('relay_positions') is not null")
            has_delivery = await conn.fetchval("select to_regclass('webhook_endpoints') is not null")
            relays = [dict(r) for r in await conn.fetch(delivery_query("relays"))] if has_relays else []
            hooks = (
                [dict(r) for r in await conn.fetch(delivery_query("webhook_list"), False)]
                if has_delivery
                else []
            )
        finally:
            await conn.close()
        return {
            "server_version": version,
            "head_position": head,
            "migrations_applied": [
                {"version": a.version, "name": a.name, "applied_at": a.applied_at.isoformat()}
                for a in applied
            ],
            "migrations_pending": [f"{m.version:04d}_{m.name}" for m in pending],
            "status_pending": behind,
            "relays": [
                {
                    "name": r["name"],
                    "position": r["position"],
                    "lag": r["lag"],
                    "published": r["published"],
                    "last_error": r["last_error"],
                    "updated_at": r["updated_at"].isoformat(),
                }
                for r in relays
            ],
            "webhooks": [
                {
                    "id": h["id"],
                    "url": h["url"],
                    "position": h["position"],
                    "lag": h["lag"],
                    "delivered": h["delivered"],
                    "attempts": h["attempts"],
                    "dead_letters": h["dead_letters"],
                    "last_error": h["last_error"],
                }
                for h in hooks
            ],
        }

    with database(settings) as target:
        report = asyncio.run(read(target.urls.owner))
    report = {"database": target.description, **report}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    applied = cast(list[dict[str, Any]], report["migrations_applied"])
    pending = cast(list[str], report["migrations_pending"])
    print(f"database:       {target.description} (PostgreSQL {report['server_version']})")
    print(f"head position:  {report['head_position']}")
    if report["status_pending"] is not None:
        print(f"status:         {report['status_pending']} communities being recomputed")
    for relay in cast(list[dict[str, Any]], report["relays"]):
        error = f", last error: {relay['last_error']}" if relay["last_error"] else ""
        print(f"relay:          {relay['name']} at {relay['position']}, lag {relay['lag']}{error}")
    for hook in cast(list[dict[str, Any]], report["webhooks"]):
        error = f", last error: {hook['last_error']}" if hook["last_error"] else ""
        print(
            f"webhook:        {hook['id']} {hook['url']} at {hook['position']}, lag {hook['lag']}, "
            f"dead letters {hook['dead_letters']}{error}"
        )
    print(f"migrations:     {len(applied)} applied, {len(pending)} pending")
    for item in applied:
        print(f"  {item['version']:04d}_{item['name']}  applied {item['applied_at']}")
    for name in pending:
        print(f"  {name}  pending")
    return 0


async def _current_world(urls: DatabaseUrls) -> World:
    """The projections caught up with the log, read back."""
    pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=4)
    try:
        # Reading appends nothing to the log; bringing the projections up to it only maintains views.
        await Projector(pool, CATALOGUE).catch_up()
        return await whole_world(pool)
    finally:
        await pool.close()


def _report(settings: Settings, args: argparse.Namespace) -> int:
    on: date = args.as_of or local_date(datetime.now(UTC))
    with database(settings) as target:
        asyncio.run(require_migrated(target.urls.owner))
        world = asyncio.run(_current_world(target.urls))
    try:
        if args.report == "coverage":
            made = coverage_report(world, on, args.town)
        elif args.report == "disclosure":
            made = disclosure_report(world, args.year, on, args.town)
        else:
            made = community_report(world, args.community_id, on)
    except ReportError as exc:
        print(f"qinglian: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render(made, args.format))
    return 0


async def _load_demo(urls: DatabaseUrls, seed: int, until: date | None = None) -> DemoLoad:
    pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=8)
    try:
        store = EventStore(pool, CATALOGUE)
        try:
            return await load_demo(Commands(store, CATALOGUE), store, seed=seed, until=until)
        finally:
            await store.close()
    finally:
        await pool.close()


def _demo_load(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as target:
        asyncio.run(apply_migrations(target.urls.owner))
        loaded = asyncio.run(_load_demo(target.urls, args.seed, args.until))
    written, there = f"{loaded.written:,}", f"{loaded.replayed:,}"
    print(
        f"demo loaded into {target.description} up to {loaded.until}: "
        f"{written} events written, {there} there already"
    )
    return 0


def _rebuild(settings: Settings, args: argparse.Namespace) -> int:
    if args.name != "facts":
        print(f"qinglian: error: unknown projection {args.name!r}; known: facts", file=sys.stderr)
        return 2

    async def run(urls: DatabaseUrls) -> tuple[int, int]:
        pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=2)
        try:
            # A bar is for people: a log or a pipe gets only the summary line.
            with progress_bar("rebuilding facts", unit="events") as progress:
                checkpoint = await rebuild(pool, CATALOGUE, progress=progress)
        finally:
            await pool.close()
        return checkpoint.generation, checkpoint.position

    with database(settings) as target:
        asyncio.run(apply_migrations(target.urls.owner))
        generation, position = asyncio.run(run(target.urls))
    print(f"rebuilt facts to position {position:,} (generation {generation})")
    return 0


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortInUse(f"cannot listen on {host!r}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} on {host} is already in use") from exc
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def _serving(server: uvicorn.Server, sock: socket.socket) -> None:
    """`server.serve(sockets=[sock])`, with the garbage collector settled once it has started (by then the
    schema, the caches and the lifespan's services exist, and they live as long as the process), and its
    full passes made on a timer from then on (service/runtime/collector.py). The C
    allocator is settled before it starts, so that what a large answer used goes back to the system once
    it is done (service/runtime/allocator.py)."""
    allocator.settle()
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.wait([serving], timeout=0.05)
    if not server.started:
        await serving
        return
    collector.settle()
    collecting = asyncio.ensure_future(collector.collect_periodically())
    try:
        await serving
    finally:
        collecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collecting


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.host is not None:
        settings = dataclasses.replace(settings, host=args.host)
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise SettingsError(f"--port must be between 0 and 65535, not {args.port}")
        settings = dataclasses.replace(settings, port=args.port)
    log = structlog.get_logger("qinglian")
    if settings.signing_key is not None:
        load_signing_key(
            settings.signing_key, settings.data_dir
        )  # a bad key is reported before anything starts
    # Bind first: a busy port is reported before any database work starts.
    sock = _bind(settings.host, settings.port)
    try:
        with database(settings) as target:
            applied = asyncio.run(apply_migrations(target.urls.owner))
            if applied:
                log.info("migrated", applied=applied)
            demo: list[str] = []
            if args.demo:
                loaded = asyncio.run(_load_demo(target.urls, DEFAULT_SEED))
                log.info(
                    "demo loaded",
                    until=loaded.until.isoformat(),
                    written=loaded.written,
                    already_there=loaded.replayed,
                )
                issued = asyncio.run(demo_tokens(target.urls))
                host, port = sock.getsockname()[:2]
                demo = demo_lines(issued, f"http://{f'[{host}]' if ':' in host else host}:{port}")
            app = args.app_factory(settings, target.urls)
            config = uvicorn.Config(app, log_config=None, lifespan="on", access_log=False)
            server = uvicorn.Server(config)
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(
                f"Qinglian is listening on http://{shown}:{port} (database: {target.description})",
                flush=True,
            )
            if demo:
                print("\n".join(demo), flush=True)
            # The loop that knows its turns, so sliced work shares each turn (service/runtime/turns.py).
            with contextlib.suppress(_Stop, KeyboardInterrupt), asyncio.Runner(loop_factory=TurnLoop) as run:
                run.run(_serving(server, sock))
        print("Qinglian stopped.", flush=True)
        return 0
    finally:
        sock.close()
