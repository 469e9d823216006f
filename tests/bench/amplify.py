"""Amplification: what a few clients asking for the log's largest events in bulk do to the server's
memory, and whether it comes back to its level afterwards.

    python -m tests.bench.amplify                      # embedded PostgreSQL, or DATABASE_URL when set
    python -m tests.bench.amplify --rounds 5 --timed 20
    python -m tests.bench.amplify --server-env MALLOC_ARENA_MAX=2   # other allocator settings

A fresh migrated database (dropped afterwards): the demo with its integrator's token, as
tests/bench/query.py builds it (`build_demo`), then `--events` (20) events carrying very large fields
appended the way an old log could hold them, below the commands (whose input caps now refuse such
fields): `DisclosurePublished` records of the listed communities, each with a title of `--field-kb`
(250) KB of Chinese text, imported in one `EventStore.bulk_import`. Each is read back and checked: it
decodes to the event written (`CATALOGUE.decode`), its canonical bytes hold its payload and hash to its
leaf hash; once the server's projector has folded it, the API's answer for one of them (as the
integrator) has the same payload and canonical text, which hashes to the leafHash it gives.

One server, `qinglian serve` in a subprocess pinned to CPU 0 (as query.py's `running` starts it: the
per-caller rate limits off; the response cache off by default, `--cache on` as deployed — the event
documents are never cached either way, `events` is not answered from the projections, and with the
cache off the dashboard does its whole work on every request), this process pinned to CPU 1. The same
server process lives through every phase:

  warm-up    6 clients send the dashboard (tests/bench/query.py's DASHBOARD, anonymous) for `--warmup`
             (5 s); the server's RSS (VmRSS of /proc/PID/status) then is the level.
  baseline   the same 6 clients send the dashboard for `--timed` (10 s).
  attack     6 clients for `--timed`, each sending one document again as soon as it is answered:
               exact_anonymous   the reported attack, 30 aliases of
                                 `events(first: 20) { edges { node { canonical payload metadata } } }`,
                                 without a credential;
               exact_integrator  the same with the integrator's token;
               widest  (2)       the widest the cost limit lets through: 10 aliases of that page of 20
                                 (worst-case cost 9,410 of 10,000), `after` the demo's events, so every
                                 page is the 20 large events: ten times the response budget;
               under             one page of the large events, as many as fit the response budget;
               over              one page of one more, just over the budget.
  recovery   the 6 dashboard clients again for `--timed`, then `--idle` (5 s) with no requests.

Baseline and attack alternate for `--rounds` (3) rounds, then recovery and idle once; each phase with
requests is followed by 1 s without any. The RSS is sampled every 20 ms throughout: for each phase its
value at the start, its peak, its value as the last answer arrives (the end) and 1 s later (rested: the
server is still freeing the last large answer when the client has it; seen once at 231 MB as the answer
arrived and 81 MB 22 ms later, the server having used 20 ms of CPU meanwhile); figures per phase are
medians of the rounds. The level is the RSS at
the end of the warm-up. Every answer is counted by outcome (`ok`, the HTTP status
or the first error's code, as query.py's `failure` reads it), per document, with the largest body
received. Targets, reported as `met` flags and never enforced:

  - no body larger than the response budget (schema/limits.py, 8 MiB) plus 4 KB: a refusal in place of
    an answer is a few hundred bytes, an answer itself at most the budget;
  - the RSS at the end of recovery, and again after the idle, within 30 MB of the level after warm-up.
    An absolute bound, not a share of the level: what is at stake is memory an attack leaves behind,
    which does not scale with the size the process had before it; 30 MB is about what one answer at
    the budget occupies in its forms on the way out (the result's objects, the encoded bytes, the text,
    the response body) and a third of what one refused `widest` request builds, so a miss means more
    than one answer's worth stays.

Human-readable lines go out as each phase ends; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from events.catalogue import CATALOGUE
from events.disclosure import Channel, DisclosureCategory, DisclosurePublished
from events.merkle import leaf_hash
from projections.localtime import local_date
from schema.limits import DEFAULT_LIMITS
from service.commands.handler import stream_of
from service.log.bulk import Entry
from service.log.clock import utc_now
from service.read.paging import position_cursor
from tests.bench.query import (
    CLIENT_CPU,
    DASHBOARD,
    Database,
    Phase,
    Server,
    build_demo,
    connection,
    failure,
    graphql_request,
    median,
    pinned,
    running,
    serve_env,
    worst_case_cost,
)
from tests.support.domain import digest
from tests.support.pg import create_migrated_database, drop_database, server_settings, server_url, unique_name

EVENTS = 20
FIELD_KB = 250
ROUNDS = 3
WARMUP_SECONDS = 5.0
TIMED_SECONDS = 10.0
IDLE_SECONDS = 5.0
# After each phase with requests: as its last answer arrives the server may still be freeing a large one;
# this long after, with no request sent, it is done.
REST_SECONDS = 1.0
SAMPLE_EVERY = 0.020
CLIENTS = 6
MARGIN_BYTES = 4096
RSS_RETURN_MB = 30.0
BUDGET = DEFAULT_LIMITS.max_response_bytes
# A line of an old disclosure's text; repeated to the field's size.
LINE = "关于本社区二〇二三年度财务收支、集体资产处置和惠民资金发放情况的逐笔说明。"
PAGE = "events(first: {first}{after}) {{ edges {{ node {{ canonical payload metadata }} }} }}"


def aliased(aliases: int, first: int, after: bool) -> str:
    """`aliases` aliases of a page of `first` events in full, after `$after` when `after`."""
    page = PAGE.format(first=first, after=", after: $after" if after else "")
    body = "\n".join(f"  e{i}: {page}" for i in range(1, aliases + 1))
    return f"query{'($after: String)' if after else ''} {{\n{body}\n}}"


EXACT = aliased(30, 20, after=False)
WIDEST_ALIASES = 10


# -- the log ----------------------------------------------------------------------------------------------


def large_events(communities: Sequence[str], count: int, field_bytes: int) -> list[Entry]:
    """`count` disclosures, each with a title of about `field_bytes` bytes of UTF-8, on the communities in
    turn, dated a year back (published before the caps, as an old log holds them)."""
    line = LINE.encode()
    title = LINE * max(1, field_bytes // len(line))
    published = local_date(utc_now()) - timedelta(days=365)
    entries: list[Entry] = []
    for n in range(count):
        event = DisclosurePublished(
            community_id=communities[n % len(communities)],
            disclosure_id=f"archive-{n}",
            category=DisclosureCategory.FINANCE,
            period=str(published.year),
            channel=Channel.NOTICE_BOARD,
            published_on=published,
            title=f"{n} {title}",
            digest=digest(f"archive-{n}"),
        )
        entries.append((stream_of(event), event, {"actor": "archive"}))
    return entries


async def append_large(db: Database, count: int, field_bytes: int) -> tuple[int, list[int]]:
    """The large events imported after the demo, each read back and checked; the head before them and
    their positions."""
    before = await db.store.head()
    entries = large_events(db.listed, count, field_bytes)
    began = time.perf_counter()
    result = await db.store.bulk_import(entries, idempotency_key="tests.bench.amplify large events")
    seconds = time.perf_counter() - began
    assert result.first_position == before + 1, result
    assert result.event_count == count, result
    read = await db.store.read_all(after_position=before, limit=count + 1)
    assert len(read) == count, len(read)
    for (stream_id, event, *_), rec in zip(entries, read, strict=True):
        assert rec.stream_id == stream_id
        assert CATALOGUE.decode(rec.type, rec.schema_version, rec.payload) == event
        assert json.loads(rec.canonical)["payload"] == rec.payload
        assert leaf_hash(rec.canonical) == rec.leaf_hash
    sizes = [len(rec.canonical) for rec in read]
    print(
        f"{count} large events imported in {seconds:.1f} s after position {before:,}: canonical bytes "
        f"{min(sizes):,} to {max(sizes):,} each; each decodes to the event written and hashes to its leaf",
        flush=True,
    )
    return before, [rec.position for rec in read]


# -- load and memory --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    label: str
    request: bytes
    clients: int


@dataclass(slots=True)
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    largest: int = 0

    def add(self, outcome: str, size: int) -> None:
        self.outcomes[outcome] += 1
        self.largest = max(self.largest, size)


@dataclass(slots=True)
class PhaseRun:
    name: str
    seconds: float
    rss_start_mb: float
    rss_peak_mb: float
    rss_end_mb: float  # as the phase's last answer arrived
    rss_rested_mb: float  # REST_SECONDS later, no request sent meanwhile (the same for idle)
    tallies: dict[str, Tally]


class Sampler:
    """The server's VmRSS every SAMPLE_EVERY seconds while `sampling`."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.values: list[float] = []

    @contextlib.asynccontextmanager
    async def sampling(self) -> AsyncIterator[None]:
        self.values = [self.server.memory_mb("VmRSS")]

        async def sample() -> None:
            while True:
                await asyncio.sleep(SAMPLE_EVERY)
                self.values.append(self.server.memory_mb("VmRSS"))

        task = asyncio.get_running_loop().create_task(sample())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.values.append(self.server.memory_mb("VmRSS"))


