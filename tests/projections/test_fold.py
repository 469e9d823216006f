"""The folds: associative, equal to one event at a time, total, and time travel by position equals replay."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from events.catalogue import CATALOGUE
from events.erasure import Erased
from events.hierarchy import CommunityKind
from events.registry import Event
from events.standard import StandardRevised
from projections.community import World, evolve, evolve_world, fold_world
from projections.evaluation import Status, evaluate
from projections.facts import CommunityFacts
from tests.projections.build import (
    LONG_AGO,
    Unknown,
    day,
    disclosed,
    facts_of,
    fold,
    registered,
    renamed,
    retired,
    transferred,
    world_of,
)
from tests.projections.logs import COMMUNITIES, EVERYTHING, TOWNS, Log, event_logs, some_days

FAST = settings(max_examples=60, deadline=None)


def community_in(world: World, community_id: str) -> CommunityFacts:
    return world.communities.get(community_id) or CommunityFacts(community_id=community_id)


# -- fold_world and evolve_world --------------------------------------------------------------------------


@FAST
@given(event_logs(), st.data())
def test_folding_in_two_parts_equals_folding_at_once(log: Log, data: st.DataObject) -> None:
    first = data.draw(st.integers(0, len(log)))
    second = data.draw(st.integers(first, len(log)))
    start, a, b = fold(log[:first]), log[first:second], log[second:]
    assert fold(a + b, start) == fold(b, fold(a, start))
    assert fold(log) == fold(a + b, start)


@FAST
@given(event_logs())
def test_fold_world_equals_evolve_world_one_event_at_a_time(log: Log) -> None:
    world = World()
    for position, event in log:
        world = evolve_world(world, position, event)
    assert world == fold(log)


@FAST
@given(event_logs())
def test_the_world_stands_at_the_last_position_folded(log: Log) -> None:
    expected = log[-1][0] if log else 0
    assert expected == fold(log).position


def test_fold_world_of_nothing_leaves_the_world_as_it_was() -> None:
    world = world_of(registered("c1"), disclosed("c1", "2022-Q1", day("2022-04-01")))
    assert world == fold_world(world, [])


def test_a_standard_revision_is_kept_with_its_position() -> None:
    world = world_of(
        registered("c1"), StandardRevised(version=2, effective_from=LONG_AGO, title="v2", criteria=())
    )
    assert [(2, 2)] == [(s.version, s.position) for s in world.standards]


# -- evolve is total and minds only its own community ------------------------------------------------------


def catalogue_events(community_id: str) -> st.SearchStrategy[Event]:
    """Any event of any catalogue type, with random field values, about `community_id` where it has one."""
    strategies: list[st.SearchStrategy[Event]] = []
    for cls in CATALOGUE.types():
        fields: dict[str, st.SearchStrategy[Any]] = {}
        if "community_id" in cls.__dataclass_fields__:  # type: ignore[attr-defined]
            fields["community_id"] = st.just(community_id)
        if cls is StandardRevised:
            fields["criteria"] = st.just(())
        strategies.append(st.builds(cls, **fields))
    return st.one_of(strategies)


@FAST
@given(event_logs(), catalogue_events("c1"), st.integers(1, 10_000))
def test_evolve_applies_every_catalogue_event_about_the_community(
    log: Log, event: Event, position: int
) -> None:
    state = fold(log).communities.get("c1") or CommunityFacts(community_id="c1")
    after = evolve(state, position, event)
    if isinstance(event, Erased):
        # An erasure changes no fact: status never depends on restricted text, so forgetting it cannot
        # change status either.
        assert state is after
    elif hasattr(event, "community_id"):
        assert (position, True) == (after.position, after is not state)
    else:
        assert state is after


@FAST
@given(
    event_logs(),
    st.one_of(
        catalogue_events("someone-else"),
        st.builds(Unknown, st.sampled_from(COMMUNITIES)),
        st.none(),
        st.integers(),
        st.text(),
        st.dates(),
    ),
    st.integers(1, 10_000),
)
def test_evolve_leaves_facts_alone_for_other_communities_and_unknown_events(
    log: Log, event: object, position: int
) -> None:
    world = fold(log)
    for community_id in COMMUNITIES:
        state = community_in(world, community_id)
        assert state is evolve(state, position, cast(Event, event))


def test_evolve_counts_the_registration_only_for_its_own_community() -> None:
    facts = facts_of("c1", registered("c2", day("2020-01-01")), registered("c1", day("2021-01-01")))
    assert (day("2021-01-01"), 2) == (facts.registered_on, facts.position)


# -- time travel by position equals a replay up to that position --------------------------------------------


def comparable(facts: CommunityFacts) -> CommunityFacts:
    return facts


def comparable_status(status: Status) -> Status:
    return status


@FAST
@given(event_logs(), st.data())
def test_facts_up_to_a_position_equal_a_replay_to_it(log: Log, data: st.DataObject) -> None:
    last = log[-1][0] if log else 0
    position = data.draw(st.integers(0, last + 1))
    now = fold(log)
    then = fold([(p, e) for p, e in log if p <= position])
    for community_id in COMMUNITIES:
        assert comparable(community_in(then, community_id)) == comparable(
            community_in(now, community_id).up_to(position)
        )


@FAST
@given(event_logs(), st.data(), some_days())
def test_status_as_of_a_position_equals_the_status_of_a_replay(
    log: Log, data: st.DataObject, dates: list[date]
) -> None:
    last = log[-1][0] if log else 0
    position = data.draw(st.integers(0, last + 1))
    now = fold(log)
    then = fold([(p, e) for p, e in log if p <= position])
    for community_id in COMMUNITIES:
        for on in dates:
            travelled = evaluate(community_in(now, community_id).up_to(position), EVERYTHING, on)
            replayed = evaluate(community_in(then, community_id), EVERYTHING, on)
            assert comparable_status(replayed) == comparable_status(travelled)


@FAST
@given(event_logs())
def test_up_to_the_current_position_changes_nothing(log: Log) -> None:
    world = fold(log)
    for facts in world.communities.values():
        assert facts is facts.up_to(facts.position)
        assert facts is facts.up_to(world.position)


def test_up_to_before_registration_puts_the_community_out_of_scope() -> None:
    facts = facts_of(
        "c1", Unknown("c1"), registered("c1", day("2020-01-01")), retired("c1", day("2022-01-01"))
    )
    assert (False, True, False) == (
        facts.up_to(1).in_scope_on(day("2021-01-01")),
        facts.up_to(2).in_scope_on(day("2023-01-01")),
        facts.up_to(3).in_scope_on(day("2023-01-01")),
    )


def test_up_to_between_changes_keeps_the_last_position_that_changed_the_facts() -> None:
    log: Log = [(1, registered("c1", day("2020-01-01"))), (5, disclosed("c1", "2022-Q1", day("2022-04-01")))]
    replayed = community_in(fold(log[:1]), "c1")
    travelled = community_in(fold(log), "c1").up_to(3)
    assert 1 == replayed.position
    assert replayed.position == travelled.position


def test_up_to_before_registration_forgets_the_kind() -> None:
    facts = facts_of("c1", Unknown("c1"), registered("c1", kind=CommunityKind.VILLAGE))
    assert CommunityKind.COMMUNITY == facts.up_to(1).kind


def test_a_rename_recorded_before_registration_does_not_register_the_community() -> None:
    facts = facts_of("c1", renamed("c1", "新名", day("2020-01-01")), registered("c1", day("2020-01-01")))
    assert None is facts.up_to(1).registered_on


def test_up_to_between_two_registrations_keeps_the_first_date() -> None:
    facts = facts_of("c1", registered("c1", day("2020-01-01")), registered("c1", day("2021-06-01")))
    assert day("2020-01-01") == facts.up_to(1).registered_on


def test_up_to_between_two_retirements_keeps_the_first() -> None:
    facts = facts_of(
        "c1",
        registered("c1", day("2020-01-01")),
        retired("c1", day("2022-05-01")),
        retired("c1", day("2022-04-01")),
    )
    assert False is facts.up_to(2).in_scope_on(day("2022-06-01"))


# -- membership by date ------------------------------------------------------------------------------------


def test_a_transfer_moves_a_community_from_its_effective_date() -> None:
    facts = facts_of(
        "c1", registered("c1", day("2020-01-01"), "t1"), transferred("c1", "t1", "t2", day("2022-07-01"))
    )
    assert [None, "t1", "t1", "t2", "t2"] == [
        facts.town_on(day(d)) for d in ("2019-12-31", "2020-01-01", "2022-06-30", "2022-07-01", "2030-01-01")
    ]


def test_a_transfer_recorded_late_still_answers_by_its_date() -> None:
    facts = facts_of(
        "c1",
        registered("c1", day("2020-01-01"), "t1"),
        disclosed("c1", "2022-Q1", day("2022-04-01")),
        transferred("c1", "t1", "t2", day("2021-01-01")),
    )
    assert ["t1", "t2"] == [facts.town_on(day("2020-12-31")), facts.town_on(day("2021-01-01"))]


def test_town_on_does_not_depend_on_the_order_transfers_were_recorded() -> None:
    in_order = facts_of(
        "c1",
        registered("c1", day("2020-01-01"), "t1"),
        transferred("c1", "t1", "t3", day("2021-06-01")),
        transferred("c1", "t3", "t2", day("2022-01-01")),
    )
    out_of_order = facts_of(
        "c1",
        registered("c1", day("2020-01-01"), "t1"),
        transferred("c1", "t3", "t2", day("2022-01-01")),
        transferred("c1", "t1", "t3", day("2021-06-01")),
    )
    assert "t2" == in_order.town_on(day("2022-03-01"))
    assert in_order.town_on(day("2022-03-01")) == out_of_order.town_on(day("2022-03-01"))


@FAST
@given(
    st.dates(date(2020, 1, 1), date(2020, 12, 31)),
    st.lists(st.tuples(st.integers(1, 200), st.sampled_from(TOWNS)), max_size=6),
    some_days(6),
)
def test_town_on_answers_with_the_transfer_in_force_on_each_date(
    registered_on: date, moves: list[tuple[int, str]], dates: list[date]
) -> None:
    history = [(registered_on, "t1")]
    for gap, town_id in moves:
        history.append((history[-1][0] + timedelta(days=gap), town_id))
    events: list[Event] = [registered("c1", registered_on, "t1")]
    events += [transferred("c1", "t?", town_id, since) for since, town_id in history[1:]]
    facts = facts_of("c1", *events)
    for on in dates:
        expected = [town_id for since, town_id in history if since <= on]
        assert (expected[-1] if expected else None) == facts.town_on(on)
