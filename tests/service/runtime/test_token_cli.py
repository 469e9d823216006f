"""`qinglian token create|list|revoke` as an operator runs them, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from service.access.authenticator import Authenticator
from service.access.errors import Unauthenticated
from service.log.pool import create_pool
from tests.service.runtime.test_cli import child_env, run_qinglian


async def authenticate(database_url: str, token: str) -> str:
    """The role a token authenticates as, or the refusal's words."""
    pool = await create_pool(database_url, None, min_size=1, max_size=1)
    try:
        return (await Authenticator(pool).authenticate(f"Bearer {token}")).role.value
    except Unauthenticated as exc:
        return str(exc)
    finally:
        await pool.close()


def test_a_token_is_created_listed_used_and_revoked(database_url: str) -> None:
    env = child_env(database_url)
    created = run_qinglian(
        "token",
        "create",
        "--role",
        "clerk",
        "--community",
        "shuyuan",
        "--name",
        "舒苑 clerk",
        "--expires",
        "90d",
        env=env,
    )
    assert 0 == created.returncode, created.stderr
    token = created.stdout.strip()
    assert token.startswith("qlt_")
    assert "shown this once" in created.stderr
    assert "clerk" == asyncio.run(authenticate(database_url, token))

    listed = run_qinglian("token", "list", "--json", env=env)
    assert 0 == listed.returncode, listed.stderr
    [grant] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert ("clerk", "community:shuyuan", "舒苑 clerk", "cli", None) == (
        grant["role"],
        grant["scope"],
        grant["label"],
        grant["issuer"],
        grant["revoked_at"],
    )
    assert token[4:16] == grant["token_id"]
    assert token not in listed.stdout

    revoked = run_qinglian("token", "revoke", grant["token_id"], "--reason", "left", env=env)
    assert 0 == revoked.returncode, revoked.stderr
    assert "revoked" in asyncio.run(authenticate(database_url, token))
    again = run_qinglian("token", "revoke", grant["token_id"], env=env)
    assert 2 == again.returncode
    assert "already revoked" in again.stderr


def test_mistakes_on_the_command_line_are_named_and_write_nothing(database_url: str) -> None:
    env = child_env(database_url)
    for args, says in [
        (["--role", "clerk", "--name", "x"], "needs --town or --community"),
        (["--role", "admin", "--town", "gutang", "--name", "x"], "covers the whole city"),
        (["--role", "king", "--name", "x"], "invalid choice"),
        (["--role", "admin", "--name", "x", "--expires", "1y"], "is not a duration"),
        (["--role", "admin", "--name", ""], "label"),
    ]:
        result = run_qinglian("token", "create", *args, env=env)
        assert 2 == result.returncode, (args, result.stdout)
        assert says in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr

    async def grants() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            count: int = await conn.fetchval("select count(*) from events where stream_id like 'access-%'")
            return count
        finally:
            await conn.close()

    assert 0 == asyncio.run(grants())