async def send(port: int, documents: Sequence[Document], seconds: float) -> tuple[float, dict[str, Tally]]:
    """Each document's clients for `seconds`, each sending it again as soon as it is answered; an answer
    in flight at the deadline is waited for and counted."""
    tallies = {d.label: Tally() for d in documents}
    start = time.perf_counter()
    deadline = start + seconds

    async def client(document: Document, tally: Tally) -> None:
        async with connection(port) as conn:
            while time.perf_counter() < deadline:
                status, body = await conn.exchange(document.request)
                tally.add(failure(status, body) or "ok", len(body))

    await asyncio.gather(*(client(d, tallies[d.label]) for d in documents for _ in range(d.clients)))
    return time.perf_counter() - start, tallies


async def phase(name: str, server: Server, documents: Sequence[Document], seconds: float) -> PhaseRun:
    sampler = Sampler(server)
    async with sampler.sampling():
        if documents:
            took, tallies = await send(server.port, documents, seconds)
            end = server.memory_mb("VmRSS")
            await asyncio.sleep(REST_SECONDS)
        else:
            began = time.perf_counter()
            await asyncio.sleep(seconds)
            took, tallies = time.perf_counter() - began, {}
            end = server.memory_mb("VmRSS")
    values = sampler.values
    run = PhaseRun(name, took, values[0], max(values), end, values[-1], tallies)
    parts = [
        f"{name:<9} RSS {run.rss_start_mb:6.1f} -> peak {run.rss_peak_mb:6.1f} -> {run.rss_end_mb:6.1f} MB, "
        f"{run.rss_rested_mb:6.1f} MB {REST_SECONDS:g} s later"
    ]
    for label, tally in tallies.items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(tally.outcomes.items()))
        parts.append(f"{label}: {outcomes}, largest {tally.largest:,} B")
        if name in ("baseline", "recovery", "warm-up"):
            break
    print("  ".join(parts), flush=True)
    return run


