"""Named SQL queries: each capability keeps its own in `sql/queries.sql` inside its package, read once."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def load_queries(package: str) -> dict[str, str]:
    """The named queries of `package` (e.g. "service.log"), from its `sql/queries.sql`."""
    text = resources.files(package).joinpath("sql/queries.sql").read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    queries = {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    if not queries:
        raise RuntimeError(f"{package}: sql/queries.sql holds no named queries")
    return queries


class NamedQueries:
    """One package's queries by name; nothing is read until the first is asked for."""

    def __init__(self, package: str) -> None:
        self._package = package

    def __call__(self, name: str) -> str:
        """The SQL text of the named query; a KeyError names a query that does not exist."""
        return load_queries(self._package)[name]


query = NamedQueries("service.log")
