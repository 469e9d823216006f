"""`qinglian token create|list|revoke`, and the demo's tokens that `serve --demo` prints.

The command line acts with the database owner's credentials, so its grants record the issuer `cli`; a
grant made through the API records the admin principal that made it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from events.access import Role, ScopeKind
from events.catalogue import CATALOGUE
from events.errors import ValidationError
from projections.access import Grant, Scope
from service.access.tokens import Issued, TokenError, Tokens, parse_duration, scope_for
from service.log.pool import create_pool
from service.log.store import EventStore
from service.runtime.app import DatabaseUrls
from service.runtime.settings import Settings
from service.runtime.target import apply_migrations, database

CLI_ISSUER = "cli"
DEMO_ISSUER = "demo"
# Demo tokens last a month: enough to try the service, not a standing way in.
DEMO_EXPIRY = timedelta(days=30)
T = TypeVar("T")
DEMO_COMMUNITY = "shuyuan"  # 古塘街道舒苑社区, the article's demonstration point


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> list[argparse.ArgumentParser]:
    """Register `token`; returns its subcommands (they use a database and take --data-dir)."""
    token = commands.add_parser("token", help="issue, list and revoke the service's own bearer tokens")
    actions = token.add_subparsers(title="token commands", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="issue a token and print its secret, this once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role if r is not Role.ANONYMOUS])
    where = create.add_mutually_exclusive_group()
    where.add_argument("--town", help="a clerk's town: every community in it")
    where.add_argument("--community", help="a clerk's community")
    create.add_argument("--name", required=True, help="a label: who or what holds it")
    create.add_argument("--expires", type=_duration, help="e.g. 90d, 12h or 2w (default: until revoked)")
    create.set_defaults(run=_create)
    listing = actions.add_parser("list", help="every token issued, with its standing")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_list)
    revoke = actions.add_parser("revoke", help="revoke a token from now on")
    revoke.add_argument("token_id", metavar="ID", help="the token's public id, as `token list` shows it")
    revoke.add_argument("--reason", default="revoked from the command line", help="why, for the log")
    revoke.set_defaults(run=_revoke)
    return [create, listing, revoke]


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


@contextlib.asynccontextmanager
async def _tokens(urls: DatabaseUrls) -> AsyncIterator[Tokens]:
    pool = await create_pool(urls.owner, urls.app, min_size=1, max_size=2)
    store = EventStore(pool, CATALOGUE)
    try:
        yield Tokens(pool, store)
    finally:
        await store.close()
        await pool.close()


def _create(settings: Settings, args: argparse.Namespace) -> int:
    role = Role(args.role)

    async def run(urls: DatabaseUrls) -> Issued:
        async with _tokens(urls) as tokens:
            return await tokens.create(
                role=role,
                scope=scope_for(role, args.town, args.community),
                label=args.name,
                issuer=CLI_ISSUER,
                expires_in=args.expires,
            )

    try:
        issued = on_database(settings, run)
    except ValidationError as exc:
        print(f"qinglian: error: {'; '.join(f'{f}: {m}' for f, m in exc.errors)}", file=sys.stderr)
        return 2
    grant = issued.grant
    print(f"token {grant.token_id}: {grant.role.value}, {grant.scope}, {_until(grant)}", file=sys.stderr)
    print("the secret is shown this once; only its hash is kept:", file=sys.stderr)
    print(issued.token)
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def run(urls: DatabaseUrls) -> list[Grant]:
        async with _tokens(urls) as tokens:
            return await tokens.list()

    for grant in on_database(settings, run):
        if args.json:
            print(json.dumps(grant_json(grant), ensure_ascii=False))
        else:
            standing = f"revoked {grant.revoked_at:%Y-%m-%d}" if grant.revoked_at else _until(grant)
            scope = str(grant.scope)
            print(f"{grant.token_id}  {grant.role.value:<10}  {scope:<24}  {standing:<24}  {grant.label}")
    return 0


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def run(urls: DatabaseUrls) -> Grant:
        async with _tokens(urls) as tokens:
            return await tokens.revoke(args.token_id, reason=args.reason, issuer=CLI_ISSUER)

    try:
        grant = on_database(settings, run)
    except TokenError as exc:
        print(f"qinglian: error: {exc}", file=sys.stderr)
        return 2
    print(f"token {grant.token_id} ({grant.label}) revoked")
    return 0


def on_database(settings: Settings, work: Callable[[DatabaseUrls], Coroutine[Any, Any, T]]) -> T:
    """Run `work` on the (migrated) database the settings name, the embedded one included."""
    with database(settings) as target:
        asyncio.run(apply_migrations(target.urls.owner))
        return asyncio.run(work(target.urls))


def _until(grant: Grant) -> str:
    return f"expires {grant.expires_at:%Y-%m-%d %H:%M} UTC" if grant.expires_at else "until revoked"


def grant_json(grant: Grant) -> dict[str, object]:
    """A grant as `token list --json` and `verify --json` print it."""
    return {
        "token_id": grant.token_id,
        "label": grant.label,
        "role": grant.role.value,
        "scope": str(grant.scope),
        "granted_at": grant.granted_at.isoformat(),
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
        "revoked_at": grant.revoked_at.isoformat() if grant.revoked_at else None,
        "issuer": grant.issuer,
    }


async def demo_tokens(urls: DatabaseUrls) -> list[Issued]:
    """Fresh demo tokens, one per role (the clerk's for 舒苑社区), the demo's earlier ones revoked: their
    secrets were printed once and are not kept, so a new start hands out new ones."""
    async with _tokens(urls) as tokens:
        for grant in await tokens.list():
            if grant.issuer == DEMO_ISSUER and grant.revoked_at is None:
                await tokens.revoke(grant.token_id, reason="a new demo start", issuer=DEMO_ISSUER)
        issued = []
        for role, scope in (
            (Role.ADMIN, Scope()),
            (Role.INSPECTOR, Scope()),
            (Role.INTEGRATOR, Scope()),
            (Role.CLERK, Scope(kind=ScopeKind.COMMUNITY, id=DEMO_COMMUNITY)),
        ):
            label = f"demo {role.value}" + (f" of {scope.id}" if scope.id else "")
            issued.append(
                await tokens.create(
                    role=role, scope=scope, label=label, issuer=DEMO_ISSUER, expires_in=DEMO_EXPIRY
                )
            )
        return issued


def demo_lines(issued: Sequence[Issued], base_url: str) -> list[str]:
    """What `serve --demo` prints: each token, and a mutation to try in one paste."""
    lines = ["Demo tokens (valid 30 days; a new start issues new ones):"]
    for item in issued:
        lines.append(f"  {item.grant.label:<28} {item.token}")
    clerk = next(i for i in issued if i.grant.role is Role.CLERK)
    body = json.dumps(
        {
            "query": "mutation($k: String!) { recordTraining(idempotencyKey: $k, input: {communityId: "
            '"shuyuan", trainingId: "try-1", kind: INTEGRITY_COURSE, heldOn: "2022-06-20", attendees: 30, '
            'hours: 2.0, title: "清廉专题培训"}) { __typename ... on NotAuthorized { reason } } }',
            "variables": {"k": "try-1"},
        },
        ensure_ascii=False,
    )
    lines.append("Try a mutation as the clerk of 舒苑社区:")
    lines.append(
        f"  curl -s {base_url}/graphql -H 'Authorization: Bearer {clerk.token}' "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )
    return lines
