"""Deciding whether a proposed event may be recorded, given what the log already says.

Pure: the state, the proposal and today's local date in; a list of (field, rule broken) out. The service
reads the state, calls `check`, and appends only when the list is empty.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from events.codec import canonical_json
from events.disclosure import DisclosureCorrected, DisclosurePublished
from events.erasure import Erased
from events.errors import CodecError
from events.hierarchy import (
    CommunityRegistered,
    CommunityRenamed,
    CommunityRetired,
    CommunityTransferred,
    TownRegistered,
)
from events.recognition import DemonstrationPointDesignated, DutyReportFiled, LeadingTalentRecognized
from events.registry import Event
from events.rules import RuleRevised
from events.standard import BUILT_IN_TEXTS, Criterion, StandardRevised, Text
from events.supervision import FindingRectified, MeetingHeld, ReportClosed, ReportReceived, SpotCheckRecorded
from events.training import TrainingHeld
from projections.community import StandardVersion
from projections.criteria import CriterionError, parse_rule
from projections.facts import CommunityFacts
from projections.periods import Period

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Ids of records within a community (disclosures, trainings …): letters of either case, as in "2022-Q1".
RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
DIGEST = re.compile(r"[0-9a-f]{64}")
# An opaque reference to a person held outside the log (a reporter, a recognized talent).
PERSON_REF = re.compile(r"ref:[A-Za-z0-9_-]{8,64}")
MAX_TEXT = 2000
MAX_TITLE = 200
MAX_COUNT = 1_000_000
MAX_HOURS = 1000.0
MAX_PARAMS = 4096
# The most items each list of a record may hold.
_MOST_ITEMS = {"topics": 50, "findings": 100, "criteria": 100, "fields": 20}
# The years the programme's records may be about: its calendar, not arbitrary integers.
FIRST_YEAR, LAST_YEAR = 1990, 2999
# Fields a person reads as a name or a title: one line of visible text, compared as people see it.
_DISPLAYED = ("title", "name", "name_en")
# Code points that show nothing yet are not control or format characters (Unicode's other
# Default_Ignorable_Code_Point ranges): in a name they would make two names look the same.
_INVISIBLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)

Errors = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Context:
    """What a decision may look at besides the proposal: the stored state and today's local date."""

    today: date
    community: CommunityFacts | None = None
    towns: frozenset[str] = frozenset()
    standards: tuple[StandardVersion, ...] = ()


def check(event: Event, context: Context) -> Errors:
    """Every rule `event` breaks; empty when it may be recorded."""
    errors: Errors = []
    _check_shapes(event, errors)
    _check_displayed(event, errors)
    _check_dates(event, context.today, errors)
    match event:
        case TownRegistered():
            _slug(errors, "town_id", event.town_id)
            if event.town_id in context.towns:
                errors.append(("town_id", f"town {event.town_id!r} is already registered"))
        case CommunityRegistered():
            _slug(errors, "community_id", event.community_id)
            if context.community is not None and context.community.registered_on is not None:
                errors.append(("community_id", f"community {event.community_id!r} is already registered"))
            if event.town_id not in context.towns:
                errors.append(("town_id", f"unknown town {event.town_id!r}"))
        case StandardRevised():
            _check_standard(event, context.standards, errors)
        case _:
            _check_community_event(event, context, errors)
    return errors


