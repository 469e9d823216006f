"""Scalars of the API beyond GraphQL's own: `AsOf` (a moment to read the records at), `TreeSize` (a size
of the log) and `JSON`."""

from __future__ import annotations

from datetime import date
from typing import NewType

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from service.read.asof import parse_as_of

__all__ = ["JSON", "SCALARS", "AsOf", "TreeSize"]

_AS_OF = (
    "A moment to read the records at: an ISO 8601 date (2022-06-08, meaning the end of that day in "
    "Asia/Shanghai) or date-time (2022-06-08T12:00:00+08:00, taken to its Asia/Shanghai date; one "
    "without an offset is read as Shanghai time). Served as the local date."
)


def _parse(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError("asOf must be a string: an ISO 8601 date or date-time")
    return parse_as_of(value)


def _serialize(value: date) -> str:
    return value.isoformat()


# A date to resolvers; its own scalar in the schema (see SCALARS, given to the schema's config).
AsOf = NewType("AsOf", date)

_TREE_SIZE = (
    "A size of the log: how many events it held (0 to 2^53 - 1), which is also the position of the last "
    "of them. Signed checkpoints and proofs are for sizes; `knownAt` reads as the log stood at one."
)
MAX_TREE_SIZE = 2**53 - 1


def _parse_size(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
        raise ValueError(f"a tree size must be an integer from 0 to {MAX_TREE_SIZE}")
    return value


# An int to resolvers, checked to be a size the log can have.
TreeSize = NewType("TreeSize", int)

SCALARS: dict[object, ScalarDefinition] = {
    AsOf: strawberry.scalar(name="AsOf", description=_AS_OF, serialize=_serialize, parse_value=_parse),
    TreeSize: strawberry.scalar(
        name="TreeSize", description=_TREE_SIZE, serialize=int, parse_value=_parse_size
    ),
}
