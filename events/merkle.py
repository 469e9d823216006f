"""RFC 9162 Merkle trees (section 2.1): hashes, tree heads, and inclusion and consistency proofs.

Leaves and interior nodes are domain-separated: the 0x00 / 0x01 prefixes stop a leaf from being passed off as
an interior node (second-preimage attack).

Every tree function here takes *leaf hashes* (32 bytes each, from `leaf_hash`), never raw entries.

Leaf ranges. A node of a tree is named by the half-open range of leaf indices it covers, `(start, end)` with
`start <= leaf < end`; `(0, n)` is the root of the n-leaf tree and `(i, i + 1)` is leaf i. RFC 9162 splits n
leaves at k, the largest power of two strictly below n, so every node of every tree is either

- complete: `end - start` is a power of two and `start` a multiple of it. Its hash never changes once the log
  has `end` leaves, which is why a store keeps these; or
- on the right edge of a tree whose size is `end`: a chain of complete subtrees (`complete_subtrees`) hashed
  together from the right (`fold_subtrees`).

A proof built from stored hashes is therefore: take the node ranges (`inclusion_proof_nodes` or
`consistency_proof_nodes`), expand each into `complete_subtrees`, fetch those hashes, and `fold_subtrees` each
group. The list-based `inclusion_proof` and `consistency_proof` compute the same values from all the leaves.

The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step, with the conventions of the shared
test vectors (transparency-dev/merkle): every hash is exactly 32 bytes; size1 == 0 is never consistent with
anything; size1 == size2 is consistent only with an empty proof and equal roots. They answer False, never
raise, for anything malformed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeAlias

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
# MTH({}) in RFC 9162: the hash of the empty string, with no prefix.
EMPTY_ROOT = hashlib.sha256(b"").digest()

# (start, end): the leaves start <= i < end; see the module docstring.
LeafRange: TypeAlias = tuple[int, int]


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one log entry's canonical bytes."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


# -- tree heads -------------------------------------------------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2): where RFC 9162 cuts an n-leaf tree in two."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_leaves(leaves: Sequence[bytes]) -> None:
    # Raw entries passed by mistake would hash to a root nobody else can reproduce; refuse them loudly.
    for position, leaf in enumerate(leaves):
        if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf {position} is not a {HASH_SIZE}-byte leaf hash")


def _mth(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) by the recursive definition; indices, not slices, so no leaf list is copied."""
    if end - start == 1:
        return leaves[start]
    k = _split(end - start)
    return node_hash(_mth(leaves, start, start + k), _mth(leaves, start + k, end))


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) (RFC 9162 2.1.1) of n leaf hashes; the empty tree's is SHA-256 of the empty string.

    Raises ValueError if a leaf is not a 32-byte hash.
    """
    _check_leaves(leaves)
    return _mth(leaves, 0, len(leaves)) if leaves else EMPTY_ROOT


def is_subtree(start: int, end: int) -> bool:
    """True iff leaves `start <= i < end` (at least one) form a node of every tree of `end` or more leaves.

    That holds iff `start` is a multiple of the smallest power of two >= `end - start`: the range then sits
    inside one complete subtree of that size, flush with its left edge (transparency-dev's "valid subtree").
    """
    if not (_is_size(start) and _is_size(end)) or start >= end:
        return False
    return start % (1 << (end - start - 1).bit_length()) == 0


def complete_subtrees(start: int, end: int) -> list[LeafRange]:
    """The complete subtrees that make up the node `(start, end)`, left to right, largest first.

    Their sizes are the set bits of `end - start`, so there are at most log2(n) + 1 of them, and
    `fold_subtrees` of their hashes is the node's hash. The empty range has none. Raises ValueError unless
    the range is empty or `is_subtree(start, end)`.
    """
    if not (start == end >= 0 or is_subtree(start, end)):
        raise ValueError(f"({start}, {end}) is not a node of any Merkle tree")
    size = end - start
    ranges: list[LeafRange] = []
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            ranges.append((start, start + (1 << bit)))
            start += 1 << bit
    return ranges


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """The hash of a node from its `complete_subtrees` hashes, in the same order: h0 . (h1 . (... . hk)).

    Folding from the right mirrors RFC 9162's split at the largest power of two: the first subtree is the left
    child and the rest is the right. No hashes give the empty tree's root.
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


# -- building proofs --------------------------------------------------------------------------------------


def inclusion_proof_nodes(index: int, size: int) -> list[LeafRange]:
    """The nodes whose hashes make up PATH(index, D[size]) (RFC 9162 2.1.3.1), in proof order (leaf first).

    Raises ValueError unless 0 <= index < size.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    nodes: list[LeafRange] = []
    start, end = 0, size
    # Walk down from the root; each step records the sibling of the half holding the leaf.
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            nodes.append((mid, end))
            end = mid
        else:
            nodes.append((start, mid))
            start = mid
    nodes.reverse()  # the RFC lists the path bottom-up
    return nodes


def consistency_proof_nodes(size1: int, size2: int) -> list[LeafRange]:
    """The nodes whose hashes make up PROOF(size1, D[size2]) (RFC 9162 2.1.4.1), in proof order.

    Empty when size1 == size2. Raises ValueError unless 0 < size1 <= size2.
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from {size1} to {size2} leaves")
    nodes: list[LeafRange] = []
    start, end = 0, size2
    # `held` is SUBPROOF's b: true while the walk has only gone left, so that the node where it stops is the
    # old tree itself, whose hash (first_hash) the verifier holds; once it goes right, it stops at a part of
    # the old tree, which the proof must carry.
    held = True
    while True:
        if size1 == end:
            if not held:
                nodes.append((start, end))
            break
        mid = start + _split(end - start)
        if size1 <= mid:
            nodes.append((mid, end))
            end = mid
        else:
            nodes.append((start, mid))
            start = mid
            held = False
    nodes.reverse()
    return nodes


def _path(leaves: Sequence[bytes], m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]) of RFC 9162 2.1.3.1, m counted from `start`."""
    if end - start == 1:
        return []
    k = _split(end - start)
    if m < k:
        return [*_path(leaves, m, start, start + k), _mth(leaves, start + k, end)]
    return [*_path(leaves, m - k, start + k, end), _mth(leaves, start, start + k)]


def _subproof(leaves: Sequence[bytes], m: int, start: int, end: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b) of RFC 9162 2.1.4.1, m counted from `start`."""
    if m == end - start:
        return [] if b else [_mth(leaves, start, end)]
    k = _split(end - start)
    if m <= k:
        return [*_subproof(leaves, m, start, start + k, b), _mth(leaves, start + k, end)]
    return [*_subproof(leaves, m - k, start + k, end, False), _mth(leaves, start, start + k)]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 2.1.3.1: the audit path of leaf `index` in the tree of all `leaves`.

    Raises ValueError unless 0 <= index < len(leaves) and every leaf is a 32-byte hash.
    """
    _check_leaves(leaves)
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    return _path(leaves, index, 0, len(leaves))


def consistency_proof(leaves: Sequence[bytes], size1: int) -> list[bytes]:
    """PROOF(size1, D[n]) of RFC 9162 2.1.4.1: that the first `size1` leaves are a prefix of all `leaves`.

    Empty when size1 == len(leaves). Raises ValueError unless 0 < size1 <= len(leaves) and every leaf is a
    32-byte hash.
    """
    _check_leaves(leaves)
    if not 0 < size1 <= len(leaves):
        raise ValueError(f"no consistency proof from {size1} to {len(leaves)} leaves")
    return _subproof(leaves, size1, 0, len(leaves), True)


# -- verifying proofs -------------------------------------------------------------------------------------


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    # bool is an int to Python, but True is not a tree size.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_proof(proof: object) -> bool:
    # A bytes or str value is a Sequence too; its items are not hashes, so _is_hash turns it away.
    return isinstance(proof, Sequence) and all(_is_hash(p) for p in proof)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff `proof` shows `leaf_hash` at `index` in the `tree_size`-leaf tree whose head is `root`.

    RFC 9162 2.1.3.2 exactly: the proof must have exactly the length of the audit path. False, never an
    exception, for malformed input: an index not below the size, a hash not of 32 bytes, a non-bytes value.
    The tree size is not bound by the proof alone (a path can be valid for several sizes): it is bound by
    the signed tree head that carries `root`.
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_proof(proof)):
        return False
    if not (_is_size(index) and _is_size(tree_size)) or index >= tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False  # a longer proof than the path: the walk has already reached the root
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right edge a node may have no sibling; climb past those levels at no cost.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> bool:
    """True iff `proof` shows the `size1`-leaf tree with head `root1` is a prefix of the `size2` one, `root2`.

    RFC 9162 2.1.4.2 exactly for 0 < size1 < size2. Beyond the RFC, as the shared vectors expect: size1 == 0
    is never accepted (an empty tree proves nothing, even 0 -> 0); size1 == size2 is accepted only with an
    empty proof and equal roots (compared, not measured: nothing is hashed); size1 > size2 is refused. False,
    never an exception, for malformed input: a hash that is hashed but not of 32 bytes, a negative size, a
    non-bytes value.
    """
    if not (isinstance(root1, bytes) and isinstance(root2, bytes) and _is_proof(proof)):
        return False
    if not (_is_size(size1) and _is_size(size2)) or size1 == 0 or size1 > size2:
        return False
    if size1 == size2:
        # Nothing is hashed here, only compared: as in transparency-dev's verifier, whose probes include
        # equal "roots" that are not 32 bytes long and must verify.
        return len(proof) == 0 and root1 == root2
    if not (_is_hash(root1) and _is_hash(root2)):
        return False
    # 1. An empty proof proves nothing between different sizes.
    if len(proof) == 0:
        return False
    # 2. When the old tree is a complete subtree, the proof leaves its hash out: the verifier has root1.
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    # 3, 4. Start at the node holding the last old leaf, climbed to the top of its complete subtree.
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. That node is in both trees; fr rebuilds the old root and sr the new one.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    return sn == 0 and fr == root1 and sr == root2


# -- growing a tree ---------------------------------------------------------------------------------------


class Frontier:
    """The right edge of a growing tree: the hashes of `complete_subtrees(0, size)`, O(log n) of them.

    Appending a leaf is a binary-counter carry: the new leaf merges with equal-sized complete subtrees to its
    left. That gives the root of every prefix in one pass over the leaves (an offline verifier) and every
    complete subtree exactly once, as it completes (a store that keeps them).
    """

    __slots__ = ("_hashes", "_levels", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        ranges = complete_subtrees(0, size)
        if len(ranges) != len(hashes) or not all(_is_hash(h) for h in hashes):
            raise ValueError(
                f"a tree of {size} leaves has {len(ranges)} complete subtrees, not {len(hashes)}"
            )
        self.size = size
        self._levels = [(end - start).bit_length() - 1 for start, end in ranges]
        self._hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (32 bytes; not checked here, this is the hot loop of verification)."""
        levels, hashes = self._levels, self._hashes
        level, value = 0, leaf
        while levels and levels[-1] == level:
            levels.pop()
            value = hashlib.sha256(NODE_PREFIX + hashes.pop() + value).digest()
            level += 1
        levels.append(level)
        hashes.append(value)
        self.size += 1

    def extend(self, leaves: Sequence[bytes], *, min_level: int = 1) -> list[tuple[int, int, bytes]]:
        """Add leaf hashes; return each complete subtree of `min_level` or more that they complete.

        A subtree is returned as (level, index, hash): it covers leaves index * 2**level up to
        (index + 1) * 2**level.
        """
        _check_leaves(leaves)
        completed: list[tuple[int, int, bytes]] = []
        levels, hashes = self._levels, self._hashes
        for leaf in leaves:
            level, value = 0, leaf
            self.size += 1
            while levels and levels[-1] == level:
                levels.pop()
                value = node_hash(hashes.pop(), value)
                level += 1
                if level >= min_level:
                    completed.append((level, (self.size >> level) - 1, value))
            levels.append(level)
            hashes.append(value)
        return completed

    @property
    def hashes(self) -> list[bytes]:
        """The complete subtrees' hashes, left to right (largest first)."""
        return list(self._hashes)

    def root(self) -> bytes:
        """MTH of the leaves so far."""
        return fold_subtrees(self._hashes)
