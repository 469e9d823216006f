"""Small builders of valid programme events, for tests and benchmarks."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from events.disclosure import Channel, DisclosureCategory, DisclosurePublished
from events.hierarchy import (
    CommunityKind,
    CommunityRegistered,
    CommunityTransferred,
    TownKind,
    TownRegistered,
)
from events.registry import Event
from events.rules import RuleDocument, RuleRevised
from events.standard import Criterion, StandardRevised
from events.supervision import MeetingHeld, MeetingKind
from events.training import TrainingHeld, TrainingKind

START = date(2021, 1, 1)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def town(town_id: str, name: str = "古塘街道") -> TownRegistered:
    return TownRegistered(
        town_id=town_id, city_id="cixi", name=name, kind=TownKind.SUBDISTRICT, registered_on=START
    )


def community(
    community_id: str, town_id: str, *, village: bool = False, on: date = START
) -> CommunityRegistered:
    return CommunityRegistered(
        community_id=community_id,
        town_id=town_id,
        name=f"{community_id}{'村' if village else '社区'}",
        kind=CommunityKind.VILLAGE if village else CommunityKind.COMMUNITY,
        registered_on=on,
    )


def transfer(community_id: str, from_town: str, to_town: str, on: date) -> CommunityTransferred:
    return CommunityTransferred(
        community_id=community_id, from_town_id=from_town, to_town_id=to_town, effective_on=on
    )


def disclosure(community_id: str, category: DisclosureCategory, period: str, on: date) -> DisclosurePublished:
    return DisclosurePublished(
        community_id=community_id,
        disclosure_id=f"{community_id}-{category.value}-{period}",
        category=category,
        period=period,
        channel=Channel.NOTICE_BOARD,
        published_on=on,
        title=f"{period} {category.value}",
        digest=digest(f"{community_id}/{category}/{period}"),
    )


def training(community_id: str, kind: TrainingKind, on: date, n: int = 0) -> TrainingHeld:
    return TrainingHeld(
        community_id=community_id,
        training_id=f"{community_id}-{kind.value}-{on.isoformat()}-{n}",
        kind=kind,
        held_on=on,
        title=kind.value,
        attendees=20,
        hours=2.0,
    )


def rule(community_id: str, document: RuleDocument, version: int, on: date) -> RuleRevised:
    return RuleRevised(
        community_id=community_id,
        document=document,
        version=version,
        adopted_on=on,
        adopted_by="居民代表会议",
        digest=digest(f"{community_id}/{document}/{version}"),
        summary=f"{document.value} v{version}",
    )


def meeting(community_id: str, kind: MeetingKind, on: date) -> MeetingHeld:
    return MeetingHeld(
        community_id=community_id,
        meeting_id=f"{community_id}-{kind.value}-{on.isoformat()}",
        kind=kind,
        held_on=on,
        attendees=30,
    )


def standard(version: int = 1, effective_from: date = START) -> StandardRevised:
    return StandardRevised(
        version=version,
        effective_from=effective_from,
        title="慈溪市清廉社区规范化建设标准",
        criteria=(
            Criterion(criterion_id="finance", kind="disclosure_every_period", params={"category": "finance"}),
            Criterion(criterion_id="five-ones", kind="trainings_each_year", params={}),
        ),
    )


def busy_year(community_id: str, year: int) -> list[Event]:
    """A community's year of ordinary activity: quarterly disclosures, the five trainings, meetings."""
    events: list[Event] = []
    for quarter in range(1, 5):
        published = date(year, 3 * quarter, 1) + timedelta(days=40)
        events.append(disclosure(community_id, DisclosureCategory.FINANCE, f"{year}-Q{quarter}", published))
        events.append(meeting(community_id, MeetingKind.REPRESENTATIVES, date(year, 3 * quarter - 1, 10)))
    for n, kind in enumerate(TrainingKind):
        events.append(training(community_id, kind, date(year, 2 + n, 5)))
    return events
