"""The folds: each event, applied to the facts it concerns. Total, deterministic, never raising."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, TypeAlias

from events.disclosure import DisclosureCorrected, DisclosurePublished
from events.envelope import Recorded
from events.hierarchy import (
    CommunityRegistered,
    CommunityRenamed,
    CommunityRetired,
    CommunityTransferred,
    TownKind,
    TownRegistered,
)
from events.recognition import DemonstrationPointDesignated, DutyReportFiled, LeadingTalentRecognized
from events.registry import Event
from events.rules import RuleRevised
from events.standard import Criterion, StandardRevised
from events.supervision import (
    FindingRectified,
    MeetingHeld,
    ReportClosed,
    ReportReceived,
    SpotCheckRecorded,
)
from events.training import TrainingHeld
from projections.facts import (
    CommunityFacts,
    Correction,
    Designation,
    Disclosure,
    DutyReport,
    Finding,
    Meeting,
    Membership,
    Named,
    Rectification,
    Registration,
    Report,
    ReportClosure,
    Retirement,
    RuleVersion,
    SpotCheck,
    Talent,
    Training,
)


def evolve(state: CommunityFacts, position: int, event: Event) -> CommunityFacts:
    """`state` with `event` (recorded at `position`) applied; events about others leave it unchanged."""
    if getattr(event, "community_id", None) != state.community_id:
        return state
    added = additions(position, event)
    if added is None:
        return state
    changes = {name: getattr(state, name) + items for name, items in added}
    return replace(state, **changes, position=position)


Added: TypeAlias = tuple[tuple[str, tuple[Any, ...]], ...]


def additions(position: int, event: Event) -> Added | None:
    """The facts a community event adds, as (CommunityFacts field, new items); None if it adds nothing."""
    p = position
    match event:
        case CommunityRegistered(town_id=town, name=name, name_en=name_en, kind=kind, registered_on=day):
            return (
                ("registrations", (Registration(kind, day, p),)),
                ("names", (Named(name, name_en, day, p),)),
                ("memberships", (Membership(town, day, p),)),
            )
        case CommunityRenamed(name=name, name_en=name_en, effective_on=day):
            return (("names", (Named(name, name_en, day, p),)),)
        case CommunityTransferred(to_town_id=town, effective_on=day):
            return (("memberships", (Membership(town, day, p),)),)
        case CommunityRetired(reason=reason, effective_on=day):
            return (("retirements", (Retirement(reason, day, p),)),)
        case DisclosurePublished():
            fact = Disclosure(
                event.disclosure_id,
                event.category,
                event.period,
                event.channel,
                event.published_on,
                event.title,
                event.digest,
                p,
            )
            return (("disclosures", (fact,)),)
        case DisclosureCorrected():
            correction = Correction(
                event.corrects, event.corrected_on, event.title, event.digest, event.reason, p
            )
            return (("corrections", (correction,)),)
        case TrainingHeld():
            training = Training(
                event.training_id, event.kind, event.held_on, event.title, event.attendees, event.hours, p
            )
            return (("trainings", (training,)),)
        case RuleRevised():
            rule = RuleVersion(
                event.document,
                event.version,
                event.adopted_on,
                event.adopted_by,
                event.digest,
                event.summary,
                p,
            )
            return (("rules", (rule,)),)
        case MeetingHeld():
            return (
                ("meetings", (Meeting(event.meeting_id, event.kind, event.held_on, event.attendees, p),)),
            )
        case SpotCheckRecorded():
            check = SpotCheck(
                event.check_id,
                event.checked_on,
                event.checked_by,
                tuple(f.finding_id for f in event.findings),
                p,
            )
            found = tuple(
                Finding(f.finding_id, event.check_id, event.checked_on, f.summary, p) for f in event.findings
            )
            return (("spot_checks", (check,)), ("findings", found))
        # Facts keep no restricted text: status never depends on it, and erasing it must not change them.
        case FindingRectified(finding_id=finding, rectified_on=day):
            return (("rectifications", (Rectification(finding, day, p),)),)
        case ReportReceived():
            return (("reports", (Report(event.report_id, event.received_on, event.channel, p),)),)
        case ReportClosed(report_id=report_id, closed_on=day):
            return (("report_closures", (ReportClosure(report_id, day, p),)),)
        case DemonstrationPointDesignated(level=level, designated_on=day, title=title):
            return (("designations", (Designation(level, day, title, p),)),)
        case LeadingTalentRecognized(person_ref=person, level=level, recognized_on=day):
            return (("talents", (Talent(person, level, day, p),)),)
        case DutyReportFiled(year=year, filed_on=day, reporter_role=role):
            return (("duty_reports", (DutyReport(year, day, role, p),)),)
        case _:
            return None


@dataclass(frozen=True, slots=True)
class TownFacts:
    town_id: str
    city_id: str
    name: str
    name_en: str | None
    kind: TownKind
    registered_on: date
    position: int


@dataclass(frozen=True, slots=True)
class StandardVersion:
    version: int
    effective_from: date
    title: str
    criteria: tuple[Criterion, ...]
    position: int


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    """The whole programme as the log describes it: towns, communities and the standard's versions."""

    towns: Mapping[str, TownFacts] = field(default_factory=dict)
    communities: Mapping[str, CommunityFacts] = field(default_factory=dict)
    standards: tuple[StandardVersion, ...] = ()
    position: int = 0

    def standard_on(self, day: date) -> StandardVersion | None:
        return standard_in_force(self.standards, day)


