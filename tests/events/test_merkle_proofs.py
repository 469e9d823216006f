"""RFC 9162 tree heads and proofs: the official transparency-dev probes, and properties.

The probes are copied unchanged into tests/fixtures/vectors (licence and source in its README). Each probe
folder holds a happy path that must verify and corrupted variants that must be rejected.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.merkle import (
    EMPTY_ROOT,
    complete_subtrees,
    consistency_proof,
    consistency_proof_nodes,
    fold_subtrees,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "vectors"
MERKLE = VECTORS / "merkle"
# The probe files at transparency-dev/merkle 417fb0c (see the vectors' README), folder by folder.
PROBE_COUNTS = {"inclusion": 98, "consistency": 98}
# The classic tree of the README and of RFC 6962's test data: leaf inputs, in hex.
CLASSIC = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
# Happy paths whose equal "roots" are Go's 12-byte test strings ("don't care 1", "don't care 2"): the
# verifier only compares them, hashes nothing, so they must verify like every other happy path. Every hash
# that is hashed must still be 32 bytes.
SHORT_BUT_NEVER_HASHED = {
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
}

FAST = settings(max_examples=40, deadline=None)


# -- reading the probes -----------------------------------------------------------------------------------


def probes(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(name relative to merkle/, parsed probe) for every JSON file under merkle/<kind>, sorted."""
    found = sorted((MERKLE / kind).rglob("*.json")) if MERKLE.is_dir() else []
    return [(str(p.relative_to(MERKLE)), json.loads(p.read_text(encoding="utf-8"))) for p in found]


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def proof_of(probe: dict[str, Any]) -> list[bytes]:
    return [b64(p) for p in probe["proof"] or []]  # "proof": null is the empty proof


def should_verify(name: str, probe: dict[str, Any]) -> bool:
    return not probe["wantErr"]


def published_roots() -> dict[int, bytes]:
    text = (VECTORS / "README.md").read_text(encoding="utf-8")
    return {int(n): bytes.fromhex(h) for n, h in re.findall(r"- n=(\d) ([0-9a-f]{64})", text)}


INCLUSION = probes("inclusion")
CONSISTENCY = probes("consistency")


def ids(cases: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in cases]


# -- the probes are there ---------------------------------------------------------------------------------


def test_every_probe_folder_is_found_and_complete() -> None:
    found = {kind: len(probes(kind)) for kind in PROBE_COUNTS}
    assert PROBE_COUNTS == found


def test_every_numbered_probe_folder_has_a_happy_path() -> None:
    folders = [
        f for kind in ("inclusion", "consistency") for f in (MERKLE / kind).iterdir() if f.name.isdigit()
    ]
    assert 10 == len(folders)
    assert [] == [str(f) for f in folders if not (f / "happy-path.json").is_file()]


def test_the_happy_paths_with_short_roots_are_there_and_verify() -> None:
    by_name = dict(CONSISTENCY)
    assert SHORT_BUT_NEVER_HASHED <= by_name.keys()
    for name in SHORT_BUT_NEVER_HASHED:
        probe = by_name[name]
        assert False is probe["wantErr"]
        assert 12 in {len(b64(probe["root1"])), len(b64(probe["root2"]))}


# -- tree heads -------------------------------------------------------------------------------------------


def test_the_readme_publishes_the_roots_of_nine_trees() -> None:
    assert list(range(9)) == sorted(published_roots())


@pytest.mark.parametrize("size", range(9))
def test_root_reproduces_the_published_root_of_the_classic_tree(size: int) -> None:
    assert published_roots()[size] == root([leaf_hash(data) for data in CLASSIC[:size]])


def test_the_empty_tree_has_the_hash_of_the_empty_string() -> None:
    assert bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == root([])
    assert EMPTY_ROOT == root([])


def test_root_refuses_raw_entries_in_place_of_leaf_hashes() -> None:
    with pytest.raises(ValueError, match="leaf 1"):
        root([leaf_hash(b"a"), b"raw entry"])


