"""The Merkle tree in PostgreSQL: the sealer stores each complete subtree once, and roots and proofs for any
size agree with the pure RFC 9162 functions, however far the sealer has got."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from events.merkle import (
    consistency_proof,
    inclusion_proof,
    root,
    verify_consistency,
    verify_inclusion,
)
from service.log.store import EventStore
from service.transparency.tree import BLOCK, LogTree, TreeSizeError
from tests.support.logs import fill

SIZE = 300


async def leaves(owner: asyncpg.Connection) -> list[bytes]:
    return [row[0] for row in await owner.fetch("select leaf_hash from events order by position")]


@pytest.fixture
async def filled(store: EventStore, owner: asyncpg.Connection) -> list[bytes]:
    await fill(store, SIZE)
    return await leaves(owner)


SIZES = [1, 2, 3, 15, 16, 17, 31, 32, 33, 64, 100, 127, 128, 129, 255, 256, 257, 299, 300]


async def test_the_sealer_stores_every_complete_subtree_of_16_leaves_or_more_once(
    pool: asyncpg.Pool, owner: asyncpg.Connection, filled: list[bytes]
) -> None:
    tree = LogTree(pool, batch=48)
    assert SIZE - SIZE % BLOCK == await tree.seal()
    rows = await owner.fetch("select level, index, hash from merkle_nodes")
    expected = {(level, i) for level in range(4, 10) for i in range(SIZE >> level)}
    assert expected == {(r["level"], r["index"]) for r in rows}
    for r in rows:
        span = 1 << r["level"]
        assert root(filled[r["index"] * span : (r["index"] + 1) * span]) == r["hash"]
    assert SIZE - SIZE % BLOCK == await tree.seal()  # again: nothing new, nothing written twice
    assert len(rows) == await owner.fetchval("select count(*) from merkle_nodes")


@pytest.mark.parametrize("sealed_batches", [0, 1, 100])
async def test_roots_and_proofs_agree_with_the_pure_functions_however_far_sealing_got(
    pool: asyncpg.Pool, filled: list[bytes], sealed_batches: int
) -> None:
    tree = LogTree(pool, batch=64)
    for _ in range(sealed_batches):
        await tree.seal_step()
    for size in SIZES:
        assert root(filled[:size]) == await tree.root(size)
    for size in (1, 17, 128, 300):
        for index in {0, size // 2, size - 1}:
            proof = await tree.inclusion_proof(index, size)
            assert inclusion_proof(filled[:size], index) == proof
            assert verify_inclusion(filled[index], index, size, proof, root(filled[:size]))
    for size1, size2 in [(1, 1), (1, 300), (16, 32), (17, 300), (100, 257), (256, 300), (299, 300)]:
        proof = await tree.consistency_proof(size1, size2)
        assert consistency_proof(filled[:size2], size1) == proof
        assert verify_consistency(size1, size2, proof, root(filled[:size1]), root(filled[:size2]))


async def test_the_empty_tree_has_the_empty_root(pool: asyncpg.Pool) -> None:
    assert root([]) == await LogTree(pool).root(0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.root(SIZE + 1), "beyond the log, which has 300 events"),
        (lambda t: t.root(-1), "negative"),
        (lambda t: t.inclusion_proof(300, 300), "leaf 300 is not in a tree of 300"),
        (lambda t: t.inclusion_proof(0, 301), "beyond the log"),
        (lambda t: t.consistency_proof(0, 10), "must be 1 or more and at most"),
        (lambda t: t.consistency_proof(20, 10), "must be 1 or more and at most"),
        (lambda t: t.consistency_proof(10, 400), "beyond the log"),
    ],
)
async def test_sizes_the_log_cannot_answer_for_are_refused_by_name(
    pool: asyncpg.Pool, filled: list[bytes], call: object, message: str
) -> None:
    with pytest.raises(TreeSizeError, match=message):
        await call(LogTree(pool))  # type: ignore[operator]


async def test_sealers_racing_in_several_replicas_store_each_subtree_once(
    pool: asyncpg.Pool, store: EventStore, owner: asyncpg.Connection
) -> None:
    trees = [LogTree(pool, batch=32) for _ in range(4)]

    async def writer() -> None:
        for n in range(10):
            await fill(store, 37, key=f"w{n}")

    async def sealer(tree: LogTree) -> None:
        for _ in range(30):
            await tree.seal_step()
            await asyncio.sleep(0)

    await asyncio.gather(writer(), *(sealer(t) for t in trees))
    await trees[0].seal()
    all_leaves = await leaves(owner)
    assert 370 == len(all_leaves)
    expected = sum(370 >> level for level in range(4, 10))
    assert expected == await owner.fetchval("select count(*) from merkle_nodes")
    assert root(all_leaves) == await trees[1].root(370)


async def test_stored_subtrees_and_checkpoints_cannot_be_changed(
    pool: asyncpg.Pool, owner: asyncpg.Connection, filled: list[bytes]
) -> None:
    await LogTree(pool).seal()
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await owner.execute("update merkle_nodes set hash = $1 where level = 4 and index = 0", b"\0" * 32)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await owner.execute("delete from merkle_nodes")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await owner.execute("truncate checkpoints")
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("delete from merkle_nodes")


async def test_many_inclusion_proofs_at_once_equal_each_proof_alone(
    pool: asyncpg.Pool, filled: list[bytes]
) -> None:
    tree = LogTree(pool)
    await tree.seal_step()
    indexes = [0, 5, 16, 17, 150, 299, 5]
    proofs = await tree.inclusion_proofs(indexes, SIZE)
    assert [inclusion_proof(filled, i) for i in indexes] == proofs
    with pytest.raises(TreeSizeError, match="leaf 300 is not in a tree of 300"):
        await tree.inclusion_proofs([1, 300], SIZE)
