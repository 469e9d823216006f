"""Restricted text in export bundles: `export --restricted` writes values that open the commitments the
signed events carry, `verify` checks each one and names the position of any that does not (without
repeating its text), and an erasure after an export leaves the earlier bundle and every later one
verifying, with the erased text gone from the later ones and the events' bytes unchanged. The commands
`qinglian erase` and `qinglian export --restricted` / `verify` end to end.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from service.commands.erasure import erase
from service.commands.handler import Commands
from service.log.store import EventStore
from service.transparency.export import FILES, export_bundle
from service.transparency.signer import Signer, SigningKey
from service.transparency.tree import LogTree
from service.transparency.verify import VerifyFailed, verify_bundle
from tests.service.runtime.test_cli import child_env, one_line_error, run_qinglian
from tests.support import domain
from tests.support.logs import signing_key
from tests.support.principals import ADMIN

PHONE = "13800138000"
SUMMARY = f"居民张三 电话 {PHONE} 反映公共车位被长期占用"
OUTCOME = f"已约谈张三 {PHONE} 车位已清理"
NOTE = "已更换楼道灯具并张贴维修联系方式"
OTHER = "反映垃圾分类点清运不及时"
REASON = "依当事人申请删除个人信息 工单 2022-88"


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return signing_key(tmp_path)


@pytest.fixture
async def texts(store: EventStore) -> dict[int, str]:
    """A community with two reports (one closed) and a rectified finding: four sealed texts, by position."""
    commands = Commands(store, CATALOGUE)
    await commands.record(domain.town("gutang"), idempotency_key="town")
    await commands.record(domain.community("shuyuan", "gutang"), idempotency_key="community")
    base = {"community_id": "shuyuan"}
    submitted: list[tuple[str, dict[str, Any], str | None]] = [
        (
            "ReportReceived",
            {"report_id": "r-1", "received_on": "2022-05-06", "channel": "hotline", "summary": SUMMARY},
            SUMMARY,
        ),
        ("ReportClosed", {"report_id": "r-1", "closed_on": "2022-05-20", "outcome": OUTCOME}, OUTCOME),
        (
            "SpotCheckRecorded",
            {
                "check_id": "c-1",
                "checked_on": "2022-05-10",
                "checked_by": "市民政局",
                "findings": [{"finding_id": "f-1", "summary": "楼道照明缺失"}],
            },
            None,
        ),
        ("FindingRectified", {"finding_id": "f-1", "rectified_on": "2022-05-25", "note": NOTE}, NOTE),
        (
            "ReportReceived",
            {"report_id": "r-2", "received_on": "2022-05-30", "channel": "visit", "summary": OTHER},
            OTHER,
        ),
    ]
    found: dict[int, str] = {}
    for number, (type_, payload, text) in enumerate(submitted):
        result = await commands.submit(
            type_, {**base, **payload}, idempotency_key=f"k-{number}", metadata={"actor": "test"}
        )
        if text is not None:
            found[result.positions[0]] = text
    await store.close()  # the append lock given back at once, for a command line that writes next
    return found


async def export(pool: asyncpg.Pool, out: Path, key: SigningKey, *, restricted: bool = True) -> Path:
    await export_bundle(pool, out, signer=Signer(pool, LogTree(pool), key), restricted=restricted)
    return out


def restricted_lines(bundle: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in (bundle / "restricted.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def event_lines(bundle: Path) -> list[bytes]:
    """The lines of events.jsonl: line i - 1 is the event at position i."""
    return (bundle / "events.jsonl").read_bytes().splitlines()


def rewrite(bundle: Path, lines: list[str]) -> None:
    (bundle / "restricted.jsonl").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def everything_in(bundle: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(bundle.rglob("*")) if path.is_file())


async def test_a_restricted_export_holds_values_that_open_the_commitments_and_verify_counts_them(
    tmp_path: Path, pool: asyncpg.Pool, texts: dict[int, str], key: SigningKey
) -> None:
    bundle = await export(pool, tmp_path / "bundle", key)
    lines = restricted_lines(bundle)
    events = event_lines(bundle)
    assert texts == {line["position"]: line["value"] for line in lines}
    for line in lines:
        assert {"position", "field", "salt", "value"} == set(line)
        payload = json.loads(events[line["position"] - 1])["payload"]
        salt = bytes.fromhex(line["salt"])
        assert 32 == len(salt)
        expected = hashlib.sha256(salt + line["value"].encode("utf-8")).hexdigest()
        assert {"commitment": expected} == payload[line["field"]]
    assert PHONE not in (bundle / "events.jsonl").read_text(encoding="utf-8")

    verified = verify_bundle(bundle, key.signer.verifier)
    assert len(texts) == verified.restricted_values
    assert verified.compared


async def test_an_export_without_restricted_holds_no_text_and_verifies_without_counting_any(
    tmp_path: Path, pool: asyncpg.Pool, texts: dict[int, str], key: SigningKey
) -> None:
    bundle = await export(pool, tmp_path / "bundle", key, restricted=False)
    assert not (bundle / "restricted.jsonl").exists()
    contents = everything_in(bundle)
    for text in texts.values():
        assert text.encode("utf-8") not in contents

    verified = verify_bundle(bundle, key.signer.verifier)
    assert verified.restricted_values is None
    assert len(event_lines(bundle)) == verified.checkpoint.size


def one_char_changed(line: dict[str, Any]) -> dict[str, Any]:
    value = line["value"]
    return {**line, "value": value[:-1] + ("甲" if value[-1] != "甲" else "乙")}


def salt_changed(line: dict[str, Any]) -> dict[str, Any]:
    salt = line["salt"]
    return {**line, "salt": ("1" if salt[0] != "1" else "2") + salt[1:]}


def field_changed(line: dict[str, Any]) -> dict[str, Any]:
    return {**line, "field": "outcome" if line["field"] != "outcome" else "summary"}


@pytest.mark.parametrize(
    "tamper", [one_char_changed, salt_changed, field_changed], ids=["value", "salt", "field"]
)
async def test_a_value_that_does_not_open_its_commitment_fails_naming_its_position_not_its_text(
    tmp_path: Path, pool: asyncpg.Pool, texts: dict[int, str], key: SigningKey, tamper: Any
) -> None:
    bundle = await export(pool, tmp_path / "bundle", key)
    lines = restricted_lines(bundle)
    target = next(i for i, line in enumerate(lines) if line["value"] == SUMMARY)
    position = lines[target]["position"]
    changed = [
        json.dumps(tamper(line) if i == target else line, ensure_ascii=False) for i, line in enumerate(lines)
    ]
    rewrite(bundle, changed)

    with pytest.raises(VerifyFailed) as failure:
        verify_bundle(bundle, key.signer.verifier)
    assert position == failure.value.position
    assert f"position {position}" in str(failure.value)
    assert "does not open the commitment" in str(failure.value)
    assert PHONE not in str(failure.value)
    assert "张三" not in str(failure.value)


async def test_a_value_for_a_position_the_bundle_has_no_event_at_fails_naming_that_position(
    tmp_path: Path, pool: asyncpg.Pool, texts: dict[int, str], key: SigningKey
) -> None:
    bundle = await export(pool, tmp_path / "bundle", key)
    lines = restricted_lines(bundle)
    beyond = len(event_lines(bundle)) + 5
    stray = {**lines[0], "position": beyond}
    rewrite(bundle, [json.dumps(line, ensure_ascii=False) for line in [*lines, stray]])

    with pytest.raises(VerifyFailed) as failure:
        verify_bundle(bundle, key.signer.verifier)
    assert beyond == failure.value.position
    assert "no event" in str(failure.value)
    assert lines[0]["value"] not in str(failure.value)


async def test_a_value_given_twice_is_refused_rather_than_counted_twice(
    tmp_path: Path, pool: asyncpg.Pool, texts: dict[int, str], key: SigningKey
) -> None:
    bundle = await export(pool, tmp_path / "bundle", key)
    lines = restricted_lines(bundle)
    rewrite(bundle, [json.dumps(line, ensure_ascii=False) for line in [*lines, lines[0]]])
    with pytest.raises(VerifyFailed) as failure:
        verify_bundle(bundle, key.signer.verifier)
    assert lines[0]["position"] == failure.value.position
    assert "twice" in str(failure.value)
    assert lines[0]["value"] not in str(failure.value)


@pytest.mark.parametrize(
    "malformed",
    [
        '{"position": 4, "field": "summary", "salt": "00", "value": "' + SUMMARY,
        '{"position": "4", "field": "summary", "salt": "00", "value": "' + SUMMARY + '"}',
        '{"position": 4, "field": "summary", "salt": "zz", "value": "' + SUMMARY + '"}',
        '{"position": 4, "field": "summary", "value": "' + SUMMARY + '"}',
        "",
    ],
    ids=["truncated", "position-as-text", "salt-not-hex", "no-salt", "empty-line"],
)
async def test_a_malformed_line_fails_naming_its_line_not_its_text(
    tmp_path: Path, pool: asyncpg.Pool, texts: dict[int, str], key: SigningKey, malformed: str
) -> None:
    bundle = await export(pool, tmp_path / "bundle", key)
    lines = [json.dumps(line, ensure_ascii=False) for line in restricted_lines(bundle)]
    lines[1] = malformed
    rewrite(bundle, lines)

    with pytest.raises(VerifyFailed) as failure:
        verify_bundle(bundle, key.signer.verifier)
    assert "restricted.jsonl line 2 is not a restricted value" in str(failure.value)
    assert PHONE not in str(failure.value)
    assert "张三" not in str(failure.value)


async def test_an_erasure_after_an_export_leaves_both_bundles_verifying_and_the_text_only_in_the_first(
    tmp_path: Path, pool: asyncpg.Pool, store: EventStore, texts: dict[int, str], key: SigningKey
) -> None:
    first = await export(pool, tmp_path / "first", key)
    done = await erase(
        Commands(store, CATALOGUE),
        pool,
        principal=ADMIN,
        record_id="r-1",
        reason=REASON,
        today=date(2022, 6, 8),
    )
    await store.close()
    erased = {f.position for f in done.fields}
    assert {p for p, text in texts.items() if text in (SUMMARY, OUTCOME)} == erased

    second = await export(pool, tmp_path / "second", key)
    earlier = verify_bundle(first, key.signer.verifier)
    later = verify_bundle(second, key.signer.verifier, previous_note=(first / "checkpoint").read_text())
    assert (len(texts), len(texts) - 2) == (earlier.restricted_values, later.restricted_values)
    assert earlier.checkpoint.size + 1 == later.checkpoint.size
    assert {p: t for p, t in texts.items() if p not in erased} == {
        line["position"]: line["value"] for line in restricted_lines(second)
    }
    assert PHONE.encode() not in everything_in(second)
    assert PHONE in (first / "restricted.jsonl").read_text(encoding="utf-8")

    old, new = event_lines(first), event_lines(second)
    assert old == new[: len(old)]  # every event, the erased ones too, is byte for byte what was signed
    for position in erased:
        assert old[position - 1] == new[position - 1]
    record = json.loads(new[-1])
    assert ("Erased", REASON) == (record["type"], record["payload"]["reason"])
    assert sorted(erased) == sorted(f["position"] for f in record["payload"]["fields"])


# -- the command line ------------------------------------------------------------------------------------


async def test_the_erase_command_says_what_it_erased_then_that_nothing_is_left(
    database_url: str, texts: dict[int, str], owner: asyncpg.Connection
) -> None:
    env = child_env(database_url)
    summary, outcome = (p for p, text in sorted(texts.items()) if text in (SUMMARY, OUTCOME))

    done = await asyncio.to_thread(run_qinglian, "erase", "r-1", "--reason", REASON, env=env)
    assert 0 == done.returncode, done.stderr
    head = await owner.fetchval("select max(position) from events")
    assert (
        f"r-1 (community shuyuan): erased summary of the event at {summary}, outcome of the event at "
        f"{outcome}; Erased event at {head}\n"
    ) == done.stdout
    rows = await owner.fetch(
        "select position, value, erased_by from restricted_values where position = any($1::bigint[])",
        [summary, outcome],
    )
    assert [(summary, None, head), (outcome, None, head)] == sorted(
        (r["position"], r["value"], r["erased_by"]) for r in rows
    )
    record = await owner.fetchrow("select type, payload, metadata from events where position = $1", head)
    assert record is not None
    actor = json.loads(record["metadata"])["actor"]
    assert ("Erased", REASON) == (record["type"], json.loads(record["payload"])["reason"])
    assert ("system", "admin") == (actor["kind"], actor["role"])

    again = await asyncio.to_thread(run_qinglian, "erase", "r-1", "--reason", REASON, env=env)
    assert 0 == again.returncode, again.stderr
    assert "r-1 (community shuyuan): nothing left to erase\n" == again.stdout
    assert head == await owner.fetchval("select max(position) from events")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["r-none", "--reason", REASON], "no report or finding 'r-none' holds restricted text"),
        (["r-1", "--reason", REASON, "--community", "yubo"], "in community 'yubo'"),
        (["r-1", "--reason", "  "], "reason"),
    ],
    ids=["unknown-record", "other-community", "blank-reason"],
)
async def test_the_erase_command_refuses_with_exit_2_and_writes_nothing(
    database_url: str, texts: dict[int, str], owner: asyncpg.Connection, args: list[str], says: str
) -> None:
    head = await owner.fetchval("select max(position) from events")
    result = await asyncio.to_thread(run_qinglian, "erase", *args, env=child_env(database_url))
    assert says in one_line_error(result)
    assert head == await owner.fetchval("select max(position) from events")
    assert len(texts) == await owner.fetchval(
        "select count(*) from restricted_values where value is not null"
    )


async def test_export_restricted_and_verify_on_the_command_line(
    tmp_path: Path, database_url: str, texts: dict[int, str], key: SigningKey
) -> None:
    env = child_env(database_url)
    exported = await asyncio.to_thread(
        run_qinglian,
        "export",
        "--out",
        str(tmp_path / "bundle"),
        "--restricted",
        "--key",
        str(tmp_path / "log.key"),
        env=env,
    )
    assert 0 == exported.returncode, exported.stderr
    assert texts == {line["position"]: line["value"] for line in restricted_lines(tmp_path / "bundle")}

    verified = await asyncio.to_thread(
        run_qinglian,
        "verify",
        str(tmp_path / "bundle"),
        "--key",
        str(tmp_path / "log.pub"),
        env=child_env(),  # no database at all
    )
    assert 0 == verified.returncode, verified.stdout + verified.stderr
    lines = verified.stdout.splitlines()
    assert [f"restricted   {len(texts)} values open their events' commitments"] == [
        line for line in lines if line.startswith("restricted")
    ]
    assert "VERIFIED" == lines[-1]

    as_json = await asyncio.to_thread(
        run_qinglian,
        "verify",
        str(tmp_path / "bundle"),
        "--key",
        str(tmp_path / "log.pub"),
        "--json",
        env=child_env(),
    )
    assert len(texts) == json.loads(as_json.stdout)["restricted_values"]


async def test_the_bundle_readme_explains_every_file_the_bundle_holds(
    pool: asyncpg.Pool, texts: dict[int, str], key: SigningKey, tmp_path: Path
) -> None:
    whole = await export(pool, tmp_path / "whole", key)
    later = tmp_path / "later"
    await export_bundle(pool, later, from_size=2, signer=Signer(pool, LogTree(pool), key), restricted=True)
    # A file's entry starts at the fifth column; its description's further lines are indented deeper.
    explained = {line.split()[0] for line in FILES.splitlines()[1:] if line[4] != " "}
    for bundle in (whole, later):
        readme = (bundle / "README.txt").read_text(encoding="utf-8")
        assert FILES in readme
        held = {path.name + ("/" if path.is_dir() else "") for path in bundle.iterdir()}
        assert held <= explained, held - explained
    # Between them the two bundles hold every kind of file the list names.
    assert {p.name + ("/" if p.is_dir() else "") for b in (whole, later) for p in b.iterdir()} == explained
