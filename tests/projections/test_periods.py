"""Reporting periods: parsing, neighbours, containment and order."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.periods import Granularity, Period, periods_of_year
from tests.projections.build import day


@pytest.mark.parametrize(
    ("text", "start", "end", "granularity"),
    [
        ("2022", "2022-01-01", "2022-12-31", Granularity.YEAR),
        ("2022-Q1", "2022-01-01", "2022-03-31", Granularity.QUARTER),
        ("2022-Q2", "2022-04-01", "2022-06-30", Granularity.QUARTER),
        ("2022-Q4", "2022-10-01", "2022-12-31", Granularity.QUARTER),
        ("2022-01", "2022-01-01", "2022-01-31", Granularity.MONTH),
        ("2022-02", "2022-02-01", "2022-02-28", Granularity.MONTH),
        ("2024-02", "2024-02-01", "2024-02-29", Granularity.MONTH),
        ("2022-12", "2022-12-01", "2022-12-31", Granularity.MONTH),
        ("1900", "1900-01-01", "1900-12-31", Granularity.YEAR),
        ("2999-Q4", "2999-10-01", "2999-12-31", Granularity.QUARTER),
    ],
)
def test_a_period_parses_to_its_closed_range_of_days(
    text: str, start: str, end: str, granularity: Granularity
) -> None:
    assert Period(day(start), day(end), granularity) == Period.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "2022-13",
        "2022-00",
        "2022-Q5",
        "2022-Q0",
        "22-Q1",
        "22",
        "20222",
        " 2022",
        "2022 ",
        "2022\n",
        "2022-q1",
        "2022-1",
        "2022-6",
        "2022Q1",
        "2022-Q1-01",
        "2022/06",
        "",
        "1899",
        "3000",
        "2022-H1",
    ],
)
def test_anything_but_a_year_quarter_or_month_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected a year"):
        Period.parse(text)


def test_a_non_string_is_refused_with_a_value_error() -> None:
    with pytest.raises(ValueError, match="is not a period"):
        Period.parse(2022)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["\uff12\uff10\uff12\uff12", "\u0662\u0660\u0662\u0662-Q1", "\uff12\uff10\uff12\uff12-06"]
)
def test_only_ascii_digits_make_a_period(text: str) -> None:
    with pytest.raises(ValueError, match="expected a year"):
        Period.parse(text)


@given(
    st.one_of(
        st.integers(1900, 2999).map(str),
        st.tuples(st.integers(1900, 2999), st.integers(1, 4)).map(lambda yq: f"{yq[0]}-Q{yq[1]}"),
        st.tuples(st.integers(1900, 2999), st.integers(1, 12)).map(lambda ym: f"{ym[0]}-{ym[1]:02d}"),
    )
)
@settings(max_examples=200)
def test_a_parsed_period_prints_as_it_was_written(text: str) -> None:
    assert text == str(Period.parse(text))


@pytest.mark.parametrize(
    ("text", "previous", "following"),
    [
        ("2022", "2021", "2023"),
        ("2022-Q1", "2021-Q4", "2022-Q2"),
        ("2022-Q4", "2022-Q3", "2023-Q1"),
        ("2022-01", "2021-12", "2022-02"),
        ("2022-12", "2022-11", "2023-01"),
        ("2024-03", "2024-02", "2024-04"),
    ],
)
def test_previous_and_next_cross_year_edges(text: str, previous: str, following: str) -> None:
    period = Period.parse(text)
    assert (previous, following) == (str(period.previous()), str(period.next()))


@given(
    st.dates(date(1901, 1, 1), date(2998, 12, 31)),
    st.sampled_from(list(Granularity)),
)
@settings(max_examples=200)
def test_neighbours_touch_without_gap_or_overlap(some_day: date, granularity: Granularity) -> None:
    period = Period.containing(some_day, granularity)
    assert (period.start - timedelta(days=1), period.end + timedelta(days=1)) == (
        period.previous().end,
        period.next().start,
    )
    assert (period, period) == (period.previous().next(), period.next().previous())


@pytest.mark.parametrize(
    ("on", "granularity", "expected"),
    [
        ("2022-01-01", Granularity.YEAR, "2022"),
        ("2022-12-31", Granularity.YEAR, "2022"),
        ("2022-03-31", Granularity.QUARTER, "2022-Q1"),
        ("2022-04-01", Granularity.QUARTER, "2022-Q2"),
        ("2022-12-31", Granularity.QUARTER, "2022-Q4"),
        ("2024-02-29", Granularity.MONTH, "2024-02"),
        ("2022-12-31", Granularity.MONTH, "2022-12"),
        ("2023-01-01", Granularity.MONTH, "2023-01"),
    ],
)
def test_containing_finds_the_period_of_a_day(on: str, granularity: Granularity, expected: str) -> None:
    assert expected == str(Period.containing(day(on), granularity))


@given(st.dates(date(1900, 1, 1), date(2999, 12, 31)), st.sampled_from(list(Granularity)))
@settings(max_examples=200)
def test_the_containing_period_holds_the_day(some_day: date, granularity: Granularity) -> None:
    period = Period.containing(some_day, granularity)
    assert (True, granularity) == (period.start <= some_day <= period.end, period.granularity)


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("2022", "2022", True),
        ("2022", "2022-Q3", True),
        ("2022", "2022-12", True),
        ("2022-Q2", "2022-Q2", True),
        ("2022-Q2", "2022-04", True),
        ("2022-Q2", "2022-06", True),
        ("2022-Q2", "2022-07", False),
        ("2022-Q2", "2022-03", False),
        ("2022-Q2", "2022", False),
        ("2022-06", "2022-Q2", False),
        ("2022-06", "2022-06", True),
        ("2022", "2021-Q4", False),
        ("2022", "2023-01", False),
    ],
)
def test_covers_means_lies_within(outer: str, inner: str, expected: bool) -> None:
    assert expected == Period.parse(outer).covers(Period.parse(inner))


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        (Granularity.YEAR, ["2023"]),
        (Granularity.QUARTER, ["2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4"]),
        (Granularity.MONTH, [f"2023-{m:02d}" for m in range(1, 13)]),
    ],
)
def test_periods_of_year_lists_each_period_in_order(granularity: Granularity, expected: list[str]) -> None:
    assert expected == [str(p) for p in periods_of_year(2023, granularity)]


@pytest.mark.parametrize("granularity", list(Granularity))
def test_periods_of_a_leap_year_tile_it_exactly(granularity: Granularity) -> None:
    periods = periods_of_year(2024, granularity)
    days = sum((p.end - p.start).days + 1 for p in periods)
    assert (366, date(2024, 1, 1), date(2024, 12, 31)) == (days, periods[0].start, periods[-1].end)
    assert all(p.within(2024) for p in periods)


def test_within_is_false_for_another_year() -> None:
    assert (True, False) == (Period.parse("2022-Q4").within(2022), Period.parse("2022-Q4").within(2023))


def test_periods_of_one_granularity_sort_by_time() -> None:
    texts = ["2022-Q3", "2021-Q4", "2022-Q1", "2022-Q2"]
    assert ["2021-Q4", "2022-Q1", "2022-Q2", "2022-Q3"] == [str(p) for p in sorted(map(Period.parse, texts))]
    months = ["2023-01", "2022-12", "2022-02", "2022-11"]
    assert ["2022-02", "2022-11", "2022-12", "2023-01"] == [str(p) for p in sorted(map(Period.parse, months))]


def test_periods_sort_by_start_first_whatever_their_length() -> None:
    texts = ["2022-04", "2022", "2021-Q4", "2023-01"]
    assert ["2021-Q4", "2022", "2022-04", "2023-01"] == [str(p) for p in sorted(map(Period.parse, texts))]


def test_a_year_sorts_before_its_first_quarter_and_month() -> None:
    texts = ["2022-01", "2022-Q1", "2022"]
    assert ["2022", "2022-Q1", "2022-01"] == [str(p) for p in sorted(map(Period.parse, texts))]
