"""The kinds of criterion a standard may use, read from their data and checked against a community's facts.

Each rule answers for one community on one local date: met, not applicable, or unmet with what is missing
(a reason and its particulars, `projections/unmet.py`) and the date from which it has been missing.
Parameters are validated when a standard is revised, so a standard in the log always reads.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from events.disclosure import DisclosureCategory
from events.hierarchy import CommunityKind
from events.rules import RuleDocument
from events.standard import Criterion, Text, texts_of
from events.supervision import MeetingKind
from events.training import FIVE_ONES, TrainingKind
from projections.facts import CommunityFacts, Disclosure, Finding, derived
from projections.periods import Granularity, Period
from projections.unmet import Particulars, Reason, Unmet


class CriterionError(ValueError):
    """A criterion's data does not describe a rule; `path` names the parameter."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class Rule:
    """A parsed criterion."""

    kind: str = ""
    criterion_id: str = ""
    title: Text | None = None
    applies_to: CommunityKind | None = None

    def applies(self, facts: CommunityFacts) -> bool:
        return self.applies_to is None or self.applies_to == facts.kind

    def check(self, facts: CommunityFacts, on: date) -> Unmet | None:
        raise NotImplementedError

    def changes(self, facts: CommunityFacts, first: date, last: date) -> set[date]:
        """Every day from `first` to `last` on which `check` may answer otherwise than the day before
        (a superset is fine: a status timeline evaluates each and keeps only real changes)."""
        raise NotImplementedError

    def unmet(self, reason: Reason, since: date | None, **particulars: Any) -> Unmet:
        return Unmet(self.criterion_id, self.kind, since, reason, Particulars(**particulars), self.title)


class DisclosureEveryPeriod(Rule):
    """A disclosure of `category` for each of the last `lookback` periods whose due date has passed.

    A period is due `grace_days` after it ends; periods that ended before the community was registered
    are not required. A monthly disclosure covers its quarter and year; a yearly one covers only the year.
    """

    kind = "disclosure_every_period"

    def __init__(
        self, category: DisclosureCategory, period: Granularity, lookback: int, grace_days: int
    ) -> None:
        self.category, self.period, self.lookback, self.grace_days = category, period, lookback, grace_days

    def due_periods(self, facts: CommunityFacts, on: date) -> list[Period]:
        due: list[Period] = []
        for candidate in _last_due(self.period.value, self.grace_days, self.lookback, on):
            if facts.registered_on is not None and candidate.end < facts.registered_on:
                break
            due.append(candidate)
        return due

    def changes(self, facts: CommunityFacts, first: date, last: date) -> set[date]:
        # A period falls due the day after its grace ends; it is covered from the first publication of a
        # disclosure covering it (later ones change nothing).
        grace = timedelta(days=self.grace_days + 1)
        first_covering = derived(facts, ("covered", self.category.value), self._first_covering)
        days: set[date] = set()
        for (start, end), day in first_covering.items():
            period = Period.containing(start, self.period)
            if (period.start, period.end) == (start, end):
                days.add(day)
        return days | {p.end + grace for p in periods_between(first - grace, last, self.period)}

    def check(self, facts: CommunityFacts, on: date) -> Unmet | None:
        first_covering = derived(facts, ("covered", self.category.value), self._first_covering)
        for period in self.due_periods(facts, on):
            first = first_covering.get((period.start, period.end))
            if first is None or first > on:
                due = period.end + timedelta(days=self.grace_days)
                return self.unmet(
                    Reason.DISCLOSURE_MISSING,
                    due + timedelta(days=1),
                    category=self.category,
                    period=str(period),
                    due=due,
                )
        return None

    def _first_covering(self, facts: CommunityFacts) -> dict[tuple[date, date], date]:
        return _first_covering(facts, self.category)


@lru_cache(maxsize=4096)
def _last_due(granularity: str, grace_days: int, lookback: int, on: date) -> tuple[Period, ...]:
    """The last `lookback` periods of `granularity` (its value: a str hashes faster than the enum) whose
    due date, `grace_days` after their end, has passed on `on`, latest first."""
    grace = timedelta(days=grace_days)
    candidate = Period.containing(on, Granularity(granularity))
    while candidate.end + grace >= on:  # not due yet: still running, or within its grace days
        candidate = candidate.previous()
    due: list[Period] = []
    for _ in range(lookback):
        due.append(candidate)
        candidate = candidate.previous()
    return tuple(due)


