"""Erasing a record's restricted text: record an `Erased` event, then forget the salts and values it names.

The event goes first, so the log always accounts for an erasure; the values are then forgotten at once
here, and again (harmlessly) by the projector when it passes the event, so a crash in between leaves the
text to be forgotten by whichever comes first. Repeating an erasure finds nothing left and writes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import asyncpg

from events.erasure import Erased, ErasedField
from events.errors import QinglianError
from projections.access import Action, Principal, Target, decide
from service.commands.handler import Commands
from service.commands.recording import NotAllowed
from service.read.queries import query
from service.read.restricted import apply_erasure, rows_at, text_field


class ErasureError(QinglianError):
    """The erasure cannot be made as asked; the message says why. Nothing was written."""


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did: the Erased event's position (None when everything was already erased)."""

    community_id: str
    record_id: str
    position: int | None
    fields: tuple[ErasedField, ...]


async def erase(
    commands: Commands,
    pool: asyncpg.Pool,
    *,
    principal: Principal,
    record_id: str,
    reason: str,
    today: date,
    community_id: str | None = None,
) -> Erasure:
    """Erase the restricted text of the report or finding `record_id`; raises ErasureError, NotAllowed or
    ValidationError (the reason, say, is empty)."""
    # The role first: who may not erase learns nothing of which records exist.
    decision = decide(principal, Action.RECORD, Target(community_id=community_id, event_type="Erased"))
    if not decision.allowed:
        raise NotAllowed(decision.reason)
    rows = [
        r
        for r in await pool.fetch(query("record_texts"), record_id)
        if community_id is None or r["community_id"] == community_id
    ]
    communities = sorted({r["community_id"] for r in rows})
    if not communities:
        where = f" in community {community_id!r}" if community_id is not None else ""
        raise ErasureError(f"no report or finding {record_id!r}{where} holds restricted text")
    if len(communities) > 1:
        raise ErasureError(
            f"{record_id!r} names a record in each of {', '.join(communities)}: say which with --community"
        )
    community = communities[0]
    town_id = await commands.town_of(community)
    decision = decide(
        principal, Action.RECORD, Target(community_id=community, town_id=town_id, event_type="Erased")
    )
    if not decision.allowed:
        raise NotAllowed(decision.reason)
    held = await rows_at(pool, [r["position"] for r in rows])
    pending = tuple(
        ErasedField(r["position"], field)
        for r in rows
        if (field := text_field(r["type"])) is not None
        and not any(h["field"] == field and h["erased_by"] is not None for h in held.get(r["position"], []))
    )
    if not pending:
        return Erasure(community, record_id, None, ())
    event = Erased(
        community_id=community, record_id=record_id, erased_on=today, reason=reason, fields=pending
    )
    # One key per set of fields: a repeat after a crash finds the first Erased event, not a second one.
    named = "\n".join(f"{f.position}:{f.field}" for f in pending)
    key = "erase-" + hashlib.sha256(f"{community}\n{record_id}\n{named}".encode()).hexdigest()[:32]
    result = await commands.record(event, idempotency_key=key, metadata={"actor": principal.actor()})
    position = result.positions[-1]
    async with pool.acquire() as conn:
        await apply_erasure(conn, position, event)
    return Erasure(community, record_id, position, pending)
