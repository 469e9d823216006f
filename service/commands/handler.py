"""Commands: read what the log says, decide (pure, in `projections.decisions`), append.

Every command is one proposed event. Unless the caller names an expected version, the command expects the
version it read, and on a conflict reads and decides again — so two clerks recording at once never
overwrite each other's premises, and neither has to retry by hand.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from cachetools import LRUCache

from events.catalogue import STANDARD_STREAM, subject_of
from events.codec import JSON
from events.envelope import ExpectedVersion
from events.errors import (
    CodecError,
    IdempotencyKeyReused,
    UnknownEventType,
    ValidationError,
    VersionConflict,
)
from events.hierarchy import CommunityRegistered, CommunityTransferred, TownRegistered
from events.registry import Event, Registry
from events.sealing import SALT_BYTES, Opening, seal, sealed_fields
from events.standard import StandardRevised
from projections.community import StandardVersion, evolve
from projections.decisions import Context, check, check_restricted_text, normalized
from projections.facts import CommunityFacts
from projections.localtime import local_date
from projections.standards import DEFAULT_STANDARD
from service.log.clock import utc_now
from service.log.results import AppendResult
from service.log.store import EventStore

# Enough for a burst of clerks on one community: each round lets at least one of them through.
RETRIES = 16
# Communities whose facts a Commands keeps between commands (a few hundred bytes to a few MB each).
COMMUNITY_CACHE = 2048


def stream_of(event: Event) -> str:
    """The stream an event belongs to: its town's, its community's, or the standard's."""
    subject = subject_of(event)
    if subject is None:
        raise ValidationError([("type", f"{type(event).__name__} is not a command this service takes")])
    return "-".join(subject)


