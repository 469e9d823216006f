"""Meetings and supervision: meetings, spot checks (回头看) and their findings, and reports (监督举报).

A reporter's identity is personal data, and this log can never forget: it holds only an opaque reference
to a record kept elsewhere, which can be erased without touching the log.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import ClassVar


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
    VERSION: ClassVar[int] = 1

    community_id: str
    finding_id: str
    rectified_on: date
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportReceived:
    TYPE: ClassVar[str] = "ReportReceived"
    VERSION: ClassVar[int] = 1

    community_id: str
    report_id: str
    received_on: date
    channel: str
    summary: str
    # An opaque reference to the reporter's identity, held outside the log; None for an anonymous report.
    reporter_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportClosed:
    TYPE: ClassVar[str] = "ReportClosed"
    VERSION: ClassVar[int] = 1

    community_id: str
    report_id: str
    closed_on: date
    outcome: str
