"""The registry family: the city's towns and the communities and villages within them (DESIGN §2).

Payloads hold domain facts only; who asked and why travel in the event's metadata. Each event carries the
local date (Asia/Shanghai) from which it holds, so a community is in scope "as of" a date by its own
history, whenever the record was entered.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import ClassVar


class TownKind(enum.StrEnum):
    """A town (镇) or a subdistrict (街道) of the city."""

    TOWN = "town"
    SUBDISTRICT = "subdistrict"


class CommunityKind(enum.StrEnum):
    """An urban community (社区) or a village (村)."""

    COMMUNITY = "community"
    VILLAGE = "village"


@dataclass(frozen=True, slots=True, kw_only=True)
class TownRegistered:
    TYPE: ClassVar[str] = "TownRegistered"
    VERSION: ClassVar[int] = 1

    town_id: str
    city_id: str
    name: str
    kind: TownKind
    registered_on: date
    name_en: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityRegistered:
    TYPE: ClassVar[str] = "CommunityRegistered"
    VERSION: ClassVar[int] = 1

    community_id: str
    town_id: str
    name: str
    kind: CommunityKind
    registered_on: date
    name_en: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityRenamed:
    TYPE: ClassVar[str] = "CommunityRenamed"
    VERSION: ClassVar[int] = 1

    community_id: str
    name: str
    effective_on: date
    name_en: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityTransferred:
    TYPE: ClassVar[str] = "CommunityTransferred"
    VERSION: ClassVar[int] = 1

    community_id: str
    from_town_id: str
    to_town_id: str
    effective_on: date


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityRetired:
    TYPE: ClassVar[str] = "CommunityRetired"
    VERSION: ClassVar[int] = 1

    community_id: str
    reason: str
    effective_on: date