class Commands:
    def __init__(
        self, store: EventStore, registry: Registry, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        # Community facts as last read, by id. The log only grows, so a cached state plus the events after
        # its version is exactly the state: each command reads only what is new, not the whole stream.
        # The COMMUNITY_CACHE most recently used are kept; like the rest of a Commands, for one event loop.
        self._known: LRUCache[str, tuple[CommunityFacts, int]] = LRUCache(COMMUNITY_CACHE)

    async def submit(
        self,
        type_: str,
        payload: Mapping[str, Any],
        *,
        idempotency_key: str,
        expected_version: ExpectedVersion | None = None,
        metadata: Mapping[str, JSON] | None = None,
    ) -> AppendResult:
        """A command given as data (an event type and its payload), as the API and the CLI receive them.

        Restricted free text arrives as text and is sealed here, with a fresh random salt: the event
        carries its commitment, and the salt and the text are written beside the log.
        """
        try:
            cls = self._registry.class_for(type_)
        except UnknownEventType as exc:
            raise ValidationError([("type", f"unknown command {type_!r}")]) from exc
        data = dict(payload)
        openings: list[Opening] = []
        errors = []
        for name in sealed_fields(cls):
            problems = check_restricted_text(name, data.get(name))
            if problems:
                errors += problems
                continue
            sealed, opening = seal(name, data[name], secrets.token_bytes(SALT_BYTES))
            data[name] = {"commitment": sealed.commitment}
            openings.append(opening)
        if errors:
            raise ValidationError(errors)
        try:
            event = self._registry.decode(type_, cls.VERSION, data)
        except CodecError as exc:
            raise ValidationError([(exc.path or "payload", exc.reason)]) from exc
        return await self.record(
            event,
            idempotency_key=idempotency_key,
            expected_version=expected_version,
            metadata=metadata,
            openings=openings,
        )

    async def record(
        self,
        event: Event,
        *,
        idempotency_key: str,
        expected_version: ExpectedVersion | None = None,
        metadata: Mapping[str, JSON] | None = None,
        openings: Sequence[Opening] = (),
    ) -> AppendResult:
        """Validate `event` against the log and append it; raises ValidationError or VersionConflict.

        `openings` are the salt and value of each of the event's sealed fields.
        """
        event = normalized(event)
        try:
            # What the log could not store (U+0000, a lone surrogate, nesting past the limit) is the
            # caller's mistake, named here, not an error found while appending.
            self._registry.encode_canonical(event)
        except CodecError as exc:
            raise ValidationError([(exc.path or "payload", exc.reason)]) from exc
        stream = stream_of(event)
        opened = [openings]

        async def prior_result() -> AppendResult | None:
            return await self._store.prior_result(
                stream, [event], idempotency_key=idempotency_key, openings=opened
            )

        prior = await prior_result()
        if prior is not None:
            return prior
        for attempt in range(RETRIES):
            context, version = await self._context(event)
            errors = check(event, context)
            if errors:
                # A retry racing its own first attempt sees that attempt's event and finds it a duplicate:
                # if the key has been used meanwhile, the first result is the answer, not an error.
                prior = await prior_result()
                if prior is not None:
                    return prior
                raise ValidationError(errors)
            try:
                return await self._store.append(
                    stream,
                    [event],
                    expected_version=expected_version or ExpectedVersion.exactly(version),
                    idempotency_key=idempotency_key,
                    metadata=metadata,
                    openings=opened,
                )
            except IdempotencyKeyReused:
                # Two attempts at one sealed command seal with different salts; the one that lost the
                # race is still the same request if it matches under the winner's salts.
                prior = await prior_result() if openings else None
                if prior is not None:
                    return prior
                raise
            except VersionConflict:
                # The caller's own expectation is theirs to handle; ours we re-check with fresh state.
                if expected_version is not None or attempt == RETRIES - 1:
                    prior = await prior_result()
                    if prior is not None:
                        return prior
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _context(self, event: Event) -> tuple[Context, int]:
        today = local_date(self._clock())
        known = frozenset(
            [t for t in _towns_named(event) if await self._store.stream_version(f"town-{t}") > 0]
        )
        if isinstance(event, TownRegistered):
            version = await self._store.stream_version(stream_of(event))
            return Context(today=today, towns=known), version
        if isinstance(event, StandardRevised):
            standards, version = await self._standards()
            return Context(today=today, standards=standards), version
        community_id = stream_of(event).removeprefix("community-")
        facts, version = await self._community(community_id)
        return Context(today=today, community=facts, towns=known), version

    def today(self) -> date:
        """Today in the city, by the commands' clock: no record may be dated after it."""
        return local_date(self._clock())

    async def town_of(self, community_id: str) -> str | None:
        """The town a community is in today, by the log; None for a community never registered."""
        facts, _ = await self._community(community_id)
        return facts.town_on(local_date(self._clock()))

    async def _community(self, community_id: str) -> tuple[CommunityFacts, int]:
        facts, version = self._known.get(community_id) or (CommunityFacts(community_id=community_id), 0)
        stream = f"community-{community_id}"
        while batch := await self._store.read_stream(stream, after_version=version, limit=1000):
            for rec in batch:
                event = self._registry.decode(rec.type, rec.schema_version, rec.payload)
                facts = evolve(facts, rec.position, event)
                version = rec.stream_version
        cached = self._known.get(community_id)
        if cached is None or cached[1] <= version:  # another command may have read further meanwhile
            self._known[community_id] = (facts, version)  # the most recently used; evicts the least
        return facts, version

    async def _standards(self) -> tuple[tuple[StandardVersion, ...], int]:
        standards: list[StandardVersion] = []
        version = 0
        while batch := await self._store.read_stream(STANDARD_STREAM, after_version=version, limit=1000):
            for rec in batch:
                event = self._registry.decode(rec.type, rec.schema_version, rec.payload)
                if isinstance(event, StandardRevised):
                    standards.append(
                        StandardVersion(
                            event.version, event.effective_from, event.title, event.criteria, rec.position
                        )
                    )
                version = rec.stream_version
        return tuple(standards), version


def _towns_named(event: Event) -> list[str]:
    if isinstance(event, TownRegistered):
        return [event.town_id]
    if isinstance(event, CommunityRegistered):
        return [event.town_id]
    if isinstance(event, CommunityTransferred):
        return [event.from_town_id, event.to_town_id]
    return []


async def install_default_standard(commands: Commands, store: EventStore) -> AppendResult | None:
    """Record standard v1 if the log has no standard yet; a no-op (and safe to race) otherwise."""
    if await store.stream_version(STANDARD_STREAM) > 0:
        return None
    return await commands.record(
        DEFAULT_STANDARD,
        idempotency_key="standard-v1-default",
        expected_version=ExpectedVersion.no_stream(),
        metadata={"actor": "qinglian", "reason": "default standard installed on first start"},
    )
