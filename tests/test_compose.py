"""docker-compose.yml, the Dockerfile and .dockerignore agree with each other and with the code.

No Docker engine runs here, so the files are parsed and checked, not run. No database is needed.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import yaml

from service.delivery.relay import NAME as RELAY_NAME
from service.runtime import relaying
from service.runtime.cli import _parser
from service.runtime.settings import Settings
from tests.support.pg import unique_name

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

SERVICES = ("postgres", "nats", "qinglian", "relay")
ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


# --- loading -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    services = compose["services"]
    assert isinstance(services, dict)
    service = services[name]
    assert isinstance(service, dict)
    return service


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, from either compose form (mapping or list of KEY=VALUE)."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    assert isinstance(raw, dict)
    for name, value in raw.items():
        assert isinstance(value, str | int), f"{name} has a non-scalar value {value!r}"
    return {str(name): str(value) for name, value in raw.items()}


def _command(service: dict[str, Any]) -> list[str]:
    raw = service["command"]
    if isinstance(raw, str):
        return shlex.split(raw)
    assert isinstance(raw, list)
    return [str(part) for part in raw]


def _container_ports(service: dict[str, Any]) -> list[int]:
    """The container side of each published port ("8000:8000", "127.0.0.1:8000:8000/tcp", ...)."""
    ports = []
    for entry in service.get("ports", []):
        assert isinstance(entry, str), f"port mapping {entry!r} should be a quoted string"
        ports.append(int(entry.rsplit(":", 1)[-1].split("/", 1)[0]))
    return ports


def _package_patterns() -> list[str]:
    """What pyproject.toml tells setuptools to install: [tool.setuptools.packages.find] include."""
    with PYPROJECT.open("rb") as f:
        include = tomllib.load(f)["tool"]["setuptools"]["packages"]["find"]["include"]
    assert isinstance(include, list)
    return [str(p) for p in include]


def _packages() -> list[str]:
    """The top-level packages installed (their subpackages come with their folders)."""
    return [p for p in _package_patterns() if "." not in p and "*" not in p]


def _dockerfile_instructions() -> Iterator[tuple[str, list[str]]]:
    """(INSTRUCTION, arguments) for each Dockerfile instruction, continuation lines joined."""
    logical = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    for line in logical.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        yield keyword.upper(), rest.split()


def _copy_sources() -> set[str]:
    sources: set[str] = set()
    for keyword, args in _dockerfile_instructions():
        if keyword in ("COPY", "ADD"):
            paths = [a for a in args if not a.startswith("--")]
            sources.update(p.removeprefix("./").rstrip("/") for p in paths[:-1])
    return sources


def _env_names_in_source() -> set[str]:
    """Every ENV_VAR-shaped string literal in the installed packages' Python source."""
    names: set[str] = set()
    for package in _packages():
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and ENV_NAME.fullmatch(node.value)
                ):
                    names.add(node.value)
    return names


# --- the services ---------------------------------------------------------------------------------------


