"""Recording a command for the API: authorize, submit, then wait (bounded) until the projections have it.

Authorization is `projections.access.decide` for the caller's principal, the command's type and the
community (and the town it is in today) it is about; the principal goes into the event's metadata.

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
from events.errors import IdempotencyKeyReused, InvalidAppend, QinglianError, ValidationError
from projections.access import Action, Principal, Target, decide
from service.commands.handler import Commands
from service.log.results import AppendResult
from service.read.projector import Projector

# Where a malformed stream id comes from, by the command's type: the id field of its payload.
_STREAM_FIELD = {"TownRegistered": "town_id", "StandardRevised": "version"}


class NotAllowed(QinglianError):
    """The caller may not record this (its role, or its scope); nothing was written. The message says why."""


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
    principal: Principal,
    type_: str,
    payload: Mapping[str, Any],
    idempotency_key: str,
    expected_version: int | None,
    metadata: Mapping[str, JSON],
    settle_within: float,
) -> Written:
    """Record one command as `principal`; raises NotAllowed, ValidationError or VersionConflict.

    `metadata` gains the principal as `actor`, so the log says who recorded each event.
    """
    decision = decide(principal, Action.RECORD, await _target(commands, type_, payload))
    if not decision.allowed:
        raise NotAllowed(decision.reason)
    try:
        expected = ExpectedVersion.exactly(expected_version) if expected_version is not None else None
        result = await commands.submit(
            type_,
            payload,
            idempotency_key=idempotency_key,
            expected_version=expected,
            metadata={**metadata, "actor": principal.actor()},
        )
    except IdempotencyKeyReused as exc:
        raise ValidationError([("idempotency_key", str(exc))]) from exc
    except InvalidAppend as exc:
        field = _STREAM_FIELD.get(type_, "community_id") if exc.field == "stream" else exc.field
        raise ValidationError([(field, exc.reason)]) from exc
    settled = await projector.wait_for(result.positions[-1], within=settle_within)
    return Written(result, type_, settled)


async def _target(commands: Commands, type_: str, payload: Mapping[str, Any]) -> Target:
    """What a command is about, for the scope check: its community and that community's town today."""
    community_id = payload.get("community_id")
    if isinstance(community_id, str):
        try:
            town_id = await commands.town_of(community_id)
        except InvalidAppend:
            town_id = None  # not an id a stream can have: the command itself is refused for it, by name
        return Target(community_id=community_id, town_id=town_id, event_type=type_)
    town_id = payload.get("town_id")
    return Target(town_id=town_id if isinstance(town_id, str) else None, event_type=type_)
