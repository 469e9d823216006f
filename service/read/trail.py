"""The log as the API pages it: every event after a position (optionally filtered), and one stream's trail.

Pages are read with one more row than asked for, so whether another page follows costs no extra query.
"""

from __future__ import annotations

from collections.abc import Sequence

from events.envelope import Recorded, check_stream_id
from events.errors import InvalidAppend
from events.registry import Registry
from service.log.store import EventStore
from service.read.paging import Page, QueryError, after_position, page_size, position_cursor

MAX_PREFIX = 200
MAX_TYPES = 50


async def log_page(
    store: EventStore,
    registry: Registry,
    *,
    first: int | None,
    after: str | None,
    types: Sequence[str] | None = None,
    stream_prefix: str | None = None,
) -> Page[Recorded]:
    """Events after the cursor `after`, in position order, of the given types and stream prefix."""
    size = page_size(first)
    start = after_position(after, "events")
    check_filter(registry, types, stream_prefix)
    rows = await store.read_all(
        after_position=start, limit=size + 1, types=types, stream_prefix=stream_prefix
    )
    return Page(
        items=tuple((position_cursor("events", r.position), r) for r in rows[:size]),
        has_next=len(rows) > size,
        has_previous=start > 0,
    )


def check_filter(
    registry: Registry, types: Sequence[str] | None, stream_prefix: str | None
) -> Sequence[str] | None:
    """The types of an event filter, once the filter is known to be one the log can be read by."""
    if types is not None:
        if len(types) > MAX_TYPES:
            raise QueryError("filter.types", f"must name at most {MAX_TYPES} types")
        known = {cls.TYPE for cls in registry.types()}
        unknown = sorted(set(types) - known)
        if unknown:
            raise QueryError("filter.types", f"unknown event type(s): {', '.join(unknown)}")
    if stream_prefix is not None and len(stream_prefix) > MAX_PREFIX:
        raise QueryError("filter.streamPrefix", f"must be at most {MAX_PREFIX} characters")
    return types


async def stream_page(
    store: EventStore, stream_id: str, *, first: int | None, after: str | None
) -> Page[Recorded]:
    """A stream's events in version order, after the cursor `after`; `total` is the stream's version."""
    size = page_size(first)
    try:
        check_stream_id(stream_id)
    except InvalidAppend as exc:
        raise QueryError("streamId", exc.reason) from exc
    start = after_position(after, "history")
    rows = await store.read_stream(stream_id, after_version=start, limit=size + 1)
    total = await store.stream_version(stream_id)
    return Page(
        items=tuple((position_cursor("history", r.stream_version), r) for r in rows[:size]),
        has_next=len(rows) > size,
        has_previous=start > 0,
        total=total,
    )
