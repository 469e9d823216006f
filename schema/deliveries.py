"""Webhook endpoints and relays through the API (admins): register, remove, redeliver, and how far each
has come (position, lag, last error)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from projections.access import Action
from schema.access import describe
from schema.areas import Info
from schema.results import FieldError, NotAuthorized, ValidationError
from service.delivery.queries import query
from service.delivery.webhooks import Endpoint, EndpointError, Endpoints


@strawberry.input(description="A webhook endpoint to register: where, and which events.")
class RegisterWebhookInput:
    url: str = strawberry.field(
        description="Where events are POSTed: an http(s) URL whose host resolves to public addresses."
    )
    types: list[str] | None = strawberry.field(default=None, description="Only these event types.")
    stream_prefix: str | None = strawberry.field(
        default=None, description="Only events of streams whose id starts with this, e.g. community-."
    )


@strawberry.type(description="A webhook endpoint and how far delivery to it has come.")
class WebhookEndpoint:
    endpoint: strawberry.Private[Endpoint]

    @strawberry.field(description="Its id, e.g. wh_3f2a9c1b7d4e.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.endpoint.id)

    @strawberry.field(description="Where events are POSTed.")
    def url(self) -> str:
        return self.endpoint.url

    @strawberry.field(description="Only these event types; null: every type.")
    def types(self) -> list[str] | None:
        return list(self.endpoint.types) if self.endpoint.types is not None else None

    @strawberry.field(description="Only streams with this prefix; null: every stream.")
    def stream_prefix(self) -> str | None:
        return self.endpoint.stream_prefix

    @strawberry.field(
        description="Every event at or before this log position was delivered or dead-lettered."
    )
    def position(self) -> int:
        return self.endpoint.position

    @strawberry.field(description="How many events the log holds after its position.")
    def lag(self) -> int:
        return self.endpoint.lag

    @strawberry.field(description="Events delivered (answered 2xx).")
    def delivered(self) -> int:
        return self.endpoint.delivered

    @strawberry.field(description="Failed attempts at the next event so far.")
    def attempts(self) -> int:
        return self.endpoint.attempts

    @strawberry.field(description="Events it did not take within the attempts allowed, not redelivered.")
    def dead_letters(self) -> int:
        return self.endpoint.dead_letters

    @strawberry.field(description="The last failure; null once an attempt succeeds.")
    def last_error(self) -> str | None:
        return self.endpoint.last_error

    @strawberry.field(description="When it was removed; null while it is delivered to.")
    def removed_at(self) -> datetime | None:
        return self.endpoint.removed_at


@strawberry.type(description="A relay of the log to a broker and how far it has come.")
class RelayState:
    name: str = strawberry.field(description="The relay's name (qinglian relay --name).")
    position: int = strawberry.field(
        description="Every event at or before it was acknowledged by the broker."
    )
    lag: int = strawberry.field(description="How many events the log holds after its position.")
    published: int = strawberry.field(description="Events acknowledged since the relay first ran.")
    last_error: str | None = strawberry.field(description="The last failure; null once it publishes again.")
    updated_at: datetime = strawberry.field(description="When its position last moved.")


@strawberry.type(description="Deliveries to integrators: relays to brokers and webhook endpoints (admins).")
class Deliveries:
    @strawberry.field(description="Every relay that has run.")
    async def relays(self, info: Info) -> list[RelayState]:
        rows = await info.context.services.pool.fetch(query("relays"))
        return [
            RelayState(
                name=r["name"],
                position=r["position"],
                lag=max(r["lag"], 0),
                published=r["published"],
                last_error=r["last_error"],
                updated_at=r["updated_at"],
            )
            for r in rows
        ]

    @strawberry.field(description="Every webhook endpoint not removed.")
    async def webhooks(self, info: Info) -> list[WebhookEndpoint]:
        return [WebhookEndpoint(endpoint=e) for e in await _endpoints(info).list()]


@strawberry.type(description="An endpoint was registered. Its signing secret is in `secret`, this once.")
class WebhookRegistered:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint; it gets the events from now on.")
    secret: str = strawberry.field(
        description="whsec_…: verify each delivery's webhook-signature with it (Standard Webhooks)."
    )


@strawberry.type(description="An endpoint was removed: nothing more is delivered to it.")
class WebhookRemoved:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint, removed.")


WebhookResult = Annotated[
    WebhookRegistered | ValidationError | NotAuthorized,
    strawberry.union("WebhookResult", description="What became of a registration."),
]
WebhookRemoval = Annotated[
    WebhookRemoved | ValidationError | NotAuthorized,
    strawberry.union("WebhookRemoval", description="What became of a removal."),
]


def _endpoints(info: Info) -> Endpoints:
    endpoints = info.context.services.endpoints
    if endpoints is None:
        raise RuntimeError("webhooks are not served here")
    return endpoints


def _refusal(info: Info) -> NotAuthorized | None:
    if info.context.may(Action.MANAGE_DELIVERIES):
        return None
    return NotAuthorized(
        reason=f"role {info.context.principal.role.value!r} may not manage webhooks; admin may"
    )


async def register_webhook(info: Info, given: RegisterWebhookInput) -> WebhookResult:
    refused = _refusal(info)
    if refused is not None:
        return refused
    try:
        endpoint, secret = await _endpoints(info).register(
            given.url, types=given.types, stream_prefix=given.stream_prefix, created_by=describe(info)
        )
    except EndpointError as exc:
        return ValidationError(errors=[FieldError(field=f"input.{exc.field}", message=exc.reason)])
    return WebhookRegistered(endpoint=WebhookEndpoint(endpoint=endpoint), secret=secret)


async def remove_webhook(info: Info, endpoint_id: str) -> WebhookRemoval:
    refused = _refusal(info)
    if refused is not None:
        return refused
    try:
        endpoint = await _endpoints(info).remove(endpoint_id)
    except EndpointError as exc:
        return ValidationError(errors=[FieldError(field="id", message=exc.reason)])
    return WebhookRemoved(endpoint=WebhookEndpoint(endpoint=endpoint))
