"""Loading the demo: its commands recorded through `Commands.record`, as a clerk would record them, so
every one passes the same validation a user's command does; loading twice writes nothing the second time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

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


class DemoRefused(Exception):
    """The log holds records that are not this demo's: the demo loads only into an empty database."""


# Commands in flight at once while loading: enough to fill the store's group commits.
CONCURRENCY = 32


async def load_demo(
    commands: Commands, store: EventStore, *, seed: int = DEFAULT_SEED, concurrency: int = CONCURRENCY
) -> DemoLoad:
    """Record the demo through the commands: into an empty log, or over an earlier load of the same demo.

    Installs the default standard first. Each stream's commands go in order, many streams at once, so the
    store groups their appends into few commits. Raises DemoRefused, writing nothing, when the log holds
    records other than the standard and this demo's.
    """
    demo = generate_demo(seed)
    await _check_log(store, demo)
    installed = await install_default_standard(commands, store)
    towns: dict[str, list[DemoCommand]] = {}
    communities: dict[str, list[DemoCommand]] = {}
    for command in demo.commands:
        streams = towns if isinstance(command.event, TownRegistered) else communities
        streams.setdefault(stream_of(command.event), []).append(command)
    results = await _record_streams(commands, list(towns.values()), concurrency)
    # Communities are registered into their towns, so the towns go first.
    results += await _record_streams(commands, list(communities.values()), concurrency)
    written = sum(r.event_count for r in results if not r.replayed)
    replayed = sum(r.event_count for r in results if r.replayed)
    return DemoLoad(written, replayed, installed is not None and not installed.replayed)


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
