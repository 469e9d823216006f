"""What the log says about each community, town and the standard: dated facts, each with its position.

Facts are only ever added. Every fact keeps the log position it came from and the local date on which it
holds, so one set of facts answers both "as of a date" (facts dated on or before it) and "as of a position"
(facts from positions up to it) without replaying the log.
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol, TypeVar, cast

from events.disclosure import Channel, DisclosureCategory
from events.hierarchy import (
    CommunityKind,
)
from events.recognition import Level
from events.rules import RuleDocument
from events.supervision import (
    MeetingKind,
)
from events.training import TrainingKind


@dataclass(frozen=True, slots=True)
class Named:
    name: str
    name_en: str | None
    since: date
    position: int


@dataclass(frozen=True, slots=True)
class Membership:
    town_id: str
    since: date
    position: int


@dataclass(frozen=True, slots=True)
class Disclosure:
    disclosure_id: str
    category: DisclosureCategory
    period: str
    channel: Channel
    published_on: date
    title: str
    digest: str
    position: int


@dataclass(frozen=True, slots=True)
class Correction:
    corrects: str
    corrected_on: date
    title: str
    digest: str
    reason: str
    position: int


@dataclass(frozen=True, slots=True)
class Training:
    training_id: str
    kind: TrainingKind
    held_on: date
    title: str
    attendees: int
    hours: float
    position: int


@dataclass(frozen=True, slots=True)
class RuleVersion:
    document: RuleDocument
    version: int
    adopted_on: date
    adopted_by: str
    digest: str
    summary: str
    position: int


@dataclass(frozen=True, slots=True)
class Meeting:
    meeting_id: str
    kind: MeetingKind
    held_on: date
    attendees: int
    position: int


@dataclass(frozen=True, slots=True)
class SpotCheck:
    check_id: str
    checked_on: date
    checked_by: str
    finding_ids: tuple[str, ...]
    position: int


@dataclass(frozen=True, slots=True)
class Finding:
    finding_id: str
    check_id: str
    found_on: date
    summary: str
    position: int


@dataclass(frozen=True, slots=True)
class Rectification:
    finding_id: str
    rectified_on: date
    position: int


@dataclass(frozen=True, slots=True)
class Report:
    report_id: str
    received_on: date
    channel: str
    position: int


@dataclass(frozen=True, slots=True)
class ReportClosure:
    report_id: str
    closed_on: date
    position: int


@dataclass(frozen=True, slots=True)
class Designation:
    level: Level
    designated_on: date
    title: str
    position: int


@dataclass(frozen=True, slots=True)
class Talent:
    person_ref: str
    level: Level
    recognized_on: date
    position: int


@dataclass(frozen=True, slots=True)
class DutyReport:
    year: int
    filed_on: date
    reporter_role: str
    position: int


@dataclass(frozen=True, slots=True)
class Registration:
    kind: CommunityKind
    since: date
    position: int


@dataclass(frozen=True, slots=True)
class Retirement:
    reason: str
    since: date
    position: int


# A weak reference slot: what is derived from a community's facts (`derived`) lives as long as they do.
@dataclass(frozen=True, slots=True, kw_only=True, weakref_slot=True)
class CommunityFacts:
    """Everything recorded about one community, in log order within each kind of fact."""

    community_id: str
    # Commands allow one registration and one retirement; tuples keep the fold total, and time travel
    # by position a plain filter, whatever the log holds.
    registrations: tuple[Registration, ...] = ()
    names: tuple[Named, ...] = ()
    memberships: tuple[Membership, ...] = ()
    retirements: tuple[Retirement, ...] = ()
    disclosures: tuple[Disclosure, ...] = ()
    corrections: tuple[Correction, ...] = ()
    trainings: tuple[Training, ...] = ()
    rules: tuple[RuleVersion, ...] = ()
    meetings: tuple[Meeting, ...] = ()
    spot_checks: tuple[SpotCheck, ...] = ()
    findings: tuple[Finding, ...] = ()
    rectifications: tuple[Rectification, ...] = ()
    reports: tuple[Report, ...] = ()
    report_closures: tuple[ReportClosure, ...] = ()
    designations: tuple[Designation, ...] = ()
    talents: tuple[Talent, ...] = ()
    duty_reports: tuple[DutyReport, ...] = ()
    # The last position that changed these facts; 0 for a community the log has not mentioned.
    position: int = 0

    @property
    def registered_on(self) -> date | None:
        return self.registrations[0].since if self.registrations else None

    @property
    def kind(self) -> CommunityKind:
        return self.registrations[0].kind if self.registrations else CommunityKind.COMMUNITY

    @property
    def retirement(self) -> Retirement | None:
        return self.retirements[0] if self.retirements else None

    def name_on(self, day: date) -> str | None:
        """The name in effect on `day` (the latest effective date wins, whenever it was recorded); before
        the first name took effect, the first name."""
        named = self._named_on(day)
        return named.name if named is not None else None

    def name_en_on(self, day: date) -> str | None:
        """The English gloss given with the name in effect on `day`, if one was."""
        named = self._named_on(day)
        return named.name_en if named is not None else None

    def _named_on(self, day: date) -> Named | None:
        current = [n for n in self.names if n.since <= day]
        if current:
            return max(current, key=lambda n: (n.since, n.position))
        return self.names[0] if self.names else None

    def position_on(self, day: date) -> int:
        """The last log position among the facts dated on or before `day` (0 if none is): what the
        community's status on that day follows from, as far as its own records go."""
        days, positions = derived(self, "position_on", _positions_by_day)
        return positions[bisect_right(days, day) - 1] if days and days[0] <= day else 0

    def town_on(self, day: date) -> str | None:
        """The town the community belonged to on `day`, by effective dates, whenever they were recorded."""
        current = [m for m in self.memberships if m.since <= day]
        return max(current, key=lambda m: (m.since, m.position)).town_id if current else None

    def in_scope_on(self, day: date) -> bool:
        """Registered on or before `day` and not retired by then."""
        if self.registered_on is None or self.registered_on > day:
            return False
        return self.retirement is None or self.retirement.since > day

    def up_to(self, position: int) -> CommunityFacts:
        """These facts as they stood once the log reached `position` (time travel by position)."""
        if position >= self.position:
            return self
        kept = replace(
            self,
            registrations=_upto(self.registrations, position),
            names=_upto(self.names, position),
            memberships=_upto(self.memberships, position),
            retirements=_upto(self.retirements, position),
            disclosures=_upto(self.disclosures, position),
            corrections=_upto(self.corrections, position),
            trainings=_upto(self.trainings, position),
            rules=_upto(self.rules, position),
            meetings=_upto(self.meetings, position),
            spot_checks=_upto(self.spot_checks, position),
            findings=_upto(self.findings, position),
            rectifications=_upto(self.rectifications, position),
            reports=_upto(self.reports, position),
            report_closures=_upto(self.report_closures, position),
            designations=_upto(self.designations, position),
            talents=_upto(self.talents, position),
            duty_reports=_upto(self.duty_reports, position),
        )
        return replace(kept, position=kept.last_position())

    def last_position(self) -> int:
        """The last position among the facts held: the position a replay would have stamped them with."""
        groups: tuple[tuple[_Positioned, ...], ...] = (
            self.registrations,
            self.names,
            self.memberships,
            self.retirements,
            self.disclosures,
            self.corrections,
            self.trainings,
            self.rules,
            self.meetings,
            self.spot_checks,
            self.findings,
            self.rectifications,
            self.reports,
            self.report_closures,
            self.designations,
            self.talents,
            self.duty_reports,
        )
        return max((group[-1].position for group in groups if group), default=0)


