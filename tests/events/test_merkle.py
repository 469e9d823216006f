"""RFC 9162 leaf and node hashes against the official roots in tests/fixtures/vectors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from events.merkle import leaf_hash, node_hash

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "vectors"
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243")]


def published_roots() -> dict[int, bytes]:
    text = (VECTORS / "README.md").read_text(encoding="utf-8")
    return {int(n): bytes.fromhex(h) for n, h in re.findall(r"- n=(\d) ([0-9a-f]{64})", text)}


def test_the_vectors_are_where_the_tests_expect_them() -> None:
    assert 9 == len(published_roots())


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_hashes_reproduce_the_published_roots_of_the_classic_tree(size: int) -> None:
    leaves = [leaf_hash(data) for data in LEAVES[:size]]
    # The trees of 1 to 4 leaves, spelled out: RFC 9162 splits at the largest power of two below n.
    roots = {
        1: leaves[0],
        2: node_hash(leaves[0], leaves[1]) if size >= 2 else b"",
        3: node_hash(node_hash(leaves[0], leaves[1]), leaves[2]) if size >= 3 else b"",
        4: node_hash(node_hash(leaves[0], leaves[1]), node_hash(leaves[2], leaves[3])) if size >= 4 else b"",
    }
    assert published_roots()[size] == roots[size]


def test_a_leaf_is_never_mistaken_for_a_node() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) != leaf_hash(left + right)
