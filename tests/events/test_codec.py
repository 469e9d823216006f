"""Canonical bytes: one form per value, stable, and strict about what it accepts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.codec import MAX_DEPTH, MAX_SAFE_INTEGER, canonical_json, parse_canonical
from events.envelope import ExpectedVersion, envelope_json
from events.errors import CodecError, InvalidAppend

# Text PostgreSQL and UTF-8 can both hold: no U+0000, no lone surrogates.
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
def test_canonical_bytes_round_trip_to_an_equal_value(value: object) -> None:
    data = canonical_json(value).encode()
    assert value == json.loads(data)
    assert data == canonical_json(parse_canonical(data)).encode()


@given(st.dictionaries(text, json_values, max_size=6))
def test_key_order_and_spacing_of_the_input_do_not_change_the_bytes(value: dict[str, object]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(value).encode() == canonical_json(reordered).encode()
    spaced = json.dumps(value, indent=3, ensure_ascii=True)
    assert canonical_json(value).encode() == canonical_json(json.loads(spaced)).encode()


def test_the_canonical_form_sorts_keys_and_keeps_non_ascii_text_unescaped() -> None:
    assert '{"a":[1,2.5,null,true],"b":"舒苑","z":{}}' == canonical_json(
        {"z": {}, "b": "舒苑", "a": [1, 2.5, None, True]}
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "NaN"),
        (float("inf"), "NaN and infinities"),
        (MAX_SAFE_INTEGER + 1, "2\\*\\*53"),
        (-MAX_SAFE_INTEGER - 1, "2\\*\\*53"),
        ({"a": "x\x00y"}, "a: text contains U\\+0000"),
        ({"bad\x00key": 1}, "U\\+0000"),
        ({"a": ["\udc80"]}, "a\\[0\\]: text contains a lone surrogate"),
        ({1: "x"}, "object key 1 is not a string"),
        ({"a": {1, 2}}, "set has no JSON form"),
        ({"a": b"bytes"}, "bytes has no JSON form"),
        ({"when": datetime(2022, 1, 1, tzinfo=UTC)}, "datetime has no JSON form"),
    ],
)
def test_values_without_a_canonical_form_are_refused_naming_the_path(value: object, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        canonical_json(value)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    value: object = 1
    for _ in range(MAX_DEPTH + 2):
        value = [value]
    with pytest.raises(CodecError, match="nested deeper"):
        canonical_json(value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a":1,"a":2}', "duplicate object key"),
        (b'{"b":1,"a":2}', "not in canonical form"),
        (b'{"a": 1}', "not in canonical form"),
        (b'{"a":"\\u00e9"}', "not in canonical form"),
        (b'{"a":NaN}', "NaN is not allowed"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"a":', "not JSON"),
        (b"", "not JSON"),
    ],
)
def test_parse_canonical_refuses_anything_but_the_canonical_form(data: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        parse_canonical(data)


@given(
    position=st.integers(1, MAX_SAFE_INTEGER),
    version=st.integers(1, 10**9),
    stream=st.from_regex(r"[a-z]{1,10}-[a-z0-9]{1,20}", fullmatch=True),
    payload=st.dictionaries(text, json_values, max_size=5),
    metadata=st.dictionaries(text, json_values, max_size=3),
    micros=st.integers(0, 10**15),
)
def test_the_hand_written_envelope_equals_the_canonical_form_of_the_envelope(
    position: int,
    version: int,
    stream: str,
    payload: dict[str, object],
    metadata: dict[str, object],
    micros: int,
) -> None:
    event_id = UUID(int=micros * 7919)
    moment = datetime.fromtimestamp(micros / 10**6, UTC)
    built = envelope_json(
        position=position,
        stream_id=stream,
        stream_version=version,
        event_id=event_id,
        type_="CommunityRenamed",
        schema_version=1,
        payload_json=canonical_json(payload),
        metadata_json=canonical_json(metadata),
        recorded_at=moment,
    )
    assert (
        canonical_json(
            {
                "event_id": str(event_id),
                "metadata": metadata,
                "payload": payload,
                "position": position,
                "recorded_at": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "schema_version": 1,
                "stream_id": stream,
                "stream_version": version,
                "type": "CommunityRenamed",
            }
        )
        == built
    )


def test_expected_versions() -> None:
    assert ExpectedVersion.exactly(0) == ExpectedVersion.no_stream()
    assert ExpectedVersion.any().admits(5)
    assert ExpectedVersion.no_stream().admits(0)
    assert not ExpectedVersion.no_stream().admits(1)
    assert ExpectedVersion.exactly(3).admits(3)
    assert not ExpectedVersion.exactly(3).admits(2)
    assert "3" == str(ExpectedVersion.exactly(3))
    for bad in (-1, True, "3", 1.0):
        with pytest.raises(InvalidAppend, match="expected_version"):
            ExpectedVersion.exactly(bad)  # type: ignore[arg-type]


def test_parsing_hostile_nesting_is_a_codec_error_not_a_crash() -> None:
    with pytest.raises(CodecError, match="nested too deeply"):
        parse_canonical(b"[" * 100_000)