D = TypeVar("D")

# id(facts) -> (a weak reference to those facts, keyed by that id; what has been derived from them, by key).
_DERIVED: dict[int, tuple[weakref.KeyedRef[int, CommunityFacts], dict[Hashable, Any]]] = {}


def derived(facts: CommunityFacts, key: Hashable, build: Callable[[CommunityFacts], D]) -> D:
    """`build(facts)`, computed once for these facts (this object) and `key`, and kept while they live.

    Facts are immutable, so anything computed from them alone (an index of their dates, say) stays true
    for as long as they exist; `key` names what `build` computes, and must name one thing only.
    """
    held = _DERIVED.get(id(facts))
    if held is None or held[0]() is not facts:
        held = (weakref.KeyedRef(facts, _forget, id(facts)), {})
        _DERIVED[id(facts)] = held
    values = held[1]
    if key not in values:
        values[key] = build(facts)
    return cast(D, values[key])


def _forget(ref: weakref.KeyedRef[int, CommunityFacts]) -> None:
    """Drop what was derived from facts that are gone: their id may be given to new facts."""
    held = _DERIVED.get(ref.key)
    if held is not None and held[0] is ref:
        _DERIVED.pop(ref.key, None)


# CommunityFacts field -> the attribute of its facts holding the day each holds from.
DATED_BY: dict[str, str] = {
    "registrations": "since",
    "names": "since",
    "memberships": "since",
    "retirements": "since",
    "disclosures": "published_on",
    "corrections": "corrected_on",
    "trainings": "held_on",
    "rules": "adopted_on",
    "meetings": "held_on",
    "spot_checks": "checked_on",
    "findings": "found_on",
    "rectifications": "rectified_on",
    "reports": "received_on",
    "report_closures": "closed_on",
    "designations": "designated_on",
    "talents": "recognized_on",
    "duty_reports": "filed_on",
}


def _positions_by_day(facts: CommunityFacts) -> tuple[list[date], list[int]]:
    """Every day a fact holds from, ascending, with the last position among the facts dated by then."""
    dated = sorted(
        (getattr(item, attribute), item.position)
        for field, attribute in DATED_BY.items()
        for item in getattr(facts, field)
    )
    days: list[date] = []
    positions: list[int] = []
    for day, position in dated:
        highest = max(position, positions[-1]) if positions else position
        if days and days[-1] == day:
            positions[-1] = highest
        else:
            days.append(day)
            positions.append(highest)
    return days, positions


class _Positioned(Protocol):
    @property
    def position(self) -> int: ...


P = TypeVar("P", bound=_Positioned)


def _upto(items: tuple[P, ...], position: int) -> tuple[P, ...]:
    return tuple(item for item in items if item.position <= position)
