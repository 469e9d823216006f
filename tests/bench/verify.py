"""Offline verification at scale: `verify_bundle` on an exported bundle of 1,000,000 events.

    python -m tests.bench.verify            # embedded PostgreSQL, or DATABASE_URL when set

One fresh migrated database, dropped afterwards. The log is the replay benchmark's (tests/bench/replay.py:
towns, the default standard, 1,000 communities and their monthly activity), imported with
`EventStore.bulk_import`; the projections are caught up, a checkpoint is signed with a key made for the run,
and two bundles are exported into a temporary folder:

  full    `export_bundle(pool, DIR)`: every event, status.json included.
  tail    `export_bundle(pool, DIR, from_size=1)`: every event but the first, with frontier.txt. The
          verifier skips the replay for a bundle that does not start at the beginning, so verifying this
          one times what is left of `verify` without the projections: read, leaf hash, the running root,
          each envelope left unparsed.

Timed, on files the page cache already holds (one untimed read of each first):

  baseline  the ten lines an inspector would write: each line of the full bundle's events.jsonl read the way
            the verifier reads it and hashed as SHA-256(0x00 || line); the median of three passes.
  verify    `verify_bundle(full, key)`: leaves, root, signature, replay through the projections, status
            table compared with status.json.
  hashes    `verify_bundle(tail, key)`, as above.

Human-readable lines go out as each phase ends; the last line is one JSON object for scripts to read.
The target is reported, never enforced: a miss is information, not a failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from events.catalogue import CATALOGUE
from events.note import VerifierKey
from projections.localtime import local_date
from service.bundle import export_bundle
from service.db import create_pool
from service.projector import rebuild
from service.signer import Signer, generate_key, load_signing_key, write_key_pair
from service.tree import LogTree
from service.verify import read_key, verify_bundle
from tests.bench.replay import EVENTS, MONTHS, Log, generate, month_start, rate, server_facts
from tests.support.pg import in_fresh_database

BASELINE_PASSES = 3
TARGET = 0.5  # verify's rate over the baseline's
ORIGIN = "bench.example/qinglian"


def baseline(events: Path) -> tuple[int, float]:
    """Leaf hashes alone over events.jsonl: (lines, seconds)."""
    sha256 = hashlib.sha256
    lines = 0
    began = time.perf_counter()
    with events.open("rb") as lines_in:
        for line in lines_in:
            sha256(b"\x00" + line[:-1]).digest()
            lines += 1
    return lines, time.perf_counter() - began


def read_once(path: Path) -> None:
    with path.open("rb") as data:
        while data.read(1 << 20):
            pass


async def export(url: str, folder: Path) -> tuple[VerifierKey, float, float, float]:
    """Rebuild the projections, sign, export both bundles: (key, rebuild s, full export s, tail s)."""
    pair = generate_key(ORIGIN)
    private, _ = write_key_pair(folder / "key", pair)
    pool = await create_pool(url, None, min_size=1, max_size=4)
    try:
        began = time.perf_counter()
        await rebuild(pool, CATALOGUE)  # in big batches; the export's own catch-up then has nothing to do
        projected = time.perf_counter()
        signer = Signer(pool, LogTree(pool), load_signing_key(str(private), folder))
        await export_bundle(pool, folder / "full", signer=signer)
        exported = time.perf_counter()
        await export_bundle(pool, folder / "tail", from_size=1)
        tail = time.perf_counter()
    finally:
        await pool.close()
    return read_key(pair.verifier_text), projected - began, exported - projected, tail - exported


async def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qinglian-bench-verify-") as folder:
        return await in_fresh_database(lambda url: run_all(url, Path(folder)))


async def run_all(url: str, folder: Path) -> dict[str, Any]:
    facts = await server_facts(url)
    print(
        f"PostgreSQL {facts['server_version']}; Python {platform.python_version()}, {os.cpu_count()} CPUs",
        flush=True,
    )
    today = local_date(datetime.now(UTC))
    log = Log(first_month=month_start(date(today.year, today.month, 1), -MONTHS))
    generate_seconds = await generate(url, log)
    print(f"generated {EVENTS:,} events in {generate_seconds:.1f} s", flush=True)
    key, project_seconds, export_seconds, tail_seconds = await export(url, folder)
    full, tail = folder / "full", folder / "tail"
    events = full / "events.jsonl"
    megabytes = events.stat().st_size / 1e6
    print(
        f"projected in {project_seconds:.1f} s; signed and exported in {export_seconds:.1f} s "
        f"({megabytes:,.0f} MB of events), the tail bundle in {tail_seconds:.1f} s",
        flush=True,
    )
    for path in (events, tail / "events.jsonl"):
        read_once(path)

    passes = [baseline(events) for _ in range(BASELINE_PASSES)]
    assert all(EVENTS == lines for lines, _ in passes)
    base_seconds = statistics.median(seconds for _, seconds in passes)
    base_rate = rate(EVENTS, base_seconds)
    print(
        f"baseline {EVENTS:>9,} leaves in {base_seconds:7.2f} s = {base_rate:>10,.0f} events/s "
        f"{megabytes / base_seconds:7.1f} MB/s   (median of {BASELINE_PASSES}: "
        f"{', '.join(f'{seconds:.2f}' for _, seconds in passes)} s)",
        flush=True,
    )

    began = time.perf_counter()
    hashed = verify_bundle(tail, key)
    hashes_seconds = time.perf_counter() - began
    assert (EVENTS, 2) == (hashed.checkpoint.size, hashed.first_position)
    hashes_rate = rate(EVENTS - 1, hashes_seconds)
    tail_megabytes = (tail / "events.jsonl").stat().st_size / 1e6
    print(
        f"hashes   {EVENTS - 1:>9,} events in {hashes_seconds:7.2f} s = {hashes_rate:>10,.0f} events/s "
        f"{tail_megabytes / hashes_seconds:7.1f} MB/s   (verify of the tail bundle: no replay)",
        flush=True,
    )

    began = time.perf_counter()
    verified = verify_bundle(full, key)
    verify_seconds = time.perf_counter() - began
    assert EVENTS == verified.checkpoint.size
    assert verified.rows is not None
    assert [] == verified.notes, verified.notes
    verify_rate = rate(EVENTS, verify_seconds)
    print(
        f"verify   {EVENTS:>9,} events in {verify_seconds:7.2f} s = {verify_rate:>10,.0f} events/s "
        f"{megabytes / verify_seconds:7.1f} MB/s   ({len(verified.rows):,} communities replayed, compared)",
        flush=True,
    )
    ratio = verify_rate / base_rate if base_rate else 0.0
    ratio_hashes = hashes_rate / base_rate if base_rate else 0.0
    print(f"verify/baseline = {ratio:.3f} (target >= {TARGET}); hashes/baseline = {ratio_hashes:.3f}")
    return {
        "events": EVENTS,
        "events_mb": round(megabytes, 1),
        "baseline_seconds": round(base_seconds, 3),
        "baseline_events_per_s": round(base_rate, 1),
        "baseline_mb_per_s": round(megabytes / base_seconds, 1),
        "verify_seconds": round(verify_seconds, 3),
        "verify_events_per_s": round(verify_rate, 1),
        "verify_mb_per_s": round(megabytes / verify_seconds, 1),
        "hashes_seconds": round(hashes_seconds, 3),
        "hashes_events_per_s": round(hashes_rate, 1),
        "hashes_mb_per_s": round(tail_megabytes / hashes_seconds, 1),
        "ratio_verify_over_baseline": round(ratio, 3),
        "ratio_hashes_over_baseline": round(ratio_hashes, 3),
        "target": TARGET,
        "met": ratio >= TARGET,
        "generate_seconds": round(generate_seconds, 1),
        "project_seconds": round(project_seconds, 1),
        "export_seconds": round(export_seconds, 1),
        "server_version": facts["server_version"],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    summary = asyncio.run(main())
    print(json.dumps(summary, ensure_ascii=False), flush=True)
