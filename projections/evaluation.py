"""Status: `evaluate(facts, standard, on)` — pure, explainable, the same answer for the same inputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from events.standard import Criterion
from projections.community import StandardVersion
from projections.criteria import Rule, parse_rule
from projections.facts import CommunityFacts
from projections.unmet import SCOPE_TITLE, STANDARD_TITLE, Particulars, Reason, Unmet


@dataclass(frozen=True, slots=True)
class Status:
    """A community's integrity status on one local date."""

    community_id: str
    on: date
    in_scope: bool
    standardized: bool
    # Share of the applicable criteria met, 0 to 1.
    score: float
    met: tuple[str, ...]
    unmet: tuple[Unmet, ...]
    standard_version: int | None
    # The last log position among the community's facts dated on or before `on`: a later record, or
    # one dated after `on`, does not move it.
    position: int


# id(criteria) -> (those criteria, their rules): equal criteria hash by their canonical JSON, which costs
# more than a status does to evaluate, so the standards at hand are known by identity first.
_KNOWN: dict[int, tuple[tuple[Criterion, ...], tuple[Rule, ...]]] = {}


def rules_of(standard: StandardVersion) -> tuple[Rule, ...]:
    """The rules of the standard's criteria, in order."""
    criteria = standard.criteria
    known = _KNOWN.get(id(criteria))
    if known is not None and known[0] is criteria:
        return known[1]
    rules = _rules(criteria)
    if len(_KNOWN) >= 64:
        _KNOWN.clear()
    # Holding the criteria keeps their id from being given to others while the entry stands.
    _KNOWN[id(criteria)] = (criteria, rules)
    return rules


@lru_cache(maxsize=64)
def _rules(criteria: tuple[Criterion, ...]) -> tuple[Rule, ...]:
    # Standards in the log were validated when revised, so parsing cannot fail here.
    return tuple(parse_rule(c, f"criteria[{i}]") for i, c in enumerate(criteria))


def evaluate(facts: CommunityFacts, standard: StandardVersion | None, on: date) -> Status:
    """The status of one community on local date `on`, judged by `standard` (the one in force then)."""
    version = standard.version if standard is not None else None
    if not facts.in_scope_on(on):
        if facts.registered_on is None or facts.registered_on > on:
            why = Reason.NOT_REGISTERED
        else:
            why = Reason.RETIRED
        return Status(
            facts.community_id,
            on,
            False,
            False,
            0.0,
            (),
            (Unmet("scope", "scope", None, why, title=SCOPE_TITLE),),
            version,
            facts.position_on(on),
        )
    if standard is None:
        unmet = Unmet("standard", "standard", None, Reason.NO_STANDARD, Particulars(on=on), STANDARD_TITLE)
        return Status(facts.community_id, on, True, False, 0.0, (), (unmet,), None, facts.position_on(on))
    met: list[str] = []
    unmet_list: list[Unmet] = []
    for rule in rules_of(standard):
        if not rule.applies(facts):
            continue
        outcome = rule.check(facts, on)
        if outcome is None:
            met.append(rule.criterion_id)
        else:
            unmet_list.append(outcome)
    applicable = len(met) + len(unmet_list)
    score = round(len(met) / applicable, 4) if applicable else 1.0
    return Status(
        facts.community_id,
        on,
        True,
        not unmet_list,
        score,
        tuple(met),
        tuple(unmet_list),
        version,
        facts.position_on(on),
    )
