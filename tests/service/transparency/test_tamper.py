"""Tamper trials: a superuser edits the database behind the service's back (triggers off), the service
exports a bundle, and the offline verifier, holding only the key and an earlier checkpoint, rejects it and
names the first position concerned and what differs.

One log of 251 events over 13 streams is built once per module (imports and single appends, checkpoints
signed at 100, 180, 220 and 251 events, the projections caught up) and each test gets its own copy.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.codec import JSON, canonical_json
from events.envelope import ExpectedVersion, envelope_json
from events.merkle import leaf_hash
from events.note import VerifierKey
from events.registry import Event
from events.supervision import MeetingKind
from service.log.bulk import EVENT_COLUMNS
from service.log.pool import create_pool
from service.log.store import EventStore
from service.read.projector import Projector
from service.transparency.export import ExportError, export_bundle
from service.transparency.signer import (
    KeyPair,
    Signer,
    SigningKey,
    SigningRefused,
    generate_key,
    load_signing_key,
    write_key_pair,
)
from service.transparency.tree import LogTree
from service.transparency.verify import VerifyFailed, read_key, verify_bundle
from tests.support import domain
from tests.support.pg import create_database, drop_database, unique_name, with_database

COMMUNITIES = 10
YEARS = (2021, 2022)
# Checkpoints are signed when the log reaches each of these sizes; the last is the whole log.
CHECKPOINTS = (100, 180, 220, 251)
S1, S2, S3, SIZE = CHECKPOINTS
# The sealer stores 16-leaf subtrees: the last SIZE % 16 events are hashed from their leaves on demand.
SEALED = SIZE - SIZE % 16
FIRST_MOMENT = datetime(2023, 2, 1, 1, 0, tzinfo=UTC)
RANDOM_DB_TAMPERS = 40
RANDOM_FILE_TAMPERS = 240
SEED = 20230201
OFFSET = 1_000_000  # positions are moved out of the way through here, so no move collides with another

Entry = tuple[str, Event, dict[str, JSON]]


# -- the log ---------------------------------------------------------------------------------------------


def entries() -> list[Entry]:
    """Two towns, the standard, ten communities and two busy years of each, streams interleaved."""
    meta: dict[str, JSON] = {"actor": "clerk-0001"}
    log: list[Entry] = [
        ("town-t1", domain.town("t1", "古塘街道"), meta),
        ("town-t2", domain.town("t2", "浒山街道"), meta),
        ("standard-main", domain.standard(), meta),
    ]
    ids = [f"c{n}" for n in range(COMMUNITIES)]
    log += [
        (f"community-{c}", domain.community(c, f"t{n % 2 + 1}", village=n % 3 == 0), meta)
        for n, c in enumerate(ids)
    ]
    # The last three communities stop after the first year: their status differs from the others'.
    years = {
        c: [e for year in YEARS[: 1 if n >= 7 else 2] for e in domain.busy_year(c, year)]
        for n, c in enumerate(ids)
    }
    rounds = max(len(events) for events in years.values())
    for k in range(rounds):
        for n, c in enumerate(ids):
            if k < len(years[c]):
                log.append((f"community-{c}", years[c][k], {"actor": f"clerk-{n:04d}"}))
    return log


class Ticking:
    """A clock that moves a minute each time it is read, so every export of the same log is the same."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


class SeededIds:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def __call__(self) -> UUID:
        return UUID(int=self._random.getrandbits(128), version=4)


@dataclass(frozen=True, slots=True)
class Prepared:
    database: str
    key: KeyPair
    notes: dict[int, str]  # tree size -> the signed note


