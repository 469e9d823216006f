"""The root Query (DESIGN §6 names). Each resolver reads the request's world or the log through `service`."""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from typing import Annotated

import strawberry

from events.catalogue import STANDARD_STREAM
from events.hierarchy import CommunityKind
from events.recognition import Level
from events.standard import Text
from projections.access import Action, Target
from projections.wording import LABELS
from schema import enums
from schema.access import ROLE_LABELS, GrantedRole
from schema.areas import After, City, Community, First, Info, Town
from schema.deliveries import Deliveries
from schema.enums import OrderDirection
from schema.log import Event, EventFilter, Standard, standard
from schema.pagination import Connection, connection
from schema.proofs import (
    Checkpoint,
    ConsistencyProof,
    InclusionProof,
    checkpoint,
    consistency_proof,
    inclusion_proof,
)
from schema.scalars import AsOf, TreeSize
from schema.words import EnumLabels, enum_labels
from service.read.directory import town_of
from service.read.paging import QueryError
from service.read.series import standings_on
from service.read.trail import log_page, stream_page
from service.read.views import CommunityFilter, CommunityOrder, community_view, list_communities, towns_on
from service.transparency.proofs import consistency, inclusion
from service.transparency.signer import signed_at_size

Id = Annotated[strawberry.ID, strawberry.argument(description="Its stable id (a slug).")]
AsOfArg = Annotated[
    AsOf | None, strawberry.argument(description="Read the records as of this moment (default: now).")
]
KnownAtArg = Annotated[
    TreeSize | None,
    strawberry.argument(
        description="Answer as the log stood when it held this many events (default: as it stands): what "
        "the service showed then, before any record appended later, back-dated ones included."
    ),
]
AtCheckpointArg = Annotated[
    TreeSize | None,
    strawberry.argument(
        description="As knownAt, at the size of a signed checkpoint: refused unless one was signed there."
    ),
]


async def known_size(info: Info, known_at: int | None, at_checkpoint: int | None) -> int | None:
    """The log size an answer is asked as of (None: as the log stands), checked: at most what the
    projections have folded, and for atCheckpoint the size of a signed checkpoint."""
    if known_at is not None and at_checkpoint is not None:
        raise QueryError("atCheckpoint", "give knownAt or atCheckpoint, not both")
    size = known_at if known_at is not None else at_checkpoint
    if size is None:
        return None
    name = "knownAt" if known_at is not None else "atCheckpoint"
    if at_checkpoint is not None and not await signed_at_size(info.context.services.pool, at_checkpoint):
        raise QueryError(name, f"no checkpoint was signed at size {at_checkpoint}")
    folded = (await info.context.loaders.world()).position
    if size > folded:
        raise QueryError(name, f"the log is known up to size {folded} here; {size} is beyond it")
    return size


@strawberry.input(description="Which communities to list; every condition given must hold.")
class CommunityFilterInput:
    town: strawberry.ID | None = strawberry.field(default=None, description="Only those of this town.")
    kind: CommunityKind | None = strawberry.field(
        default=None, description="Only communities, or only villages."
    )
    standardized: bool | None = strawberry.field(
        default=None, description="Only those standardized (true) or not (false) on the date."
    )
    designation: Level | None = strawberry.field(
        default=None, description="Only demonstration points designated at this level by the date."
    )
    name_contains: str | None = strawberry.field(
        default=None, description="Only those whose name on the date contains this text."
    )


@strawberry.input(description="How to sort a list of communities.")
class CommunityOrderBy:
    field: CommunityOrder = strawberry.field(default=CommunityOrder.NAME, description="What to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Which way.")