def covered(facts: CommunityFacts, category: DisclosureCategory, period: Period, on: date) -> bool:
    """Whether a disclosure of `category` published by `on` covers `period`."""
    first = first_covered(facts, category, period)
    return first is not None and first <= on


def first_covered(facts: CommunityFacts, category: DisclosureCategory, period: Period) -> date | None:
    """The first day on which a disclosure of `category` covering `period` was published; None if none
    covers it."""
    first_covering = derived(facts, ("covered", category.value), lambda f: _first_covering(f, category))
    key = (period.start, period.end)
    if key in first_covering:
        return first_covering[key]
    if any(key == (p.start, p.end) for p in (Period.containing(period.start, g) for g in Granularity)):
        return None
    # A span of days that is no year, quarter or month (none is, in the rules) is looked for the long way.
    found: date | None = None
    for disclosure, disclosed in _disclosed_periods(facts, category):
        if period.covers(disclosed) and (found is None or disclosure.published_on < found):
            found = disclosure.published_on
    return found


def _disclosed_periods(
    facts: CommunityFacts, category: DisclosureCategory
) -> Iterator[tuple[Disclosure, Period]]:
    """The disclosures of `category` with the period each covers (one whose period does not read, none)."""
    for disclosure in facts.disclosures:
        if disclosure.category is not category:
            continue
        try:
            yield disclosure, Period.parse(disclosure.period)
        except ValueError:
            continue


def _first_covering(facts: CommunityFacts, category: DisclosureCategory) -> dict[tuple[date, date], date]:
    """For each year, quarter and month that some disclosure of `category` covers, by its first and last
    days (which tell them apart), the first day one covering it was published (a disclosure whose period
    does not read covers none)."""
    first: dict[tuple[date, date], date] = {}
    for disclosure, disclosed in _disclosed_periods(facts, category):
        # Every period that covers `disclosed` holds its first day: the one of each granularity that does.
        for granularity in Granularity:
            period = Period.containing(disclosed.start, granularity)
            if period.covers(disclosed):
                key = (period.start, period.end)
                known = first.get(key)
                if known is None or disclosure.published_on < known:
                    first[key] = disclosure.published_on
    return first


def _last_before(days: Sequence[date], on: date) -> date | None:
    """The last of the sorted `days` on or before `on`, or None."""
    index = bisect_right(days, on)
    return days[index - 1] if index else None


class TrainingsEachYear(Rule):
    """Each of `kinds` held at least once in the `window_days` days up to the date.

    A community younger than the window is not yet required to have held them all.
    """

    kind = "trainings_each_year"

    def __init__(self, kinds: tuple[TrainingKind, ...], window_days: int) -> None:
        self.kinds, self.window_days = kinds, window_days

    def changes(self, facts: CommunityFacts, first: date, last: date) -> set[date]:
        # A training counts from the day it is held until it leaves the window: a kind is held in the
        # window from a training after none was, until the window passes the last of a run of trainings
        # each held within the window of the one before. A young community is required to have held them
        # all from the day the window first fits after its registration.
        window = timedelta(days=self.window_days)
        held_on = derived(facts, "training days", _training_days)
        days: set[date] = set()
        for kind in self.kinds:
            held = held_on.get(kind, [])
            for index, day in enumerate(held):
                if index == 0 or held[index - 1] + window <= day:
                    days.add(day)
                if index == len(held) - 1 or held[index + 1] > day + window:
                    days.add(day + window)
        if facts.registered_on is not None:
            days.add(facts.registered_on + window - timedelta(days=1))
        return days

    def check(self, facts: CommunityFacts, on: date) -> Unmet | None:
        window_start = on - timedelta(days=self.window_days - 1)
        if facts.registered_on is not None and facts.registered_on > window_start:
            return None
        held_on = derived(facts, "training days", _training_days)
        for kind in self.kinds:
            last = _last_before(held_on.get(kind, ()), on)
            if last is not None and last >= window_start:
                continue
            if last is None:
                # Required from the day the window first fits after registration; unmet ever since.
                start = facts.registered_on or window_start
                return self.unmet(
                    Reason.TRAINING_NEVER_HELD,
                    start + timedelta(days=self.window_days - 1),
                    on=on,
                    training=kind,
                    window_days=self.window_days,
                )
            return self.unmet(
                Reason.TRAINING_LAPSED,
                last + timedelta(days=self.window_days),
                on=on,
                training=kind,
                window_days=self.window_days,
                last_held_on=last,
            )
        return None


