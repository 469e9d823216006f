"""Integrity education (五个一): the five kinds of activity each community holds every year."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import ClassVar


class TrainingKind(enum.StrEnum):
    WARNING_SITE_VISIT = "warning_site_visit"  # 廉政警示参观
    WARNING_MEETING = "warning_meeting"  # 警示教育会议
    CASE_ANALYSIS = "case_analysis"  # 典型案例剖析
    INTEGRITY_COURSE = "integrity_course"  # 清廉专题培训
    DEMOCRATIC_LIFE_MEETING = "democratic_life_meeting"  # 清廉专题民主生活会
    OTHER = "other"


# The "five ones": one of each in a year.
FIVE_ONES = (
    TrainingKind.WARNING_SITE_VISIT,
    TrainingKind.WARNING_MEETING,
    TrainingKind.CASE_ANALYSIS,
    TrainingKind.INTEGRITY_COURSE,
    TrainingKind.DEMOCRATIC_LIFE_MEETING,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingHeld:
    TYPE: ClassVar[str] = "TrainingHeld"
    VERSION: ClassVar[int] = 1

    community_id: str
    training_id: str
    kind: TrainingKind
    held_on: date
    title: str
    attendees: int
    # Whole and half hours are the norm; a float keeps 1.5 exact (finite floats only, see events.codec).
    hours: float
