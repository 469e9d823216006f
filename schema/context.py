"""What every resolver gets: the services, the caller (a principal), the request id, the language it reads
(`lang`, from its Accept-Language header), and its loaders.

The world is read once per request (one query for the projection's checkpoint, and the changed facts if it
moved), so every resolver of one operation sees the same snapshot and a page costs the same whatever its
size. The loaders batch what resolvers ask for within that snapshot.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import asyncpg
from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from events.registry import Registry
from projections.access import Action, Principal, Target, decide
from projections.community import TownFacts, World, known_at
from projections.facts import CommunityFacts
from projections.localtime import local_date
from projections.wording import Lang
from schema.connection import Connection
from service.access.authenticator import Authenticator
from service.commands.handler import Commands
from service.delivery.hub import Hub
from service.delivery.status import StatusWatch
from service.delivery.webhooks import Endpoints
from service.log.clock import utc_now
from service.log.store import EventStore
from service.read.projector import Projector
from service.read.readmodel import ReadModel
from service.read.records import RecordPage, read_facts, record_pages
from service.read.restricted import rows_at
from service.read.series import coverage_figures, disclosure_figures
from service.read.views import AreaFigures
from service.transparency.proofs import Inclusion, inclusions_against
from service.transparency.signer import StoredCheckpoint, latest_checkpoint
from service.transparency.tree import LogTree

# How long a mutation waits for the projections to reach its write before answering without the new status.
SETTLE_WITHIN = 2.0


@dataclass(slots=True, kw_only=True)
class Services:
    """The parts of the running service the API uses."""

    store: EventStore
    commands: Commands
    projector: Projector
    read_model: ReadModel
    registry: Registry
    tree: LogTree
    pool: asyncpg.Pool
    clock: Callable[[], datetime] = utc_now
    settle_within: float = SETTLE_WITHIN
    # Told when a token is revoked here, so it stops answering for it at once.
    authenticator: Authenticator | None = None
    # Live events and status for subscriptions (None where the service runs without them).
    hub: Hub | None = None
    status_watch: StatusWatch | None = None
    endpoints: Endpoints | None = None


# A page of records: (kind, community, as of a date, log size asked for, only this kind of it, after
# this position, page size).
RecordKey = tuple[str, str, date, int | None, str | None, int, int]


class Loaders:
    """Per request: the world, read once, and batched look-ups within it."""

    def __init__(
        self, read_model: ReadModel, tree: LogTree, pool: asyncpg.Pool, today: Callable[[], date]
    ) -> None:
        self._read_model = read_model
        self._tree = tree
        self._pool = pool
        self._today = today
        self._checkpoint: asyncio.Task[StoredCheckpoint | None] | None = None
        # Proofs of a page of events against the newest checkpoint: two reads for the whole page.
        self.inclusion: DataLoader[int, Inclusion | None] = DataLoader(load_fn=self._inclusions)
        self._world: World | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self.town: DataLoader[str, TownFacts | None] = DataLoader(load_fn=self._towns)
        # The restricted text beside the log of a page's events: one read for the whole page.
        self.restricted: DataLoader[int, list[asyncpg.Record]] = DataLoader(load_fn=self._restricted)
        # Keyed by the date and the log size asked for (None: as the log stands).
        self.coverage: DataLoader[tuple[date, int | None], AreaFigures] = DataLoader(load_fn=self._coverage)
        self.disclosure_rate: DataLoader[tuple[int, date, int | None], AreaFigures] = DataLoader(
            load_fn=self._disclosure_rates
        )
        self._known: dict[int, World] = {}
        # Pages of a kind of record, many communities' in one query (see RecordKey).
        self.records: DataLoader[RecordKey, RecordPage] = DataLoader(load_fn=self._records)
        # A community's facts, read from the record tables: keyed by (id, log size; None: as it stands).
        self.facts: DataLoader[tuple[str, int | None], CommunityFacts | None] = DataLoader(
            load_fn=self._facts
        )

    def close(self) -> None:
        """Let go of what this operation read. Each loader calls back into this object (its load function
        is a bound method) and this object holds each loader: a reference cycle, which reference counting
        cannot free, so without this everything the loaders cached (pages of records, facts, towns) would
        wait for a pass of the cyclic garbage collector — which then walks it all, holding the event loop
        for tens of milliseconds at a time. Emptied here, it is freed the moment the answer is."""
        for loader in (
            self.inclusion,
            self.town,
            self.restricted,
            self.coverage,
            self.disclosure_rate,
            self.records,
            self.facts,
        ):
            loader.clear_all()
            loader.batch = None
        self._world = None
        self._known.clear()
        self._checkpoint = None

    async def world(self) -> World:
        if self._world is None:
            async with self._lock:
                if self._world is None:
                    checkpoint, self._world = await self._read_model.snapshot()
                    self._generation = checkpoint.generation
        return self._world

    async def world_at(self, known: int | None) -> World:
        """The world as the log stood at size `known` (None: as it stands), cut once per request."""
        world = await self.world()
        if known is None:
            return world
        if known not in self._known:
            self._known[known] = known_at(world, known)
        return self._known[known]

    async def generation(self) -> int:
        """The generation of the projections the world was read from (the status segments' too)."""
        await self.world()
        return self._generation

    async def checkpoint(self) -> StoredCheckpoint | None:
        """The newest signed checkpoint, read once per request."""
        if self._checkpoint is None:
            self._checkpoint = asyncio.ensure_future(latest_checkpoint(self._pool))
        return await self._checkpoint

    async def _inclusions(self, positions: list[int]) -> Sequence[Inclusion | None]:
        return await inclusions_against(self._tree, await self.checkpoint(), positions)

    async def _restricted(self, positions: list[int]) -> Sequence[list[asyncpg.Record]]:
        found = await rows_at(self._pool, positions)
        return [found.get(position, []) for position in positions]

    def forget_world(self) -> None:
        """After a write: the next read fetches the world and the facts again (read-your-writes)."""
        self._world = None
        self._known.clear()
        self.facts.clear_all()
        self.records.clear_all()

    def pin_world(self, world: World, generation: int) -> None:
        """Use this world, already read by the caller: the response cache keys on its checkpoint, so the
        operation must see exactly that snapshot."""
        self._generation = generation
        self._world = world

    async def _facts(self, keys: list[tuple[str, int | None]]) -> Sequence[CommunityFacts | None]:
        generation = await self.generation()
        # As far as the request's world goes, unless a size was asked for (see `views.list_communities`).
        position = (await self.world()).position
        found: dict[tuple[str, int | None], CommunityFacts] = {}
        async with self._pool.acquire() as conn:
            for known in {known for _, known in keys}:
                ids = [c for c, k in keys if k == known]
                size = position if known is None else known
                facts = await read_facts(conn, generation, ids, size)
                found.update(((c, known), f) for c, f in facts.items())
        return [found.get(key) for key in keys]

    async def _records(self, keys: list[RecordKey]) -> Sequence[RecordPage]:
        generation = await self.generation()
        position = (await self.world()).position
        groups: dict[tuple[str, date, int | None, str | None, int, int], list[str]] = {}
        for kind, community_id, on, known, only, after, size in keys:
            groups.setdefault((kind, on, known, only, after, size), []).append(community_id)
        found: dict[RecordKey, RecordPage] = {}
        async with self._pool.acquire() as conn:
            for (kind, on, known, only, after, size), ids in groups.items():
                upto = position if known is None else known
                pages = await record_pages(
                    conn, generation, kind, ids, on=on, upto=upto, only=only, after=after, size=size
                )
                found.update(((kind, c, on, known, only, after, size), page) for c, page in pages.items())
        return [found[key] for key in keys]

    async def _towns(self, ids: list[str]) -> Sequence[TownFacts | None]:
        world = await self.world()
        return [world.towns.get(i) for i in ids]

    async def _coverage(self, keys: list[tuple[date, int | None]]) -> Sequence[AreaFigures]:
        # From the stored status segments: one query for every date asked (per log size asked for),
        # whatever the city's size.
        generation, today = await self.generation(), self._today()
        found: dict[tuple[date, int | None], AreaFigures] = {}
        for known in {known for _, known in keys}:
            days = sorted({day for day, k in keys if k == known})
            world = await self.world_at(known)
            figures = await coverage_figures(self._pool, world, generation, days, today, known)
            found.update(((day, known), f) for day, f in zip(days, figures, strict=True))
        return [found[key] for key in keys]

    async def _disclosure_rates(self, keys: list[tuple[int, date, int | None]]) -> Sequence[AreaFigures]:
        # From the stored disclosure years: one query per year (and log size) asked, for every date asked.
        generation, today = await self.generation(), self._today()
        found: dict[tuple[int, date, int | None], AreaFigures] = {}
        for year, known in {(year, known) for year, _, known in keys}:
            days = sorted({on for y, on, k in keys if (y, k) == (year, known)})
            world = await self.world_at(known)
            figures = await disclosure_figures(self._pool, world, generation, year, days, today, known)
            found.update(((year, on, known), f) for on, f in zip(days, figures, strict=True))
        return [found[key] for key in keys]


def preferred_lang(accept_language: str | None) -> Lang:
    """The language of the words a request reads where it asks for none: Chinese if its Accept-Language
    header ranks any Chinese (zh, zh-CN, zh-Hant …) above every English, English otherwise (no header, or
    neither language in it). Ranges are ranked by their q-values, ties in the order given; q=0 refuses."""
    ranked: list[tuple[float, int, Lang]] = []
    for index, item in enumerate((accept_language or "").split(",")):
        tag, *params = (part.strip() for part in item.split(";"))
        primary = tag.lower().split("-")[0]
        if primary not in ("zh", "en"):
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0  # a malformed weight counts as a refusal, not as a preference
        if quality > 0:
            ranked.append((-quality, index, Lang(primary)))
    return min(ranked)[2] if ranked else Lang.EN


@dataclass(slots=True, kw_only=True)
class Context:
    services: Services
    principal: Principal
    request_id: str
    # False where anonymous introspection is switched off and the caller is anonymous.
    may_introspect: bool = True
    # The language of messages and labels where a field's `lang` argument is left out.
    lang: Lang = Lang.EN
    _loaders: Loaders | None = field(init=False, default=None)
    # Over a WebSocket: the connection (to close it from a subscription), and what connection_init said.
    connection: Connection | None = None
    connection_params: dict[str, object] | None = None

    @property
    def loaders(self) -> Loaders:
        """Made when first asked for: most messages of a subscription are answered without any."""
        if self._loaders is None:
            services = self.services
            self._loaders = Loaders(services.read_model, services.tree, services.pool, self.today)
        return self._loaders

    def fresh_loaders(self) -> None:
        """New loaders for the next message of a subscription: each message reads what holds when it is
        sent, and a long subscription keeps nothing of the ones before."""
        if self._loaders is not None:
            self._loaders.close()
            self._loaders = None

    def for_operation(self) -> Context:
        """The same caller, services and request id, with loaders of its own: a WebSocket's context lasts
        as long as the connection, and its loaders would keep what its first operation read."""
        return dataclasses.replace(self)

    def may(self, action: Action, target: Target | None = None) -> bool:
        return decide(self.principal, action, target).allowed

    def require(self, action: Action, target: Target | None = None, *, code: str = "NOT_AUTHORIZED") -> None:
        """Go on only if the caller may; otherwise the field is refused with `code` and the reason."""
        decision = decide(self.principal, action, target)
        if not decision.allowed:
            raise GraphQLError(decision.reason, extensions={"code": code})

    def today(self) -> date:
        """The local date now: what `asOf` means when a query leaves it out."""
        return local_date(self.services.clock())
