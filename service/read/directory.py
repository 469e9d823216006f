"""Which communities there are, as of a date and as the log stood: read from the record tables, a row per
community, never the communities' facts.

A list of communities is chosen from these rows (filters and sorts), and only the facts of the page it
returns are read (`records.read_facts`); a figure that must evaluate some communities from their facts
reads them in chunks. So what a request holds grows with what it answers, not with the city.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from events.hierarchy import CommunityKind
from events.recognition import Level
from projections.facts import CommunityFacts
from service.log.reads import Conn
from service.read.queries import query
from service.read.records import read_facts

# Larger than any log position: "as the log stands".
EVERYTHING = 2**63 - 1
# Communities whose facts are read at once where a figure evaluates many.
CHUNK = 200


@dataclass(frozen=True, slots=True)
class Entry:
    """A community in scope on a date: what lists filter and sort by."""

    community_id: str
    kind: CommunityKind
    name: str | None
    town_id: str | None
    levels: frozenset[Level]


async def communities_on(conn: Conn, generation: int, on: date, known: int | None = None) -> list[Entry]:
    """Every community in scope on `on` (as the log stood at size `known`), by id."""
    rows = await conn.fetch(query("communities_on"), generation, on, known or EVERYTHING)
    entries = [
        Entry(
            r["community_id"],
            CommunityKind(r["kind"]),
            r["name"],
            r["town_id"],
            frozenset(Level(level) for level in r["levels"]),
        )
        for r in rows
    ]
    return sorted(entries, key=lambda e: e.community_id)


async def known_ids(conn: Conn, generation: int, known: int | None = None) -> list[str]:
    """Every community registered (as the log stood at size `known`), by id."""
    rows = await conn.fetch(query("community_ids_known"), generation, known or EVERYTHING)
    return sorted(r["community_id"] for r in rows)


async def last_activity_on(
    conn: Conn, generation: int, on: date, ids: Sequence[str], known: int | None = None
) -> dict[str, date]:
    """For each of `ids`: its latest recorded activity on or before `on` (absent: none)."""
    rows = await conn.fetch(query("last_activity_on"), generation, on, known or EVERYTHING, list(ids))
    return {r["community_id"]: r["day"] for r in rows}


async def town_of(conn: Conn, generation: int, community_id: str, on: date) -> str | None:
    town: str | None = await conn.fetchval(query("town_of_community"), generation, community_id, on)
    return town


async def facts_in_chunks(
    conn: Conn, generation: int, ids: Iterable[str], known: int | None = None
) -> AsyncIterator[list[CommunityFacts]]:
    """The facts of `ids`, CHUNK communities at a time, in the order given (those with no records left out):
    a figure that evaluates many holds one chunk at once."""
    chunk: list[str] = []
    for community_id in ids:
        chunk.append(community_id)
        if len(chunk) == CHUNK:
            found = await read_facts(conn, generation, chunk, known)
            yield [found[c] for c in chunk if c in found]
            chunk = []
    if chunk:
        found = await read_facts(conn, generation, chunk, known)
        yield [found[c] for c in chunk if c in found]
