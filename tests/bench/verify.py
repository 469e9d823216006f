"""Offline verification at scale: `verify_bundle` on an exported bundle of 1,000,000 events.

    python -m tests.bench.verify            # embedded PostgreSQL, or DATABASE_URL when set

One fresh migrated database, dropped afterwards. The log is the replay benchmark's (tests/bench/replay.py:
towns, the default standard, 1,000 communities and their monthly activity), imported with
`EventStore.bulk_import`; the projections are caught up, a checkpoint is signed with a key made for the run,
and the bundle is exported (`export_bundle`, status.json included) into a temporary folder.

Timed, on a file the page cache already holds (one untimed read first):

  baseline   the ten lines an inspector would write: each line of events.jsonl hashed as
             SHA-256(0x00 || line).
  integrity  `verify_bundle(bundle, key, replay=False)` (`qinglian verify --no-replay`): every leaf, the
             root at every signed size, the signatures: what the baseline's hashes are for.
  verify     `verify_bundle(bundle, key)` (`qinglian verify`): all of the above, then every event parsed,
             its envelope checked, decoded, folded through the projections, and the status table compared
             with status.json.

The log and the bundle are built once; the three phases then alternate, three rounds (baseline, integrity,
verify, baseline, integrity, verify, …). Each phase's figure is the median of its three runs, and the
ratios are ratios of the medians.

The target (integrity >= 0.5 x baseline) is the verification proper; the full figure, replay included, is
reported beside it.

Human-readable lines go out as each run ends; the last line is one JSON object for scripts to read.
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
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from events.catalogue import CATALOGUE
from events.note import VerifierKey
from projections.localtime import local_date
from service.log.pool import create_pool
from service.read.projector import rebuild
from service.transparency.export import export_bundle
from service.transparency.signer import Signer, generate_key, load_signing_key, write_key_pair
from service.transparency.tree import LogTree
from service.transparency.verify import read_key, verify_bundle
from tests.bench.replay import EVENTS, MONTHS, Log, generate, month_start, rate, server_facts
from tests.support.pg import in_fresh_database

ROUNDS = 3  # runs of each phase, alternating; the figures are their medians
TARGET = 0.5  # verify's rate over the baseline's
ORIGIN = "bench.example/qinglian"


def hash_lines(events: Path) -> float:
    """The baseline: leaf hashes alone over events.jsonl; the seconds it took."""
    sha256 = hashlib.sha256
    lines = 0
    began = time.perf_counter()
    with events.open("rb") as lines_in:
        for line in lines_in:
            sha256(b"\x00" + line[:-1]).digest()
            lines += 1
    taken = time.perf_counter() - began
    assert EVENTS == lines
    return taken


def integrity(bundle: Path, key: VerifierKey) -> float:
    """`qinglian verify --no-replay`; the seconds it took."""
    began = time.perf_counter()
    checked = verify_bundle(bundle, key, replay=False)
    taken = time.perf_counter() - began
    assert (EVENTS, None) == (checked.checkpoint.size, checked.rows)
    return taken


def verify(bundle: Path, key: VerifierKey) -> float:
    """`qinglian verify`, the replay and the comparison with status.json included; the seconds it took."""
    began = time.perf_counter()
    verified = verify_bundle(bundle, key)
    taken = time.perf_counter() - began
    assert EVENTS == verified.checkpoint.size
    assert verified.rows is not None
    assert [] == verified.notes, verified.notes
    return taken


def read_once(path: Path) -> None:
    with path.open("rb") as data:
        while data.read(1 << 20):
            pass


async def export(url: str, folder: Path) -> tuple[VerifierKey, float, float]:
    """Rebuild the projections, sign, export: (key, rebuild s, export s)."""
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
    finally:
        await pool.close()
    return read_key(pair.verifier_text), projected - began, exported - projected


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
    key, project_seconds, export_seconds = await export(url, folder)
    full = folder / "full"
    events = full / "events.jsonl"
    megabytes = events.stat().st_size / 1e6
    print(
        f"projected in {project_seconds:.1f} s; signed and exported in {export_seconds:.1f} s "
        f"({megabytes:,.0f} MB of events)",
        flush=True,
    )
    read_once(events)

    phases: dict[str, Callable[[], float]] = {
        "baseline": lambda: hash_lines(events),
        "integrity": lambda: integrity(full, key),
        "verify": lambda: verify(full, key),
    }
    seconds: dict[str, list[float]] = {name: [] for name in phases}
    for round_ in range(1, ROUNDS + 1):
        for name, run in phases.items():
            taken = run()
            seconds[name].append(taken)
            print(
                f"{name:<9} {round_}/{ROUNDS} {EVENTS:>9,} events in {taken:7.2f} s = "
                f"{rate(EVENTS, taken):>10,.0f} events/s {megabytes / taken:7.1f} MB/s",
                flush=True,
            )
    median = {name: statistics.median(runs) for name, runs in seconds.items()}
    base_rate, integrity_rate, verify_rate = (
        rate(EVENTS, median[name]) for name in ("baseline", "integrity", "verify")
    )
    for name, taken in median.items():
        print(
            f"{name:<9} median of {ROUNDS}: {taken:7.2f} s = {rate(EVENTS, taken):>10,.0f} events/s "
            f"{megabytes / taken:7.1f} MB/s",
            flush=True,
        )
    ratio = verify_rate / base_rate if base_rate else 0.0
    ratio_integrity = integrity_rate / base_rate if base_rate else 0.0
    print(
        f"integrity/baseline = {ratio_integrity:.3f} (target >= {TARGET}); "
        f"verify with replay/baseline = {ratio:.3f} (ratios of medians)"
    )
    return {
        "events": EVENTS,
        "events_mb": round(megabytes, 1),
        "rounds": ROUNDS,
        "baseline_seconds": round(median["baseline"], 3),
        "baseline_seconds_runs": [round(t, 3) for t in seconds["baseline"]],
        "baseline_events_per_s": round(base_rate, 1),
        "baseline_mb_per_s": round(megabytes / median["baseline"], 1),
        "verify_seconds": round(median["verify"], 3),
        "verify_seconds_runs": [round(t, 3) for t in seconds["verify"]],
        "verify_events_per_s": round(verify_rate, 1),
        "verify_mb_per_s": round(megabytes / median["verify"], 1),
        "integrity_seconds": round(median["integrity"], 3),
        "integrity_seconds_runs": [round(t, 3) for t in seconds["integrity"]],
        "integrity_events_per_s": round(integrity_rate, 1),
        "integrity_mb_per_s": round(megabytes / median["integrity"], 1),
        "ratio_integrity_over_baseline": round(ratio_integrity, 3),
        "ratio_verify_over_baseline": round(ratio, 3),
        "target": TARGET,
        "met": ratio_integrity >= TARGET,
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
