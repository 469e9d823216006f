"""Sealing restricted text: the commitment, its opening, and reading events recorded before sealing."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.catalogue import CATALOGUE
from events.erasure import Erased
from events.errors import CodecError
from events.sealing import SALT_BYTES, Opening, Sealed, opens, seal, sealed_fields
from events.supervision import FindingRectified, ReportClosed, ReportReceived

SALT = bytes(range(SALT_BYTES))


@given(st.text(), st.binary(min_size=SALT_BYTES, max_size=SALT_BYTES))
def test_a_commitment_is_sha256_of_the_salt_and_the_text_and_opens_only_with_both(
    text: str, salt: bytes
) -> None:
    sealed, opening = seal("summary", text, salt)
    assert hashlib.sha256(salt + text.encode("utf-8")).hexdigest() == sealed.commitment
    assert opens(sealed, opening)
    assert not opens(sealed, Opening("summary", salt, text + "x"))
    assert not opens(sealed, Opening("summary", bytes(SALT_BYTES) if any(salt) else SALT, text))


def test_a_salt_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal("summary", "x", b"short")


def test_an_opening_never_shows_its_text_or_salt_when_printed() -> None:
    _, opening = seal("summary", "张三 13800138000", SALT)
    assert "张三" not in repr(opening)
    assert SALT.hex() not in repr(opening)
    assert "张三" not in str(opening)


def test_the_sealed_fields_of_each_type() -> None:
    assert ("summary",) == sealed_fields(ReportReceived)
    assert ("outcome",) == sealed_fields(ReportClosed)
    assert ("note",) == sealed_fields(FindingRectified)
    assert () == sealed_fields(Erased)
    assert {ReportReceived, ReportClosed, FindingRectified} == {
        cls for cls in CATALOGUE.types() if sealed_fields(cls)
    }


@pytest.mark.parametrize(
    ("type_", "field", "payload"),
    [
        (
            "ReportReceived",
            "summary",
            {"community_id": "c", "report_id": "r", "received_on": "2022-05-06", "channel": "hotline"},
        ),
        ("ReportClosed", "outcome", {"community_id": "c", "report_id": "r", "closed_on": "2022-05-20"}),
        ("FindingRectified", "note", {"community_id": "c", "finding_id": "f", "rectified_on": "2022-05-10"}),
    ],
)
def test_a_version_1_event_reads_as_its_inline_text_sealed_with_an_empty_salt(
    type_: str, field: str, payload: dict[str, str]
) -> None:
    event = CATALOGUE.decode(type_, 1, {**payload, field: "已整改"})
    assert 2 == type(event).VERSION
    assert Sealed(hashlib.sha256("已整改".encode()).hexdigest()) == getattr(event, field)


def test_a_version_1_event_without_its_text_is_refused_naming_the_field() -> None:
    with pytest.raises(CodecError) as caught:
        CATALOGUE.decode(
            "ReportClosed", 1, {"community_id": "c", "report_id": "r", "closed_on": "2022-05-20"}
        )
    assert "outcome" in str(caught.value)


def test_an_erasure_names_positions_and_fields() -> None:
    event = CATALOGUE.decode(
        "Erased",
        1,
        {
            "community_id": "c",
            "record_id": "r",
            "erased_on": "2022-07-01",
            "reason": "asked",
            "fields": [{"position": 3, "field": "summary"}],
        },
    )
    assert isinstance(event, Erased)
    assert (date(2022, 7, 1), 3, "summary") == (
        event.erased_on,
        event.fields[0].position,
        event.fields[0].field,
    )
