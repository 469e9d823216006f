"""The pure rules a proposed event must meet: names and titles of visible text in one normal form, and no
record dated before its community existed."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.disclosure import DisclosureCategory
from events.hierarchy import CommunityKind, CommunityRegistered, CommunityRenamed
from events.rules import RuleDocument
from events.supervision import Finding, MeetingKind, SpotCheckRecorded
from projections.community import evolve
from projections.decisions import Context, check, normalized
from projections.facts import CommunityFacts
from tests.support import domain

TODAY = date(2024, 3, 1)


def registered(on: date = date(2021, 1, 1)) -> CommunityFacts:
    event = CommunityRegistered(
        community_id="yubo", town_id="hushan", name="虞波社区", kind=CommunityKind.COMMUNITY, registered_on=on
    )
    return evolve(CommunityFacts(community_id="yubo"), 1, event)


def context() -> Context:
    return Context(today=TODAY, community=registered(), towns=frozenset({"hushan"}))


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("虞波\u200b社区", "U+200B"),
        ("虞波\u034f社区", "U+034F"),
        ("虞波\ufe0f社区", "U+FE0F"),
        ("虞波\u3164社区", "U+3164"),
        ("\x1b[1m虞波社区", "U+001B"),
        ("虞波社区\x07", "U+0007"),
        ("虞波\u202e社区", "U+202E"),
        ("虞波\ue000社区", "U+E000"),
        ("虞波\u2028社区", "U+2028"),
    ],
)
def test_a_name_with_a_character_that_does_not_show_is_refused_naming_it(name: str, code: str) -> None:
    errors = check(CommunityRenamed(community_id="yubo", name=name, effective_on=TODAY), context())
    assert [field for field, _ in errors] == ["name"]
    assert code in errors[0][1]


@pytest.mark.parametrize("name", ["虞波社区", "Yubo Community", "虞波·新村", "Café (一)"])
def test_visible_names_pass(name: str) -> None:
    assert [] == check(CommunityRenamed(community_id="yubo", name=name, effective_on=TODAY), context())


@given(st.text(min_size=1, max_size=20))
def test_normalized_names_are_nfc_and_normalizing_twice_changes_nothing(name: str) -> None:
    event = CommunityRenamed(community_id="yubo", name=name, effective_on=TODAY)
    once = normalized(event)
    assert isinstance(once, CommunityRenamed)
    assert unicodedata.is_normalized("NFC", once.name)
    assert unicodedata.normalize("NFC", name) == once.name
    assert normalized(once) is once


def test_records_and_changes_dated_before_the_community_existed_are_refused() -> None:
    early = domain.disclosure("yubo", DisclosureCategory.FINANCE, "2020-Q4", date(2020, 12, 31))
    assert ["published_on"] == [field for field, _ in check(early, context())]
    on_the_day = domain.disclosure("yubo", DisclosureCategory.FINANCE, "2020-Q4", date(2021, 1, 1))
    assert [] == check(on_the_day, context())
    renamed = CommunityRenamed(community_id="yubo", name="新名", effective_on=date(2020, 6, 1))
    assert ["effective_on"] == [field for field, _ in check(renamed, context())]


def test_a_rule_adopted_before_the_community_was_registered_may_be_recorded() -> None:
    # A charter adopted years before the programme registered the community is still in force.
    charter = domain.rule("yubo", RuleDocument.AUTONOMY_CHARTER, 1, date(2018, 3, 2))
    assert [] == check(charter, context())


def test_lists_longer_than_a_record_holds_in_life_are_refused() -> None:
    held = domain.meeting("yubo", MeetingKind.COUNCIL, date(2022, 3, 1))
    assert [] == check(replace(held, topics=("议题",) * 50), context())
    assert ["topics"] == [f for f, _ in check(replace(held, topics=("议题",) * 10_000), context())]
    assert ["topics[1]"] == [f for f, _ in check(replace(held, topics=("议题", "  ")), context())]
    checked = SpotCheckRecorded(
        community_id="yubo",
        check_id="2022-1",
        checked_on=date(2022, 3, 1),
        checked_by="街道纪工委",
        findings=tuple(Finding(finding_id=f"f{n}", summary="整改事项") for n in range(5_000)),
    )
    assert ["findings"] == [f for f, _ in check(checked, context())]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (CommunityRenamed(community_id="yubo", name="虞波", effective_on=date.max), "effective_on"),
        (CommunityRenamed(community_id="yubo", name="虞波", effective_on=date(3000, 1, 1)), "effective_on"),
        (
            CommunityRegistered(
                community_id="new", town_id="hushan", name="新社区", kind=CommunityKind.COMMUNITY,
                registered_on=date.min,
            ),
            "registered_on",
        ),
    ],
)  # fmt: skip
def test_a_date_outside_the_programme_years_is_refused(event: CommunityRenamed, field: str) -> None:
    # A rename effective 9999-12-31 was recorded, and then no status of the community could be evaluated.
    assert (field, "must be between 1990-01-01 and 2999-12-31") in check(event, context())


def test_the_programme_years_ends_are_dates_a_record_may_hold() -> None:
    for on in (date(1990, 1, 1), date(2999, 12, 31)):
        event = CommunityRenamed(community_id="yubo", name="虞波社区", effective_on=on)
        assert not [e for e in check(event, context()) if "between" in e[1]]
