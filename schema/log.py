"""The log as the API shows it: recorded events and the versions of the standard."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from graphql import GraphQLError

from events.envelope import Recorded
from events.standard import Criterion as CriterionValue
from events.standard import texts_of
from projections.access import Action, public_payload, restricted_fields
from projections.community import StandardVersion
from schema.context import Context
from schema.proofs import InclusionProof, inclusion_proof
from schema.scalars import JSON
from schema.words import LocalizedText
from service.read.restricted import HeldText, held_text, text_field


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
        description="Its payload: the domain facts, as stored. Fields held inline that may name or "
        "describe a person (a reporter or person reference; before schema version 2, a report's summary "
        "and outcome and a rectification note) are null unless the caller may read restricted fields, and "
        "null for everyone once erased. From schema version 2 on, such text is sealed: the payload holds "
        "its commitment, and `restricted` the text."
    )
    async def payload(self, info: strawberry.Info[Context, None]) -> JSON:
        text = await self._text(info)
        erased = (text.field,) if text is not None and text.erased_by is not None else ()
        if info.context.may(Action.READ_RESTRICTED) and not (erased and self.rec.schema_version == 1):
            return JSON(dict(self.rec.payload))
        if info.context.may(Action.READ_RESTRICTED):
            return JSON({k: (None if k in erased else v) for k, v in self.rec.payload.items()})
        hidden = erased if self.rec.schema_version == 1 else ()
        return JSON(public_payload(self.rec.type, self.rec.schema_version, self.rec.payload, hidden))

    @strawberry.field(
        description="Its restricted free text (a report's summary or outcome, a rectification note), held "
        "beside the log and committed to in the payload; null for an event with none."
    )
    async def restricted(self, info: strawberry.Info[Context, None]) -> RestrictedText | None:
        text = await self._text(info)
        return RestrictedText(held=text) if text is not None else None

    @strawberry.field(description="Its RFC 9162 leaf hash, SHA-256(0x00 ‖ canonical bytes), hex.")
    def leaf_hash(self) -> str:
        return self.rec.leaf_hash.hex()

    @strawberry.field(
        description="Its bytes as hashed: the canonical JSON of the whole envelope, from which anyone can "
        "recompute leafHash. Null, with the error code RESTRICTED, for an event whose bytes hold a "
        "restricted field when the caller may not read restricted fields; null for everyone, with the code "
        "ERASED, for an event of schema version 1 whose inline text was erased."
    )
    async def canonical(self, info: strawberry.Info[Context, None]) -> str | None:
        rec = self.rec
        if rec.schema_version == 1 and text_field(rec.type) is not None:
            text = await self._text(info)
            if text is not None and text.erased_by is not None:
                raise GraphQLError(
                    f"its text was erased by the event at position {text.erased_by}; its leaf hash and "
                    "inclusion proof still verify",
                    extensions={"code": "ERASED"},
                )
        if restricted_fields(rec.type, rec.schema_version, rec.payload):
            info.context.require(Action.READ_RESTRICTED, code="RESTRICTED")
        return rec.canonical.decode("utf-8")

    async def _text(self, info: strawberry.Info[Context, None]) -> HeldText | None:
        if text_field(self.rec.type) is None:
            return None  # most events: no look-up at all
        rows = await info.context.loaders.restricted.load(self.rec.position)
        return held_text(self.rec.type, self.rec.schema_version, self.rec.payload, rows)

    @strawberry.field(
        description="Its inclusion proof against the newest signed checkpoint, for marking it verified; null "
        "until a checkpoint covers it."
    )
    async def inclusion_proof(self, info: strawberry.Info[Context, None]) -> InclusionProof | None:
        found = await info.context.loaders.inclusion.load(self.rec.position)
        return inclusion_proof(found) if found is not None else None


@strawberry.type(
    description="Restricted free text of an event, held beside the log: the event commits to it as "
    "SHA-256(salt ‖ UTF-8 value), so the log proves it without holding it, and erasing it leaves the log "
    "verifying."
)
class RestrictedText:
    held: strawberry.Private[HeldText]

    @strawberry.field(description="The payload field it belongs to, e.g. summary.")
    def field(self) -> str:
        return self.held.field

    @strawberry.field(
        description="SHA-256(salt ‖ value), hex, as the payload holds it; null for an event of schema "
        "version 1, whose text is inline in its bytes."
    )
    def commitment(self) -> str | None:
        return self.held.commitment

    @strawberry.field(
        description="The text; null, with the error code RESTRICTED, unless the caller may read restricted "
        "fields; null for everyone once erased."
    )
    def value(self, info: strawberry.Info[Context, None]) -> str | None:
        if self.held.erased_by is not None:
            return None
        info.context.require(Action.READ_RESTRICTED, code="RESTRICTED")
        return self.held.value

    @strawberry.field(
        description="The salt, hex, with which the value opens the commitment; the same rules as value."
    )
    def salt(self, info: strawberry.Info[Context, None]) -> str | None:
        if self.held.erased_by is not None or self.held.salt is None:
            return None
        info.context.require(Action.READ_RESTRICTED, code="RESTRICTED")
        return self.held.salt.hex()

    @strawberry.field(description="The position of the Erased event that erased it; null while it is held.")
    def erased_by(self) -> int | None:
        return self.held.erased_by


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
    title: LocalizedText = strawberry.field(description="Its title, in Chinese and English.")
    description: LocalizedText = strawberry.field(
        description="What it requires, in Chinese and English, for a reader."
    )


@strawberry.type(description="A version of the standard (规范化建设标准) that defines standardized.")
class Standard:
    version: int = strawberry.field(description="Its version (1, 2, 3 …).")
    effective_from: date = strawberry.field(description="The local date from which it applies.")
    title: str = strawberry.field(description="Its title.")
    criteria: list[Criterion] = strawberry.field(description="Its criteria, in order.")
    position: int = strawberry.field(description="The log position of the revision that recorded it.")


def _criterion(value: CriterionValue) -> Criterion:
    title, description = texts_of(value)
    return Criterion(
        id=strawberry.ID(value.criterion_id),
        kind=value.kind,
        params=JSON(dict(value.params)),
        title=LocalizedText(value=title),
        description=LocalizedText(value=description),
    )


def standard(value: StandardVersion) -> Standard:
    return Standard(
        version=value.version,
        effective_from=value.effective_from,
        title=value.title,
        criteria=[_criterion(c) for c in value.criteria],
        position=value.position,
    )
