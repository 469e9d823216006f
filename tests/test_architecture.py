"""The tree keeps its shape: imports go schema -> service -> projections -> events, the core is pure, and
inside service/ each capability imports only the capabilities it is drawn as resting on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["events", "projections", "service", "schema"]  # each may import only those before it
# service/'s capabilities and the ones each may import (docs/architecture.md draws this).
CAPABILITIES: dict[str, set[str]] = {
    "log": set(),
    "access": {"log"},
    "read": {"log"},
    "commands": {"log", "read"},
    "transparency": {"log", "read"},
    "demo": {"log", "commands"},
    "delivery": {"log", "read"},
    "runtime": {"log", "access", "read", "commands", "transparency", "demo", "delivery"},
}
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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, path: Path) -> set[str]:
    """Every module the source of `path` imports, relative imports resolved to absolute names."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            # `from service.log import store` may import the module service.log.store.
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def imported_modules(path: Path) -> set[str]:
    return imports_of(path.read_text(encoding="utf-8"), path)


def imported(path: Path) -> set[str]:
    """The top-level packages `path` imports."""
    return {name.split(".")[0] for name in imported_modules(path)}


def capability_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "service" and parts[1] in CAPABILITIES else None


@pytest.mark.parametrize("package", LAYERS)
def test_imports_only_point_down_the_layers(package: str) -> None:
    above = set(LAYERS[LAYERS.index(package) + 1 :])
    offenders = {str(p.relative_to(ROOT)): imported(p) & above for p in modules(package)}
    assert {} == {path: names for path, names in offenders.items() if names}


@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
def test_a_capability_imports_only_those_it_rests_on(capability: str) -> None:
    allowed = CAPABILITIES[capability] | {capability}
    offenders: dict[str, set[str]] = {}
    for path in modules(f"service/{capability}"):
        reached = {c for name in imported_modules(path) if (c := capability_of(name)) is not None}
        if reached - allowed:
            offenders[str(path.relative_to(ROOT))] = reached - allowed
    assert {} == offenders


def test_every_service_module_belongs_to_a_capability() -> None:
    loose = [
        str(p.relative_to(ROOT))
        for p in modules("service")
        if p.relative_to(ROOT / "service").parts[0] not in CAPABILITIES and p.name != "__init__.py"
    ]
    assert [] == loose
    assert set(CAPABILITIES) == {p.name for p in (ROOT / "service").iterdir() if (p / "__init__.py").exists()}


def test_relative_imports_count_as_the_modules_they_name() -> None:
    # A guard for the checks above, which would otherwise pass over `from ..x import y`.
    path = ROOT / "service" / "read" / "projector.py"
    source = "from ..log import store\nfrom . import paging\nfrom .views import coverage_on\n"
    assert {
        "service.log",
        "service.log.store",
        "service.read",
        "service.read.paging",
        "service.read.views",
        "service.read.views.coverage_on",
    } == imports_of(source, path)
    assert {"log", "read"} == {c for n in imports_of(source, path) if (c := capability_of(n))}


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
    settings = ROOT / "service" / "runtime" / "settings.py"
    readers = [
        str(path.relative_to(ROOT))
        for package in LAYERS
        for path in modules(package)
        if "environ" in path.read_text(encoding="utf-8") and path != settings
    ]
    assert [] == readers
    assert "environ" in settings.read_text(encoding="utf-8")


def test_sql_lives_in_service_only() -> None:
    # The project's own folders only; virtual environments hold other packages' SQL.
    folders = [p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "service"]
    stray = [str(p.relative_to(ROOT)) for folder in folders for p in folder.rglob("*.sql")]
    assert [] == stray


def test_the_core_is_exercised_by_these_checks() -> None:
    # A guard against the checks above passing vacuously because a package moved.
    assert modules("events")
    assert modules("projections")
    assert all(modules(f"service/{capability}") for capability in CAPABILITIES)
    assert "events" in imported(ROOT / "service" / "log" / "writer.py")
    assert "log" in {capability_of(n) for n in imported_modules(ROOT / "service" / "read" / "projector.py")}
