"""Pages of a list for the API: opaque keyset cursors, page-size limits, and `Page`.

A cursor is the URL-safe base64 of a small JSON array: what the list is sorted by and the item's own key.
Clients must treat it as opaque; the server reads it back to continue strictly after that item, so a page
never repeats or skips an item when others are added before it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from events.codec import JSON

T = TypeVar("T")
# The largest page any list serves, and the page a client gets when it does not say.
MAX_PAGE = 100
DEFAULT_PAGE = 20
# Cursors are short; anything longer is not one of ours (and is not worth decoding).
MAX_CURSOR = 1024
# The largest log position a cursor may hold: PostgreSQL's bigint.
MAX_POSITION = 2**63 - 1


class QueryError(Exception):
    """A read asked for something that cannot be given as asked; `field` names the argument at fault.

    `code` is the machine-readable reason the API shows beside the message."""

    def __init__(self, field: str, message: str, code: str = "BAD_USER_INPUT") -> None:
        self.field = field
        self.reason = message
        self.code = code
        # Read by GraphQL error formatting (an `extensions` mapping on the cause becomes the error's own).
        self.extensions = {"code": code, "field": field}
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page: the items with their cursors, whether more follow or precede, and how many in all
    (None where counting would cost more than the page)."""

    items: tuple[tuple[str, T], ...]
    has_next: bool
    has_previous: bool
    total: int | None = None


def page_size(first: int | None) -> int:
    """The number of items to serve: `first`, checked against `MAX_PAGE`."""
    if first is None:
        return DEFAULT_PAGE
    if first < 0:
        raise QueryError("first", "must not be negative")
    if first > MAX_PAGE:
        raise QueryError("first", f"must be at most {MAX_PAGE} (the page size limit)", "PAGE_TOO_LARGE")
    return first


def encode_cursor(parts: Sequence[JSON]) -> str:
    text = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "after") -> list[JSON]:
    """The parts of a cursor made by `encode_cursor`; QueryError for anything else."""
    if len(cursor) > MAX_CURSOR:
        raise QueryError(field, "is not a cursor from this list")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise QueryError(field, "is not a cursor from this list") from exc
    if not isinstance(parts, list):
        raise QueryError(field, "is not a cursor from this list")
    return parts


def position_cursor(kind: str, position: int) -> str:
    return encode_cursor([kind, position])


def after_position(cursor: str | None, kind: str) -> int:
    """The position a `position_cursor` of `kind` holds; 0 for no cursor."""
    if cursor is None:
        return 0
    parts = decode_cursor(cursor)
    if len(parts) != 2 or parts[0] != kind or not isinstance(parts[1], int) or isinstance(parts[1], bool):
        raise QueryError("after", f"is not a cursor from this list ({kind})")
    # A log position is a bigint: anything outside was never one of ours.
    if not 0 <= parts[1] <= MAX_POSITION:
        raise QueryError("after", f"is not a cursor from this list ({kind})")
    return parts[1]


def page_by_position(
    items: Sequence[T], position: Callable[[T], int], kind: str, first: int | None, after: str | None
) -> Page[T]:
    """A page of `items` (each with a distinct log position) in position order, after `after`."""
    size = page_size(first)
    start = after_position(after, kind)
    ordered = sorted(items, key=position)
    following = [item for item in ordered if position(item) > start]
    chosen = following[:size]
    return Page(
        items=tuple((position_cursor(kind, position(item)), item) for item in chosen),
        has_next=len(following) > size,
        has_previous=len(following) < len(ordered),
        total=len(ordered),
    )
