"""Sealed text for tests: a fixed salt, so the same text seals to the same commitment in every run, and
the openings of any event built with `sealed` found again from the event itself."""

from __future__ import annotations

from events.registry import Event
from events.sealing import SALT_BYTES, Opening, Sealed, seal, sealed_fields

SALT = bytes(range(SALT_BYTES))
_OPENINGS: dict[tuple[str, str], Opening] = {}


def sealed(field: str, text: str) -> Sealed:
    """`text` sealed for `field` with the fixed salt; `openings` finds what opens it."""
    commitment, opening = seal(field, text, SALT)
    _OPENINGS[(field, commitment.commitment)] = opening
    return commitment


def openings(event: Event) -> tuple[Opening, ...]:
    """What opens each sealed field of an event built with `sealed` (none for an event without any)."""
    return tuple(_OPENINGS[(name, getattr(event, name).commitment)] for name in sealed_fields(type(event)))
