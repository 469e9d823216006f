"""The payload codec (msgspec): the reference form's canonical bytes, and errors that name the field."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.access import AccessGranted, Role, ScopeKind
from events.catalogue import CATALOGUE
from events.codec import MAX_SAFE_INTEGER, canonical_json
from events.errors import CodecError
from events.hierarchy import CommunityKind, CommunityRegistered
from events.payloads import from_json, from_json_text, to_json, to_json_text
from events.recognition import DutyReportFiled
from events.registry import Event
from events.sealing import Sealed
from events.supervision import Finding, FindingRectified, SpotCheckRecorded
from events.training import TrainingHeld, TrainingKind
from projections.community import Folder, StandardVersion, World
from projections.facts import CommunityFacts
from projections.standards import DEFAULT_STANDARD
from service.demo.generator import generate_demo
from tests.events.test_registry import event_strategy

# The reference canonical form, as the hand-written codec wrote it before msgspec: walk the value, then the
# standard library's encoder with sorted keys, no whitespace and non-ASCII text unescaped.
_REFERENCE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))


def reference_form(value: object) -> object:
    if isinstance(value, enum.Enum):
        return reference_form(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): reference_form(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [reference_form(item) for item in value]
    assert dataclasses.is_dataclass(value)
    assert not isinstance(value, type)
    return {f.name: reference_form(getattr(value, f.name)) for f in dataclasses.fields(value)}


@pytest.mark.parametrize("cls", CATALOGUE.types(), ids=lambda c: c.TYPE)
def test_the_canonical_text_of_every_event_is_the_reference_form_and_reads_back(cls: type[Event]) -> None:
    @given(event_strategy(cls))
    def check(event: Event) -> None:
        type_, version, text = CATALOGUE.encode_canonical(event)
        assert _REFERENCE.encode(reference_form(event)) == text
        assert event == CATALOGUE.decode(type_, version, json.loads(text))

    check()


@pytest.mark.parametrize("cls", CATALOGUE.types(), ids=lambda c: c.TYPE)
def test_a_payload_reads_back_from_its_json_text_too(cls: type[Event]) -> None:
    @given(event_strategy(cls))
    def check(event: Event) -> None:
        assert event == from_json_text(cls, CATALOGUE.encode_canonical(event)[2])

    check()


# -- the two writers of events.codec -------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_the_canonical_writer_writes_the_reference_bytes(value: object) -> None:
    assert _REFERENCE.encode(value) == canonical_json(value)


def test_every_code_point_is_written_as_the_reference_writes_it() -> None:
    every = "".join(chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert _REFERENCE.encode(every) == canonical_json(every)
    keys = {chr(c): c for c in (*range(1, 0x300), 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF)}
    assert _REFERENCE.encode(keys) == canonical_json(keys)


@pytest.mark.parametrize("number", [1e16, 1e-7, 1e22, 123456789012345678.0, 0.1 + 0.2, -0.0, 5e-324])
def test_floats_are_written_as_the_reference_writes_them(number: float) -> None:
    assert _REFERENCE.encode({"x": [number, "舒苑"]}) == canonical_json({"x": [number, "舒苑"]})


# -- timestamps ----------------------------------------------------------------------------------------


def grant(granted_at: datetime) -> AccessGranted:
    return AccessGranted(
        token_id="t",
        label="ops",
        role=Role.ADMIN,
        scope_kind=ScopeKind.CITY,
        scope_id="",
        granted_at=granted_at,
        expires_at=None,
        issuer="cli",
    )


def test_timestamps_are_written_in_utc_with_microseconds_and_a_z_whatever_the_zone() -> None:
    shanghai = timezone(timedelta(hours=8))
    payload = to_json(grant(datetime(2022, 6, 8, 9, 2, 3, tzinfo=shanghai)))
    assert isinstance(payload, dict)
    assert "2022-06-08T01:02:03.000000Z" == payload["granted_at"]
    assert None is payload["expires_at"]


def test_a_naive_timestamp_is_refused_naming_the_field() -> None:
    with pytest.raises(CodecError, match="granted_at: timestamps in the log must be timezone-aware"):
        CATALOGUE.encode_canonical(grant(datetime(2022, 6, 8)))


# -- what encoding refuses -------------------------------------------------------------------------------

TRAINING = TrainingHeld(
    community_id="shuyuan",
    training_id="t1",
    kind=TrainingKind.OTHER,
    held_on=date(2022, 1, 5),
    title="清廉",
    attendees=3,
    hours=1.5,
)


def altered(event: Any, **changes: Any) -> Any:
    """`event` with fields changed to values of any type: dataclasses do not check them."""
    return dataclasses.replace(event, **changes)


CHECK = SpotCheckRecorded(
    community_id="shuyuan",
    check_id="c1",
    checked_on=date(2022, 3, 1),
    checked_by="市民政局",
    findings=(Finding(finding_id="f1", summary="s"),),
)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (altered(TRAINING, hours=math.nan), "hours: NaN and infinities have no JSON form"),
        (altered(TRAINING, hours=math.inf), "hours: NaN and infinities have no JSON form"),
        (altered(TRAINING, attendees=MAX_SAFE_INTEGER + 1), "attendees: integer outside"),
        (altered(TRAINING, title=b"x"), "title: bytes has no JSON form"),
        (altered(TRAINING, hours=Decimal("1.5")), "hours: Decimal has no JSON form"),
        (altered(TRAINING, title=object()), "title: object has no JSON form"),
        (altered(TRAINING, attendees="3"), "attendees: expected int, got str"),
        (altered(TRAINING, kind="karaoke"), "kind: 'karaoke' is not a TrainingKind"),
        (altered(TRAINING, held_on="June"), "held_on: 'June' is not an ISO 8601 date"),
        (
            DutyReportFiled(community_id="a", year=True, filed_on=date(2022, 1, 1), reporter_role="r"),
            "year: expected int, got bool",
        ),
        (
            altered(CHECK, findings=(Finding(finding_id="f1", summary="x\x00"),)),
            "findings\\[0\\].summary: text contains U\\+0000",
        ),
        (
            altered(CHECK, findings=(Finding(finding_id=5, summary="s"),)),  # type: ignore[arg-type]
            "findings\\[0\\].finding_id: expected str, got int",
        ),
        (
            altered(CHECK, findings=({"finding_id": "f1"},)),
            "findings\\[0\\].summary: missing, and Finding requires it",
        ),
    ],
)
def test_values_the_rules_refuse_are_refused_on_encoding_naming_the_field(event: Event, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        CATALOGUE.encode_canonical(event)


# -- what decoding refuses ------------------------------------------------------------------------------

CHECK_PAYLOAD: dict[str, Any] = {
    "community_id": "shuyuan",
    "check_id": "c1",
    "checked_on": "2022-03-01",
    "checked_by": "市民政局",
    "findings": [{"finding_id": "f1", "summary": "s"}],
}


@pytest.mark.parametrize(
    ("type_", "payload", "message"),
    [
        (
            "SpotCheckRecorded",
            {**CHECK_PAYLOAD, "findings": [{"finding_id": "f1", "summary": "s", "extra": 1}]},
            "findings\\[0\\].extra: unknown field for Finding",
        ),
        (
            "SpotCheckRecorded",
            {**CHECK_PAYLOAD, "findings": [{"finding_id": "f1"}]},
            "findings\\[0\\].summary: missing, and Finding requires it",
        ),
        (
            "SpotCheckRecorded",
            {**CHECK_PAYLOAD, "findings": [{"finding_id": "f1", "summary": 7}]},
            "findings\\[0\\].summary: expected str, got int",
        ),
        ("SpotCheckRecorded", {**CHECK_PAYLOAD, "findings": "none"}, "findings: expected array, got str"),
        (
            "FindingRectified",
            {"community_id": "a", "finding_id": "f", "rectified_on": "2022-01-01", "note": {"text": "x"}},
            "note.text: unknown field for Sealed",
        ),
        (
            "AccessRevoked",
            {"token_id": "t", "revoked_at": "soon", "reason": "r", "issuer": "cli"},
            "revoked_at: 'soon' is not an ISO 8601 datetime",
        ),
        ("SpotCheckRecorded", {**CHECK_PAYLOAD, "checked_by": None}, "checked_by: expected str, got null"),
    ],
)
def test_payloads_that_do_not_fit_are_refused_naming_the_nested_field(
    type_: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(CodecError, match=message):
        CATALOGUE.decode(type_, CATALOGUE.class_for(type_).VERSION, payload)


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(CodecError, match="<root>: expected object, got array"):
        CATALOGUE.decode("SpotCheckRecorded", 1, [])  # type: ignore[arg-type]


def test_an_old_version_is_upcast_then_decoded() -> None:
    v1 = {"community_id": "a", "finding_id": "f", "rectified_on": "2022-01-01", "note": "已整改"}
    event = CATALOGUE.decode("FindingRectified", 1, v1)
    assert isinstance(event, FindingRectified)
    assert isinstance(event.note, Sealed)
    with pytest.raises(CodecError, match="note: expected object, got int"):
        CATALOGUE.decode("FindingRectified", 1, {**v1, "note": 5})


def test_an_optional_field_left_out_takes_its_default() -> None:
    payload = {
        "community_id": "a",
        "town_id": "t",
        "name": "n",
        "kind": "village",
        "registered_on": "2022-01-01",
    }
    event = CATALOGUE.decode("CommunityRegistered", 1, payload)
    assert (
        CommunityRegistered(
            community_id="a",
            town_id="t",
            name="n",
            kind=CommunityKind.VILLAGE,
            registered_on=date(2022, 1, 1),
        )
        == event
    )


# -- the projection facts -------------------------------------------------------------------------------


def demo_world() -> World:
    folder = Folder(World())
    commands = generate_demo(7, until=date(2023, 12, 31)).commands
    folder.add([(1, DEFAULT_STANDARD), *((i + 2, c.event) for i, c in enumerate(commands))])
    return folder.world()


def test_the_facts_round_trip_through_their_json_text() -> None:
    world = demo_world()
    assert world.communities
    assert world.towns
    assert world.standards
    for facts in world.communities.values():
        assert facts == from_json_text(CommunityFacts, to_json_text(facts))
        # As PostgreSQL's jsonb gives it back: spaced, keys in its own order.
        assert facts == from_json_text(CommunityFacts, json.dumps(json.loads(to_json_text(facts)), indent=1))
        assert facts == from_json(CommunityFacts, json.loads(to_json_text(facts)))
    for standard in world.standards:
        assert standard == from_json_text(StandardVersion, to_json_text(standard))


def test_facts_that_do_not_fit_are_refused_naming_the_field() -> None:
    with pytest.raises(CodecError, match="<root>: not JSON"):
        from_json_text(CommunityFacts, "{")
    with pytest.raises(CodecError, match=r"names\[0\]\.nickname: unknown field for Named"):
        from_json_text(
            CommunityFacts,
            '{"community_id":"a","names":[{"name":"n","name_en":null,"since":"2022-01-01","position":1,'
            '"nickname":"x"}]}',
        )