# -- the official probes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "probe"), INCLUSION, ids=ids(INCLUSION))
def test_inclusion_probe_verifies_only_on_the_happy_path(name: str, probe: dict[str, Any]) -> None:
    verified = verify_inclusion(
        b64(probe["leafHash"]), probe["leafIdx"], probe["treeSize"], proof_of(probe), b64(probe["root"])
    )
    assert should_verify(name, probe) == verified, probe["desc"]


@pytest.mark.parametrize(("name", "probe"), CONSISTENCY, ids=ids(CONSISTENCY))
def test_consistency_probe_verifies_only_on_the_happy_path(name: str, probe: dict[str, Any]) -> None:
    verified = verify_consistency(
        probe["size1"], probe["size2"], proof_of(probe), b64(probe["root1"]), b64(probe["root2"])
    )
    assert should_verify(name, probe) == verified, probe["desc"]


def from_the_classic_tree(leaves: list[bytes], probe: dict[str, Any], head: str) -> bool:
    return not probe["wantErr"] and root(leaves) == b64(probe[head])


CLASSIC_LEAVES = [leaf_hash(data) for data in CLASSIC]
CLASSIC_INCLUSION = [
    (name, probe)
    for name, probe in INCLUSION
    if from_the_classic_tree(CLASSIC_LEAVES[: probe["treeSize"]], probe, "root")
]
CLASSIC_CONSISTENCY = [
    (name, probe)
    for name, probe in CONSISTENCY
    if from_the_classic_tree(CLASSIC_LEAVES[: probe["size2"]], probe, "root2")
]


def test_the_numbered_happy_paths_are_drawn_from_the_classic_tree() -> None:
    assert 5 == len(CLASSIC_INCLUSION)
    assert 5 == len(CLASSIC_CONSISTENCY)


@pytest.mark.parametrize(("name", "probe"), CLASSIC_INCLUSION, ids=ids(CLASSIC_INCLUSION))
def test_inclusion_proof_rebuilds_the_happy_path(name: str, probe: dict[str, Any]) -> None:
    assert proof_of(probe) == inclusion_proof(CLASSIC_LEAVES[: probe["treeSize"]], probe["leafIdx"])


@pytest.mark.parametrize(("name", "probe"), CLASSIC_CONSISTENCY, ids=ids(CLASSIC_CONSISTENCY))
def test_consistency_proof_rebuilds_the_happy_path(name: str, probe: dict[str, Any]) -> None:
    assert proof_of(probe) == consistency_proof(CLASSIC_LEAVES[: probe["size2"]], probe["size1"])


# -- malformed input is refused, never raised -------------------------------------------------------------

H = leaf_hash(b"x")
BAD_INCLUSION: list[tuple[str, tuple[Any, ...]]] = [
    ("leaf of 31 bytes", (H[:31], 0, 1, [], H[:31])),
    ("root of 33 bytes", (H, 0, 1, [], H + b"\x00")),
    ("leaf as str", (H.hex(), 0, 1, [], H)),
    ("leaf as bytearray", (bytearray(H), 0, 1, [], H)),
    ("root as None", (H, 0, 1, [], None)),
    ("proof as None", (H, 0, 1, None, H)),
    ("proof as one bytes value", (H, 0, 2, H, H)),
    ("proof element of 0 bytes", (H, 0, 2, [b""], H)),
    ("proof element as str", (H, 0, 2, ["00" * 32], H)),
    ("negative index", (H, -1, 1, [], H)),
    ("negative size", (H, 0, -1, [], H)),
    ("index equal to size", (H, 1, 1, [], H)),
    ("size zero", (H, 0, 0, [], H)),
    ("size as bool", (H, 0, True, [], H)),
    ("index as float", (H, 0.0, 1, [], H)),
    ("size as str", (H, 0, "1", [], H)),
]
BAD_CONSISTENCY: list[tuple[str, tuple[Any, ...]]] = [
    ("root1 of 12 bytes, sizes that hash it", (1, 2, [H], b"don't care 1", H)),
    ("root2 of 0 bytes", (1, 2, [H], H, b"")),
    ("proof element of 31 bytes", (1, 2, [H[:31]], H, H)),
    ("proof as None", (1, 1, None, H, H)),
    ("negative size1", (-1, 1, [], H, H)),
    ("size1 zero to zero", (0, 0, [], EMPTY_ROOT, EMPTY_ROOT)),
    ("size1 zero", (0, 1, [], EMPTY_ROOT, H)),
    ("size1 above size2", (2, 1, [], H, H)),
    ("sizes as bool", (True, True, [], H, H)),
    ("size2 as float", (1, 2.0, [H], H, H)),
    ("roots as str", (1, 1, [], H.hex(), H.hex())),
]


