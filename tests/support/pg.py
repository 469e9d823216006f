"""A PostgreSQL server for tests and benchmarks: DATABASE_URL when set, else an embedded one.

Every run works in databases it creates under unique names, so runs never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from service.log.migrations import migrate
from service.runtime.embedded import EmbeddedPostgres

T = TypeVar("T")


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead (host, socket and credentials kept)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def server_url(environ: dict[str, str] | None = None) -> Iterator[str]:
    """A superuser URL: DATABASE_URL if set, else a throwaway embedded server removed afterwards."""
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "").strip()
    if url:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="qinglian-test-pg-"))
    server = EmbeddedPostgres(folder)
    urls = server.start()
    try:
        yield urls.superuser
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def create_database(admin_url: str, name: str, *, template: str | None = None) -> str:
    """Create database `name` (optionally from `template`) and return its URL."""
    conn = await asyncpg.connect(admin_url)
    try:
        quoted = _ident(name)
        if template is None:
            await conn.execute(f"create database {quoted}")
        else:
            await conn.execute(f"create database {quoted} template {_ident(template)}")
    finally:
        await conn.close()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"drop database if exists {_ident(name)} with (force)")
    finally:
        await conn.close()


async def create_migrated_database(admin_url: str, name: str) -> str:
    url = await create_database(admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    return f'"{name}"'


async def server_settings(url: str, names: tuple[str, ...]) -> dict[str, str]:
    """The server's settings of those names, for a benchmark's report."""
    conn = await asyncpg.connect(url)
    try:
        return {name: await conn.fetchval("select current_setting($1)", name) for name in names}
    finally:
        await conn.close()


async def in_fresh_database(run: Callable[[str], Awaitable[T]]) -> T:
    """`run(url)` on a freshly migrated database of this run's server, dropped afterwards."""
    with server_url() as admin_url:
        name = unique_name("qinglian_bench")
        url = await create_migrated_database(admin_url, name)
        try:
            return await run(url)
        finally:
            await drop_database(admin_url, name)
