"""Loading the demo: its commands recorded through `Commands.record`, as a clerk would record them, so
every one passes the same validation a user's command does.

The demo runs to a day, today by default. Loading it again later tops it up: the records up to the earlier
day are the same commands under the same keys, found in the log and passed over, and only the days since
are written; loading twice on one day writes nothing the second time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from events.catalogue import STANDARD_STREAM
from events.errors import IdempotencyKeyReused
from events.hierarchy import TownRegistered
from service.commands.handler import Commands, install_default_standard, stream_of
from service.demo.generator import DEFAULT_SEED, Demo, DemoCommand, generate_demo
from service.log.results import AppendResult
from service.log.store import EventStore


@dataclass(frozen=True, slots=True)
class DemoLoad:
    """What loading the demo did: events written now, commands found already recorded (replayed)."""

    written: int
    replayed: int
    standard_installed: bool
    until: date


class DemoRefused(Exception):
    """The log holds records that are not this demo's: the demo loads only into an empty database."""


# Commands in flight at once while loading: enough to fill the store's group commits.
CONCURRENCY = 32


async def load_demo(
    commands: Commands,
    store: EventStore,
    *,
    seed: int = DEFAULT_SEED,
    until: date | None = None,
    concurrency: int = CONCURRENCY,
) -> DemoLoad:
    """Record the demo up to `until` (default: today by the commands' clock) through the commands: into an
    empty log, or over an earlier load of the same demo, to whatever day that one ran.

    Installs the default standard first. Each stream's commands go in order, many streams at once, so the
    store groups their appends into few commits. Raises DemoRefused, writing nothing, when the log holds
    records other than the standard and this demo's.
    """
    demo = generate_demo(seed, until=until or commands.today())
    await _check_log(store, demo)
    installed = await install_default_standard(commands, store)
    towns: dict[str, list[DemoCommand]] = {}
    communities: dict[str, list[DemoCommand]] = {}
    for command in demo.commands:
        kind = towns if isinstance(command.event, TownRegistered) else communities
        kind.setdefault(stream_of(command.event), []).append(command)
    streams = [*towns.values(), *communities.values()]
    there = await _already_there(store, streams, concurrency)
    missing = [stream[count:] for stream, count in zip(streams, there, strict=True)]
    results = await _record_streams(commands, missing[: len(towns)], concurrency)
    # Communities are registered into their towns, so the towns go first.
    results += await _record_streams(commands, missing[len(towns) :], concurrency)
    written = sum(r.event_count for r in results if not r.replayed)
    replayed = sum(there) + sum(r.event_count for r in results if r.replayed)
    return DemoLoad(written, replayed, installed is not None and not installed.replayed, demo.until)


async def _already_there(
    store: EventStore, streams: Sequence[Sequence[DemoCommand]], concurrency: int
) -> list[int]:
    """How many of each stream's commands the log holds already.

    A stream's commands are recorded in order, so those in the log are the first few: found by halving,
    asking the log for a command's key, in a few lookups a stream (none for a stream not yet begun).
    Whatever else a clerk has since recorded in the stream is no matter.
    """
    gate = asyncio.Semaphore(concurrency)

    async def recorded(command: DemoCommand) -> bool:
        prior = await store.prior_result(
            stream_of(command.event),
            [command.event],
            idempotency_key=command.idempotency_key,
            openings=[command.openings],
        )
        return prior is not None

    async def count(stream: Sequence[DemoCommand]) -> int:
        async with gate:
            if await store.stream_version(stream_of(stream[0].event)) == 0:
                return 0
            low, high = 0, len(stream)
            while low < high:
                middle = (low + high) // 2
                if await recorded(stream[middle]):
                    low = middle + 1
                else:
                    high = middle
            return low

    return list(await asyncio.gather(*(count(stream) for stream in streams)))


async def _check_log(store: EventStore, demo: Demo) -> None:
    head = await store.head()
    others = head - await store.stream_version(STANDARD_STREAM)
    if others <= 0:
        return
    first = demo.commands[0]
    try:
        prior = await store.prior_result(
            stream_of(first.event), [first.event], idempotency_key=first.idempotency_key
        )
    except IdempotencyKeyReused:
        prior = None
    if prior is None:
        raise DemoRefused(
            f"the log already holds {others} events that are not the demo's (seed {demo.seed}); "
            "the demo loads only into an empty database"
        )


async def _record_streams(
    commands: Commands, streams: Sequence[Sequence[DemoCommand]], concurrency: int
) -> list[AppendResult]:
    gate = asyncio.Semaphore(concurrency)

    async def record(stream: Sequence[DemoCommand]) -> list[AppendResult]:
        async with gate:
            return [
                await commands.record(
                    c.event, idempotency_key=c.idempotency_key, metadata=c.metadata, openings=c.openings
                )
                for c in stream
            ]

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(record(stream)) for stream in streams]
    except ExceptionGroup as failed:
        # The first failure is the one to report (a refused command names its field and rule).
        raise failed.exceptions[0] from failed
    return [result for task in tasks for result in task.result()]
