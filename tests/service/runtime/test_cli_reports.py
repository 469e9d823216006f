"""`qinglian demo load`, `report` and `rebuild`, run as a user runs them, on a real PostgreSQL."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pty
import subprocess
import threading
from datetime import UTC, datetime

from projections.localtime import local_date
from tests.service.runtime.test_cli import (
    COMMAND_TIMEOUT,
    child_env,
    one_line_error,
    qinglian_command,
    run_qinglian,
)


def test_the_demo_loads_once_and_reports_the_articles_figures(database_url: str) -> None:
    env = child_env(database_url)
    loaded = run_qinglian("demo", "load", env=env)
    assert 0 == loaded.returncode, loaded.stderr
    assert "events written, 0 there already" in loaded.stdout
    assert f"up to {local_date(datetime.now(UTC))}:" in loaded.stdout

    coverage = run_qinglian("report", "coverage", "--as-of", "2022-06-08", "--format", "json", env=env)
    assert 0 == coverage.returncode, coverage.stderr
    city = json.loads(coverage.stdout)["areas"][-1]
    assert ("cixi", 100, 93, 0.93) == (city["id"], city["communities"], city["standardized"], city["rate"])

    disclosure = run_qinglian(
        "report", "disclosure", "--year", "2021", "--as-of", "2022-06-08", "--format", "json", env=env
    )
    assert 0 == disclosure.returncode, disclosure.stderr
    assert 1.0 == json.loads(disclosure.stdout)["areas"][-1]["rate"]

    again = run_qinglian("demo", "load", env=env)
    assert 0 == again.returncode, again.stderr
    assert ": 0 events written" in again.stdout


def test_report_formats_and_errors(database_url: str) -> None:
    env = child_env(database_url)
    assert 0 == run_qinglian("demo", "load", "--until", "2022-06-30", env=env).returncode

    table = run_qinglian("report", "coverage", "--as-of", "2022-06-08", "--town", "gutang", env=env)
    assert 0 == table.returncode, table.stderr
    assert "古塘街道" in table.stdout
    assert "慈溪市" not in table.stdout

    spreadsheet = run_qinglian("report", "coverage", "--as-of", "2022-06-08", "--format", "csv", env=env)
    rows = list(csv.reader(io.StringIO(spreadsheet.stdout.removeprefix("\ufeff"))))
    assert ["cixi", "慈溪市", "100", "93", "93.0%"] == rows[-1]
    assert spreadsheet.stdout.startswith("\ufeff")

    community = run_qinglian(
        "report", "community", "shuyuan", "--as-of", "2022-06-08T10:00:00+08:00", env=env
    )
    assert 0 == community.returncode, community.stderr
    assert "舒苑社区 (shuyuan), 古塘街道: standardized as of 2022-06-08" in community.stdout

    assert "unknown community 'nowhere'" in one_line_error(
        run_qinglian("report", "community", "nowhere", env=env)
    )
    assert "unknown town 'atlantis'" in one_line_error(
        run_qinglian("report", "coverage", "--town", "atlantis", env=env)
    )
    bad_date = run_qinglian("report", "coverage", "--as-of", "yesterday", env=env)
    assert 2 == bad_date.returncode
    assert "'yesterday' is not an ISO 8601 date or date-time" in bad_date.stderr
    assert "Traceback" not in bad_date.stderr


def test_the_demo_refuses_a_log_that_holds_other_records(database_url: str) -> None:
    env = child_env(database_url)
    assert 0 == run_qinglian("demo", "load", "--seed", "1", env=env).returncode
    assert "demo" in one_line_error(run_qinglian("demo", "load", env=env))


def on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run `qinglian ARGS` with stderr on a pseudo-terminal: (exit status, stdout, what the terminal got)."""
    main, child = pty.openpty()
    got: list[bytes] = []

    def drain() -> None:  # read as it comes: a full terminal buffer would block the child
        with contextlib.suppress(OSError):
            while chunk := os.read(main, 4096):
                got.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        result = subprocess.run(
            [*qinglian_command(), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=child,
            text=True,
            check=False,
            timeout=COMMAND_TIMEOUT,
        )
    finally:
        os.close(child)
        reader.join(timeout=10)
        os.close(main)
    return result.returncode, result.stdout, b"".join(got).decode(errors="replace")


def test_rebuild_reports_its_progress_and_the_new_generation(database_url: str) -> None:
    env = child_env(database_url)
    assert 0 == run_qinglian("demo", "load", env=env).returncode
    code, stdout, terminal = on_a_terminal(["rebuild"], env)
    assert 0 == code, terminal
    assert "100%" in terminal  # the bar, drawn because stderr is a terminal
    # Migrations may start a generation of their own (0006 did): each rebuild makes the next one.
    generation = int(stdout.strip().removesuffix(")").rsplit(" ", 1)[-1])
    assert stdout.strip().endswith(f"(generation {generation})")
    again = run_qinglian("rebuild", env=env)
    assert ("", f"(generation {generation + 1})") == (again.stderr, again.stdout.strip()[-14:])  # no bar
    coverage = run_qinglian("report", "coverage", "--as-of", "2022-06-08", "--format", "json", env=env)
    assert 0.93 == json.loads(coverage.stdout)["areas"][-1]["rate"]
    assert "unknown projection 'views'" in one_line_error(run_qinglian("rebuild", "views", env=env))


def test_a_report_on_a_database_never_migrated_says_to_migrate_and_changes_nothing(
    empty_database_url: str,
) -> None:
    line = one_line_error(run_qinglian("report", "coverage", env=child_env(empty_database_url)))
    assert "not migrated" in line
    assert "qinglian migrate" in line
    after = json.loads(run_qinglian("status", "--json", env=child_env(empty_database_url)).stdout)
    assert [] == after["migrations_applied"]


def test_a_report_appends_nothing_to_the_log(database_url: str) -> None:
    result = run_qinglian("report", "coverage", "--format", "json", env=child_env(database_url))
    assert 0 == result.returncode, result.stderr
    after = json.loads(run_qinglian("status", "--json", env=child_env(database_url)).stdout)
    assert 0 == after["head_position"]
