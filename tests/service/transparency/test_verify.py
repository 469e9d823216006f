"""`verify` on bundles that are malformed, hostile or oversized: always a clear VerifyFailed, never a crash;
and racing signers and exporters agree."""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from events.access import Role, ScopeKind
from projections.access import Scope
from service.access.tokens import Tokens
from service.log.store import EventStore
from service.transparency.export import ExportError, export_bundle
from service.transparency.signer import Signer, SigningKey, generate_key, write_key_pair
from service.transparency.tree import LogTree
from service.transparency.verify import VerifyFailed, read_key, verify_bundle
from tests.support.logs import fill, signing_key

ORIGIN = "cixi.example/qinglian"


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return signing_key(tmp_path)


@pytest.fixture
async def bundle(tmp_path: Path, pool: asyncpg.Pool, store: EventStore, key: SigningKey) -> Path:
    await fill(store, 40, "a")
    await export_bundle(pool, tmp_path / "bundle", signer=Signer(pool, LogTree(pool), key))
    return tmp_path / "bundle"


def check(bundle: Path, key: SigningKey, previous: str | None = None) -> VerifyFailed:
    with pytest.raises(VerifyFailed) as failure:
        verify_bundle(bundle, key.signer.verifier, previous_note=previous)
    return failure.value


def test_an_untouched_bundle_verifies(bundle: Path, key: SigningKey) -> None:
    verified = verify_bundle(bundle, key.signer.verifier)
    assert (40, 1) == (verified.checkpoint.size, verified.first_position)
    assert [] == verified.notes


@pytest.mark.parametrize(
    ("garbage", "message"),
    [
        (b"\xff\xfe\x00 not utf-8\n", "not canonical JSON"),
        (b"{}\n", "not an event envelope"),
        (b'{"a":1, "b":2}\n', "not canonical JSON"),
        (b"[" * 100_000 + b"\n", "not canonical JSON"),
        (b"x" * 5_000_000 + b"\n", "not canonical JSON"),
    ],
    ids=["binary", "empty-object", "not-canonical", "deep-nesting", "huge-line"],
)
def test_a_garbage_line_is_named_by_position(
    bundle: Path, key: SigningKey, garbage: bytes, message: str
) -> None:
    events = bundle / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    lines[9] = garbage
    events.write_bytes(b"".join(lines))
    failure = check(bundle, key)
    assert 10 == failure.position
    assert message in failure.message or "not those that were signed" in failure.message


def test_an_empty_events_file_is_missing_every_event(bundle: Path, key: SigningKey) -> None:
    (bundle / "events.jsonl").write_bytes(b"")
    failure = check(bundle, key)
    assert "events 1 to 40 are missing" in failure.message


def test_a_missing_checkpoint_is_named(bundle: Path, key: SigningKey) -> None:
    (bundle / "checkpoint").unlink()
    assert "cannot read" in check(bundle, key).message


@pytest.mark.parametrize(
    "note",
    ["", "\n\n\n", "x" * 1_000_000, "cixi.example/qinglian\n40\nAAAA\n\n— cixi.example/qinglian AAAA\n"],
    ids=["empty", "blank-lines", "huge", "bad-signature"],
)
def test_a_checkpoint_that_is_not_a_signed_note_fails_on_its_signature(
    bundle: Path, key: SigningKey, note: str
) -> None:
    (bundle / "checkpoint").write_text(note)
    assert "does not verify with the key" in check(bundle, key).message


def test_a_checkpoint_by_another_key_fails_even_with_that_key_in_the_bundle(
    tmp_path: Path, bundle: Path, key: SigningKey
) -> None:
    _, other_public = write_key_pair(tmp_path / "other", generate_key(ORIGIN))
    shutil.copy(other_public, bundle / "key.pub")
    verified = verify_bundle(bundle, key.signer.verifier)  # the key given is the one trusted
    assert ["key.pub in the bundle is not the key given; the key given is the one trusted"] == verified.notes


def test_a_previous_checkpoint_larger_than_the_bundle_means_truncation(bundle: Path, key: SigningKey) -> None:
    from events.note import checkpoint_body, sign_note

    bigger = sign_note(checkpoint_body(ORIGIN, 41, b"\x01" * 32), key.signer)
    failure = check(bundle, key, previous=bigger)
    assert "the log was truncated" in failure.message


def test_a_previous_checkpoint_with_another_root_means_a_fork(bundle: Path, key: SigningKey) -> None:
    from events.note import checkpoint_body, sign_note

    forked = sign_note(checkpoint_body(ORIGIN, 20, b"\x01" * 32), key.signer)
    failure = check(bundle, key, previous=forked)
    assert 1 == failure.position
    assert "the first 20 events are not those signed" in failure.message


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("status.json", "{not json", "status.json is not JSON"),
        ("status.json", "[1, 2]", "status.json is not a JSON object"),
        ("frontier.txt", "3\nzz\n", "frontier.txt is malformed"),
        ("frontier.txt", "", "frontier.txt is malformed"),
    ],
)
def test_malformed_side_files_are_named(
    bundle: Path, key: SigningKey, name: str, content: str, message: str
) -> None:
    (bundle / name).write_text(content)
    assert message in check(bundle, key).message


