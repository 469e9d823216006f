"""The folds: each event, applied to the facts it concerns. Total, deterministic, never raising."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

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
    p = position
    match event:
        case CommunityRegistered(town_id=town, name=name, name_en=name_en, kind=kind, registered_on=day):
            return replace(
                state,
                registrations=(*state.registrations, Registration(kind, day, p)),
                names=(*state.names, Named(name, name_en, day, p)),
                memberships=(*state.memberships, Membership(town, day, p)),
                position=p,
            )
        case CommunityRenamed(name=name, name_en=name_en, effective_on=day):
            return replace(state, names=(*state.names, Named(name, name_en, day, p)), position=p)
        case CommunityTransferred(to_town_id=town, effective_on=day):
            return replace(state, memberships=(*state.memberships, Membership(town, day, p)), position=p)
        case CommunityRetired(reason=reason, effective_on=day):
            return replace(state, retirements=(*state.retirements, Retirement(reason, day, p)), position=p)
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
            return replace(state, disclosures=(*state.disclosures, fact), position=p)
        case DisclosureCorrected():
            correction = Correction(
                event.corrects, event.corrected_on, event.title, event.digest, event.reason, p
            )
            return replace(state, corrections=(*state.corrections, correction), position=p)
        case TrainingHeld():
            training = Training(
                event.training_id, event.kind, event.held_on, event.title, event.attendees, event.hours, p
            )
            return replace(state, trainings=(*state.trainings, training), position=p)
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
            return replace(state, rules=(*state.rules, rule), position=p)
        case MeetingHeld():
            meeting = Meeting(event.meeting_id, event.kind, event.held_on, event.attendees, p)
            return replace(state, meetings=(*state.meetings, meeting), position=p)
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
            return replace(
                state,
                spot_checks=(*state.spot_checks, check),
                findings=(*state.findings, *found),
                position=p,
            )
        case FindingRectified(finding_id=finding, rectified_on=day, note=note):
            fix = Rectification(finding, day, note, p)
            return replace(state, rectifications=(*state.rectifications, fix), position=p)
        case ReportReceived():
            report = Report(event.report_id, event.received_on, event.channel, event.summary, p)
            return replace(state, reports=(*state.reports, report), position=p)
        case ReportClosed(report_id=report_id, closed_on=day, outcome=outcome):
            closure = ReportClosure(report_id, day, outcome, p)
            return replace(state, report_closures=(*state.report_closures, closure), position=p)
        case DemonstrationPointDesignated(level=level, designated_on=day, title=title):
            designation = Designation(level, day, title, p)
            return replace(state, designations=(*state.designations, designation), position=p)
        case LeadingTalentRecognized(person_ref=person, level=level, recognized_on=day):
            talent = Talent(person, level, day, p)
            return replace(state, talents=(*state.talents, talent), position=p)
        case DutyReportFiled(year=year, filed_on=day, reporter_role=role):
            report_filed = DutyReport(year, day, role, p)
            return replace(state, duty_reports=(*state.duty_reports, report_filed), position=p)
        case _:
            return state


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
    the dictionaries are copied once, not once per event."""
    towns = dict(world.towns)
    communities = dict(world.communities)
    standards = list(world.standards)
    position = world.position
    for rec, event in records:
        position = rec.position
        match event:
            case TownRegistered() | StandardRevised():
                step = evolve_world(World(), position, event)
                towns.update(step.towns)
                standards.extend(step.standards)
                continue
        community_id = getattr(event, "community_id", None)
        if isinstance(community_id, str):
            before = communities.get(community_id) or CommunityFacts(community_id=community_id)
            communities[community_id] = evolve(before, position, event)
    return World(towns=towns, communities=communities, standards=tuple(standards), position=position)
