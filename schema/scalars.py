"""Scalars of the API beyond GraphQL's own: `AsOf` (a moment to read the records at) and `JSON`."""

from __future__ import annotations

from datetime import date
from typing import NewType

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from service.read.asof import parse_as_of

__all__ = ["JSON", "SCALARS", "AsOf"]

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

SCALARS: dict[object, ScalarDefinition] = {
    AsOf: strawberry.scalar(name="AsOf", description=_AS_OF, serialize=_serialize, parse_value=_parse),
}
