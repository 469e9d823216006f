"""Telling a database outage from a bug: which errors mean "the database cannot be reached now", and one log
line when an outage begins and one when it ends, however many requests meet it in between."""

from __future__ import annotations

import time

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# SQLSTATE classes and codes that say the server is not there to answer: connection exceptions (08),
# insufficient resources (53: too many connections, out of memory or disk) and operator intervention
# (57: shut down, starting up, cancelled by the administrator).
_UNAVAILABLE_CLASSES = ("08", "53", "57")
# A database an operator has closed to new connections (`allow_connections false`) refuses them with this.
_UNAVAILABLE_CODES = ("55000",)


def unavailable(error: BaseException | None) -> bool:
    """Whether `error` means the database could not be reached or would not serve, rather than a
    mistake in the statement: the client may try again later."""
    if error is None:
        return False
    if isinstance(error, OSError | asyncpg.InterfaceError | TimeoutError):
        return True
    if isinstance(error, asyncpg.PostgresError):
        code = getattr(error, "sqlstate", None) or ""
        return code[:2] in _UNAVAILABLE_CLASSES or code in _UNAVAILABLE_CODES
    return False


class Outage:
    """Whether this process has found the database unavailable, logged once per outage."""

    def __init__(self) -> None:
        self._since: float | None = None

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        if self._since is None:
            self._since = time.monotonic()
            log.warning("database unavailable", error=type(error).__name__, detail=str(error)[:200])

    def answered(self) -> None:
        if self._since is not None:
            log.info("database available again", after_seconds=round(time.monotonic() - self._since, 1))
            self._since = None


# One per process: the log says when this process lost and regained the database.
OUTAGE = Outage()
