"""Recognition: demonstration points (示范观察点), leading talents (领军人才) and duty reports (述职述廉)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import ClassVar


class Level(enum.StrEnum):
    PROVINCIAL = "provincial"  # 省级
    PREFECTURE = "prefecture"  # 宁波市级
    CITY = "city"  # 慈溪市级


@dataclass(frozen=True, slots=True, kw_only=True)
class DemonstrationPointDesignated:
    TYPE: ClassVar[str] = "DemonstrationPointDesignated"
    VERSION: ClassVar[int] = 1

    community_id: str
    level: Level
    designated_on: date
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadingTalentRecognized:
    TYPE: ClassVar[str] = "LeadingTalentRecognized"
    VERSION: ClassVar[int] = 1

    community_id: str
    # An opaque reference to the person, held outside the log (personal data).
    person_ref: str
    level: Level
    recognized_on: date


@dataclass(frozen=True, slots=True, kw_only=True)
class DutyReportFiled:
    TYPE: ClassVar[str] = "DutyReportFiled"
    VERSION: ClassVar[int] = 1

    community_id: str
    year: int
    filed_on: date
    # The role that reported, e.g. "社区书记"; the person is not named in the log.
    reporter_role: str
