"""Where a command's database is: DATABASE_URL, or the embedded PostgreSQL in the data folder, started and
stopped around the command."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from service.log.migrations import MigrationError, applied_migrations, check_history, load_migrations, migrate
from service.log.pool import connect, describe
from service.runtime.app import DatabaseUrls
from service.runtime.embedded import EmbeddedError, start_embedded
from service.runtime.settings import Settings


@dataclass(frozen=True, slots=True)
class Target:
    urls: DatabaseUrls
    description: str


class HeldSignals:
    """Ctrl-C and SIGTERM noted rather than acted on inside the block; `replay()` acts on the first one.

    For starting the embedded server. Interrupted there, the wheel kills the initdb or pg_ctl it is waiting
    for: a half-written data folder that never starts again, or a postmaster that nothing stops. Starting
    takes seconds, so it is finished first and then stopped. (A terminal's Ctrl-C also reaches initdb and
    pg_ctl themselves; both clean up after themselves on SIGINT and the start fails, which `replay()` then
    turns into the stop that was asked for.)
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._caught: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> HeldSignals:
        for signum in self._SIGNALS:
            self._previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._caught.append(signum)

    def replay(self) -> None:
        """Deliver the first signal held to the handler now in place (KeyboardInterrupt, _Stop)."""
        if self._caught:
            signal.raise_signal(self._caught[0])


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[Target]:
    if settings.database_url is not None:
        yield Target(
            DatabaseUrls(owner=settings.database_url, app=settings.app_database_url),
            describe(settings.database_url),
        )
        return
    held = HeldSignals()
    try:
        with held:
            server, urls = start_embedded(settings.data_dir)
    except EmbeddedError:
        # Failed because initdb or pg_ctl got the Ctrl-C too? Then that stop is the outcome, not the error.
        held.replay()
        raise
    try:
        held.replay()
        yield Target(
            DatabaseUrls(owner=urls.owner, app=urls.app),
            f"embedded PostgreSQL {urls.version} in {settings.data_dir}",
        )
    finally:
        server.stop()


async def apply_migrations(owner_url: str) -> list[str]:
    conn = await connect(owner_url)
    try:
        return [f"{m.version:04d}_{m.name}" for m in await migrate(conn)]
    finally:
        await conn.close()


async def require_migrated(owner_url: str) -> None:
    """For commands that only read: refuse a database the code's migrations have not all been applied to,
    rather than change its schema behind the user's back."""
    conn = await connect(owner_url)
    try:
        pending = check_history(await applied_migrations(conn), load_migrations())
    finally:
        await conn.close()
    if pending:
        raise MigrationError(
            f"the database is not migrated ({len(pending)} migration(s) pending): run `qinglian migrate`, "
            "or `qinglian serve`, which migrates first"
        )
