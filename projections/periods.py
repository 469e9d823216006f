"""Reporting periods — years, quarters, months — as the programme writes them: "2022", "2022-Q2", "2022-06".

All dates are local dates in Asia/Shanghai; a period is the closed range of days [start, end].
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, timedelta

_PERIOD = re.compile(r"(?P<year>[0-9]{4})(?:-Q(?P<quarter>[1-4])|-(?P<month>0[1-9]|1[0-2]))?")


class Granularity(enum.StrEnum):
    YEAR = "year"
    QUARTER = "quarter"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Period:
    """A year, a quarter or a month. Ordered by start, then longest first (a year sorts before its Q1)."""

    start: date
    end: date
    granularity: Granularity

    @staticmethod
    def parse(text: str) -> Period:
        """ "2022", "2022-Q2" or "2022-06"; anything else raises ValueError saying what is expected."""
        match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
        if match is None or not 1900 <= int(match["year"]) <= 2999:
            raise ValueError(
                f"{text!r} is not a period: expected a year (2022), a quarter (2022-Q2) or a month (2022-06)"
            )
        year = int(match["year"])
        if match["quarter"]:
            return Period.quarter(year, int(match["quarter"]))
        if match["month"]:
            return Period.month(year, int(match["month"]))
        return Period.year(year)

    @staticmethod
    def year(year: int) -> Period:
        return Period(date(year, 1, 1), date(year, 12, 31), Granularity.YEAR)

    @staticmethod
    def quarter(year: int, quarter: int) -> Period:
        start = date(year, 3 * quarter - 2, 1)
        return Period(start, _month_end(year, 3 * quarter), Granularity.QUARTER)

    @staticmethod
    def month(year: int, month: int) -> Period:
        return Period(date(year, month, 1), _month_end(year, month), Granularity.MONTH)

    @staticmethod
    def containing(day: date, granularity: Granularity) -> Period:
        if granularity is Granularity.YEAR:
            return Period.year(day.year)
        if granularity is Granularity.QUARTER:
            return Period.quarter(day.year, (day.month - 1) // 3 + 1)
        return Period.month(day.year, day.month)

    def previous(self) -> Period:
        return Period.containing(self.start - timedelta(days=1), self.granularity)

    def next(self) -> Period:
        return Period.containing(self.end + timedelta(days=1), self.granularity)

    def covers(self, other: Period) -> bool:
        """True if `other` lies within this period (a month within its quarter, a quarter within itself)."""
        return self.start <= other.start and other.end <= self.end

    def within(self, year: int) -> bool:
        return self.start.year == year and self.end.year == year

    def _key(self) -> tuple[date, int]:
        return (self.start, -(self.end - self.start).days)

    def __lt__(self, other: Period) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Period) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Period) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Period) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        if self.granularity is Granularity.YEAR:
            return f"{self.start.year}"
        if self.granularity is Granularity.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"


def periods_of_year(year: int, granularity: Granularity) -> list[Period]:
    """Every period of `granularity` in `year`, in order."""
    first = Period.containing(date(year, 1, 1), granularity)
    result = [first]
    while result[-1].end.year == year and result[-1].end < date(year, 12, 31):
        result.append(result[-1].next())
    return result


def _month_end(year: int, month: int) -> date:
    if month == 12:
        return date(year, 12, 31)
    return date(year, month + 1, 1) - timedelta(days=1)