async def build(url: str, key_folder: Path, pair: KeyPair) -> dict[int, str]:
    """The log, a checkpoint signed at each of CHECKPOINTS, and the projections caught up."""
    log = entries()
    assert SIZE == len(log)
    pool = await create_pool(url, None, min_size=1, max_size=4)
    try:
        store = EventStore(pool, CATALOGUE, clock=Ticking(FIRST_MOMENT), new_id=SeededIds(SEED))
        private, _ = write_key_pair(key_folder / "log", pair)
        signer = Signer(pool, LogTree(pool), load_signing_key(str(private), key_folder))
        notes: dict[int, str] = {}
        done = 0
        for n, size in enumerate(CHECKPOINTS):
            if n % 2 == 0:
                await store.bulk_import(log[done:size], idempotency_key=f"import-{n}")
            else:
                for index in range(done, size):
                    stream, event, meta = log[index]
                    await store.append(
                        stream,
                        [event],
                        expected_version=ExpectedVersion.any(),
                        idempotency_key=f"append-{index}",
                        metadata=meta,
                    )
            done = size
            signed = await signer.sign()
            assert size == signed.checkpoint.size
            notes[size] = signed.note
        await store.close()
        await Projector(pool, CATALOGUE).catch_up()
    finally:
        await pool.close()
    return notes


@pytest.fixture(scope="module")
def prepared(
    admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prepared]:
    """A database holding the checkpointed, projected log, the template of each test's database."""
    name = unique_name("qinglian_tamper")
    url = asyncio.run(create_database(admin_url, name, template=template_db))
    pair = generate_key("tamper.example/log")
    notes = asyncio.run(build(url, tmp_path_factory.mktemp("key"), pair))
    yield Prepared(name, pair, notes)
    asyncio.run(drop_database(admin_url, name))


@pytest.fixture
def database_url(admin_url: str, prepared: Prepared) -> Iterator[str]:
    """A fresh copy of the prepared log for one test."""
    name = unique_name("qinglian_t")
    asyncio.run(create_database(admin_url, name, template=prepared.database))
    yield with_database(admin_url, name)
    asyncio.run(drop_database(admin_url, name))


@pytest.fixture
def key(prepared: Prepared) -> VerifierKey:
    """The verifier key the inspector holds."""
    return read_key(prepared.key.verifier_text)


@pytest.fixture
def signing_key(prepared: Prepared, tmp_path: Path) -> SigningKey:
    """The signing key (mode 0600) and its memory of the last checkpoint it signed."""
    private, _ = write_key_pair(tmp_path / "log", prepared.key)
    (tmp_path / "log.last-checkpoint").write_text(prepared.notes[SIZE], encoding="utf-8")
    return load_signing_key(str(private), tmp_path)


@pytest.fixture
async def tamperer(owner: asyncpg.Connection) -> asyncpg.Connection:
    """The owner as a determined insider: the append-only triggers off (they are not ENABLE ALWAYS
    triggers) and the check that a leaf hash is the hash of its bytes dropped."""
    await owner.execute("set session_replication_role = replica")
    await owner.execute("alter table events drop constraint events_leaf_hash_matches_check")
    return owner


# -- tampering -------------------------------------------------------------------------------------------


async def canonical(conn: asyncpg.Connection, position: int) -> bytes:
    value: bytes = await conn.fetchval("select canonical from events where position = $1", position)
    return value


async def set_canonical(conn: asyncpg.Connection, position: int, data: bytes, *, rehash: bool) -> None:
    if rehash:
        await conn.execute(
            "update events set canonical = $2, leaf_hash = $3 where position = $1",
            position,
            data,
            leaf_hash(data),
        )
    else:
        await conn.execute("update events set canonical = $2 where position = $1", position, data)


async def shift(conn: asyncpg.Connection, first: int, by: int) -> None:
    """Move every event at or after `first` by `by` positions (through OFFSET, so none collide)."""
    await conn.execute("update events set position = position + $2 where position >= $1", first, OFFSET)
    await conn.execute(
        "update events set position = position - $1::bigint + $2::bigint where position >= $1::bigint",
        OFFSET,
        by,
    )


async def drop_checkpoints_after(conn: asyncpg.Connection, size: int) -> None:
    await conn.execute("delete from checkpoints where tree_size > $1", size)


def with_position(data: bytes, old: int, new: int) -> bytes:
    marker = f',"position":{old},'.encode()
    assert 1 == data.count(marker)
    return data.replace(marker, f',"position":{new},'.encode())


