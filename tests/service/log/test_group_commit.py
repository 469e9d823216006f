"""Group commit: requests waiting together are written in one transaction, each with its own outcome."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg

from events.envelope import ExpectedVersion
from events.errors import IdempotencyKeyReused, VersionConflict
from events.hierarchy import CommunityRenamed
from service.log.results import AppendResult
from service.log.store import EventStore

DAY = date(2022, 6, 8)


def renamed(name: str, community: str = "a") -> CommunityRenamed:
    return CommunityRenamed(community_id=community, name=name, effective_on=DAY)


async def test_one_conflicting_call_fails_while_the_rest_of_its_group_lands(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    await store.append(
        "community-a", [renamed("seed")], expected_version=ExpectedVersion.any(), idempotency_key="0"
    )
    # gather() starts every call before the writer runs, so all six wait in the queue together.
    outcomes = await asyncio.gather(
        store.append(
            "community-a", [renamed("1")], expected_version=ExpectedVersion.exactly(1), idempotency_key="1"
        ),
        store.append(
            "community-b",
            [renamed("2", "b")],
            expected_version=ExpectedVersion.no_stream(),
            idempotency_key="2",
        ),
        # Stale: by the time it is checked, the first call of the group has moved stream a to 2.
        store.append(
            "community-a", [renamed("3")], expected_version=ExpectedVersion.exactly(1), idempotency_key="3"
        ),
        store.append(
            "community-a", [renamed("4")], expected_version=ExpectedVersion.exactly(2), idempotency_key="4"
        ),
        # Reuses key "1" with another payload.
        store.append(
            "community-c", [renamed("5", "c")], expected_version=ExpectedVersion.any(), idempotency_key="1"
        ),
        store.append(
            "community-c", [renamed("6", "c")], expected_version=ExpectedVersion.any(), idempotency_key="6"
        ),
        return_exceptions=True,
    )
    ok = [o for o in outcomes if isinstance(o, AppendResult)]
    assert [2, 3, 4, 5] == [p for o in ok for p in o.positions]
    assert isinstance(outcomes[2], VersionConflict)
    assert 2 == outcomes[2].actual
    assert isinstance(outcomes[4], IdempotencyKeyReused)
    # The four accepted calls were one transaction: one xmin, one recorded_at.
    groups = await owner.fetch(
        "select xmin::text as tx, count(*) as n, count(distinct recorded_at) as times "
        "from events where position > 1 group by xmin::text"
    )
    assert [(4, 1)] == [(g["n"], g["times"]) for g in groups]
    names = await owner.fetch("select payload->>'name' as name from events order by position")
    assert ["seed", "1", "2", "4", "6"] == [n["name"] for n in names]


async def test_a_group_the_database_refuses_is_split_so_only_the_bad_request_fails(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    """If the database refuses one request's rows, the group is retried request by request: the bad
    one gets the database's error and the others of its group land."""
    # A constraint the codec knows nothing of stands in for any refusal the database might make.
    await owner.execute(
        "alter table events add constraint test_no_poison check (payload->>'name' <> 'poison')"
    )
    outcomes = await asyncio.gather(
        store.append(
            "community-a", [renamed("1")], expected_version=ExpectedVersion.any(), idempotency_key="1"
        ),
        store.append(
            "community-b",
            [renamed("poison", "b")],
            expected_version=ExpectedVersion.any(),
            idempotency_key="2",
        ),
        store.append(
            "community-c", [renamed("3", "c")], expected_version=ExpectedVersion.any(), idempotency_key="3"
        ),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], AppendResult)
    assert isinstance(outcomes[1], asyncpg.CheckViolationError)
    assert isinstance(outcomes[2], AppendResult)
    rows = await owner.fetch("select position, payload->>'name' as name from events order by position")
    assert [(1, "1"), (2, "3")] == [(r["position"], r["name"]) for r in rows]
    # The refused key was not remembered, so a corrected retry under it is free to land.
    again = await store.append(
        "community-b", [renamed("fine", "b")], expected_version=ExpectedVersion.any(), idempotency_key="2"
    )
    assert [3] == list(again.positions)
