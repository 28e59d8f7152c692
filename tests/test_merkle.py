"""RFC 9162 Merkle tree: published vectors, generated proofs, tampering, a state machine."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest
from _hypothesis import examples
from _mth import reference_mth
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from anonballot.errors import InputError, InvalidProof
from anonballot.hazmat.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors" / "merkle"
LEAVES_AND_ROOTS = json.loads((VECTORS / "leaves_and_roots.json").read_text())
LEAF_INPUTS = [bytes.fromhex(h) for h in LEAVES_AND_ROOTS["leaf_inputs_hex"]]
ROOTS_BY_SIZE = [bytes.fromhex(h) for h in LEAVES_AND_ROOTS["root_hashes_hex_by_size"]]


def _vector_files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _vector_id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(p) for p in value or []]


def _random_hashes(rng: random.Random, n: int) -> list[bytes]:
    return [leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(n)]


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- published vectors ---------------------------------------------------------------


def test_vector_files_present() -> None:
    assert len(_vector_files("inclusion")) == 98
    assert len(_vector_files("consistency")) == 98


def test_hash_definitions() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == ROOTS_BY_SIZE[1]
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")) == ROOTS_BY_SIZE[2]


@pytest.mark.parametrize("size", range(len(ROOTS_BY_SIZE)))
def test_prefix_roots(size: int) -> None:
    hashes = [leaf_hash(d) for d in LEAF_INPUTS]
    tree = MerkleTree(hashes)
    assert tree.root(size) == ROOTS_BY_SIZE[size]
    compact = CompactRange()
    for h in hashes[:size]:
        compact.append(h)
    assert compact.root() == ROOTS_BY_SIZE[size]
    assert reference_mth(hashes[:size]) == ROOTS_BY_SIZE[size]


@pytest.mark.parametrize("path", _vector_files("inclusion"), ids=_vector_id)
def test_inclusion_vector(path: Path) -> None:
    v: dict[str, Any] = json.loads(path.read_text())
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v["proof"]), _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(InvalidProof):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _vector_files("consistency"), ids=_vector_id)
def test_consistency_vector(path: Path) -> None:
    v: dict[str, Any] = json.loads(path.read_text())
    args = (v["size1"], v["size2"], _proof(v["proof"]), _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(InvalidProof):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def _happy(kind: str) -> list[Path]:
    """The wantErr=false vectors whose data are over the shared leaves above."""
    tree = MerkleTree([leaf_hash(d) for d in LEAF_INPUTS])
    out = []
    for path in _vector_files(kind):
        v = json.loads(path.read_text())
        if v["wantErr"]:
            continue
        if kind == "inclusion":
            ok = v["treeSize"] <= tree.size and tree.leaf_hash_at(v["leafIdx"]) == _b64(
                v["leafHash"]
            )
        else:
            ok = (
                v["size1"] >= 1
                and v["size2"] <= tree.size
                and tree.root(v["size1"]) == _b64(v["root1"])
            )
        if ok:
            out.append(path)
    return out


@pytest.mark.parametrize("path", _happy("inclusion"), ids=_vector_id)
def test_inclusion_vector_proof_is_generated(path: Path) -> None:
    """Our tree generates exactly the published happy-path proofs (over the 8 leaves)."""
    v: dict[str, Any] = json.loads(path.read_text())
    tree = MerkleTree([leaf_hash(d) for d in LEAF_INPUTS])
    assert tree.inclusion_proof(v["leafIdx"], v["treeSize"]) == _proof(v["proof"])


@pytest.mark.parametrize("path", _happy("consistency"), ids=_vector_id)
def test_consistency_vector_proof_is_generated(path: Path) -> None:
    """Our tree generates exactly the published happy-path consistency proofs."""
    v: dict[str, Any] = json.loads(path.read_text())
    tree = MerkleTree([leaf_hash(d) for d in LEAF_INPUTS])
    assert tree.consistency_proof(v["size1"], v["size2"]) == _proof(v["proof"])


# --- generated proofs ----------------------------------------------------------------


def test_all_small_proofs_verify() -> None:
    hashes = [leaf_hash(d) for d in LEAF_INPUTS]
    tree = MerkleTree(hashes)
    for size in range(1, 9):
        root = tree.root(size)
        assert root == ROOTS_BY_SIZE[size]
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            verify_inclusion(hashes[index], index, size, proof, root)
            with pytest.raises(InvalidProof):
                verify_inclusion(hashes[index], index, size, proof, ROOTS_BY_SIZE[size - 1])
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            verify_consistency(old, size, proof, tree.root(old), root)
            if old < size:
                with pytest.raises(InvalidProof):
                    verify_consistency(old, size, proof, root, root)


@pytest.mark.parametrize("seed", range(6))
def test_random_larger_trees(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randrange(9, 1200)
    hashes = _random_hashes(rng, n)
    tree = MerkleTree()
    for i, h in enumerate(hashes):
        assert tree.append(h) == i
    assert tree.size == len(tree) == n
    for _ in range(40):
        size = rng.randrange(1, n + 1)
        index = rng.randrange(size)
        old = rng.randrange(1, size + 1)
        root = tree.root(size)
        assert root == reference_mth(hashes[:size])
        assert tree.leaf_hash_at(index) == hashes[index]
        verify_inclusion(hashes[index], index, size, tree.inclusion_proof(index, size), root)
        proof = tree.consistency_proof(old, size)
        verify_consistency(old, size, proof, tree.root(old), root)


def test_proof_lengths_are_logarithmic() -> None:
    tree = MerkleTree(_random_hashes(random.Random(7), 1000))
    for size in (1, 2, 3, 511, 512, 513, 999, 1000):
        for index in (0, size // 2, size - 1):
            assert len(tree.inclusion_proof(index, size)) <= (size - 1).bit_length()
        for old in (1, size // 3 or 1, size):
            assert len(tree.consistency_proof(old, size)) <= 2 * size.bit_length()


@pytest.mark.parametrize("seed", range(5))
def test_compact_range_matches_tree(seed: int) -> None:
    rng = random.Random(100 + seed)
    n = rng.randrange(0, 300)
    tree = MerkleTree()
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT
    for h in _random_hashes(rng, n):
        tree.append(h)
        compact.append(h)
        assert compact.size == len(compact) == tree.size
        assert compact.root() == tree.root()
    # O(log n) memory: one hash per set bit of the size.
    assert len(compact._stack) == bin(n).count("1")


@pytest.mark.parametrize("seed", range(5))
def test_compact_range_resumes_from_its_frontier(seed: int) -> None:
    """What a monitor keeps between runs: the size and the frontier go on as the range did."""
    rng = random.Random(200 + seed)
    hashes = _random_hashes(rng, rng.randrange(0, 600))
    cut = rng.randrange(0, len(hashes) + 1)
    first = CompactRange()
    for h in hashes[:cut]:
        first.append(h)
    assert len(first.frontier) == cut.bit_count()
    resumed = CompactRange.resume(cut, first.frontier)
    assert resumed.root() == first.root() == MerkleTree(hashes[:cut]).root()
    for h in hashes[cut:]:
        resumed.append(h)
    assert resumed.size == len(hashes)
    assert resumed.root() == MerkleTree(hashes).root()


def test_compact_range_resume_refuses_a_wrong_frontier() -> None:
    h = b"\x01" * 32
    with pytest.raises(InputError):
        CompactRange.resume(3, [h])  # 3 = 0b11 needs two hashes
    with pytest.raises(InputError):
        CompactRange.resume(1, [b"short"])
    with pytest.raises(InputError):
        CompactRange.resume(-1, [])


def test_empty_tree() -> None:
    tree = MerkleTree()
    assert tree.size == 0
    assert tree.root() == EMPTY_ROOT
    assert tree.root(0) == EMPTY_ROOT


# --- argument errors -----------------------------------------------------------------


def test_tree_rejects_bad_arguments() -> None:
    tree = MerkleTree(_random_hashes(random.Random(1), 5))
    with pytest.raises(InputError):
        tree.append(b"short")
    with pytest.raises(InputError):
        tree.leaf_hash_at(5)
    with pytest.raises(InputError):
        tree.leaf_hash_at(-1)
    with pytest.raises(InputError):
        tree.root(6)
    with pytest.raises(InputError):
        tree.root(-1)
    with pytest.raises(InputError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(InputError):
        tree.inclusion_proof(0, 6)
    with pytest.raises(InputError):
        tree.inclusion_proof(0, 0)
    with pytest.raises(InputError):
        tree.consistency_proof(0, 5)
    with pytest.raises(InputError):
        tree.consistency_proof(4, 3)
    with pytest.raises(InputError):
        tree.consistency_proof(3, 6)
    assert tree.consistency_proof(5, 5) == []
    with pytest.raises(InputError):
        CompactRange().append(b"\x00" * 31)


def test_verify_rejects_malformed_inputs() -> None:
    hashes = _random_hashes(random.Random(2), 6)
    tree = MerkleTree(hashes)
    proof = tree.inclusion_proof(2, 6)
    root = tree.root()
    verify_inclusion(hashes[2], 2, 6, proof, root)
    with pytest.raises(InvalidProof):
        verify_inclusion(hashes[2], -1, 6, proof, root)
    with pytest.raises(InvalidProof):
        verify_inclusion(hashes[2], 2, 6, [*proof[:-1], proof[-1] + b"\x00"], root)
    with pytest.raises(InvalidProof):
        verify_inclusion(hashes[2], 2, 6, [*proof, proof[0]], root)
    with pytest.raises(InvalidProof):
        verify_inclusion(hashes[2], 2, 6, proof[:-1], root)
    with pytest.raises(InvalidProof):
        verify_inclusion(hashes[2], 2, 6, b"".join(proof), root)  # type: ignore[arg-type]
    cproof = tree.consistency_proof(3, 6)
    verify_consistency(3, 6, cproof, tree.root(3), root)
    with pytest.raises(InvalidProof):
        verify_consistency(3, 6, [*cproof, cproof[0]], tree.root(3), root)
    with pytest.raises(InvalidProof):
        verify_consistency(3, 6, cproof[:-1], tree.root(3), root)
    with pytest.raises(InvalidProof):
        verify_consistency(3, 6, cproof, tree.root(3)[:31], root)
    with pytest.raises(InvalidProof):
        verify_consistency(6, 3, cproof, root, tree.root(3))
    with pytest.raises(InvalidProof):
        verify_consistency(0, 6, [], EMPTY_ROOT, root)
    with pytest.raises(InvalidProof):
        verify_consistency(6, 6, [root], root, root)
    with pytest.raises(InvalidProof):
        verify_consistency(6, 6, [], root, tree.root(5))
    verify_consistency(6, 6, [], root, root)


# --- tampering (hypothesis) ----------------------------------------------------------

_TAMPER = settings(max_examples=examples(60), deadline=None)


@_TAMPER
@given(
    leaves=st.lists(st.binary(max_size=8), min_size=1, max_size=40),
    data=st.data(),
)
def test_inclusion_tamper(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    tree = MerkleTree(hashes)
    size = data.draw(st.integers(1, len(hashes)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = tree.inclusion_proof(index, size)
    root = tree.root(size)
    verify_inclusion(hashes[index], index, size, proof, root)
    bit = data.draw(st.integers(0, 255), label="bit")
    target = data.draw(st.integers(0, len(proof) + 1), label="target")
    if target < len(proof):
        bad = list(proof)
        bad[target] = _flip(bad[target], bit)
        with pytest.raises(InvalidProof):
            verify_inclusion(hashes[index], index, size, bad, root)
    elif target == len(proof):
        with pytest.raises(InvalidProof):
            verify_inclusion(_flip(hashes[index], bit), index, size, proof, root)
    else:
        with pytest.raises(InvalidProof):
            verify_inclusion(hashes[index], index, size, proof, _flip(root, bit))


@_TAMPER
@given(
    leaves=st.lists(st.binary(max_size=8), min_size=2, max_size=40),
    data=st.data(),
)
def test_consistency_tamper(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree([leaf_hash(x) for x in leaves])
    new = data.draw(st.integers(2, tree.size), label="new")
    old = data.draw(st.integers(1, new - 1), label="old")
    proof = tree.consistency_proof(old, new)
    old_root, new_root = tree.root(old), tree.root(new)
    verify_consistency(old, new, proof, old_root, new_root)
    bit = data.draw(st.integers(0, 255), label="bit")
    target = data.draw(st.integers(0, len(proof) + 1), label="target")
    if target < len(proof):
        bad = list(proof)
        bad[target] = _flip(bad[target], bit)
        with pytest.raises(InvalidProof):
            verify_consistency(old, new, bad, old_root, new_root)
    elif target == len(proof):
        with pytest.raises(InvalidProof):
            verify_consistency(old, new, proof, _flip(old_root, bit), new_root)
    else:
        with pytest.raises(InvalidProof):
            verify_consistency(old, new, proof, old_root, _flip(new_root, bit))


# --- stateful: an append-only log ------------------------------------------------------


class TreeMachine(RuleBasedStateMachine):
    """Appends leaves; every recorded proof and checkpoint stays valid forever."""

    def __init__(self) -> None:
        super().__init__()
        self.tree = MerkleTree()
        self.compact = CompactRange()
        self.hashes: list[bytes] = []
        # (leaf hash, index, size, proof, root) recorded when the tree had `size` leaves
        self.inclusions: list[tuple[bytes, int, int, list[bytes], bytes]] = []
        self.checkpoints: list[tuple[int, bytes]] = []

    @rule(data=st.binary(max_size=16), count=st.integers(1, 9))
    def append(self, data: bytes, count: int) -> None:
        for i in range(count):
            h = leaf_hash(data + bytes([i]))
            assert self.tree.append(h) == len(self.hashes)
            self.compact.append(h)
            self.hashes.append(h)

    @precondition(lambda self: self.tree.size > 0)
    @rule(data=st.data())
    def record_inclusion(self, data: st.DataObject) -> None:
        size = self.tree.size
        index = data.draw(st.integers(0, size - 1))
        proof = self.tree.inclusion_proof(index, size)
        self.inclusions.append((self.hashes[index], index, size, proof, self.tree.root()))

    @precondition(lambda self: self.tree.size > 0)
    @rule()
    def record_checkpoint(self) -> None:
        self.checkpoints.append((self.tree.size, self.tree.root()))

    @precondition(lambda self: len(self.checkpoints) >= 2)
    @rule(data=st.data())
    def check_consistency(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.checkpoints) - 1))
        j = data.draw(st.integers(0, len(self.checkpoints) - 1))
        (old, old_root), (new, new_root) = sorted([self.checkpoints[i], self.checkpoints[j]])
        proof = self.tree.consistency_proof(old, new)
        verify_consistency(old, new, proof, old_root, new_root)
        # and from the recorded checkpoint to the current tree
        verify_consistency(
            old,
            self.tree.size,
            self.tree.consistency_proof(old, self.tree.size),
            old_root,
            self.tree.root(),
        )

    @invariant()
    def old_proofs_still_valid(self) -> None:
        for leaf, index, size, proof, root in self.inclusions:
            assert self.tree.root(size) == root
            verify_inclusion(leaf, index, size, proof, root)
            assert self.tree.inclusion_proof(index, size) == proof

    @invariant()
    def compact_range_agrees(self) -> None:
        assert self.compact.root() == self.tree.root()


TreeMachine.TestCase.settings = settings(
    max_examples=examples(40), stateful_step_count=25, deadline=None
)
test_tree_machine = TreeMachine.TestCase


def test_hash_counts_are_logarithmic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Appends cost amortized O(1) hashes; roots and proofs O(log n) hashes."""
    import anonballot.hazmat.merkle as merkle

    calls = 0
    real = merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    n = 5000
    tree = MerkleTree()
    for h in _random_hashes(random.Random(3), n):
        tree.append(h)
    assert calls < n
    bound = 2 * n.bit_length()
    rng = random.Random(4)
    for _ in range(200):
        size = rng.randrange(1, n + 1)
        index = rng.randrange(size)
        old = rng.randrange(1, size + 1)
        counts = []
        for method, args in (
            (tree.root, (size,)),
            (tree.inclusion_proof, (index, size)),
            (tree.consistency_proof, (old, size)),
        ):
            calls = 0
            method(*args)
            counts.append(calls)
        assert max(counts) <= bound


@given(st.integers(min_value=0, max_value=70), st.integers(min_value=0, max_value=70))
def test_a_truncated_tree_is_the_tree_of_its_first_leaves(size: int, extra: int) -> None:
    """What a failed write appended is dropped whole: every level is the shorter tree's."""
    hashes = [leaf_hash(bytes([i % 256, i // 256])) for i in range(size + extra)]
    tree = MerkleTree(hashes)
    tree.truncate(size)
    fresh = MerkleTree(hashes[:size])
    assert tree.size == size
    assert tree.root() == fresh.root()
    assert tree._levels == fresh._levels
    tree.append(hashes[-1] if hashes else leaf_hash(b""))
    fresh.append(hashes[-1] if hashes else leaf_hash(b""))
    assert tree.root() == fresh.root()
