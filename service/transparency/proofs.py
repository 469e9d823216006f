"""Proofs as the API serves them: against a tree size the caller names, or the newest signed checkpoint.

A proof against a checkpoint carries the checkpoint's *signed* root, not a root recomputed from the
database: a client that checks the proof against it learns whether the record is what was signed, even
if the database has since been changed behind the service's back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.read.paging import QueryError
from service.transparency.signer import StoredCheckpoint
from service.transparency.tree import LogTree, TreeSizeError


@dataclass(frozen=True, slots=True)
class Inclusion:
    position: int
    tree_size: int
    leaf_hash: bytes
    root: bytes
    proof: list[bytes]

    @property
    def leaf_index(self) -> int:
        return self.position - 1


@dataclass(frozen=True, slots=True)
class Consistency:
    from_size: int
    to_size: int
    from_root: bytes
    to_root: bytes
    proof: list[bytes]


async def inclusion(tree: LogTree, position: int, tree_size: int) -> Inclusion:
    """The inclusion proof of the event at `position` in the tree of `tree_size` events."""
    if not 1 <= position <= tree_size:
        raise QueryError("position", f"must be between 1 and treeSize ({tree_size}), not {position}")
    try:
        (proof,) = await tree.inclusion_proofs([position - 1], tree_size)
        root = await tree.root(tree_size)
        (leaf,) = await tree.leaf_hashes([position])
    except TreeSizeError as exc:
        raise QueryError("treeSize", str(exc)) from exc
    return Inclusion(position, tree_size, leaf, root, proof)


async def consistency(tree: LogTree, from_size: int, to_size: int) -> Consistency:
    try:
        proof = await tree.consistency_proof(from_size, to_size)
        from_root, to_root = await tree.root(from_size), await tree.root(to_size)
    except TreeSizeError as exc:
        raise QueryError("fromSize" if from_size <= 0 or from_size > to_size else "toSize", str(exc)) from exc
    return Consistency(from_size, to_size, from_root, to_root, proof)


async def inclusions_against(
    tree: LogTree, checkpoint: StoredCheckpoint | None, positions: Sequence[int]
) -> list[Inclusion | None]:
    """Each event's proof against `checkpoint` (its signed root); None for events it does not cover yet."""
    if checkpoint is None:
        return [None] * len(positions)
    size = checkpoint.checkpoint.size
    covered = sorted({p for p in positions if 1 <= p <= size})
    proofs = await tree.inclusion_proofs([p - 1 for p in covered], size) if covered else []
    leaves = await tree.leaf_hashes(covered) if covered else []
    found = {
        p: Inclusion(p, size, leaf, checkpoint.checkpoint.root, proof)
        for p, leaf, proof in zip(covered, leaves, proofs, strict=True)
    }
    return [found.get(p) for p in positions]
