"""Local dates in Asia/Shanghai: the programme's calendar.

China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact for every date this
programme records, and needs no time-zone database (which would be I/O in the pure core).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The local date in Asia/Shanghai of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("a moment must be timezone-aware to have a local date")
    return moment.astimezone(SHANGHAI).date()
