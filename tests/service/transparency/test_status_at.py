"""status.json as the log stood at an earlier signed size: exported with --status-at, and compared by
`verify` with its replay up to exactly that size, so history rewritten by back-dated records later still
checks at the size it was signed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.disclosure import DisclosureCategory
from events.registry import Event
from events.training import TrainingKind
from service.commands.handler import Commands
from service.demo.generator import ARTICLE_END
from service.demo.loader import load_demo
from service.log.store import EventStore
from service.transparency.export import ExportError, export_bundle
from service.transparency.signer import Signer, SigningKey
from service.transparency.tree import LogTree
from service.transparency.verify import VerifyFailed, verify_bundle
from tests.support import domain
from tests.support.logs import signing_key

DAY = date(2022, 6, 30)


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return signing_key(tmp_path)


@pytest.fixture
async def sizes(pool: asyncpg.Pool, store: EventStore, key: SigningKey) -> tuple[int, int]:
    """The demo signed at one size, then back-dated records appended and signed at a second size."""
    commands = Commands(store, CATALOGUE)
    await load_demo(commands, store, until=ARTICLE_END)
    signer = Signer(pool, LogTree(pool), key)
    first = (await signer.sign()).checkpoint.size
    late: list[Event] = [
        domain.disclosure("yujia", DisclosureCategory.FINANCE, "2022-Q1", date(2022, 6, 20)),
        domain.training("yujia", TrainingKind.WARNING_MEETING, date(2022, 6, 25)),
    ]
    for number, event in enumerate(late):
        await commands.record(event, idempotency_key=f"late-{number}")
    second = (await signer.sign()).checkpoint.size
    return first, second


def statuses(bundle: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((bundle / "status.json").read_text(encoding="utf-8"))
    return document


async def test_status_at_an_earlier_signed_size_is_compared_with_the_replay_up_to_it(
    pool: asyncpg.Pool, key: SigningKey, sizes: tuple[int, int], tmp_path: Path
) -> None:
    first, second = sizes
    await export_bundle(pool, tmp_path / "then", on=DAY, status_at=first)
    await export_bundle(pool, tmp_path / "now", on=DAY)
    then, now = statuses(tmp_path / "then"), statuses(tmp_path / "now")
    assert (first, second) == (then["position"], now["position"])
    # The back-dated records changed how yujia stood on that day; the earlier size shows it as it was.
    yujia = [next(c for c in doc["communities"] if c["community_id"] == "yujia") for doc in (then, now)]
    assert yujia[0] != yujia[1]
    for bundle in ("then", "now"):
        verified = verify_bundle(tmp_path / bundle, key.signer.verifier)
        assert verified.compared, verified.notes
        assert second == verified.checkpoint.size


async def test_an_edited_status_at_an_earlier_size_is_caught(
    pool: asyncpg.Pool, key: SigningKey, sizes: tuple[int, int], tmp_path: Path
) -> None:
    first, _ = sizes
    bundle = tmp_path / "then"
    await export_bundle(pool, bundle, on=DAY, status_at=first)
    document = statuses(bundle)
    row = next(c for c in document["communities"] if c["community_id"] == "yujia")
    row["standardized"] = not row["standardized"]
    (bundle / "status.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(VerifyFailed) as failure:
        verify_bundle(bundle, key.signer.verifier)
    assert "yujia" in str(failure.value)


async def test_a_status_for_a_size_no_checkpoint_was_signed_at_is_refused(
    pool: asyncpg.Pool, key: SigningKey, sizes: tuple[int, int], tmp_path: Path
) -> None:
    first, _ = sizes
    with pytest.raises(ExportError) as refused:
        await export_bundle(pool, tmp_path / "then", on=DAY, status_at=first - 1)
    assert f"--status-at {first - 1} is not a size this key signed a checkpoint at" in str(refused.value)
    assert not (tmp_path / "then").exists()
    # A status.json claiming such a size is not compared as if it were signed.
    bundle = tmp_path / "now"
    await export_bundle(pool, bundle, on=DAY)
    document = statuses(bundle)
    document["position"] = first - 1
    (bundle / "status.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(VerifyFailed) as failure:
        verify_bundle(bundle, key.signer.verifier)
    assert f"status.json is for size {first - 1}" in str(failure.value)