@strawberry.type(description="Reading the programme's records.")
class Query:
    @strawberry.field(description="The city, as of a moment.")
    async def city(
        self,
        info: Info,
        as_of: AsOfArg = None,
        known_at: KnownAtArg = None,
        at_checkpoint: AtCheckpointArg = None,
    ) -> City:
        known = await known_size(info, known_at, at_checkpoint)
        return City(on=as_of or info.context.today(), known=known)

    @strawberry.field(description="The city's towns and subdistricts registered by a moment, by id.")
    async def towns(
        self,
        info: Info,
        as_of: AsOfArg = None,
        known_at: KnownAtArg = None,
        at_checkpoint: AtCheckpointArg = None,
    ) -> list[Town]:
        on = as_of or info.context.today()
        known = await known_size(info, known_at, at_checkpoint)
        world = await info.context.loaders.world_at(known)
        return [Town(facts=facts, on=on, known=known) for facts in towns_on(world, on)]

    @strawberry.field(description="One town, as of a moment; null if the log has no such town.")
    async def town(
        self,
        info: Info,
        id: Id,
        as_of: AsOfArg = None,
        known_at: KnownAtArg = None,
        at_checkpoint: AtCheckpointArg = None,
    ) -> Town | None:
        known = await known_size(info, known_at, at_checkpoint)
        facts = (await info.context.loaders.world_at(known)).towns.get(str(id))
        return Town(facts=facts, on=as_of or info.context.today(), known=known) if facts is not None else None

    @strawberry.field(description="One community, as of a moment; null if the log never registered it.")
    async def community(
        self,
        info: Info,
        id: Id,
        as_of: AsOfArg = None,
        known_at: KnownAtArg = None,
        at_checkpoint: AtCheckpointArg = None,
    ) -> Community | None:
        known = await known_size(info, known_at, at_checkpoint)
        world = await info.context.loaders.world_at(known)
        facts = await info.context.loaders.facts.load((str(id), known))
        view = community_view(world, facts, as_of or info.context.today())
        return Community(view=view, known=known) if view is not None else None

    @strawberry.field(description="The communities in scope on a date (registered, not retired), paged.")
    async def communities(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        filter: Annotated[CommunityFilterInput | None, strawberry.argument(description="Which ones.")] = None,
        order_by: Annotated[
            CommunityOrderBy | None, strawberry.argument(description="How to sort (default: by name).")
        ] = None,
        as_of: AsOfArg = None,
        known_at: KnownAtArg = None,
        at_checkpoint: AtCheckpointArg = None,
    ) -> Connection[Community]:
        where = filter or CommunityFilterInput()
        order = order_by or CommunityOrderBy()
        context = info.context
        on = as_of or context.today()
        known = await known_size(info, known_at, at_checkpoint)
        world = await context.loaders.world_at(known)
        generation = await context.loaders.generation()
        # The filter and the sort by status come from the stored segments, one query, read only if asked.
        standings = functools.partial(
            standings_on, context.services.pool, generation, on, context.today(), known
        )
        page = await list_communities(
            context.services.pool,
            generation,
            world,
            on,
            where=CommunityFilter(
                town=str(where.town) if where.town is not None else None,
                kind=where.kind,
                standardized=where.standardized,
                designation=where.designation,
                name_contains=where.name_contains,
            ),
            order=order.field,
            descending=order.direction is OrderDirection.DESC,
            first=first,
            after=after,
            standings=standings,
            known=known,
        )
        return connection(page, lambda view: Community(view=view, known=known))

    @strawberry.field(
        description="The log, in position order, optionally filtered (inspectors, integrators, admins)."
    )
    async def events(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        filter: Annotated[EventFilter | None, strawberry.argument(description="Which events.")] = None,
    ) -> Connection[Event] | None:
        info.context.require(Action.READ_LOG)
        where = filter or EventFilter()
        services = info.context.services
        page = await log_page(
            services.store,
            services.registry,
            first=first,
            after=after,
            types=where.types,
            stream_prefix=where.stream_prefix,
        )
        return connection(page, lambda rec: Event(rec=rec))

    @strawberry.field(
        description="The full trail of one stream (e.g. community-shuyuan), oldest first: a community's or a "
        "town's for those who may read its records, the standard's for everyone, any other for those who may "
        "read the whole log."
    )
    async def history(
        self,
        info: Info,
        stream_id: Annotated[str, strawberry.argument(description="The stream, e.g. community-shuyuan.")],
        first: First = None,
        after: After = None,
    ) -> Connection[Event] | None:
        context = info.context
        category, _, ident = stream_id.partition("-")
        if category == "community":
            async with context.services.pool.acquire() as conn:
                town = await town_of(conn, await context.loaders.generation(), ident, context.today())
            context.require(Action.READ_RECORDS, Target(community_id=ident, town_id=town))
        elif category == "town":
            context.require(Action.READ_RECORDS, Target(town_id=ident))
        elif stream_id != STANDARD_STREAM:
            context.require(Action.READ_LOG)
        page = await stream_page(context.services.store, stream_id, first=first, after=after)
        return connection(page, lambda rec: Event(rec=rec))

    @strawberry.field(description="The standard in force at a moment; null if none was.")
    async def standard(self, info: Info, as_of: AsOfArg = None) -> Standard | None:
        world = await info.context.loaders.world()
        found = world.standard_on(as_of or info.context.today())
        return standard(found) if found is not None else None

    @strawberry.field(description="Every version of the standard, in the order recorded.")
    async def standards(self, info: Info) -> list[Standard]:
        world = await info.context.loaders.world()
        return [standard(s) for s in world.standards]

    @strawberry.field(
        description="Every enumeration of the schema with each value's label in Chinese and English, for "
        "showing values and filling choices: one query, the same for everyone, fit to fetch once and keep."
    )
    def enum_labels(self) -> list[EnumLabels]:
        tables: list[tuple[type[enum.Enum], Mapping[str, Text]]] = [
            *LABELS.items(),
            *enums.LABELS.items(),
            (GrantedRole, ROLE_LABELS),
        ]
        return enum_labels(tables)

    @strawberry.field(
        description="Deliveries to integrators (admins): each relay's and webhook endpoint's position, lag "
        "and last error."
    )
    def deliveries(self, info: Info) -> Deliveries:
        info.context.require(Action.MANAGE_DELIVERIES)
        return Deliveries()

    @strawberry.field(description="The newest signed checkpoint; null until one is signed.")
    async def checkpoint(self, info: Info) -> Checkpoint | None:
        found = await info.context.loaders.checkpoint()
        return checkpoint(found) if found is not None else None

    @strawberry.field(description="That the event at a position is in the tree of treeSize events.")
    async def inclusion_proof(
        self,
        info: Info,
        position: Annotated[int, strawberry.argument(description="The event's position (1 or more).")],
        tree_size: Annotated[int, strawberry.argument(description="The tree's size, at most the log's.")],
    ) -> InclusionProof:
        return inclusion_proof(await inclusion(info.context.services.tree, position, tree_size))

    @strawberry.field(
        description="That the tree of fromSize events is a prefix of the tree of toSize events."
    )
    async def consistency_proof(
        self,
        info: Info,
        from_size: Annotated[int, strawberry.argument(description="The older tree's size (1 or more).")],
        to_size: Annotated[int, strawberry.argument(description="The newer tree's size, at most the log's.")],
    ) -> ConsistencyProof:
        return consistency_proof(await consistency(info.context.services.tree, from_size, to_size))
