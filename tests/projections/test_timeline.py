"""Status timelines: the stored segments agree with `evaluate` on every day, for random logs."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from events.registry import Event
from projections.community import StandardVersion, standard_in_force
from projections.evaluation import evaluate
from projections.facts import CommunityFacts
from projections.timeline import Segment, affected_from, extended, shape, timeline
from tests.projections.build import criterion, disclosed, facts_of, fold, registered, standard
from tests.projections.logs import COMMUNITIES, EVERYTHING, FIRST_DAY, LAST_DAY, Log, event_logs

THOROUGH = settings(max_examples=120, deadline=None)
FIRST, LAST = FIRST_DAY - timedelta(days=30), LAST_DAY + timedelta(days=400)


def segment_on(segments: list[Segment], day: date) -> Segment:
    [found] = [s for s in segments if s.valid_from <= day < s.valid_to]
    return found


def assert_agrees(facts: CommunityFacts, standards: tuple[StandardVersion, ...], days: list[date]) -> None:
    segments = timeline(facts, standards, FIRST, LAST)
    assert FIRST == segments[0].valid_from
    assert LAST + timedelta(days=1) == segments[-1].valid_to
    for before, after in itertools.pairwise(segments):
        assert before.valid_to == after.valid_from  # no gap, no overlap
        assert (before.town_id, shape(before.status)) != (after.town_id, shape(after.status))  # fewest
    for day in days:
        expected = evaluate(facts, standard_in_force(standards, day), day)
        held = segment_on(segments, day)
        assert (facts.town_on(day), shape(expected)) == (held.town_id, shape(held.status)), day


@THOROUGH
@given(event_logs(), st.lists(st.dates(FIRST, LAST), min_size=1, max_size=25))
def test_the_timeline_of_a_random_log_agrees_with_evaluate_on_random_days(log: Log, days: list[date]) -> None:
    """Back-dated records, corrections, transfers, retirements and standards revised at any time included:
    the random logs draw every kind of event with free dates, in any order."""
    world = fold(log)
    standards = world.standards or (EVERYTHING,)
    for community_id in COMMUNITIES:
        facts = world.communities.get(community_id)
        if facts is not None:
            assert_agrees(facts, standards, days)


@settings(max_examples=30, deadline=None)
@given(event_logs(max_size=60))
def test_the_timeline_agrees_with_evaluate_on_every_day_of_a_year(log: Log) -> None:
    world = fold(log)
    standards = world.standards or (EVERYTHING,)
    every_day = [date(2022, 1, 1) + timedelta(days=n) for n in range(366)]
    for facts in world.communities.values():
        assert_agrees(facts, standards, every_day)


def test_a_community_that_keeps_its_records_has_few_segments() -> None:
    """Quarterly finance disclosures published on time: the status holds between due dates, and one
    published late shows as one stretch unmet, from the day after its due date to its publication."""
    events: list[Event] = [registered("c", date(2021, 1, 1), "t")]
    for year in (2021, 2022):
        for quarter in range(1, 5):
            late = (year, quarter) == (2022, 1)
            day = date(2022, 5, 9) if late else date(year, 3 * quarter, 20)
            events.append(disclosed("c", f"{year}-Q{quarter}", day))
    facts = facts_of("c", *events)
    finance = (standard(criterion("finance", "disclosure_every_period", category="finance", lookback=2)),)
    segments = timeline(facts, finance, date(2021, 1, 1), date(2022, 12, 31))
    unmet = [(s.valid_from, s.valid_to) for s in segments if not s.status.standardized]
    assert [(date(2022, 4, 16), date(2022, 5, 9))] == unmet  # due 15 days after the quarter
    assert len(segments) <= 3
    assert_agrees(facts, finance, [date(2021, 1, 1) + timedelta(days=n) for n in range(730)])


def comparable(segments: list[Segment]) -> list[tuple[object, ...]]:
    return [(s.valid_from, s.valid_to, s.town_id, shape(s.status)) for s in segments]


@THOROUGH
@given(event_logs(max_size=40), st.integers(0, 40))
def test_an_event_changes_nothing_before_the_day_it_affects_and_recomputing_from_there_is_enough(
    log: Log, cut: int
) -> None:
    """Where the projector saves its work: a timeline recomputed from `affected_from` of a new event on
    is the timeline of the whole log."""
    before, after = log[: min(cut, len(log))], log[min(cut, len(log)) :]
    if not after:
        return
    position, event = after[0]
    earlier, later = fold(before), fold([*before, (position, event)])
    since = affected_from(event)
    standards_before, standards_after = earlier.standards, later.standards
    for community_id in COMMUNITIES:
        old, new = earlier.communities.get(community_id), later.communities.get(community_id)
        if new is None:
            continue
        whole = timeline(new, standards_after, FIRST, LAST)
        if old is None:
            continue
        previous = timeline(old, standards_before, FIRST, LAST)
        if since is None or since > LAST:
            assert comparable(previous) == comparable(whole)
            continue
        assert comparable(whole) == comparable(
            extended(previous, new, standards_after, max(since, FIRST), LAST)
        )
