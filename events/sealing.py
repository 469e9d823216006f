"""Sealed text: free text that may describe a person, kept beside the log and committed to inside it.

The log can never forget, and a complaint's summary or a rectification note may name someone. Such a field
holds a `Sealed` commitment, SHA-256(salt ‖ UTF-8 value), so the hashed bytes say nothing a reader could
recover, while the salt and the value live in a restricted table beside the log. Deleting those two
forgets the text for good and leaves every leaf, checkpoint and export verifying; whoever is given a salt
and a value can check them against the commitment.

The salt is 32 random bytes: without it, a short or guessable text could be found by hashing candidates.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import re
import typing
from dataclasses import dataclass
from typing import Any

SALT_BYTES = 32
COMMITMENT = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Sealed:
    """A commitment to restricted text held beside the log: SHA-256(salt ‖ value), lower-case hex."""

    commitment: str


@dataclass(frozen=True, slots=True)
class Opening:
    """What opens one sealed field: the field's name, the salt and the value. Never part of the log."""

    field: str
    salt: bytes
    value: str

    def __repr__(self) -> str:
        # An opening is restricted data: a log line or a traceback that shows one must not show the text.
        return (
            f"Opening(field={self.field!r}, salt=<{len(self.salt)} bytes>, value=<{len(self.value)} chars>)"
        )


def commitment(salt: bytes, value: str) -> str:
    return hashlib.sha256(salt + value.encode("utf-8")).hexdigest()


def seal(field: str, value: str, salt: bytes) -> tuple[Sealed, Opening]:
    """The commitment the event carries and the opening kept beside the log."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"a salt is {SALT_BYTES} bytes")
    return Sealed(commitment(salt, value)), Opening(field, salt, value)


def opens(sealed: Sealed, opening: Opening) -> bool:
    """Whether `opening` is the salt and value `sealed` commits to."""
    return hmac.compare_digest(sealed.commitment, commitment(opening.salt, opening.value))


@functools.cache
def sealed_fields(cls: type[Any]) -> tuple[str, ...]:
    """The names of an event class's fields that hold a `Sealed` commitment, in declaration order."""
    hints = typing.get_type_hints(cls)
    return tuple(field.name for field in dataclasses.fields(cls) if hints[field.name] is Sealed)
