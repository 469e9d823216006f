"""`qinglian erase RECORD-ID --reason TEXT`: forget a report's or a finding's restricted text for good.

The command line acts with the database owner's credentials: it is an administrator's act, recorded in the
log as the system principal `cli` with the admin role.
"""

from __future__ import annotations

import argparse
import sys

from events.access import Role
from events.catalogue import CATALOGUE
from events.errors import ValidationError
from projections.access import Principal
from projections.localtime import local_date
from service.commands.erasure import Erasure, ErasureError, erase
from service.commands.handler import Commands
from service.commands.recording import NotAllowed
from service.log.clock import utc_now
from service.log.pool import create_pool
from service.log.store import EventStore
from service.runtime.access import CLI_ISSUER, on_database
from service.runtime.app import DatabaseUrls
from service.runtime.settings import Settings

CLI_PRINCIPAL = Principal(kind="system", id=CLI_ISSUER, label=CLI_ISSUER, role=Role.ADMIN)


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> list[argparse.ArgumentParser]:
    """Register `erase`; returns it (it uses a database and takes --data-dir)."""
    parser = commands.add_parser(
        "erase",
        help="forget a report's or a finding's restricted text; the log records that it was erased",
        description="Deletes the salt and the value of the record's restricted text (a report's summary "
        "and outcome, a rectification note) and records an Erased event saying which fields, when and why. "
        "The log, every checkpoint and every export still verify.",
    )
    parser.add_argument("record_id", metavar="RECORD-ID", help="the report's or the finding's id")
    parser.add_argument(
        "--reason", required=True, help="why, kept in the log for good: say why, not what was erased"
    )
    parser.add_argument("--community", help="the record's community, where the id is used in several")
    parser.set_defaults(run=_erase)
    return [parser]


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    async def run(urls: DatabaseUrls) -> Erasure:
        pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=2)
        store = EventStore(pool, CATALOGUE)
        try:
            return await erase(
                Commands(store, CATALOGUE),
                pool,
                principal=CLI_PRINCIPAL,
                record_id=args.record_id,
                reason=args.reason,
                today=local_date(utc_now()),
                community_id=args.community,
            )
        finally:
            await store.close()
            await pool.close()

    try:
        done = on_database(settings, run)
    except (ErasureError, NotAllowed) as exc:
        print(f"qinglian: error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"qinglian: error: {'; '.join(f'{f}: {m}' for f, m in exc.errors)}", file=sys.stderr)
        return 2
    if done.position is None:
        print(f"{done.record_id} (community {done.community_id}): nothing left to erase")
        return 0
    fields = ", ".join(f"{f.field} of the event at {f.position}" for f in done.fields)
    print(
        f"{done.record_id} (community {done.community_id}): erased {fields}; Erased event at {done.position}"
    )
    return 0