# -- the run ----------------------------------------------------------------------------------------------


async def event_size(port: int, authorization: str, after: str) -> tuple[int, int]:
    """The bytes one more large event adds to an answer of one page, and the page's bytes around them."""
    sizes = []
    for first in (1, 2):
        request = graphql_request(aliased(1, first, True), authorization, variables={"after": after})
        async with connection(port) as conn:
            status, body = await conn.exchange(request)
        assert failure(status, body) is None, body[:500]
        sizes.append(len(body))
    per_event = sizes[1] - sizes[0]
    return per_event, sizes[0] - per_event


async def check_served(port: int, authorization: str, before: int, positions: Sequence[int]) -> None:
    """The API's answer for the first large event: its payload and canonical text as imported, hashing to
    the leafHash it gives."""
    document = (
        "query($after: String) { events(first: 1, after: $after) "
        "{ edges { node { position payload canonical leafHash } } } }"
    )
    request = graphql_request(document, authorization, variables={"after": position_cursor("events", before)})
    async with connection(port) as conn:
        status, body = await conn.exchange(request)
    assert failure(status, body) is None, body[:500]
    node = json.loads(body)["data"]["events"]["edges"][0]["node"]
    canonical = node["canonical"].encode()
    assert node["position"] == positions[0]
    assert json.loads(canonical)["payload"] == node["payload"]
    assert leaf_hash(canonical).hex() == node["leafHash"], "the served canonical text hashes to its leaf"


def attack_documents(integrator: str, after: str, under: int, events: int) -> list[Document]:
    """The attack phase's documents and how many clients send each."""
    variables = {"after": after}

    def page(aliases: int, first: int) -> bytes:
        return graphql_request(aliased(aliases, first, True), integrator, variables=variables)

    return [
        Document("exact_anonymous", graphql_request(EXACT), 1),
        Document("exact_integrator", graphql_request(EXACT, integrator), 1),
        Document("widest", page(WIDEST_ALIASES, events), 2),
        Document("under", page(1, under), 1),
        Document("over", page(1, under + 1), 1),
    ]


def refusals(log: Path) -> int:
    """How many answers the server logged as too large."""
    return log.read_text(encoding="utf-8", errors="replace").count('"response too large"')