def forged_row(
    position: int, stream_id: str, version: int, event: Event, recorded_at: datetime
) -> tuple[object, ...]:
    """An events row as the store would write it: canonical envelope, leaf hash and all."""
    type_, schema_version, payload_json = CATALOGUE.encode_canonical(event)
    metadata_json = canonical_json({"actor": "clerk-0001"})
    event_id = UUID(int=position, version=4)
    data = envelope_json(
        position=position,
        stream_id=stream_id,
        stream_version=version,
        event_id=event_id,
        type_=type_,
        schema_version=schema_version,
        payload_json=payload_json,
        metadata_json=metadata_json,
        recorded_at=recorded_at,
    ).encode()
    return (
        position,
        stream_id,
        version,
        event_id,
        type_,
        schema_version,
        payload_json,
        metadata_json,
        data,
        leaf_hash(data),
        recorded_at,
    )


async def insert_rows(conn: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    await conn.copy_records_to_table("events", records=rows, columns=EVENT_COLUMNS)


def title_offset(data: bytes) -> int:
    """The offset of the first character of the payload's title (free text: any letter will do)."""
    marker = b'"title":"'
    at = data.index(marker, data.index(b',"payload":')) + len(marker)
    assert at < data.index(b',"position":')
    return at


def one_byte_changed(data: bytes, offset: int) -> bytes:
    # Flipping the lowest bit keeps an ASCII letter or digit a letter or digit: still canonical JSON.
    return data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1 :]


# -- checking --------------------------------------------------------------------------------------------


async def rejected(pool: asyncpg.Pool, folder: Path, key: VerifierKey, previous: str) -> VerifyFailed:
    """Export, then verify against `previous`: the verifier must refuse; its failure is returned."""
    await export_bundle(pool, folder)
    with pytest.raises(VerifyFailed) as failed:
        verify_bundle(folder, key, previous_note=previous)
    return failed.value


