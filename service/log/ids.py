"""Event ids, made at the edge: the core takes ids as arguments."""

from __future__ import annotations

import os
from uuid import UUID


class RandomIds:
    """Version-4 UUIDs drawn 256 at a time from one `os.urandom` call; `uuid4()` makes a system call for
    every id, which shows on a hot path."""

    def __init__(self) -> None:
        self._ready: list[UUID] = []

    def __call__(self) -> UUID:
        if not self._ready:
            raw = os.urandom(16 * 256)
            self._ready = [UUID(bytes=raw[i : i + 16], version=4) for i in range(0, len(raw), 16)]
        return self._ready.pop()
