"""`asOf` and `--as-of`: the local date a status holds on, as people write it."""

from __future__ import annotations

from datetime import date, datetime

from projections.decisions import FIRST_YEAR, LAST_YEAR
from projections.localtime import SHANGHAI, local_date


def parse_as_of(text: str) -> date:
    """A bare ISO date is that local date (to its end); a date-time is taken to its Asia/Shanghai date, one
    without an offset being read as Shanghai time. The date must be of the programme's calendar (years
    FIRST_YEAR to LAST_YEAR). Raises ValueError saying what was expected."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
        else:
            moment = datetime.fromisoformat(text)
            day = local_date(moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI))
    except ValueError as exc:
        raise ValueError(f"{text[:40]!r} is not an ISO 8601 date or date-time") from exc
    except OverflowError as exc:
        # A date-time at the calendar's very end or start has no Shanghai date.
        raise ValueError(f"{text[:40]!r} is outside the calendar") from exc
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        # Statuses are evaluated periods and grace days around the date: near 9999-12-31 there are none.
        raise ValueError(f"{text[:40]!r} is outside the programme's years, {FIRST_YEAR} to {LAST_YEAR}")
    return day
