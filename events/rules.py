"""Rule revision: the community's own rules (社区公约, 自治章程, 小微权力清单 …), versioned."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import ClassVar


class RuleDocument(enum.StrEnum):
    RESIDENTS_CONVENTION = "residents_convention"  # 居民公约
    VILLAGE_RULES = "village_rules"  # 村规民约
    AUTONOMY_CHARTER = "autonomy_charter"  # 自治章程
    MICRO_POWER_LIST = "micro_power_list"  # 小微权力清单
    BURDEN_REDUCTION_LIST = "burden_reduction_list"  # 减负清单
    CERTIFICATE_LIST = "certificate_list"  # 证明事项清单


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleRevised:
    TYPE: ClassVar[str] = "RuleRevised"
    VERSION: ClassVar[int] = 1

    community_id: str
    document: RuleDocument
    # Versions of one document only ever increase; the command refuses anything else.
    version: int
    adopted_on: date
    # Who adopted it, e.g. "居民代表会议" (the residents' representatives meeting).
    adopted_by: str
    digest: str
    summary: str
