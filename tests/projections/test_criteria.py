"""Each criterion kind at its boundaries, a standard revised mid-period, and parse_rule's refusals."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from events.disclosure import DisclosureCategory
from events.hierarchy import CommunityKind
from events.registry import Event
from events.rules import RuleDocument
from events.standard import KIND_TEXTS, Criterion
from events.supervision import MeetingKind
from events.training import FIVE_ONES, TrainingKind
from projections.criteria import (
    AnnualDutyReport,
    CriterionError,
    DisclosureEveryPeriod,
    MeetingsEveryPeriod,
    NoOpenFindings,
    RuleCurrent,
    TrainingsEachYear,
    add_years,
    parse_rule,
)
from projections.evaluation import evaluate
from projections.facts import CommunityFacts
from projections.periods import Granularity, Period
from projections.unmet import Unmet
from tests.projections.build import (
    LONG_AGO,
    criterion,
    day,
    disclosed,
    duty_report,
    facts_of,
    met_on,
    rectified,
    registered,
    rule_adopted,
    spot_check,
    standard,
    standard_revised,
    trained,
    world_of,
)

C = "c1"


def check(kind: str, facts: CommunityFacts, on: date, /, **params: Any) -> Unmet | None:
    return parse_rule(criterion("k1", kind, **params)).check(facts, on)


def community(
    *events: Event, on: date = LONG_AGO, kind: CommunityKind = CommunityKind.COMMUNITY
) -> CommunityFacts:
    return facts_of(C, registered(C, on, kind=kind), *events)


def quarters(*texts: str, late_by: int = 5) -> list[Event]:
    """Finance disclosures for these quarters, each published `late_by` days after its quarter ends."""
    return [disclosed(C, t, Period.parse(t).end + timedelta(days=late_by)) for t in texts]


def since_and_detail(outcome: Unmet | None) -> tuple[date | None, str]:
    assert outcome is not None, "expected the criterion to be unmet"
    return outcome.since, outcome.detail


# -- disclosure_every_period ------------------------------------------------------------------------------

FINANCE = {"category": "finance"}
ALL_2021 = ("2021-Q1", "2021-Q2", "2021-Q3", "2021-Q4")


@pytest.mark.parametrize("on", ["2022-04-14", "2022-04-15"])
def test_a_quarter_is_not_required_until_the_day_after_its_due_date(on: str) -> None:
    facts = community(*quarters(*ALL_2021))
    assert None is check("disclosure_every_period", facts, day(on), **FINANCE)


def test_a_quarter_missing_the_day_after_its_due_date_is_unmet_since_that_day() -> None:
    facts = community(*quarters(*ALL_2021))
    outcome = check("disclosure_every_period", facts, day("2022-04-16"), **FINANCE)
    assert (day("2022-04-16"), "no finance disclosure for 2022-Q1 (due 2022-04-15)") == since_and_detail(
        outcome
    )
    assert outcome is not None
    assert ("k1", "disclosure_every_period") == (outcome.criterion_id, outcome.kind)


def test_with_no_grace_a_quarter_is_due_on_its_last_day() -> None:
    facts = community(*quarters(*ALL_2021))
    assert None is check("disclosure_every_period", facts, day("2022-03-31"), grace_days=0, **FINANCE)
    outcome = check("disclosure_every_period", facts, day("2022-04-01"), grace_days=0, **FINANCE)
    assert (day("2022-04-01"), "no finance disclosure for 2022-Q1 (due 2022-03-31)") == since_and_detail(
        outcome
    )


def test_the_fourth_quarter_is_due_in_january_of_the_next_year() -> None:
    facts = community(*quarters("2021-Q1", "2021-Q2", "2021-Q3", "2020-Q4"))
    assert None is check("disclosure_every_period", facts, day("2022-01-15"), **FINANCE)
    outcome = check("disclosure_every_period", facts, day("2022-01-16"), **FINANCE)
    assert (day("2022-01-16"), "no finance disclosure for 2021-Q4 (due 2022-01-15)") == since_and_detail(
        outcome
    )


def test_a_monthly_requirement_is_due_grace_days_after_the_month() -> None:
    facts = community(disclosed(C, "2021-12", day("2022-01-05")))
    params = {"period": "month", "lookback": 1, "grace_days": 10, **FINANCE}
    assert None is check("disclosure_every_period", facts, day("2022-02-10"), **params)
    outcome = check("disclosure_every_period", facts, day("2022-02-11"), **params)
    assert (day("2022-02-11"), "no finance disclosure for 2022-01 (due 2022-02-10)") == since_and_detail(
        outcome
    )


@pytest.mark.parametrize(("lookback", "met"), [(2, True), (3, False), (4, False)])
def test_only_the_last_lookback_due_periods_are_required(lookback: int, met: bool) -> None:
    facts = community(*quarters("2021-Q3", "2022-Q1", "2022-Q2"))  # 2021-Q4 is missing
    outcome = check("disclosure_every_period", facts, day("2022-08-01"), lookback=lookback, **FINANCE)
    assert met == (outcome is None)
    if outcome is not None:
        assert (day("2022-01-16"), "no finance disclosure for 2021-Q4 (due 2022-01-15)") == since_and_detail(
            outcome
        )


def test_the_latest_missing_period_is_the_one_reported() -> None:
    facts = community(*quarters("2021-Q3", "2021-Q4"))
    outcome = check("disclosure_every_period", facts, day("2022-08-01"), **FINANCE)
    assert (day("2022-07-16"), "no finance disclosure for 2022-Q2 (due 2022-07-15)") == since_and_detail(
        outcome
    )


def test_periods_that_ended_before_registration_are_excused() -> None:
    facts = community(*quarters("2022-Q2"), on=day("2022-05-10"))
    assert None is check("disclosure_every_period", facts, day("2022-08-01"), **FINANCE)


def test_the_period_in_which_a_community_registered_is_required() -> None:
    facts = community(on=day("2022-06-30"))
    outcome = check("disclosure_every_period", facts, day("2022-08-01"), **FINANCE)
    assert (day("2022-07-16"), "no finance disclosure for 2022-Q2 (due 2022-07-15)") == since_and_detail(
        outcome
    )


def test_a_community_registered_after_the_last_due_period_owes_nothing_yet() -> None:
    facts = community(on=day("2022-07-01"))
    assert None is check("disclosure_every_period", facts, day("2022-10-15"), **FINANCE)


def test_a_monthly_disclosure_covers_its_quarter() -> None:
    facts = community(disclosed(C, "2022-02", day("2022-03-05")))
    assert None is check("disclosure_every_period", facts, day("2022-04-16"), lookback=1, **FINANCE)


def test_a_monthly_disclosure_covers_its_year() -> None:
    facts = community(disclosed(C, "2022-02", day("2022-03-05")))
    params = {"period": "year", "lookback": 1, **FINANCE}
    assert None is check("disclosure_every_period", facts, day("2023-01-16"), **params)


def test_a_yearly_disclosure_does_not_cover_a_quarter() -> None:
    facts = community(disclosed(C, "2022", day("2022-03-05")))
    outcome = check("disclosure_every_period", facts, day("2022-04-16"), lookback=1, **FINANCE)
    assert (day("2022-04-16"), "no finance disclosure for 2022-Q1 (due 2022-04-15)") == since_and_detail(
        outcome
    )


def test_a_monthly_disclosure_of_another_quarter_does_not_count() -> None:
    facts = community(disclosed(C, "2022-04", day("2022-04-10")))
    assert None is not check("disclosure_every_period", facts, day("2022-04-16"), lookback=1, **FINANCE)


def test_a_disclosure_of_another_category_does_not_count() -> None:
    facts = community(disclosed(C, "2022-Q1", day("2022-04-10"), DisclosureCategory.PARTY_AFFAIRS))
    outcome = check("disclosure_every_period", facts, day("2022-04-16"), lookback=1, **FINANCE)
    assert (day("2022-04-16"), "no finance disclosure for 2022-Q1 (due 2022-04-15)") == since_and_detail(
        outcome
    )


def test_a_disclosure_published_after_the_date_does_not_count_yet() -> None:
    facts = community(disclosed(C, "2022-Q1", day("2022-04-20")))
    outcome = check("disclosure_every_period", facts, day("2022-04-19"), lookback=1, **FINANCE)
    assert (day("2022-04-16"), "no finance disclosure for 2022-Q1 (due 2022-04-15)") == since_and_detail(
        outcome
    )
    assert None is check("disclosure_every_period", facts, day("2022-04-20"), lookback=1, **FINANCE)


def test_a_disclosure_whose_period_does_not_parse_covers_nothing() -> None:
    facts = community(disclosed(C, "2022Q1", day("2022-04-10")))
    assert None is not check("disclosure_every_period", facts, day("2022-04-16"), lookback=1, **FINANCE)


# -- trainings_each_year ----------------------------------------------------------------------------------

ONE_KIND = {"kinds": ["warning_meeting"], "window_days": 365}


def test_a_training_held_window_days_minus_one_ago_still_counts() -> None:
    held = day("2022-03-01")
    facts = community(trained(C, TrainingKind.WARNING_MEETING, held))
    assert None is check("trainings_each_year", facts, held + timedelta(days=364), **ONE_KIND)


def test_a_training_held_window_days_ago_no_longer_counts() -> None:
    held = day("2022-03-01")
    facts = community(trained(C, TrainingKind.WARNING_MEETING, held))
    on = held + timedelta(days=365)
    outcome = check("trainings_each_year", facts, on, **ONE_KIND)
    detail = "no warning_meeting training held in the 365 days to 2023-03-01; the last was on 2022-03-01"
    assert (on, detail) == since_and_detail(outcome)


def test_the_latest_training_of_a_kind_is_the_one_that_counts() -> None:
    facts = community(
        trained(C, TrainingKind.WARNING_MEETING, day("2021-01-10")),
        trained(C, TrainingKind.WARNING_MEETING, day("2022-01-10")),
    )
    assert None is check("trainings_each_year", facts, day("2022-12-31"), **ONE_KIND)


def test_a_training_held_after_the_date_does_not_count() -> None:
    facts = community(trained(C, TrainingKind.WARNING_MEETING, day("2022-06-02")))
    outcome = check("trainings_each_year", facts, day("2022-06-01"), **ONE_KIND)
    assert outcome is not None
    assert "no warning_meeting training held in the 365 days to 2022-06-01" == outcome.detail


def test_a_training_of_another_kind_does_not_count() -> None:
    facts = community(trained(C, TrainingKind.CASE_ANALYSIS, day("2022-05-01")))
    assert None is not check("trainings_each_year", facts, day("2022-06-01"), **ONE_KIND)


def test_the_five_ones_are_required_by_default_and_the_missing_one_is_named() -> None:
    held = [
        trained(C, kind, day("2022-05-01")) for kind in FIVE_ONES if kind is not TrainingKind.CASE_ANALYSIS
    ]
    facts = community(*held)
    outcome = check("trainings_each_year", facts, day("2022-06-01"))
    assert outcome is not None
    assert outcome.detail.startswith("no case_analysis training held in the 365 days to 2022-06-01")
    everything = community(*held, trained(C, TrainingKind.CASE_ANALYSIS, day("2022-05-02")))
    assert None is check("trainings_each_year", everything, day("2022-06-01"))


def test_a_community_younger_than_the_window_is_excused() -> None:
    registered_on = day("2022-03-01")
    facts = community(on=registered_on)
    assert None is check("trainings_each_year", facts, registered_on + timedelta(days=363), **ONE_KIND)


def test_a_community_older_than_the_window_is_required_to_have_trained() -> None:
    registered_on = day("2022-03-01")
    on = registered_on + timedelta(days=365)
    outcome = check("trainings_each_year", community(on=registered_on), on, **ONE_KIND)
    # Required, and so unmet, from the first day the window fits after registration: 2023-02-28.
    first_required = registered_on + timedelta(days=364)
    assert (
        first_required,
        "no warning_meeting training held in the 365 days to 2023-03-01",
    ) == since_and_detail(outcome)


def test_a_community_that_never_trained_is_not_unmet_since_a_later_date() -> None:
    registered_on = day("2022-03-01")
    on = registered_on + timedelta(days=364)  # the first day the window reaches back to registration
    outcome = check("trainings_each_year", community(on=registered_on), on, **ONE_KIND)
    assert outcome is None or (outcome.since is not None and outcome.since <= on)


# -- rule_current -----------------------------------------------------------------------------------------

MICRO = {"document": "micro_power_list", "max_age_years": 5}


def test_a_rule_is_current_the_day_before_its_anniversary() -> None:
    facts = community(rule_adopted(C, 1, day("2019-06-15")))
    assert None is check("rule_current", facts, day("2024-06-14"), **MICRO)


def test_a_rule_expires_exactly_at_its_anniversary() -> None:
    facts = community(rule_adopted(C, 1, day("2019-06-15")))
    outcome = check("rule_current", facts, day("2024-06-15"), **MICRO)
    detail = "micro_power_list version 1, adopted 2019-06-15, is more than 5 years old"
    assert (day("2024-06-15"), detail) == since_and_detail(outcome)


@pytest.mark.parametrize(
    ("max_age", "last_current", "expires"),
    [(5, "2025-02-28", "2025-03-01"), (4, "2024-02-28", "2024-02-29")],
)
def test_a_rule_adopted_on_29_february_expires_on_1_march_in_a_common_year(
    max_age: int, last_current: str, expires: str
) -> None:
    facts = community(rule_adopted(C, 1, day("2020-02-29")))
    params = {"document": "micro_power_list", "max_age_years": max_age}
    assert None is check("rule_current", facts, day(last_current), **params)
    outcome = check("rule_current", facts, day(expires), **params)
    assert outcome is not None
    assert day(expires) == outcome.since


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [("2020-02-29", 1, "2021-03-01"), ("2020-02-29", 4, "2024-02-29"), ("2021-12-31", 1, "2022-12-31")],
)
def test_add_years_keeps_the_calendar_day(start: str, years: int, expected: str) -> None:
    assert day(expected) == add_years(day(start), years)


def test_the_latest_version_wins() -> None:
    old_only = community(rule_adopted(C, 1, day("2015-01-01")))
    revised = community(rule_adopted(C, 1, day("2015-01-01")), rule_adopted(C, 2, day("2021-01-01")))
    assert (False, True) == (
        check("rule_current", old_only, day("2022-01-01"), **MICRO) is None,
        check("rule_current", revised, day("2022-01-01"), **MICRO) is None,
    )


def test_a_version_adopted_after_the_date_is_not_yet_the_latest() -> None:
    facts = community(rule_adopted(C, 1, day("2015-01-01")), rule_adopted(C, 2, day("2021-01-01")))
    outcome = check("rule_current", facts, day("2020-06-01"), **MICRO)
    detail = "micro_power_list version 1, adopted 2015-01-01, is more than 5 years old"
    assert (day("2020-01-01"), detail) == since_and_detail(outcome)


def test_a_rule_never_adopted_is_unmet_since_registration() -> None:
    facts = community(rule_adopted(C, 1, day("2021-01-01"), RuleDocument.VILLAGE_RULES), on=day("2020-03-03"))
    outcome = check("rule_current", facts, day("2022-01-01"), **MICRO)
    assert (day("2020-03-03"), "no micro_power_list has been adopted") == since_and_detail(outcome)


@pytest.mark.parametrize(
    ("applies_to", "kind", "applies"),
    [
        (None, CommunityKind.COMMUNITY, True),
        (None, CommunityKind.VILLAGE, True),
        ("village", CommunityKind.VILLAGE, True),
        ("village", CommunityKind.COMMUNITY, False),
        ("community", CommunityKind.COMMUNITY, True),
        ("community", CommunityKind.VILLAGE, False),
    ],
)
def test_applies_to_limits_a_rule_to_communities_or_villages(
    applies_to: str | None, kind: CommunityKind, applies: bool
) -> None:
    params: dict[str, Any] = {"document": "village_rules"}
    if applies_to is not None:
        params["applies_to"] = applies_to
    rule = parse_rule(criterion("k1", "rule_current", **params))
    assert applies == rule.applies(community(kind=kind))


def test_a_rule_for_villages_is_not_counted_for_a_community() -> None:
    village_rules = criterion("village-rules", "rule_current", document="village_rules", applies_to="village")
    convention = criterion("convention", "rule_current", document="residents_convention")
    facts = community(rule_adopted(C, 1, day("2021-01-01"), RuleDocument.RESIDENTS_CONVENTION))
    status = evaluate(facts, standard(village_rules, convention), day("2022-01-01"))
    assert (("convention",), (), 1.0, True) == (status.met, status.unmet, status.score, status.standardized)
    village = community(
        rule_adopted(C, 1, day("2021-01-01"), RuleDocument.RESIDENTS_CONVENTION), kind=CommunityKind.VILLAGE
    )
    status = evaluate(village, standard(village_rules, convention), day("2022-01-01"))
    assert (("convention",), ["village-rules"], 0.5) == (
        status.met,
        [u.criterion_id for u in status.unmet],
        status.score,
    )


# -- meetings_every_period --------------------------------------------------------------------------------

REPS = {"kind": "representatives", "lookback": 2}


def test_the_running_period_is_not_required() -> None:
    facts = community(met_on(C, day("2022-02-10")), met_on(C, day("2022-05-10")))
    assert None is check("meetings_every_period", facts, day("2022-08-15"), **REPS)
    assert None is check("meetings_every_period", facts, day("2022-09-29"), **REPS)


def test_a_complete_period_without_a_meeting_is_unmet_from_the_end_of_its_last_day() -> None:
    facts = community(met_on(C, day("2022-02-10")))
    outcome = check("meetings_every_period", facts, day("2022-07-01"), **REPS)
    assert (day("2022-06-30"), "no representatives meeting held in 2022-Q2") == since_and_detail(outcome)


def test_every_period_in_the_lookback_needs_a_meeting() -> None:
    facts = community(met_on(C, day("2022-05-10")))
    outcome = check("meetings_every_period", facts, day("2022-08-15"), **REPS)
    assert (day("2022-03-31"), "no representatives meeting held in 2022-Q1") == since_and_detail(outcome)
    assert None is check(
        "meetings_every_period", facts, day("2022-08-15"), kind="representatives", lookback=1
    )


def test_a_meeting_of_another_kind_does_not_count() -> None:
    facts = community(met_on(C, day("2022-05-10"), MeetingKind.COUNCIL))
    assert None is not check(
        "meetings_every_period", facts, day("2022-08-15"), kind="representatives", lookback=1
    )


def test_meetings_are_counted_in_the_period_of_their_date() -> None:
    on_the_edges = community(met_on(C, day("2022-04-01")), met_on(C, day("2022-03-31")))
    assert None is check("meetings_every_period", on_the_edges, day("2022-07-01"), **REPS)


def test_the_last_quarter_of_a_year_is_required_in_january() -> None:
    facts = community(met_on(C, day("2022-09-30")))
    outcome = check("meetings_every_period", facts, day("2023-01-05"), kind="representatives", lookback=1)
    assert (day("2022-12-31"), "no representatives meeting held in 2022-Q4") == since_and_detail(outcome)


def test_monthly_meetings_are_required_for_each_complete_month() -> None:
    facts = community(met_on(C, day("2022-01-20")), met_on(C, day("2022-02-03")))
    params = {"kind": "representatives", "period": "month", "lookback": 2}
    assert None is check("meetings_every_period", facts, day("2022-03-10"), **params)
    outcome = check("meetings_every_period", facts, day("2022-04-01"), **params)
    assert (day("2022-03-31"), "no representatives meeting held in 2022-03") == since_and_detail(outcome)


def test_periods_that_ended_before_registration_need_no_meeting() -> None:
    facts = community(met_on(C, day("2022-06-10")), on=day("2022-05-01"))
    assert None is check(
        "meetings_every_period", facts, day("2022-08-15"), kind="representatives", lookback=4
    )


def test_a_missing_meeting_is_never_dated_after_the_status_date() -> None:
    facts = community(met_on(C, day("2022-02-10")))
    on = day("2022-06-30")
    outcome = check("meetings_every_period", facts, on, **REPS)
    assert outcome is None or (outcome.since is not None and outcome.since <= on)


# -- no_open_findings -------------------------------------------------------------------------------------

LIMIT = {"older_than_days": 30}


def test_a_finding_open_exactly_the_limit_is_tolerated() -> None:
    facts = community(spot_check(C, day("2022-03-01"), "F1"))
    assert None is check("no_open_findings", facts, day("2022-03-31"), **LIMIT)


def test_a_finding_open_longer_than_the_limit_is_unmet_since_the_day_after_the_limit() -> None:
    facts = community(spot_check(C, day("2022-03-01"), "F1"))
    outcome = check("no_open_findings", facts, day("2022-04-01"), **LIMIT)
    detail = "finding F1 from the spot check of 2022-03-01 has been open for 31 days (limit 30)"
    assert (day("2022-04-01"), detail) == since_and_detail(outcome)


def test_a_finding_rectified_by_the_date_is_closed() -> None:
    facts = community(spot_check(C, day("2022-03-01"), "F1"), rectified(C, "F1", day("2022-03-20")))
    assert None is check("no_open_findings", facts, day("2022-05-01"), **LIMIT)


def test_a_finding_rectified_after_the_date_is_still_open_on_it() -> None:
    facts = community(spot_check(C, day("2022-03-01"), "F1"), rectified(C, "F1", day("2022-04-15")))
    outcome = check("no_open_findings", facts, day("2022-04-10"), **LIMIT)
    assert (
        day("2022-04-01"),
        "finding F1 from the spot check of 2022-03-01 has been open for 40 days (limit 30)",
    ) == (since_and_detail(outcome))
    assert None is check("no_open_findings", facts, day("2022-04-15"), **LIMIT)


def test_rectifying_another_finding_does_not_close_this_one() -> None:
    facts = community(spot_check(C, day("2022-03-01"), "F1", "F2"), rectified(C, "F2", day("2022-03-05")))
    outcome = check("no_open_findings", facts, day("2022-05-01"), **LIMIT)
    assert outcome is not None
    assert outcome.detail.startswith("finding F1 ")


def test_the_oldest_overdue_finding_is_named_and_the_others_counted() -> None:
    facts = community(
        spot_check(C, day("2022-03-01"), "F1"),
        spot_check(C, day("2022-02-01"), "F2", "F3"),
    )
    outcome = check("no_open_findings", facts, day("2022-05-01"), **LIMIT)
    detail = "finding F2 from the spot check of 2022-02-01 has been open for 89 days (limit 30) and 2 more"
    assert (day("2022-02-01") + timedelta(days=31), detail) == since_and_detail(outcome)


def test_a_spot_check_without_findings_leaves_nothing_open() -> None:
    facts = community(spot_check(C, day("2022-03-01")))
    assert None is check("no_open_findings", facts, day("2023-03-01"), older_than_days=0)


# -- annual_duty_report -----------------------------------------------------------------------------------


def test_on_the_due_date_the_previous_year_is_not_yet_required() -> None:
    facts = community(duty_report(C, 2021, day("2022-03-01")))
    assert None is check("annual_duty_report", facts, day("2023-03-31"))


def test_the_day_after_the_due_date_the_report_is_required() -> None:
    facts = community(duty_report(C, 2021, day("2022-03-01")))
    outcome = check("annual_duty_report", facts, day("2023-04-01"))
    assert (day("2023-04-01"), "no duty report for 2022 (due 2023-03-31)") == since_and_detail(outcome)


def test_a_report_filed_on_the_due_date_counts() -> None:
    facts = community(duty_report(C, 2022, day("2023-03-31")))
    assert None is check("annual_duty_report", facts, day("2023-04-01"))


def test_a_late_report_counts_from_the_day_it_is_filed() -> None:
    facts = community(duty_report(C, 2022, day("2023-04-05")))
    assert None is not check("annual_duty_report", facts, day("2023-04-04"))
    assert None is check("annual_duty_report", facts, day("2023-04-05"))


def test_a_report_for_another_year_does_not_count() -> None:
    facts = community(duty_report(C, 2023, day("2023-03-01")))
    outcome = check("annual_duty_report", facts, day("2023-06-01"))
    assert (day("2023-04-01"), "no duty report for 2022 (due 2023-03-31)") == since_and_detail(outcome)


def test_a_community_registered_after_the_year_owes_no_report_for_it() -> None:
    assert None is check("annual_duty_report", community(on=day("2023-01-10")), day("2023-04-01"))


def test_a_community_registered_on_the_last_day_of_the_year_owes_a_report_for_it() -> None:
    outcome = check("annual_duty_report", community(on=day("2022-12-31")), day("2023-04-01"))
    assert (day("2023-04-01"), "no duty report for 2022 (due 2023-03-31)") == since_and_detail(outcome)


def test_a_custom_due_date_moves_the_boundary() -> None:
    facts = community()
    assert None is not check("annual_duty_report", facts, day("2023-01-16"), due_month=1, due_day=15)
    outcome = check("annual_duty_report", facts, day("2023-01-15"), due_month=1, due_day=15)
    assert (day("2022-01-16"), "no duty report for 2021 (due 2022-01-15)") == since_and_detail(outcome)


# -- a standard revised mid-period ------------------------------------------------------------------------


def test_a_status_is_judged_by_the_standard_in_force_on_its_date() -> None:
    quarterly = criterion("finance", "disclosure_every_period", category="finance", lookback=1)
    monthly = criterion(
        "finance-monthly", "disclosure_every_period", category="finance", period="month", lookback=1
    )
    world = world_of(
        standard_revised(quarterly, version=1, effective_from=day("2020-01-01")),
        registered(C, day("2020-01-01")),
        disclosed(C, "2022-Q1", day("2022-04-10")),
        standard_revised(monthly, version=2, effective_from=day("2022-07-01")),
    )
    facts = world.communities[C]
    before = evaluate(facts, world.standard_on(day("2022-06-30")), day("2022-06-30"))
    after = evaluate(facts, world.standard_on(day("2022-07-01")), day("2022-07-01"))
    assert (1, True, ("finance",)) == (before.standard_version, before.standardized, before.met)
    assert (2, False) == (after.standard_version, after.standardized)
    assert [("finance-monthly", "no finance disclosure for 2022-05 (due 2022-06-15)", day("2022-06-16"))] == [
        (u.criterion_id, u.detail, u.since) for u in after.unmet
    ]


def test_the_highest_version_in_force_wins_even_if_recorded_earlier() -> None:
    world = world_of(
        standard_revised(version=2, effective_from=day("2022-01-01")),
        standard_revised(version=1, effective_from=day("2020-01-01")),
        standard_revised(version=3, effective_from=day("2023-01-01")),
    )
    in_force = [world.standard_on(day(d)) for d in ("2019-12-31", "2021-12-31", "2022-01-01", "2023-01-01")]
    assert [None, 1, 2, 3] == [s.version if s is not None else None for s in in_force]


# -- parse_rule -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        (
            "disclosure_every_period",
            {"category": "finance"},
            DisclosureEveryPeriod(DisclosureCategory.FINANCE, Granularity.QUARTER, 4, 15),
        ),
        ("trainings_each_year", {}, TrainingsEachYear(FIVE_ONES, 365)),
        (
            "rule_current",
            {"document": "autonomy_charter"},
            RuleCurrent(RuleDocument.AUTONOMY_CHARTER, 5, None),
        ),
        (
            "meetings_every_period",
            {"kind": "council"},
            MeetingsEveryPeriod(MeetingKind.COUNCIL, Granularity.QUARTER, 4),
        ),
        ("no_open_findings", {}, NoOpenFindings(30)),
        ("annual_duty_report", {}, AnnualDutyReport(3, 31)),
    ],
)
def test_parse_rule_fills_in_the_defaults(kind: str, params: dict[str, Any], expected: object) -> None:
    rule = parse_rule(criterion("k1", kind, **params))
    # An id with no texts of its own and none built in is titled as its kind.
    assert (type(expected), vars(expected), "k1", KIND_TEXTS[kind][0]) == (
        type(rule),
        {k: v for k, v in vars(rule).items() if k not in ("criterion_id", "title")},
        rule.criterion_id,
        rule.title,
    )


@pytest.mark.parametrize(
    ("kind", "params", "path"),
    [
        ("disclosure_every_year", {}, "criterion.kind"),
        ("no_open_findings", {"older_than_days": 3, "window": 1}, "criterion.params.window"),
        ("disclosure_every_period", {"lookback": 2}, "criterion.params.category"),
        ("rule_current", {}, "criterion.params.document"),
        ("meetings_every_period", {}, "criterion.params.kind"),
        ("disclosure_every_period", {"category": "gossip"}, "criterion.params.category"),
        ("disclosure_every_period", {"category": "finance", "period": "week"}, "criterion.params.period"),
        ("rule_current", {"document": "village_rules", "applies_to": "town"}, "criterion.params.applies_to"),
        ("meetings_every_period", {"kind": "party"}, "criterion.params.kind"),
        ("trainings_each_year", {"kinds": ["warning_meeting", "karaoke"]}, "criterion.params.kinds[1]"),
        ("trainings_each_year", {"kinds": []}, "criterion.params.kinds"),
        ("trainings_each_year", {"kinds": "warning_meeting"}, "criterion.params.kinds"),
        ("disclosure_every_period", {"category": "finance", "lookback": 0}, "criterion.params.lookback"),
        ("disclosure_every_period", {"category": "finance", "lookback": 61}, "criterion.params.lookback"),
        ("disclosure_every_period", {"category": "finance", "lookback": True}, "criterion.params.lookback"),
        ("disclosure_every_period", {"category": "finance", "lookback": 2.0}, "criterion.params.lookback"),
        ("disclosure_every_period", {"category": "finance", "lookback": "2"}, "criterion.params.lookback"),
        ("disclosure_every_period", {"category": "finance", "grace_days": -1}, "criterion.params.grace_days"),
        (
            "disclosure_every_period",
            {"category": "finance", "grace_days": 366},
            "criterion.params.grace_days",
        ),
        ("trainings_each_year", {"window_days": 0}, "criterion.params.window_days"),
        ("trainings_each_year", {"window_days": 3661}, "criterion.params.window_days"),
        ("rule_current", {"document": "village_rules", "max_age_years": 0}, "criterion.params.max_age_years"),
        (
            "rule_current",
            {"document": "village_rules", "max_age_years": 101},
            "criterion.params.max_age_years",
        ),
        ("meetings_every_period", {"kind": "council", "lookback": 61}, "criterion.params.lookback"),
        ("no_open_findings", {"older_than_days": -1}, "criterion.params.older_than_days"),
        ("no_open_findings", {"older_than_days": 3651}, "criterion.params.older_than_days"),
        ("annual_duty_report", {"due_month": 0}, "criterion.params.due_month"),
        ("annual_duty_report", {"due_month": 13}, "criterion.params.due_month"),
        ("annual_duty_report", {"due_day": 32}, "criterion.params.due_day"),
        ("annual_duty_report", {"due_month": 2, "due_day": 30}, "criterion.params.due_day"),
        ("annual_duty_report", {"due_month": 2, "due_day": 29}, "criterion.params.due_day"),
        ("annual_duty_report", {"due_month": 4, "due_day": 31}, "criterion.params.due_day"),
    ],
)
def test_parse_rule_names_the_offending_parameter(kind: str, params: dict[str, Any], path: str) -> None:
    with pytest.raises(CriterionError) as caught:
        parse_rule(criterion("k1", kind, **params))
    assert path == caught.value.path
    assert str(caught.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("params", "boundary"),
    [
        ({"category": "finance", "lookback": 1, "grace_days": 0}, "low"),
        ({"category": "finance", "lookback": 60, "grace_days": 365}, "high"),
    ],
)
def test_parse_rule_accepts_the_ends_of_each_range(params: dict[str, Any], boundary: str) -> None:
    rule = parse_rule(criterion("k1", "disclosure_every_period", **params))
    assert isinstance(rule, DisclosureEveryPeriod)
    assert (params["lookback"], params["grace_days"]) == (rule.lookback, rule.grace_days)


def test_parse_rule_accepts_the_last_day_of_february() -> None:
    rule = parse_rule(criterion("k1", "annual_duty_report", due_month=2, due_day=28))
    assert isinstance(rule, AnnualDutyReport)
    assert (2, 28) == (rule.due_month, rule.due_day)


def test_parse_rule_puts_the_given_path_in_front() -> None:
    with pytest.raises(CriterionError) as caught:
        parse_rule(criterion("k1", "no_open_findings", older_than_days=-1), "criteria[2]")
    assert "criteria[2].params.older_than_days" == caught.value.path


@pytest.mark.parametrize("criterion_id", ["", None, 7])
def test_parse_rule_requires_a_criterion_id(criterion_id: object) -> None:
    with pytest.raises(CriterionError) as caught:
        parse_rule(Criterion(criterion_id=criterion_id, kind="no_open_findings", params={}))  # type: ignore[arg-type]
    assert "criterion.criterion_id" == caught.value.path


def test_parse_rule_requires_params_to_be_an_object() -> None:
    with pytest.raises(CriterionError) as caught:
        parse_rule(Criterion(criterion_id="k1", kind="no_open_findings", params=[]))  # type: ignore[arg-type]
    assert "criterion.params" == caught.value.path
