"""Restricted text through the commands and the log: sealed with a random salt, held beside the log in the
same statement as the event, retried without a second copy, checked before it is written, and erasable
only by an administrator, with an Erased event to show for it."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from events.access import Role
from events.catalogue import CATALOGUE
from events.envelope import ExpectedVersion
from events.erasure import Erased, ErasedField
from events.errors import IdempotencyKeyReused, InvalidAppend, ValidationError
from events.sealing import SALT_BYTES, Opening, seal
from events.supervision import ReportReceived
from projections.access import Principal
from projections.decisions import MAX_TEXT
from service.commands.erasure import ErasureError, erase
from service.commands.handler import Commands
from service.commands.recording import NotAllowed
from service.log.bulk import Entry
from service.log.store import EventStore
from service.read.projector import Projector
from tests.support import domain
from tests.support.principals import ADMIN, INSPECTOR, clerk

NOW = datetime(2022, 6, 8, 2, 0, tzinfo=UTC)
TEXT = "张三 13800138000 反映停车位分配不公开"


@pytest.fixture
def commands(store: EventStore) -> Commands:
    return Commands(store, CATALOGUE, clock=lambda: NOW)


async def setup(commands: Commands) -> None:
    await commands.record(domain.town("gutang"), idempotency_key="town")
    await commands.record(domain.community("shuyuan", "gutang"), idempotency_key="reg")


def report(summary: Any = TEXT, report_id: str = "r-1") -> dict[str, Any]:
    return {
        "community_id": "shuyuan",
        "report_id": report_id,
        "received_on": "2022-05-06",
        "channel": "hotline",
        "summary": summary,
    }


async def held(owner: asyncpg.Connection) -> list[asyncpg.Record]:
    return await owner.fetch("select position, field, salt, value, erased_by from restricted_values")


async def event_at(owner: asyncpg.Connection, position: int) -> asyncpg.Record:
    row = await owner.fetchrow(
        "select payload::text, canonical, leaf_hash from events where position = $1", position
    )
    assert row is not None
    return row


async def test_a_summary_is_sealed_and_its_text_kept_beside_the_log(
    commands: Commands, owner: asyncpg.Connection
) -> None:
    await setup(commands)
    result = await commands.submit("ReportReceived", report(), idempotency_key="k")
    [row] = await held(owner)
    assert (result.positions[0], "summary", TEXT, None) == (
        row["position"],
        row["field"],
        row["value"],
        row["erased_by"],
    )
    assert SALT_BYTES == len(row["salt"])
    stored = await event_at(owner, result.positions[0])
    commitment = hashlib.sha256(row["salt"] + TEXT.encode()).hexdigest()
    assert f'"summary": {{"commitment": "{commitment}"}}' in stored["payload"]
    assert TEXT.encode() not in stored["canonical"]
    assert "张三" not in stored["payload"]


async def test_two_reports_with_the_same_text_get_different_salts_and_commitments(
    commands: Commands, owner: asyncpg.Connection
) -> None:
    await setup(commands)
    await commands.submit("ReportReceived", report(report_id="r-1"), idempotency_key="k1")
    await commands.submit("ReportReceived", report(report_id="r-2"), idempotency_key="k2")
    first, second = await held(owner)
    assert first["salt"] != second["salt"]
    assert TEXT == first["value"] == second["value"]


async def test_a_retry_answers_the_first_result_and_keeps_one_copy_of_the_text(
    commands: Commands, owner: asyncpg.Connection
) -> None:
    await setup(commands)
    first = await commands.submit("ReportReceived", report(), idempotency_key="k")
    again = await commands.submit("ReportReceived", report(), idempotency_key="k")
    assert (first.first_position, False, True) == (again.first_position, first.replayed, again.replayed)
    assert 1 == len(await held(owner))


async def test_concurrent_retries_of_one_sealed_command_write_it_once(
    commands: Commands, owner: asyncpg.Connection
) -> None:
    await setup(commands)
    results = await asyncio.gather(
        *(commands.submit("ReportReceived", report(), idempotency_key="same") for _ in range(8))
    )
    assert 1 == len({r.first_position for r in results})
    assert 1 == sum(not r.replayed for r in results)
    assert 1 == len(await held(owner))
    assert 1 == await owner.fetchval("select count(*) from events where type = 'ReportReceived'")


async def test_the_same_key_with_other_text_is_refused(commands: Commands, owner: asyncpg.Connection) -> None:
    await setup(commands)
    await commands.submit("ReportReceived", report(), idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused):
        await commands.submit("ReportReceived", report(summary=TEXT + "!"), idempotency_key="k")
    assert [TEXT] == [r["value"] for r in await held(owner)]


@pytest.mark.parametrize(
    ("summary", "words"),
    [
        ("", "must be 1 to 2000 characters"),
        ("   \n\t", "must be 1 to 2000 characters"),
        ("长" * (MAX_TEXT + 1), "must be 1 to 2000 characters"),
        (None, "must be text"),
        (42, "must be text"),
        ({"commitment": "ab" * 32}, "must be text"),
    ],
)
async def test_bad_text_is_refused_naming_the_field_and_nothing_is_written(
    commands: Commands, owner: asyncpg.Connection, summary: Any, words: str
) -> None:
    await setup(commands)
    before = await owner.fetchval("select count(*) from events")
    with pytest.raises(ValidationError) as caught:
        await commands.submit("ReportReceived", report(summary=summary), idempotency_key="bad")
    assert [("summary", words)] == caught.value.errors
    assert before == await owner.fetchval("select count(*) from events")
    assert [] == await held(owner)


async def test_the_log_refuses_a_commitment_without_its_value_or_with_another(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    sealed, opening = seal("summary", TEXT, bytes(SALT_BYTES))
    event = ReportReceived(
        community_id="shuyuan", report_id="r", received_on=date(2022, 5, 6), channel="hotline", summary=sealed
    )
    wrong = Opening("summary", bytes(SALT_BYTES), TEXT + "?")
    attempts: list[Any] = [
        None,
        [[]],
        [[wrong]],
        [[opening, opening]],
        [[Opening("note", opening.salt, TEXT)]],
    ]
    for openings in attempts:
        with pytest.raises(InvalidAppend):
            await store.append(
                "community-shuyuan",
                [event],
                expected_version=ExpectedVersion.any(),
                idempotency_key="raw",
                openings=openings,
            )
    with pytest.raises(InvalidAppend):
        await store.bulk_import([("community-shuyuan", event, {}, [wrong])], idempotency_key="bulk")
    assert 0 == await owner.fetchval("select count(*) from events")
    assert [] == await held(owner)
    done = await store.append(
        "community-shuyuan",
        [event],
        expected_version=ExpectedVersion.any(),
        idempotency_key="raw",
        openings=[[opening]],
    )
    assert [(done.first_position, TEXT)] == [(r["position"], r["value"]) for r in await held(owner)]


async def test_a_bulk_import_writes_the_text_beside_its_events(
    store: EventStore, owner: asyncpg.Connection
) -> None:
    entries: list[Entry] = []
    for n in range(3):
        sealed, opening = seal("summary", f"{TEXT} {n}", bytes([n]) * SALT_BYTES)
        event = ReportReceived(
            community_id="shuyuan",
            report_id=f"r{n}",
            received_on=date(2022, 5, 6),
            channel="c",
            summary=sealed,
        )
        entries.append(("community-shuyuan", event, {}, (opening,)))
    result = await store.bulk_import([("community-x", domain.town("x"), {}), *entries], idempotency_key="imp")
    rows = await held(owner)
    assert [result.first_position + 1 + n for n in range(3)] == [r["position"] for r in rows]
    assert [f"{TEXT} {n}" for n in range(3)] == [r["value"] for r in rows]


async def test_the_service_role_may_erase_a_value_but_never_rewrite_or_delete_one(
    commands: Commands, pool: asyncpg.Pool
) -> None:
    await setup(commands)
    await commands.submit("ReportReceived", report(), idempotency_key="k")
    refused = [
        "update restricted_values set value = 'another text'",
        "update restricted_values set salt = null, value = null, erased_by = null",
        "delete from restricted_values",
        "truncate restricted_values",
    ]
    for statement in refused:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute(statement)
    assert [TEXT] == [r["value"] for r in await pool.fetch("select value from restricted_values")]


# -- erasure -----------------------------------------------------------------------------------------------


async def reported_and_closed(commands: Commands) -> tuple[int, int]:
    await setup(commands)
    received = await commands.submit("ReportReceived", report(), idempotency_key="k")
    closed = await commands.submit(
        "ReportClosed",
        {"community_id": "shuyuan", "report_id": "r-1", "closed_on": "2022-05-20", "outcome": "已答复张三"},
        idempotency_key="c",
    )
    return received.first_position, closed.first_position


async def erasing(commands: Commands, pool: asyncpg.Pool, principal: Principal = ADMIN, **given: Any) -> Any:
    arguments: dict[str, Any] = {"record_id": "r-1", "reason": "the reporter asked to be forgotten"} | given
    return await erase(commands, pool, principal=principal, today=date(2022, 6, 8), **arguments)


async def test_erasing_forgets_the_salts_and_values_and_records_why(
    commands: Commands, pool: asyncpg.Pool, owner: asyncpg.Connection, store: EventStore
) -> None:
    received, closed = await reported_and_closed(commands)
    before = {p: await event_at(owner, p) for p in (received, closed)}
    done = await erasing(commands, pool)
    assert ("shuyuan", "r-1") == (done.community_id, done.record_id)
    assert [(received, "summary"), (closed, "outcome")] == [(f.position, f.field) for f in done.fields]
    rows = await held(owner)
    assert [(received, None, None, done.position), (closed, None, None, done.position)] == [
        (r["position"], r["salt"], r["value"], r["erased_by"]) for r in rows
    ]
    # The log itself is untouched: the same bytes, the same leaf hashes.
    assert before == {p: await event_at(owner, p) for p in (received, closed)}
    [erased] = await store.read_all(after_position=done.position - 1)
    assert ("Erased", "community-shuyuan") == (erased.type, erased.stream_id)
    assert "the reporter asked to be forgotten" == erased.payload["reason"]
    assert ADMIN.actor() == erased.metadata["actor"]
    assert "张三" not in erased.canonical.decode()


async def test_erasing_again_finds_nothing_left_and_writes_nothing(
    commands: Commands, pool: asyncpg.Pool, store: EventStore
) -> None:
    await reported_and_closed(commands)
    await erasing(commands, pool)
    head = await store.head()
    again = await erasing(commands, pool, reason="asked twice")
    assert (None, ()) == (again.position, again.fields)
    assert head == await store.head()


async def test_only_an_administrator_may_erase(
    commands: Commands, pool: asyncpg.Pool, store: EventStore
) -> None:
    await reported_and_closed(commands)
    head = await store.head()
    integrator = Principal(kind="token", id="i", label="i", role=Role.INTEGRATOR)
    for principal in (INSPECTOR, clerk("shuyuan"), integrator):
        with pytest.raises(NotAllowed):
            await erasing(commands, pool, principal)
    assert head == await store.head()


async def test_an_erasure_needs_a_known_record_and_a_reason(
    commands: Commands, pool: asyncpg.Pool, owner: asyncpg.Connection
) -> None:
    await reported_and_closed(commands)
    with pytest.raises(ErasureError, match="no report or finding 'r-404'"):
        await erasing(commands, pool, record_id="r-404")
    with pytest.raises(ErasureError, match="in community 'elsewhere'"):
        await erasing(commands, pool, community_id="elsewhere")
    with pytest.raises(ValidationError) as caught:
        await erasing(commands, pool, reason="  ")
    assert ["reason"] == [field for field, _ in caught.value.errors]
    assert 2 == len([r for r in await held(owner) if r["value"] is not None])


async def test_an_id_used_in_two_communities_must_be_told_apart(
    commands: Commands, pool: asyncpg.Pool, owner: asyncpg.Connection
) -> None:
    await reported_and_closed(commands)
    await commands.record(domain.community("yubo", "gutang"), idempotency_key="reg-yubo")
    await commands.submit("ReportReceived", {**report(), "community_id": "yubo"}, idempotency_key="y")
    with pytest.raises(ErasureError, match="shuyuan, yubo: say which with --community"):
        await erasing(commands, pool)
    done = await erasing(commands, pool, community_id="yubo")
    assert "yubo" == done.community_id
    assert [TEXT, "已答复张三", None] == [r["value"] for r in await held(owner)]


async def test_the_projector_carries_out_an_erasure_the_erase_command_did_not_finish(
    commands: Commands, pool: asyncpg.Pool, owner: asyncpg.Connection, store: EventStore
) -> None:
    """A crash between recording the Erased event and forgetting the values: the projector forgets them."""
    received, _ = await reported_and_closed(commands)
    event = Erased(
        community_id="shuyuan",
        record_id="r-1",
        erased_on=date(2022, 6, 8),
        reason="crash test",
        fields=(ErasedField(received, "summary"),),
    )
    written = await commands.record(event, idempotency_key="erase-by-hand")
    assert TEXT in [r["value"] for r in await held(owner)]
    await Projector(pool, CATALOGUE).catch_up()
    rows = {r["position"]: r for r in await held(owner)}
    assert (None, None, written.first_position) == (
        rows[received]["salt"],
        rows[received]["value"],
        rows[received]["erased_by"],
    )
    assert rows[received + 1]["value"] is not None  # the outcome was not named: it is kept
