"""GraphQL over HTTP and WebSocket at /graphql: the view, the request guard, and the app factory.

The guard runs before strawberry sees a request: it takes or makes the request id (returned in
`X-Request-ID`), and refuses a body over the size limit with HTTP 413 and a GraphQL-shaped JSON body.
Refusals strawberry makes itself (malformed JSON, wrong content type, a mutation over GET …) are turned
into the same shape, with `extensions.code` BAD_REQUEST, instead of plain text.

With the response cache on (schema/cache.py), the view reads the projection's checkpoint and world once,
answers a query it has already answered at that checkpoint from the cache, and otherwise runs it on that
very world and date, so what it stores is exactly what the key says. Every operation's log line carries
`cache`: hit, miss or bypass.

Every request is authenticated before anything else runs (service/access): an `Authorization: Bearer`
credential becomes a principal, no credential is the anonymous principal (where the service allows one),
and a bad credential is refused with HTTP 401 and `extensions.code` UNAUTHENTICATED — over WebSocket, the
connection is closed with 4401. No header other than `Authorization` says anything about the caller.

A browser's GET of /graphql gets GraphiQL, whose files the service serves itself (schema/ide.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
import structlog
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from events.catalogue import CATALOGUE
from projections.access import Principal
from projections.community import World
from projections.localtime import local_date
from schema.build import UNAVAILABLE_MESSAGE, QinglianSchema, build_schema
from schema.cache import Plan, ResponseCache, make_key, read_request
from schema.cache import Request as CacheRequest
from schema.connection import Connection
from schema.context import Context, Services, preferred_lang
from schema.ide import GraphiQLFiles, shipped
from schema.limits import DEFAULT_LIMITS, Limits
from service.access.errors import AnonymousRefused, Unauthenticated
from service.delivery.status import POLL as STATUS_POLL
from service.log.clock import utc_now
from service.log.outage import OUTAGE, unavailable
from service.runtime.app import DatabaseUrls, create_app
from service.runtime.settings import Settings

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Keys in the ASGI scope's state: who is asking, the snapshot a cacheable operation must run on, and whether
# it had errors.
PRINCIPAL = "qinglian_principal"
PINNED = "qinglian_pinned"
CONNECTION = "qinglian_connection"
# connection_ack without a payload.
_UNSET: UnsetType = UNSET
HAD_ERRORS = "qinglian_had_errors"
# Response types a client may ask for that stream (incremental delivery): never cached.
STREAMING = ("multipart/mixed", "text/event-stream")
log = structlog.get_logger("qinglian.graphql")


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}


@dataclass(frozen=True, slots=True)
class _Pinned:
    """What a cacheable operation runs on: the world its key names, and the moment its date comes from."""

    world: World
    generation: int
    moment: datetime

    def clock(self) -> datetime:
        return self.moment


class GraphQLView(GraphQL[Context, None]):
    def __init__(
        self,
        schema: QinglianSchema,
        *,
        cache: ResponseCache | None = None,
        clock: Callable[[], datetime] = utc_now,
        anonymous_introspection: bool = True,
        ide: GraphiQLFiles | None = None,
        allowed_origins: tuple[str, ...] = (),
        credential_recheck: float = 5.0,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        # Browser pages on other origins that may open the WebSocket (strawberry refuses the others'
        # handshakes with HTTP 403; same-origin pages and non-browser clients are let in).
        self.allowed_origins = frozenset(allowed_origins)
        self.credential_recheck = credential_recheck
        self.anonymous_introspection = anonymous_introspection
        self.ide = ide if ide is not None else shipped()
        self.cache = cache
        self.clock = clock
        self.max_tokens = schema.limits.max_tokens
        self.max_response_bytes = schema.limits.max_response_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._serve(scope, receive, send)
        except Exception as exc:
            # Before or around execution (authentication, the response cache's checkpoint): a database
            # that cannot be reached is a 503 the client may retry, logged once per outage.
            if not unavailable(exc):
                raise
            OUTAGE.failed(exc)
            if scope["type"] == "websocket":
                await WebSocket(scope, receive, send).close(code=1013, reason="database unavailable")
                return
            refused = JSONResponse(
                _error_body("DATABASE_UNAVAILABLE", UNAVAILABLE_MESSAGE),
                status_code=503,
                headers={"Retry-After": "1"},
            )
            await refused(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            principal = await _authenticate(scope)
        except (Unauthenticated, AnonymousRefused) as exc:
            log.info("request refused", reason=str(exc), code="UNAUTHENTICATED")
            if scope["type"] == "websocket":
                # Before the handshake: closing now refuses the upgrade; 4401 is graphql-ws's "unauthorized".
                await WebSocket(scope, receive, send).close(code=4401, reason="unauthenticated")
                return
            refused = JSONResponse(
                _error_body("UNAUTHENTICATED", str(exc)),
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="qinglian"'},
            )
            await refused(scope, receive, send)
            return
        refusal = await scope["app"].state.services.throttle.admit(principal, _client(scope))
        if refusal is not None:
            log.info("request refused", code="RATE_LIMITED", limit=refusal.limit)
            if scope["type"] == "websocket":
                await WebSocket(scope, receive, send).close(code=4429, reason="rate limited")
                return
            limited = JSONResponse(
                _error_body("RATE_LIMITED", f"Too many requests ({refusal.limit}); try again later."),
                status_code=429,
                headers={"Retry-After": str(refusal.retry_after)},
            )
            await limited(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL] = principal
        if (
            scope["type"] == "http"
            and not self._may_introspect(principal)
            and scope.get("method") == "GET"
            and "text/html" in Request(scope).headers.get("accept", "")
        ):
            closed = JSONResponse(
                _error_body("UNAUTHENTICATED", "GraphiQL is for signed-in callers here."), status_code=401
            )
            await closed(scope, receive, send)
            return
        if scope["type"] == "websocket":
            connection = Connection(WebSocket(scope, receive, send))
            if principal.kind != "anonymous":
                connection.authorization = _authorization(scope)
            scope["state"][CONNECTION] = connection
            try:
                await super().__call__(scope, receive, send)
            finally:
                await connection.stop()
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self._respond(Request(scope, receive), principal)
        except HTTPException as exc:
            # The client's mistake: one line says what, no traceback.
            log.warning("bad request", status=exc.status_code, reason=exc.reason)
            response = JSONResponse(_error_body("BAD_REQUEST", exc.reason), status_code=exc.status_code)
        await response(scope, receive, send)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        """Strawberry's parsing, after refusing a JSON body that is not an object or an array (`null`,
        `42`, a string, a byte order mark), which it would otherwise fail on unexpectedly."""
        json_post = request.method == "POST" and "application/json" in (request.content_type or "")
        if json_post and (await request.get_body()).lstrip(b" \t\r\n")[:1] not in (b"{", b"["):
            raise HTTPException(400, "The request body must be a JSON object (UTF-8, no byte order mark).")
        return await super().parse_http_body(request)

    def decode_json(self, data: str | bytes) -> object:
        """JSON from a body or a query parameter; what is not UTF-8, or nests deeper than the parser's
        stack, is the client's mistake (400), not an error of the server."""
        try:
            return json.loads(data)
        except UnicodeDecodeError as exc:
            raise HTTPException(400, f"The request is not UTF-8 text (byte {exc.start}).") from exc
        except RecursionError as exc:
            raise HTTPException(400, "The request's JSON is nested too deeply.") from exc

    def encode_json(self, data: object) -> str:
        """The response (or WebSocket message) as compact JSON, by msgspec: a 100-community answer is encoded
        in well under a millisecond, where `json.dumps` held the event loop for several. Text, not bytes,
        so WebSocket messages stay text frames; non-ASCII characters are written as UTF-8, not escaped.

        An answer larger than the response budget is not sent: a RESPONSE_TOO_LARGE error takes its place,
        so no client can make the server hold and send hundreds of megabytes."""
        encoded = msgspec.json.encode(data)
        if len(encoded) > self.max_response_bytes:
            log.warning("response too large", bytes=len(encoded), limit=self.max_response_bytes)
            message = (
                f"The answer is {len(encoded)} bytes, over the response limit of {self.max_response_bytes}; "
                "ask for smaller pages or fewer fields."
            )
            refusal = _error_body("RESPONSE_TOO_LARGE", message)
            refusal["errors"][0]["extensions"].update(size=len(encoded), limit=self.max_response_bytes)
            return msgspec.json.encode(refusal).decode()
        return encoded.decode()

    def _may_introspect(self, principal: Principal) -> bool:
        return self.anonymous_introspection or principal.kind != "anonymous"

    async def _respond(self, request: Request, principal: Principal) -> Response:
        started = time.perf_counter()
        cache = self.cache
        wanted = await self._cacheable(request, cache) if cache is not None else None
        if cache is None or wanted is None:
            with structlog.contextvars.bound_contextvars(cache="bypass"):
                return await self.run(request)
        query, plan = wanted
        try:
            checkpoint, world = await request.app.state.services.read_model.snapshot()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # No checkpoint, no key: run it uncached, so the failure reaches the client the way any
            # resolver's does (masked, logged once) rather than as a bare 500 from here.
            log.warning("response cache bypassed: the read model is unavailable", error=str(exc))
            with structlog.contextvars.bound_contextvars(cache="bypass"):
                return await self.run(request)
        moment = self.clock()
        # Keyed by what the caller may see, so no answer reaches a caller who may not see all of it.
        # And by the language its messages default to, which its Accept-Language header chooses.
        lang = preferred_lang(request.headers.get("accept-language"))
        key = make_key(query, principal.view(), checkpoint, local_date(moment), lang.value)
        body = cache.get(key)
        flight = cache.flight(key) if body is None else None
        if flight is not None:
            # The same operation is running for another request right now: share its response.
            body = await asyncio.shield(flight)
        if body is not None:
            self._log_hit(request, plan, started)
            return Response(body, media_type="application/json")
        request.scope.setdefault("state", {})[PINNED] = _Pinned(world, checkpoint.generation, moment)
        leader = cache.take_off(key) if flight is None else None
        kept: bytes | None = None
        try:
            with structlog.contextvars.bound_contextvars(cache="miss"):
                response = await self.run(request)
            if response.status_code == 200 and not request.scope["state"].get(HAD_ERRORS):
                kept = bytes(response.body)
            return response
        finally:
            if leader is not None:
                cache.land(key, kept)
            elif kept is not None:
                cache.put(key, kept)

    async def _cacheable(self, request: Request, cache: ResponseCache) -> tuple[CacheRequest, Plan] | None:
        """The request and its plan, if its response may come from the cache."""
        accept = request.headers.get("accept", "")
        if any(kind in accept for kind in STREAMING):
            return None
        body = await request.body() if request.method == "POST" else None
        query = read_request(
            request.method, request.query_params, request.headers.get("content-type", ""), body
        )
        if query is None:
            return None
        plan = cache.plan(query, max_tokens=self.max_tokens)
        return (query, plan) if plan.cacheable else None

    def _log_hit(self, request: Request, plan: Plan, started: float) -> None:
        # The same canonical line QinglianSchema.execute writes for an operation it runs.
        log.info(
            "graphql operation",
            operation_name=plan.name,
            operation_type="query",
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            outcome="ok",
            request_id=request.scope.get("state", {}).get("request_id"),
            cache="hit",
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from this server's own files, not strawberry's page, which loads them from a CDN."""
        return self.ide.render(request.url.path)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            request.scope.setdefault("state", {})[HAD_ERRORS] = True
        return await super().process_result(request, result)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """connection_init: a credential in its payload (`Authorization: "Bearer …"`, as a browser cannot
        set the header on a WebSocket) is proved as a header's is, and the connection acts as its
        principal; a bad one closes the socket with 4403. Given beside an Authorization header, it must
        prove the same principal. The credential is proved again while the connection lasts."""
        connection = context.connection
        services = context.services
        authenticator = services.authenticator
        if connection is None or authenticator is None:
            return _UNSET
        params = context.connection_params or {}
        given = next(
            (params[k] for k in ("Authorization", "authorization") if isinstance(params.get(k), str)), None
        )
        if given is not None:
            try:
                principal = await authenticator.authenticate(str(given))
            except (Unauthenticated, AnonymousRefused) as exc:
                log.info("websocket refused", reason=str(exc), code="UNAUTHENTICATED")
                raise ConnectionRejectionError({"reason": str(exc)}) from exc
            if connection.authorization is not None and principal != context.principal:
                log.info("websocket refused", reason="two credentials", code="UNAUTHENTICATED")
                raise ConnectionRejectionError({"reason": "the header and connection_init name two callers"})
            connection.authorization = str(given)
            context.principal = principal
            context.may_introspect = self._may_introspect(principal)
        connection.recheck(authenticator.authenticate, context.principal, self.credential_recheck)
        return _UNSET

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        principal = request.scope.get("state", {}).get(PRINCIPAL)
        if not isinstance(principal, Principal):
            raise RuntimeError("a GraphQL request reached the view without being authenticated")
        app_services = request.app.state.services
        services = Services(
            store=app_services.store,
            commands=app_services.commands,
            projector=app_services.projector,
            read_model=app_services.read_model,
            registry=CATALOGUE,
            tree=app_services.tree,
            pool=app_services.pool,
            authenticator=app_services.authenticator,
            hub=app_services.hub,
            status_watch=app_services.status_watch,
            endpoints=app_services.endpoints,
        )
        state = request.scope.get("state", {})
        pinned = state.get(PINNED)
        services.clock = pinned.clock if isinstance(pinned, _Pinned) else self.clock
        request_id = state.get("request_id") or uuid.uuid4().hex
        context = Context(
            services=services,
            principal=principal,
            request_id=request_id,
            may_introspect=self._may_introspect(principal),
            lang=preferred_lang(request.headers.get("accept-language")),
        )
        if isinstance(pinned, _Pinned):
            context.loaders.pin_world(pinned.world, pinned.generation)
        connection = state.get(CONNECTION)
        if isinstance(connection, Connection):
            context.connection = connection
        return context


def _client(scope: Scope) -> str:
    """The peer's address: what anonymous callers are counted by (a proxy in front is one client)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _authorization(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            return str(value.decode("latin-1"))
    return None


async def _authenticate(scope: Scope) -> Principal:
    """The principal of a request's (or a WebSocket upgrade's) Authorization header."""
    authorization = _authorization(scope)
    authenticator = scope["app"].state.services.authenticator
    principal: Principal = await authenticator.authenticate(authorization)
    return principal


class Guard:
    """Request id and body-size limit around an ASGI app."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
                return
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            await self._http(scope, receive, send, headers, request_id)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Each message a client sends must be within the body limit and a JSON object whose `payload`,
        if any, is an object (both protocols' shape). Any other is refused before the protocol handler
        reads it: the socket is closed with 4400 and a reason, and the handler sees the client leave."""
        closed = False

        async def checked() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] != "websocket.receive" or closed:
                return message
            reason = _refused_message(message, self.max_body_bytes)
            if reason is None:
                return message
            log.warning("websocket message refused", reason=reason)
            closed = True
            await send({"type": "websocket.close", "code": 4400, "reason": reason})
            return {"type": "websocket.disconnect", "code": 4400}

        async def guarded(message: Message) -> None:
            # Once closed here, what the handler still sends (its own close) has nowhere to go.
            if not closed:
                await send(message)

        await self.app(scope, checked, guarded)

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], request_id: str
    ) -> None:
        limit = self.max_body_bytes
        too_large = JSONResponse(
            _error_body("BODY_TOO_LARGE", f"The request body is larger than the limit of {limit} bytes."),
            status_code=413,
            headers={"X-Request-ID": request_id},
        )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tagged(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # Messages and texts default to the language Accept-Language chooses: a shared HTTP cache
                # must keep the answers apart by it.
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    (b"vary", b"Accept-Language"),
                ]
            await send(message)

        try:
            await self.app(scope, counted, tagged)
        except _BodyTooLarge:
            if started:
                raise
            await too_large(scope, receive, send)


