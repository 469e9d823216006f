"""Reports: the figures of the projections, laid out as a table, as CSV and as stable JSON."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import date

import pytest

from events.catalogue import CATALOGUE
from events.registry import Event
from projections.community import World, fold_world
from projections.standards import DEFAULT_STANDARD
from service.read.projector import decode_all
from service.read.reports import ReportError, community_report, coverage_report, disclosure_report, render
from tests.projections.build import records
from tests.support import domain

ON = date(2022, 6, 8)


def world_of(events: list[Event]) -> World:
    return fold_world(World(), records(enumerate(events, start=1)))


@pytest.fixture
def world() -> World:
    events: list[Event] = [
        domain.town("gutang", "古塘街道"),
        domain.town("hushan", "浒山街道"),
        DEFAULT_STANDARD,
    ]
    events += [domain.community("shuyuan", "gutang"), domain.community("yubo", "hushan")]
    return world_of(events)


def test_coverage_json_is_stable_and_carries_rates_as_numbers(world: World) -> None:
    document = json.loads(render(coverage_report(world, ON), "json"))
    assert {"report", "as_of", "standard_version", "position", "areas"} == set(document)
    assert "2022-06-08" == document["as_of"]
    city = document["areas"][-1]
    assert {"id": "cixi", "name": "慈溪市", "communities": 2, "standardized": 0, "rate": 0.0} == city
    assert ["gutang", "hushan", "cixi"] == [a["id"] for a in document["areas"]]
    assert all(isinstance(a["rate"], float) for a in document["areas"])


def test_a_town_filter_keeps_that_towns_row_only(world: World) -> None:
    document = json.loads(render(coverage_report(world, ON, "hushan"), "json"))
    assert ["hushan"] == [a["id"] for a in document["areas"]]
    with pytest.raises(ReportError, match="unknown town 'atlantis'"):
        coverage_report(world, ON, "atlantis")


def test_csv_opens_in_a_spreadsheet_with_chinese_names_intact(world: World) -> None:
    text = render(coverage_report(world, ON), "csv")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert ["id", "name", "communities", "standardized", "rate"] == rows[0]
    assert ["gutang", "古塘街道", "1", "0", "0.0%"] == rows[1]
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_the_table_aligns_columns_holding_chinese_text(world: World) -> None:
    lines = render(coverage_report(world, ON), "table").splitlines()
    header, rule, first = lines[2], lines[3], lines[4]
    assert header.startswith("id")
    # Each Chinese character takes two columns, so the numbers line up under their headings.
    assert header.index("communities") + len("communities") == display_width(first[: first.index(" 1 ") + 2])
    assert set(rule.replace(" ", "")) == {"-"}


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_the_community_report_explains_every_unmet_criterion(world: World) -> None:
    report = community_report(world, "shuyuan", ON)
    document = report.document
    assert ("shuyuan", "gutang", False) == (document["id"], document["town"]["id"], document["standardized"])
    assert document["unmet"]
    assert all(u["detail"] and u["criterion"] for u in document["unmet"])
    # Each says what is missing in Chinese and in English; the table reads the English.
    for unmet in document["unmet"]:
        assert unmet["reason"]
        assert unmet["message"]["zh"] != unmet["message"]["en"]
        assert any("\u4e00" <= c <= "\u9fff" for c in unmet["message"]["zh"]), unmet
    assert [u["message"]["en"] for u in document["unmet"]] == [row[1] for row in report.rows]
    assert "not standardized as of 2022-06-08" in report.title
    with pytest.raises(ReportError, match="unknown community 'nope'"):
        community_report(world, "nope", ON)


def test_the_disclosure_report_counts_communities_in_scope_at_the_end_of_the_year(world: World) -> None:
    document = disclosure_report(world, 2021, ON).document
    assert 2021 == document["year"]
    assert {"id": "cixi", "name": "慈溪市", "communities": 2, "disclosed": 0, "rate": 0.0} == document[
        "areas"
    ][-1]


def test_decode_all_reads_what_the_catalogue_writes() -> None:
    from dataclasses import replace

    from tests.projections.build import recorded

    event = domain.town("gutang")
    type_, version, payload = CATALOGUE.encode(event)
    rec = replace(recorded(1), type=type_, schema_version=version, payload=payload)
    assert [(rec, event)] == decode_all(CATALOGUE, [rec])
