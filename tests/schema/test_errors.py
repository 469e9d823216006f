"""Unexpected errors are logged once with their traceback and masked to the client; every operation
leaves one canonical log line; an operation over the time limit is stopped with TIMEOUT."""

from __future__ import annotations

import asyncpg
from structlog.testing import capture_logs

from events.catalogue import CATALOGUE
from schema.build import SCHEMA, build_schema
from schema.context import Context, Services
from schema.limits import Limits
from service.commands.handler import Commands
from service.log.outage import OUTAGE
from service.log.pool import create_pool
from service.log.store import EventStore
from service.read.projector import Projector
from service.read.readmodel import ReadModel
from service.transparency.tree import LogTree
from tests.schema.conftest import Api
from tests.support.principals import ANONYMOUS, INSPECTOR


def services_on(pool: asyncpg.Pool) -> Services:
    store = EventStore(pool, CATALOGUE)
    return Services(
        store=store,
        commands=Commands(store, CATALOGUE),
        projector=Projector(pool, CATALOGUE),
        read_model=ReadModel(pool),
        registry=CATALOGUE,
        tree=LogTree(pool),
        pool=pool,
    )


async def test_an_unexpected_error_is_masked_to_the_client_and_logged_once(
    database_url: str, owner: asyncpg.Connection
) -> None:
    # A stored document the code cannot read: a fault the client should not see the details of.
    await owner.execute(
        "insert into facts (generation, entity, entity_id, position, body) "
        "select generation, 'standard', '1', 1, '{\"not\": \"a standard\"}' "
        "from projection_checkpoints where name = 'facts'"
    )
    pool = await create_pool(database_url, None, min_size=1, max_size=1)
    try:
        context = Context(services=services_on(pool), principal=ANONYMOUS, request_id="r-1")
        with capture_logs() as logs:
            result = await SCHEMA.execute("{ standards { version } }", context_value=context)
    finally:
        await pool.close()
    assert result.errors is not None
    assert ["Unexpected error."] == [e.message for e in result.errors]
    logged = [entry for entry in logs if entry["event"] == "unexpected error in a resolver"]
    assert 1 == len(logged)
    assert logged[0]["exc_info"][1] is not None


async def test_a_database_out_of_reach_is_its_own_error_logged_once_not_a_traceback(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, None, min_size=1, max_size=1)
    await pool.close()  # every read now fails as if the database were gone
    context = Context(services=services_on(pool), principal=ANONYMOUS, request_id="r-1")
    OUTAGE.answered()  # the process's record of outages starts clear, whatever ran before
    with capture_logs() as logs:
        first = await SCHEMA.execute("{ standards { version } }", context_value=context)
        second = await SCHEMA.execute("{ standards { version } }", context_value=context)
    for result in (first, second):
        assert result.errors is not None
        assert ["DATABASE_UNAVAILABLE"] == [(e.extensions or {}).get("code") for e in result.errors]
    assert [] == [entry for entry in logs if entry["event"] == "unexpected error in a resolver"]
    assert 1 == len([entry for entry in logs if entry["event"] == "database unavailable"])


async def test_each_operation_leaves_one_canonical_log_line(api: Api) -> None:
    with capture_logs() as logs:
        await api.data("query Dashboard { standards { version } }")
    lines = [entry for entry in logs if entry["event"] == "graphql operation"]
    assert 1 == len(lines)
    line = lines[0]
    assert {
        "operation_name": "Dashboard",
        "operation_type": "query",
        "outcome": "ok",
        "request_id": "test-request",
    } == {k: line[k] for k in ("operation_name", "operation_type", "outcome", "request_id")}
    assert line["duration_ms"] >= 0


async def test_a_failed_validation_is_logged_as_rejected(api: Api) -> None:
    with capture_logs() as logs:
        result = await api.execute("{ nothingHere }")
    assert result.errors is not None
    assert ["rejected"] == [e["outcome"] for e in logs if e["event"] == "graphql operation"]


async def test_an_operation_over_the_time_limit_is_stopped_with_timeout(api: Api) -> None:
    schema = build_schema(Limits(timeout_seconds=1e-9))
    context = Context(services=api.services, principal=INSPECTOR, request_id="slow")
    result = await schema.execute(
        "{ events(first: 100) { edges { node { position } } } }", context_value=context
    )
    assert result.errors is not None
    error = result.errors[0]
    assert "TIMEOUT" == (error.extensions or {}).get("code")
    assert "time limit of 1e-09 s" in error.message
