"""`/metrics`, in Prometheus's text format (prometheus-client): the service's own requests, its live
subscribers, and, read from the database at each scrape, the log's head, the projections' lag, and each
relay's and webhook endpoint's position, lag, deliveries and errors.

Request figures are this process's (each replica is scraped on its own); what is read from the database
is the same from every replica. No URL, secret or caller appears in a label: endpoints by id, relays by
name, requests by route and status."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.delivery.queries import query
from service.read.projector import NAME

if TYPE_CHECKING:
    from service.runtime.app import Services

ROUTES = ("/graphql", "/healthz", "/readyz", "/checkpoint", "/metrics")
REQUESTS = Counter(
    "qinglian_http_requests", "HTTP requests answered, by route and status.", ["route", "status"]
)
LATENCY = Histogram(
    "qinglian_http_request_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBSOCKETS = Gauge("qinglian_websocket_connections", "WebSocket connections open now.")


def route_of(path: str) -> str:
    return next((r for r in ROUTES if path == r or path.startswith(r + "/")), "other")


class RequestMetrics:
    """Counts every HTTP request by route and status and times it; counts the WebSockets open."""

    def __init__(self, app: ASGIApp, timer: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.timer = timer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            WEBSOCKETS.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                WEBSOCKETS.dec()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_of(scope.get("path", ""))
        started = self.timer()
        status = 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            REQUESTS.labels(route, str(status)).inc()
            LATENCY.labels(route).observe(self.timer() - started)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    registry = CollectorRegistry(auto_describe=False)

    def gauge(name: str, text: str, *labels: str) -> Gauge:
        return Gauge(f"qinglian_{name}", text, list(labels), registry=registry)

    head = gauge("log_head_position", "The log's head position.")
    lag = gauge("projection_lag_events", "Events the projections are behind the head.")
    subscribers = gauge("subscribers", "Live subscriptions to events in this process.")
    overflows = gauge("subscriber_overflows", "Subscribers closed for falling behind, since start.")
    relay_position = gauge("relay_position", "A relay's acknowledged position.", "relay")
    relay_lag = gauge("relay_lag_events", "Events a relay is behind the head.", "relay")
    relay_published = gauge("relay_published_events", "Events a relay has had acknowledged.", "relay")
    relay_failing = gauge("relay_failing", "1 while a relay's last attempt failed.", "relay")
    hook_position = gauge("webhook_position", "An endpoint's delivered position.", "endpoint")
    hook_lag = gauge("webhook_lag_events", "Events an endpoint is behind.", "endpoint")
    hook_delivered = gauge("webhook_delivered_events", "Events an endpoint answered 2xx.", "endpoint")
    hook_attempts = gauge("webhook_failed_attempts", "Failed attempts at its next event.", "endpoint")
    hook_dead = gauge("webhook_dead_letters", "Events it did not take, not redelivered.", "endpoint")
    async with services.pool.acquire() as conn:
        position = await conn.fetchval("select coalesce(max(position), 0) from events")
        projected = await conn.fetchval("select position from projection_checkpoints where name = $1", NAME)
        relays = await conn.fetch(query("relays"))
        hooks = await conn.fetch(query("webhook_list"), False)
    head.set(position)
    lag.set(max(position - (projected or 0), 0))
    if services.hub is not None:
        subscribers.set(services.hub.subscribers)
        overflows.set(services.hub.overflows)
    for r in relays:
        relay_position.labels(r["name"]).set(r["position"])
        relay_lag.labels(r["name"]).set(max(r["lag"], 0))
        relay_published.labels(r["name"]).set(r["published"])
        relay_failing.labels(r["name"]).set(1 if r["last_error"] else 0)
    for h in hooks:
        hook_position.labels(h["id"]).set(h["position"])
        hook_lag.labels(h["id"]).set(h["lag"])
        hook_delivered.labels(h["id"]).set(h["delivered"])
        hook_attempts.labels(h["id"]).set(h["attempts"])
        hook_dead.labels(h["id"]).set(h["dead_letters"])
    body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