@pytest.mark.parametrize("args", [a for _, a in BAD_INCLUSION], ids=[n for n, _ in BAD_INCLUSION])
def test_verify_inclusion_answers_false_for_malformed_input(args: tuple[Any, ...]) -> None:
    assert False is verify_inclusion(*args)


@pytest.mark.parametrize("args", [a for _, a in BAD_CONSISTENCY], ids=[n for n, _ in BAD_CONSISTENCY])
def test_verify_consistency_answers_false_for_malformed_input(args: tuple[Any, ...]) -> None:
    assert False is verify_consistency(*args)


@pytest.mark.parametrize(
    ("build", "args"),
    [
        (inclusion_proof, ([H], 1)),
        (inclusion_proof, ([H], -1)),
        (inclusion_proof, ([], 0)),
        (consistency_proof, ([H], 0)),
        (consistency_proof, ([H], 2)),
        (inclusion_proof_nodes, (3, 3)),
        (consistency_proof_nodes, (0, 3)),
        (consistency_proof_nodes, (4, 3)),
        (complete_subtrees, (2, 5)),
        (complete_subtrees, (3, 2)),
    ],
)
def test_builders_raise_value_error_for_a_proof_that_cannot_exist(build: Any, args: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 -- each builder names the bad argument in its own words
        build(*args)


# -- properties over random trees -------------------------------------------------------------------------


def tree(size: int, salt: bytes = b"") -> list[bytes]:
    """`size` distinct leaf hashes. Distinct on purpose: two equal leaves really are at both positions."""
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(size)]


