"""What an inspector compares: every community's status as of one log position, as plain data.

The service writes this table from its stored projections into an export; the offline verifier computes it
again by replaying the exported events and compares the two. A difference means the stored projections say
something the log does not (an edited projection table), and the first one is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from projections.community import World, standard_in_force
from projections.evaluation import evaluate
from projections.facts import CommunityFacts


@dataclass(frozen=True, slots=True)
class StatusRow:
    community_id: str
    name: str
    town_id: str
    standardized: bool
    met: int
    applicable: int
    unmet: tuple[str, ...]  # criterion ids
    standard_version: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "community_id": self.community_id,
            "name": self.name,
            "town_id": self.town_id,
            "standardized": self.standardized,
            "met": self.met,
            "applicable": self.applicable,
            "unmet": list(self.unmet),
            "standard_version": self.standard_version,
        }


def status_rows(world: World, position: int, on: date) -> list[StatusRow]:
    """Each community's status on local date `on`, judged only by events up to `position`, by id."""
    standard = standard_in_force((s for s in world.standards if s.position <= position), on)
    rows = []
    for community_id in sorted(world.communities):
        facts: CommunityFacts = world.communities[community_id].up_to(position)
        if facts.registered_on is None:
            continue  # nothing about it had been recorded by `position`
        status = evaluate(facts, standard, on)
        rows.append(
            StatusRow(
                community_id=community_id,
                name=facts.name_on(on) or "",
                town_id=facts.town_on(on) or "",
                standardized=status.standardized,
                met=len(status.met),
                applicable=len(status.met) + len(status.unmet),
                unmet=tuple(u.criterion_id for u in status.unmet),
                standard_version=status.standard_version,
            )
        )
    return rows


def status_document(rows: list[StatusRow], position: int, on: date) -> dict[str, Any]:
    return {"position": position, "on": on.isoformat(), "communities": [row.as_json() for row in rows]}


def first_difference(replayed: dict[str, Any], projected: dict[str, Any]) -> str | None:
    """The first way the projection's status document differs from the log's replay, in words; None if
    they agree."""
    for key in ("position", "on"):
        if replayed.get(key) != projected.get(key):
            return f"{key} is {projected.get(key)!r} in the projection, {replayed.get(key)!r} in the log"
    log = {row["community_id"]: row for row in replayed.get("communities", [])}
    view = {row["community_id"]: row for row in projected.get("communities", [])}
    for community_id in sorted(log.keys() | view.keys()):
        a, b = log.get(community_id), view.get(community_id)
        if a is None or b is None:
            return f"community {community_id}: missing from {'the log' if a is None else 'the projection'}"
        for field in sorted(a.keys() | b.keys()):
            if a.get(field) != b.get(field):
                return (
                    f"community {community_id}: {field} is {b.get(field)!r} in the projection, "
                    f"{a.get(field)!r} in the log"
                )
    return None