def summarize(warm: PhaseRun, runs: list[PhaseRun], recovery: PhaseRun, idle: PhaseRun) -> dict[str, Any]:
    out: dict[str, Any] = {"rss_warm_mb": round(warm.rss_end_mb, 1)}
    for name in ("baseline", "attack"):
        mine = [r for r in runs if r.name == name]
        for key in ("rss_start_mb", "rss_peak_mb", "rss_end_mb", "rss_rested_mb"):
            values = [getattr(r, key) for r in mine]
            out[f"{name}_{key}"] = round(median(values), 1)
            out[f"{name}_{key}_runs"] = [round(v, 1) for v in values]
        labels = list(mine[0].tallies) if mine else []
        for label in labels:
            total: Counter[str] = Counter()
            for r in mine:
                total.update(r.tallies[label].outcomes)
            out[f"{name}_{label}_outcomes"] = dict(total)
            out[f"{name}_{label}_outcomes_runs"] = [dict(r.tallies[label].outcomes) for r in mine]
            out[f"{name}_{label}_largest_bytes"] = max(r.tallies[label].largest for r in mine)
    for run in (recovery, idle):
        out[f"{run.name}_rss_start_mb"] = round(run.rss_start_mb, 1)
        out[f"{run.name}_rss_peak_mb"] = round(run.rss_peak_mb, 1)
        out[f"{run.name}_rss_end_mb"] = round(run.rss_end_mb, 1)
        out[f"{run.name}_rss_rested_mb"] = round(run.rss_rested_mb, 1)
    out["recovery_outcomes"] = {k: dict(t.outcomes) for k, t in recovery.tallies.items()}
    return out


