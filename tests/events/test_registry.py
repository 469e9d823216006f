"""The type registry: explicit types, payload round trips, and the upcaster chain."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.catalogue import CATALOGUE
from events.codec import JSON, MAX_SAFE_INTEGER, canonical_json
from events.envelope import payload_json_of
from events.erasure import ErasedField
from events.errors import CodecError, UnknownEventType
from events.registry import Event, Registry
from events.sealing import Sealed
from events.standard import Criterion
from events.supervision import Finding

safe_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)


# Values a payload can hold: text without U+0000, integers exact in every language, finite floats.
BY_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "str": safe_text,
    "int": st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "str | None": st.none() | safe_text,
    "tuple[str, ...]": st.lists(safe_text, max_size=3).map(tuple),
    "Mapping[str, Any]": st.dictionaries(safe_text, st.integers(0, 10) | safe_text, max_size=3),
    # The log keeps instants, in UTC: a naive time is refused when encoded.
    "datetime": st.datetimes(datetime(1970, 1, 1), datetime(2999, 12, 31), timezones=st.just(UTC)),
    "datetime | None": st.none()
    | st.datetimes(datetime(1970, 1, 1), datetime(2999, 12, 31), timezones=st.just(UTC)),
}
st.register_type_strategy(
    Criterion,
    st.builds(Criterion, criterion_id=safe_text, kind=safe_text, params=BY_TYPE["Mapping[str, Any]"]),
)
st.register_type_strategy(Finding, st.builds(Finding, finding_id=safe_text, summary=safe_text))
st.register_type_strategy(
    Sealed, st.builds(Sealed, commitment=st.text("0123456789abcdef", min_size=64, max_size=64))
)
st.register_type_strategy(
    ErasedField, st.builds(ErasedField, position=st.integers(1, 2**53 - 1), field=safe_text)
)


def event_strategy(cls: type[Event]) -> st.SearchStrategy[Event]:
    fields = {
        f.name: BY_TYPE[str(f.type)]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if str(f.type) in BY_TYPE
    }
    return st.builds(cls, **fields)


@pytest.mark.parametrize("cls", CATALOGUE.types(), ids=lambda c: c.TYPE)
def test_every_catalogued_event_round_trips_through_its_payload(cls: type[Event]) -> None:
    @given(event_strategy(cls))
    def check(event: Event) -> None:
        type_, version, payload = CATALOGUE.encode(event)
        canonical_json(payload)  # every payload has a canonical form
        assert (cls.TYPE, cls.VERSION) == (type_, version)
        assert event == CATALOGUE.decode(type_, version, payload)
        assert event == CATALOGUE.decode_text(type_, version, canonical_json(payload))

    check()


@pytest.mark.parametrize("cls", CATALOGUE.types(), ids=lambda c: c.TYPE)
def test_the_fast_canonical_encoding_equals_the_careful_one(cls: type[Event]) -> None:
    @given(event_strategy(cls))
    def check(event: Event) -> None:
        type_, version, payload = CATALOGUE.encode(event)
        assert (type_, version, canonical_json(payload)) == CATALOGUE.encode_canonical(event)

    check()


def test_the_fast_encoding_defers_unusual_values_to_the_careful_one() -> None:
    from events.hierarchy import CommunityKind, CommunityRegistered

    nul = CommunityRegistered(
        community_id="a",
        town_id="t",
        name="x\x00",
        kind=CommunityKind.COMMUNITY,
        registered_on=date(2022, 1, 1),
    )
    with pytest.raises(CodecError, match="name: text contains U\\+0000"):
        CATALOGUE.encode_canonical(nul)
    surrogate = dataclasses.replace(nul, name="\udc80")
    with pytest.raises(CodecError, match="name: text contains a lone surrogate"):
        CATALOGUE.encode_canonical(surrogate)
    wrong_type = dataclasses.replace(nul, name=5)  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="name: expected str, got int"):
        CATALOGUE.encode_canonical(wrong_type)


@pytest.mark.parametrize("cls", CATALOGUE.types(), ids=lambda c: c.TYPE)
def test_events_are_frozen_slotted_keyword_only_dataclasses(cls: type[Event]) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert hasattr(cls, "__slots__")
    assert all(f.kw_only for f in dataclasses.fields(cls))  # type: ignore[arg-type]


# A small registry of its own, with an event that has been through two payload changes.
@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingHeldForTest:
    TYPE: ClassVar[str] = "TestTrainingHeld"
    VERSION: ClassVar[int] = 3

    community_id: str
    held_on: date
    attendees: int
    hours: float = 0.0


def v1_to_v2(payload: dict[str, JSON]) -> dict[str, JSON]:
    # v1 called it "date"; v2 renamed it.
    result = dict(payload)
    result["held_on"] = result.pop("date")
    return result


def v2_to_v3(payload: dict[str, JSON]) -> dict[str, JSON]:
    # v3 added attendees; older records did not count them.
    return {**payload, "attendees": 0}


REGISTRY = Registry(
    event_types=(TrainingHeldForTest,),
    upcasters={("TestTrainingHeld", 1): v1_to_v2, ("TestTrainingHeld", 2): v2_to_v3},
)


def test_reading_an_old_version_runs_the_upcaster_chain() -> None:
    event = REGISTRY.decode("TestTrainingHeld", 1, {"community_id": "a", "date": "2022-03-01", "hours": 2})
    assert TrainingHeldForTest(community_id="a", held_on=date(2022, 3, 1), attendees=0, hours=2.0) == event


def test_the_current_version_decodes_without_upcasting() -> None:
    payload: dict[str, JSON] = {"community_id": "a", "held_on": "2022-03-01", "attendees": 12, "hours": 1.5}
    assert ("TestTrainingHeld", 3, payload) == REGISTRY.encode(
        REGISTRY.decode("TestTrainingHeld", 3, payload)
    )


@pytest.mark.parametrize(
    ("type_", "version", "payload", "error", "message"),
    [
        ("Nope", 1, {}, UnknownEventType, "unknown event type 'Nope'"),
        ("TestTrainingHeld", 4, {}, UnknownEventType, "version 4"),
        ("TestTrainingHeld", 0, {}, UnknownEventType, "version 0"),
        (
            "TestTrainingHeld",
            3,
            {"community_id": "a", "held_on": "2022-03-01", "attendees": 1, "x": 1},
            CodecError,
            "x: unknown field",
        ),
        ("TestTrainingHeld", 3, {"community_id": "a", "held_on": "2022-03-01"}, CodecError, "attendees"),
        (
            "TestTrainingHeld",
            3,
            {"community_id": "a", "held_on": "yesterday", "attendees": 1},
            CodecError,
            "held_on: 'yesterday' is not an ISO 8601 date",
        ),
        (
            "TestTrainingHeld",
            3,
            {"community_id": 5, "held_on": "2022-03-01", "attendees": 1},
            CodecError,
            "community_id: expected str, got int",
        ),
        (
            "TestTrainingHeld",
            3,
            {"community_id": "a", "held_on": "2022-03-01", "attendees": True},
            CodecError,
            "attendees: expected int, got bool",
        ),
    ],
)
def test_payloads_that_do_not_fit_are_refused_naming_the_field(
    type_: str, version: int, payload: dict[str, JSON], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        REGISTRY.decode(type_, version, payload)
    # Decoded from its text, as a replay decodes it, the same payload is refused the same way.
    with pytest.raises(error, match=message):
        REGISTRY.decode_text(type_, version, json.dumps(payload))


def test_reading_an_old_version_from_its_text_runs_the_upcaster_chain() -> None:
    text = '{"community_id": "a", "date": "2022-03-01", "hours": 2}'
    event = REGISTRY.decode_text("TestTrainingHeld", 1, text)
    assert TrainingHeldForTest(community_id="a", held_on=date(2022, 3, 1), attendees=0, hours=2.0) == event


def test_the_payload_is_decoded_from_the_envelope_as_it_stands_in_the_canonical_bytes() -> None:
    payload: dict[str, JSON] = {"community_id": "a", "held_on": "2022-03-01", "attendees": 12, "hours": 1.5}
    envelope = canonical_json({"metadata": {"payload": 1}, "payload": payload, "type": "TestTrainingHeld"})
    raw = payload_json_of(envelope.encode())
    assert canonical_json(payload).encode() == bytes(raw)
    assert REGISTRY.decode("TestTrainingHeld", 3, payload) == REGISTRY.decode_text("TestTrainingHeld", 3, raw)


def test_an_unknown_enum_value_is_refused_naming_the_field() -> None:
    payload: dict[str, JSON] = {
        "community_id": "a",
        "town_id": "t",
        "name": "n",
        "kind": "castle",
        "name_en": None,
    }
    with pytest.raises(CodecError, match="kind: 'castle' is not a CommunityKind"):
        CATALOGUE.decode("CommunityRegistered", 1, payload)


def test_a_registry_refuses_duplicate_types_and_stray_upcasters() -> None:
    with pytest.raises(TypeError, match="registered twice"):
        Registry(event_types=(TrainingHeldForTest, TrainingHeldForTest))
    with pytest.raises(TypeError, match="reads no earlier version"):
        Registry(event_types=(TrainingHeldForTest,), upcasters={("TestTrainingHeld", 3): v2_to_v3})


def test_encoding_an_unregistered_event_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        CATALOGUE.encode(TrainingHeldForTest(community_id="a", held_on=date(2022, 1, 1), attendees=1))
