"""Disclosure (公开): what a community published, where, for which period — and corrections of it.

Nothing is edited: a correction is a new event that points at the disclosure it corrects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import ClassVar


class DisclosureCategory(enum.StrEnum):
    """What is disclosed."""

    PARTY_AFFAIRS = "party_affairs"  # 党务公开
    RESIDENTS_AFFAIRS = "residents_affairs"  # 居务公开
    FINANCE = "finance"  # 财务公开
    MAJOR_MATTER = "major_matter"  # 三重一大
    ANNUAL_PLAN = "annual_plan"  # 建设计划


class Channel(enum.StrEnum):
    """Where it was published."""

    NOTICE_BOARD = "notice_board"  # 公开栏
    ONLINE = "online"  # 网上公开


@dataclass(frozen=True, slots=True, kw_only=True)
class DisclosurePublished:
    TYPE: ClassVar[str] = "DisclosurePublished"
    VERSION: ClassVar[int] = 1

    community_id: str
    disclosure_id: str
    category: DisclosureCategory
    # The period the disclosure covers: a year "2022", a quarter "2022-Q2" or a month "2022-06".
    period: str
    channel: Channel
    published_on: date
    title: str
    # SHA-256 of the published document, hex: the log proves what was published without holding it.
    digest: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DisclosureCorrected:
    TYPE: ClassVar[str] = "DisclosureCorrected"
    VERSION: ClassVar[int] = 1

    community_id: str
    # The disclosure this one corrects; it stays in the log, superseded.
    corrects: str
    corrected_on: date
    title: str
    digest: str
    reason: str
