"""A generated city of any number of communities, built as `tests.bench.replay` builds its log.

The towns (`replay.TOWNS`, 20), the default standard, and communities registered and named as the replay
benchmark registers them, each with `replay.month_events` for every month of `months` (about ten events a
month: disclosures, meetings, trainings, reports and their closures, quarterly spot checks with findings
and rectifications, rule revisions, corrections, duty reports, recognitions, a few transfers and renames).
Unlike the replay benchmark's log there is no big community: every community has one lane of activity, so
the city grows with the number of communities and nothing else. The months end with the last month before
`today`'s, so nothing is dated in the future.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

from events.catalogue import CATALOGUE
from events.codec import JSON
from events.hierarchy import CommunityKind, CommunityRegistered, TownKind, TownRegistered
from events.registry import Event
from events.sealing import Opening
from projections.standards import DEFAULT_STANDARD
from service.log.pool import create_pool
from service.log.store import EventStore
from tests.bench.replay import (
    _COMMUNITY_NAMES,
    _TOWN_NAMES,
    TOWNS,
    community_id,
    month_events,
    month_start,
    town_id,
)
from tests.support.sealing import openings

Entry = tuple[str, Event, Mapping[str, JSON], tuple[Opening, ...]]
IMPORT_CHUNK = 50_000


@dataclass(slots=True)
class City:
    """`communities` communities over `replay.TOWNS` towns, with `months` months of activity each."""

    communities: int
    months: int
    today: date
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def first_month(self) -> date:
        return month_start(date(self.today.year, self.today.month, 1), -self.months)

    def entries(self) -> Iterator[Entry]:
        """The log, in the order it is imported: towns, the standard, registrations, then month by month."""
        first = self.first_month
        for t in range(TOWNS):
            name = (
                f"{_TOWN_NAMES[t % len(_TOWN_NAMES)]}{'街道' if t % 2 else '镇'}{t // len(_TOWN_NAMES) or ''}"
            )
            town = TownRegistered(
                town_id=town_id(t),
                city_id="cixi",
                name=name,
                kind=TownKind.SUBDISTRICT if t % 2 else TownKind.TOWN,
                registered_on=first,
            )
            yield self._count((f"town-{town_id(t)}", town, {"actor": "import"}, ()))
        yield self._count(("standard-main", DEFAULT_STANDARD, {"actor": "import"}, ()))
        for n in range(self.communities):
            village = n % 4 == 0
            base = _COMMUNITY_NAMES[n % len(_COMMUNITY_NAMES)]
            registered = CommunityRegistered(
                community_id=community_id(n),
                town_id=town_id(n),
                name=f"{base}{n}{'村' if village else '社区'}",
                kind=CommunityKind.VILLAGE if village else CommunityKind.COMMUNITY,
                registered_on=first,
            )
            yield self._count((f"community-{community_id(n)}", registered, {"actor": "import"}, ()))
        for k in range(self.months):
            for n in range(self.communities):
                for event in month_events(n, 0, first, k):
                    meta: Mapping[str, JSON] = {"actor": f"clerk-{(n * 7 + k) % 400:04d}"}
                    yield self._count((f"community-{community_id(n)}", event, meta, openings(event)))

    def _count(self, entry: Entry) -> Entry:
        name = type(entry[1]).__name__
        self.by_type[name] = self.by_type.get(name, 0) + 1
        return entry

    @property
    def events(self) -> int:
        return sum(self.by_type.values())


async def import_city(url: str, city: City) -> int:
    """Import the city's log with `EventStore.bulk_import`, IMPORT_CHUNK events a transaction; return the
    head."""
    pool = await create_pool(url, None, min_size=1, max_size=2)
    store = EventStore(pool, CATALOGUE)
    try:
        entries = city.entries()
        imported = 0
        while chunk := list(itertools.islice(entries, IMPORT_CHUNK)):
            result = await store.bulk_import(chunk, idempotency_key=f"bench-city-{imported}")
            imported += result.event_count
        return await store.head()
    finally:
        await store.close()
        await pool.close()
