"""The log as the API shows it: recorded events and the versions of the standard."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from events.envelope import Recorded
from projections.access import RESTRICTED_FIELDS, Action, public_payload
from projections.community import StandardVersion
from schema.context import Context
from schema.proofs import InclusionProof, inclusion_proof
from schema.scalars import JSON


@strawberry.type(
    description="One event as the log holds it: where it stands, what it says, and its leaf hash."
)
class Event:
    rec: strawberry.Private[Recorded]

    @strawberry.field(description="Its position in the log (1, 2, 3 … with no gaps; commit order).")
    def position(self) -> int:
        return self.rec.position

    @strawberry.field(description="The stream it belongs to, e.g. community-shuyuan.")
    def stream_id(self) -> str:
        return self.rec.stream_id

    @strawberry.field(description="Its version within the stream (1, 2, 3 …).")
    def stream_version(self) -> int:
        return self.rec.stream_version

    @strawberry.field(description="Its unique id.")
    def event_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.rec.event_id))

    @strawberry.field(description="Its type, e.g. DisclosurePublished.")
    def type(self) -> str:
        return self.rec.type

    @strawberry.field(description="The version of its payload's schema.")
    def schema_version(self) -> int:
        return self.rec.schema_version

    @strawberry.field(description="When the log recorded it (UTC).")
    def recorded_at(self) -> datetime:
        return self.rec.recorded_at

    @strawberry.field(description="Who recorded it, in a word (the credential's label); null if not said.")
    def actor(self) -> str | None:
        actor = self.rec.metadata.get("actor")
        if isinstance(actor, dict):
            label = actor.get("label")
            return label if isinstance(label, str) else None
        return actor if isinstance(actor, str) else None

    @strawberry.field(
        description="Who recorded it, in full: the credential, its role and scope, as the hashed metadata "
        "says; null for events recorded before principals were (their metadata names only a word)."
    )
    def acted_by(self) -> Actor | None:
        actor = self.rec.metadata.get("actor")
        if not isinstance(actor, dict):
            return None
        return Actor(
            kind=str(actor.get("kind", "")),
            id=str(actor.get("id", "")),
            label=str(actor.get("label", "")),
            role=str(actor.get("role", "")),
            scope=str(actor.get("scope", "")),
        )

    @strawberry.field(description="Its metadata: who, the request id, the idempotency key.")
    def metadata(self) -> JSON:
        return JSON(dict(self.rec.metadata))

    @strawberry.field(
        description="Its payload: the domain facts, as stored. Fields that may name or describe a person "
        "(a report's summary and reporter, a rectification note, a person reference) are null unless the "
        "caller may read restricted fields."
    )
    def payload(self, info: strawberry.Info[Context, None]) -> JSON:
        if info.context.may(Action.READ_RESTRICTED):
            return JSON(dict(self.rec.payload))
        return JSON(public_payload(self.rec.type, self.rec.payload))

    @strawberry.field(description="Its RFC 9162 leaf hash, SHA-256(0x00 ‖ canonical bytes), hex.")
    def leaf_hash(self) -> str:
        return self.rec.leaf_hash.hex()

    @strawberry.field(
        description="Its bytes as hashed: the canonical JSON of the whole envelope, from which anyone can "
        "recompute leafHash. Null, with the error code RESTRICTED, for an event holding a restricted field "
        "when the caller may not read restricted fields."
    )
    def canonical(self, info: strawberry.Info[Context, None]) -> str | None:
        if self.rec.type in RESTRICTED_FIELDS:
            info.context.require(Action.READ_RESTRICTED, code="RESTRICTED")
        return self.rec.canonical.decode("utf-8")

    @strawberry.field(
        description="Its inclusion proof against the newest signed checkpoint, for marking it verified; null "
        "until a checkpoint covers it."
    )
    async def inclusion_proof(self, info: strawberry.Info[Context, None]) -> InclusionProof | None:
        found = await info.context.loaders.inclusion.load(self.rec.position)
        return inclusion_proof(found) if found is not None else None


@strawberry.type(description="The principal that recorded an event, as its hashed metadata names it.")
class Actor:
    kind: str = strawberry.field(description="How it proved itself: token, jwt or system.")
    id: str = strawberry.field(description="The token's id, or issuer|subject of a JWT.")
    label: str = strawberry.field(description="The credential's label, or the JWT's name.")
    role: str = strawberry.field(description="Its role when it recorded the event.")
    scope: str = strawberry.field(description="Its scope: city, town:<id> or community:<id>.")


@strawberry.input(description="Which events to list.")
class EventFilter:
    types: list[str] | None = strawberry.field(default=None, description="Only events of these types.")
    stream_prefix: str | None = strawberry.field(
        default=None, description="Only events of streams whose id starts with this, e.g. community-."
    )


@strawberry.type(description="One requirement of the standard: a kind of rule and its parameters.")
class Criterion:
    id: strawberry.ID = strawberry.field(description="The criterion's id within the standard.")
    kind: str = strawberry.field(description="The kind of rule, e.g. disclosure_every_period.")
    params: JSON = strawberry.field(description="The rule's parameters.")


@strawberry.type(description="A version of the standard (规范化建设标准) that defines standardized.")
class Standard:
    version: int = strawberry.field(description="Its version (1, 2, 3 …).")
    effective_from: date = strawberry.field(description="The local date from which it applies.")
    title: str = strawberry.field(description="Its title.")
    criteria: list[Criterion] = strawberry.field(description="Its criteria, in order.")
    position: int = strawberry.field(description="The log position of the revision that recorded it.")


def standard(value: StandardVersion) -> Standard:
    return Standard(
        version=value.version,
        effective_from=value.effective_from,
        title=value.title,
        criteria=[
            Criterion(id=strawberry.ID(c.criterion_id), kind=c.kind, params=JSON(dict(c.params)))
            for c in value.criteria
        ],
        position=value.position,
    )
