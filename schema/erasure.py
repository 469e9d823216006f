"""Erasing a record's restricted text through the API (admins); `qinglian erase` does the same."""

from __future__ import annotations

from typing import Annotated

import strawberry

from events.errors import ValidationError as Invalid
from schema.areas import Info
from schema.results import FieldError, NotAuthorized, ValidationError, camel
from service.commands.erasure import Erasure, ErasureError, erase
from service.commands.recording import NotAllowed


@strawberry.input(description="The record whose restricted text to erase, and why.")
class EraseInput:
    record_id: str = strawberry.field(description="The report's or the finding's id.")
    reason: str = strawberry.field(
        description="Why, kept in the log for good (1-2000 characters): say why, not what is erased."
    )
    community_id: str | None = strawberry.field(
        default=None, description="The record's community, where the id is used in several."
    )


@strawberry.type(description="One field of one event whose restricted text was erased.")
class ErasedText:
    position: int = strawberry.field(description="The event's position in the log.")
    field: str = strawberry.field(description="The payload field, e.g. summary.")


@strawberry.type(
    description="The record's restricted text is erased: its salts and values are gone, and the log "
    "holds an Erased event saying which fields, when, why and by whom. The log still verifies."
)
class Erased:
    erasure: strawberry.Private[Erasure]

    @strawberry.field(description="The record's community.")
    def community_id(self) -> str:
        return self.erasure.community_id

    @strawberry.field(description="The record.")
    def record_id(self) -> str:
        return self.erasure.record_id

    @strawberry.field(
        description="The position of the Erased event written now; null if everything was already erased."
    )
    def erased_by(self) -> int | None:
        return self.erasure.position

    @strawberry.field(description="The fields erased now.")
    def fields(self) -> list[ErasedText]:
        return [ErasedText(position=f.position, field=f.field) for f in self.erasure.fields]


EraseResult = Annotated[
    Erased | ValidationError | NotAuthorized,
    strawberry.union("EraseResult", description="What became of an erasure."),
]


async def erase_restricted_text(info: Info, given: EraseInput) -> EraseResult:
    context = info.context
    services = context.services
    try:
        done = await erase(
            services.commands,
            services.pool,
            principal=context.principal,
            record_id=given.record_id,
            reason=given.reason,
            today=context.today(),
            community_id=given.community_id,
        )
    except NotAllowed as exc:
        return NotAuthorized(reason=str(exc))
    except ErasureError as exc:
        return ValidationError(errors=[FieldError(field="input.recordId", message=str(exc))])
    except Invalid as exc:
        return ValidationError(errors=[FieldError(field=camel(f), message=m) for f, m in exc.errors])
    context.loaders.forget_world()
    return Erased(erasure=done)
