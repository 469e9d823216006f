"""Records in tables: every fact a community event adds, as a row of its own table.

`projections.community.additions` says which facts an event adds to a community (a disclosure, a training,
a name, a finding per finding …); each kind of fact has its table (migration 0010), whose columns are the
fact's fields, prefixed by the generation and the community. The projector appends the rows of each batch
in the transaction that folds it, so the tables are exactly as far as the checkpoint; a rebuild writes the
next generation's beside the live one. Nothing is ever updated: a correction, a rectification or a
closure is a row of its own, as it is an event of its own.
"""

from __future__ import annotations

import dataclasses
import enum
import operator
import re
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import asyncpg
import msgspec

from events.registry import Event
from projections.community import additions
from projections.facts import (
    CommunityFacts,
    Correction,
    Designation,
    Disclosure,
    DutyReport,
    Finding,
    Meeting,
    Membership,
    Named,
    Rectification,
    Registration,
    Report,
    ReportClosure,
    Retirement,
    RuleVersion,
    SpotCheck,
    Talent,
    Training,
)
from projections.ordering import name_key
from service.log.reads import Conn
from service.read.queries import query
from service.read.slices import in_slices

# CommunityFacts field -> its table (migration 0010) and the fact it holds.
FACTS: dict[str, tuple[str, type[Any]]] = {
    "registrations": ("community_registrations", Registration),
    "names": ("community_names", Named),
    "memberships": ("community_memberships", Membership),
    "retirements": ("community_retirements", Retirement),
    "disclosures": ("disclosures", Disclosure),
    "corrections": ("disclosure_corrections", Correction),
    "trainings": ("trainings", Training),
    "rules": ("rule_versions", RuleVersion),
    "meetings": ("meetings", Meeting),
    "spot_checks": ("spot_checks", SpotCheck),
    "findings": ("findings", Finding),
    "rectifications": ("rectifications", Rectification),
    "reports": ("reports", Report),
    "report_closures": ("report_closures", ReportClosure),
    "designations": ("designations", Designation),
    "talents": ("talents", Talent),
    "duty_reports": ("duty_reports", DutyReport),
}
TABLES = {name: table for name, (table, _) in FACTS.items()}
# Each table's columns, in COPY order: the generation, the community, then the fact's fields.
COLUMNS: dict[str, list[str]] = {
    table: ["generation", "community_id", *(f.name for f in dataclasses.fields(cls))]
    for table, cls in FACTS.values()
}
COLUMNS["findings"].append("ordinal")
# A name's row also holds the key lists sort it by (migration 0013), computed here once, not per read.
COLUMNS["community_names"].append("name_key")


