"""The tree keeps its shape: imports go schema -> service -> projections -> events, and the core is pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["events", "projections", "service", "schema"]  # each may import only those before it
# What the pure core must never touch: I/O, frameworks, the environment, the clock, randomness.
FORBIDDEN_IN_CORE = {
    "asyncpg",
    "starlette",
    "strawberry",
    "structlog",
    "uvicorn",
    "os",
    "sys",
    "socket",
    "subprocess",
    "time",
    "random",
    "secrets",
    "logging",
    "pathlib",
    "io",
    "asyncio",
}
# Calls that read the clock or make ids; time and ids are arguments in the core.
FORBIDDEN_CALLS = {"now", "utcnow", "today", "uuid1", "uuid4", "time", "monotonic", "perf_counter"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", LAYERS)
def test_imports_only_point_down_the_layers(package: str) -> None:
    above = set(LAYERS[LAYERS.index(package) + 1 :])
    offenders = {str(p.relative_to(ROOT)): imported(p) & above for p in modules(package)}
    assert {} == {path: names for path, names in offenders.items() if names}


@pytest.mark.parametrize("package", ["events", "projections"])
def test_the_core_imports_no_io_framework_or_environment(package: str) -> None:
    offenders = {str(p.relative_to(ROOT)): imported(p) & FORBIDDEN_IN_CORE for p in modules(package)}
    assert {} == {path: names for path, names in offenders.items() if names}


@pytest.mark.parametrize("package", ["events", "projections"])
def test_the_core_reads_no_clock_and_makes_no_ids(package: str) -> None:
    offenders: list[str] = []
    for path in modules(package):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                )
                if name in FORBIDDEN_CALLS:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}()")
    assert [] == offenders


def test_only_settings_reads_the_environment() -> None:
    readers = []
    for package in LAYERS:
        for path in modules(package):
            if "environ" in path.read_text(encoding="utf-8") and path.name not in ("settings.py", "cli.py"):
                readers.append(str(path.relative_to(ROOT)))
    assert [] == readers


def test_sql_lives_in_service_only() -> None:
    # The project's own folders only; virtual environments hold other packages' SQL.
    folders = [p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "service"]
    stray = [str(p.relative_to(ROOT)) for folder in folders for p in folder.rglob("*.sql")]
    assert [] == stray


def test_the_core_is_exercised_by_these_checks() -> None:
    # A guard against the checks above passing vacuously because a package moved.
    assert modules("events")
    assert modules("projections")
    assert "events" in imported(ROOT / "service" / "store.py")