def _training_days(facts: CommunityFacts) -> dict[TrainingKind, list[date]]:
    """The days on which each kind of training was held, in order."""
    days: dict[TrainingKind, list[date]] = {}
    for training in facts.trainings:
        days.setdefault(training.kind, []).append(training.held_on)
    return {kind: sorted(held) for kind, held in days.items()}


class RuleCurrent(Rule):
    """The latest version of `document` adopted by the date is at most `max_age_years` old."""

    kind = "rule_current"

    def __init__(self, document: RuleDocument, max_age_years: int, applies_to: CommunityKind | None) -> None:
        self.document, self.max_age_years, self.applies_to = document, max_age_years, applies_to

    def changes(self, facts: CommunityFacts, first: date, last: date) -> set[date]:
        versions = [r for r in facts.rules if r.document is self.document]
        return {day for r in versions for day in (r.adopted_on, add_years(r.adopted_on, self.max_age_years))}

    def check(self, facts: CommunityFacts, on: date) -> Unmet | None:
        adopted_on, latest_by = derived(
            facts, ("latest", self.document.value), lambda f: _latest(f, self.document)
        )
        adopted = bisect_right(adopted_on, on)
        if not adopted:
            return self.unmet(Reason.RULE_NEVER_ADOPTED, facts.registered_on, document=self.document)
        # The highest version adopted by the date (and of those, the latest adopted).
        version, adopted_at = latest_by[adopted - 1]
        expires = add_years(adopted_at, self.max_age_years)
        if on >= expires:
            return self.unmet(
                Reason.RULE_OUTDATED,
                expires,
                document=self.document,
                version=version,
                adopted_on=adopted_at,
                max_age_years=self.max_age_years,
            )
        return None


def _latest(facts: CommunityFacts, document: RuleDocument) -> tuple[list[date], list[tuple[int, date]]]:
    """The adoption days of `document`'s versions in order, and beside each, the greatest (version,
    adoption day) of the versions adopted up to it."""
    adopted = sorted((r.adopted_on, r.version) for r in facts.rules if r.document is document)
    days: list[date] = []
    latest_by: list[tuple[int, date]] = []
    for day, version in adopted:
        days.append(day)
        latest_by.append(max((version, day), latest_by[-1]) if latest_by else (version, day))
    return days, latest_by


class MeetingsEveryPeriod(Rule):
    """At least one meeting of `kind` in each of the last `lookback` complete periods."""

    kind = "meetings_every_period"

    def __init__(self, meeting: MeetingKind, period: Granularity, lookback: int) -> None:
        self.meeting, self.period, self.lookback = meeting, period, lookback

    def changes(self, facts: CommunityFacts, first: date, last: date) -> set[date]:
        # The periods judged move on the last day of each period (it is complete from the end of it);
        # they are complete, so every meeting held in them was held by the day judged, whenever it was.
        return {p.end for p in periods_between(first, last, self.period)}

    def check(self, facts: CommunityFacts, on: date) -> Unmet | None:
        held_on = derived(
            facts, ("meeting days", self.meeting.value), lambda f: _meeting_days(f, self.meeting)
        )
        for candidate in _last_complete(self.period.value, self.lookback, on):
            if facts.registered_on is not None and candidate.end < facts.registered_on:
                break
            first = bisect_left(held_on, candidate.start)
            if first == len(held_on) or held_on[first] > candidate.end:
                # "As of" a date means the end of that day, so a period is complete, and a missing
                # meeting missing, from the end of its last day.
                return self.unmet(
                    Reason.MEETING_MISSING, candidate.end, meeting=self.meeting, period=str(candidate)
                )
        return None


@lru_cache(maxsize=4096)
def _last_complete(granularity: str, lookback: int, on: date) -> tuple[Period, ...]:
    """The last `lookback` periods of `granularity` (its value) complete on `on` (ended on it or before),
    latest first."""
    candidate = Period.containing(on, Granularity(granularity))
    if candidate.end > on:
        candidate = candidate.previous()
    complete: list[Period] = []
    for _ in range(lookback):
        complete.append(candidate)
        candidate = candidate.previous()
    return tuple(complete)


