"""The city, its towns and communities, as of a date: status, coverage, disclosure rate, and records."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

import asyncpg
import strawberry

from events.disclosure import DisclosureCategory
from events.hierarchy import CommunityKind, TownKind
from events.rules import RuleDocument
from events.standard import Text
from events.supervision import MeetingKind
from events.training import TrainingKind
from projections.access import Action, Target
from projections.community import TownFacts, World
from projections.coverage import Share
from projections.evaluation import Status as StatusValue
from projections.summaries import rule_history
from projections.unmet import Awaited, Particulars, Reason, RecordType
from projections.unmet import Unmet as UnmetValue
from projections.wording import message
from schema import records
from schema.context import Context
from schema.log import Event
from schema.pagination import Connection, connection
from schema.scalars import AsOf, TreeSize
from schema.words import LangArg, LocalizedText, lang_of
from service.read.paging import Page, after_position, page_size, position_cursor
from service.read.series import Step, check_horizon, coverage_series, disclosure_series, series_days
from service.read.slices import pace
from service.read.trail import stream_page
from service.read.views import CITY_ID, CITY_NAME, CommunityView, last_disclosure, towns_on

Info = strawberry.Info[Context, None]
First = Annotated[int | None, strawberry.argument(description="Page size, at most 100 (default 20).")]
Year = Annotated[int, strawberry.argument(description="The calendar year.")]
After = Annotated[str | None, strawberry.argument(description="Continue after this cursor.")]


@strawberry.type(
    description="What an unmet criterion's reason names, as typed values: each reason (UnmetReason) sets its "
    "own, and the rest are null."
)
class UnmetParameters:
    value: strawberry.Private[Particulars]

    @strawberry.field(description="The date judged: a window or a count of days runs to it.")
    def on(self) -> date | None:
        return self.value.on

    @strawberry.field(description="The category of disclosure missing.")
    def category(self) -> DisclosureCategory | None:
        return self.value.category

    @strawberry.field(description='The period missing: "2022", "2022-Q2" or "2022-06".')
    def period(self) -> str | None:
        return self.value.period

    @strawberry.field(description="The date by which the record missing was due.")
    def due(self) -> date | None:
        return self.value.due

    @strawberry.field(description="The kind of integrity education missing.")
    def training(self) -> TrainingKind | None:
        return self.value.training

    @strawberry.field(description="How many days the education must have been held within.")
    def window_days(self) -> int | None:
        return self.value.window_days

    @strawberry.field(description="When that kind of education was last held.")
    def last_held_on(self) -> date | None:
        return self.value.last_held_on

    @strawberry.field(description="The document of the rules missing or out of date.")
    def document(self) -> RuleDocument | None:
        return self.value.document

    @strawberry.field(description="The current version of that document.")
    def version(self) -> int | None:
        return self.value.version

    @strawberry.field(description="When that version was adopted.")
    def adopted_on(self) -> date | None:
        return self.value.adopted_on

    @strawberry.field(description="How many years old a version may be.")
    def max_age_years(self) -> int | None:
        return self.value.max_age_years

    @strawberry.field(description="The kind of meeting missing.")
    def meeting(self) -> MeetingKind | None:
        return self.value.meeting

    @strawberry.field(description="The oldest finding left unrectified past its limit.")
    def finding_id(self) -> str | None:
        return self.value.finding_id

    @strawberry.field(description="The date of the spot check that found it.")
    def found_on(self) -> date | None:
        return self.value.found_on

    @strawberry.field(description="How many days it has been open on the date judged.")
    def days_open(self) -> int | None:
        return self.value.days_open

    @strawberry.field(description="How many days a finding may stay open.")
    def limit_days(self) -> int | None:
        return self.value.limit_days

    @strawberry.field(description="How many other findings are unrectified past their limit.")
    def more(self) -> int | None:
        return self.value.more

    @strawberry.field(description="The year of the duty report missing.")
    def year(self) -> int | None:
        return self.value.year


@strawberry.type(description="The record that would meet an unmet criterion.")
class AwaitedRecord:
    value: strawberry.Private[Awaited]

    @strawberry.field(description="Its kind.")
    def record(self) -> RecordType:
        return self.value.record

    @strawberry.field(description="The event that records it, e.g. DisclosurePublished.")
    def event_type(self) -> str:
        return self.value.event_type

    @strawberry.field(description='The period it must cover, if any: "2022", "2022-Q2" or "2022-06".')
    def period(self) -> str | None:
        return self.value.period

    @strawberry.field(
        description="The last day it was due by, where the criterion sets one (a training or a new version "
        "of a rule meets it whenever it comes)."
    )
    def due(self) -> date | None:
        return self.value.due


@strawberry.type(description="A criterion of the standard that a community does not meet, and why.")
class Unmet:
    value: strawberry.Private[UnmetValue]

    @strawberry.field(
        description="The criterion's id in the standard; scope (in the programme on the date) and "
        "standard (a standard in force) are in none."
    )
    def criterion(self) -> str:
        return self.value.criterion_id

    @strawberry.field(description="The criterion's kind, e.g. disclosure_every_period.")
    def kind(self) -> str:
        return self.value.kind

    @strawberry.field(description="The criterion's title, as the standard applied gives it.")
    def title(self) -> LocalizedText:
        found = self.value.title
        return LocalizedText(value=found or Text(zh=self.value.criterion_id, en=self.value.criterion_id))

    @strawberry.field(description="Why it is not met.")
    def reason(self) -> Reason:
        # The statuses the API shows are evaluated, and every unmet criterion evaluated has its reason:
        # only a stored status segment has none, and none is shown.
        assert self.value.reason is not None
        return self.value.reason

    @strawberry.field(description="What the reason names: the period, the due date, the document and so on.")
    def parameters(self) -> UnmetParameters:
        return UnmetParameters(value=self.value.particulars)

    @strawberry.field(description="The local date from which it has been unmet.")
    def since(self) -> date | None:
        return self.value.since

    @strawberry.field(description="The record that would meet it; null where none would (scope).")
    def waits_for(self) -> AwaitedRecord | None:
        awaited = self.value.waits_for
        return AwaitedRecord(value=awaited) if awaited is not None else None

    @strawberry.field(
        description="What is missing, as a sentence in the language asked for (by default the request's)."
    )
    def message(self, info: Info, lang: LangArg = None) -> str:
        return message(self.value, lang_of(info, lang))

    @strawberry.field(
        description="What is missing, in English, with the log's snake_case terms.",
        deprecation_reason="Use message(lang:), parameters and waitsFor.",
    )
    def detail(self) -> str:
        return self.value.detail


@strawberry.type(
    description="A community's integrity status on one date, judged by the standard then in force."
)
class Status:
    standardized: bool = strawberry.field(description="Whether it meets every applicable criterion (规范化).")
    in_scope: bool = strawberry.field(description="Whether it was registered and not retired on the date.")
    score: float = strawberry.field(description="The share of applicable criteria met, 0 to 1.")
    met: list[str] = strawberry.field(description="The ids of the criteria met.")
    unmet: list[Unmet] = strawberry.field(description="The criteria not met, each explained.")
    standard_version: int | None = strawberry.field(
        description="The version of the standard applied; null when none was in force."
    )
    as_of: date = strawberry.field(description="The local date the status is for.")
    position: int = strawberry.field(description="The log position of the last record about the community.")


def status(value: StatusValue) -> Status:
    return Status(
        standardized=value.standardized,
        in_scope=value.in_scope,
        score=value.score,
        met=list(value.met),
        unmet=[Unmet(value=u) for u in value.unmet],
        standard_version=value.standard_version,
        as_of=value.on,
        position=value.position,
    )


@strawberry.type(description="Standardization coverage (规范化建设覆盖率) on a date.")
class Coverage:
    communities: int = strawberry.field(description="Communities in scope on the date.")
    standardized: int = strawberry.field(description="Of those, how many were standardized.")
    rate: float = strawberry.field(description="standardized ÷ communities, 0 to 1 (0 when there are none).")


@strawberry.type(description="Disclosure rate (公开率) for a year: who disclosed in every period required.")
class DisclosureRate:
    year: int = strawberry.field(description="The year.")
    communities: int = strawberry.field(description="Communities in scope at the end of the year.")
    disclosed: int = strawberry.field(description="Of those, how many disclosed in every required period.")
    rate: float = strawberry.field(description="disclosed ÷ communities, 0 to 1 (0 when there are none).")


From = Annotated[date, strawberry.argument(name="from", description="The first point's date.")]
To = Annotated[
    date, strawberry.argument(description="No point after this date (at most the end of next year).")
]
Every = Annotated[Step, strawberry.argument(description="The step between points (default MONTH).")]


@strawberry.type(description="Standardization coverage on one date of a series.")
class CoveragePoint:
    on: date = strawberry.field(description="The date.")
    communities: int = strawberry.field(description="Communities in scope on the date.")
    standardized: int = strawberry.field(description="Of those, how many were standardized.")
    rate: float = strawberry.field(description="standardized ÷ communities, 0 to 1 (0 when there are none).")


# A series' figure on each of its days: (pool, world, generation, days, today) -> one share a day.
Figures = Callable[[asyncpg.Pool, World, int, list[date], date], Awaitable[list[Share]]]


async def _points(
    info: Info, first: date, last: date, every: Step, known: int | None, figures: Figures
) -> list[tuple[date, Share]]:
    """A series' days (checked against the horizon) with the figure of each, on the request's world as
    the log stood at `known`."""
    context = info.context
    check_horizon(last, context.today())
    days = series_days(first, last, every)
    world = await context.loaders.world_at(known)
    generation = await context.loaders.generation()
    shares = await figures(context.services.pool, world, generation, days, context.today())
    return list(zip(days, shares, strict=True))


async def _series(
    info: Info, first: date, last: date, every: Step, town_id: str | None, known: int | None
) -> list[CoveragePoint]:
    def figures(
        pool: asyncpg.Pool, world: World, generation: int, days: list[date], today: date
    ) -> Awaitable[list[Share]]:
        return coverage_series(pool, world, generation, days, today, town_id, known)

    return [
        CoveragePoint(on=day, communities=share.whole, standardized=share.part, rate=share.rate)
        for day, share in await _points(info, first, last, every, known, figures)
    ]


@strawberry.type(description="A year's disclosure rate as it stood on one date of a series.")
class DisclosureRatePoint:
    on: date = strawberry.field(description="The date: disclosures published by it are counted.")
    communities: int = strawberry.field(description="Communities in scope at the end of the year.")
    disclosed: int = strawberry.field(description="Of those, how many had disclosed every required period.")
    rate: float = strawberry.field(description="disclosed ÷ communities, 0 to 1 (0 when there are none).")


async def _disclosure_series(
    info: Info, year: int, first: date, last: date, every: Step, town_id: str | None, known: int | None
) -> list[DisclosureRatePoint]:
    def figures(
        pool: asyncpg.Pool, world: World, generation: int, days: list[date], today: date
    ) -> Awaitable[list[Share]]:
        return disclosure_series(pool, world, generation, year, days, today, town_id, known)

    return [
        DisclosureRatePoint(on=day, communities=share.whole, disclosed=share.part, rate=share.rate)
        for day, share in await _points(info, first, last, every, known, figures)
    ]


DISCLOSURE_SERIES = (
    "A year's disclosure rate as it stood on each date of a series — how the year's disclosures filled up — "
    "for charts: one query over the stored disclosure years, whatever the number of points (at most 1,000)."
)


def _coverage(share: Share | None) -> Coverage:
    share = share or Share(0, 0)
    return Coverage(communities=share.whole, standardized=share.part, rate=share.rate)


def _rate(year: int, share: Share | None) -> DisclosureRate:
    share = share or Share(0, 0)
    return DisclosureRate(year=year, communities=share.whole, disclosed=share.part, rate=share.rate)


@strawberry.type(description="A town (镇) or subdistrict (街道) of the city, as of a date.")
class Town:
    facts: strawberry.Private[TownFacts]
    on: strawberry.Private[date]
    # The log size asked for (knownAt); None: as the log stands.
    known: strawberry.Private[int | None] = None

    @strawberry.field(description="The town's stable id (a slug).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.facts.town_id)

    @strawberry.field(description="Its Chinese name.")
    def name(self) -> str:
        return self.facts.name

    @strawberry.field(description="Its English gloss, if any.")
    def name_en(self) -> str | None:
        return self.facts.name_en

    @strawberry.field(description="Town or subdistrict.")
    def kind(self) -> TownKind:
        return self.facts.kind

    @strawberry.field(description="The local date it was registered.")
    def registered_on(self) -> date:
        return self.facts.registered_on

    @strawberry.field(description="The date its figures are for.", name="asOf")
    def as_of(self) -> date:
        return self.on

    @strawberry.field(
        description="The log size the answer rests on: knownAt (or atCheckpoint) when asked for, else the "
        "number of events the projections have folded.",
        name="knownAt",
    )
    async def known_at(self, info: Info) -> TreeSize:
        return TreeSize(
            self.known if self.known is not None else (await info.context.loaders.world()).position
        )

    @strawberry.field(description="Its standardization coverage on the date.")
    async def coverage(self, info: Info) -> Coverage:
        figures = await info.context.loaders.coverage.load((self.on, self.known))
        return _coverage(figures.towns.get(self.facts.town_id))

    @strawberry.field(
        description="Its coverage on each date of a series, for charts: one query over the stored status, "
        "whatever the number of points (at most 1,000)."
    )
    async def coverage_series(
        self, info: Info, from_: From, to: To, every: Every = Step.MONTH
    ) -> list[CoveragePoint]:
        return await _series(info, from_, to, every, self.facts.town_id, self.known)

    @strawberry.field(
        description="Its disclosure rate for a year, counting disclosures published by the date."
    )
    async def disclosure_rate(self, info: Info, year: Year) -> DisclosureRate:
        figures = await info.context.loaders.disclosure_rate.load((year, self.on, self.known))
        return _rate(year, figures.towns.get(self.facts.town_id))

    @strawberry.field(description=DISCLOSURE_SERIES)
    async def disclosure_rate_series(
        self, info: Info, year: Year, from_: From, to: To, every: Every = Step.MONTH
    ) -> list[DisclosureRatePoint]:
        return await _disclosure_series(info, year, from_, to, every, self.facts.town_id, self.known)


@strawberry.type(description="The city (市), as of a date.")
class City:
    on: strawberry.Private[date]
    # The log size asked for (knownAt); None: as the log stands.
    known: strawberry.Private[int | None] = None

    @strawberry.field(description="The city's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(CITY_ID)

    @strawberry.field(description="Its Chinese name.")
    def name(self) -> str:
        return CITY_NAME

    @strawberry.field(description="The date its figures are for.", name="asOf")
    def as_of(self) -> date:
        return self.on

    @strawberry.field(
        description="The log size the answer rests on: knownAt (or atCheckpoint) when asked for, else the "
        "number of events the projections have folded.",
        name="knownAt",
    )
    async def known_at(self, info: Info) -> TreeSize:
        return TreeSize(
            self.known if self.known is not None else (await info.context.loaders.world()).position
        )

    @strawberry.field(description="Its towns and subdistricts registered by the date, by id.")
    async def towns(self, info: Info) -> list[Town]:
        world = await info.context.loaders.world_at(self.known)
        return [Town(facts=facts, on=self.on, known=self.known) for facts in towns_on(world, self.on)]

    @strawberry.field(description="Its standardization coverage on the date.")
    async def coverage(self, info: Info) -> Coverage:
        return _coverage((await info.context.loaders.coverage.load((self.on, self.known))).city)

    @strawberry.field(
        description="Its coverage on each date of a series, for charts: one query over the stored status, "
        "whatever the number of points (at most 1,000)."
    )
    async def coverage_series(
        self, info: Info, from_: From, to: To, every: Every = Step.MONTH
    ) -> list[CoveragePoint]:
        return await _series(info, from_, to, every, None, self.known)

    @strawberry.field(
        description="Its disclosure rate for a year, counting disclosures published by the date."
    )
    async def disclosure_rate(self, info: Info, year: Year) -> DisclosureRate:
        figures = await info.context.loaders.disclosure_rate.load((year, self.on, self.known))
        return _rate(year, figures.city)

    @strawberry.field(description=DISCLOSURE_SERIES)
    async def disclosure_rate_series(
        self, info: Info, year: Year, from_: From, to: To, every: Every = Step.MONTH
    ) -> list[DisclosureRatePoint]:
        return await _disclosure_series(info, year, from_, to, every, None, self.known)


@strawberry.type(description="A community (社区) or village (村), as of a date.")
class Community:
    view: strawberry.Private[CommunityView]
    # The log size asked for (knownAt); None: as the log stands.
    known: strawberry.Private[int | None] = None

    @strawberry.field(description="The community's stable id (a slug).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.view.facts.community_id)

    @strawberry.field(description="Its Chinese name on the date.")
    def name(self) -> str | None:
        return self.view.facts.name_on(self.view.on)

    @strawberry.field(description="The English gloss given with that name, if one was.")
    def name_en(self) -> str | None:
        return self.view.facts.name_en_on(self.view.on)

    @strawberry.field(description="Community or village.")
    def kind(self) -> CommunityKind:
        return self.view.facts.kind

    @strawberry.field(description="The local date it was registered.")
    def registered_on(self) -> date | None:
        return self.view.facts.registered_on

    @strawberry.field(description="The local date it was retired, if it was.")
    def retired_on(self) -> date | None:
        retirement = self.view.facts.retirement
        return retirement.since if retirement is not None else None

    @strawberry.field(description="The date everything about it is read as of.", name="asOf")
    def as_of(self) -> date:
        return self.view.on

    @strawberry.field(
        description="The log size the answer rests on: knownAt (or atCheckpoint) when asked for, else the "
        "number of events the projections have folded.",
        name="knownAt",
    )
    async def known_at(self, info: Info) -> TreeSize:
        return TreeSize(
            self.known if self.known is not None else (await info.context.loaders.world()).position
        )

    @strawberry.field(description="The town it belonged to on the date.")
    async def town(self, info: Info) -> Town | None:
        town_id = self.view.facts.town_on(self.view.on)
        facts = await info.context.loaders.town.load(town_id) if town_id is not None else None
        await pace()
        return Town(facts=facts, on=self.view.on, known=self.known) if facts is not None else None

    @strawberry.field(description="Its integrity status on the date.")
    async def status(self) -> Status:
        # A page's statuses (with their unmet criteria) are most of what completing a list of communities
        # costs: each waits here for a turn of the loop with time left (service/read/slices.py).
        await pace()
        return status(self.view.status)

    @strawberry.field(description="Its latest disclosure published by the date.")
    def last_disclosure(self, info: Info) -> records.Disclosure | None:
        self._require_records(info)
        found = last_disclosure(self.view.facts, self.view.on)
        return records.disclosure(found, self.view.facts, self.view.on) if found is not None else None

    @strawberry.field(description="Its disclosures published by the date, in log order.")
    async def disclosures(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        category: Annotated[
            DisclosureCategory | None, strawberry.argument(description="Only this category.")
        ] = None,
    ) -> Connection[records.Disclosure] | None:
        self._require_records(info)
        facts, on = self.view.facts, self.view.on
        page = await self._page(info, "disclosures", first, after, category)
        return connection(page, lambda d: records.disclosure(d, facts, on))

    @strawberry.field(description="Its integrity education held by the date, in log order.")
    async def trainings(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        kind: Annotated[TrainingKind | None, strawberry.argument(description="Only this kind.")] = None,
    ) -> Connection[records.Training] | None:
        self._require_records(info)
        return connection(await self._page(info, "trainings", first, after, kind), records.training)

    @strawberry.field(
        description="Every version of its rules adopted by the date (the history), in log order."
    )
    async def rules(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        document: Annotated[
            RuleDocument | None, strawberry.argument(description="Only this document.")
        ] = None,
    ) -> Connection[records.RuleVersion] | None:
        self._require_records(info)
        return connection(await self._page(info, "rules", first, after, document), records.rule_version)

    @strawberry.field(description="The version of each of its rules current on the date, one per document.")
    def current_rules(self, info: Info) -> list[records.RuleVersion] | None:
        self._require_records(info)
        return [
            records.rule_version(h.current) for h in rule_history(self.view.facts, self.view.on) if h.current
        ]

    @strawberry.field(description="Its meetings held by the date, in log order.")
    async def meetings(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[records.Meeting] | None:
        self._require_records(info)
        return connection(await self._page(info, "meetings", first, after, None), records.meeting)

    @strawberry.field(description="The spot checks of it made by the date, in log order.")
    async def spot_checks(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[records.SpotCheck] | None:
        self._require_records(info)
        facts, on = self.view.facts, self.view.on
        page = await self._page(info, "spot_checks", first, after, None)
        return connection(page, lambda s: records.spot_check(s, facts, on))

    async def _page(
        self, info: Info, kind: str, first: int | None, after: str | None, only: enum.Enum | None
    ) -> Page[Any]:
        """A page of this community's `kind` records dated by the date (of the one kind `only`), read from
        the record tables with the keyset cursor: one query for every community of the list asking."""
        size = page_size(first)
        start = after_position(after, kind)
        key = (
            kind,
            self.view.facts.community_id,
            self.view.on,
            self.known,
            only.value if only else None,
            start,
            size,
        )
        found = await info.context.loaders.records.load(key)
        # Every community of the list gets its page back in the same turn; completing them in turn.
        await pace()
        chosen = found.items[:size]
        return Page(
            items=tuple((position_cursor(kind, item.position), item) for item in chosen),
            has_next=len(found.items) > size,
            has_previous=found.before > 0,
            total=found.total,
        )

    @strawberry.field(
        description="Its stream's full trail, oldest first, whatever the date asked: the events of "
        "`community-<id>`, as `history(streamId:)` gives them, for those who may read its records."
    )
    async def history(self, info: Info, first: First = None, after: After = None) -> Connection[Event] | None:
        facts = self.view.facts
        # Authorized as `history(streamId:)` is: by the town the community belongs to today.
        info.context.require(
            Action.READ_RECORDS,
            Target(community_id=facts.community_id, town_id=facts.town_on(info.context.today())),
        )
        stream = f"community-{facts.community_id}"
        page = await stream_page(info.context.services.store, stream, first=first, after=after)
        return connection(page, lambda rec: Event(rec=rec))

    def _require_records(self, info: Info) -> None:
        """A community's records are for those who may read them: its clerks, inspectors, integrators and
        admins; anyone else gets the field as null, refused with NOT_AUTHORIZED and the reason."""
        facts = self.view.facts
        info.context.require(
            Action.READ_RECORDS, Target(community_id=facts.community_id, town_id=facts.town_on(self.view.on))
        )

    @strawberry.field(
        description="Its designations as a demonstration point made by the date, in log order (public, like "
        "its status)."
    )
    async def designations(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[records.Designation]:
        return connection(await self._page(info, "designations", first, after, None), records.designation)


__all__ = [
    "AsOf",
    "AwaitedRecord",
    "City",
    "Community",
    "Coverage",
    "CoveragePoint",
    "DisclosureRate",
    "DisclosureRatePoint",
    "Status",
    "Town",
    "Unmet",
    "UnmetParameters",
    "status",
]
