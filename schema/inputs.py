"""The inputs of the mutations: one per command, each field named as in the event it proposes."""

from __future__ import annotations

from datetime import date

import strawberry

from events.disclosure import Channel, DisclosureCategory
from events.hierarchy import CommunityKind, TownKind
from events.recognition import Level
from events.rules import RuleDocument
from events.supervision import MeetingKind
from events.training import TrainingKind
from schema.scalars import JSON

_COMMUNITY = "The community's id (a slug)."
_ON = "The local date (Asia/Shanghai) on which it happened; not after today."
_FROM = "The local date from which it holds."
_DIGEST = "SHA-256 of the document, as 64 lower-case hex digits."


@strawberry.input(description="A town or subdistrict to register.")
class RegisterTownInput:
    town_id: str = strawberry.field(description="Its id: a slug.")
    name: str = strawberry.field(description="Its Chinese name.")
    kind: TownKind = strawberry.field(description="Town or subdistrict.")
    registered_on: date = strawberry.field(description=_FROM)
    city_id: str = strawberry.field(default="cixi", description="The city's id.")
    name_en: str | None = strawberry.field(default=None, description="An English gloss.")


@strawberry.input(description="A community or village to register in a town.")
class RegisterCommunityInput:
    community_id: str = strawberry.field(description="Its id: a slug.")
    town_id: str = strawberry.field(description="The town it belongs to.")
    name: str = strawberry.field(description="Its Chinese name.")
    kind: CommunityKind = strawberry.field(description="Community or village.")
    registered_on: date = strawberry.field(description=_FROM)
    name_en: str | None = strawberry.field(default=None, description="An English gloss.")


@strawberry.input(description="A new name for a community.")
class RenameCommunityInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    name: str = strawberry.field(description="Its new Chinese name.")
    effective_on: date = strawberry.field(description=_FROM)
    name_en: str | None = strawberry.field(default=None, description="A new English gloss.")


@strawberry.input(description="A community moving from one town to another.")
class TransferCommunityInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    from_town_id: str = strawberry.field(description="The town it belongs to now.")
    to_town_id: str = strawberry.field(description="The town it moves to.")
    effective_on: date = strawberry.field(description=_FROM)


@strawberry.input(description="A community leaving the programme (merged or dissolved).")
class RetireCommunityInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    reason: str = strawberry.field(description="Why.")
    effective_on: date = strawberry.field(description=_FROM)


@strawberry.input(description="A disclosure (公开) a community published.")
class PublishDisclosureInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    disclosure_id: str = strawberry.field(description="Its id within the community.")
    category: DisclosureCategory = strawberry.field(description="What it discloses.")
    period: str = strawberry.field(description="The period it covers: 2022, 2022-Q2 or 2022-06.")
    channel: Channel = strawberry.field(description="Where it was published.")
    published_on: date = strawberry.field(description=_ON)
    title: str = strawberry.field(description="The document's title.")
    digest: str = strawberry.field(description=_DIGEST)


@strawberry.input(description="A correction of an earlier disclosure; the original stays in the log.")
class CorrectDisclosureInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    corrects: str = strawberry.field(description="The id of the disclosure it corrects.")
    corrected_on: date = strawberry.field(description=_ON)
    title: str = strawberry.field(description="The corrected document's title.")
    digest: str = strawberry.field(description=_DIGEST)
    reason: str = strawberry.field(description="Why it was corrected.")


@strawberry.input(description="Integrity education held (五个一 and others).")
class RecordTrainingInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    training_id: str = strawberry.field(description="Its id within the community.")
    kind: TrainingKind = strawberry.field(description="What kind of education.")
    held_on: date = strawberry.field(description=_ON)
    title: str = strawberry.field(description="Its title.")
    attendees: int = strawberry.field(description="How many attended.")
    hours: float = strawberry.field(description="How long, in hours.")


@strawberry.input(description="A new version of one of the community's rules.")
class ReviseRuleInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    document: RuleDocument = strawberry.field(description="Which rules.")
    version: int = strawberry.field(description="The new version: greater than the last.")
    adopted_on: date = strawberry.field(description=_ON)
    adopted_by: str = strawberry.field(description="Who adopted it, e.g. 居民代表会议.")
    digest: str = strawberry.field(description=_DIGEST)
    summary: str = strawberry.field(description="What changed.")


