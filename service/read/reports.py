"""Reports for people who read tables: coverage, disclosure rate, one community's status.

The figures come from the projections (`projections.coverage`, `projections.evaluation`); this module
only reads the world, lays the figures out, and renders them as a table, CSV or JSON. The JSON form is
stable (docs/reports.md): rates are numbers from 0 to 1, dates are ISO 8601 local dates.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from projections.community import World
from projections.coverage import AreaShare, coverage, disclosure_rate
from projections.evaluation import Status, evaluate
from projections.wording import Lang, message

Format = Literal["table", "csv", "json"]
CITY_ID = "cixi"
CITY_NAME = "慈溪市"


class ReportError(Exception):
    """The report cannot be made as asked (an unknown town or community); the message says why."""


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    document: dict[str, Any]  # the JSON form


def _area_rows(
    world: World, towns: list[AreaShare], city: AreaShare, town: str | None
) -> list[dict[str, Any]]:
    if town is not None and town not in world.towns:
        raise ReportError(f"unknown town {town!r}")
    rows = []
    for share in towns:
        if town is not None and share.area_id != town:
            continue
        facts = world.towns.get(share.area_id)
        rows.append(
            {
                "id": share.area_id,
                "name": facts.name if facts is not None else share.area_id or "(no town)",
                "communities": share.share.whole,
                "part": share.share.part,
                "rate": round(share.share.rate, 4),
            }
        )
    if town is None:
        rows.append(
            {
                "id": city.area_id,
                "name": CITY_NAME,
                "communities": city.share.whole,
                "part": city.share.part,
                "rate": round(city.share.rate, 4),
            }
        )
    return rows


def coverage_report(world: World, on: date, town: str | None = None) -> Report:
    towns, city = coverage(world, on, CITY_ID)
    standard = world.standard_on(on)
    header = {
        "report": "coverage",
        "as_of": on.isoformat(),
        "standard_version": standard.version if standard is not None else None,
    }
    title = f"Standardization coverage (规范化建设覆盖率) as of {on.isoformat()}"
    return _area_report(world, title, header, "standardized", _area_rows(world, towns, city, town))


def disclosure_report(world: World, year: int, on: date, town: str | None = None) -> Report:
    towns, city = disclosure_rate(world, year, on, CITY_ID)
    header = {"report": "disclosure", "year": year, "as_of": on.isoformat()}
    title = f"Disclosure rate (公开率) for {year}, as of {on.isoformat()}"
    return _area_report(world, title, header, "disclosed", _area_rows(world, towns, city, town))


def _area_report(
    world: World, title: str, header: dict[str, Any], part: str, rows: list[dict[str, Any]]
) -> Report:
    """A per-area report: `part` names what the share counts (standardized, disclosed)."""
    areas = [
        {
            "id": r["id"],
            "name": r["name"],
            "communities": r["communities"],
            part: r["part"],
            "rate": r["rate"],
        }
        for r in rows
    ]
    return Report(
        title=title,
        columns=("id", "name", "communities", part, "rate"),
        rows=tuple((r["id"], r["name"], r["communities"], r["part"], _percent(r["rate"])) for r in rows),
        document={**header, "position": world.position, "areas": areas},
    )


def community_report(world: World, community_id: str, on: date) -> Report:
    facts = world.communities.get(community_id)
    if facts is None or facts.registered_on is None:
        raise ReportError(f"unknown community {community_id!r}")
    status = evaluate(facts, world.standard_on(on), on)
    town_id = facts.town_on(on)
    town = world.towns.get(town_id or "")
    document = {
        "report": "community",
        "id": community_id,
        "name": facts.name_on(on),
        "town": {"id": town_id, "name": town.name if town is not None else None},
        **status_json(status),
    }
    rows = tuple(
        (u.criterion_id, message(u, Lang.EN), u.since.isoformat() if u.since else "") for u in status.unmet
    )
    verdict = "standardized" if status.standardized else "not standardized"
    return Report(
        title=(
            f"{facts.name_on(on)} ({community_id}), {town.name if town else town_id}: {verdict} as of "
            f"{on.isoformat()}, score {status.score:.2f}, standard v{status.standard_version}"
        ),
        columns=("criterion", "what is missing", "since"),
        rows=rows,
        document=document,
    )


def status_json(status: Status) -> dict[str, Any]:
    return {
        "as_of": status.on.isoformat(),
        "in_scope": status.in_scope,
        "standardized": status.standardized,
        "score": status.score,
        "standard_version": status.standard_version,
        "position": status.position,
        "met": list(status.met),
        "unmet": [
            {
                "criterion": u.criterion_id,
                "kind": u.kind,
                "detail": u.detail,
                "reason": u.reason.value if u.reason is not None else None,
                "message": {lang.value: message(u, lang) for lang in Lang},
                "since": u.since.isoformat() if u.since else None,
            }
            for u in status.unmet
        ],
    }


def render(report: Report, fmt: Format) -> str:
    if fmt == "json":
        return json.dumps(report.document, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        # A byte-order mark first: spreadsheet programs then read the Chinese names as UTF-8.
        buffer.write("\ufeff")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(report.columns)
        writer.writerows(report.rows)
        return buffer.getvalue()
    return _table(report.title, report.columns, report.rows)


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in columns], *[[str(v) for v in row] for row in rows]]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(columns))]

    def line(row: Sequence[str]) -> str:
        padded = []
        for i, value in enumerate(row):
            pad = " " * (widths[i] - _width(value))
            numeric = value.replace(".", "", 1).replace("%", "").isdigit()
            padded.append(pad + value if numeric else value + pad)
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(cells[0]), rule, *(line(row) for row in cells[1:])]
    if not rows:
        body.append("(none)")
    return "\n".join([title, "", *body]) + "\n"