def _check_community_event(event: Event, context: Context, errors: Errors) -> None:
    facts = context.community
    community_id = getattr(event, "community_id", "")
    if facts is None or facts.registered_on is None:
        errors.append(("community_id", f"unknown community {community_id!r}"))
        return
    if isinstance(event, Erased):
        _check_erasure(event, facts, errors)  # a retired community's records may be erased too
        return
    if facts.retirement is not None:
        errors.append(("community_id", f"community {community_id!r} was retired on {facts.retirement.since}"))
        return
    # The programme's records of a community begin with its registration: one dated earlier is a typo
    # (1900 for 2021). Rules are the exception: a charter adopted years before stays in force.
    for name in (*_HAPPENED, "effective_on"):
        value = getattr(event, name, None)
        if isinstance(value, date) and value < facts.registered_on and not isinstance(event, RuleRevised):
            errors.append(
                (
                    name,
                    f"{value.isoformat()} is before the community was registered "
                    f"({facts.registered_on.isoformat()})",
                )
            )
    match event:
        case CommunityTransferred():
            current = facts.memberships[-1].town_id if facts.memberships else None
            if event.from_town_id != current:
                errors.append(
                    ("from_town_id", f"the community belongs to {current!r}, not {event.from_town_id!r}")
                )
            if event.to_town_id not in context.towns:
                errors.append(("to_town_id", f"unknown town {event.to_town_id!r}"))
            elif event.to_town_id == current:
                errors.append(("to_town_id", "the community already belongs to this town"))
        case DisclosurePublished():
            try:
                period = Period.parse(event.period)
            except ValueError as exc:
                errors.append(("period", str(exc)))
            else:
                # Affairs cannot be disclosed for a period that has not begun; the log would keep it forever.
                if period.start > event.published_on:
                    errors.append(
                        (
                            "period",
                            f"{event.period} begins on {period.start.isoformat()}, after the disclosure's "
                            f"publication on {event.published_on.isoformat()}",
                        )
                    )
            if any(d.disclosure_id == event.disclosure_id for d in facts.disclosures):
                errors.append(("disclosure_id", f"disclosure {event.disclosure_id!r} is already recorded"))
        case DisclosureCorrected():
            if not any(d.disclosure_id == event.corrects for d in facts.disclosures):
                errors.append(("corrects", f"no disclosure {event.corrects!r} of community {community_id!r}"))
        case TrainingHeld():
            if any(t.training_id == event.training_id for t in facts.trainings):
                errors.append(("training_id", f"training {event.training_id!r} is already recorded"))
        case RuleRevised():
            versions = [r.version for r in facts.rules if r.document is event.document]
            if versions and event.version <= max(versions):
                errors.append(
                    (
                        "version",
                        f"must be greater than {max(versions)}, the latest {event.document.value} version",
                    )
                )
            if event.version < 1:
                errors.append(("version", "must be 1 or more"))
        case MeetingHeld():
            if any(m.meeting_id == event.meeting_id for m in facts.meetings):
                errors.append(("meeting_id", f"meeting {event.meeting_id!r} is already recorded"))
        case SpotCheckRecorded():
            if any(s.check_id == event.check_id for s in facts.spot_checks):
                errors.append(("check_id", f"spot check {event.check_id!r} is already recorded"))
            known = {f.finding_id for f in facts.findings}
            seen: set[str] = set()
            for index, finding in enumerate(event.findings):
                if finding.finding_id in known or finding.finding_id in seen:
                    errors.append(
                        (
                            f"findings[{index}].finding_id",
                            f"finding {finding.finding_id!r} is already recorded",
                        )
                    )
                seen.add(finding.finding_id)
        case FindingRectified():
            if not any(f.finding_id == event.finding_id for f in facts.findings):
                errors.append(
                    ("finding_id", f"no finding {event.finding_id!r} for community {community_id!r}")
                )
            elif any(r.finding_id == event.finding_id for r in facts.rectifications):
                errors.append(("finding_id", f"finding {event.finding_id!r} is already rectified"))
        case ReportReceived():
            if any(r.report_id == event.report_id for r in facts.reports):
                errors.append(("report_id", f"report {event.report_id!r} is already recorded"))
        case ReportClosed():
            if not any(r.report_id == event.report_id for r in facts.reports):
                errors.append(("report_id", f"no report {event.report_id!r} for community {community_id!r}"))
            elif any(c.report_id == event.report_id for c in facts.report_closures):
                errors.append(("report_id", f"report {event.report_id!r} is already closed"))
        case DutyReportFiled():
            if not FIRST_YEAR <= event.year <= LAST_YEAR:
                errors.append(("year", f"must be between {FIRST_YEAR} and {LAST_YEAR}"))
            elif event.year > event.filed_on.year:
                errors.append(("year", "a duty report cannot be filed before its year"))
            if any(r.year == event.year for r in facts.duty_reports):
                errors.append(("year", f"a duty report for {event.year} is already filed"))
        case (
            CommunityRenamed()
            | CommunityRetired()
            | DemonstrationPointDesignated()
            | LeadingTalentRecognized()
        ):
            pass


def _check_erasure(event: Erased, facts: CommunityFacts, errors: Errors) -> None:
    known = {r.report_id for r in facts.reports} | {f.finding_id for f in facts.findings}
    if event.record_id not in known:
        errors.append(
            ("record_id", f"no report or finding {event.record_id!r} in community {facts.community_id!r}")
        )
    if not event.fields:
        errors.append(("fields", "an erasure names at least one field"))
    for index, erased in enumerate(event.fields):
        if erased.position < 1:
            errors.append((f"fields[{index}].position", "must be a log position (1 or more)"))
        if erased.field not in _RESTRICTED_TEXT:
            errors.append(
                (f"fields[{index}].field", f"{erased.field!r} is not a field holding restricted text")
            )