async def test_the_untouched_log_verifies_against_every_earlier_checkpoint(
    pool: asyncpg.Pool, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    await export_bundle(pool, tmp_path / "bundle")
    for size in CHECKPOINTS:
        verified = verify_bundle(tmp_path / "bundle", key, previous_note=prepared.notes[size])
        assert SIZE == verified.checkpoint.size
        assert [] == verified.notes
    assert verified.rows is not None
    assert {True, False} == {row.standardized for row in verified.rows}


# -- 1. one byte of a payload ----------------------------------------------------------------------------


@pytest.mark.parametrize("position", [15, 185, 245])
async def test_a_changed_payload_byte_is_named_exactly_when_the_stored_leaf_hash_was_left(
    pool: asyncpg.Pool,
    tamperer: asyncpg.Connection,
    prepared: Prepared,
    key: VerifierKey,
    tmp_path: Path,
    position: int,
) -> None:
    original = await canonical(tamperer, position)
    signed = leaf_hash(original)
    await set_canonical(tamperer, position, one_byte_changed(original, title_offset(original)), rehash=False)

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert position == failure.position
    assert f"not those that were signed (signed leaf hash {signed.hex()}" in failure.message


@pytest.mark.parametrize(("position", "block"), [(15, (1, 16)), (185, (177, 192))])
async def test_a_changed_payload_byte_with_its_leaf_hash_recomputed_is_placed_in_its_sealed_block(
    pool: asyncpg.Pool,
    tamperer: asyncpg.Connection,
    prepared: Prepared,
    key: VerifierKey,
    tmp_path: Path,
    position: int,
    block: tuple[int, int],
) -> None:
    original = await canonical(tamperer, position)
    await set_canonical(tamperer, position, one_byte_changed(original, title_offset(original)), rehash=True)

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    # The tree sealed when the events were written still folds to the signed root: it names the 16.
    assert block[0] == failure.position
    assert f"an event between positions {block[0]} and {block[1]} is not the one signed" in failure.message


@pytest.mark.parametrize(("position", "good", "bad"), [(15, 0, S1), (185, S2, S3), (245, S3, SIZE)])
async def test_a_changed_byte_with_its_leaf_hash_and_the_tree_rewritten_is_placed_between_two_checkpoints(
    pool: asyncpg.Pool,
    tamperer: asyncpg.Connection,
    prepared: Prepared,
    key: VerifierKey,
    tmp_path: Path,
    position: int,
    good: int,
    bad: int,
) -> None:
    original = await canonical(tamperer, position)
    await set_canonical(tamperer, position, one_byte_changed(original, title_offset(original)), rehash=True)
    # The careful forger reseals the tree too: the stored subtrees then fold to another root.
    await tamperer.execute("delete from merkle_nodes")
    await LogTree(pool).seal()

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert good + 1 == failure.position
    assert f"between positions {good + 1} and {bad} was changed" in failure.message


# -- 2. a deleted event ----------------------------------------------------------------------------------


async def test_a_deleted_event_leaving_a_gap_is_refused_by_the_export_and_named_by_the_verifier(
    pool: asyncpg.Pool, tamperer: asyncpg.Connection, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    await tamperer.execute("delete from events where position = 150")

    with pytest.raises(ExportError, match=r"the log has no event at position 150 \(the next is at 151\)"):
        await export_bundle(pool, tmp_path / "bundle")
    # Whoever ships the files the export wrote before it stopped fares no better.
    with pytest.raises(VerifyFailed) as failed:
        verify_bundle(tmp_path / "bundle", key, previous_note=prepared.notes[S1])

    assert 150 == failed.value.position
    assert f"events 150 to {SIZE} are missing" in failed.value.message


async def test_a_deleted_event_with_the_gap_closed_is_named_by_position(
    pool: asyncpg.Pool, tamperer: asyncpg.Connection, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    await tamperer.execute("delete from events where position = 150")
    await shift(tamperer, 151, -1)
    # The newest checkpoint covers one event more than the log now holds: it goes too.
    await drop_checkpoints_after(tamperer, S3)

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert 150 == failure.position
    assert "holds the event recorded at position 151: events are missing" in failure.message


async def test_a_deleted_event_with_later_events_renumbered_and_rehashed_is_placed_between_two_checkpoints(
    pool: asyncpg.Pool, tamperer: asyncpg.Connection, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    stream: str = await tamperer.fetchval("select stream_id from events where position = 150")
    await tamperer.execute("delete from events where position = 150")
    await shift(tamperer, 151, -1)
    # The stream's later versions close up too, so every envelope is consistent again.
    for by in (OFFSET, -OFFSET - 1):  # through OFFSET, so no version collides with another on the way
        await tamperer.execute(
            "update events set stream_version = stream_version + $2::bigint "
            "where stream_id = $1 and position >= 150",
            stream,
            by,
        )
    for position in range(150, SIZE):
        data = with_position(await canonical(tamperer, position), position + 1, position)
        version: int = await tamperer.fetchval(
            "select stream_version from events where position = $1 and stream_id = $2", position, stream
        )
        if version is not None:
            data = data.replace(
                f',"stream_version":{version + 1},'.encode(), f',"stream_version":{version},'.encode()
            )
        await set_canonical(tamperer, position, data, rehash=True)
    await drop_checkpoints_after(tamperer, S3)

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert S1 + 1 == failure.position
    assert f"between positions {S1 + 1} and {S2} was changed, removed or added" in failure.message


# -- 3. two events swapped -------------------------------------------------------------------------------


async def test_two_events_swapped_by_position_are_named_at_the_first(
    pool: asyncpg.Pool, tamperer: asyncpg.Connection, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    await tamperer.execute("update events set position = $2 where position = $1", 120, OFFSET)
    await tamperer.execute("update events set position = $2 where position = $1", 130, 120)
    await tamperer.execute("update events set position = $2 where position = $1", OFFSET, 130)

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert 120 == failure.position
    assert "holds the event recorded at position 130" in failure.message


async def test_two_events_swapped_by_their_bytes_are_named_at_the_first(
    pool: asyncpg.Pool, tamperer: asyncpg.Connection, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    first, second = await canonical(tamperer, 120), await canonical(tamperer, 130)
    await set_canonical(tamperer, 120, second, rehash=False)
    await set_canonical(tamperer, 130, first, rehash=False)

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert 120 == failure.position
    assert "holds the event recorded at position 130" in failure.message


# -- 4. a forged event inserted --------------------------------------------------------------------------


async def test_a_forged_event_inserted_in_the_middle_is_named_by_position(
    pool: asyncpg.Pool, tamperer: asyncpg.Connection, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    before = await tamperer.fetchval("select recorded_at from events where position = 149")
    await shift(tamperer, 150, 1)
    forged = domain.community("c99", "t1")
    await insert_rows(tamperer, [forged_row(150, "community-c99", 1, forged, before)])

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert 150 == failure.position
    assert "the line at position 151 holds the event recorded at position 150 too" in failure.message
    assert "events were inserted at or after position 150" in failure.message


async def test_a_forged_event_inserted_with_later_events_renumbered_and_rehashed_is_placed_in_a_range(
    pool: asyncpg.Pool, tamperer: asyncpg.Connection, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    before = await tamperer.fetchval("select recorded_at from events where position = 149")
    await shift(tamperer, 150, 1)
    for position in range(151, SIZE + 2):
        data = with_position(await canonical(tamperer, position), position - 1, position)
        await set_canonical(tamperer, position, data, rehash=True)
    await insert_rows(tamperer, [forged_row(150, "community-c99", 1, domain.community("c99", "t1"), before)])

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert S1 + 1 == failure.position
    assert f"between positions {S1 + 1} and {S2} was changed, removed or added" in failure.message


# -- 5. the tail truncated and rewritten -----------------------------------------------------------------


@pytest.mark.parametrize("rewritten", [SIZE - S3, 3])
async def test_a_tail_rewritten_by_a_careful_forger_is_placed_after_the_last_checkpoint_it_keeps(
    pool: asyncpg.Pool,
    tamperer: asyncpg.Connection,
    prepared: Prepared,
    key: VerifierKey,
    tmp_path: Path,
    rewritten: int,
) -> None:
    await tamperer.execute("delete from events where position > $1", SIZE - rewritten)
    # The service's own writer gives the forgeries their positions, stream versions, times and leaf hashes.
    store = EventStore(pool, CATALOGUE, clock=Ticking(FIRST_MOMENT + timedelta(days=1)))
    for n in range(rewritten):
        event = domain.meeting(f"c{n % COMMUNITIES}", MeetingKind.REPRESENTATIVES, domain.START)
        await store.append(
            f"community-c{n % COMMUNITIES}",
            [event],
            expected_version=ExpectedVersion.any(),
            idempotency_key=f"forged-{n}",
        )
    await store.close()
    assert SIZE == await tamperer.fetchval("select max(position) from events")

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert S3 + 1 == failure.position
    assert f"between positions {S3 + 1} and {SIZE} was changed, removed or added" in failure.message


# -- 6. a projection edited ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "done", "difference"),
    [
        # c1's newest finance disclosure (2022-Q4) vanishes from its records: it no longer meets "finance".
        (
            "delete from disclosures where community_id = 'c1' "
            "and position = (select max(position) from disclosures where community_id = 'c1')",
            "DELETE 1",
            "community c1: met is 1 in the projection, 2 in the log",
        ),
        (
            "update community_names set name = '清廉社区' where community_id = 'c1' "
            "and position = (select min(position) from community_names where community_id = 'c1')",
            "UPDATE 1",
            "community c1: name is '清廉社区' in the projection",
        ),
    ],
)
async def test_an_edited_projection_is_named_by_community_and_field(
    pool: asyncpg.Pool,
    tamperer: asyncpg.Connection,
    prepared: Prepared,
    key: VerifierKey,
    tmp_path: Path,
    edit: str,
    done: str,
    difference: str,
) -> None:
    assert done == await tamperer.execute(edit)

    failure = await rejected(pool, tmp_path / "bundle", key, prepared.notes[S1])

    assert failure.position is None  # the log is intact: no event is to blame
    assert f"the service's projections do not follow from the log: {difference}" in failure.message


# -- the signer ------------------------------------------------------------------------------------------


async def remove_the_last_event(tamperer: asyncpg.Connection, store: EventStore) -> None:
    await tamperer.execute("delete from events where position = $1", SIZE)


async def rehash_an_unsealed_event(tamperer: asyncpg.Connection, store: EventStore) -> None:
    original = await canonical(tamperer, SEALED + 5)
    await set_canonical(tamperer, SEALED + 5, one_byte_changed(original, title_offset(original)), rehash=True)


async def rehash_an_unsealed_event_then_append(tamperer: asyncpg.Connection, store: EventStore) -> None:
    await rehash_an_unsealed_event(tamperer, store)
    for n in range(20):
        await store.append(
            "community-c0",
            [domain.meeting("c0", MeetingKind.COUNCIL, domain.START + timedelta(days=n))],
            expected_version=ExpectedVersion.any(),
            idempotency_key=f"later-{n}",
        )


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (remove_the_last_event, f"the log has {SIZE - 1} events, fewer than the {SIZE} this key signed"),
        (
            rehash_an_unsealed_event,
            f"the tree of {SIZE} events has another root than the one this key signed",
        ),
        (
            rehash_an_unsealed_event_then_append,
            f"the tree of {SIZE + 20} events does not extend the tree of {SIZE} this key signed",
        ),
    ],
)
async def test_the_signer_refuses_to_sign_a_tampered_tree(
    pool: asyncpg.Pool,
    store: EventStore,
    tamperer: asyncpg.Connection,
    signing_key: SigningKey,
    tamper: Callable[[asyncpg.Connection, EventStore], Awaitable[None]],
    reason: str,
) -> None:
    await tamper(tamperer, store)
    await store.close()
    signed_before = await tamperer.fetchval("select count(*) from checkpoints")

    with pytest.raises(SigningRefused) as refused:
        await Signer(pool, LogTree(pool), signing_key).sign()

    assert refused.value.reason.startswith(reason)
    assert signed_before == await tamperer.fetchval("select count(*) from checkpoints")


# -- 7. randomized single-byte tampers --------------------------------------------------------------------


def new_byte(chance: random.Random, old: int) -> int:
    """Any other byte; half the time a printable ASCII one, which more often leaves the line valid JSON."""
    choices = range(0x20, 0x7F) if chance.random() < 0.5 else range(256)
    return chance.choice([b for b in choices if b != old])


async def test_every_random_byte_changed_in_the_database_is_named_by_position(
    pool: asyncpg.Pool, tamperer: asyncpg.Connection, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    chance = random.Random(SEED)
    misses: list[str] = []
    for trial in range(RANDOM_DB_TAMPERS):
        position = chance.randint(1, SIZE)
        original = await canonical(tamperer, position)
        offset = chance.randrange(len(original))
        new = new_byte(chance, original[offset])
        await set_canonical(
            tamperer, position, original[:offset] + bytes([new]) + original[offset + 1 :], rehash=False
        )
        previous = prepared.notes[chance.choice(CHECKPOINTS)]
        failure = await rejected(pool, tmp_path / f"bundle-{trial}", key, previous)
        if failure.position != position:
            misses.append(f"position {position} byte {offset} {original[offset]:#04x}->{new:#04x}: {failure}")
        await set_canonical(tamperer, position, original, rehash=False)
        shutil.rmtree(tmp_path / f"bundle-{trial}")
    assert [] == misses


async def test_every_random_byte_changed_in_an_exported_bundle_is_named_by_position(
    pool: asyncpg.Pool, prepared: Prepared, key: VerifierKey, tmp_path: Path
) -> None:
    folder = tmp_path / "bundle"
    await export_bundle(pool, folder)
    events = folder / "events.jsonl"
    exported = events.read_bytes()
    starts = [0, *(at + 1 for at, byte in enumerate(exported) if byte == ord("\n"))]
    chance = random.Random(SEED + 1)
    misses: list[str] = []
    for _ in range(RANDOM_FILE_TAMPERS):
        position = chance.randint(1, SIZE)
        # Any byte of the line, its newline included.
        offset = chance.randrange(starts[position - 1], starts[position])
        new = new_byte(chance, exported[offset])
        events.write_bytes(exported[:offset] + bytes([new]) + exported[offset + 1 :])
        previous = prepared.notes[chance.choice(CHECKPOINTS)]
        with pytest.raises(VerifyFailed) as failed:
            verify_bundle(folder, key, previous_note=previous)
        if failed.value.position != position:
            misses.append(
                f"position {position} byte {offset}: {exported[offset]:#04x}->{new:#04x}: {failed.value}"
            )
    assert [] == misses