def record_rows(generation: int, events: Iterable[tuple[int, Event]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows the (position, event) pairs add, by table."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for position, event in events:
        add_rows(rows, generation, position, event)
    return rows


def add_rows(rows: dict[str, list[tuple[Any, ...]]], generation: int, position: int, event: Event) -> None:
    """Append the rows the event adds to `rows` (by table)."""
    community_id = getattr(event, "community_id", None)
    if not isinstance(community_id, str):
        return
    for name, items in additions(position, event) or ():
        table_name, columns = _ROWS[name]
        table = rows.get(table_name)
        if table is None:
            table = rows[table_name] = []
        if name == "findings":
            # A spot check's findings share its position: their order among themselves is kept too.
            for ordinal, item in enumerate(items):
                table.append((generation, community_id, *columns(item), ordinal))
        elif name == "names":
            for item in items:
                table.append((generation, community_id, *columns(item), name_key(item.name)))
        else:
            for item in items:
                table.append((generation, community_id, *columns(item)))


def _columns(cls: type[Any]) -> Callable[[Any], Sequence[Any]]:
    """A fact's fields, in order, as PostgreSQL takes them (see `_column`). Made once per kind of fact: a
    row costs one fetch of all its fields, and `_column` runs only on fields of a type it may change."""
    names = [f.name for f in dataclasses.fields(cls)]
    hints = typing.get_type_hints(cls)
    get = operator.attrgetter(*names)
    # A str, int, float or date field (or an optional one) is taken as it is.
    special = [i for i, name in enumerate(names) if not _plain_hint(hints[name])]

    if len(names) > 1 and not special:
        return cast(Callable[[Any], Sequence[Any]], get)

    def columns(item: Any) -> Sequence[Any]:
        values = list(get(item)) if len(names) > 1 else [get(item)]
        for i in special:
            values[i] = _column(values[i])
        return values

    return columns


_PLAIN_TYPES = (str, int, float, date, type(None))


def _plain_hint(hint: Any) -> bool:
    """Whether every value of the declared type `hint` reaches PostgreSQL as it is."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return all(_plain_hint(arg) for arg in typing.get_args(hint))
    return hint in _PLAIN_TYPES


def _column(value: Any) -> Any:
    """A fact's field as PostgreSQL takes it: an enum by its value, a tuple as an array."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


# CommunityFacts field -> its table, and the columns of the fact it holds.
_ROWS = {name: (table, _columns(cls)) for name, (table, cls) in FACTS.items()}


@dataclass(frozen=True, slots=True)
class Copied:
    """How the one record row of an event of a class is taken from its payload, field by field, with no
    event built (`copied_row`): the table, and the getter of the row's columns but the first (the
    generation) and the last (the position) from the event's twin (`events.payloads.twin_reader`), whose
    fields are the event's. The getter's first column is the community."""

    table: str
    columns: Callable[[Any], tuple[Any, ...]]


def copied_row(cls: type[Event]) -> Copied | None:
    """How `additions` makes the record row of an event of `cls`, if each of its columns is a field of the
    event copied as it is (an enum by its value): one fact of one kind, of a community event. None for an
    event that adds no record, several, or one computed from its fields (a spot check's findings, a name's
    sort key): those are built by `add_rows`.

    Found by asking `additions` itself, once, of an event of `cls` whose every field holds a text naming
    it: each of the fact's fields then shows which field of the event it was copied from. `additions`
    stays the one statement of what a record holds."""
    if not dataclasses.is_dataclass(cls):
        return None
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    if hints.get("community_id") is not str:
        return None
    marks = {f"\x00{name}": name for name in names}
    position = cast(int, object())
    try:
        probe: Event = cast(Any, cls)(**{name: f"\x00{name}" for name in names})
        added = additions(position, probe)
    except (TypeError, AttributeError, ValueError):  # it computes with a field (findings, say): no copy
        return None
    if added is None or len(added) != 1:
        return None
    field, items = added[0]
    if field in ("names", "findings") or len(items) != 1:
        return None
    fact = items[0]
    values = [getattr(fact, f.name) for f in dataclasses.fields(fact)]
    if not values or values[-1] is not position:
        return None
    sources = ["community_id"]
    for value in values[:-1]:
        name = marks.get(value) if isinstance(value, str) else None
        if name is None:
            return None
        hint = hints[name]
        if isinstance(hint, type) and issubclass(hint, enum.Enum) and not issubclass(hint, str):
            sources.append(f"{name}.value")
        # A text enum's member is a str whose text is its value (what `_column` writes): taken as it is,
        # sparing each row the enum's `value` property.
        elif _plain_hint(hint) or (isinstance(hint, type) and issubclass(hint, enum.StrEnum)):
            sources.append(name)
        else:
            return None
    table, kind = FACTS[field]
    assert type(fact) is kind
    assert COLUMNS[table][2:] == [f.name for f in dataclasses.fields(fact)]
    return Copied(table, cast(Callable[[Any], tuple[Any, ...]], operator.attrgetter(*sources)))


async def save_records(conn: Conn, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    for table, items in rows.items():
        if items:
            await conn.copy_records_to_table(table, records=items, columns=COLUMNS[table])


async def drop_records(conn: Conn, generation: int) -> None:
    """Every record of a generation: an old one after a rebuild's switch, or an interrupted rebuild's."""
    await conn.execute(query("drop_records_generation"), generation)


async def records_missing(conn: Conn, generation: int, position: int) -> bool:
    """Whether the projection of `generation`, at `position`, has passed a community's registration but
    holds no record (a database migrated to 0010 whose live generation was projected before), or holds
    names without their sort key (one migrated to 0013): either a rebuild fills."""
    missing: bool = await conn.fetchval(query("records_missing"), generation, position)
    return missing


# Decoders of one field's JSON array of rows into its facts (the rows' extra columns are ignored).
_DECODERS = {name: msgspec.json.Decoder(tuple[cls, ...]) for name, (_, cls) in FACTS.items()}  # type: ignore[valid-type]
# Larger than any log position: "as the log stands".
_ALL = 2**63 - 1
# asyncpg stores date.max and date.min as PostgreSQL's infinity and -infinity, which a row's JSON then
# holds as the strings "infinity" and "-infinity": no RFC 3339 date. Only the members that are dates are
# read back so (a member starts where a quote follows `{` or `,`: inside a JSON string every quote is
# escaped), never a text that happens to say "infinity".
_DATE_FIELDS = sorted(
    {
        name
        for _, cls in FACTS.values()
        for name, hint in typing.get_type_hints(cls).items()
        if hint is date or hint == (date | None)
    }
)
_INFINITE_DATE = re.compile(r'([{,]"(?:' + "|".join(map(re.escape, _DATE_FIELDS)) + r')":)"(-?)infinity"')


def _finite_date(match: re.Match[str]) -> str:
    return f'{match[1]}"{(date.min if match[2] else date.max).isoformat()}"'


async def read_facts(
    conn: Conn, generation: int, ids: Sequence[str], known: int | None = None
) -> dict[str, CommunityFacts]:
    """The facts of the communities `ids` (as the log stood at size `known`), read from the record tables
    in one query; a community with no record then is left out. The rows (one per community and kind of
    fact) are decoded in slices (`in_slices`), giving the event loop a turn between them."""
    rows = await conn.fetch(query("load_community_records"), generation, list(ids), known or _ALL)
    found: dict[str, dict[str, Any]] = {}
    last: dict[str, int] = {}
    for community_id, field, items, position in await in_slices(rows, _decoded):
        found.setdefault(community_id, {})[field] = items
        last[community_id] = max(last.get(community_id, 0), position)
    return {
        community_id: CommunityFacts(community_id=community_id, **fields, position=last[community_id])
        for community_id, fields in found.items()
    }


def _decoded(row: asyncpg.Record) -> tuple[str, str, tuple[Any, ...], int]:
    """One row of `load_community_records`: its community, field, facts and last position. A date stored
    as infinity (-infinity) is read as date.max (date.min), as asyncpg reads it from a column."""
    field: str = row["field"]
    text: str = row["items"]
    if "infinity" in text:
        text = _INFINITE_DATE.sub(_finite_date, text)
    items: tuple[Any, ...] = _DECODERS[field].decode(text)
    return row["community_id"], field, items, row["last"]


# The lists a community's records are paged in: the table, the column dating each record, the column a
# list may be narrowed to one value of (None: none), and the fact they hold.
PAGED: dict[str, tuple[str, str, str | None, type[Any]]] = {
    "disclosures": ("disclosures", "published_on", "category", Disclosure),
    "trainings": ("trainings", "held_on", "kind", Training),
    "rules": ("rule_versions", "adopted_on", "document", RuleVersion),
    "meetings": ("meetings", "held_on", None, Meeting),
    "spot_checks": ("spot_checks", "checked_on", None, SpotCheck),
    "designations": ("designations", "designated_on", None, Designation),
}


def _page_statement(table: str, dated: str, narrowed: str | None) -> str:
    """For each community of $2: its records dated by $3, as the log stood at size $4, of the one kind $5
    (null: any, where the list has kinds), after position $6: up to $7 + 1 of them in log order (the extra
    one says whether more follow), with how many there are in all and how many precede the page. The
    identifiers come from PAGED, never from a request."""
    kind = f"($5::text is null or t.{narrowed} = $5::text)" if narrowed else "$5::text is null"
    return f"""
with chosen as (
    select t.*, count(*) over w as total, count(*) filter (where t.position <= $6) over w as before,
           row_number() over (partition by t.community_id, t.position > $6 order by t.position) as n
    from {table} t
    where t.generation = $1 and t.community_id = any($2::text[]) and t.{dated} <= $3 and t.position <= $4
      and {kind}
    window w as (partition by t.community_id)
)
select community_id, max(total) as total, max(before) as before,
       coalesce(json_agg(c order by c.position) filter (where c.position > $6 and c.n <= $7 + 1), '[]')::text
           as items
from chosen c
group by community_id
"""


_PAGES = {
    kind: _page_statement(table, dated, narrowed) for kind, (table, dated, narrowed, _) in PAGED.items()
}


@dataclass(frozen=True, slots=True)
class RecordPage:
    """One community's page of one kind of record: the facts (at most the page size and one more, which
    says whether more follow), how many there are in all, and how many precede the page."""

    items: tuple[Any, ...]
    total: int
    before: int


async def record_pages(
    conn: Conn,
    generation: int,
    kind: str,
    ids: Sequence[str],
    *,
    on: date,
    upto: int,
    only: str | None,
    after: int,
    size: int,
) -> dict[str, RecordPage]:
    """For each community of `ids`: its page of `kind` records dated by `on`, as the log stood at `upto`,
    of the one kind `only` (None: any), after position `after` — one query for all of them."""
    rows = await conn.fetch(_PAGES[kind], generation, list(ids), on, upto, only, after, size)
    decoder = _DECODERS[kind]
    # Decoded in slices: a list's pages of a heavy kind (meetings with their topics) are milliseconds each.
    pages = await in_slices(
        rows, lambda r: (r["community_id"], RecordPage(decoder.decode(r["items"]), r["total"], r["before"]))
    )
    found = dict(pages)
    return {c: found.get(c, RecordPage((), 0, 0)) for c in ids}
