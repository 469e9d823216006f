"""An unmet criterion as data: which criterion, why (a `Reason`), the particulars of that reason, since when,
and the record that would meet it.

A rule says what is missing in these terms only; the sentences people read are rendered from them
(`projections/wording.py`), in Chinese or in English. `Unmet.detail` keeps the English sentence the API gave
before there were messages, word for word, for the clients that still read it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

from events.disclosure import DisclosureCategory
from events.rules import RuleDocument
from events.standard import Text
from events.supervision import MeetingKind
from events.training import TrainingKind
from projections.periods import Period


class Reason(enum.StrEnum):
    """Why a criterion is not met: each reason has its particulars and its message."""

    DISCLOSURE_MISSING = "disclosure_missing"
    TRAINING_NEVER_HELD = "training_never_held"
    TRAINING_LAPSED = "training_lapsed"
    RULE_NEVER_ADOPTED = "rule_never_adopted"
    RULE_OUTDATED = "rule_outdated"
    MEETING_MISSING = "meeting_missing"
    FINDING_OPEN = "finding_open"
    DUTY_REPORT_MISSING = "duty_report_missing"
    NOT_REGISTERED = "not_registered"
    RETIRED = "retired"
    NO_STANDARD = "no_standard"


@dataclass(frozen=True, slots=True, kw_only=True)
class Particulars:
    """The parameters of a reason, as typed values; each reason sets the ones its message names
    (`PARTICULARS`), and the others are None."""

    # The date judged: a window or a count of days runs to it.
    on: date | None = None
    category: DisclosureCategory | None = None
    # A reporting period as the programme writes it: "2022", "2022-Q2", "2022-06".
    period: str | None = None
    due: date | None = None
    training: TrainingKind | None = None
    window_days: int | None = None
    last_held_on: date | None = None
    document: RuleDocument | None = None
    version: int | None = None
    adopted_on: date | None = None
    max_age_years: int | None = None
    meeting: MeetingKind | None = None
    finding_id: str | None = None
    found_on: date | None = None
    days_open: int | None = None
    limit_days: int | None = None
    # How many more findings are overdue besides the one named.
    more: int | None = None
    year: int | None = None


# The particulars each reason sets (and its messages may name).
PARTICULARS: dict[Reason, frozenset[str]] = {
    Reason.DISCLOSURE_MISSING: frozenset({"category", "period", "due"}),
    Reason.TRAINING_NEVER_HELD: frozenset({"on", "training", "window_days"}),
    Reason.TRAINING_LAPSED: frozenset({"on", "training", "window_days", "last_held_on"}),
    Reason.RULE_NEVER_ADOPTED: frozenset({"document"}),
    Reason.RULE_OUTDATED: frozenset({"document", "version", "adopted_on", "max_age_years"}),
    Reason.MEETING_MISSING: frozenset({"meeting", "period"}),
    Reason.FINDING_OPEN: frozenset({"on", "finding_id", "found_on", "days_open", "limit_days", "more"}),
    Reason.DUTY_REPORT_MISSING: frozenset({"year", "due"}),
    Reason.NOT_REGISTERED: frozenset(),
    Reason.RETIRED: frozenset(),
    Reason.NO_STANDARD: frozenset({"on"}),
}


class RecordType(enum.StrEnum):
    """A kind of record a community (or, for the standard, an admin) records."""

    DISCLOSURE = "disclosure"
    TRAINING = "training"
    RULE_VERSION = "rule_version"
    MEETING = "meeting"
    RECTIFICATION = "rectification"
    DUTY_REPORT = "duty_report"
    STANDARD = "standard"


# The event that records each kind of record.
EVENT_TYPES: dict[RecordType, str] = {
    RecordType.DISCLOSURE: "DisclosurePublished",
    RecordType.TRAINING: "TrainingHeld",
    RecordType.RULE_VERSION: "RuleRevised",
    RecordType.MEETING: "MeetingHeld",
    RecordType.RECTIFICATION: "FindingRectified",
    RecordType.DUTY_REPORT: "DutyReportFiled",
    RecordType.STANDARD: "StandardRevised",
}


@dataclass(frozen=True, slots=True)
class Awaited:
    """The record an unmet criterion waits for: its type, the period it must cover (if any), and the last
    day it was due by, where the criterion sets one (a disclosure's or a duty report's due date, the end of
    a meeting's period, a finding's time limit; a training or a new version of a rule meets it whenever it
    comes). What else it must be — which category, kind, document, finding or year — is in the
    particulars."""

    record: RecordType
    period: str | None
    due: date | None

    @property
    def event_type(self) -> str:
        return EVENT_TYPES[self.record]


# The titles of the two conditions that are no criterion of a standard, but which a status reports as
# unmet in the same way: being in the programme on the date, and a standard being in force.
SCOPE_TITLE = Text(zh="纳入清廉社区建设范围", en="In the programme")
STANDARD_TITLE = Text(zh="规范化建设标准生效", en="A standard in force")


@dataclass(frozen=True, slots=True)
class Unmet:
    """Why a criterion is not met, and since when (None: no such date, as for scope)."""

    criterion_id: str
    kind: str
    since: date | None
    # None only in a stored status segment, which keeps what is missing and since when, no wording.
    reason: Reason | None = None
    particulars: Particulars = Particulars()
    # The criterion's title, as the standard applied gives it.
    title: Text | None = None

    @property
    def waits_for(self) -> Awaited | None:
        """The record that would meet the criterion (None where no record would: scope, or no reason)."""
        p = self.particulars
        match self.reason:
            case Reason.DISCLOSURE_MISSING:
                return Awaited(RecordType.DISCLOSURE, p.period, p.due)
            case Reason.TRAINING_NEVER_HELD | Reason.TRAINING_LAPSED:
                return Awaited(RecordType.TRAINING, None, None)
            case Reason.RULE_NEVER_ADOPTED | Reason.RULE_OUTDATED:
                return Awaited(RecordType.RULE_VERSION, None, None)
            case Reason.MEETING_MISSING:
                period = Period.parse(p.period) if p.period is not None else None
                return Awaited(RecordType.MEETING, p.period, period.end if period is not None else None)
            case Reason.FINDING_OPEN:
                due = None
                if p.found_on is not None and p.limit_days is not None:
                    due = p.found_on + timedelta(days=p.limit_days)
                return Awaited(RecordType.RECTIFICATION, None, due)
            case Reason.DUTY_REPORT_MISSING:
                return Awaited(RecordType.DUTY_REPORT, str(p.year), p.due)
            case Reason.NO_STANDARD:
                return Awaited(RecordType.STANDARD, None, None)
        return None

    @property
    def detail(self) -> str:
        """The English sentence the API gave before messages (deprecated): snake_case terms and all."""
        p = self.particulars
        match self.reason:
            case Reason.DISCLOSURE_MISSING:
                return f"no {_value(p.category)} disclosure for {p.period} (due {_day(p.due)})"
            case Reason.TRAINING_NEVER_HELD:
                return f"no {_value(p.training)} training held in the {p.window_days} days to {_day(p.on)}"
            case Reason.TRAINING_LAPSED:
                return (
                    f"no {_value(p.training)} training held in the {p.window_days} days to {_day(p.on)}; "
                    f"the last was on {_day(p.last_held_on)}"
                )
            case Reason.RULE_NEVER_ADOPTED:
                return f"no {_value(p.document)} has been adopted"
            case Reason.RULE_OUTDATED:
                return (
                    f"{_value(p.document)} version {p.version}, adopted {_day(p.adopted_on)}, "
                    f"is more than {p.max_age_years} years old"
                )
            case Reason.MEETING_MISSING:
                return f"no {_value(p.meeting)} meeting held in {p.period}"
            case Reason.FINDING_OPEN:
                others = f" and {p.more} more" if p.more else ""
                return (
                    f"finding {p.finding_id} from the spot check of {_day(p.found_on)} has been open "
                    f"for {p.days_open} days (limit {p.limit_days}){others}"
                )
            case Reason.DUTY_REPORT_MISSING:
                return f"no duty report for {p.year} (due {_day(p.due)})"
            case Reason.NOT_REGISTERED:
                return "not registered on this date"
            case Reason.RETIRED:
                return "retired on this date"
            case Reason.NO_STANDARD:
                return f"no standard is in force on {_day(p.on)}"
        return ""


def _value(member: enum.Enum | None) -> str:
    return str(member.value) if member is not None else ""


def _day(day: date | None) -> str:
    return day.isoformat() if day is not None else ""
