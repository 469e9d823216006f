"""grantAccess and revokeAccess: the token shown once, and every bad input a validation error naming it."""

from __future__ import annotations

from typing import Any

import pytest

from service.access.authenticator import Authenticator
from service.access.errors import Unauthenticated
from tests.schema.conftest import Api
from tests.support.principals import ADMIN, INSPECTOR

GRANT = """mutation($input: GrantAccessInput!) { grantAccess(input: $input) {
  __typename
  ... on AccessIssued { token grant { tokenId role scope label expiresAt revokedAt } }
  ... on ValidationError { errors { field message } }
  ... on NotAuthorized { reason } } }"""
REVOKE = """mutation($id: String!, $reason: String!) { revokeAccess(tokenId: $id, reason: $reason) {
  __typename
  ... on AccessRevocation { grant { tokenId revokedAt } }
  ... on ValidationError { errors { field message } }
  ... on NotAuthorized { reason } } }"""


def clerk_input(**changes: Any) -> dict[str, Any]:
    return {"role": "CLERK", "label": "舒苑 clerk", "communityId": "shuyuan", "expiresInDays": 90, **changes}


async def test_an_admin_issues_a_token_that_works_and_revokes_it(api: Api) -> None:
    issued = (await api.data(GRANT, {"input": clerk_input()}, principal=ADMIN))["grantAccess"]
    assert "AccessIssued" == issued["__typename"]
    assert ("clerk", "community:shuyuan", None) == (
        issued["grant"]["role"],
        issued["grant"]["scope"],
        issued["grant"]["revokedAt"],
    )
    authenticator = Authenticator(api.services.pool)
    principal = await authenticator.authenticate(f"Bearer {issued['token']}")
    assert "community:shuyuan" == str(principal.scope)
    revoked = await api.data(REVOKE, {"id": issued["grant"]["tokenId"], "reason": "moved"}, principal=ADMIN)
    assert "AccessRevocation" == revoked["revokeAccess"]["__typename"]
    with pytest.raises(Unauthenticated, match="revoked"):
        await authenticator.authenticate(f"Bearer {issued['token']}")
    # The grant names its issuer: the admin principal that made it.
    stream = "access-" + issued["grant"]["tokenId"]
    history = await api.data(
        '{ history(streamId: "' + stream + '") { edges { node { type payload } } } }', principal=ADMIN
    )
    nodes = [e["node"] for e in history["history"]["edges"]]
    assert ["AccessGranted", "AccessRevoked"] == [n["type"] for n in nodes]
    assert "test admin" in nodes[0]["payload"]["issuer"]
    assert "token" not in nodes[0]["payload"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"label": ""}, "input.label"),
        ({"label": "x" * 10_000}, "input.label"),
        ({"label": "tab\tand\nnewline"}, "input.label"),
        ({"communityId": "../etc/passwd"}, "input.scope"),
        ({"communityId": "x" * 100_000}, "input.scope"),
        ({"communityId": None}, "input.scope"),
        ({"townId": "gutang"}, "input.scope"),
        ({"expiresInDays": 0}, "input.expiresInDays"),
        ({"expiresInDays": 100_000}, "input.expiresInDays"),
        ({"role": "ADMIN"}, "input.scope"),
    ],
)
async def test_a_bad_grant_is_a_validation_error_naming_the_field_and_writes_nothing(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    before = await api.services.store.head()
    result = (await api.data(GRANT, {"input": clerk_input(**changes)}, principal=ADMIN))["grantAccess"]
    assert "ValidationError" == result["__typename"], result
    assert field in [e["field"] for e in result["errors"]]
    assert before == await api.services.store.head()


@pytest.mark.parametrize(
    ("token_id", "reason", "field"),
    [
        ("000000000000", "gone", "tokenId"),
        ("'; drop table events; --", "gone", "tokenId"),
        ("x" * 100_000, "gone", "tokenId"),
        ("000000000000", "", "reason"),
        ("000000000000", "r" * 501, "reason"),
    ],
)
async def test_a_bad_revocation_is_a_validation_error(
    api: Api, token_id: str, reason: str, field: str
) -> None:
    result = (await api.data(REVOKE, {"id": token_id, "reason": reason}, principal=ADMIN))["revokeAccess"]
    assert "ValidationError" == result["__typename"]
    assert [field] == [e["field"] for e in result["errors"]]


async def test_only_an_admin_grants_or_revokes(api: Api) -> None:
    grant = (await api.data(GRANT, {"input": clerk_input()}, principal=INSPECTOR))["grantAccess"]
    revoke = (await api.data(REVOKE, {"id": "000000000000", "reason": "x"}, principal=INSPECTOR))[
        "revokeAccess"
    ]
    assert ("NotAuthorized", "NotAuthorized") == (grant["__typename"], revoke["__typename"])
    assert "admin" in grant["reason"]
