"""Connections to PostgreSQL: the pool the service works through, and clear errors when it cannot connect."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import asyncpg

CONNECT_TIMEOUT = 10.0
# The SELECT/INSERT-only role that migration 0001 creates and the service works as.
APP_ROLE = "qinglian_app"


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached or refused us; the message says which and where."""


def describe(url: str) -> str:
    """`user@host:port/database` without the password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    from urllib.parse import parse_qs

    socket_dir = parse_qs(parts.query).get("host")
    if socket_dir:
        host = socket_dir[0]
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{user}{host}{port}{parts.path or '/'}"


def _explain(url: str, exc: BaseException) -> DatabaseUnavailable:
    where = describe(url)
    if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return DatabaseUnavailable(f"PostgreSQL at {where} refused the credentials: {exc}")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return DatabaseUnavailable(f"PostgreSQL at {where}: {exc}")
    if isinstance(exc, socket.gaierror):
        return DatabaseUnavailable(f"cannot resolve the database host in {where}: {exc.strerror}")
    if isinstance(exc, TimeoutError):
        return DatabaseUnavailable(f"no answer from PostgreSQL at {where} within {CONNECT_TIMEOUT:.0f} s")
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        return DatabaseUnavailable(f"cannot reach PostgreSQL at {where}: {reason}")
    return DatabaseUnavailable(f"cannot connect to PostgreSQL at {where}: {exc}")


_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def connect(url: str, **kwargs: Any) -> asyncpg.Connection:
    """One connection, with a one-line DatabaseUnavailable instead of a driver traceback."""
    try:
        return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT, **kwargs)
    except _CONNECT_ERRORS as exc:
        raise _explain(url, exc) from exc


async def create_pool(owner_url: str, app_url: str | None, *, min_size: int, max_size: int) -> asyncpg.Pool:
    """The application pool. Every connection works as the SELECT/INSERT-only role.

    With its own login (`app_url`) the role is the session user; otherwise the owner connects and the
    `role` startup parameter makes every statement run with the application role's privileges.
    """
    url = app_url or owner_url
    server_settings = {"application_name": "qinglian"}
    if app_url is None:
        server_settings["role"] = APP_ROLE
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=CONNECT_TIMEOUT,
            server_settings=server_settings,
        )
    except _CONNECT_ERRORS as exc:
        raise _explain(url, exc) from exc
    assert pool is not None  # create_pool only returns None when awaited without init
    return pool