# The payload fields that hold restricted free text, sealed or (schema version 1) inline.
_RESTRICTED_TEXT = frozenset({"summary", "outcome", "note"})


def check_restricted_text(field: str, value: object) -> Errors:
    """The rules a restricted text breaks, checked before it is sealed (the log sees only its commitment)."""
    if not isinstance(value, str):
        return [(field, "must be text")]
    if not 0 < len(value.strip()) <= MAX_TEXT:
        return [(field, f"must be 1 to {MAX_TEXT} characters")]
    return []


def _check_standard(event: StandardRevised, standards: tuple[StandardVersion, ...], errors: Errors) -> None:
    latest = max((s.version for s in standards), default=0)
    if event.version != latest + 1:
        errors.append(("version", f"must be {latest + 1}, the next version of the standard"))
    if not event.criteria:
        errors.append(("criteria", "a standard needs at least one criterion"))
    seen: set[str] = set()
    for index, criterion in enumerate(event.criteria):
        try:
            # Parameters are a few settings: a larger object would ride along in every reader of the standard.
            if len(canonical_json(criterion.params)) > MAX_PARAMS:
                errors.append(
                    (f"criteria[{index}].params", f"must be at most {MAX_PARAMS} characters of JSON")
                )
                continue
        except CodecError as exc:
            errors.append((f"criteria[{index}].params", exc.reason))
            continue
        try:
            parse_rule(criterion, f"criteria[{index}]")
        except CriterionError as exc:
            errors.append((exc.path, exc.reason))
        if criterion.criterion_id in seen:
            errors.append((f"criteria[{index}].criterion_id", f"{criterion.criterion_id!r} is used twice"))
        seen.add(criterion.criterion_id)
        _check_texts(criterion, f"criteria[{index}]", errors)


def _check_texts(criterion: Criterion, path: str, errors: Errors) -> None:
    """A criterion's title and description, each in both languages: what a reader of the status sees of
    it. One line of visible text for a title; for a description, any text but the invisible."""
    for name, most in (("title", MAX_TITLE), ("description", MAX_TEXT)):
        text = getattr(criterion, name)
        if text is None:
            errors.append((f"{path}.{name}", "is required: a text in Chinese (zh) and English (en)"))
            continue
        for lang in ("zh", "en"):
            value: str = getattr(text, lang)
            where = f"{path}.{name}.{lang}"
            if not 0 < len(value.strip()) <= most:
                errors.append((where, f"must be 1 to {most} characters"))
            elif (
                bad := next((c for c in value if _unseen(c) and (name == "title" or c != "\n")), None)
            ) is not None:
                errors.append(
                    (where, f"must hold visible characters only, not U+{ord(bad):04X} ({_describe(bad)})")
                )


# Fields holding a date on which something happened: none may be after the day it is recorded.
_HAPPENED = (
    "published_on",
    "corrected_on",
    "held_on",
    "adopted_on",
    "checked_on",
    "rectified_on",
    "received_on",
    "closed_on",
    "designated_on",
    "recognized_on",
    "filed_on",
    "erased_on",
    "registered_on",
)


def normalized(event: Event) -> Event:
    """`event` with its names and titles in Unicode normalization form C: the same text typed on two
    keyboards (a precomposed é, or e and a combining accent) is stored, compared and hashed as one. A
    standard's criteria given without texts take the built-in texts of their ids, where there are any."""
    if isinstance(event, StandardRevised):
        event = replace(event, criteria=tuple(_with_texts(c) for c in event.criteria))
    changes = {
        name: unicodedata.normalize("NFC", value)
        for name in _DISPLAYED
        if isinstance(value := getattr(event, name, None), str)
        and not unicodedata.is_normalized("NFC", value)
    }
    return replace(event, **changes) if changes else event  # type: ignore[type-var]


def _with_texts(criterion: Criterion) -> Criterion:
    """`criterion` with the built-in title and description of its id where it has none, in form C."""
    title, description = criterion.title, criterion.description
    if (title is None or description is None) and criterion.criterion_id in BUILT_IN_TEXTS:
        built_in = BUILT_IN_TEXTS[criterion.criterion_id]
        title, description = title or built_in[0], description or built_in[1]
    return replace(criterion, title=_nfc(title), description=_nfc(description))


def _nfc(text: Text | None) -> Text | None:
    if text is None:
        return None
    return Text(zh=unicodedata.normalize("NFC", text.zh), en=unicodedata.normalize("NFC", text.en))


