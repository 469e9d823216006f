"""Restricted text as the read side finds it: the salt and value of each sealed field, beside the log, or
the position of the Erased event that erased it (see `events/sealing.py` and `events/erasure.py`).

Whether a caller may see a value is the API's decision (`projections.access`); this module only reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from events.codec import JSON
from events.erasure import Erased
from events.supervision import INLINE_TEXT_V1
from service.log.reads import Conn
from service.read.queries import query


@dataclass(frozen=True, slots=True)
class HeldText:
    """One event's restricted text field: its commitment (None for schema version 1, whose text is inline
    in its bytes), its value and salt while held, and the Erased event's position once erased."""

    field: str
    commitment: str | None
    value: str | None
    salt: bytes | None
    erased_by: int | None

    def __repr__(self) -> str:
        # Restricted data: a log line or a traceback that shows one must not show the text.
        return f"HeldText(field={self.field!r}, erased_by={self.erased_by!r})"


def text_field(type_: str) -> str | None:
    """The payload field of an event type that holds restricted text, if it has one."""
    return INLINE_TEXT_V1.get(type_)


async def rows_at(pool: asyncpg.Pool, positions: Sequence[int]) -> dict[int, list[asyncpg.Record]]:
    """The restricted_values rows of these positions, by position."""
    found: dict[int, list[asyncpg.Record]] = {}
    for row in await pool.fetch(query("restricted_at"), list(positions)):
        found.setdefault(row["position"], []).append(row)
    return found


def held_text(
    type_: str, schema_version: int, payload: Mapping[str, JSON], rows: Sequence[asyncpg.Record]
) -> HeldText | None:
    """What the log and the table beside it hold of one event's restricted text; None if it has none."""
    field = text_field(type_)
    if field is None:
        return None
    row = next((r for r in rows if r["field"] == field), None)
    erased_by = row["erased_by"] if row is not None else None
    if schema_version == 1:
        inline = payload.get(field)
        value = inline if isinstance(inline, str) and erased_by is None else None
        return HeldText(field, None, value, None, erased_by)
    sealed = payload.get(field)
    commitment = sealed.get("commitment") if isinstance(sealed, dict) else None
    return HeldText(
        field,
        commitment if isinstance(commitment, str) else None,
        row["value"] if row is not None else None,
        row["salt"] if row is not None else None,
        erased_by,
    )


async def apply_erasure(conn: Conn, position: int, erased: Erased) -> None:
    """Carry out the Erased event at `position`: forget the salt and value of every field it names."""
    fields = [f for f in erased.fields if f.position < position]  # only what came before it
    await conn.execute(
        query("erase_values"), [f.position for f in fields], [f.field for f in fields], position
    )
