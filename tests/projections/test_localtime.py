"""Local dates in Asia/Shanghai (UTC+8, no daylight saving)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.localtime import SHANGHAI, end_of_day, local_date


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2022, 12, 31, 15, 59, 59, 999999, tzinfo=UTC), date(2022, 12, 31)),
        (datetime(2022, 12, 31, 16, 0, tzinfo=UTC), date(2023, 1, 1)),
        (datetime(2023, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-5))), date(2023, 1, 1)),
        (datetime(2023, 1, 1, 19, 30, tzinfo=timezone(timedelta(hours=-5))), date(2023, 1, 2)),
        (datetime(2024, 2, 29, 0, 0, tzinfo=SHANGHAI), date(2024, 2, 29)),
    ],
)
def test_local_date_is_the_calendar_day_in_shanghai(moment: datetime, expected: date) -> None:
    assert expected == local_date(moment)


def test_a_naive_moment_has_no_local_date() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2022, 1, 1, 12, 0))


def test_end_of_day_is_the_last_microsecond_before_local_midnight() -> None:
    end = end_of_day(date(2022, 6, 30))
    assert datetime(2022, 6, 30, 15, 59, 59, 999999, tzinfo=UTC) == end
    assert date(2022, 7, 1) == local_date(end + timedelta(microseconds=1))


@given(st.dates(date(1992, 1, 1), date(2999, 12, 30)))
@settings(max_examples=100)
def test_end_of_day_falls_on_its_own_local_date(day: date) -> None:
    assert (day, day + timedelta(days=1)) == (
        local_date(end_of_day(day)),
        local_date(end_of_day(day) + timedelta(microseconds=1)),
    )