def _check_displayed(event: Event, errors: Errors) -> None:
    """Names and titles hold visible text only: no control or format characters (ANSI escapes, BEL,
    zero-width spaces, bidirectional overrides), no unassigned or private-use code points and no other
    invisible ones. So no name can differ from another only by what does not show."""
    for name in _DISPLAYED:
        value = getattr(event, name, None)
        if not isinstance(value, str):
            continue
        bad = next((c for c in value if _unseen(c)), None)
        if bad is not None:
            errors.append(
                (name, f"must hold visible characters only, not U+{ord(bad):04X} ({_describe(bad)})")
            )


def _unseen(c: str) -> bool:
    if c.isascii():
        return not c.isprintable()
    if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return True
    code = ord(c)
    return any(low <= code <= high for low, high in _INVISIBLE)


def _describe(c: str) -> str:
    return unicodedata.name(c, unicodedata.category(c)).lower()


def _check_dates(event: Event, today: date, errors: Errors) -> None:
    # Every date a record holds is of the programme's calendar: the evaluation steps periods and grace days
    # past its dates, which from a date near the calendar's end (9999-12-31) is no date; and PostgreSQL
    # would hold date.max and date.min as infinity.
    first, last = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)
    for name in _field_names(type(event)):
        value = getattr(event, name)
        if isinstance(value, date) and not first <= value <= last:
            errors.append((name, f"must be between {first.isoformat()} and {last.isoformat()}"))
    for name in _HAPPENED:
        value = getattr(event, name, None)
        if isinstance(value, date) and value > today:
            errors.append((name, f"{value.isoformat()} is after today ({today.isoformat()})"))


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


def _check_shapes(event: Event, errors: Errors) -> None:
    # Lists a record holds are short in life (a meeting's topics, a spot check's findings): a longer one
    # is a mistake or an attempt to bloat the log and every reader of it.
    for name, most in _MOST_ITEMS.items():
        items = getattr(event, name, None)
        if isinstance(items, tuple) and len(items) > most:
            errors.append((name, f"must hold at most {most} items, not {len(items)}"))
    for index, topic in enumerate(getattr(event, "topics", None) or ()):
        if isinstance(topic, str) and not 0 < len(topic.strip()) <= MAX_TITLE:
            errors.append((f"topics[{index}]", f"must be 1 to {MAX_TITLE} characters"))
    for name in ("attendees",):
        value = getattr(event, name, None)
        if isinstance(value, int) and not 0 <= value <= MAX_COUNT:
            errors.append((name, f"must be between 0 and {MAX_COUNT}"))
    hours = getattr(event, "hours", None)
    if isinstance(hours, float) and not (math.isfinite(hours) and 0 <= hours <= MAX_HOURS):
        errors.append(("hours", f"must be between 0 and {MAX_HOURS:g}"))
    for name in ("digest",):
        value = getattr(event, name, None)
        if isinstance(value, str) and DIGEST.fullmatch(value) is None:
            errors.append((name, "must be a SHA-256 digest: 64 lower-case hex digits"))
    for name in ("title", "name"):
        value = getattr(event, name, None)
        if isinstance(value, str) and not 0 < len(value.strip()) <= MAX_TITLE:
            errors.append((name, f"must be 1 to {MAX_TITLE} characters"))
    for name in (
        "summary",
        "reason",
        "note",
        "outcome",
        "adopted_by",
        "checked_by",
        "reporter_role",
        "channel",
    ):
        value = getattr(event, name, None)
        if isinstance(value, str) and not 0 < len(value.strip()) <= MAX_TEXT:
            errors.append((name, f"must be 1 to {MAX_TEXT} characters"))
    # A reference to a person must be opaque: the log keeps it forever, and a name or a telephone number
    # there could never be erased. The person behind it is on record elsewhere.
    for name in ("reporter_ref", "person_ref"):
        value = getattr(event, name, None)
        if isinstance(value, str) and PERSON_REF.fullmatch(value) is None:
            errors.append(
                (name, "must be an opaque reference: 'ref:' and 8 to 64 of A-Z, a-z, 0-9, '_', '-'")
            )
    for name in ("disclosure_id", "training_id", "meeting_id", "check_id", "finding_id", "report_id"):
        value = getattr(event, name, None)
        if isinstance(value, str) and RECORD_ID.fullmatch(value) is None:
            errors.append(
                (
                    name,
                    "must be 1 to 128 letters, digits, '-', '_', '.' or ':', starting with a letter or digit",
                )
            )


def _slug(errors: Errors, name: str, value: str) -> None:
    if SLUG.fullmatch(value) is None:
        errors.append(
            (name, "must be a slug: lower-case letters, digits, '-' and '_', at most 63 characters")
        )