async def run_all(admin_url: str, options: argparse.Namespace) -> dict[str, Any]:
    settings = await server_settings(admin_url, ("server_version", "shared_buffers"))
    name = unique_name("qinglian_bench")
    began = time.perf_counter()
    url = await create_migrated_database(admin_url, name)
    db: Database | None = None
    try:
        db, tokens, built = await build_demo(url)
        before, positions = await append_large(db, options.events, options.field_kb * 1000)
        integrator = f"Bearer {tokens.integrator}"
        after = position_cursor("events", before)
        python = sys.executable
        with tempfile.TemporaryDirectory(prefix="qinglian-bench-amplify-") as tmp, pinned(CLIENT_CPU):
            server_phase = Phase(
                "amplify",
                "amplify",
                "demo",
                (python, "-m", "schema.main", "serve", "--port", "{port}"),
                {**serve_env(url, Path(tmp) / "data", options.cache), **dict(options.server_env)},
                Path(tmp) / "server.log",
                (),
            )
            async with running(server_phase) as server:
                await db.settled()
                await check_served(server.port, integrator, before, positions)
                per_event, around = await event_size(server.port, integrator, after)
                under = min((BUDGET - around) // per_event, options.events - 1)
                print(
                    f"served: each large event adds {per_event:,} B to an answer; a page of {under} is "
                    f"{around + under * per_event:,} B of the {BUDGET:,} B budget, {under + 1} over it",
                    flush=True,
                )
                exact_cost = worst_case_cost(EXACT)
                widest_document = aliased(WIDEST_ALIASES, options.events, True)
                widest_cost = worst_case_cost(widest_document)
                dashboard = Document(
                    "dashboard", graphql_request(DASHBOARD, operationName="Dashboard"), CLIENTS
                )
                attack = attack_documents(integrator, after, under, options.events)
                assert sum(d.clients for d in attack) == CLIENTS
                print(
                    f"exact attack: {len(EXACT):,} characters, worst-case cost {exact_cost:,}; widest: "
                    f"{WIDEST_ALIASES} aliases of {options.events}, cost {widest_cost:,} "
                    f"(limit {DEFAULT_LIMITS.max_cost:,})",
                    flush=True,
                )
                warm = await phase("warm-up", server, [dashboard], options.warmup)
                runs: list[PhaseRun] = []
                for _ in range(options.rounds):
                    runs.append(await phase("baseline", server, [dashboard], options.timed))
                    runs.append(await phase("attack", server, attack, options.timed))
                recovery = await phase("recovery", server, [dashboard], options.timed)
                idle = await phase("idle", server, [], options.idle)
                hwm = server.memory_mb("VmHWM")
            too_large = refusals(server_phase.log)
    finally:
        if db is not None:
            await db.store.close()
            await db.pool.close()
        await drop_database(admin_url, name)

    summary = summarize(warm, runs, recovery, idle)
    largest = max(
        (v for k, v in summary.items() if k.startswith("attack_") and k.endswith("_largest_bytes")), default=0
    )
    level = summary["rss_warm_mb"]
    figures = {
        "largest_body_bytes": largest,
        "rss_end_minus_warm_mb": round(summary["recovery_rss_end_mb"] - level, 1),
        "rss_idle_minus_warm_mb": round(summary["idle_rss_end_mb"] - level, 1),
        "rss_attack_peak_minus_warm_mb": round(summary["attack_rss_peak_mb"] - level, 1),
        "rss_baseline_peak_minus_warm_mb": round(summary["baseline_rss_peak_mb"] - level, 1),
    }
    met = {
        "largest_body_within_budget": largest <= BUDGET + MARGIN_BYTES,
        "rss_end_returns": figures["rss_end_minus_warm_mb"] <= RSS_RETURN_MB,
        "rss_idle_returns": figures["rss_idle_minus_warm_mb"] <= RSS_RETURN_MB,
    }
    print(
        f"medians of {options.rounds}: RSS after warm-up {level:.1f} MB; baseline peak "
        f"{summary['baseline_rss_peak_mb']:.1f} end {summary['baseline_rss_end_mb']:.1f} MB; attack peak "
        f"{summary['attack_rss_peak_mb']:.1f} end {summary['attack_rss_end_mb']:.1f} MB "
        f"({summary['attack_rss_rested_mb']:.1f} MB {REST_SECONDS:g} s later); after recovery "
        f"{summary['recovery_rss_end_mb']:.1f} MB, after {options.idle:g} s idle "
        f"{summary['idle_rss_end_mb']:.1f} MB (VmHWM {hwm:.1f} MB); largest body {largest:,} B",
        flush=True,
    )
    misses = [k for k, ok in met.items() if not ok]
    print(
        f"targets: largest body <= {BUDGET:,} + {MARGIN_BYTES:,} B, RSS after recovery and after idle within "
        f"{RSS_RETURN_MB:g} MB of warm; " + (f"missed: {', '.join(misses)}" if misses else "all met"),
        flush=True,
    )
    return {
        **figures,
        "met": met,
        "misses": misses,
        "targets": {
            "largest_body_bytes_at_most": BUDGET + MARGIN_BYTES,
            "rss_return_mb_at_most": RSS_RETURN_MB,
        },
        **summary,
        "vm_hwm_mb": round(hwm, 1),
        "server_logged_response_too_large": too_large,
        "budget_bytes": BUDGET,
        "per_event_bytes": per_event,
        "page_under_budget": under,
        "exact_cost": exact_cost,
        "widest_cost": widest_cost,
        "cost_limit": DEFAULT_LIMITS.max_cost,
        "events": options.events,
        "field_kb": options.field_kb,
        "large_positions": [positions[0], positions[-1]],
        "demo": built,
        "cache": options.cache,
        "server_env": dict(options.server_env),
        "clients": CLIENTS,
        "rounds": options.rounds,
        "warmup_seconds": options.warmup,
        "timed_seconds": options.timed,
        "idle_seconds": options.idle,
        "seconds": round(time.perf_counter() - began, 1),
        "load_average": list(os.getloadavg()),
        "server_version": settings["server_version"],
        "shared_buffers": settings["shared_buffers"],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="python -m tests.bench.amplify", description=summary)

    def pair(text: str) -> tuple[str, str]:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError("expected NAME=VALUE")
        return name, value

    parser.add_argument("--events", type=int, default=EVENTS, help="large events appended")
    parser.add_argument("--field-kb", type=int, default=FIELD_KB, help="each large event's title, KB")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--warmup", type=float, default=WARMUP_SECONDS, help="seconds")
    parser.add_argument("--timed", type=float, default=TIMED_SECONDS, help="seconds per phase")
    parser.add_argument("--idle", type=float, default=IDLE_SECONDS, help="seconds idle at the end")
    parser.add_argument("--cache", choices=("on", "off"), default="off", help="the server's response cache")
    parser.add_argument(
        "--server-env", type=pair, action="append", default=[], help="NAME=VALUE for the server's environment"
    )
    return parser.parse_args(argv)


async def main(options: argparse.Namespace) -> dict[str, Any]:
    with server_url() as admin_url:
        return await run_all(admin_url, options)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(arguments(sys.argv[1:]))), ensure_ascii=False), flush=True)
