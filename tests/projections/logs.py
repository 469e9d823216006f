"""Hypothesis strategies: valid-ish event logs for a handful of communities and towns, with rising positions.

Each community's first event is its registration (later ones never re-register it) and it retires at most
once; everything else is drawn freely, dates included, so logs hold late, early and odd facts alike.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import strategies as st

from events.disclosure import DisclosureCategory, DisclosureCorrected
from events.hierarchy import CommunityKind, CommunityRetired
from events.recognition import DemonstrationPointDesignated, LeadingTalentRecognized, Level
from events.registry import Event
from events.rules import RuleDocument
from events.standard import Criterion
from events.supervision import MeetingKind, ReportClosed, ReportReceived
from events.training import TrainingKind
from projections.community import StandardVersion
from tests.projections.build import (
    Unknown,
    criterion,
    disclosed,
    duty_report,
    met_on,
    rectified,
    registered,
    renamed,
    retired,
    rule_adopted,
    spot_check,
    standard,
    standard_revised,
    town,
    trained,
    transferred,
)
from tests.support.sealing import sealed

COMMUNITIES = ("c1", "c2", "c3", "c4")
TOWNS = ("t1", "t2", "t3")
FIRST_DAY = date(2020, 1, 1)
LAST_DAY = date(2023, 12, 31)
FINDINGS = ("F1", "F2", "F3")

Log = list[tuple[int, Event]]

days = st.dates(FIRST_DAY, LAST_DAY)
periods = st.sampled_from(
    [
        "2021",
        "2022",
        *(f"{y}-Q{q}" for y in (2021, 2022, 2023) for q in range(1, 5)),
        *(f"2022-{m:02d}" for m in range(1, 13)),
        "2022Q3",  # does not parse: covers nothing
    ]
)

# Every criterion kind, with parameters small enough that the random dates cross their boundaries.
CRITERIA: tuple[Criterion, ...] = (
    criterion("finance", "disclosure_every_period", category="finance", lookback=2),
    criterion("party", "disclosure_every_period", category="party_affairs", period="month", lookback=3),
    criterion("training", "trainings_each_year", kinds=["warning_meeting", "case_analysis"], window_days=200),
    criterion("rules", "rule_current", document="micro_power_list", max_age_years=2),
    criterion("village", "rule_current", document="village_rules", max_age_years=3, applies_to="village"),
    criterion("meetings", "meetings_every_period", kind="representatives", lookback=2),
    criterion("findings", "no_open_findings", older_than_days=20),
    criterion("duty", "annual_duty_report", due_month=2, due_day=28),
)
EVERYTHING: StandardVersion = standard(*CRITERIA)


@st.composite
def community_event(draw: st.DrawFn, community_id: str, retired_already: bool) -> Event:
    """Any event about a registered community but its registration."""
    kinds = ["renamed", "transferred", "disclosed", "corrected", "trained", "rule", "meeting", "check"]
    kinds += ["rectified", "report", "closed", "designated", "talent", "duty"]
    if not retired_already:
        kinds.append("retired")
    kind = draw(st.sampled_from(kinds))
    on = draw(days)
    if kind == "renamed":
        return renamed(community_id, draw(st.sampled_from(["东", "西", "南"])), on)
    if kind == "transferred":
        return transferred(community_id, draw(st.sampled_from(TOWNS)), draw(st.sampled_from(TOWNS)), on)
    if kind == "retired":
        return retired(community_id, on)
    if kind == "disclosed":
        category = draw(st.sampled_from([DisclosureCategory.FINANCE, DisclosureCategory.PARTY_AFFAIRS]))
        return disclosed(community_id, draw(periods), on, category)
    if kind == "corrected":
        return DisclosureCorrected(
            community_id=community_id,
            corrects="d",
            corrected_on=on,
            title="t",
            digest="2" * 64,
            reason="typo",
        )
    if kind == "trained":
        which = draw(st.sampled_from([TrainingKind.WARNING_MEETING, TrainingKind.CASE_ANALYSIS]))
        return trained(community_id, which, on)
    if kind == "rule":
        document = draw(st.sampled_from([RuleDocument.MICRO_POWER_LIST, RuleDocument.VILLAGE_RULES]))
        return rule_adopted(community_id, draw(st.integers(1, 4)), on, document)
    if kind == "meeting":
        return met_on(
            community_id, on, draw(st.sampled_from([MeetingKind.REPRESENTATIVES, MeetingKind.COUNCIL]))
        )
    if kind == "check":
        found = draw(st.lists(st.sampled_from(FINDINGS), max_size=2, unique=True))
        return spot_check(community_id, on, *found)
    if kind == "rectified":
        return rectified(community_id, draw(st.sampled_from(FINDINGS)), on)
    if kind == "report":
        return ReportReceived(
            community_id=community_id,
            report_id="r1",
            received_on=on,
            channel="信访",
            summary=sealed("summary", "s"),
        )
    if kind == "closed":
        return ReportClosed(
            community_id=community_id, report_id="r1", closed_on=on, outcome=sealed("outcome", "done")
        )
    if kind == "designated":
        return DemonstrationPointDesignated(
            community_id=community_id, level=Level.CITY, designated_on=on, title="t"
        )
    if kind == "talent":
        return LeadingTalentRecognized(
            community_id=community_id, person_ref="p1", level=Level.CITY, recognized_on=on
        )
    return duty_report(community_id, draw(st.integers(2020, 2023)), on)


@st.composite
def event_logs(draw: st.DrawFn, max_size: int = 30) -> Log:
    """A log: (position, event) pairs with strictly rising positions, gaps included."""
    registered_ids: set[str] = set()
    retired_ids: set[str] = set()
    position = draw(st.integers(0, 3))
    log: Log = []
    for _ in range(draw(st.integers(0, max_size))):
        position += draw(st.integers(1, 3))
        target = draw(st.sampled_from([*COMMUNITIES, *COMMUNITIES, "town", "standard", "unknown"]))
        event: Event
        if target == "town":
            event = town(draw(st.sampled_from(TOWNS)), draw(days))
        elif target == "standard":
            chosen = draw(st.lists(st.sampled_from(CRITERIA), unique_by=lambda c: c.criterion_id))
            event = standard_revised(*chosen, version=draw(st.integers(1, 4)), effective_from=draw(days))
        elif target == "unknown":
            event = Unknown(draw(st.sampled_from(COMMUNITIES)))
        elif target not in registered_ids:
            kind = draw(st.sampled_from(list(CommunityKind)))
            event = registered(target, draw(days), draw(st.sampled_from(TOWNS)), kind)
            registered_ids.add(target)
        else:
            event = draw(community_event(target, target in retired_ids))
            if isinstance(event, CommunityRetired):
                retired_ids.add(target)
        log.append((position, event))
    return log


def some_days(count: int = 3) -> st.SearchStrategy[list[date]]:
    return st.lists(
        st.dates(FIRST_DAY - timedelta(days=30), LAST_DAY + timedelta(days=400)), min_size=1, max_size=count
    )
