"""Commands validate against the log, name the field and the rule, and write nothing when refused."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from events.catalogue import CATALOGUE, STANDARD_STREAM
from events.disclosure import DisclosureCategory, DisclosureCorrected
from events.envelope import ExpectedVersion
from events.errors import ValidationError, VersionConflict
from events.hierarchy import CommunityRetired
from events.recognition import LeadingTalentRecognized, Level
from events.rules import RuleDocument
from events.standard import Criterion, StandardRevised, Text
from events.supervision import ReportReceived
from events.training import TrainingKind
from projections.standards import DEFAULT_STANDARD
from service.commands.handler import Commands, install_default_standard
from service.log.store import EventStore
from tests.support import domain
from tests.support.sealing import openings, sealed

# Recorded at 10:00 on 2022-06-08 in Shanghai.
NOW = datetime(2022, 6, 8, 2, 0, tzinfo=UTC)


@pytest.fixture
def commands(store: EventStore) -> Commands:
    return Commands(store, CATALOGUE, clock=lambda: NOW)


async def setup_community(commands: Commands, community_id: str = "shuyuan") -> None:
    await commands.record(domain.town("gutang"), idempotency_key="town")
    await commands.record(domain.community(community_id, "gutang"), idempotency_key=f"reg-{community_id}")


async def count(owner: asyncpg.Connection) -> int:
    value: int = await owner.fetchval("select count(*) from events")
    return value


async def refused(commands: Commands, event: Any, key: str = "refused") -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        await commands.record(event, idempotency_key=key)
    return caught.value.errors


async def test_a_valid_command_lands_on_its_stream(commands: Commands, store: EventStore) -> None:
    await setup_community(commands)
    result = await commands.record(
        domain.disclosure("shuyuan", DisclosureCategory.FINANCE, "2022-Q1", date(2022, 4, 8)),
        idempotency_key="d1",
    )
    assert "community-shuyuan" == result.stream_id
    assert 2 == result.stream_version


async def test_unknown_community_and_unknown_town_are_refused(
    commands: Commands, owner: asyncpg.Connection
) -> None:
    assert [("community_id", "unknown community 'nowhere'")] == await refused(
        commands, domain.training("nowhere", TrainingKind.OTHER, date(2022, 1, 1))
    )
    assert [("town_id", "unknown town 'atlantis'")] == await refused(
        commands, domain.community("x", "atlantis")
    )
    assert 0 == await count(owner)


async def test_a_retired_community_takes_no_more_records(commands: Commands) -> None:
    await setup_community(commands)
    await commands.record(
        CommunityRetired(community_id="shuyuan", reason="合并", effective_on=date(2022, 1, 1)),
        idempotency_key="retire",
    )
    errors = await refused(commands, domain.training("shuyuan", TrainingKind.OTHER, date(2022, 2, 1)))
    assert [("community_id", "community 'shuyuan' was retired on 2022-01-01")] == errors


@pytest.mark.parametrize("period", ["2022-Q5", "2022-13", "22", "2022-q1", "2022-Q1 ", "", "2022-00"])
async def test_a_period_that_is_not_well_formed_is_refused(commands: Commands, period: str) -> None:
    await setup_community(commands)
    errors = await refused(
        commands,
        replace(
            domain.disclosure("shuyuan", DisclosureCategory.FINANCE, period, date(2022, 4, 8)),
            disclosure_id="d1",
        ),
    )
    assert ["period"] == [field for field, _ in errors]
    assert "is not a period" in errors[0][1]


@pytest.mark.parametrize(
    ("period", "refused_"), [("2022-Q2", False), ("2022-04", False), ("2022-05", True), ("2023", True)]
)
async def test_a_disclosure_for_a_period_that_has_not_begun_is_refused(
    commands: Commands, period: str, refused_: bool
) -> None:
    await setup_community(commands)
    proposal = replace(
        domain.disclosure("shuyuan", DisclosureCategory.FINANCE, period, date(2022, 4, 8)), disclosure_id="d1"
    )
    errors = await refused(commands, proposal) if refused_ else []
    if not refused_:
        await commands.record(proposal, idempotency_key="d1")
    expected = [("period", f"{period} begins on")] if refused_ else []
    assert expected == [(field, message[: len(period) + 10]) for field, message in errors]


async def test_a_date_after_the_day_it_is_recorded_is_refused(commands: Commands) -> None:
    await setup_community(commands)
    # 2022-06-09 is tomorrow in Shanghai, although it is still 2022-06-08 in UTC.
    errors = await refused(commands, domain.training("shuyuan", TrainingKind.OTHER, date(2022, 6, 9)))
    assert [("held_on", "2022-06-09 is after today (2022-06-08)")] == errors
    assert [] == await refused_or_none(
        commands, domain.training("shuyuan", TrainingKind.OTHER, date(2022, 6, 8))
    )


async def refused_or_none(commands: Commands, event: Any) -> list[tuple[str, str]]:
    try:
        await commands.record(event, idempotency_key=f"maybe-{id(event)}", openings=openings(event))
    except ValidationError as exc:
        return exc.errors
    return []


async def test_negative_attendees_are_refused(commands: Commands) -> None:
    await setup_community(commands)
    event = replace(domain.training("shuyuan", TrainingKind.OTHER, date(2022, 1, 5)), attendees=-1)
    assert [("attendees", "must be between 0 and 1000000")] == await refused(commands, event)


async def test_a_correction_must_point_at_a_disclosure_of_the_same_community(commands: Commands) -> None:
    await setup_community(commands, "a")
    await commands.record(domain.community("b", "gutang"), idempotency_key="reg-b")
    await commands.record(
        domain.disclosure("b", DisclosureCategory.FINANCE, "2022-Q1", date(2022, 4, 8)), idempotency_key="db"
    )
    correction = DisclosureCorrected(
        community_id="a",
        corrects="b-finance-2022-Q1",
        corrected_on=date(2022, 4, 9),
        title="更正",
        digest=domain.digest("x"),
        reason="错别字",
    )
    assert [("corrects", "no disclosure 'b-finance-2022-Q1' of community 'a'")] == await refused(
        commands, correction
    )


async def test_a_rule_revision_must_increase_the_version(commands: Commands) -> None:
    await setup_community(commands)
    await commands.record(
        domain.rule("shuyuan", RuleDocument.AUTONOMY_CHARTER, 2, date(2021, 5, 1)), idempotency_key="r2"
    )
    for version in (1, 2):
        errors = await refused(
            commands,
            domain.rule("shuyuan", RuleDocument.AUTONOMY_CHARTER, version, date(2022, 5, 1)),
            f"again-{version}",
        )
        assert [("version", "must be greater than 2, the latest autonomy_charter version")] == errors
    # Other documents keep their own numbering.
    await commands.record(
        domain.rule("shuyuan", RuleDocument.MICRO_POWER_LIST, 1, date(2022, 5, 1)), idempotency_key="m1"
    )


async def test_unknown_enum_values_and_malformed_payloads_are_named_by_field(commands: Commands) -> None:
    await setup_community(commands)
    payload = {
        "community_id": "shuyuan",
        "training_id": "t1",
        "kind": "karaoke",
        "held_on": "2022-01-05",
        "title": "x",
        "attendees": 3,
        "hours": 1.0,
    }
    with pytest.raises(ValidationError) as caught:
        await commands.submit("TrainingHeld", payload, idempotency_key="k")
    assert [("kind", "'karaoke' is not a TrainingKind")] == caught.value.errors
    with pytest.raises(ValidationError) as caught:
        await commands.submit(
            "TrainingHeld", {**payload, "kind": "other", "held_on": "June"}, idempotency_key="k"
        )
    assert [("held_on", "'June' is not an ISO 8601 date")] == caught.value.errors
    with pytest.raises(ValidationError) as caught:
        await commands.submit("Teleported", {}, idempotency_key="k")
    assert [("type", "unknown command 'Teleported'")] == caught.value.errors


async def test_a_retried_command_returns_its_first_result(
    commands: Commands, owner: asyncpg.Connection
) -> None:
    await setup_community(commands)
    event = domain.training("shuyuan", TrainingKind.OTHER, date(2022, 1, 5))
    first = await commands.record(event, idempotency_key="once")
    again = await commands.record(event, idempotency_key="once")
    assert first.positions == again.positions
    assert again.replayed
    assert 3 == await count(owner)


async def test_concurrent_commands_on_one_community_all_land_without_manual_retries(
    commands: Commands, store: EventStore
) -> None:
    await setup_community(commands)
    events = [domain.training("shuyuan", TrainingKind.OTHER, date(2022, 1, 1 + n), n) for n in range(8)]
    results = await asyncio.gather(
        *(commands.record(e, idempotency_key=f"t{n}") for n, e in enumerate(events))
    )
    assert list(range(2, 10)) == sorted(r.stream_version for r in results)
    assert 9 == await store.stream_version("community-shuyuan")


async def test_an_explicit_expected_version_is_the_callers_to_keep(commands: Commands) -> None:
    await setup_community(commands)
    with pytest.raises(VersionConflict):
        await commands.record(
            domain.training("shuyuan", TrainingKind.OTHER, date(2022, 1, 1)),
            idempotency_key="t",
            expected_version=ExpectedVersion.exactly(5),
        )


async def test_the_default_standard_is_installed_once(commands: Commands, store: EventStore) -> None:
    results = await asyncio.gather(*(install_default_standard(commands, store) for _ in range(3)))
    assert 1 == await store.stream_version(STANDARD_STREAM)
    assert any(r is not None for r in results)
    assert None is await install_default_standard(commands, store)


# A criterion's texts, given so that the errors are the parameters' alone (texts: tests/schema/test_words.py).
TEXTS = {"title": Text(zh="标题", en="Title"), "description": Text(zh="说明", en="What it requires.")}


async def test_a_standard_revision_is_validated_criterion_by_criterion(
    commands: Commands, store: EventStore
) -> None:
    await install_default_standard(commands, store)
    bad = StandardRevised(
        version=3,
        effective_from=date(2022, 7, 1),
        title="v2",
        criteria=(
            Criterion(
                criterion_id="a", kind="disclosure_every_period", params={"category": "gossip"}, **TEXTS
            ),
            Criterion(criterion_id="a", kind="astrology", params={}, **TEXTS),
        ),
    )
    errors = await refused(commands, bad)
    assert [
        ("version", "must be 2, the next version of the standard"),
        (
            "criteria[0].params.category",
            "'gossip' is not one of party_affairs, residents_affairs, finance, major_matter, annual_plan",
        ),
        (
            "criteria[1].kind",
            "unknown criterion kind 'astrology'; known: annual_duty_report, disclosure_every_period, "
            "meetings_every_period, no_open_findings, rule_current, trainings_each_year",
        ),
        ("criteria[1].criterion_id", "'a' is used twice"),
    ] == errors
    good = StandardRevised(
        version=2, effective_from=date(2022, 7, 1), title="v2", criteria=DEFAULT_STANDARD.criteria[:3]
    )
    assert 2 == (await commands.record(good, idempotency_key="v2")).stream_version


@pytest.mark.parametrize(
    ("reporter_ref", "allowed"),
    [
        ("ref:7f3a9c21", True),
        ("ref:" + "a" * 64, True),
        ("张三 13800138000", False),
        ("ref:short", False),
        ("ref:" + "a" * 65, False),
        ("ref:has space!", False),
        ("7f3a9c21", False),
    ],
)
async def test_a_reference_to_a_person_must_be_opaque(
    commands: Commands, owner: asyncpg.Connection, reporter_ref: str, allowed: bool
) -> None:
    await setup_community(commands)
    before = await count(owner)
    report = ReportReceived(
        community_id="shuyuan",
        report_id="r-1",
        received_on=date(2022, 5, 6),
        channel="hotline",
        summary=sealed("summary", "反映停车位分配不公开"),
        reporter_ref=reporter_ref,
    )
    errors = await refused_or_none(commands, report)
    assert allowed == (errors == [])
    if not allowed:
        assert ["reporter_ref"] == [field for field, _ in errors]
        assert before == await count(owner)
    talent = LeadingTalentRecognized(
        community_id="shuyuan", person_ref=reporter_ref, level=Level.CITY, recognized_on=date(2022, 5, 6)
    )
    assert allowed == ((await refused_or_none(commands, talent)) == [])
