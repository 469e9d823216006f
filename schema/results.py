"""What a mutation answers: a union of success and typed failures, and the path every command takes."""

from __future__ import annotations

import dataclasses
import enum
import re
from datetime import date
from typing import Annotated, Any

import strawberry

from events.codec import MAX_DEPTH
from events.errors import ValidationError as Invalid
from events.errors import VersionConflict as Conflict
from schema.areas import Community, Info, Status, status
from service.commands.recording import NotAllowed, Written, record
from service.read.views import community_view


@strawberry.type(description="An event the command appended.")
class WrittenEvent:
    position: int = strawberry.field(description="Its position in the log.")
    stream_id: str = strawberry.field(description="Its stream.")
    stream_version: int = strawberry.field(description="Its version within the stream.")
    type: str = strawberry.field(description="Its type.")


@strawberry.type(description="The command was recorded.")
class Recorded:
    written: strawberry.Private[Written]
    settled: bool = strawberry.field(
        description="Whether the projections had caught up with the write when this answered (read-your-"
        "writes); if false, `status` may not reflect it yet."
    )
    community: Community | None = strawberry.field(
        description="The community the command concerns, as of today; null for towns and the standard."
    )

    @strawberry.field(description="The stream written to.")
    def stream_id(self) -> str:
        return self.written.result.stream_id

    @strawberry.field(description="The stream's version after the write.")
    def stream_version(self) -> int:
        return self.written.result.stream_version

    @strawberry.field(
        description="Whether this answers a retry: the key was seen before and nothing was written."
    )
    def replayed(self) -> bool:
        return self.written.result.replayed

    @strawberry.field(description="The events appended, in order.")
    def events(self) -> list[WrittenEvent]:
        result = self.written.result
        first_version = result.stream_version - result.event_count + 1
        return [
            WrittenEvent(
                position=p,
                stream_id=result.stream_id,
                stream_version=first_version + i,
                type=self.written.type,
            )
            for i, p in enumerate(result.positions)
        ]

    @strawberry.field(description="The community's status as of today, after the write.")
    def status(self) -> Status | None:
        return status(self.community.view.status) if self.community is not None else None


@strawberry.type(description="The stream was not at the version expected; nothing was written.")
class VersionConflict:
    stream_id: str = strawberry.field(description="The stream.")
    expected: str = strawberry.field(description="The version expected: a number, or no_stream.")
    actual: int = strawberry.field(description="The stream's version.")


@strawberry.type(description="One rule a command breaks.")
class FieldError:
    field: str = strawberry.field(description="The input field at fault, e.g. input.heldOn.")
    message: str = strawberry.field(description="What is wrong with it.")


@strawberry.type(description="The command breaks one or more rules; nothing was written.")
class ValidationError:
    errors: list[FieldError] = strawberry.field(description="Every rule broken.")


@strawberry.type(description="The caller may not record this (its role or its scope); nothing was written.")
class NotAuthorized:
    reason: str = strawberry.field(description="Why: the role or the scope, and which roles may.")


CommandResult = Annotated[
    Recorded | VersionConflict | ValidationError | NotAuthorized,
    strawberry.union("CommandResult", description="What became of a command."),
]


def _payload(value: Any, path: str = "", depth: int = 0) -> Any:
    """A command's input as the payload the commands take: input objects as objects, enums by value,
    dates in ISO form. Nothing may nest past the log's limit (a criterion's JSON parameters could), and
    the walk stops there, naming the field, before any deeper recursion."""
    if depth > MAX_DEPTH:
        raise Invalid([(path, f"nested deeper than {MAX_DEPTH} levels")])
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _payload(getattr(value, f.name), f"{path}.{f.name}" if path else f.name, depth + 1)
            for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        # A JSON value: an error inside it names the field that holds it.
        return {k: _payload(v, path, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [
            _payload(v, f"{path}[{i}]" if dataclasses.is_dataclass(v) else path, depth + 1)
            for i, v in enumerate(value)
        ]
    return value


def camel(path: str) -> str:
    """A payload field's path as the input field it came from: record_id -> input.recordId."""
    return "input." + re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path)


async def run(info: Info, type_: str, given: Any, expected: int | None, key: str) -> CommandResult:
    """Record `given` (a command input) as an event of `type_`, and answer with the union."""
    context = info.context
    services = context.services
    try:
        written = await record(
            services.commands,
            services.projector,
            principal=context.principal,
            type_=type_,
            payload=_payload(given),
            idempotency_key=key,
            expected_version=expected,
            metadata={"request_id": context.request_id},
            settle_within=services.settle_within,
        )
    except NotAllowed as exc:
        return NotAuthorized(reason=str(exc))
    except Conflict as exc:
        return VersionConflict(stream_id=exc.stream, expected=exc.expected, actual=exc.actual)
    except Invalid as exc:
        fields = {"idempotency_key": "idempotencyKey", "expected_version": "expectedVersion"}
        return ValidationError(
            errors=[FieldError(field=fields.get(f) or camel(f), message=m) for f, m in exc.errors]
        )
    context.loaders.forget_world()
    view = None
    community_id = getattr(given, "community_id", None)
    if isinstance(community_id, str):
        facts = await context.loaders.facts.load((community_id, None))
        view = community_view(await context.loaders.world(), facts, context.today())
    return Recorded(
        written=written, settled=written.settled, community=Community(view=view) if view else None
    )
