"""The standard (规范化建设标准): the rulebook that defines "standardized", itself a versioned record.

The standard is data, not code: each criterion is a kind plus parameters, read by the evaluator in
`projections/`. A revision takes effect from a date, so a status at time t is judged by the standard then
in force, and revising the standard never rewrites history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from events.codec import canonical_json


@dataclass(frozen=True, slots=True, kw_only=True)
class Criterion:
    """One requirement: `kind` names the rule, `params` its settings, e.g.
    `disclosure_every_period` with `{"category": "finance", "period": "quarter", "lookback": 4}`."""

    criterion_id: str
    kind: str
    params: Mapping[str, Any]

    def __hash__(self) -> int:
        # The parameters are a plain mapping (as decoded from the log); their canonical text stands in
        # for them, so equal criteria hash alike and a standard's criteria can key a cache.
        return hash((self.criterion_id, self.kind, canonical_json(self.params)))


@dataclass(frozen=True, slots=True, kw_only=True)
class StandardRevised:
    TYPE: ClassVar[str] = "StandardRevised"
    VERSION: ClassVar[int] = 1

    version: int
    effective_from: date
    title: str
    criteria: tuple[Criterion, ...]
