"""The Starlette application: its lifespan owns the pool, the store, the head watcher and the projector."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Route

from events.catalogue import CATALOGUE
from service.access.authenticator import Authenticator
from service.access.jwt import JwtVerifier
from service.access.throttle import Throttle
from service.access.tokens import Tokens
from service.commands.handler import Commands, install_default_standard
from service.delivery.hub import Hub
from service.delivery.status import POLL as STATUS_POLL
from service.delivery.status import StatusWatch
from service.delivery.webhooks import Endpoints, Policy, WebhookWorker
from service.log.clock import utc_now
from service.log.outage import OUTAGE, unavailable
from service.log.pool import APP_ROLE, connect, create_pool
from service.log.store import EventStore
from service.log.watcher import HeadWatcher
from service.read.projector import Projector, fill_missing_records
from service.read.readmodel import ReadModel
from service.read.status import StatusKeeper
from service.runtime.metrics import RequestMetrics, metrics
from service.runtime.settings import Settings
from service.transparency.signer import Signer, latest_note, load_signing_key, sign_periodically
from service.transparency.tree import LogTree

READY_TIMEOUT = 2.0
log = structlog.get_logger(__name__)


# How long a token's grant, once read, answers for it: a revocation made through another process (the CLI,
# another replica) takes effect within this; one made through this process, at once.
REMEMBER_GRANTS = 5.0


@dataclass(frozen=True, slots=True)
class DatabaseUrls:
    """Where the owner (migrations) and the application role (everything else) connect."""

    owner: str
    app: str | None = None


@dataclass(slots=True)
class Services:
    pool: asyncpg.Pool
    store: EventStore
    watcher: HeadWatcher
    commands: Commands
    projector: Projector
    read_model: ReadModel
    tree: LogTree
    authenticator: Authenticator
    tokens: Tokens
    throttle: Throttle
    # The log's head once start-up had written what it writes: ready means the projections have reached it.
    head_at_start: int = 0
    # Live events and status for subscribers: one reader of each per process.
    hub: Hub | None = None
    status_watch: StatusWatch | None = None
    endpoints: Endpoints | None = None


async def _fill_missing_records(pool: asyncpg.Pool) -> None:
    """Once at start-up: a database projected before records were kept in tables gets them by a rebuild,
    in the background (it builds beside the live projections, so reads go on meanwhile)."""
    try:
        await fill_missing_records(pool, CATALOGUE)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("could not rebuild the records; `qinglian rebuild` will", error=str(exc))


def webhook_policy(settings: Settings) -> Policy:
    return Policy(
        retry_base=settings.webhook_retry_base,
        max_attempts=settings.webhook_max_attempts,
        allow_private=settings.webhook_allow_private,
    )


def create_app(
    settings: Settings,
    database: DatabaseUrls,
    *,
    routes: Sequence[BaseRoute] = (),
    clock: Callable[[], datetime] = utc_now,
    status_poll: float = STATUS_POLL,
) -> Starlette:
    """The ASGI app. Migrations are the caller's job (the CLI runs them before serving).

    `routes` are served beside the service's own; the GraphQL API comes in this way (its package sits above
    this one), and reads `app.state.services` once the lifespan has started. `clock` is what the status
    keeper and the live status take as now; `status_poll`, how often at most the live status looks again
    when nothing wakes it (tests that move `clock` make it short)."""

    async def connect_listener() -> asyncpg.Connection:
        # Named with the process id: an operator (or a test) tells each process's one LISTEN connection
        # apart in pg_stat_activity, however the process connects (TCP or a Unix socket).
        named = {"application_name": f"qinglian-listen:{os.getpid()}"}
        if database.app is not None:
            return await connect(database.app, server_settings=named)
        return await connect(database.owner, server_settings={"role": APP_ROLE, **named})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if database.app is None:
            # The pool then logs in as the owner and assumes qinglian_app by the `role` startup parameter:
            # the privileges are the same, but a statement could RESET ROLE back to the owner.
            log.warning(
                "the service works through the owner's login; give it a login of its own that is a member "
                "of qinglian_app only (QINGLIAN_APP_DATABASE_URL)"
            )
        pool = await create_pool(
            database.owner,
            database.app,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
        )
        watcher = HeadWatcher(connect_listener)
        store = EventStore(pool, CATALOGUE)
        commands = Commands(store, CATALOGUE)
        projector = Projector(pool, CATALOGUE)
        tree = LogTree(pool)
        # A bad key stops start-up with a clear message, before anything is served.
        key = load_signing_key(settings.signing_key, settings.data_dir) if settings.signing_key else None
        background: list[asyncio.Task[None]] = []
        try:
            await install_default_standard(commands, store)
            head_at_start = await store.head()
            await watcher.start()
            # Following the log is background work: a long catch-up must not hold up start-up.
            loop = asyncio.get_running_loop()
            background.append(loop.create_task(projector.run(watcher), name="qinglian-projector"))
            keeper = StatusKeeper(pool, clock=clock)
            background.append(loop.create_task(keeper.run(watcher, projector), name="qinglian-status"))
            hub = Hub(store, watcher, queue_limit=settings.subscriber_queue)
            background.append(loop.create_task(hub.run(), name="qinglian-event-hub"))
            policy = webhook_policy(settings)
            worker = WebhookWorker(pool, store, watcher, policy, clock=clock)
            background.append(loop.create_task(worker.run(), name="qinglian-webhooks"))
            status_watch = StatusWatch(
                pool, watcher, clock=clock, queue_limit=settings.subscriber_queue, poll=status_poll
            )
            background.append(loop.create_task(status_watch.run(), name="qinglian-status-watch"))
            background.append(loop.create_task(tree.run(watcher), name="qinglian-sealer"))
            background.append(loop.create_task(_fill_missing_records(pool), name="qinglian-records-backfill"))
            if key is not None:
                signer = Signer(pool, tree, key)
                background.append(
                    loop.create_task(
                        sign_periodically(signer, pool, settings.checkpoint_interval), name="qinglian-signer"
                    )
                )
            app.state.services = Services(
                pool=pool,
                store=store,
                watcher=watcher,
                commands=commands,
                projector=projector,
                read_model=ReadModel(pool),
                tree=tree,
                authenticator=Authenticator(
                    pool,
                    allow_anonymous=settings.anonymous,
                    jwt=JwtVerifier(settings.jwt) if settings.jwt is not None else None,
                    remember_seconds=REMEMBER_GRANTS,
                ),
                tokens=Tokens(pool, store),
                throttle=Throttle(authenticated=settings.rate_limit, anonymous=settings.anonymous_rate_limit),
                head_at_start=head_at_start,
                hub=hub,
                status_watch=status_watch,
                endpoints=Endpoints(pool, store, policy),
            )
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await store.close()
            await watcher.stop()
            await pool.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        """Ready: the database answers, and the projections have caught up with the log as it stood at
        start (until then a query would answer from an empty or stale read model). The lag is how far the
        projections are behind the head now. The driver's own text stays in the log."""
        services: Services = request.app.state.services
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                head = await services.store.head()
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if not unavailable(exc):
                raise
            OUTAGE.failed(exc)
            return JSONResponse({"status": "unavailable", "database": "unavailable"}, status_code=503)
        OUTAGE.answered()
        projected = services.projector.position
        figures = {"head": head, "projected": projected, "lag": max(head - projected, 0)}
        if projected < services.head_at_start:
            return JSONResponse({"status": "starting", **figures}, status_code=503)
        return JSONResponse({"status": "ready", **figures})

    async def checkpoint(request: Request) -> PlainTextResponse:
        services: Services = request.app.state.services
        note = await latest_note(services.pool)
        if note is None:
            return PlainTextResponse("no checkpoint has been signed yet\n", status_code=404)
        # The note exactly as signed: its bytes are what the signature covers.
        return PlainTextResponse(note, media_type="text/plain; charset=utf-8")

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/checkpoint", checkpoint),
            Route("/metrics", metrics),
            *routes,
        ],
        lifespan=lifespan,
        # Browsers on other origins only where the operator lists them (none by default).
        middleware=[
            # Outermost: every request is counted, whatever answers it.
            Middleware(RequestMetrics),
            *_cors(settings),
        ],
    )


def _cors(settings: Settings) -> list[Middleware]:
    return (
        [
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                expose_headers=["X-Request-ID", "Retry-After"],
                max_age=600,
            )
        ]
        if settings.cors_origins
        else []
    )
