"""The log's Merkle tree (RFC 9162) in PostgreSQL: a sealer that stores complete subtrees as the log grows,
and the root and proofs for any tree size, each a handful of index reads.

Why a sealer and not the append transaction (docs/architecture.md, "The Merkle tree"): the append path is
the one the whole service waits on, and a group commit would have to read the tree's right edge and write
its new subtrees inside the lock. The sealer does that work after the fact, in batches, off the lock. It
cannot make a proof wrong, only slower: the leaf hashes it reads are written by the append itself, and
whatever it has not sealed yet is hashed from them on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import asyncpg
import structlog

from events.merkle import (
    EMPTY_ROOT,
    Frontier,
    LeafRange,
    complete_subtrees,
    consistency_proof_nodes,
    fold_subtrees,
    inclusion_proof_nodes,
    root,
)
from service.log.queries import query as log_query
from service.log.reads import Conn
from service.log.watcher import HeadWatcher
from service.transparency.queries import query

# Subtrees of 2**STORED_LEVEL leaves and up are stored; smaller ones cost at most 15 leaf reads to rebuild,
# and storing them would multiply the table eightfold.
STORED_LEVEL = 4
BLOCK = 1 << STORED_LEVEL
SEAL_LOCK = 0x716C_7365_616C  # "qlseal"
SEAL_BATCH = 64 * 1024
log = structlog.get_logger(__name__)


class TreeSizeError(ValueError):
    """A tree size or leaf index the log cannot answer for; the message says which and why."""


class LogTree:
    """Reads and seals the Merkle tree over the events table."""

    def __init__(self, pool: asyncpg.Pool, *, batch: int = SEAL_BATCH) -> None:
        self._pool = pool
        self._batch = max(BLOCK, batch - batch % BLOCK)

    # -- sealing -------------------------------------------------------------------------------------

    async def seal_step(self) -> int:
        """Store the complete subtrees of up to one batch of new leaves; return the leaves sealed so far."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(query("take_seal_lock"), SEAL_LOCK)
            sealed: int = await conn.fetchval(query("sealed_size"))
            head: int = await conn.fetchval(log_query("head_position"))
            upto = min(head, sealed + self._batch)
            upto -= upto % BLOCK
            if upto <= sealed:
                return sealed
            edge = await self._hashes_of(conn, complete_subtrees(0, sealed), sealed)
            leaves = [row[0] for row in await conn.fetch(query("leaf_hashes"), sealed, upto)]
            nodes = Frontier(sealed, edge).extend(leaves, min_level=STORED_LEVEL)
            await conn.execute(
                query("save_merkle_nodes"),
                [level for level, _, _ in nodes],
                [index for _, index, _ in nodes],
                [value for _, _, value in nodes],
            )
            return upto

    async def seal(self) -> int:
        """Seal everything there is; return the leaves sealed."""
        while True:
            before = await self.sealed()
            after = await self.seal_step()
            if after == before:
                return after

    async def sealed(self) -> int:
        size: int = await self._pool.fetchval(query("sealed_size"))
        return size

    async def run(self, heads: HeadWatcher) -> None:
        """Seal as the log grows, for as long as the task lives."""
        async for head in heads.heads():
            try:
                sealed = await self.seal_step()
                while sealed + BLOCK <= head:
                    # A batch at a time, so a long catch-up shares the loop and the pool with requests.
                    sealed = await self.seal_step()
                log.debug("tree sealed", sealed=sealed, head=head)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("sealing failed; will retry", error=str(exc))
                await asyncio.sleep(1.0)

    # -- reading -------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self, conn: Conn | None) -> AsyncIterator[Conn]:
        # A caller inside a transaction passes its own connection: taking a second one from the pool while
        # holding the first can deadlock a busy pool (every holder waiting for a free connection).
        if conn is not None:
            yield conn
        else:
            async with self._pool.acquire() as acquired:
                yield acquired

    async def root(self, size: int, *, conn: Conn | None = None) -> bytes:
        """MTH of the first `size` events."""
        async with self._connection(conn) as conn:
            await self._check_size(conn, size)
            if size == 0:
                return EMPTY_ROOT
            (value,) = await self._node_hashes(conn, [(0, size)])
            return value

    async def inclusion_proof(self, index: int, size: int, *, conn: Conn | None = None) -> list[bytes]:
        """PATH(index, D[size]): leaf `index` (the event at position index + 1) in the tree of `size`."""
        if not 0 <= index < size:
            raise TreeSizeError(f"leaf {index} is not in a tree of {size}")
        async with self._connection(conn) as conn:
            await self._check_size(conn, size)
            return await self._node_hashes(conn, inclusion_proof_nodes(index, size))

    async def inclusion_proofs(
        self, indexes: Sequence[int], size: int, *, conn: Conn | None = None
    ) -> list[list[bytes]]:
        """The proofs of many leaves in one tree, in the same two reads as one proof (a page of events)."""
        for index in indexes:
            if not 0 <= index < size:
                raise TreeSizeError(f"leaf {index} is not in a tree of {size}")
        paths = [inclusion_proof_nodes(index, size) for index in indexes]
        async with self._connection(conn) as conn:
            await self._check_size(conn, size)
            hashes = await self._node_hashes(conn, [node for path in paths for node in path])
        proofs, at = [], 0
        for path in paths:
            proofs.append(hashes[at : at + len(path)])
            at += len(path)
        return proofs

    async def leaf_hashes(self, positions: Sequence[int]) -> list[bytes]:
        """The stored leaf hash of the event at each position."""
        rows = await self._pool.fetch(query("leaf_hashes_at"), list(positions))
        if len(rows) != len(positions):
            raise TreeSizeError("a position asked for is not in the log")
        return [row["leaf_hash"] for row in rows]

    async def consistency_proof(self, size1: int, size2: int, *, conn: Conn | None = None) -> list[bytes]:
        """PROOF(size1, D[size2]): that the tree of `size1` is a prefix of the tree of `size2`."""
        if not 0 < size1 <= size2:
            raise TreeSizeError(
                f"no consistency proof from {size1} to {size2}: the first size must be 1 or more and at most "
                "the second"
            )
        async with self._connection(conn) as conn:
            await self._check_size(conn, size2)
            return await self._node_hashes(conn, consistency_proof_nodes(size1, size2))

    async def subtree_hashes(self, size: int) -> list[bytes]:
        """The hashes of `complete_subtrees(0, size)`: all a verifier needs of the first `size` events to
        go on computing roots from the events after them."""
        async with self._pool.acquire() as conn:
            await self._check_size(conn, size)
            sealed: int = await conn.fetchval(query("sealed_size"))
            return await self._hashes_of(conn, complete_subtrees(0, size), sealed)

    async def _check_size(self, conn: Conn, size: int) -> None:
        if size < 0:
            raise TreeSizeError(f"tree size {size} is negative")
        head: int = await conn.fetchval(log_query("head_position"))
        if size > head:
            raise TreeSizeError(f"tree size {size} is beyond the log, which has {head} events")

    async def _node_hashes(self, conn: Conn, nodes: Sequence[LeafRange]) -> list[bytes]:
        """The hash of each node, from stored subtrees and leaf hashes, in two reads whatever the count."""
        sealed: int = await conn.fetchval(query("sealed_size"))
        parts = [complete_subtrees(start, end) for start, end in nodes]
        hashes = await self._hashes_of(conn, [part for group in parts for part in group], sealed)
        folded: list[bytes] = []
        at = 0
        for group in parts:
            folded.append(fold_subtrees(hashes[at : at + len(group)]))
            at += len(group)
        return folded

    async def _hashes_of(self, conn: Conn, subtrees: Sequence[LeafRange], sealed: int) -> list[bytes]:
        """The hash of each complete subtree: stored if sealed and large enough, else from its leaves."""
        stored = [(s, e) for s, e in subtrees if e - s >= BLOCK and e <= sealed]
        computed = [(s, e) for s, e in subtrees if not (e - s >= BLOCK and e <= sealed)]
        found: dict[LeafRange, bytes] = {}
        if stored:
            levels = [(e - s).bit_length() - 1 for s, e in stored]
            indexes = [s >> level for (s, _), level in zip(stored, levels, strict=True)]
            rows = await conn.fetch(query("merkle_nodes"), levels, indexes)
            for row in rows:
                found[stored[row["ord"] - 1]] = row["hash"]
        if computed:
            leaves: list[list[bytes]] = [[] for _ in computed]
            rows = await conn.fetch(
                query("leaf_hashes_in_ranges"), [s for s, _ in computed], [e for _, e in computed]
            )
            for row in rows:
                leaves[row["ord"] - 1].append(row["leaf_hash"])
            for (s, e), hashes in zip(computed, leaves, strict=True):
                if len(hashes) == e - s:
                    found[(s, e)] = root(hashes)
        missing = [subtree for subtree in subtrees if subtree not in found]
        if missing:
            # The sealer stores a subtree in the same transaction as every one before it, and leaves are
            # never deleted by the service: a gap means the database was changed behind its back.
            raise TreeIntegrityError(f"the tree has no hash for leaves {missing[0][0]}..{missing[0][1] - 1}")
        return [found[subtree] for subtree in subtrees]


class TreeIntegrityError(RuntimeError):
    """The stored tree has a hole; only a change made around the service's triggers can cause one."""
