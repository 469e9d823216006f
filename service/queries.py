"""Named SQL queries, read once from `service/sql/queries.sql`."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def load_queries() -> dict[str, str]:
    text = resources.files("service").joinpath("sql/queries.sql").read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    queries = {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    if not queries:
        raise RuntimeError("service/sql/queries.sql holds no named queries")
    return queries


def query(name: str) -> str:
    """The SQL text of the named query; a KeyError names a query that does not exist."""
    return load_queries()[name]
