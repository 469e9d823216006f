"""The projector's reader: the record rows and status marks it takes straight from most payloads are those
of the events built whole and folded, and a payload it cannot read is refused as a whole decode refuses it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from events.catalogue import CATALOGUE
from events.disclosure import DisclosurePublished
from events.errors import CodecError
from events.recognition import DutyReportFiled
from events.registry import Event
from events.supervision import MeetingHeld, MeetingKind, ReportReceived, SpotCheckRecorded
from events.training import TrainingHeld
from service.read.projector import Item, Reader, StatusMarks
from service.read.records import copied_row, record_rows
from tests.projections.build import Unknown
from tests.projections.logs import Log, event_logs
from tests.support import domain

GENERATION = 7


def items_of(log: Log) -> tuple[list[Item], list[tuple[int, Event]]]:
    """The log as the projector reads it (payloads as the log stores them), and its events."""
    items: list[Item] = []
    events: list[tuple[int, Event]] = []
    for position, event in log:
        if isinstance(event, Unknown):  # no stored type: never in a log the catalogue reads
            continue
        type_, version, text = CATALOGUE.encode_canonical(event)
        items.append((position, type_, version, text))
        events.append((position, event))
    return items, events


@settings(max_examples=200, deadline=None)
@given(event_logs())
def test_rows_and_marks_taken_from_payloads_are_those_of_the_whole_events(log: Log) -> None:
    items, events = items_of(log)
    marks = StatusMarks()
    page = Reader(CATALOGUE).page(GENERATION, items, marks)

    # Tables with no row are left out: nothing is written for them.
    expected = {table: rows for table, rows in record_rows(GENERATION, events).items() if rows}
    assert {table: rows for table, rows in page.rows.items() if rows} == expected
    # The same text in every column, not only equal values: an enum's member is written as its value.
    for table, rows in expected.items():
        for got, want in zip(page.rows[table], rows, strict=True):
            assert [str(v) if isinstance(v, str) else v for v in got] == list(want), table
    expected_marks = StatusMarks()
    for position, event in events:
        expected_marks.add_event(position, event)
    assert marks == expected_marks
    # Only what is not copied is built whole (towns, the standard, registrations, spot checks …).
    assert page.events == [(p, e) for p, e in events if copied_row(type(e)) is None]
    assert page.last == (events[-1][0] if events else 0)


def test_the_kinds_most_of_a_log_holds_are_copied_and_the_computed_ones_are_not() -> None:
    for cls, table in (
        (DisclosurePublished, "disclosures"),
        (MeetingHeld, "meetings"),
        (TrainingHeld, "trainings"),
        (ReportReceived, "reports"),
        (DutyReportFiled, "duty_reports"),
    ):
        copied = copied_row(cls)
        assert copied is not None, cls.__name__
        assert copied.table == table
    # A spot check's findings are computed from a list: built whole.
    assert copied_row(SpotCheckRecorded) is None


def test_a_payload_the_reader_cannot_read_is_refused_as_a_whole_decode_refuses_it() -> None:
    event = domain.meeting("c1", MeetingKind.REPRESENTATIVES, domain.START)
    type_, version, text = CATALOGUE.encode_canonical(event)
    bad = json.dumps({**json.loads(text), "attendees": "many"})
    with pytest.raises(CodecError) as whole:
        CATALOGUE.decode_text(type_, version, bad)
    with pytest.raises(CodecError) as copied:
        Reader(CATALOGUE).page(GENERATION, [(1, type_, version, bad)])
    assert str(copied.value) == str(whole.value)
    assert "attendees" in str(copied.value)