def test_a_key_that_is_not_a_verifier_key_is_refused_by_name() -> None:
    with pytest.raises(VerifyFailed, match="not a C2SP verifier key"):
        read_key("PRIVATE+KEY+whatever")


def test_a_folder_that_is_not_a_bundle_is_named(tmp_path: Path, key: SigningKey) -> None:
    with pytest.raises(VerifyFailed, match=r"holds no events\.jsonl"):
        verify_bundle(tmp_path, key.signer.verifier)


async def test_racing_signers_and_exports_all_agree(
    tmp_path: Path, pool: asyncpg.Pool, store: EventStore, owner: asyncpg.Connection, key: SigningKey
) -> None:
    await fill(store, 30, "a")
    signers = [Signer(pool, LogTree(pool), key) for _ in range(4)]

    async def grow() -> None:
        for n in range(5):
            await fill(store, 17, f"g{n}")
            await asyncio.sleep(0)

    results = await asyncio.gather(grow(), *(s.sign() for s in signers for _ in range(3)))
    signed = [r for r in results if r is not None]
    assert signed
    # Every stored checkpoint is consistent with every other: one history, never a fork.
    sizes = [
        r["tree_size"] for r in await owner.fetch("select tree_size from checkpoints order by tree_size")
    ]
    assert sorted(set(sizes)) == sizes
    final = await signers[0].sign()
    assert 30 + 5 * 17 == final.checkpoint.size
    exports = await asyncio.gather(
        *(export_bundle(pool, tmp_path / f"e{i}") for i in range(3)), return_exceptions=True
    )
    assert [] == [e for e in exports if isinstance(e, BaseException)]
    for i in range(3):
        assert 115 == verify_bundle(tmp_path / f"e{i}", key.signer.verifier).checkpoint.size


async def test_export_from_a_size_gives_a_bundle_that_verifies_against_the_earlier_checkpoint(
    tmp_path: Path, pool: asyncpg.Pool, store: EventStore, key: SigningKey
) -> None:
    signer = Signer(pool, LogTree(pool), key)
    await fill(store, 25, "a")
    earlier = await signer.sign()
    await fill(store, 30, "b")
    await export_bundle(pool, tmp_path / "tail", from_size=25, signer=signer)
    verified = verify_bundle(tmp_path / "tail", key.signer.verifier, previous_note=earlier.note)
    assert (26, 55) == (verified.first_position, verified.checkpoint.size)
    assert verified.rows is None  # a partial log cannot be replayed
    with pytest.raises(ExportError, match="beyond the newest checkpoint"):
        await export_bundle(pool, tmp_path / "beyond", from_size=56)


def test_without_replay_only_the_bytes_tree_and_signatures_are_checked(bundle: Path, key: SigningKey) -> None:
    ghost = '{"community_id": "ghost", "standardized": true}'
    (bundle / "status.json").write_text(f'{{"position": 40, "on": "2000-01-01", "communities": [{ghost}]}}')
    with pytest.raises(VerifyFailed, match="projections do not follow from the log"):
        verify_bundle(bundle, key.signer.verifier, on=date(2000, 1, 1))
    verified = verify_bundle(bundle, key.signer.verifier, replay=False)
    assert (None, ["replay skipped, as asked: the projections were not checked"]) == (
        verified.rows,
        verified.notes,
    )


def test_a_changed_line_that_no_longer_decodes_is_reported_as_not_the_bytes_signed(
    bundle: Path, key: SigningKey
) -> None:
    events = bundle / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    assert b'"effective_on":"2022-01-01"' in lines[11]
    lines[11] = lines[11].replace(b'"effective_on":"2022-01-01"', b'"effective_on":"2022-13-01"')
    events.write_bytes(b"".join(lines))
    for replay in (True, False):
        with pytest.raises(VerifyFailed) as failure:
            verify_bundle(bundle, key.signer.verifier, replay=replay)
        assert 12 == failure.value.position
        assert "not those that were signed" in failure.value.message


async def test_the_replay_reconstructs_who_was_allowed_to_act(
    tmp_path: Path, pool: asyncpg.Pool, store: EventStore, key: SigningKey
) -> None:
    await fill(store, 10, "a")
    tokens = Tokens(pool, store)
    kept = await tokens.create(role=Role.INSPECTOR, scope=Scope(), label="audit", issuer="cli")
    gone = await tokens.create(
        role=Role.CLERK, scope=Scope(kind=ScopeKind.COMMUNITY, id="a-1"), label="clerk", issuer="cli"
    )
    await tokens.revoke(gone.grant.token_id, reason="left", issuer="cli")
    await export_bundle(pool, tmp_path / "bundle", signer=Signer(pool, LogTree(pool), key))
    verified = verify_bundle(tmp_path / "bundle", key.signer.verifier)
    grants = {g.token_id: g for g in verified.grants}
    assert {kept.grant.token_id, gone.grant.token_id} == set(grants)
    assert (Role.INSPECTOR, None) == (
        grants[kept.grant.token_id].role,
        grants[kept.grant.token_id].revoked_at,
    )
    assert "left" == grants[gone.grant.token_id].revoked_reason
    assert "community:a-1" == str(grants[gone.grant.token_id].scope)
