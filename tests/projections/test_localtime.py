"""Local dates in Asia/Shanghai (UTC+8, no daylight saving)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from projections.localtime import SHANGHAI, local_date


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
