"""Small builders for the projection tests: events, recorded positions, facts, criteria and standards."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from uuid import UUID

from events.disclosure import Channel, DisclosureCategory, DisclosurePublished
from events.envelope import Recorded
from events.hierarchy import (
    CommunityKind,
    CommunityRegistered,
    CommunityRenamed,
    CommunityRetired,
    CommunityTransferred,
    TownKind,
    TownRegistered,
)
from events.recognition import DutyReportFiled
from events.registry import Event
from events.rules import RuleDocument, RuleRevised
from events.standard import Criterion, StandardRevised
from events.supervision import Finding, FindingRectified, MeetingHeld, MeetingKind, SpotCheckRecorded
from events.training import TrainingHeld, TrainingKind
from projections.community import StandardVersion, World, evolve, fold_world
from projections.facts import CommunityFacts
from tests.support.sealing import sealed

LONG_AGO = date(2015, 1, 1)


def day(text: str) -> date:
    return date.fromisoformat(text)


def Params(items: Mapping[str, Any]) -> dict[str, Any]:
    """Criterion parameters as the log holds them: a plain JSON object."""
    return dict(items)


def criterion(criterion_id: str, kind: str, /, **params: Any) -> Criterion:
    return Criterion(criterion_id=criterion_id, kind=kind, params=Params(params))


def standard(*criteria: Criterion, version: int = 1, effective_from: date = LONG_AGO) -> StandardVersion:
    return StandardVersion(version, effective_from, f"standard v{version}", tuple(criteria), version)


# -- events -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unknown:
    """An event type the projections have never heard of, about some community."""

    TYPE: ClassVar[str] = "Unknown"
    VERSION: ClassVar[int] = 1

    community_id: str


def town(town_id: str, on: date = LONG_AGO) -> TownRegistered:
    return TownRegistered(
        town_id=town_id, city_id="cixi", name=f"town {town_id}", kind=TownKind.TOWN, registered_on=on
    )


def registered(
    community_id: str,
    on: date = LONG_AGO,
    town_id: str = "t1",
    kind: CommunityKind = CommunityKind.COMMUNITY,
) -> CommunityRegistered:
    return CommunityRegistered(
        community_id=community_id,
        town_id=town_id,
        name=f"community {community_id}",
        kind=kind,
        registered_on=on,
    )


def renamed(community_id: str, name: str, on: date) -> CommunityRenamed:
    return CommunityRenamed(community_id=community_id, name=name, effective_on=on)


def transferred(community_id: str, from_town: str, to_town: str, on: date) -> CommunityTransferred:
    return CommunityTransferred(
        community_id=community_id, from_town_id=from_town, to_town_id=to_town, effective_on=on
    )


def retired(community_id: str, on: date) -> CommunityRetired:
    return CommunityRetired(community_id=community_id, reason="merged", effective_on=on)


def disclosed(
    community_id: str,
    period: str,
    published_on: date,
    category: DisclosureCategory = DisclosureCategory.FINANCE,
) -> DisclosurePublished:
    return DisclosurePublished(
        community_id=community_id,
        disclosure_id=f"{community_id}-{category.value}-{period}-{published_on.isoformat()}",
        category=category,
        period=period,
        channel=Channel.NOTICE_BOARD,
        published_on=published_on,
        title=f"{category.value} {period}",
        digest="0" * 64,
    )


def trained(community_id: str, kind: TrainingKind, held_on: date) -> TrainingHeld:
    return TrainingHeld(
        community_id=community_id,
        training_id=f"{community_id}-{kind.value}-{held_on.isoformat()}",
        kind=kind,
        held_on=held_on,
        title=kind.value,
        attendees=20,
        hours=1.5,
    )


def rule_adopted(
    community_id: str,
    version: int,
    adopted_on: date,
    document: RuleDocument = RuleDocument.MICRO_POWER_LIST,
) -> RuleRevised:
    return RuleRevised(
        community_id=community_id,
        document=document,
        version=version,
        adopted_on=adopted_on,
        adopted_by="居民代表会议",
        digest="1" * 64,
        summary=f"version {version}",
    )


def met_on(community_id: str, held_on: date, kind: MeetingKind = MeetingKind.REPRESENTATIVES) -> MeetingHeld:
    return MeetingHeld(
        community_id=community_id,
        meeting_id=f"{community_id}-{kind.value}-{held_on.isoformat()}",
        kind=kind,
        held_on=held_on,
        attendees=30,
    )


def spot_check(community_id: str, checked_on: date, *finding_ids: str) -> SpotCheckRecorded:
    return SpotCheckRecorded(
        community_id=community_id,
        check_id=f"{community_id}-check-{checked_on.isoformat()}",
        checked_on=checked_on,
        checked_by="市民政局",
        findings=tuple(Finding(finding_id=f, summary=f"problem {f}") for f in finding_ids),
    )


def rectified(community_id: str, finding_id: str, on: date) -> FindingRectified:
    return FindingRectified(
        community_id=community_id, finding_id=finding_id, rectified_on=on, note=sealed("note", "fixed")
    )


def duty_report(community_id: str, year: int, filed_on: date) -> DutyReportFiled:
    return DutyReportFiled(community_id=community_id, year=year, filed_on=filed_on, reporter_role="社区书记")


def standard_revised(
    *criteria: Criterion, version: int = 1, effective_from: date = LONG_AGO
) -> StandardRevised:
    return StandardRevised(
        version=version, effective_from=effective_from, title=f"standard v{version}", criteria=tuple(criteria)
    )


# -- folding ----------------------------------------------------------------------------------------------


def recorded(position: int) -> Recorded:
    """An envelope that only its position matters for: the folds read nothing else."""
    return Recorded(
        position=position,
        stream_id="test-1",
        stream_version=position,
        event_id=UUID(int=position),
        type="Test",
        schema_version=1,
        payload={},
        metadata={},
        recorded_at=datetime(2024, 1, 1, tzinfo=UTC),
        canonical=b"",
        leaf_hash=b"",
    )


def records(log: Iterable[tuple[int, Event]]) -> list[tuple[Recorded, Event]]:
    return [(recorded(position), event) for position, event in log]


def numbered(events: Sequence[Event], first: int = 1) -> list[tuple[int, Event]]:
    """The events at positions first, first + 1, ..."""
    return [(first + i, event) for i, event in enumerate(events)]


def fold(log: Sequence[tuple[int, Event]], world: World | None = None) -> World:
    """`world` (or an empty one) with the (position, event) pairs of `log` folded in."""
    return fold_world(World() if world is None else world, records(log))


def world_of(*events: Event) -> World:
    return fold_world(World(), records(numbered(events)))


def facts_of(community_id: str, *events: Event) -> CommunityFacts:
    """One community's facts, folding `events` at positions 1, 2, ..."""
    state = CommunityFacts(community_id=community_id)
    for position, event in numbered(events):
        state = evolve(state, position, event)
    return state
