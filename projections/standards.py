"""The default standard, version 1: the criteria of DESIGN §2, installed when the log has no standard.

Each criterion's title and description are the built-in texts of its id (`events.standard.BUILT_IN_TEXTS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from events.standard import BUILT_IN_TEXTS, Criterion, StandardRevised
from events.training import FIVE_ONES


def _criterion(criterion_id: str, kind: str, params: Mapping[str, Any]) -> Criterion:
    title, description = BUILT_IN_TEXTS[criterion_id]
    return Criterion(
        criterion_id=criterion_id, kind=kind, params=params, title=title, description=description
    )


DEFAULT_STANDARD = StandardRevised(
    version=1,
    effective_from=date(2021, 1, 1),
    title="慈溪市清廉社区规范化建设标准(第1版)",
    criteria=(
        _criterion(
            "residents-affairs-quarterly",
            "disclosure_every_period",
            {"category": "residents_affairs", "period": "quarter", "lookback": 4},
        ),
        _criterion(
            "finance-quarterly",
            "disclosure_every_period",
            {"category": "finance", "period": "quarter", "lookback": 4},
        ),
        _criterion("five-ones", "trainings_each_year", {"kinds": [kind.value for kind in FIVE_ONES]}),
        _criterion(
            "residents-convention-current",
            "rule_current",
            {"document": "residents_convention", "max_age_years": 5, "applies_to": "community"},
        ),
        _criterion(
            "village-rules-current",
            "rule_current",
            {"document": "village_rules", "max_age_years": 5, "applies_to": "village"},
        ),
        _criterion(
            "autonomy-charter-current", "rule_current", {"document": "autonomy_charter", "max_age_years": 5}
        ),
        _criterion(
            "micro-power-list-current", "rule_current", {"document": "micro_power_list", "max_age_years": 5}
        ),
        _criterion(
            "representatives-quarterly",
            "meetings_every_period",
            {"kind": "representatives", "period": "quarter", "lookback": 4},
        ),
        _criterion("findings-rectified", "no_open_findings", {"older_than_days": 30}),
        _criterion("duty-report", "annual_duty_report", {}),
    ),
)
