"""Erasure: restricted text forgotten on purpose, and the record that says so.

Erasing deletes a sealed field's salt and value from beside the log (see `events/sealing.py`); the log
itself is never changed, so every leaf, checkpoint and export still verifies. This event is what the log
keeps instead: which fields of which events were erased, by whom (its metadata), when and why. Its reason
stays in the log for good, so it must say why without repeating what was erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class ErasedField:
    """One field of one event: the event's log position and the payload field's name."""

    position: int
    field: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Erased:
    TYPE: ClassVar[str] = "Erased"
    VERSION: ClassVar[int] = 1

    community_id: str
    # The record whose restricted text was erased: a report's or a finding's id.
    record_id: str
    erased_on: date
    reason: str
    fields: tuple[ErasedField, ...]
