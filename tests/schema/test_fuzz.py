"""Schema fuzzing against a real `qinglian serve --demo`: every root field of Query and Mutation, with
generated arguments and selections (tests/support/fuzz.py), as the demo's admin, clerk and inspector and
anonymously, and operations with one schema violation each.

No answer may be a 5xx, go over the response budget, or be anything but GraphQL-shaped JSON, and the server
must log neither a traceback nor an unexpected error. Bounded and derandomized: the same operations on every
run, a few examples per field (the longer run is `python -m tests.bench.fuzz`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fuzz import (
    HTTP_TIMEOUT,
    MUTATION_FIELDS,
    QUERY_FIELDS,
    Served,
    answer_problems,
    log_problems,
    operations,
    send,
    serving,
)
from tests.support.pg import create_database, drop_database, unique_name, with_database

pytestmark = pytest.mark.storage

EXAMPLES_PER_FIELD = 8
NEGATIVE_EXAMPLES = 24
FUZZ = settings(
    max_examples=EXAMPLES_PER_FIELD,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def served(admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    name = unique_name("qinglian_fuzz")
    asyncio.run(create_database(admin_url, name, template=template_db))
    try:
        with serving(with_database(admin_url, name), tmp_path_factory.mktemp("fuzz")) as server:
            yield server
            assert [] == log_problems(server.log())
    finally:
        asyncio.run(drop_database(admin_url, name))


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        yield client


def check(client: httpx.Client, served: Served, document: str, who: str) -> None:
    answer, _ = send(client, served, document, who)
    problems = answer_problems(answer.status_code, answer.headers.get("content-type", ""), answer.content)
    problems += log_problems(served.new_log())
    assert [] == problems, f"as {who}:\n{document}\n{answer.text[:2000]}\n{served.new_log()}"


@pytest.mark.parametrize("root", QUERY_FIELDS)
@FUZZ
@given(data=st.data())
def test_every_query_answers_in_shape(
    served: Served, client: httpx.Client, root: str, data: st.DataObject
) -> None:
    who = data.draw(st.sampled_from(["anonymous", "admin", "clerk", "inspector"]), label="who")
    check(client, served, data.draw(operations("query", root), label="document"), who)


@pytest.mark.parametrize("root", MUTATION_FIELDS)
@FUZZ
@given(data=st.data())
def test_every_mutation_answers_in_shape(
    served: Served, client: httpx.Client, root: str, data: st.DataObject
) -> None:
    # Mostly the admin, whom every mutation allows, so the commands run; the others must be refused cleanly.
    who = data.draw(st.sampled_from(["admin", "admin", "admin", "clerk", "anonymous"]), label="who")
    check(client, served, data.draw(operations("mutation", root), label="document"), who)


@pytest.mark.parametrize("kind", ["query", "mutation"])
@settings(FUZZ, max_examples=NEGATIVE_EXAMPLES)
@given(data=st.data())
def test_operations_that_break_the_schema_are_refused_in_shape(
    served: Served, client: httpx.Client, kind: str, data: st.DataObject
) -> None:
    document = data.draw(operations(kind, negative=True), label="document")
    check(client, served, document, "admin")


def test_the_checks_catch_what_they_should(tmp_path: Path) -> None:
    assert [] == answer_problems(200, "application/json", b'{"data": {"city": null}}')
    assert [] == answer_problems(200, "application/json", b'{"data": null, "errors": [{"message": "no"}]}')
    assert ["HTTP 500"] == answer_problems(500, "application/json", b'{"errors": [{"message": "boom"}]}')
    assert answer_problems(200, "text/plain", b"Internal Server Error")
    assert answer_problems(200, "application/json", b'{"errors": [{"code": "X"}]}')
    assert answer_problems(200, "application/json", b'{"errors": []}')
    assert answer_problems(200, "application/json", b"[]")
    log = "info ok\nerror unexpected error in a resolver\nTraceback (most recent call last):\n"
    assert 2 == len(log_problems(log))
