"""`asOf` and `--as-of`: the local date a status holds on, as people write it."""

from __future__ import annotations

from datetime import date, datetime

from projections.localtime import SHANGHAI, local_date


def parse_as_of(text: str) -> date:
    """A bare ISO date is that local date (to its end); a date-time is taken to its Asia/Shanghai date, one
    without an offset being read as Shanghai time. Raises ValueError saying what was expected."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text[:40]!r} is not an ISO 8601 date or date-time") from exc
    return local_date(moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI))
