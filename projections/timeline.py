"""A community's status as a function of the local date: piecewise constant, stored as segments.

Status changes only on the days a rule can answer otherwise: a record's date, a due date passing, an
age limit reached, a standard taking effect, a registration, a retirement or a transfer. `timeline`
evaluates the community on each such day (with `evaluate`, the one definition of status) and keeps the
days on which the answer changed, as segments [valid_from, valid_to).

Two statuses are the same segment when they agree on everything but the wording of their unmet
criteria: a sentence such as "open for 34 days" changes daily, while what is missing, and since when,
does not. The wording of any day is `evaluate` on that day.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from events.erasure import Erased
from events.registry import Event
from projections.community import StandardVersion, standard_in_force
from projections.evaluation import Status, evaluate, rules_of
from projections.facts import CommunityFacts

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Segment:
    """The community's status on every day from `valid_from` up to, not including, `valid_to`, and the
    town it belonged to then."""

    valid_from: date
    valid_to: date
    town_id: str | None
    status: Status


def shape(status: Status) -> tuple[object, ...]:
    """What a segment holds constant: everything but the day, the wording of the unmet criteria, and the
    log position of the facts it was computed from (a segment stays true when later facts leave it be)."""
    unmet = tuple((u.criterion_id, u.kind, u.since) for u in status.unmet)
    return (
        status.in_scope,
        status.standardized,
        status.score,
        status.standard_version,
        status.met,
        unmet,
    )


def change_days(
    facts: CommunityFacts, standards: Sequence[StandardVersion], first: date, last: date
) -> list[date]:
    """`first`, and every later day up to `last` on which the status or the town may change, in order."""
    days: set[date] = {first}
    if facts.registered_on is not None:
        days.add(facts.registered_on)
    days.update(r.since for r in facts.retirements)
    days.update(m.since for m in facts.memberships)
    days.update(s.effective_from for s in standards)
    for standard in _in_force_between(standards, first, last):
        for rule in rules_of(standard):
            if rule.applies(facts):
                days |= rule.changes(facts, first, last)
    return sorted(d for d in days if first <= d <= last)


def timeline(
    facts: CommunityFacts, standards: Sequence[StandardVersion], first: date, last: date
) -> list[Segment]:
    """The community's status from `first` to `last` (inclusive), as the fewest segments that hold it."""
    segments: list[Segment] = []
    for day in change_days(facts, standards, first, last):
        status = evaluate(facts, standard_in_force(standards, day), day)
        town = facts.town_on(day)
        if segments:
            previous = segments[-1]
            if previous.town_id == town and shape(previous.status) == shape(status):
                continue
            segments[-1] = Segment(previous.valid_from, day, previous.town_id, previous.status)
        segments.append(Segment(day, last + ONE_DAY, town, status))
    return segments


def affected_from(event: Event) -> date | None:
    """The first local date on which `event` can change its community's status (or a standard revision,
    every community's); None for an event that changes no status.

    Every rule judges a day by facts dated on or before it, so an event dated D leaves every day before
    D as it was: its dates are its facts' dates, and the earliest of them is where a timeline must be
    recomputed from.
    """
    if isinstance(event, Erased):
        return None  # status never depends on restricted text
    days = [value for name in date_fields(type(event)) if isinstance(value := getattr(event, name), date)]
    return min(days) if days else None


@functools.cache
def date_fields(cls: type[Any]) -> tuple[str, ...]:
    """The fields of an event class that may hold a date, found once per class (`affected_from` runs for
    every event projected): all but those declared of types that are no date (str, int, tuple[...] …).
    `affected_from` of an event is the earliest date among them."""
    hints = typing.get_type_hints(cls)
    return tuple(field.name for field in dataclasses.fields(cls) if _may_be_date(hints[field.name]))


def _may_be_date(hint: Any) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_may_be_date(arg) for arg in typing.get_args(hint))
    kind = typing.get_origin(hint) or hint
    # Anything but a class (Any, a type variable …) may be a date; a class may if it is related to date.
    return not isinstance(kind, type) or issubclass(kind, date) or issubclass(date, kind)


def extended(
    segments: Sequence[Segment],
    facts: CommunityFacts,
    standards: Sequence[StandardVersion],
    since: date,
    last: date,
) -> list[Segment]:
    """`segments` (a timeline of earlier facts) recomputed from `since` to `last` for `facts`: the days
    before `since` keep their segments, and the segment running across `since` is joined to what follows
    if nothing changed there."""
    kept = [s for s in segments if s.valid_from < since]
    if not kept:
        return timeline(facts, standards, since, last)
    head = kept[-1]
    kept[-1] = Segment(head.valid_from, since, head.town_id, head.status)
    fresh = timeline(facts, standards, since, last)
    if fresh and fresh[0].town_id == head.town_id and shape(fresh[0].status) == shape(head.status):
        kept[-1] = Segment(head.valid_from, fresh[0].valid_to, head.town_id, head.status)
        fresh = fresh[1:]
    return kept + fresh


def _in_force_between(
    standards: Sequence[StandardVersion], first: date, last: date
) -> Iterable[StandardVersion]:
    """The standards that are in force on some day from `first` to `last`."""
    days = [first, *(s.effective_from for s in standards if first < s.effective_from <= last)]
    return {id(s): s for day in days if (s := standard_in_force(standards, day)) is not None}.values()
