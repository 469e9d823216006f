"""The checkpoint signer: keys made safely, checkpoints that verify, and no signature on a forked log."""

from __future__ import annotations

import stat
from pathlib import Path

import asyncpg
import pytest

from events.merkle import root
from events.note import open_note, parse_checkpoint_body, parse_verifier_key
from service.log.store import EventStore
from service.transparency.signer import (
    Signer,
    SigningKey,
    SigningKeyError,
    SigningRefused,
    generate_key,
    latest_checkpoint,
    latest_note,
    load_signing_key,
    write_key_pair,
)
from service.transparency.tree import LogTree
from tests.support.logs import fill, signing_key

ORIGIN = "qinglian.example/log"


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return signing_key(tmp_path, ORIGIN)


def test_keygen_writes_a_private_key_only_its_owner_can_read_and_a_c2sp_verifier_key(tmp_path: Path) -> None:
    pair = generate_key(ORIGIN)
    private, public = write_key_pair(tmp_path / "log", pair)
    assert 0o600 == stat.S_IMODE(private.stat().st_mode)
    verifier = parse_verifier_key(public.read_text().strip())
    assert ORIGIN == verifier.name
    assert verifier == load_signing_key(str(private), tmp_path).signer.verifier


def test_keygen_never_overwrites_a_key(tmp_path: Path) -> None:
    write_key_pair(tmp_path / "log", generate_key(ORIGIN))
    with pytest.raises(SigningKeyError, match="already exists"):
        write_key_pair(tmp_path / "log", generate_key(ORIGIN))


@pytest.mark.parametrize("origin", ["", "has space", "plus+sign"])
def test_keygen_refuses_an_origin_a_key_name_cannot_be(origin: str) -> None:
    with pytest.raises(SigningKeyError, match="--origin"):
        generate_key(origin)


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    private, _ = write_key_pair(tmp_path / "log", generate_key(ORIGIN))
    private.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_signing_key(str(private), tmp_path)


@pytest.mark.parametrize("text", ["PRIVATE+KEY+x+y+z", "not a key at all"])
def test_a_malformed_key_is_refused_by_name(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match="not a C2SP signer key"):
        load_signing_key(str(path) if text.startswith("not") else text, tmp_path)


def test_the_public_key_given_for_signing_is_named_as_such(tmp_path: Path) -> None:
    _, public = write_key_pair(tmp_path / "log", generate_key(ORIGIN))
    with pytest.raises(SigningKeyError, match=r"is a public \(verifier\) key; signing takes the private key"):
        load_signing_key(str(public), tmp_path)


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="cannot read the signing key"):
        load_signing_key(str(tmp_path / "absent.key"), tmp_path)


async def test_a_checkpoint_states_the_logs_size_and_root_and_verifies_with_the_public_key(
    pool: asyncpg.Pool, store: EventStore, owner: asyncpg.Connection, key: SigningKey
) -> None:
    await fill(store, 40, "a")
    signed = await Signer(pool, LogTree(pool), key).sign()
    text, signers = open_note(signed.note, [key.signer.verifier])
    checkpoint = parse_checkpoint_body(text)
    leaves = [r[0] for r in await owner.fetch("select leaf_hash from events order by position")]
    assert (ORIGIN, 40, root(leaves)) == (checkpoint.origin, checkpoint.size, checkpoint.root)
    assert [ORIGIN] == signers
    assert signed.note == await latest_note(pool)
    assert signed.note == key.state_path.read_text()


async def test_signing_again_with_nothing_new_gives_the_same_checkpoint(
    pool: asyncpg.Pool, store: EventStore, owner: asyncpg.Connection, key: SigningKey
) -> None:
    await fill(store, 20, "a")
    signer = Signer(pool, LogTree(pool), key)
    first = await signer.sign()
    assert first.note == (await signer.sign()).note
    assert 1 == await owner.fetchval("select count(*) from checkpoints")


async def test_a_grown_log_is_signed_after_its_consistency_is_proved(
    pool: asyncpg.Pool, store: EventStore, key: SigningKey
) -> None:
    signer = Signer(pool, LogTree(pool), key)
    await fill(store, 20, "a")
    await signer.sign()
    await fill(store, 30, "b")
    assert 50 == (await signer.sign()).checkpoint.size


async def test_an_event_changed_behind_the_services_back_is_never_signed(
    pool: asyncpg.Pool, store: EventStore, owner: asyncpg.Connection, key: SigningKey
) -> None:
    signer = Signer(pool, LogTree(pool), key)
    await fill(store, 20, "a")
    await signer.sign()
    await owner.execute("set session_replication_role = replica")  # the superuser turns the triggers off
    # Position 18 lies past the last stored 16-leaf subtree, so the signer rehashes it from its leaf.
    # Bytes and leaf hash changed together: consistent enough to pass the table's own check.
    await owner.execute(
        "update events set canonical = changed.bytes, leaf_hash = sha256('\\x00'::bytea || changed.bytes) "
        "from (select overlay(canonical placing 'X'::bytea from 70 for 1) as bytes "
        "      from events where position = 18) as changed "
        "where position = 18"
    )
    await fill(store, 5, "b")
    with pytest.raises(SigningRefused, match="does not extend the tree of 20"):
        await signer.sign()
    assert 1 == await owner.fetchval("select count(*) from checkpoints")


async def test_a_shortened_log_is_never_signed_even_with_its_checkpoints_deleted(
    pool: asyncpg.Pool, store: EventStore, owner: asyncpg.Connection, key: SigningKey
) -> None:
    signer = Signer(pool, LogTree(pool), key)
    await fill(store, 20, "a")
    await signer.sign()
    await owner.execute("set session_replication_role = replica")
    await owner.execute("delete from events where position > 10")
    await owner.execute("delete from checkpoints")
    await owner.execute("delete from merkle_nodes")
    # The signer remembers what it signed in its own file, outside the database.
    with pytest.raises(SigningRefused, match="fewer than the 20 this key signed"):
        await signer.sign()


async def test_a_tampered_memory_file_stops_the_signer_rather_than_being_trusted(
    pool: asyncpg.Pool, store: EventStore, key: SigningKey
) -> None:
    await fill(store, 5, "a")
    await Signer(pool, LogTree(pool), key).sign()
    key.state_path.write_text(key.state_path.read_text().replace("5\n", "4\n", 1))
    with pytest.raises(SigningRefused, match="does not hold a checkpoint signed by this key"):
        await Signer(pool, LogTree(pool), key).sign()


async def test_the_latest_checkpoint_is_read_back_with_its_parts(
    pool: asyncpg.Pool, store: EventStore, key: SigningKey
) -> None:
    assert None is await latest_checkpoint(pool)
    await fill(store, 12, "a")
    signed = await Signer(pool, LogTree(pool), key).sign()
    stored = await latest_checkpoint(pool)
    assert stored is not None
    assert (signed.note, signed.checkpoint, key.signer.key_id) == (
        stored.note,
        stored.checkpoint,
        stored.key_id,
    )
