"""Loading the demo: each command checked by the rules a clerk's command is checked by (`check`, against
the community as the log and the commands before it leave it), then all imported in one transaction.

The demo runs to a day, today by default. Loading it again later tops it up: the records up to the earlier
day are the same commands, found in the log and passed over, and only the days since are written; loading
twice on one day writes nothing the second time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from events.catalogue import CATALOGUE, STANDARD_STREAM
from events.errors import ValidationError
from events.hierarchy import TownRegistered
from projections.community import evolve
from projections.decisions import Context, check, normalized
from projections.facts import CommunityFacts
from service.commands.handler import Commands, install_default_standard, stream_of
from service.demo.generator import DEFAULT_SEED, Demo, DemoCommand, generate_demo
from service.log.bulk import Entry
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


@dataclass(slots=True)
class _Stream:
    """One stream's demo commands, and what the log holds of it."""

    stream_id: str
    commands: list[DemoCommand]
    there: int = 0  # how many of the commands the log holds (the first ones)
    version: int = 0
    facts: CommunityFacts | None = None


async def load_demo(
    commands: Commands, store: EventStore, *, seed: int = DEFAULT_SEED, until: date | None = None
) -> DemoLoad:
    """Record the demo up to `until` (default: today by the commands' clock): into an empty log, or over
    an earlier load of the same demo, to whatever day that one ran.

    Installs the default standard first. Raises DemoRefused, writing nothing, when the log holds records
    other than the standard and this demo's; raises ValidationError, writing nothing, when a command breaks
    a rule (a last day after today, for one).
    """
    today = commands.today()
    demo = generate_demo(seed, until=until or today)
    streams: dict[str, _Stream] = {}
    for command in demo.commands:
        stream_id = stream_of(command.event)
        streams.setdefault(stream_id, _Stream(stream_id, [])).commands.append(command)
    for stream in streams.values():
        await _read(store, stream, f"demo-{seed}-")
    await _check_log(store, demo, streams)
    installed = await install_default_standard(commands, store)
    entries = _checked(demo, streams, today, await store.head())
    if entries:
        await store.bulk_import(entries, idempotency_key=f"demo-{seed}-until-{demo.until.isoformat()}")
    replayed = sum(stream.there for stream in streams.values())
    return DemoLoad(len(entries), replayed, installed is not None and not installed.replayed, demo.until)


async def _read(store: EventStore, stream: _Stream, keys: str) -> None:
    """What the log holds of `stream`: how many of its demo commands, in order (whatever a clerk has
    recorded between them is passed over), and for a community, its facts as the log leaves them.

    A command is there when an event recorded under an idempotency key starting with `keys` (the seed's)
    is the command's event: another seed's demo has the same towns, and the same three real communities.
    """
    facts = (
        None if stream.stream_id.startswith("town-") else CommunityFacts(community_id=stream.stream_id[10:])
    )
    while batch := await store.read_stream(stream.stream_id, after_version=stream.version, limit=1000):
        for record in batch:
            event = CATALOGUE.decode(record.type, record.schema_version, record.payload)
            if facts is not None:
                facts = evolve(facts, record.position, event)
            key = record.metadata.get("idempotency_key")
            if (
                stream.there < len(stream.commands)
                and isinstance(key, str)
                and key.startswith(keys)
                and event == normalized(stream.commands[stream.there].event)
            ):
                stream.there += 1
            stream.version = record.stream_version
    stream.facts = facts


async def _check_log(store: EventStore, demo: Demo, streams: dict[str, _Stream]) -> None:
    head = await store.head()
    others = head - await store.stream_version(STANDARD_STREAM)
    if others > 0 and not streams[stream_of(demo.commands[0].event)].there:
        raise DemoRefused(
            f"the log already holds {others} events that are not the demo's (seed {demo.seed}); "
            "the demo loads only into an empty database"
        )


def _checked(demo: Demo, streams: dict[str, _Stream], today: date, head: int) -> list[Entry]:
    """The commands the log does not hold yet, each checked as `Commands.record` checks it: the towns
    first (communities are registered into them), then the rest in recording order."""
    towns = frozenset(
        s.stream_id[5:] for s in streams.values() if s.stream_id.startswith("town-") and s.version
    )
    missing = {c.idempotency_key for s in streams.values() for c in s.commands[s.there :]}
    ordered = [c for c in demo.commands if isinstance(c.event, TownRegistered)]
    ordered += [c for c in demo.commands if not isinstance(c.event, TownRegistered)]
    entries: list[Entry] = []
    for command in (c for c in ordered if c.idempotency_key in missing):
        event = normalized(command.event)
        stream = streams[stream_of(event)]
        errors = check(event, Context(today=today, community=stream.facts, towns=towns))
        if errors:
            raise ValidationError(errors)
        if isinstance(event, TownRegistered):
            towns |= {event.town_id}
        elif stream.facts is not None:
            stream.facts = evolve(stream.facts, head + len(entries) + 1, event)
        entries.append((stream.stream_id, event, command.metadata, command.openings))
    return entries
