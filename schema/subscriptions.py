"""Subscriptions: the log as it grows, and status and coverage as they change (service/delivery).

Each message is one result of the subscription's document, run on what the message carries, with loaders
of its own. A subscriber that falls more than its queue's limit behind is not waited for: its socket is
closed with 4429 and a reason naming the last cursor it was sent (or, for status, asking it to subscribe
again), and what it resumes from loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from datetime import date
from typing import Annotated, TypeVar

import strawberry
from graphql import GraphQLError

from projections.access import Action
from schema.areas import After, Coverage, Info
from schema.connection import TOO_SLOW
from schema.context import Context
from schema.enums import ChangeCause
from schema.log import Event, EventFilter
from service.delivery import status as live
from service.delivery.hub import EventFilter as Where
from service.delivery.hub import Overflowed, follow
from service.read.directory import town_of
from service.read.paging import QueryError, after_position, position_cursor
from service.read.slices import pace
from service.read.trail import check_filter


@strawberry.type(description="An event as a subscription delivers it, with the cursor to resume after it.")
class EventDelivery:
    cursor: str = strawberry.field(
        description="This event's position as a cursor: subscribe again with `after` set to it to resume "
        "with the next event (Query.events takes it too)."
    )
    event: Event = strawberry.field(description="The event, as Query.events shows it.")
    # Where the renderings of this event are kept for every subscriber alike (schema/build.py).
    memo: strawberry.Private[dict[object, object] | None] = None


@strawberry.type(description="An unmet criterion as the stored status keeps it.")
class UnmetCriterion:
    criterion: str = strawberry.field(
        description="The criterion's id in the standard (scope, standard: none)."
    )
    kind: str = strawberry.field(description="The criterion's kind, e.g. disclosure_every_period.")
    since: date | None = strawberry.field(description="The local date from which it has been unmet.")


@strawberry.type(description="A community's stored status, as a change is told of it.")
class StatusSummary:
    standardized: bool = strawberry.field(description="Whether it meets every applicable criterion.")
    in_scope: bool = strawberry.field(description="Whether it is in the programme.")
    score: float = strawberry.field(description="The share of applicable criteria met, 0 to 1.")
    standard_version: int | None = strawberry.field(description="The version of the standard applied.")
    unmet: list[UnmetCriterion] = strawberry.field(description="The criteria not met.")
    town_id: strawberry.ID | None = strawberry.field(description="The town it belongs to.")


@strawberry.type(description="A community's status today changed.")
class CommunityStatusChange:
    community_id: strawberry.ID = strawberry.field(description="The community.")
    before: StatusSummary | None = strawberry.field(
        description="Its status before the change; null for a community not known before (registered)."
    )
    after: StatusSummary = strawberry.field(description="Its status now.")
    cause: ChangeCause = strawberry.field(description="Whether a record or a date changed it.")
    position: int | None = strawberry.field(
        description="The log position the new status rests on, when a record changed it; null for a date."
    )
    since: date = strawberry.field(description="The local date from which the new status holds.")
    newly_unmet: list[UnmetCriterion] = strawberry.field(description="Criteria unmet now and not before.")
    now_met: list[str] = strawberry.field(description="Ids of criteria unmet before and not now.")


@strawberry.type(description="A town's (or the city's) standardization coverage today changed.")
class CoverageChange:
    town_id: strawberry.ID | None = strawberry.field(description="The town; null for the city.")
    before: Coverage = strawberry.field(description="The coverage before.")
    after: Coverage = strawberry.field(description="The coverage now.")
    cause: ChangeCause = strawberry.field(description="Whether records or a date changed it.")
    position: int | None = strawberry.field(
        description="The latest log position among the records that changed it; null when a date did."
    )
    since: date = strawberry.field(description="The local date from which the new coverage holds.")


MAX_ID = 200
T = TypeVar("T")


@strawberry.type(description="What a client can follow live over the WebSocket at /graphql.")
class Subscription:
    @strawberry.subscription(
        description="The log as it grows (inspectors, integrators, admins): every event after `after` that "
        "the filter admits, replayed from the log and then live, strictly in position order, each once. "
        "Without `after`, the events appended from now on. A subscriber that falls more than its queue's "
        "limit behind is closed with 4429 and the last cursor it was sent; resubscribing after its own last "
        "cursor loses nothing."
    )
    async def events(
        self,
        info: Info,
        after: After = None,
        filter: Annotated[EventFilter | None, strawberry.argument(description="Which events.")] = None,
    ) -> AsyncGenerator[EventDelivery, None]:
        context = info.context
        context.require(Action.READ_LOG)
        services = context.services
        hub = _needs(services.hub)
        where = filter or EventFilter()
        types = check_filter(services.registry, where.types, where.stream_prefix)
        start = after_position(after, "events") if after is not None else await services.store.head()
        sent = [start]
        overflowed = _overflow(context, lambda: f"resume after cursor {position_cursor('events', sent[0])}")
        rows = follow(
            hub,
            services.store,
            after=start,
            where=Where(frozenset(types) if types is not None else None, where.stream_prefix),
            on_overflow=overflowed,
        )
        try:
            async for rec in rows:
                memo = hub.memo(rec.position)
                cursor = memo.get("cursor")
                if not isinstance(cursor, str):
                    cursor = memo["cursor"] = position_cursor("events", rec.position)
                yield EventDelivery(cursor=cursor, event=Event(rec=rec), memo=memo)
                # Back here, the message has been handed to the socket.
                sent[0] = rec.position
                context.fresh_loaders()
                # A subscriber with messages waiting would otherwise send them all in one turn of the loop
                # (a writable socket never makes a send wait): the hub, the other subscribers and every
                # request would wait behind it. It yields once the turn has had its slice.
                await pace()
        except Overflowed:
            return
        finally:
            await rows.aclose()

    @strawberry.subscription(
        description="Changes of communities' status today: of one community, of a town's communities, or "
        "(neither given) of every community — when a record changes it, and when a date passes (a due "
        "date with its grace, an age limit) with no record at all. Public, like status."
    )
    async def community_status_changed(
        self,
        info: Info,
        community_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this community.")
        ] = None,
        town_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this town's communities.")
        ] = None,
    ) -> AsyncGenerator[CommunityStatusChange, None]:
        context = info.context
        context.require(Action.READ_PUBLIC)
        watcher = _needs(context.services.status_watch)
        if community_id is not None and town_id is not None:
            raise QueryError("communityId", "give communityId or townId, not both")
        if community_id is not None:
            await _known_community(context, str(community_id))
        if town_id is not None:
            await _known_town(context, str(town_id))
        overflowed = _overflow(context, lambda: "subscribe again and read the status now")
        watch = watcher.watch_status(
            community_id=str(community_id) if community_id is not None else None,
            town_id=str(town_id) if town_id is not None else None,
            on_overflow=overflowed,
        )
        try:
            await watcher.settled()
            while True:
                try:
                    change = await watch.take()
                except live.Overflowed:
                    return
                yield _status_change(change)
                await pace()
        finally:
            watcher.unwatch(watch)

    @strawberry.subscription(
        description="Changes of a town's standardization coverage today (the city's without townId), "
        "when records or a date change its communities' status. Public, like coverage."
    )
    async def coverage_changed(
        self,
        info: Info,
        town_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The town; the city if left out.")
        ] = None,
    ) -> AsyncGenerator[CoverageChange, None]:
        context = info.context
        context.require(Action.READ_PUBLIC)
        watcher = _needs(context.services.status_watch)
        if town_id is not None:
            await _known_town(context, str(town_id))
        overflowed = _overflow(context, lambda: "subscribe again and read the coverage now")
        watch = watcher.watch_coverage(
            town_id=str(town_id) if town_id is not None else None, on_overflow=overflowed
        )
        try:
            await watcher.settled()
            while True:
                try:
                    change = await watch.take()
                except live.Overflowed:
                    return
                yield CoverageChange(
                    town_id=strawberry.ID(change.town_id) if change.town_id is not None else None,
                    before=_coverage(change.before),
                    after=_coverage(change.after),
                    cause=ChangeCause(change.cause),
                    position=change.position,
                    since=change.on,
                )
                await pace()
        finally:
            watcher.unwatch(watch)


def _needs(part: T | None) -> T:
    if part is None:
        raise GraphQLError("Subscriptions are not served here.", extensions={"code": "NOT_AVAILABLE"})
    return part


def _overflow(context: Context, advice: Callable[[], str]) -> Callable[[], None]:
    """What a subscription does when it falls behind: stop sending at once (its task is cancelled before
    another message goes out), then close the socket saying where to resume."""
    task = asyncio.current_task()
    connection = context.connection

    def overflowed() -> None:
        if task is not None:
            task.cancel()
        if connection is not None:
            connection.close(TOO_SLOW, f"subscriber fell behind; {advice()}")

    return overflowed


async def _known_community(context: Context, community_id: str) -> None:
    if len(community_id) > MAX_ID:
        raise QueryError("communityId", f"must be at most {MAX_ID} characters")
    async with context.services.pool.acquire() as conn:
        found = await town_of(conn, await context.loaders.generation(), community_id, context.today())
    if found is None:
        raise QueryError("communityId", f"no community {community_id!r} in a town today")


async def _known_town(context: Context, town_id: str) -> None:
    world = await context.loaders.world()
    if town_id not in world.towns:
        raise QueryError("townId", f"no town {town_id[:MAX_ID]!r}")


def _unmet(items: tuple[live.UnmetShape, ...]) -> list[UnmetCriterion]:
    return [UnmetCriterion(criterion=u.criterion, kind=u.kind, since=u.since) for u in items]


def _summary(s: live.Standing) -> StatusSummary:
    return StatusSummary(
        standardized=s.standardized,
        in_scope=s.in_scope,
        score=s.score,
        standard_version=s.standard_version,
        unmet=_unmet(s.unmet),
        town_id=strawberry.ID(s.town_id) if s.town_id is not None else None,
    )


def _status_change(change: live.StatusChange) -> CommunityStatusChange:
    before = {u.criterion for u in change.before.unmet} if change.before is not None else set()
    after = {u.criterion for u in change.after.unmet}
    return CommunityStatusChange(
        community_id=strawberry.ID(change.community_id),
        before=_summary(change.before) if change.before is not None else None,
        after=_summary(change.after),
        cause=ChangeCause(change.cause),
        position=change.position,
        since=change.on,
        newly_unmet=_unmet(tuple(u for u in change.after.unmet if u.criterion not in before)),
        now_met=sorted(before - after),
    )


def _coverage(figures: live.Figures) -> Coverage:
    return Coverage(communities=figures.communities, standardized=figures.standardized, rate=figures.rate)
