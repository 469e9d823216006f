"""Subscriptions' arguments, malformed, oversized and hostile: each is refused with a clear error before
anything is streamed, and nothing is left subscribed."""

from __future__ import annotations

import pytest

from tests.schema.conftest import Api
from tests.support.principals import INTEGRATOR

CASES = [
    ('subscription { events(after: "not-a-cursor") { cursor } }', "BAD_USER_INPUT", "after"),
    ('subscription { events(after: "' + "A" * 5000 + '") { cursor } }', "BAD_USER_INPUT", "after"),
    # A cursor of another list (history), and a position past a bigint.
    ('subscription { events(after: "WyJoaXN0b3J5IiwxXQ") { cursor } }', "BAD_USER_INPUT", "after"),
    (
        'subscription { events(after: "WyJldmVudHMiLDk5OTk5OTk5OTk5OTk5OTk5OTk5XQ") { cursor } }',
        "BAD_USER_INPUT",
        "after",
    ),
    (
        'subscription { events(filter: {types: ["NoSuchEvent"]}) { cursor } }',
        "BAD_USER_INPUT",
        "filter.types",
    ),
    (
        'subscription { events(filter: {streamPrefix: "' + "x" * 500 + '"}) { cursor } }',
        "BAD_USER_INPUT",
        "filter.streamPrefix",
    ),
    (
        'subscription { communityStatusChanged(communityId: "shuyuan", townId: "gutang") { cause } }',
        "BAD_USER_INPUT",
        "communityId",
    ),
    (
        'subscription { communityStatusChanged(communityId: "no-such") { cause } }',
        "BAD_USER_INPUT",
        "communityId",
    ),
    (
        'subscription { communityStatusChanged(communityId: "' + "c" * 300 + '") { cause } }',
        "BAD_USER_INPUT",
        "communityId",
    ),
    ('subscription { coverageChanged(townId: "no-such-town") { cause } }', "BAD_USER_INPUT", "townId"),
    (
        'subscription { coverageChanged(townId: "\'; drop table events; --") { cause } }',
        "BAD_USER_INPUT",
        "townId",
    ),
]


@pytest.mark.parametrize(("document", "code", "field"), CASES)
async def test_a_bad_argument_is_refused_at_once_with_its_field(
    demo: Api, document: str, code: str, field: str
) -> None:
    first = await demo.first_result(document, principal=INTEGRATOR, within=10.0)
    assert first is not None, "refused at once, not left waiting"
    assert first.data is None
    [error] = first.errors or []
    assert code == (error.extensions or {}).get("code")
    assert field == (error.extensions or {}).get("field")
    services = demo.services
    assert services.hub is not None
    assert services.status_watch is not None
    assert 0 == services.hub.subscribers
    assert 0 == services.status_watch.watching


async def test_an_unknown_argument_or_a_wrong_type_is_a_validation_error(demo: Api) -> None:
    for document in (
        "subscription { events(first: 5) { cursor } }",
        "subscription { events(after: 42) { cursor } }",
        "subscription { coverageChanged(townId: [1, 2]) { cause } }",
    ):
        first = await demo.first_result(document, principal=INTEGRATOR, within=10.0)
        assert first is not None
        assert first.data is None
        assert first.errors
