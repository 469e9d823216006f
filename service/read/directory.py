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
    # What the name sorts by (`projections.ordering.name_key`): the stored key of the name on the date.
    name_key: str
    town_id: str | None
    levels: frozenset[Level]


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """Which communities in scope a list takes, before anything about their status: the filters (None:
    any; `name_contains` matched case-insensitively), the order by name (its pinyin key, then the name,
    then id), where to start (the key, name and id of the item just before) and how many (None: all)."""

    town: str | None = None
    kind: CommunityKind | None = None
    designation: Level | None = None
    name_contains: str | None = None
    descending: bool = False
    after: tuple[str, str, str] | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Chosen:
    """The communities a `Choice` took, in its order; how many pass its filters in all, and how many of
    those precede its start."""

    entries: list[Entry]
    total: int
    before: int


async def community_page(
    conn: Conn, generation: int, on: date, choice: Choice, known: int | None = None
) -> Chosen:
    """The communities in scope on `on` (as the log stood at size `known`) that `choice` takes: chosen,
    sorted and cut in one statement, so a page costs the page, not a row per community in Python."""
    after_key, after_name, after_id = choice.after if choice.after is not None else (None, None, None)
    rows = await conn.fetch(
        query("community_page"),
        generation,
        on,
        known or EVERYTHING,
        choice.town,
        choice.kind.value if choice.kind is not None else None,
        choice.designation.value if choice.designation is not None else None,
        choice.name_contains,
        choice.descending,
        after_key,
        after_name,
        after_id,
        choice.limit,
    )
    counts = next(r for r in rows if r["community_id"] is None)
    entries = [
        Entry(
            r["community_id"],
            CommunityKind(r["kind"]),
            r["name"],
            r["key"],
            r["town_id"],
            frozenset(Level(level) for level in r["levels"]),
        )
        for r in rows
        if r["community_id"] is not None
    ]
    # The statement compares the key, the name and the id in code point order: Python's own order of strings.
    entries.sort(key=order_by_name, reverse=choice.descending)
    return Chosen(entries, counts["total"], counts["before"])


def order_by_name(entry: Entry) -> tuple[str, str, str]:
    """What a list by name compares, in this order: the name's pinyin key, the name, the id."""
    return (entry.name_key, entry.name or "", entry.community_id)


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