def _meeting_days(facts: CommunityFacts, kind: MeetingKind) -> list[date]:
    """The days on which meetings of `kind` were held, in order."""
    return sorted(m.held_on for m in facts.meetings if m.kind is kind)


class NoOpenFindings(Rule):
    """No spot-check finding older than `older_than_days` still unrectified on the date."""

    kind = "no_open_findings"

    def __init__(self, older_than_days: int) -> None:
        self.older_than_days = older_than_days

    def changes(self, facts: CommunityFacts, first: date, last: date) -> set[date]:
        # A finding is overdue from the day it is too old until it is first rectified; one rectified by
        # then never is.
        limit = self.older_than_days
        days: set[date] = set()
        for overdue_from, rectified_on, _ in derived(facts, ("overdue", limit), _ever_overdue(limit)):
            days.add(overdue_from)
            if rectified_on is not None:
                days.add(rectified_on)
        return days

    def check(self, facts: CommunityFacts, on: date) -> Unmet | None:
        limit = self.older_than_days
        overdue: list[Finding] = []
        for overdue_from, rectified_on, finding in derived(facts, ("overdue", limit), _ever_overdue(limit)):
            if overdue_from > on:
                break  # the rest are later still
            if rectified_on is None or rectified_on > on:
                overdue.append(finding)
        if not overdue:
            return None
        oldest = overdue[0]  # in order of finding, the log's order among findings of one day
        return self.unmet(
            Reason.FINDING_OPEN,
            oldest.found_on + timedelta(days=self.older_than_days + 1),
            on=on,
            finding_id=oldest.finding_id,
            found_on=oldest.found_on,
            days_open=(on - oldest.found_on).days,
            limit_days=self.older_than_days,
            more=len(overdue) - 1,
        )


def _ever_overdue(
    older_than_days: int,
) -> Callable[[CommunityFacts], list[tuple[date, date | None, Finding]]]:
    """For the findings that are ever more than `older_than_days` old unrectified: the first day each is,
    the day it was first rectified (None: never), and the finding; in order of the day it was found, and
    in the log's order among findings of one day."""

    def build(facts: CommunityFacts) -> list[tuple[date, date | None, Finding]]:
        rectified: dict[str, date] = {}
        for r in facts.rectifications:
            if r.finding_id not in rectified or r.rectified_on < rectified[r.finding_id]:
                rectified[r.finding_id] = r.rectified_on
        after = timedelta(days=older_than_days + 1)
        found = sorted(facts.findings, key=lambda f: f.found_on)
        ever = [(f.found_on + after, rectified.get(f.finding_id), f) for f in found]
        return [(overdue, done, f) for overdue, done, f in ever if done is None or done > overdue]

    return build


class AnnualDutyReport(Rule):
    """A duty report (述职述廉) for the last year whose due date (`due` in the next year) has passed."""

    kind = "annual_duty_report"

    def __init__(self, due_month: int, due_day: int) -> None:
        self.due_month, self.due_day = due_month, due_day

    def changes(self, facts: CommunityFacts, first: date, last: date) -> set[date]:
        # The year judged moves the day after each year's due date; a year's report counts once the
        # first is filed.
        days = set(derived(facts, "first duty reports", _first_duty_reports).values())
        for year in range(first.year - 1, last.year + 1):
            days.add(date(year, self.due_month, self.due_day) + timedelta(days=1))
        return days

    def check(self, facts: CommunityFacts, on: date) -> Unmet | None:
        year = on.year - 1
        if date(year + 1, self.due_month, self.due_day) >= on:
            year -= 1
        due = date(year + 1, self.due_month, self.due_day)
        if facts.registered_on is not None and facts.registered_on > date(year, 12, 31):
            return None
        filed = derived(facts, "first duty reports", _first_duty_reports).get(year)
        if filed is not None and filed <= on:
            return None
        return self.unmet(Reason.DUTY_REPORT_MISSING, due + timedelta(days=1), year=year, due=due)


def _first_duty_reports(facts: CommunityFacts) -> dict[int, date]:
    """For each year with a duty report, the day the first was filed."""
    first: dict[int, date] = {}
    for report in facts.duty_reports:
        if report.year not in first or report.filed_on < first[report.year]:
            first[report.year] = report.filed_on
    return first


def periods_between(first: date, last: date, granularity: Granularity) -> list[Period]:
    """The periods of `granularity` that overlap `first` to `last`, in order."""
    found = [Period.containing(first, granularity)]
    while found[-1].end < last:
        found.append(found[-1].next())
    return found


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


