"""Schema fuzzing at length: generated operations against a real `qinglian serve --demo`, counted by outcome.

    python -m tests.bench.fuzz --examples 200 --seconds 600 --seed 1

A fresh migrated database on DATABASE_URL's server (else an embedded one), dropped afterwards; `qinglian
serve --demo` on it (rate limits off). Then rounds over every root field of Query and Mutation: per round,
`--examples` generated operations of each field (tests/support/fuzz.py: hypothesis-graphql, valid
operations with generated arguments and selections), sent as the demo's admin, clerk, inspector or
anonymously, and as many operations with one schema violation each; until `--seconds` have passed (at
least one round). The seed makes the operations reproducible.

Every answer is checked as tests/schema/test_fuzz.py checks it (no 5xx, within the response budget,
GraphQL-shaped JSON) and so is the server's log (no traceback, no unexpected error). Printed: requests
sent, by outcome (`ok`, or the first error's code; a mutation's refusal is data, so `ok`), the events
the mutations wrote, the answer times, the slowest answers, and each problem with its operation; the
last line is one JSON object. The exit status is 1 if there was any problem.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.support.fuzz import (
    HTTP_TIMEOUT,
    MUTATION_FIELDS,
    QUERY_FIELDS,
    Served,
    answer_problems,
    log_problems,
    operations,
    outcome,
    send,
    serving,
)
from tests.support.pg import create_migrated_database, drop_database, server_url, unique_name

PRINCIPALS = ("anonymous", "admin", "clerk", "inspector")
# Mutations mostly as the admin, whom every mutation allows, so the commands run.
WRITERS = ("admin", "admin", "admin", "clerk", "anonymous")


@dataclass
class Tally:
    started: float = field(default_factory=time.perf_counter)
    sent: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    by_kind: collections.Counter[str] = field(default_factory=collections.Counter)
    times: list[float] = field(default_factory=list)
    slowest: list[tuple[float, str, str]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    # Events the mutations appended to the log (those the service accepted).
    written: int = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def fuzz_field(
    client: httpx.Client,
    served: Served,
    tally: Tally,
    kind: str,
    root: str | None,
    *,
    examples: int,
    seed_value: int,
    deadline: float,
) -> None:
    """Send `examples` generated operations of `root` (any root field with None: then with one schema
    violation each) and count what came back; nothing once `deadline` (perf_counter) has passed."""
    negative = root is None
    who_from = ("admin",) if negative else PRINCIPALS if kind == "query" else WRITERS
    label = f"{kind} {'(negative)' if negative else root}"

    @seed(seed_value)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        # Problems are counted, not raised: nothing to shrink.
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(document=operations(kind, root, negative=negative), who=st.sampled_from(who_from))
    def run(document: str, who: str) -> None:
        if time.perf_counter() > deadline:
            return
        answer, took = send(client, served, document, who)
        tally.sent += 1
        tally.by_kind[kind if not negative else f"{kind} (negative)"] += 1
        tally.outcomes[outcome(answer.status_code, answer.content)] += 1
        tally.times.append(took)
        tally.slowest = sorted([*tally.slowest, (took, label, document)], reverse=True)[:5]
        found = answer_problems(answer.status_code, answer.headers.get("content-type", ""), answer.content)
        found += log_problems(served.new_log())
        if found:
            tally.problems.append(
                {
                    "field": label,
                    "as": who,
                    "problems": found,
                    "document": document,
                    "answer": answer.text[:500],
                }
            )

    run()


def head(client: httpx.Client, served: Served) -> int:
    """How many events the log holds, as /readyz says."""
    return int(client.get(served.base_url + "/readyz").json()["head"])


def fuzz(served: Served, *, examples: int, seconds: float, seed_value: int) -> Tally:
    tally = Tally()
    deadline = tally.started + seconds
    rounds = 0
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        first = head(client, served)
        while rounds == 0 or tally.elapsed() < seconds:
            fields: list[tuple[str, str | None]] = [
                *(("query", root) for root in QUERY_FIELDS),
                *(("mutation", root) for root in MUTATION_FIELDS),
                ("query", None),
                ("mutation", None),
            ]
            for kind, root in fields:
                # The first round runs in full whatever the time; later ones stop at the deadline.
                fuzz_field(
                    client,
                    served,
                    tally,
                    kind,
                    root,
                    examples=examples,
                    seed_value=seed_value + rounds,
                    deadline=deadline if rounds else float("inf"),
                )
            rounds += 1
            print(
                f"round {rounds}: {tally.sent} requests, {tally.elapsed():.0f} s", file=sys.stderr, flush=True
            )
        tally.written = head(client, served) - first
    return tally


def report(tally: Tally, served: Served, args: argparse.Namespace) -> dict[str, Any]:
    leftover = log_problems(served.new_log())
    if leftover:
        tally.problems.append({"field": "(server log)", "problems": leftover})
    ms = sorted(t * 1000 for t in tally.times)
    return {
        "bench": "fuzz",
        "examples": args.examples,
        "seconds": args.seconds,
        "seed": args.seed,
        "elapsed_s": round(tally.elapsed(), 1),
        "requests": tally.sent,
        "by_kind": dict(tally.by_kind),
        "outcomes": dict(tally.outcomes.most_common()),
        "events_written": tally.written,
        "median_ms": round(statistics.median(ms), 1) if ms else None,
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1) if ms else None,
        "slowest_ms": round(ms[-1], 1) if ms else None,
        "problems": len(tally.problems),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50, help="operations per root field per round")
    parser.add_argument("--seconds", type=float, default=300.0, help="keep going in rounds this long")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (round n uses seed + n)")
    args = parser.parse_args(argv)
    with server_url() as admin, tempfile.TemporaryDirectory(prefix="qinglian-fuzz-") as folder:
        name = unique_name("qinglian_fuzz")
        url = asyncio.run(create_migrated_database(admin, name))
        try:
            with serving(url, Path(folder)) as served:
                tally = fuzz(served, examples=args.examples, seconds=args.seconds, seed_value=args.seed)
                figures = report(tally, served, args)
        finally:
            asyncio.run(drop_database(admin, name))
    print(f"requests sent: {figures['requests']} in {figures['elapsed_s']} s ({figures['by_kind']})")
    for name_, count in figures["outcomes"].items():
        print(f"  {name_:<28} {count}")
    print(f"events the mutations wrote: {tally.written}")
    median, p99, slowest = figures["median_ms"], figures["p99_ms"], figures["slowest_ms"]
    print(f"answer time: median {median} ms, p99 {p99} ms, slowest {slowest} ms")
    for took, label, document in tally.slowest[:3]:
        print(f"  {took * 1000:.0f} ms  {label}: {' '.join(document.split())[:160]}")
    print(f"problems: {len(tally.problems)}")
    for problem in tally.problems:
        print(json.dumps(problem, ensure_ascii=False))
    print(json.dumps(figures, ensure_ascii=False))
    return 1 if tally.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
