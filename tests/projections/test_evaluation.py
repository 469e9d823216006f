"""evaluate(): score, scope, a missing standard, and the same answer for the same inputs."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given, settings

from events.catalogue import CATALOGUE
from events.registry import Event
from events.standard import Criterion, StandardRevised
from events.training import TrainingKind
from projections.evaluation import evaluate
from projections.facts import DATED_BY, CommunityFacts
from tests.projections.build import (
    criterion,
    day,
    disclosed,
    facts_of,
    fold,
    registered,
    retired,
    rule_adopted,
    spot_check,
    standard,
    trained,
    world_of,
)
from tests.projections.logs import EVERYTHING, Log, event_logs, some_days

C = "c1"
ON = day("2022-06-01")
FINDINGS = criterion("findings", "no_open_findings", older_than_days=30)
RULES = criterion("rules", "rule_current", document="micro_power_list")
FINANCE = criterion("finance", "disclosure_every_period", category="finance", lookback=1)
FAST = settings(max_examples=60, deadline=None)
VILLAGE = criterion("village", "rule_current", document="village_rules", applies_to="village")


SINCE_2020 = day("2020-01-01")


def community(*events: Event, on: date = SINCE_2020) -> CommunityFacts:
    return facts_of(C, registered(C, on), *events)


def test_score_is_the_share_of_applicable_criteria_met() -> None:
    facts = community(rule_adopted(C, 1, day("2021-01-01")))  # rules met; findings met; finance unmet
    status = evaluate(facts, standard(FINDINGS, RULES, FINANCE), ON)
    assert (round(2 / 3, 4), False) == (status.score, status.standardized)
    assert (("findings", "rules"), ["finance"]) == (status.met, [u.criterion_id for u in status.unmet])


def test_one_criterion_met_of_three_scores_a_third() -> None:
    facts = community(spot_check(C, day("2022-01-01"), "F1"), disclosed(C, "2022-Q1", day("2022-04-10")))
    status = evaluate(facts, standard(FINDINGS, RULES, FINANCE), ON)
    assert (0.3333, ("finance",), ["findings", "rules"]) == (
        status.score,
        status.met,
        [u.criterion_id for u in status.unmet],
    )


def test_criteria_that_do_not_apply_are_left_out_of_the_score() -> None:
    facts = community(rule_adopted(C, 1, day("2021-01-01")), spot_check(C, day("2022-01-01"), "F1"))
    status = evaluate(facts, standard(VILLAGE, FINDINGS, RULES), ON)
    assert (0.5, ("rules",), ["findings"]) == (
        status.score,
        status.met,
        [u.criterion_id for u in status.unmet],
    )


def test_all_criteria_met_is_standardized_with_full_score() -> None:
    facts = community(rule_adopted(C, 1, day("2021-01-01")), disclosed(C, "2022-Q1", day("2022-04-10")))
    status = evaluate(facts, standard(FINDINGS, RULES, FINANCE), ON)
    assert (True, 1.0, ("findings", "rules", "finance"), ()) == (
        status.standardized,
        status.score,
        status.met,
        status.unmet,
    )


def test_a_standard_with_nothing_applicable_scores_full_and_is_met() -> None:
    status = evaluate(community(), standard(VILLAGE), ON)
    assert (True, True, 1.0, (), ()) == (
        status.in_scope,
        status.standardized,
        status.score,
        status.met,
        status.unmet,
    )


def test_the_status_names_the_community_date_version_and_position() -> None:
    facts = community(rule_adopted(C, 1, day("2021-01-01")))
    status = evaluate(facts, standard(RULES, version=3), ON)
    assert (C, ON, 3, 2) == (status.community_id, status.on, status.standard_version, status.position)


def test_the_position_is_the_last_record_dated_by_the_day_asked() -> None:
    # Positions 1 (registered long ago), 2 (a training held 2021-06-01), 3 (rules adopted 2021-01-01,
    # recorded after the training), 4 (rules adopted 2023-01-01, after ON).
    facts = facts_of(
        C,
        registered(C),
        trained(C, TrainingKind.INTEGRITY_COURSE, day("2021-06-01")),
        rule_adopted(C, 1, day("2021-01-01")),
        rule_adopted(C, 2, day("2023-01-01")),
    )
    assert 4 == facts.position
    assert 3 == evaluate(facts, standard(RULES), ON).position  # not the adoption dated after ON
    assert 1 == evaluate(facts, standard(RULES), day("2020-12-31")).position
    assert 3 == evaluate(facts, standard(RULES), day("2021-01-01")).position  # back-dated, recorded later
    assert 4 == evaluate(facts, standard(RULES), day("2023-01-01")).position
    assert 0 == evaluate(facts, standard(RULES), day("1999-01-01")).position  # nothing dated by then


@FAST
@given(event_logs(), some_days())
def test_position_on_is_the_highest_position_of_the_facts_dated_by_then(log: Log, days: list[date]) -> None:
    for facts in fold(log).communities.values():
        for on in days:
            dated = [
                item.position
                for field, attribute in DATED_BY.items()
                for item in getattr(facts, field)
                if getattr(item, attribute) <= on
            ]
            assert max(dated, default=0) == facts.position_on(on)


def test_every_kind_of_fact_has_the_day_it_holds_from() -> None:
    kinds = {f.name for f in dataclasses.fields(CommunityFacts) if f.name not in ("community_id", "position")}
    assert kinds == set(DATED_BY)


@pytest.mark.parametrize(
    ("on", "in_scope"), [("2021-03-14", False), ("2021-03-15", True), ("2021-03-16", True)]
)
def test_a_community_is_in_scope_from_its_registration_date(on: str, in_scope: bool) -> None:
    status = evaluate(community(on=day("2021-03-15")), standard(FINDINGS), day(on))
    assert in_scope == status.in_scope


def test_before_registration_the_status_says_so_and_scores_nothing() -> None:
    status = evaluate(community(on=day("2021-03-15")), standard(FINDINGS, version=2), day("2021-03-14"))
    assert (False, False, 0.0, (), 2) == (
        status.in_scope,
        status.standardized,
        status.score,
        status.met,
        status.standard_version,
    )
    assert [("scope", "scope", "not registered on this date", None)] == [
        (u.criterion_id, u.kind, u.detail, u.since) for u in status.unmet
    ]


def test_a_community_the_log_never_registered_is_not_in_scope() -> None:
    status = evaluate(facts_of(C, disclosed(C, "2022-Q1", day("2022-04-01"))), standard(FINDINGS), ON)
    assert (False, "not registered on this date") == (status.in_scope, status.unmet[0].detail)


@pytest.mark.parametrize(
    ("on", "in_scope"), [("2022-04-30", True), ("2022-05-01", False), ("2023-01-01", False)]
)
def test_a_community_leaves_scope_on_its_retirement_date(on: str, in_scope: bool) -> None:
    facts = community(retired(C, day("2022-05-01")))
    status = evaluate(facts, standard(FINDINGS), day(on))
    assert in_scope == status.in_scope
    if not in_scope:
        assert (False, 0.0, ["retired on this date"]) == (
            status.standardized,
            status.score,
            [u.detail for u in status.unmet],
        )


def test_with_no_standard_in_force_nothing_is_standardized() -> None:
    status = evaluate(community(), None, ON)
    assert (True, False, 0.0, None) == (
        status.in_scope,
        status.standardized,
        status.score,
        status.standard_version,
    )
    assert [("standard", "standard", "no standard is in force on 2022-06-01", None)] == [
        (u.criterion_id, u.kind, u.detail, u.since) for u in status.unmet
    ]


def test_no_standard_in_force_before_the_first_takes_effect() -> None:
    world = world_of(
        StandardRevised(version=1, effective_from=day("2021-01-01"), title="v1", criteria=(FINDINGS,)),
        registered(C, day("2020-01-01")),
    )
    statuses = [
        evaluate(world.communities[C], world.standard_on(day(d)), day(d))
        for d in ("2020-12-31", "2021-01-01")
    ]
    assert [(None, False), (1, True)] == [(s.standard_version, s.standardized) for s in statuses]


def test_the_same_inputs_give_the_same_status() -> None:
    def build() -> CommunityFacts:
        return community(spot_check(C, day("2022-01-01"), "F1"), trained(C, TrainingKind.WARNING_MEETING, ON))

    first = evaluate(build(), standard(FINDINGS, RULES, FINANCE), ON)
    evaluate(community(), standard(RULES), ON)  # evaluating something else in between changes nothing
    assert first == evaluate(build(), standard(FINDINGS, RULES, FINANCE), ON)


@FAST
@given(event_logs(), some_days())
def test_any_status_is_deterministic_and_scores_met_over_applicable(log: Log, dates: list[date]) -> None:
    world = fold(log)
    for facts in world.communities.values():
        for on in dates:
            status = evaluate(facts, EVERYTHING, on)
            assert status == evaluate(facts, EVERYTHING, on)
            if status.in_scope:
                applicable = len(status.met) + len(status.unmet)
                assert (round(len(status.met) / applicable, 4), not status.unmet) == (
                    status.score,
                    status.standardized,
                )
            else:
                assert (0.0, False, ["scope"]) == (
                    status.score,
                    status.standardized,
                    [u.kind for u in status.unmet],
                )


@FAST
@given(event_logs(), some_days())
def test_an_unmet_criterion_is_never_dated_after_the_status_date(log: Log, dates: list[date]) -> None:
    world = fold(log)
    for facts in world.communities.values():
        for on in dates:
            for unmet in evaluate(facts, EVERYTHING, on).unmet:
                if unmet.since is not None:
                    assert unmet.since <= on, unmet


def test_a_standard_read_back_from_the_log_can_be_evaluated() -> None:
    revised = StandardRevised(
        version=1,
        effective_from=day("2020-01-01"),
        title="v1",
        criteria=(
            Criterion(criterion_id="findings", kind="no_open_findings", params={"older_than_days": 30}),
        ),
    )
    type_, version, payload = CATALOGUE.encode(revised)
    world = world_of(registered(C, day("2020-01-01")), CATALOGUE.decode(type_, version, payload))
    status = evaluate(world.communities[C], world.standard_on(ON), ON)
    assert (True, ("findings",)) == (status.standardized, status.met)