# -- reading criteria from data ---------------------------------------------------------------------------


def parse_rule(criterion: Criterion, path: str = "criterion") -> Rule:
    """The rule a criterion describes; raises CriterionError naming the offending parameter."""
    if not isinstance(criterion.criterion_id, str) or not criterion.criterion_id:
        raise CriterionError(f"{path}.criterion_id", "must be a non-empty string")
    reader = _READERS.get(criterion.kind)
    if reader is None:
        raise CriterionError(
            f"{path}.kind", f"unknown criterion kind {criterion.kind!r}; known: {', '.join(sorted(_READERS))}"
        )
    params = _Params(criterion.params, f"{path}.params")
    rule = reader(params)
    params.finish()
    rule.criterion_id = criterion.criterion_id
    rule.title = texts_of(criterion)[0]
    return rule


class _Params:
    def __init__(self, params: Mapping[str, Any], path: str) -> None:
        if not isinstance(params, Mapping):
            raise CriterionError(path, "must be an object")
        self._params, self.path, self._used = params, path, set[str]()

    def _get(self, name: str, default: Any) -> Any:
        self._used.add(name)
        return self._params.get(name, default)

    def integer(self, name: str, default: int | None, low: int, high: int) -> int:
        value = self._get(name, default)
        if value is None:
            raise CriterionError(f"{self.path}.{name}", "is required")
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise CriterionError(f"{self.path}.{name}", f"must be an integer from {low} to {high}")
        return value

    def choice(self, name: str, enum: Any, default: Any = None, *, optional: bool = False) -> Any:
        value = self._get(name, default)
        if value is None:
            if optional:
                return None
            raise CriterionError(f"{self.path}.{name}", "is required")
        try:
            return enum(value)
        except ValueError as exc:
            allowed = ", ".join(member.value for member in enum)
            raise CriterionError(f"{self.path}.{name}", f"{value!r} is not one of {allowed}") from exc

    def choices(self, name: str, enum: Any, default: tuple[Any, ...]) -> tuple[Any, ...]:
        value = self._get(name, None)
        if value is None:
            return default
        if not isinstance(value, list | tuple) or not value:
            raise CriterionError(f"{self.path}.{name}", "must be a non-empty list")
        result = []
        for index, item in enumerate(value):
            try:
                result.append(enum(item))
            except ValueError as exc:
                raise CriterionError(
                    f"{self.path}.{name}[{index}]", f"{item!r} is not a {enum.__name__}"
                ) from exc
        return tuple(result)

    def finish(self) -> None:
        unknown = sorted(set(self._params) - self._used)
        if unknown:
            raise CriterionError(f"{self.path}.{unknown[0]}", "is not a parameter of this criterion")


_READERS: dict[str, Callable[[_Params], Rule]] = {
    "disclosure_every_period": lambda p: DisclosureEveryPeriod(
        p.choice("category", DisclosureCategory),
        p.choice("period", Granularity, "quarter"),
        p.integer("lookback", 4, 1, 60),
        p.integer("grace_days", 15, 0, 365),
    ),
    "trainings_each_year": lambda p: TrainingsEachYear(
        p.choices("kinds", TrainingKind, FIVE_ONES), p.integer("window_days", 365, 1, 3660)
    ),
    "rule_current": lambda p: RuleCurrent(
        p.choice("document", RuleDocument),
        p.integer("max_age_years", 5, 1, 100),
        p.choice("applies_to", CommunityKind, optional=True),
    ),
    "meetings_every_period": lambda p: MeetingsEveryPeriod(
        p.choice("kind", MeetingKind),
        p.choice("period", Granularity, "quarter"),
        p.integer("lookback", 4, 1, 60),
    ),
    "no_open_findings": lambda p: NoOpenFindings(p.integer("older_than_days", 30, 0, 3650)),
    "annual_duty_report": lambda p: _duty_report(p),
}


def _duty_report(params: _Params) -> AnnualDutyReport:
    month, day = params.integer("due_month", 3, 1, 12), params.integer("due_day", 31, 1, 31)
    try:
        date(2001, month, day)  # a common year: the due date must exist every year
    except ValueError as exc:
        raise CriterionError(f"{params.path}.due_day", f"there is no day {day} in month {month}") from exc
    return AnnualDutyReport(month, day)


CRITERION_KINDS = tuple(sorted(_READERS))
