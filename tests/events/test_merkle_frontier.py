"""A growing tree's frontier gives every prefix's root and each complete subtree exactly once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.merkle import Frontier, complete_subtrees, leaf_hash, node_hash, root

LEAVES = [leaf_hash(i.to_bytes(2, "big")) for i in range(130)]


def subtree(start: int, end: int) -> bytes:
    return root(LEAVES[start:end])


def test_appending_leaf_by_leaf_gives_the_root_of_every_prefix() -> None:
    frontier = Frontier()
    assert root([]) == frontier.root()
    for size, leaf in enumerate(LEAVES, start=1):
        frontier.append(leaf)
        assert root(LEAVES[:size]) == frontier.root()
        assert size == frontier.size


@given(st.integers(0, 130), st.integers(0, 130), st.integers(1, 5))
def test_a_frontier_restored_from_stored_subtrees_continues_like_the_original(
    split: int, end: int, min_level: int
) -> None:
    end = max(split, end)
    restored = Frontier(split, [subtree(s, e) for s, e in complete_subtrees(0, split)])
    completed = restored.extend(LEAVES[split:end], min_level=min_level)
    assert root(LEAVES[:end]) == restored.root()
    # Exactly the complete subtrees of min_level or more that end after `split` and by `end`.
    expected = {
        (level, index)
        for level in range(min_level, 8)
        for index in range(end >> level)
        if (index + 1) << level > split
    }
    assert expected == {(level, index) for level, index, _ in completed}
    for level, index, value in completed:
        assert subtree(index << level, (index + 1) << level) == value


def test_extend_names_nodes_by_level_and_index() -> None:
    frontier = Frontier()
    assert [(1, 0, node_hash(LEAVES[0], LEAVES[1]))] == frontier.extend(LEAVES[:2])
    assert [(1, 1, node_hash(LEAVES[2], LEAVES[3])), (2, 0, subtree(0, 4))] == frontier.extend(LEAVES[2:4])


def test_a_frontier_refuses_hashes_that_do_not_fit_its_size() -> None:
    with pytest.raises(ValueError, match="3 complete subtrees"):
        Frontier(7, [LEAVES[0]])
    with pytest.raises(ValueError, match="32-byte"):
        Frontier().extend([b"short"])