@strawberry.input(description="A residents' meeting held.")
class RecordMeetingInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    meeting_id: str = strawberry.field(description="Its id within the community.")
    kind: MeetingKind = strawberry.field(description="What kind of meeting.")
    held_on: date = strawberry.field(description=_ON)
    attendees: int = strawberry.field(description="How many attended.")
    topics: list[str] = strawberry.field(default_factory=list, description="What it discussed.")


@strawberry.input(description="A problem a spot check found.")
class FindingInput:
    finding_id: str = strawberry.field(description="Its id within the community.")
    summary: str = strawberry.field(description="What was found.")


@strawberry.input(description="A spot check (回头看) and what it found.")
class RecordSpotCheckInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    check_id: str = strawberry.field(description="Its id within the community.")
    checked_on: date = strawberry.field(description=_ON)
    checked_by: str = strawberry.field(description="The inspecting body, e.g. 市民政局.")
    findings: list[FindingInput] = strawberry.field(default_factory=list, description="What it found.")


@strawberry.input(description="A finding rectified (整改), which closes it.")
class RecordRectificationInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    finding_id: str = strawberry.field(description="The finding rectified.")
    rectified_on: date = strawberry.field(description=_ON)
    note: str = strawberry.field(description="What was done.")


@strawberry.input(description="A report (监督举报) received about a community.")
class ReceiveReportInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    report_id: str = strawberry.field(description="Its id within the community.")
    received_on: date = strawberry.field(description=_ON)
    channel: str = strawberry.field(description="How it arrived.")
    summary: str = strawberry.field(description="What it says.")
    reporter_ref: str | None = strawberry.field(
        default=None,
        description="An opaque reference to the reporter, kept outside the log; null if anonymous.",
    )


@strawberry.input(description="A report closed, with its outcome.")
class CloseReportInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    report_id: str = strawberry.field(description="The report closed.")
    closed_on: date = strawberry.field(description=_ON)
    outcome: str = strawberry.field(description="What came of it.")


@strawberry.input(description="A designation as a demonstration point (示范观察点).")
class DesignateDemonstrationPointInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    level: Level = strawberry.field(description="Who designates it.")
    designated_on: date = strawberry.field(description=_ON)
    title: str = strawberry.field(description="The title conferred.")


@strawberry.input(description="A leading talent (领军人才) recognized in a community.")
class RecognizeLeadingTalentInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    person_ref: str = strawberry.field(description="An opaque reference to the person, kept outside the log.")
    level: Level = strawberry.field(description="Who recognizes them.")
    recognized_on: date = strawberry.field(description=_ON)


@strawberry.input(description="A duty report (述职述廉) filed for a year.")
class FileDutyReportInput:
    community_id: str = strawberry.field(description=_COMMUNITY)
    year: int = strawberry.field(description="The year reported on.")
    filed_on: date = strawberry.field(description=_ON)
    reporter_role: str = strawberry.field(description="The role that reported, e.g. 社区书记.")


@strawberry.input(description="A text in Chinese and in English.")
class LocalizedTextInput:
    zh: str = strawberry.field(description="In Chinese.")
    en: str = strawberry.field(description="In English.")


@strawberry.input(description="One criterion of a standard: a kind of rule, its parameters and its texts.")
class CriterionInput:
    criterion_id: str = strawberry.field(description="Its id within the standard.")
    kind: str = strawberry.field(description="The kind of rule, e.g. disclosure_every_period.")
    params: JSON = strawberry.field(description="The rule's parameters, e.g. {category: finance}.")
    title: LocalizedTextInput | None = strawberry.field(
        default=None,
        description="Its title (at most 200 characters in each language). Left out, the built-in title of "
        "a criterion id of the default standard; required for any other id.",
    )
    description: LocalizedTextInput | None = strawberry.field(
        default=None,
        description="What it requires, for a reader (at most 2,000 characters in each language). Left out, "
        "the built-in description of a criterion id of the default standard; required for any other id.",
    )


@strawberry.input(description="A new version of the standard.")
class ReviseStandardInput:
    version: int = strawberry.field(description="The next version number.")
    effective_from: date = strawberry.field(description=_FROM)
    title: str = strawberry.field(description="Its title.")
    criteria: list[CriterionInput] = strawberry.field(description="Its criteria.")
