"""Inspectors and front-ends through GraphQL: the newest checkpoint with its parts, proofs for any size, and
each event's leaf hash and inclusion proof against the signed root, batched for a page."""

from __future__ import annotations

import base64
from pathlib import Path

import asyncpg
import pytest

from events.merkle import leaf_hash, root, verify_consistency, verify_inclusion
from events.note import open_note
from service.transparency.signer import Signer, SigningKey
from tests.schema.conftest import Api, Counter
from tests.support.logs import signing_key

CHECKPOINT = "{ checkpoint { origin treeSize rootHash rootBase64 note keyId verifierKey signedAt } }"
PAGE = """
query ($first: Int) {
  events(first: $first) {
    edges { node { position leafHash canonical inclusionProof { leafIndex treeSize rootHash proof } } }
  }
}
"""


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return signing_key(tmp_path)


async def leaves(pool: asyncpg.Pool) -> list[bytes]:
    return [r[0] for r in await pool.fetch("select leaf_hash from events order by position")]


def hexes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


async def test_no_checkpoint_yet_is_null_and_events_have_no_proof(demo: Api) -> None:
    assert {"checkpoint": None} == await demo.data(CHECKPOINT)
    data = await demo.data(PAGE, {"first": 3})
    assert [None, None, None] == [e["node"]["inclusionProof"] for e in data["events"]["edges"]]


async def test_the_checkpoint_comes_with_its_parts_and_its_note_verifies(demo: Api, key: SigningKey) -> None:
    signed = await Signer(demo.services.pool, demo.services.tree, key).sign()
    found = (await demo.data(CHECKPOINT))["checkpoint"]
    assert signed.note == found["note"]
    assert (signed.checkpoint.size, signed.checkpoint.root.hex()) == (found["treeSize"], found["rootHash"])
    # The one root in both spellings, each named: base64 exactly as the note's third line has it.
    assert found["note"].splitlines()[2] == found["rootBase64"]
    assert base64.b64decode(found["rootBase64"]).hex() == found["rootHash"]
    assert (f"{key.signer.key_id:08x}", "cixi.example/qinglian") == (found["keyId"], found["origin"])
    open_note(found["note"], [key.signer.verifier])  # raises if it does not verify


async def test_every_event_on_a_page_carries_a_proof_that_verifies_against_the_signed_root(
    demo: Api, key: SigningKey
) -> None:
    signed = await Signer(demo.services.pool, demo.services.tree, key).sign()
    data = await demo.data(PAGE, {"first": 100})
    edges = [e["node"] for e in data["events"]["edges"]]
    assert 100 == len(edges)
    for node in edges:
        proof = node["inclusionProof"]
        assert leaf_hash(node["canonical"].encode()).hex() == node["leafHash"]
        assert (signed.checkpoint.size, signed.checkpoint.root.hex()) == (
            proof["treeSize"],
            proof["rootHash"],
        )
        assert verify_inclusion(
            bytes.fromhex(node["leafHash"]),
            proof["leafIndex"],
            proof["treeSize"],
            hexes(proof["proof"]),
            signed.checkpoint.root,
        )


async def test_a_page_of_proofs_costs_the_same_reads_as_one(
    counted: tuple[Api, Counter], key: SigningKey
) -> None:
    api, counter = counted
    await Signer(api.services.pool, api.services.tree, key).sign()
    await api.data(PAGE, {"first": 1})
    costs = {}
    for size in (1, 10, 100):
        counter.queries.clear()
        data = await api.data(PAGE, {"first": size})
        assert size == len([e for e in data["events"]["edges"] if e["node"]["inclusionProof"] is not None])
        costs[size] = len(counter.queries)
    assert costs[1] == costs[10] == costs[100], counter.queries


async def test_history_exposes_the_same_leaf_hashes_the_log_stored(demo: Api) -> None:
    data = await demo.data(
        '{ history(streamId: "community-shuyuan", first: 5) { edges { node { position leafHash } } } }'
    )
    stored = await leaves(demo.services.pool)
    for edge in data["history"]["edges"]:
        assert stored[edge["node"]["position"] - 1].hex() == edge["node"]["leafHash"]


async def test_inclusion_and_consistency_proofs_for_any_size_verify(demo: Api) -> None:
    stored = await leaves(demo.services.pool)
    data = await demo.data(
        """{
          inclusionProof(position: 1000, treeSize: 3001) { leafIndex treeSize leafHash rootHash proof }
          consistencyProof(fromSize: 777, toSize: 3001) { fromRootHash toRootHash proof }
        }"""
    )
    inc, con = data["inclusionProof"], data["consistencyProof"]
    assert root(stored[:3001]).hex() == inc["rootHash"]
    assert verify_inclusion(stored[999], 999, 3001, hexes(inc["proof"]), root(stored[:3001]))
    assert (root(stored[:777]).hex(), root(stored[:3001]).hex()) == (con["fromRootHash"], con["toRootHash"])
    assert verify_consistency(777, 3001, hexes(con["proof"]), root(stored[:777]), root(stored[:3001]))


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("{ inclusionProof(position: 0, treeSize: 5) { proof } }", "position", "between 1 and treeSize"),
        ("{ inclusionProof(position: 9, treeSize: 5) { proof } }", "position", "between 1 and treeSize"),
        ("{ inclusionProof(position: 1, treeSize: 99999999) { proof } }", "treeSize", "beyond the log"),
        ("{ consistencyProof(fromSize: 0, toSize: 5) { proof } }", "fromSize", "1 or more and at most"),
        ("{ consistencyProof(fromSize: 9, toSize: 5) { proof } }", "fromSize", "1 or more and at most"),
        ("{ consistencyProof(fromSize: 1, toSize: 99999999) { proof } }", "toSize", "beyond the log"),
    ],
)
async def test_sizes_the_log_cannot_answer_for_are_bad_user_input(
    demo: Api, query: str, field: str, message: str
) -> None:
    result = await demo.execute(query)
    assert result.errors is not None
    (error,) = result.errors
    extensions = error.extensions or {}
    assert ("BAD_USER_INPUT", field) == (extensions.get("code"), extensions.get("field"))
    assert message in error.message
