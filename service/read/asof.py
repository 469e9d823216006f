"""Dates as people type them on the command line."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from projections.localtime import SHANGHAI, local_date


def as_of(text: str) -> date:
    """An `--as-of` value: a bare date is that local date; a date-time is taken to its Asia/Shanghai date
    (one without an offset is read as Shanghai time)."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or date-time") from exc
    return local_date(moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI))
