"""Meetings and supervision: meetings, spot checks (回头看) and their findings, and reports (监督举报).

A reporter's identity is personal data, and this log can never forget: it holds only an opaque reference
to a record kept elsewhere, which can be erased without touching the log. Free text that may describe a
person (a report's summary and outcome, a rectification note) is sealed (`events/sealing.py`) from schema
version 2 on; version 1 carried it inline, and its upcaster reads that text as sealed with an empty salt.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from events.codec import JSON
from events.sealing import Sealed, commitment


class MeetingKind(enum.StrEnum):
    REPRESENTATIVES = "representatives"  # 居民代表会议
    CONSULTATION = "consultation"  # 民主恳谈会
    COUNCIL = "council"  # 居民议事会


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingHeld:
    TYPE: ClassVar[str] = "MeetingHeld"
    VERSION: ClassVar[int] = 1

    community_id: str
    meeting_id: str
    kind: MeetingKind
    held_on: date
    attendees: int
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One problem a spot check found; it stays open until rectified."""

    finding_id: str
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SpotCheckRecorded:
    TYPE: ClassVar[str] = "SpotCheckRecorded"
    VERSION: ClassVar[int] = 1

    community_id: str
    check_id: str
    checked_on: date
    # The inspecting body, e.g. "市民政局"; an office, not a person.
    checked_by: str
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingRectified:
    TYPE: ClassVar[str] = "FindingRectified"
    VERSION: ClassVar[int] = 2

    community_id: str
    finding_id: str
    rectified_on: date
    note: Sealed


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportReceived:
    TYPE: ClassVar[str] = "ReportReceived"
    VERSION: ClassVar[int] = 2

    community_id: str
    report_id: str
    received_on: date
    channel: str
    summary: Sealed
    # An opaque reference to the reporter's identity, held outside the log; None for an anonymous report.
    reporter_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportClosed:
    TYPE: ClassVar[str] = "ReportClosed"
    VERSION: ClassVar[int] = 2

    community_id: str
    report_id: str
    closed_on: date
    outcome: Sealed


def seal_inline(field: str) -> Callable[[dict[str, JSON]], dict[str, JSON]]:
    """The v1 → v2 upcaster of a type whose `field` was inline text: the text read as sealed with an empty
    salt. The text itself stays in the v1 event's bytes, which must not change."""

    def upcast(payload: dict[str, JSON]) -> dict[str, JSON]:
        text = payload.get(field)
        if not isinstance(text, str):
            return payload  # decoding then names the field and what is wrong with it
        return {**payload, field: {"commitment": commitment(b"", text)}}

    return upcast


INLINE_TEXT_V1 = {"FindingRectified": "note", "ReportReceived": "summary", "ReportClosed": "outcome"}
UPCASTERS = {(type_, 1): seal_inline(field) for type_, field in INLINE_TEXT_V1.items()}