class _KnownAt(Mapping[str, CommunityFacts]):
    """Communities as they stood once the log reached `size`: each one's facts cut at that position when it
    is looked at (and kept), those not yet registered by then left out."""

    def __init__(self, communities: Mapping[str, CommunityFacts], size: int) -> None:
        self._base = communities
        self._size = size
        self._cut: dict[str, CommunityFacts] = {}

    def _known(self, facts: CommunityFacts) -> bool:
        return bool(facts.registrations) and facts.registrations[0].position <= self._size

    def __getitem__(self, community_id: str) -> CommunityFacts:
        cut = self._cut.get(community_id)
        if cut is None:
            facts = self._base[community_id]
            if not self._known(facts):
                raise KeyError(community_id)
            cut = self._cut[community_id] = facts.up_to(self._size)
        return cut

    def __iter__(self) -> Iterator[str]:
        return (community_id for community_id, facts in self._base.items() if self._known(facts))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def known_at(world: World, size: int) -> World:
    """The world as the log stood once it held `size` events (transaction time): the towns, the standard's
    versions and the communities recorded by then, each community's facts as they were. Communities are
    cut lazily, so asking for one costs one cut, not the city's."""
    if size >= world.position:
        return world
    return World(
        towns={t: facts for t, facts in world.towns.items() if facts.position <= size},
        communities=_KnownAt(world.communities, size),
        standards=tuple(s for s in world.standards if s.position <= size),
        position=size,
    )


def standard_in_force(standards: Iterable[StandardVersion], day: date) -> StandardVersion | None:
    """The standard that applies on `day`: of those effective by then, the highest version."""
    candidates = [s for s in standards if s.effective_from <= day]
    return max(candidates, key=lambda s: s.version) if candidates else None


def evolve_world(world: World, position: int, event: Event) -> World:
    """`world` with one event applied. Copies only the entry the event touches."""
    match event:
        case TownRegistered():
            town = TownFacts(
                event.town_id,
                event.city_id,
                event.name,
                event.name_en,
                event.kind,
                event.registered_on,
                position,
            )
            return replace(world, towns={**world.towns, event.town_id: town}, position=position)
        case StandardRevised():
            version = StandardVersion(
                event.version, event.effective_from, event.title, event.criteria, position
            )
            return replace(world, standards=(*world.standards, version), position=position)
    community_id = getattr(event, "community_id", None)
    if not isinstance(community_id, str):
        return replace(world, position=position)
    before = world.communities.get(community_id) or CommunityFacts(community_id=community_id)
    after = evolve(before, position, event)
    return replace(world, communities={**world.communities, community_id: after}, position=position)


def fold_world(world: World, records: Iterable[tuple[Recorded, Event]]) -> World:
    """Apply many events at once. Equal to applying `evolve_world` one event at a time, but linear:
    the dictionaries are copied once, and each community's facts are rebuilt once per call, not once
    per event."""
    return fold_events(world, ((rec.position, event) for rec, event in records))


def fold_events(world: World, events: Iterable[tuple[int, Event]]) -> World:
    """`fold_world` for (position, event) pairs: all a fold needs of the envelope is the position."""
    folder = Folder(world)
    folder.add(events)
    return folder.world()


class Folder:
    """Folds many batches of events into a World that is built once, at the end: each community's facts
    grow in lists, so a long replay copies nothing per batch (what a rebuild of the whole log needs)."""

    def __init__(self, world: World) -> None:
        self._base = world
        self._towns = dict(world.towns)
        self._standards = list(world.standards)
        self._position = world.position
        # Per community touched: the items each field gains, and the position of the last change.
        self._pending: dict[str, tuple[dict[str, list[Any]], list[int]]] = {}

    def add(self, events: Iterable[tuple[int, Event]]) -> None:
        pending = self._pending
        position = self._position
        for position, event in events:
            match event:
                case TownRegistered() | StandardRevised():
                    step = evolve_world(World(), position, event)
                    self._towns.update(step.towns)
                    self._standards.extend(step.standards)
                    continue
            community_id = getattr(event, "community_id", None)
            if not isinstance(community_id, str):
                continue
            entry = pending.get(community_id)
            if entry is None:
                entry = pending[community_id] = ({}, [0])
            added = additions(position, event)
            if added is None:
                continue
            gained, last = entry
            for name, items in added:
                gained.setdefault(name, []).extend(items)
            last[0] = position
        self._position = position

    def world(self) -> World:
        communities = dict(self._base.communities)
        for community_id, (gained, last) in self._pending.items():
            before = communities.get(community_id) or CommunityFacts(community_id=community_id)
            if gained:
                changes = {name: getattr(before, name) + tuple(items) for name, items in gained.items()}
                before = replace(before, **changes, position=last[0])
            communities[community_id] = before
        return World(
            towns=dict(self._towns),
            communities=communities,
            standards=tuple(self._standards),
            position=self._position,
        )