def test_the_services_are_defined(compose: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(compose["services"])


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_has_a_healthcheck(compose: dict[str, Any], name: str) -> None:
    healthcheck = _service(compose, name).get("healthcheck")
    assert isinstance(healthcheck, dict), f"{name} has no healthcheck"
    test = healthcheck["test"]
    assert isinstance(test, list)
    assert test[0] == "CMD"
    assert len(test) > 1


def test_postgres_healthcheck_asks_for_the_configured_user_and_database(compose: dict[str, Any]) -> None:
    postgres = _service(compose, "postgres")
    env = _environment(postgres)
    test = postgres["healthcheck"]["test"]
    assert "pg_isready" == test[1]
    assert env["POSTGRES_USER"] == test[test.index("-U") + 1]
    assert env["POSTGRES_DB"] == test[test.index("-d") + 1]


def test_postgres_and_nats_keep_their_data_on_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    mounts = {
        name: {str(v).split(":")[0]: str(v).split(":")[1] for v in _service(compose, name)["volumes"]}
        for name in ("postgres", "nats")
    }
    assert "/var/lib/postgresql/data" in mounts["postgres"].values()
    assert set(mounts["postgres"]) <= declared
    store_dir = _command(_service(compose, "nats"))
    jetstream_store = store_dir[store_dir.index("-sd") + 1]
    assert jetstream_store in mounts["nats"].values()
    assert set(mounts["nats"]) <= declared


# --- the qinglian service ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["qinglian", "relay"])
def test_database_url_points_at_the_postgres_service_with_its_credentials(
    compose: dict[str, Any], name: str
) -> None:
    postgres_env = _environment(_service(compose, "postgres"))
    url = urlsplit(_environment(_service(compose, name))["DATABASE_URL"])
    assert "postgres" == url.hostname
    assert postgres_env["POSTGRES_USER"] == url.username
    assert postgres_env["POSTGRES_PASSWORD"] == url.password
    assert postgres_env["POSTGRES_DB"] == url.path.removeprefix("/")
    assert url.port in (None, 5432)


def _login_sql(compose: dict[str, Any]) -> str:
    """The service login's init script as Compose hands it to PostgreSQL: `$$` in the file is one `$`."""
    mounted = _service(compose, "postgres")["configs"]
    target = "/docker-entrypoint-initdb.d/10-qinglian-service-login.sql"
    assert [{"source": "qinglian-service-login", "target": target}] == mounted
    content = compose["configs"]["qinglian-service-login"]["content"]
    assert isinstance(content, str)
    return content.replace("$$", "$")


@pytest.mark.parametrize("name", ["qinglian", "relay"])
def test_the_service_logs_in_as_its_own_login_not_the_owner(compose: dict[str, Any], name: str) -> None:
    env = _environment(_service(compose, name))
    app = urlsplit(env["QINGLIAN_APP_DATABASE_URL"])
    owner = urlsplit(env["DATABASE_URL"])
    assert (owner.hostname, owner.port, owner.path) == (app.hostname, app.port, app.path)
    assert app.username != owner.username
    sql = _login_sql(compose)
    assert f"create role {app.username} login password '{app.password}' in role qinglian_app;" in sql


@pytest.mark.storage
async def test_the_login_script_makes_a_login_that_reads_and_inserts_and_cannot_become_the_owner(
    compose: dict[str, Any], database_url: str
) -> None:
    name = unique_name("svc")
    # The same script, for a login of this test's own: roles are shared by every database of a server.
    script = _login_sql(compose).replace("qinglian_service", name)
    owner = await asyncpg.connect(database_url)
    try:
        await owner.execute(script)
        await owner.execute(script)  # idempotent: a second initialisation changes nothing
        owner_name = await owner.fetchval("select current_user")
        login = await asyncpg.connect(database_url, user=name, password=name)
        try:
            assert 0 <= await login.fetchval("select count(*) from events")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await login.execute(f'set role "{owner_name}"')
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await login.execute("create table intruder (x int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await login.execute("update events set type = type where false")
        finally:
            await login.close()
    finally:
        await owner.execute(f'drop role if exists "{name}"')
        await owner.close()


def test_settings_accept_the_qinglian_environment(compose: dict[str, Any]) -> None:
    env = _environment(_service(compose, "qinglian"))
    settings = Settings.from_env(env)
    assert env["DATABASE_URL"] == settings.database_url
    assert "0.0.0.0" == settings.host
    assert "json" == settings.log_format


def test_published_port_is_the_port_the_service_listens_on(compose: dict[str, Any]) -> None:
    qinglian = _service(compose, "qinglian")
    settings = Settings.from_env(_environment(qinglian))
    assert [settings.port] == _container_ports(qinglian)


def test_qinglian_healthcheck_asks_readyz_on_the_service_port(compose: dict[str, Any]) -> None:
    qinglian = _service(compose, "qinglian")
    settings = Settings.from_env(_environment(qinglian))
    test = " ".join(qinglian["healthcheck"]["test"])
    assert f"http://localhost:{settings.port}/readyz" in test
    # The slim image has no curl.
    assert "python" == qinglian["healthcheck"]["test"][1]


# --- the relay ---------------------------------------------------------------------------------------------


def test_the_relay_runs_the_services_image_and_its_command_parses(compose: dict[str, Any]) -> None:
    relay = _service(compose, "relay")
    assert _service(compose, "qinglian")["build"] == relay["build"]
    command = _command(relay)
    assert "qinglian" == command[0]
    # The CLI's own parser takes it as the relay command (a typo would exit with a usage error).
    args = _parser().parse_args(command[1:])
    assert relaying._relay is args.run


def test_the_relays_nats_url_names_the_nats_service_and_its_port(compose: dict[str, Any]) -> None:
    command = _command(_service(compose, "relay"))
    url = urlsplit(command[command.index("--nats-url") + 1])
    assert "nats" == url.scheme
    assert "nats" == url.hostname
    nats_command = _command(_service(compose, "nats"))
    port = next(
        (int(nats_command[i + 1]) for i, part in enumerate(nats_command) if part in ("-p", "--port")), 4222
    )
    assert port == url.port


def test_settings_accept_the_relays_environment(compose: dict[str, Any]) -> None:
    env = _environment(_service(compose, "relay"))
    settings = Settings.from_env(env)
    assert env["DATABASE_URL"] == settings.database_url
    assert _environment(_service(compose, "qinglian"))["QINGLIAN_APP_DATABASE_URL"] == (
        settings.app_database_url
    )
    assert "json" == settings.log_format


def test_the_relay_waits_for_healthy_postgres_and_nats_and_restarts(compose: dict[str, Any]) -> None:
    relay = _service(compose, "relay")
    assert {"postgres": "service_healthy", "nats": "service_healthy"} == {
        name: spec["condition"] for name, spec in relay["depends_on"].items()
    }
    assert "unless-stopped" == relay["restart"]


def _relay_healthcheck_script(compose: dict[str, Any]) -> str:
    test = _service(compose, "relay")["healthcheck"]["test"]
    assert ["CMD", "python", "-c"] == test[:3]
    script = test[3]
    assert isinstance(script, str)
    return script


def test_the_relays_healthcheck_reads_the_row_of_the_relay_the_command_runs(compose: dict[str, Any]) -> None:
    command = _command(_service(compose, "relay"))
    name = command[command.index("--name") + 1] if "--name" in command else RELAY_NAME
    assert f"where name = '{name}'" in _relay_healthcheck_script(compose)


@pytest.mark.storage
async def test_the_relays_healthcheck_fails_while_the_relay_fails_to_publish(
    compose: dict[str, Any], database_url: str
) -> None:
    script = _relay_healthcheck_script(compose)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url}

    def check() -> int:
        return subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, timeout=30
        ).returncode

    owner = await asyncpg.connect(database_url)
    try:
        assert 0 == check()  # no relay has run yet: nothing failed
        await owner.execute("insert into relay_positions (name) values ($1)", RELAY_NAME)
        assert 0 == check()
        await owner.execute(
            "update relay_positions set last_error = 'OSError: nats down', failed_at = now() where name = $1",
            RELAY_NAME,
        )
        assert 1 == check()
        await owner.execute("update relay_positions set last_error = null where name = $1", RELAY_NAME)
        assert 0 == check()
    finally:
        await owner.close()
    env["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/no_such_database_here"
    assert 1 == check()  # and while the database does not answer


def test_nats_runs_with_jetstream_and_monitoring(compose: dict[str, Any]) -> None:
    nats = _service(compose, "nats")
    command = _command(nats)
    assert {"-js", "--jetstream"} & set(command)
    monitor_port = command[command.index("-m") + 1]
    assert f":{monitor_port}/healthz?js-enabled-only=true" in " ".join(nats["healthcheck"]["test"])


def test_qinglian_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    depends_on = _service(compose, "qinglian")["depends_on"]
    assert isinstance(depends_on, dict), "depends_on needs the long form to carry conditions"
    # The service does not talk to NATS; only the relay does.
    assert {"postgres": "service_healthy"} == {name: spec["condition"] for name, spec in depends_on.items()}


def test_source_scan_finds_the_settings_variables() -> None:
    # Guards the next test against a scan that silently finds nothing.
    assert {"DATABASE_URL", "QINGLIAN_APP_DATABASE_URL", "QINGLIAN_HOST", "QINGLIAN_PORT"} <= (
        _env_names_in_source()
    )


@pytest.mark.parametrize("name", ["qinglian", "relay"])
def test_every_qinglian_variable_is_one_the_code_reads(compose: dict[str, Any], name: str) -> None:
    assert set() == set(_environment(_service(compose, name))) - _env_names_in_source()


# --- Dockerfile and .dockerignore ------------------------------------------------------------------------


def test_dockerfile_exposes_the_service_port(compose: dict[str, Any]) -> None:
    settings = Settings.from_env(_environment(_service(compose, "qinglian")))
    exposed = [
        int(port.split("/")[0])
        for keyword, args in _dockerfile_instructions()
        if keyword == "EXPOSE"
        for port in args
    ]
    assert [settings.port] == exposed


def test_dockerfile_copies_every_package_and_what_pip_install_reads() -> None:
    assert set(_packages()) | {"pyproject.toml", "README.md"} <= _copy_sources()


def test_every_subpackage_of_an_installed_package_is_installed_too() -> None:
    patterns = _package_patterns()
    found = [
        ".".join(folder.relative_to(ROOT).parts)
        for package in _packages()
        for folder in [ROOT / package, *(ROOT / package).rglob("*")]
        if (folder / "__init__.py").is_file()
    ]
    assert len(found) > len(_packages())  # service/ has subpackages: the check has something to check
    assert [] == [name for name in found if not any(fnmatch.fnmatchcase(name, p) for p in patterns)]


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [args[0] for keyword, args in _dockerfile_instructions() if keyword == "USER"]
    assert users, "the Dockerfile never leaves root"
    assert users[-1] not in ("root", "0")


def _dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per line, compiled the way Docker's patternmatcher does."""
    patterns = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        exception = text.startswith("!")
        text = text.removeprefix("!").strip().lstrip("/").rstrip("/").removeprefix("./")
        regex, i = "^", 0
        while i < len(text):
            if text.startswith("**", i):
                i += 2
                if text.startswith("/", i):
                    i += 1
                regex += ".*" if i == len(text) else "(.*/)?"
            elif text[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif text[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif text[i] == "[":
                end = text.index("]", i)
                regex, i = regex + text[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(text[i]), i + 1
        patterns.append((exception, re.compile(regex + "$")))
    return patterns


def _ignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path, or one of its parent folders, decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for exception, regex in _dockerignore_patterns():
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not exception
    return ignored


def test_dockerignore_keeps_everything_the_dockerfile_copies() -> None:
    kept = []
    for source in sorted(_copy_sources()):
        path = ROOT / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        assert files, f"COPY source {source} is missing from the repository"
        kept += [p for p in files if "__pycache__" not in p.parts]
    assert [] == [str(p.relative_to(ROOT)) for p in kept if _ignored(str(p.relative_to(ROOT)))]


@pytest.mark.parametrize(
    "path",
    [".venv/bin/python", ".git/HEAD", "tests/conftest.py", "docs/index.md", "service/__pycache__/cli.pyc"],
)
def test_dockerignore_leaves_out_the_rest(path: str) -> None:
    assert _ignored(path)
