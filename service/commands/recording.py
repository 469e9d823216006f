"""Recording a command for the API: authorize, submit, then wait (bounded) until the projections have it.

Expected failures stay exceptions with data — `NotAllowed`, `ValidationError`, `VersionConflict` — for the
API to show as typed results; a malformed append or a reused idempotency key becomes a `ValidationError`
naming the field, so the API has one shape for "your request is wrong".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from events.codec import JSON
from events.envelope import ExpectedVersion
from events.errors import IdempotencyKeyReused, InvalidAppend, ValidationError
from service.commands.handler import Commands
from service.commands.roles import NotAllowed, Role, may_record
from service.log.results import AppendResult
from service.read.projector import Projector

# Where a malformed stream id comes from, by the command's type: the id field of its payload.
_STREAM_FIELD = {"TownRegistered": "town_id", "StandardRevised": "version"}


@dataclass(frozen=True, slots=True)
class Written:
    """A command recorded (or an idempotent retry answered), and whether the projections have caught up."""

    result: AppendResult
    type: str
    settled: bool


async def record(
    commands: Commands,
    projector: Projector,
    *,
    role: Role,
    type_: str,
    payload: Mapping[str, Any],
    idempotency_key: str,
    expected_version: int | None,
    metadata: Mapping[str, JSON],
    settle_within: float,
) -> Written:
    """Record one command as `role`; raises NotAllowed, ValidationError or VersionConflict."""
    if not may_record(role, type_):
        raise NotAllowed(role, type_)
    try:
        expected = ExpectedVersion.exactly(expected_version) if expected_version is not None else None
        result = await commands.submit(
            type_,
            payload,
            idempotency_key=idempotency_key,
            expected_version=expected,
            metadata=metadata,
        )
    except IdempotencyKeyReused as exc:
        raise ValidationError([("idempotency_key", str(exc))]) from exc
    except InvalidAppend as exc:
        field = _STREAM_FIELD.get(type_, "community_id") if exc.field == "stream" else exc.field
        raise ValidationError([(field, exc.reason)]) from exc
    settled = await projector.wait_for(result.positions[-1], within=settle_within)
    return Written(result, type_, settled)
