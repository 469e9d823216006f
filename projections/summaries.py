"""Per-community summaries the dashboards show beside the status: training completion by kind and year,
current and past rule versions, designations — each as of a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from events.recognition import Level
from events.rules import RuleDocument
from projections.facts import CommunityFacts, Designation, RuleVersion


@dataclass(frozen=True, slots=True)
class RuleHistory:
    document: RuleDocument
    current: RuleVersion | None
    versions: tuple[RuleVersion, ...]  # oldest first


def rule_history(facts: CommunityFacts, on: date) -> list[RuleHistory]:
    """For each document the community has adopted by `on`: its current version and every version."""
    histories = []
    for document in RuleDocument:
        versions = tuple(
            sorted(
                (r for r in facts.rules if r.document is document and r.adopted_on <= on),
                key=lambda r: (r.version, r.adopted_on),
            )
        )
        if versions:
            histories.append(RuleHistory(document, versions[-1], versions))
    return histories


def designations(facts: CommunityFacts, on: date, level: Level | None = None) -> list[Designation]:
    """The demonstration-point designations made by `on`, oldest first, optionally of one level."""
    chosen = [d for d in facts.designations if d.designated_on <= on and (level is None or d.level is level)]
    return sorted(chosen, key=lambda d: (d.designated_on, d.position))


def last_activity(facts: CommunityFacts, on: date) -> date | None:
    """The latest day, on or before `on`, on which the community did something the log records: a
    disclosure, correction, training, rule revision, meeting, spot check, rectification or duty report."""
    days = [
        *(d.published_on for d in facts.disclosures),
        *(c.corrected_on for c in facts.corrections),
        *(t.held_on for t in facts.trainings),
        *(r.adopted_on for r in facts.rules),
        *(m.held_on for m in facts.meetings),
        *(s.checked_on for s in facts.spot_checks),
        *(r.rectified_on for r in facts.rectifications),
        *(r.filed_on for r in facts.duty_reports),
    ]
    return max((day for day in days if day <= on), default=None)
