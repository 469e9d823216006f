"""Checkpoints and Merkle proofs as the API shows them, so a front-end can mark a record as verified.

Hashes are lowercase hex. To check an inclusion proof, recompute the leaf hash from the event's canonical
bytes (or take `leafHash`), then follow RFC 9162 section 2.1.3.2 with `leafIndex`, `treeSize` and `proof`;
the result must equal `rootHash`. Check `rootHash` itself against a checkpoint note verified with the
log's public key.
"""

from __future__ import annotations

import base64
from datetime import datetime

import strawberry

from service.transparency.proofs import Consistency, Inclusion
from service.transparency.signer import StoredCheckpoint


@strawberry.type(description="A signed tree head: the log's size and Merkle root, signed as a C2SP note.")
class Checkpoint:
    origin: str = strawberry.field(description="The log's name, the note's first line and the key's name.")
    tree_size: int = strawberry.field(
        description="How many events the tree covers (positions 1 to treeSize)."
    )
    root_hash: str = strawberry.field(
        description="The RFC 9162 root of those events, hex, as every hash in this API is written."
    )
    root_base64: str = strawberry.field(
        description="The same root, base64: as the note's third line writes it (the signed-note format's "
        "choice), to compare with the note as text."
    )
    note: str = strawberry.field(
        description="The signed note, byte for byte as signed (also GET /checkpoint)."
    )
    key_id: str = strawberry.field(description="The signing key's 4-byte id, hex.")
    verifier_key: str = strawberry.field(
        description="The signer's public key in C2SP form (name+id+base64); trust one obtained independently."
    )
    signed_at: datetime = strawberry.field(description="When it was signed (UTC).")


def checkpoint(stored: StoredCheckpoint) -> Checkpoint:
    return Checkpoint(
        origin=stored.checkpoint.origin,
        tree_size=stored.checkpoint.size,
        root_hash=stored.checkpoint.root.hex(),
        root_base64=base64.b64encode(stored.checkpoint.root).decode(),
        note=stored.note,
        key_id=f"{stored.key_id:08x}",
        verifier_key=stored.verifier_text,
        signed_at=stored.signed_at,
    )


@strawberry.type(description="That one event is in the tree of treeSize events (RFC 9162 audit path).")
class InclusionProof:
    position: int = strawberry.field(description="The event's position.")
    leaf_index: int = strawberry.field(description="Its leaf index in the tree: position - 1.")
    tree_size: int = strawberry.field(description="The size of the tree the proof is for.")
    leaf_hash: str = strawberry.field(description="SHA-256(0x00 ‖ the event's canonical bytes), hex.")
    root_hash: str = strawberry.field(
        description="The root the proof leads to, hex (against a checkpoint: its signed root)."
    )
    proof: list[str] = strawberry.field(description="The audit path, leaf to root, hex.")


def inclusion_proof(value: Inclusion) -> InclusionProof:
    return InclusionProof(
        position=value.position,
        leaf_index=value.leaf_index,
        tree_size=value.tree_size,
        leaf_hash=value.leaf_hash.hex(),
        root_hash=value.root.hex(),
        proof=[node.hex() for node in value.proof],
    )


@strawberry.type(description="That the tree of fromSize events is a prefix of the tree of toSize events.")
class ConsistencyProof:
    from_size: int = strawberry.field(description="The older tree's size.")
    to_size: int = strawberry.field(description="The newer tree's size.")
    from_root_hash: str = strawberry.field(description="The older tree's root, hex.")
    to_root_hash: str = strawberry.field(description="The newer tree's root, hex.")
    proof: list[str] = strawberry.field(description="The RFC 9162 consistency proof, hex.")


def consistency_proof(value: Consistency) -> ConsistencyProof:
    return ConsistencyProof(
        from_size=value.from_size,
        to_size=value.to_size,
        from_root_hash=value.from_root.hex(),
        to_root_hash=value.to_root.hex(),
        proof=[node.hex() for node in value.proof],
    )
