"""The inspectors' commands end to end, as a person runs them: keygen, checkpoint, proof, export, verify."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
from pathlib import Path

import asyncpg
import pytest

from events.merkle import leaf_hash, verify_consistency, verify_inclusion
from events.note import parse_verifier_key
from service.log.store import EventStore
from tests.service.runtime.test_cli import child_env, one_line_error, run_qinglian
from tests.support.logs import fill

ORIGIN = "cixi.example/qinglian"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    result = run_qinglian("keygen", "--origin", ORIGIN, "--out", str(tmp_path / "log"), env=child_env())
    assert 0 == result.returncode, result.stderr
    return tmp_path / "log.key", tmp_path / "log.pub"


def test_keygen_writes_a_private_key_file_and_prints_the_public_key(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert 0o600 == stat.S_IMODE(private.stat().st_mode)
    assert ORIGIN == parse_verifier_key(public.read_text().strip()).name


def test_keygen_refuses_to_overwrite_with_one_error_line(keys: tuple[Path, Path]) -> None:
    private, _ = keys
    again = run_qinglian("keygen", "--origin", ORIGIN, "--out", str(private.with_suffix("")), env=child_env())
    assert "already exists" in one_line_error(again)


def test_checkpoint_without_a_key_says_how_to_give_one(database_url: str) -> None:
    line = one_line_error(run_qinglian("checkpoint", env=child_env(database_url)))
    assert "--key" in line
    assert "QINGLIAN_SIGNING_KEY" in line


async def test_checkpoint_export_and_verify_agree_and_a_proof_checks_out(
    tmp_path: Path, database_url: str, store: EventStore, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    await fill(store, 50, "a")
    env = child_env(database_url, QINGLIAN_SIGNING_KEY=str(private))
    first = await asyncio.to_thread(run_qinglian, "checkpoint", env=env)
    assert 0 == first.returncode, first.stderr
    assert first.stdout.startswith(f"{ORIGIN}\n50\n")
    (tmp_path / "first.checkpoint").write_text(first.stdout)
    await fill(store, 30, "b")

    exported = await asyncio.to_thread(
        run_qinglian, "export", "--out", str(tmp_path / "bundle"), "--status-on", "2022-06-08", env=env
    )
    assert 0 == exported.returncode, exported.stderr
    signed, wrote, status = exported.stdout.splitlines()
    # What it signed, said where it is done: the size, the key and the root in both spellings.
    note = (tmp_path / "bundle" / "checkpoint").read_text()
    root = base64.b64decode(note.splitlines()[2])
    key_id = parse_verifier_key(public.read_text().strip()).key_id
    assert signed == (
        f"signed a checkpoint of 80 events with {ORIGIN} (key id {key_id:08x}): root {root.hex()} "
        f"(base64 in the note: {note.splitlines()[2]})"
    )
    assert wrote.startswith("exported events 1 to 80 (80) to ")
    assert status == "status.json: every community's status on 2022-06-08, as the log stood at 80 events"
    # The day chooses the statuses only: every event up to the checkpoint is in the bundle.
    lines = (tmp_path / "bundle" / "events.jsonl").read_bytes().split(b"\n")
    assert (80, b"") == (len(lines) - 1, lines[-1])
    assert "2022-06-08" == json.loads((tmp_path / "bundle" / "status.json").read_text())["on"]

    verified = await asyncio.to_thread(
        run_qinglian,
        "verify",
        str(tmp_path / "bundle"),
        "--key",
        str(public),
        "--previous",
        str(tmp_path / "first.checkpoint"),
        env=child_env(),  # no database at all
    )
    assert 0 == verified.returncode, verified.stdout + verified.stderr
    assert "extends the previous checkpoint of 50 events" in verified.stdout
    assert "VERIFIED" == verified.stdout.splitlines()[-1]

    inclusion = await asyncio.to_thread(run_qinglian, "proof", "inclusion", "7", "80", env=env)
    proof = json.loads(inclusion.stdout)
    assert leaf_hash(lines[6]).hex() == proof["leaf_hash"]
    assert verify_inclusion(
        leaf_hash(lines[6]), 6, 80, [bytes.fromhex(h) for h in proof["proof"]], bytes.fromhex(proof["root"])
    )
    consistency = json.loads(
        (await asyncio.to_thread(run_qinglian, "proof", "consistency", "50", "80", env=env)).stdout
    )
    assert verify_consistency(
        50,
        80,
        [bytes.fromhex(h) for h in consistency["proof"]],
        bytes.fromhex(consistency["from_root"]),
        bytes.fromhex(consistency["to_root"]),
    )


async def test_verify_exits_1_naming_the_position_of_an_edited_line(
    tmp_path: Path, database_url: str, store: EventStore, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    await fill(store, 40, "a")
    env = child_env(database_url, QINGLIAN_SIGNING_KEY=str(private))
    exported = await asyncio.to_thread(run_qinglian, "export", "--out", str(tmp_path / "b"), env=env)
    assert 0 == exported.returncode, exported.stderr
    events = tmp_path / "b" / "events.jsonl"
    lines = events.read_bytes().split(b"\n")
    lines[22] = lines[22].replace(b'"a22"', b'"a99"')
    events.write_bytes(b"\n".join(lines))

    result = await asyncio.to_thread(
        run_qinglian, "verify", str(tmp_path / "b"), "--key", str(public), "--json", env=child_env()
    )
    outcome = json.loads(result.stdout)
    assert (1, False, 23) == (result.returncode, outcome["verified"], outcome["position"])
    assert "not those that were signed" in outcome["problem"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "NOWHERE", "--key", "PUB"], "is not an export bundle"),
        (["verify", "BUNDLE", "--key", "MISSING"], "--key: cannot read"),
        (["verify", "BUNDLE", "--key", "PRIVATE"], "--key: the key is not a C2SP verifier key"),
        (["verify", "BUNDLE", "--key", "PUB", "--previous", "MISSING"], "--previous: cannot read"),
    ],
)
def test_verify_given_the_wrong_files_says_so_with_exit_2_not_as_a_failed_verification(
    tmp_path: Path, keys: tuple[Path, Path], args: list[str], message: str
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "events.jsonl").write_bytes(b"")
    places = {
        "NOWHERE": tmp_path / "nowhere",
        "BUNDLE": bundle,
        "PUB": keys[1],
        "PRIVATE": keys[0],
        "MISSING": tmp_path / "missing",
    }
    line = one_line_error(run_qinglian(*(str(places.get(a, a)) for a in args), env=child_env()))
    assert message in line


def test_verify_with_a_wrong_key_fails_on_the_signature(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "events.jsonl").write_bytes(b"")
    (bundle / "checkpoint").write_text(
        f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— x y\n"
    )
    result = run_qinglian("verify", str(bundle), "--key", str(keys[1]), env=child_env())
    assert 1 == result.returncode
    assert "NOT VERIFIED: the checkpoint does not verify with the key" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["proof", "inclusion", "0", "5"], "must be between 1 and SIZE (5), not 0"),
        (["proof", "inclusion", "1"], "no checkpoint has been signed yet: give SIZE"),
        (["proof", "consistency", "3", "999"], "beyond the log"),
        (["export", "--out", "OUT"], "no checkpoint has been signed yet"),
    ],
)
def test_questions_the_log_cannot_answer_get_one_error_line(
    tmp_path: Path, database_url: str, args: list[str], message: str
) -> None:
    asyncio.run(_fill_url(database_url, 5))
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    assert message in one_line_error(run_qinglian(*args, env=child_env(database_url)))


async def _fill_url(url: str, count: int) -> None:
    from events.catalogue import CATALOGUE

    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        store = EventStore(pool, CATALOGUE)
        await fill(store, count, "x")
        await store.close()
    finally:
        await pool.close()


def test_export_never_writes_into_a_folder_that_has_files(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    line = one_line_error(run_qinglian("export", "--out", str(tmp_path / "out"), env=child_env(database_url)))
    assert "not an empty folder" in line or "no checkpoint" in line
    assert "mine" == (tmp_path / "out" / "keep.txt").read_text()
