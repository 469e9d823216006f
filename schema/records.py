"""A community's records as the API shows them: disclosures, trainings, rule versions, meetings, spot
checks and designations — each with the log position it came from."""

from __future__ import annotations

from datetime import date

import strawberry

from events.disclosure import Channel, DisclosureCategory
from events.recognition import Level
from events.rules import RuleDocument
from events.supervision import MeetingKind
from events.training import TrainingKind
from projections import facts as f

_POSITION = "The log position of the event that recorded it."


@strawberry.type(description="A correction of a disclosure (更正): a new record; the original stays.")
class Correction:
    corrected_on: date = strawberry.field(description="The local date of the correction.")
    title: str = strawberry.field(description="The corrected document's title.")
    digest: str = strawberry.field(description="SHA-256 of the corrected document, hex.")
    reason: str = strawberry.field(description="Why it was corrected.")
    position: int = strawberry.field(description=_POSITION)


@strawberry.type(description="A disclosure (公开): what a community published, where, for which period.")
class Disclosure:
    disclosure_id: str = strawberry.field(description="The disclosure's id within its community.")
    category: DisclosureCategory = strawberry.field(description="What it discloses.")
    period: str = strawberry.field(description="The period it covers: 2022, 2022-Q2 or 2022-06.")
    channel: Channel = strawberry.field(description="Where it was published.")
    published_on: date = strawberry.field(description="The local date it was published.")
    title: str = strawberry.field(description="The published document's title.")
    digest: str = strawberry.field(description="SHA-256 of the published document, hex.")
    position: int = strawberry.field(description=_POSITION)
    corrections: list[Correction] = strawberry.field(
        description="Corrections of this disclosure recorded by the date asked, oldest first."
    )


def disclosure(d: f.Disclosure, facts: f.CommunityFacts, on: date) -> Disclosure:
    corrections = [
        Correction(
            corrected_on=c.corrected_on, title=c.title, digest=c.digest, reason=c.reason, position=c.position
        )
        for c in facts.corrections
        if c.corrects == d.disclosure_id and c.corrected_on <= on
    ]
    return Disclosure(
        disclosure_id=d.disclosure_id,
        category=d.category,
        period=d.period,
        channel=d.channel,
        published_on=d.published_on,
        title=d.title,
        digest=d.digest,
        position=d.position,
        corrections=corrections,
    )


@strawberry.type(description="Integrity education held (五个一 and others).")
class Training:
    training_id: str = strawberry.field(description="The training's id within its community.")
    kind: TrainingKind = strawberry.field(description="What kind of education it was.")
    held_on: date = strawberry.field(description="The local date it was held.")
    title: str = strawberry.field(description="Its title.")
    attendees: int = strawberry.field(description="How many attended.")
    hours: float = strawberry.field(description="How long it lasted, in hours.")
    position: int = strawberry.field(description=_POSITION)


def training(t: f.Training) -> Training:
    return Training(
        training_id=t.training_id,
        kind=t.kind,
        held_on=t.held_on,
        title=t.title,
        attendees=t.attendees,
        hours=t.hours,
        position=t.position,
    )


@strawberry.type(description="One version of one of the community's rules (社区公约, 自治章程 …).")
class RuleVersion:
    document: RuleDocument = strawberry.field(description="Which rules.")
    version: int = strawberry.field(description="The version; versions of a document only increase.")
    adopted_on: date = strawberry.field(description="The local date it was adopted.")
    adopted_by: str = strawberry.field(description="Who adopted it, e.g. 居民代表会议.")
    digest: str = strawberry.field(description="SHA-256 of the adopted text, hex.")
    summary: str = strawberry.field(description="What changed.")
    position: int = strawberry.field(description=_POSITION)


def rule_version(r: f.RuleVersion) -> RuleVersion:
    return RuleVersion(
        document=r.document,
        version=r.version,
        adopted_on=r.adopted_on,
        adopted_by=r.adopted_by,
        digest=r.digest,
        summary=r.summary,
        position=r.position,
    )


@strawberry.type(description="A residents' meeting held.")
class Meeting:
    meeting_id: str = strawberry.field(description="The meeting's id within its community.")
    kind: MeetingKind = strawberry.field(description="What kind of meeting.")
    held_on: date = strawberry.field(description="The local date it was held.")
    attendees: int = strawberry.field(description="How many attended.")
    position: int = strawberry.field(description=_POSITION)


def meeting(m: f.Meeting) -> Meeting:
    return Meeting(
        meeting_id=m.meeting_id, kind=m.kind, held_on=m.held_on, attendees=m.attendees, position=m.position
    )


@strawberry.type(description="A problem a spot check found; open until rectified.")
class Finding:
    finding_id: str = strawberry.field(description="The finding's id within its community.")
    summary: str = strawberry.field(description="What was found.")
    rectified_on: date | None = strawberry.field(
        description="The local date it was rectified, if by the date asked; null while open."
    )


@strawberry.type(description="A spot check (回头看) of the community and what it found.")
class SpotCheck:
    check_id: str = strawberry.field(description="The check's id within its community.")
    checked_on: date = strawberry.field(description="The local date of the check.")
    checked_by: str = strawberry.field(description="The inspecting body, e.g. 市民政局.")
    findings: list[Finding] = strawberry.field(description="What it found.")
    position: int = strawberry.field(description=_POSITION)


def spot_check(s: f.SpotCheck, facts: f.CommunityFacts, on: date) -> SpotCheck:
    rectified = {r.finding_id: r.rectified_on for r in facts.rectifications if r.rectified_on <= on}
    findings = [
        Finding(finding_id=x.finding_id, summary=x.summary, rectified_on=rectified.get(x.finding_id))
        for x in facts.findings
        if x.check_id == s.check_id
    ]
    return SpotCheck(
        check_id=s.check_id,
        checked_on=s.checked_on,
        checked_by=s.checked_by,
        findings=findings,
        position=s.position,
    )


@strawberry.type(description="A designation as a demonstration point (示范观察点).")
class Designation:
    level: Level = strawberry.field(description="Who designated it.")
    designated_on: date = strawberry.field(description="The local date of the designation.")
    title: str = strawberry.field(description="The title conferred.")
    position: int = strawberry.field(description=_POSITION)


def designation(d: f.Designation) -> Designation:
    return Designation(level=d.level, designated_on=d.designated_on, title=d.title, position=d.position)
