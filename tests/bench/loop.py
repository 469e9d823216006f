"""The event loop under load: `/healthz` latency beside dashboard clients, for one or more builds of the
service, alternating, and what held the server's loop.

    python -m tests.bench.loop --server after=.venv/bin/python --server before=/tmp/base/.venv/bin/python
    python -m tests.bench.loop --heavy --rounds 3 --timed 10 --watch

The demo is loaded once into a fresh migrated database (as `tests.bench.query` builds it, with its tokens);
every run then starts `qinglian serve` (cache off, rate limits off, one uvicorn worker, pinned to CPU 0) with
the given interpreter, so each `--server` is whatever code that interpreter imports (e.g. another
checkout's virtual environment, installed editable). Each run is `tests.bench.query`'s *alone* phase (24
dashboard clients, `/healthz` polled every 20 ms, 20 mutations a second), or its *mix* with `--heavy` (and 8
clients sending HEAVY), or its *stall* with `--stall` (only the 8 HEAVY clients and the poller, no writes);
the servers alternate within each round.

With `--watch` the server runs under this file's watcher (`--watched-serve`): every callback the event loop
runs is timed, in wall time and in the loop thread's CPU time, and each that holds the loop for `--slow`
seconds of wall time (or a quarter of that in CPU) is written to the server's output with its task and the
coroutine frames it resumed from and stopped at; so is every pass of the cyclic garbage collector of a
quarter of `--slow` or more, with its generation. The run then reports the collector's passes by
generation, how many callbacks held the loop for 20 and 50 ms of CPU, the longest and the fifth longest
(about where a 10 s window's `/healthz` p99 falls, at 500 polls), and the slow callbacks grouped by where
they ran. CPU time is what the code holds the loop for, whatever else runs on the server's core; timing
every callback costs a little, so compare watched runs with watched ones.

With `--profile DIR`, py-spy (on PATH) samples each run's server into DIR (raw, per thread).

The last line is one JSON object: per server, the runs' `/healthz` p50, p99 and slowest, the dashboard
p50/p99 and rate, and their medians.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SLOW_MARK = "LOOP-SLOW"
GC_MARK = "LOOP-GC"


def watched_serve(argv: Sequence[str], slow: float) -> int:
    """`qinglian serve argv…` with every event-loop callback timed; those of `slow` seconds or more are
    printed as `LOOP-SLOW <ms> <where>` lines on stderr."""
    import asyncio.events

    original = asyncio.events.Handle._run

    def task_of(handle: asyncio.events.Handle) -> asyncio.Task[Any] | None:
        task = getattr(getattr(handle, "_callback", None), "__self__", None)
        return task if isinstance(task, asyncio.Task) else None

    def waits_at(task: asyncio.Task[Any]) -> str:
        # The innermost frames the task's coroutine chain is suspended at.
        coro: Any = task.get_coro()
        frames = []
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
            if frame is not None:
                name = frame.f_code.co_filename.rsplit("/", 2)
                frames.append(f"{'/'.join(name[-2:])}:{frame.f_lineno}:{frame.f_code.co_name}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        return " <- ".join(reversed(frames[-3:])) or "start"

    def timed(self: asyncio.events.Handle) -> None:
        task = task_of(self)
        before = waits_at(task) if task is not None else ""
        began, cpu = time.perf_counter(), time.thread_time()
        original(self)
        took, used = time.perf_counter() - began, time.thread_time() - cpu
        if took >= slow or used >= slow / 4:
            if task is not None:
                coro = task.get_coro()
                after = waits_at(task) if not task.done() else "end"
                what = f"task {getattr(coro, '__qualname__', '?')} from {before} to {after}"
            else:
                what = f"callback {getattr(self, '_callback', None)!r}"[:300]
            print(f"{SLOW_MARK} {took * 1000:.1f} {used * 1000:.1f} {what}", file=sys.stderr, flush=True)

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]
    collecting: dict[str, float] = {}

    def collected(phase: str, info: dict[str, Any]) -> None:
        # The cyclic collector's passes land in whatever callback allocates: timed apart.
        if phase == "start":
            collecting["began"], collecting["cpu"] = time.perf_counter(), time.thread_time()
            return
        took = time.perf_counter() - collecting.get("began", time.perf_counter())
        used = time.thread_time() - collecting.get("cpu", time.thread_time())
        if took >= slow / 4:
            generation = info["generation"]
            line = f"{GC_MARK} {took * 1000:.1f} generation {generation} cpu {used * 1000:.1f}"
            print(line, file=sys.stderr, flush=True)

    gc.callbacks.append(collected)
    from schema.main import main

    return main(["serve", *argv])


def slow_lines(log: Path) -> list[tuple[float, float, str]]:
    found = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(SLOW_MARK):
            _, ms, cpu, rest = line.split(" ", 3)
            found.append((float(ms), float(cpu), rest))
    return found


def _read_pid(pidfile: Path) -> str:
    return pidfile.read_text().strip() if pidfile.exists() else ""


async def profile(pidfile: Path, out: Path) -> None:
    """py-spy on the server whose pid `pidfile` will hold, sampling its threads until it exits."""
    pid = ""
    while not pid:
        await asyncio.sleep(0.05)
        pid = await asyncio.to_thread(_read_pid, pidfile)
    spy = await asyncio.create_subprocess_exec(
        "py-spy",
        "record",
        "--pid",
        pid,
        "--rate",
        "200",
        "--format",
        "raw",
        "--threads",
        "--nonblocking",
        "-o",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await spy.wait()


async def run(options: argparse.Namespace) -> dict[str, Any]:
    from tests.bench import query as q
    from tests.support.pg import create_migrated_database, drop_database, server_url, unique_name

    servers = [(name, python) for name, _, python in (s.partition("=") for s in options.server)]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in servers}
    with server_url() as admin_url:
        name = unique_name("qinglian_bench_loop")
        url = await create_migrated_database(admin_url, name)
        db = None
        try:
            db, tokens, _ = await q.build_demo(url)
            bench = q.Bench(
                {"demo": db},
                None,
                q.MutationWriter(f"Bearer {tokens.clerk}", db.listed),
                options.warmup,
                options.timed,
            )
            dashboard = q.graphql_request(q.DASHBOARD, operationName="Dashboard")
            heavy = q.graphql_request(q.HEAVY, f"Bearer {tokens.integrator}", operationName="Heavy")
            groups = [q.Group("dashboard", dashboard, q.DASHBOARD_CLIENTS)]
            if options.heavy:
                groups.append(q.Group("heavy", heavy, q.HEAVY_CLIENTS))
            if options.stall:
                groups = [q.Group("heavy", heavy, q.HEAVY_CLIENTS)]
            with tempfile.TemporaryDirectory(prefix="qinglian-bench-loop-") as tmp, q.pinned(q.CLIENT_CPU):
                for round_ in range(1, options.rounds + 1):
                    for label, python in servers:
                        command: tuple[str, ...]
                        if options.watch:
                            command = (python, __file__, "--watched-serve", str(options.slow))
                        else:
                            command = (python, "-m", "schema.main", "serve")
                        spy: asyncio.Task[None] | None = None
                        if options.profile:
                            pidfile = Path(tmp) / f"{label}-{round_}.pid"
                            out = Path(options.profile) / f"{label}-{round_}.txt"
                            command = ("sh", "-c", f'echo $$ > {pidfile}; exec "$@"', "sh", *command)
                            spy = asyncio.get_running_loop().create_task(profile(pidfile, out))
                        phase = q.Phase(
                            label,
                            "mix",
                            "demo",
                            (*command, "--port", "{port}"),
                            q.serve_env(url, Path(tmp) / label, "off"),
                            Path(tmp) / f"{label}-{round_}.log",
                            tuple(groups),
                            writer=None if options.stall else "mutations",
                            healthz=True,
                        )
                        got = await q.timed_run(phase, bench)
                        if spy is not None:
                            await spy
                        if options.logs:
                            shutil.copy(phase.log, Path(options.logs) / phase.log.name)
                        assert got.healthz is not None
                        figures: dict[str, Any] = {
                            "healthz_p50_ms": round(got.healthz.ms(50), 1),
                            "healthz_p99_ms": round(got.healthz.ms(99), 1),
                            "healthz_max_ms": round(max(got.healthz.latencies) * 1000, 1),
                            "server_cpu": round(got.server_cpu, 2),
                        }
                        for group, sample in got.samples.items():
                            figures[f"{group}_per_s"] = round(sample.good / got.seconds, 1)
                            figures[f"{group}_p50_ms"] = round(sample.ms(50), 1)
                            figures[f"{group}_p99_ms"] = round(sample.ms(99), 1)
                            if sample.failures:
                                figures[f"{group}_failures"] = dict(sample.failures)
                        if options.watch:
                            passes = [
                                (line.split()[3], float(line.split()[1]), float(line.split()[5]))
                                for line in phase.timed_log.read_text(errors="replace").splitlines()
                                if line.startswith(GC_MARK)
                            ]
                            for generation in ("0", "1", "2"):
                                took = [(ms, cpu) for g, ms, cpu in passes if g == generation]
                                figures[f"gc{generation}_slow_passes"] = len(took)
                                figures[f"gc{generation}_slow_ms_total"] = round(sum(m for m, _ in took), 1)
                                figures[f"gc{generation}_cpu_ms_total"] = round(sum(c for _, c in took), 1)
                                figures[f"gc{generation}_max_cpu_ms"] = max((c for _, c in took), default=0.0)
                            slow = slow_lines(phase.timed_log)
                            figures["slow_callbacks"] = len(slow)
                            figures["slow_ms_total"] = round(sum(ms for ms, _, _ in slow), 1)
                            figures["slow_cpu_ms_total"] = round(sum(cpu for _, cpu, _ in slow), 1)
                            held = sorted((cpu for _, cpu, _ in slow), reverse=True)
                            # Callbacks by the CPU they held the loop for (wall time also counts the
                            # other processes on the server's core).
                            figures["held_cpu_20ms"] = sum(cpu >= 20 for cpu in held)
                            figures["held_cpu_50ms"] = sum(cpu >= 50 for cpu in held)
                            figures["held_cpu_max_ms"] = held[0] if held else 0.0
                            figures["held_cpu_5th_ms"] = held[4] if len(held) > 4 else 0.0
                            grouped: dict[str, list[tuple[float, float]]] = {}
                            for ms, cpu, what in slow:
                                grouped.setdefault(what, []).append((ms, cpu))
                            ranked = sorted(grouped.items(), key=lambda item: -sum(c for _, c in item[1]))
                            figures["slow_by_where"] = [
                                {
                                    "where": what,
                                    "count": len(seen),
                                    "cpu_ms": round(sum(c for _, c in seen), 1),
                                    "max_ms": max(m for m, _ in seen),
                                    "max_cpu_ms": max(c for _, c in seen),
                                }
                                for what, seen in ranked[: options.top]
                            ]
                        results[label].append(figures)
                        print(f"{label} {round_}/{options.rounds} " + json.dumps(figures), flush=True)
        finally:
            if db is not None:
                await db.store.close()
                await db.pool.close()
            await drop_database(admin_url, name)
    medians = {
        label: {
            key: statistics.median(run[key] for run in runs)
            for key in runs[0]
            if isinstance(runs[0][key], int | float)
        }
        for label, runs in results.items()
        if runs
    }
    return {"medians": medians, "runs": results, "heavy": options.heavy, "watch": options.watch}


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.loop")
    parser.add_argument(
        "--server", action="append", help="NAME=PYTHON: a build to serve with (default: this interpreter)"
    )
    parser.add_argument("--heavy", action="store_true", help="add 8 clients sending HEAVY (the mix)")
    parser.add_argument(
        "--stall", action="store_true", help="only the 8 HEAVY clients, no writes (query's stall phase)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds")
    parser.add_argument("--timed", type=float, default=10.0, help="seconds")
    parser.add_argument("--watch", action="store_true", help="time the server's event-loop callbacks")
    parser.add_argument("--slow", type=float, default=0.02, help="seconds: a slow callback (--watch)")
    parser.add_argument("--profile", help="a folder for py-spy's raw samples of each server (py-spy on PATH)")
    parser.add_argument("--logs", help="a folder to keep each run's server log in")
    parser.add_argument("--top", type=int, default=12, help="slow places listed per run (--watch)")
    options = parser.parse_args(argv)
    options.server = options.server or [f"this={sys.executable}"]
    return options


if __name__ == "__main__":
    if sys.argv[1:2] == ["--watched-serve"]:
        raise SystemExit(watched_serve(sys.argv[3:], float(sys.argv[2])))
    print(json.dumps(asyncio.run(run(arguments(sys.argv[1:]))), ensure_ascii=False), flush=True)