def _refused_message(message: Message, limit: int) -> str | None:
    """Why a WebSocket message is refused, or None."""
    text = message.get("text")
    data: str | bytes = text if text is not None else message.get("bytes") or b""
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if size > limit:
        return f"message larger than the limit of {limit} bytes"
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return "message is not JSON text (or is nested too deeply)"
    if not isinstance(value, dict):
        return "message must be a JSON object"
    if not isinstance(value.get("payload"), dict | None):
        return "message payload must be an object"
    return None


class _BodyTooLarge(Exception):
    """A body without a (truthful) Content-Length grew past the limit while being read."""


def graphql_routes(
    settings: Settings, limits: Limits = DEFAULT_LIMITS, *, clock: Callable[[], datetime] = utc_now
) -> list[BaseRoute]:
    cache = ResponseCache() if settings.response_cache else None
    graphql = GraphQLView(
        build_schema(limits),
        cache=cache,
        clock=clock,
        anonymous_introspection=settings.anonymous_introspection,
        allowed_origins=settings.cors_origins,
        credential_recheck=settings.credential_recheck,
    )
    view = Guard(graphql, limits.max_body_bytes)
    return [
        Route("/graphql", view),
        WebSocketRoute("/graphql", view),
        Route("/graphql/assets/{name}", graphql.ide.serve, methods=["GET", "HEAD"]),
    ]


def create_graphql_app(
    settings: Settings,
    database: DatabaseUrls,
    *,
    clock: Callable[[], datetime] = utc_now,
    status_poll: float = STATUS_POLL,
) -> Starlette:
    """The service's app with the GraphQL API: what `qinglian serve` runs. `clock` is the service's now
    (tests of what a date changes give their own, and a short `status_poll`)."""
    return create_app(
        settings,
        database,
        routes=graphql_routes(settings, clock=clock),
        clock=clock,
        status_poll=status_poll,
    )
