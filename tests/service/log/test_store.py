"""The event store's append/read contract, on a real PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from events.codec import JSON, canonical_json, parse_canonical
from events.envelope import ExpectedVersion
from events.errors import CodecError, IdempotencyKeyReused, InvalidAppend, UnknownEventType, VersionConflict
from events.hierarchy import CommunityKind, CommunityRegistered, CommunityRenamed, TownKind, TownRegistered
from events.merkle import leaf_hash
from events.registry import Event
from service.log.encoding import MAX_EVENTS_PER_APPEND, MAX_PAYLOAD_BYTES
from service.log.store import EventStore

ANY = ExpectedVersion.any()
NO_STREAM = ExpectedVersion.no_stream()

DAY = date(2022, 6, 8)


def registered(community: str = "shuyuan", name: str = "舒苑社区") -> CommunityRegistered:
    return CommunityRegistered(
        community_id=community, town_id="gutang", name=name, kind=CommunityKind.COMMUNITY, registered_on=DAY
    )


def renamed(name: str, community: str = "shuyuan") -> CommunityRenamed:
    return CommunityRenamed(community_id=community, name=name, effective_on=DAY)


async def count(owner: asyncpg.Connection) -> int:
    value: int = await owner.fetchval("select count(*) from events")
    return value


async def test_first_append_lands_at_position_one_version_one(store: EventStore) -> None:
    result = await store.append(
        "community-shuyuan", [registered()], expected_version=NO_STREAM, idempotency_key="k1"
    )
    assert [1] == list(result.positions)
    assert 1 == result.stream_version
    assert result.replayed is False


async def test_append_then_read_stream_returns_the_events_in_order(store: EventStore) -> None:
    events: list[Event] = [registered(), renamed("舒苑"), renamed("舒苑社区")]
    await store.append("community-shuyuan", events, expected_version=NO_STREAM, idempotency_key="k")
    recorded = await store.read_stream("community-shuyuan")
    assert [1, 2, 3] == [r.stream_version for r in recorded]
    assert ["CommunityRegistered", "CommunityRenamed", "CommunityRenamed"] == [r.type for r in recorded]
    assert "舒苑" == recorded[1].payload["name"]
    assert {"idempotency_key": "k"} == recorded[0].metadata


async def test_read_stream_after_version_skips_earlier_events(store: EventStore) -> None:
    events: list[Event] = [registered(), renamed("a"), renamed("b")]
    await store.append("community-shuyuan", events, expected_version=NO_STREAM, idempotency_key="k")
    assert [3] == [r.stream_version for r in await store.read_stream("community-shuyuan", after_version=2)]
    assert [] == await store.read_stream("community-other")


async def test_stored_bytes_are_the_canonical_envelope_and_hash_to_the_leaf(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    await store.append(
        "community-shuyuan",
        [registered()],
        expected_version=NO_STREAM,
        idempotency_key="k",
        metadata={"actor": "inspector-1", "request_id": "r-1"},
    )
    row = await owner.fetchrow("select * from events")
    assert row is not None
    envelope = parse_canonical(row["canonical"])  # raises unless the bytes are canonical
    assert isinstance(envelope, dict)
    assert {
        "event_id": str(row["event_id"]),
        "metadata": {"actor": "inspector-1", "idempotency_key": "k", "request_id": "r-1"},
        "payload": json.loads(row["payload"]),
        "position": 1,
        "recorded_at": row["recorded_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "schema_version": 1,
        "stream_id": "community-shuyuan",
        "stream_version": 1,
        "type": "CommunityRegistered",
    } == envelope
    assert canonical_json(envelope).encode() == row["canonical"]
    assert leaf_hash(row["canonical"]) == row["leaf_hash"]


async def test_expected_version_exact_accepts_the_current_version(store: EventStore) -> None:
    await store.append("community-shuyuan", [registered()], expected_version=NO_STREAM, idempotency_key="a")
    result = await store.append(
        "community-shuyuan", [renamed("x")], expected_version=ExpectedVersion.exactly(1), idempotency_key="b"
    )
    assert 2 == result.stream_version


@pytest.mark.parametrize(
    "expected",
    [ExpectedVersion.no_stream(), ExpectedVersion.exactly(2), ExpectedVersion.exactly(7)],
    ids=str,
)
async def test_version_conflict_names_the_actual_version_and_writes_nothing(
    store: EventStore, owner: asyncpg.Connection, expected: ExpectedVersion
) -> None:
    await store.append("community-shuyuan", [registered()], expected_version=NO_STREAM, idempotency_key="a")
    with pytest.raises(VersionConflict) as caught:
        await store.append(
            "community-shuyuan", [renamed("x")], expected_version=expected, idempotency_key="b"
        )
    assert ("community-shuyuan", str(expected), 1) == (
        caught.value.stream,
        caught.value.expected,
        caught.value.actual,
    )
    assert 1 == await count(owner)


async def test_exact_version_on_a_missing_stream_conflicts_with_actual_zero(store: EventStore) -> None:
    with pytest.raises(VersionConflict) as caught:
        await store.append(
            "community-new",
            [registered("new")],
            expected_version=ExpectedVersion.exactly(3),
            idempotency_key="a",
        )
    assert 0 == caught.value.actual


async def test_expected_any_appends_whatever_the_version(store: EventStore) -> None:
    for index in range(3):
        await store.append(
            "community-shuyuan", [renamed(str(index))], expected_version=ANY, idempotency_key=str(index)
        )
    assert 3 == await store.stream_version("community-shuyuan")


async def test_a_retried_idempotency_key_returns_the_first_result_and_writes_nothing(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    first = await store.append(
        "community-shuyuan", [registered(), renamed("x")], expected_version=NO_STREAM, idempotency_key="once"
    )
    await store.append(
        "community-other", [registered("other")], expected_version=ANY, idempotency_key="other"
    )
    again = await store.append(
        "community-shuyuan", [registered(), renamed("x")], expected_version=NO_STREAM, idempotency_key="once"
    )
    assert (first.positions, first.stream_version) == (again.positions, again.stream_version)
    assert again.replayed is True
    assert 3 == await count(owner)


async def test_a_retry_with_different_metadata_is_still_the_same_request(store: EventStore) -> None:
    first = await store.append(
        "community-shuyuan",
        [registered()],
        expected_version=NO_STREAM,
        idempotency_key="k",
        metadata={"try": 1},
    )
    again = await store.append(
        "community-shuyuan",
        [registered()],
        expected_version=NO_STREAM,
        idempotency_key="k",
        metadata={"try": 2},
    )
    assert first.positions == again.positions


async def test_the_same_key_with_a_different_payload_is_refused(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    await store.append("community-shuyuan", [registered()], expected_version=NO_STREAM, idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused) as caught:
        await store.append("community-shuyuan", [renamed("other")], expected_version=ANY, idempotency_key="k")
    assert "k" == caught.value.key
    with pytest.raises(IdempotencyKeyReused):
        await store.append("community-elsewhere", [registered()], expected_version=ANY, idempotency_key="k")
    assert 1 == await count(owner)


async def test_read_all_pages_by_position_and_filters_by_type_and_prefix(store: EventStore) -> None:
    await store.append(
        "community-a", [registered("a"), renamed("a2", "a")], expected_version=ANY, idempotency_key="1"
    )
    await store.append(
        "town-gutang",
        [
            TownRegistered(
                town_id="gutang",
                city_id="cixi",
                name="古塘街道",
                kind=TownKind.SUBDISTRICT,
                registered_on=DAY,
            )
        ],
        expected_version=ANY,
        idempotency_key="2",
    )
    await store.append("community-b", [registered("b")], expected_version=ANY, idempotency_key="3")
    assert [1, 2, 3, 4] == [r.position for r in await store.read_all()]
    assert [3, 4] == [r.position for r in await store.read_all(after_position=2)]
    assert [1, 2] == [r.position for r in await store.read_all(limit=2)]
    assert [1, 4] == [r.position for r in await store.read_all(types=["CommunityRegistered"])]
    assert [3] == [r.position for r in await store.read_all(stream_prefix="town-")]
    # A prefix is a literal, not a LIKE pattern.
    assert [] == await store.read_all(stream_prefix="community_%")
    assert 4 == await store.head()


async def test_recorded_at_never_runs_backwards_even_when_the_clock_does(pool: asyncpg.Pool) -> None:
    moments = iter([datetime(2022, 6, 8, 12, tzinfo=UTC), datetime(2022, 6, 8, 11, tzinfo=UTC)])
    store = EventStore(pool, __import__("events.catalogue").catalogue.CATALOGUE, clock=lambda: next(moments))
    await store.append("community-a", [registered("a")], expected_version=ANY, idempotency_key="1")
    await store.append("community-b", [registered("b")], expected_version=ANY, idempotency_key="2")
    first, second = await store.read_all()
    assert first.recorded_at == second.recorded_at == datetime(2022, 6, 8, 12, tzinfo=UTC)
    await store.close()


@pytest.mark.parametrize(
    ("stream", "field"),
    [
        ("", "stream"),
        ("no_category", "stream"),
        ("Community-x", "stream"),
        ("community-" + "x" * 300, "stream"),
    ],
)
async def test_malformed_stream_ids_are_refused(store: EventStore, stream: str, field: str) -> None:
    with pytest.raises(InvalidAppend) as caught:
        await store.append(stream, [registered()], expected_version=ANY, idempotency_key="k")
    assert field == caught.value.field


@pytest.mark.parametrize("key", ["", "x" * 201, "tab\tkey", "nul\x00"])
async def test_malformed_idempotency_keys_are_refused(store: EventStore, key: str) -> None:
    with pytest.raises(InvalidAppend) as caught:
        await store.append("community-a", [registered()], expected_version=ANY, idempotency_key=key)
    assert "idempotency_key" == caught.value.field


async def test_bad_input_gets_a_clear_error_and_writes_nothing(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    with pytest.raises(InvalidAppend, match="at least one event"):
        await store.append("community-a", [], expected_version=ANY, idempotency_key="k1")
    with pytest.raises(InvalidAppend, match=f"at most {MAX_EVENTS_PER_APPEND}"):
        await store.append(
            "community-a",
            [registered()] * (MAX_EVENTS_PER_APPEND + 1),
            expected_version=ANY,
            idempotency_key="k2",
        )
    with pytest.raises(InvalidAppend, match="larger than"):
        await store.append(
            "community-a",
            [registered(name="名" * MAX_PAYLOAD_BYTES)],
            expected_version=ANY,
            idempotency_key="k3",
        )
    with pytest.raises(CodecError, match="U\\+0000"):
        await store.append(
            "community-a", [registered(name="a\x00b")], expected_version=ANY, idempotency_key="k4"
        )
    with pytest.raises(CodecError, match="surrogate"):
        await store.append(
            "community-a", [registered(name="\ud800")], expected_version=ANY, idempotency_key="k5"
        )
    with pytest.raises(CodecError, match="NaN"):
        await store.append(
            "community-a",
            [registered()],
            expected_version=ANY,
            idempotency_key="k6",
            metadata={"x": float("nan")},
        )
    with pytest.raises(InvalidAppend, match="metadata"):
        await store.append(
            "community-a",
            [registered()],
            expected_version=ANY,
            idempotency_key="k7",
            metadata={"x": "y" * 20000},
        )
    with pytest.raises(UnknownEventType):
        await store.append("community-a", [object()], expected_version=ANY, idempotency_key="k8")  # type: ignore[list-item]
    assert 0 == await count(owner)
    # And the store still works afterwards.
    assert [1] == list(
        (
            await store.append("community-a", [registered()], expected_version=ANY, idempotency_key="k9")
        ).positions
    )


async def test_bulk_import_continues_each_stream_and_the_log(store: EventStore) -> None:
    await store.append("community-a", [registered("a")], expected_version=ANY, idempotency_key="first")
    entries = [
        (f"community-{'ab'[i % 2]}", renamed(f"n{i}", "ab"[i % 2]), {"batch": "demo"}) for i in range(10)
    ]
    result = await store.bulk_import(entries, idempotency_key="import-1")
    assert range(2, 12) == result.positions
    assert 6 == await store.stream_version("community-a")
    assert 5 == await store.stream_version("community-b")
    replay = await store.bulk_import(entries, idempotency_key="import-1")
    assert (result.positions, True) == (replay.positions, replay.replayed)
    assert 11 == await store.head()
    after = await store.append(
        "community-b",
        [renamed("z", "b")],
        expected_version=ExpectedVersion.exactly(5),
        idempotency_key="after",
    )
    assert [12] == list(after.positions)


async def test_bulk_import_rows_are_canonical_and_hashed(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    await store.bulk_import([("community-a", registered("a"), {})] * 3, idempotency_key="imp")
    rows = await owner.fetch("select canonical, leaf_hash, position from events order by position")
    assert [1, 2, 3] == [r["position"] for r in rows]
    for row in rows:
        parse_canonical(row["canonical"])
        assert leaf_hash(row["canonical"]) == row["leaf_hash"]


async def test_bulk_import_with_a_bad_entry_writes_nothing(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    entries: list[tuple[str, Event, dict[str, JSON]]] = [
        ("community-a", registered("a"), {}),
        ("bad stream", registered("b"), {}),
    ]
    with pytest.raises(InvalidAppend) as caught:
        await store.bulk_import(entries, idempotency_key="imp")
    assert "entries[1].stream" == caught.value.field
    assert 0 == await count(owner)


async def test_a_caller_that_gives_up_does_not_lose_its_write(store: EventStore) -> None:
    import asyncio

    task = asyncio.ensure_future(
        store.append("community-a", [registered("a")], expected_version=ANY, idempotency_key="k")
    )
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The retry tells the caller what happened, once.
    retry = await store.append("community-a", [registered("a")], expected_version=ANY, idempotency_key="k")
    assert [1] == list(retry.positions)
    assert 1 == await store.head()


def test_timestamps_must_be_aware() -> None:
    from events.envelope import format_timestamp

    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2022, 1, 1))
    assert "2022-01-01T00:00:00.000000Z" == format_timestamp(
        datetime(2022, 1, 1, 8, tzinfo=UTC) + timedelta(hours=-8)
    )


async def test_bulk_import_with_a_bad_payload_midway_writes_nothing_and_names_it(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    entries: list[tuple[str, Event, dict[str, JSON]]] = [
        (f"community-c{n}", registered(f"c{n}", name="坏\x00名" if n == 700 else f"c{n}"), {})
        for n in range(1000)
    ]
    with pytest.raises(CodecError) as caught:
        await store.bulk_import(entries, idempotency_key="imp")
    assert "entries[700].name" == caught.value.path
    assert 0 == await count(owner)
    # The key was not remembered: the corrected import goes through under it.
    fixed = [
        (stream, event if n != 700 else registered("c700"), meta)
        for n, (stream, event, meta) in enumerate(entries)
    ]
    assert 1000 == (await store.bulk_import(fixed, idempotency_key="imp")).event_count
    with pytest.raises(IdempotencyKeyReused):
        await store.bulk_import(entries[:10], idempotency_key="imp")
