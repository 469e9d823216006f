"""Dashboard summaries: trainings by kind and year, rule versions, designations, each as of a date."""

from __future__ import annotations

from datetime import date

from events.recognition import DemonstrationPointDesignated, Level
from events.registry import Event
from events.rules import RuleDocument
from projections.community import World, fold_world
from projections.summaries import designations, rule_history
from tests.projections.build import records
from tests.support import domain


def facts_of(*events: Event) -> World:
    return fold_world(World(), records(enumerate([domain.community("a", "t"), *events], start=1)))


def test_rule_history_shows_the_current_version_and_every_earlier_one() -> None:
    world = facts_of(
        domain.rule("a", RuleDocument.AUTONOMY_CHARTER, 1, date(2016, 5, 1)),
        domain.rule("a", RuleDocument.AUTONOMY_CHARTER, 2, date(2021, 5, 1)),
        domain.rule("a", RuleDocument.MICRO_POWER_LIST, 1, date(2021, 6, 1)),
    )
    facts = world.communities["a"]
    histories = {h.document: h for h in rule_history(facts, date(2022, 1, 1))}
    charter = histories[RuleDocument.AUTONOMY_CHARTER]
    assert charter.current is not None
    assert (2, [1, 2]) == (charter.current.version, [v.version for v in charter.versions])
    past = {h.document: h for h in rule_history(facts, date(2020, 1, 1))}
    assert [RuleDocument.AUTONOMY_CHARTER] == list(past)
    current = past[RuleDocument.AUTONOMY_CHARTER].current
    assert current is not None
    assert 1 == current.version


def test_designations_by_date_and_level() -> None:
    world = facts_of(
        DemonstrationPointDesignated(
            community_id="a", level=Level.CITY, designated_on=date(2021, 5, 1), title="慈溪市级"
        ),
        DemonstrationPointDesignated(
            community_id="a", level=Level.PREFECTURE, designated_on=date(2021, 11, 1), title="宁波市级"
        ),
    )
    facts = world.communities["a"]
    assert ["慈溪市级", "宁波市级"] == [d.title for d in designations(facts, date(2022, 1, 1))]
    assert ["宁波市级"] == [d.title for d in designations(facts, date(2022, 1, 1), Level.PREFECTURE)]
    assert [] == designations(facts, date(2021, 4, 30))
