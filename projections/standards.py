"""The default standard, version 1: the criteria of DESIGN §2, installed when the log has no standard."""

from __future__ import annotations

from datetime import date

from events.standard import Criterion, StandardRevised
from events.training import FIVE_ONES

DEFAULT_STANDARD = StandardRevised(
    version=1,
    effective_from=date(2021, 1, 1),
    title="慈溪市清廉社区规范化建设标准(第1版)",
    criteria=(
        Criterion(
            criterion_id="residents-affairs-quarterly",
            kind="disclosure_every_period",
            params={"category": "residents_affairs", "period": "quarter", "lookback": 4},
        ),
        Criterion(
            criterion_id="finance-quarterly",
            kind="disclosure_every_period",
            params={"category": "finance", "period": "quarter", "lookback": 4},
        ),
        Criterion(
            criterion_id="five-ones",
            kind="trainings_each_year",
            params={"kinds": [kind.value for kind in FIVE_ONES]},
        ),
        Criterion(
            criterion_id="residents-convention-current",
            kind="rule_current",
            params={"document": "residents_convention", "max_age_years": 5, "applies_to": "community"},
        ),
        Criterion(
            criterion_id="village-rules-current",
            kind="rule_current",
            params={"document": "village_rules", "max_age_years": 5, "applies_to": "village"},
        ),
        Criterion(
            criterion_id="autonomy-charter-current",
            kind="rule_current",
            params={"document": "autonomy_charter", "max_age_years": 5},
        ),
        Criterion(
            criterion_id="micro-power-list-current",
            kind="rule_current",
            params={"document": "micro_power_list", "max_age_years": 5},
        ),
        Criterion(
            criterion_id="representatives-quarterly",
            kind="meetings_every_period",
            params={"kind": "representatives", "period": "quarter", "lookback": 4},
        ),
        Criterion(criterion_id="findings-rectified", kind="no_open_findings", params={"older_than_days": 30}),
        Criterion(criterion_id="duty-report", kind="annual_duty_report", params={}),
    ),
)