def flip(value: bytes, bit: int) -> bytes:
    return value[: bit // 8] + bytes([value[bit // 8] ^ (1 << bit % 8)]) + value[bit // 8 + 1 :]


def range_hashes(leaves: list[bytes], ranges: list[tuple[int, int]]) -> list[bytes]:
    return [root(leaves[start:end]) for start, end in ranges]


def inclusion_shape(index: int, size: int) -> tuple[bool, ...]:
    """The verifier's walk for (index, size): for each proof hash, whether it is a left sibling."""
    return tuple(end <= index for _, end in inclusion_proof_nodes(index, size))


def consistency_shape(size1: int, size2: int) -> tuple[bool, tuple[bool, ...]]:
    """The verifier's walk for (size1, size2): whether the old root seeds it (size1 a power of two), and for
    each later proof hash whether it is a left sibling (it then feeds both roots)."""
    nodes = consistency_proof_nodes(size1, size2)
    seeded_by_root1 = size1 & (size1 - 1) == 0
    return seeded_by_root1, tuple(end <= size1 for _, end in (nodes if seeded_by_root1 else nodes[1:]))


sizes = st.integers(min_value=1, max_value=200)
salts = st.binary(max_size=4)


@FAST
@given(size=sizes, salt=salts)
def test_every_inclusion_proof_verifies_against_the_root(size: int, salt: bytes) -> None:
    leaves = tree(size, salt)
    head = root(leaves)
    assert [] == [
        i for i in range(size) if not verify_inclusion(leaves[i], i, size, inclusion_proof(leaves, i), head)
    ]


@FAST
@given(size=sizes, salt=salts)
def test_every_consistency_proof_into_the_whole_tree_verifies(size: int, salt: bytes) -> None:
    leaves = tree(size, salt)
    head = root(leaves)
    failed = [
        size1
        for size1 in range(1, size + 1)
        if not verify_consistency(size1, size, consistency_proof(leaves, size1), root(leaves[:size1]), head)
    ]
    assert [] == failed


@FAST
@given(data=st.data(), salt=salts)
def test_a_consistency_proof_between_random_sizes_verifies(data: st.DataObject, salt: bytes) -> None:
    size2 = data.draw(sizes)
    size1 = data.draw(st.integers(1, size2))
    leaves = tree(size2, salt)
    proof = consistency_proof(leaves, size1)
    assert verify_consistency(size1, size2, proof, root(leaves[:size1]), root(leaves))


@FAST
@given(data=st.data())
def test_a_flipped_bit_in_an_inclusion_proof_root_or_leaf_is_rejected(data: st.DataObject) -> None:
    size = data.draw(sizes)
    index = data.draw(st.integers(0, size - 1))
    leaves = tree(size)
    proof, head, leaf = inclusion_proof(leaves, index), root(leaves), leaves[index]
    bit = data.draw(st.integers(0, 255))
    target = data.draw(st.integers(-2, len(proof) - 1))  # -2: the leaf, -1: the root, else a proof hash
    if target == -2:
        leaf = flip(leaf, bit)
    elif target == -1:
        head = flip(head, bit)
    else:
        proof[target] = flip(proof[target], bit)
    assert not verify_inclusion(leaf, index, size, proof, head)


@FAST
@given(data=st.data())
def test_a_flipped_bit_in_a_consistency_proof_or_either_root_is_rejected(data: st.DataObject) -> None:
    size2 = data.draw(sizes)
    size1 = data.draw(st.integers(1, size2))
    leaves = tree(size2)
    proof, root1, root2 = consistency_proof(leaves, size1), root(leaves[:size1]), root(leaves)
    bit = data.draw(st.integers(0, 255))
    target = data.draw(st.integers(-2, len(proof) - 1))  # -2: root1, -1: root2, else a proof hash
    if target == -2:
        root1 = flip(root1, bit)
    elif target == -1:
        root2 = flip(root2, bit)
    else:
        proof[target] = flip(proof[target], bit)
    assert not verify_consistency(size1, size2, proof, root1, root2)


@FAST
@given(data=st.data())
def test_an_inclusion_proof_is_rejected_at_any_other_index(data: st.DataObject) -> None:
    size = data.draw(st.integers(2, 200))
    index = data.draw(st.integers(0, size - 1))
    other = data.draw(st.integers(0, 2 * size).filter(lambda i: i != index))
    leaves = tree(size)
    assert not verify_inclusion(leaves[index], other, size, inclusion_proof(leaves, index), root(leaves))


@FAST
@given(data=st.data())
def test_an_inclusion_proof_is_rejected_at_any_size_whose_walk_differs(data: st.DataObject) -> None:
    size = data.draw(sizes)
    index = data.draw(st.integers(0, size - 1))
    other = data.draw(st.integers(index + 1, 2 * size + 1).filter(lambda n: n != size))
    leaves = tree(size)
    verified = verify_inclusion(leaves[index], index, other, inclusion_proof(leaves, index), root(leaves))
    assert (inclusion_shape(index, other) == inclusion_shape(index, size)) == verified


@FAST
@given(data=st.data())
def test_a_consistency_proof_is_rejected_at_any_sizes_whose_walk_differs(data: st.DataObject) -> None:
    size2 = data.draw(st.integers(2, 200))
    size1 = data.draw(st.integers(1, size2 - 1))
    other2 = data.draw(st.integers(2, 2 * size2))
    other1 = data.draw(st.integers(1, other2 - 1))
    leaves = tree(size2)
    proof = consistency_proof(leaves, size1)
    verified = verify_consistency(other1, other2, proof, root(leaves[:size1]), root(leaves))
    assert (consistency_shape(other1, other2) == consistency_shape(size1, size2)) == verified


def test_a_proof_alone_does_not_bind_the_tree_size_the_signed_tree_head_does() -> None:
    # Sizes with the same walk cannot be told apart by the hashes: (0 of 3) and (0 of 4) both climb
    # right, right. Which size a root belongs to is fixed by the signed tree head that carries both.
    leaves = tree(4)
    assert verify_inclusion(leaves[0], 0, 4, inclusion_proof(leaves[:3], 0), root(leaves[:3]))
    assert verify_consistency(2, 3, consistency_proof(leaves[:2], 1), root(leaves[:1]), root(leaves[:2]))


# -- node ranges: what a store of complete subtrees fetches -----------------------------------------------


@FAST
@given(data=st.data(), salt=salts)
def test_inclusion_proof_nodes_name_the_hashes_of_the_inclusion_proof(
    data: st.DataObject, salt: bytes
) -> None:
    size = data.draw(sizes)
    index = data.draw(st.integers(0, size - 1))
    leaves = tree(size, salt)
    assert inclusion_proof(leaves, index) == range_hashes(leaves, inclusion_proof_nodes(index, size))


@FAST
@given(data=st.data(), salt=salts)
def test_consistency_proof_nodes_name_the_hashes_of_the_consistency_proof(
    data: st.DataObject, salt: bytes
) -> None:
    size2 = data.draw(sizes)
    size1 = data.draw(st.integers(1, size2))
    leaves = tree(size2, salt)
    assert consistency_proof(leaves, size1) == range_hashes(leaves, consistency_proof_nodes(size1, size2))


@FAST
@given(data=st.data())
def test_a_store_of_complete_subtrees_rebuilds_every_proof_from_few_hashes(data: st.DataObject) -> None:
    size2 = data.draw(sizes)
    size1 = data.draw(st.integers(1, size2))
    index = data.draw(st.integers(0, size2 - 1))
    leaves = tree(size2)
    stored: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> bytes:
        parts = complete_subtrees(start, end)
        stored.extend(parts)
        return fold_subtrees(range_hashes(leaves, parts))

    assert inclusion_proof(leaves, index) == [fetch(s, e) for s, e in inclusion_proof_nodes(index, size2)]
    assert consistency_proof(leaves, size1) == [fetch(s, e) for s, e in consistency_proof_nodes(size1, size2)]
    # Only complete subtrees, the hashes that never change once written, and O(log n) of them.
    assert [] == [(s, e) for s, e in stored if (e - s) & (e - s - 1) or s % (e - s)]
    assert len(stored) <= 4 * (size2 - 1).bit_length()


@given(size=st.integers(0, 300))
def test_the_complete_subtrees_of_a_tree_fold_into_its_root(size: int) -> None:
    leaves = tree(size)
    parts = complete_subtrees(0, size)
    assert [1 << b for b in reversed(range(size.bit_length())) if size >> b & 1] == [e - s for s, e in parts]
    assert root(leaves) == fold_subtrees(range_hashes(leaves, parts))


def test_proof_nodes_are_given_leaf_first_as_half_open_ranges() -> None:
    # The tree of 7: PATH(2) = [d3, MTH(0:2), MTH(4:7)]; PROOF(3, 7) = [d2, d3, MTH(0:2), MTH(4:7)].
    assert [(3, 4), (0, 2), (4, 7)] == inclusion_proof_nodes(2, 7)
    assert [(2, 3), (3, 4), (0, 2), (4, 7)] == consistency_proof_nodes(3, 7)
    assert [] == consistency_proof_nodes(7, 7)
    assert [(4, 6), (6, 7)] == complete_subtrees(4, 7)


# -- small trees, exhaustively ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, 33))
def test_every_proof_of_a_small_tree_verifies_and_a_wrong_root_is_refused(size: int) -> None:
    leaves = tree(size)
    head = root(leaves)
    wrong: list[tuple[str, int]] = []
    for i in range(size):
        proof = inclusion_proof(leaves, i)
        if not verify_inclusion(leaves[i], i, size, proof, head):
            wrong.append(("inclusion refused", i))
        if verify_inclusion(leaves[i], i, size, proof, flip(head, 7)):
            wrong.append(("inclusion accepted a wrong root", i))
    for size1 in range(1, size + 1):
        proof, old = consistency_proof(leaves, size1), root(leaves[:size1])
        if not verify_consistency(size1, size, proof, old, head):
            wrong.append(("consistency refused", size1))
        if verify_consistency(size1, size, proof, flip(old, 7), head):
            wrong.append(("consistency accepted a wrong old root", size1))
        if verify_consistency(size1, size, proof, old, flip(head, 7)):
            wrong.append(("consistency accepted a wrong new root", size1))
    assert [] == wrong
