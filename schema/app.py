"""GraphQL over HTTP and WebSocket at /graphql: the view, the request guard, and the app factory.

The guard runs before strawberry sees a request: it takes or makes the request id (returned in
`X-Request-ID`), and refuses a body over the size limit with HTTP 413 and a GraphQL-shaped JSON body.
Refusals strawberry makes itself (malformed JSON, wrong content type, a mutation over GET …) are turned
into the same shape, with `extensions.code` BAD_REQUEST, instead of plain text.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from events.catalogue import CATALOGUE
from schema.build import QinglianSchema, build_schema
from schema.context import Context, Services
from schema.limits import DEFAULT_LIMITS, Limits
from service.app import DatabaseUrls, create_app
from service.roles import Role, parse_role
from service.settings import Settings

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ROLE_HEADER = "x-qinglian-role"


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: QinglianSchema, *, role_header: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.role_header = role_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            response = JSONResponse(_error_body("BAD_REQUEST", exc.reason), status_code=exc.status_code)
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        given = request.headers.get(ROLE_HEADER) if self.role_header else None
        role = parse_role(given)
        if role is None:
            names = ", ".join(r.value for r in Role)
            raise HTTPException(400, f"X-Qinglian-Role must be one of: {names}")
        app_services = request.app.state.services
        services = Services(
            store=app_services.store,
            commands=app_services.commands,
            projector=app_services.projector,
            read_model=app_services.read_model,
            registry=CATALOGUE,
            tree=app_services.tree,
            pool=app_services.pool,
        )
        request_id = request.scope.get("state", {}).get("request_id") or uuid.uuid4().hex
        return Context(services=services, role=role, request_id=request_id)


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
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            await self._http(scope, receive, send, headers, request_id)

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
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, counted, tagged)
        except _BodyTooLarge:
            if started:
                raise
            await too_large(scope, receive, send)


class _BodyTooLarge(Exception):
    """A body without a (truthful) Content-Length grew past the limit while being read."""


def graphql_routes(settings: Settings, limits: Limits = DEFAULT_LIMITS) -> list[BaseRoute]:
    view = Guard(GraphQLView(build_schema(limits), role_header=settings.role_header), limits.max_body_bytes)
    return [Route("/graphql", view), WebSocketRoute("/graphql", view)]


def create_graphql_app(settings: Settings, database: DatabaseUrls) -> Starlette:
    """The service's app with the GraphQL API: what `qinglian serve` runs."""
    return create_app(settings, database, routes=graphql_routes(settings))
