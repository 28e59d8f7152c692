"""RFC 9162 Merkle tree hashes, inclusion proofs and consistency proofs.

HAZMAT: raw log math. The board and the auditor should use the safe layer
(``anonballot.board``, ``anonballot.checkpoint``); this module only knows about 32-byte
hashes and tree sizes and does not say *what* was logged.

Definitions (RFC 9162 section 2.1, SHA-256)::

    MTH({})        = SHA-256()                               EMPTY_ROOT
    MTH({d(0)})    = SHA-256(0x00 || d(0))                   leaf_hash
    MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   node_hash
                     where k is the largest power of two smaller than n

:class:`MerkleTree` keeps every complete subtree hash (level ``h`` holds the hashes of the
complete ``2**h``-leaf subtrees, left to right), so appending is amortized O(1) and the
root of any prefix tree, an inclusion proof (``PATH``, section 2.1.3.1) or a consistency
proof (``SUBPROOF``, section 2.1.4.1) costs O(log n) hashes: every subtree the RFC
recursion names is either complete (one lookup) or the right edge of a prefix tree, which
is a fold of at most log2(n) complete subtrees.

:class:`CompactRange` computes the root of a stream of leaves with O(log n) memory.

:func:`verify_inclusion` and :func:`verify_consistency` are the iterative algorithms of
RFC 9162 sections 2.1.3.2 and 2.1.4.2. They raise :class:`~anonballot.errors.InvalidProof`
on any failure and return ``None`` on success. A consistency proof *from* size 0 is an
error (there is nothing to be consistent with; the transparency-dev vectors agree).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ..errors import InputError, InvalidProof

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""The size of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree, ``SHA-256()``."""


def leaf_hash(data: bytes) -> bytes:
    """The RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash_input(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InputError(f"{what} must be {HASH_SIZE} bytes")
    return value


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class MerkleTree:
    """An in-memory, append-only RFC 9162 tree over leaf hashes.

    Stores about ``2 n`` hashes for ``n`` leaves: ``_levels[h][j]`` is the hash of the
    complete subtree over leaves ``[j * 2**h, (j + 1) * 2**h)``.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for item in leaf_hashes:
            self.append(item)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    def append(self, leaf_hash: bytes) -> int:
        """Append a 32-byte leaf hash (not leaf data) and return its index."""
        _check_hash_input(leaf_hash, "a leaf hash")
        index = len(self._levels[0])
        self._levels[0].append(leaf_hash)
        height = 0
        while len(self._levels[height]) % 2 == 0:
            level = self._levels[height]
            if height + 1 == len(self._levels):
                self._levels.append([])
            self._levels[height + 1].append(node_hash(level[-2], level[-1]))
            height += 1
        return index

    def truncate(self, size: int) -> None:
        """Drop every leaf from index ``size`` on (what a failed write had appended)."""
        self._check_size(size)
        for height, level in enumerate(self._levels):
            del level[size >> height :]
        while len(self._levels) > 1 and not self._levels[-1]:
            self._levels.pop()

    def leaf_hash_at(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        if not _is_count(index) or index >= self.size:
            raise InputError(f"leaf index {index!r} is out of range for tree size {self.size}")
        return self._levels[0][index]

    def complete_subtrees(self, height: int, start: int, end: int) -> list[bytes]:
        """The roots of the complete ``2**height``-leaf subtrees ``start`` to ``end - 1``
        (subtree ``j`` covers leaves ``[j * 2**height, (j + 1) * 2**height)``), as stored.

        The tree keeps them all, so this is a slice, not a computation: what makes a
        tlog-tiles hash tile (:mod:`anonballot.hazmat.tiles`) cheap to serve.
        """
        if not _is_count(height) or not _is_count(start) or not _is_count(end) or start > end:
            raise InputError(f"subtrees {start!r} to {end!r} of height {height!r}: bad range")
        level = self._levels[height] if height < len(self._levels) else []
        if end > len(level):
            raise InputError(
                f"the tree of size {self.size} has {len(level)} complete subtrees of height "
                f"{height}, not {end}"
            )
        return level[start:end]

    def _check_size(self, size: int, what: str = "tree size") -> None:
        if not _is_count(size) or size > self.size:
            raise InputError(f"{what} {size!r} is out of range for tree size {self.size}")

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range the RFC recursion can name.

        Requires ``start`` to be a multiple of the smallest power of two ``>= end - start``
        (true of every range PATH and SUBPROOF visit), so the range splits into complete
        subtrees of decreasing size that are all stored.
        """
        parts: list[bytes] = []
        while end - start > 0:
            n = end - start
            # The largest complete subtree starting at `start` that fits in the range.
            height = n.bit_length() - 1
            if n == 1 << height:
                parts.append(self._levels[height][start >> height])
                break
            k = 1 << height
            parts.append(self._levels[height][start >> height])
            start += k
        if not parts:
            return EMPTY_ROOT
        result = parts[-1]
        for part in reversed(parts[:-1]):
            result = node_hash(part, result)
        return result

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree made of the first ``size`` leaves (default: all of them)."""
        if size is None:
            size = self.size
        self._check_size(size)
        return self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """The RFC 9162 inclusion proof ``PATH(index, D[0:size])``, leaf side first."""
        self._check_size(size)
        if not _is_count(index) or index >= size:
            raise InputError(f"leaf index {index!r} is out of range for tree size {size}")
        proof: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _largest_power_of_two_below(hi - lo)
            if index < lo + k:
                proof.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._subtree(lo, lo + k))
                lo += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """The RFC 9162 consistency proof ``PROOF(old_size, D[0:new_size])``.

        ``old_size`` must be at least 1 (a proof from the empty tree is meaningless) and
        at most ``new_size``; equal sizes give the empty proof.
        """
        self._check_size(new_size, "new tree size")
        if not _is_count(old_size) or old_size == 0 or old_size > new_size:
            raise InputError(
                f"old tree size {old_size!r} must be between 1 and the new size {new_size}"
            )
        proof: list[bytes] = []
        if old_size == new_size:
            return proof
        # SUBPROOF(m, D[lo:hi], b), unrolled: m counts leaves of the old tree inside [lo, hi).
        lo, hi, m, complete = 0, new_size, old_size, True
        while m != hi - lo:
            k = _largest_power_of_two_below(hi - lo)
            if m <= k:
                proof.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._subtree(lo, lo + k))
                lo += k
                m -= k
                complete = False
        if not complete:
            proof.append(self._subtree(lo, hi))
        proof.reverse()
        return proof


class CompactRange:
    """The running root of a stream of leaf hashes, in O(log n) memory.

    Holds one hash per set bit of the size: the complete subtrees that make up the tree,
    largest (leftmost) first.
    """

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Append a 32-byte leaf hash (not leaf data)."""
        current = _check_hash_input(leaf_hash, "a leaf hash")
        carry = self._size
        while carry & 1:
            current = node_hash(self._stack.pop(), current)
            carry >>= 1
        self._stack.append(current)
        self._size += 1

    def append_subtree(self, root: bytes, height: int) -> None:
        """Append ``2**height`` leaves at once by the root of their complete subtree (what
        a worker computed from them). The size must be a multiple of ``2**height``."""
        current = _check_hash_input(root, "a subtree root")
        if not _is_count(height) or self._size % (1 << height):
            raise InputError(f"a subtree of height {height!r} cannot follow {self._size} leaves")
        carry = self._size >> height
        while carry & 1:
            current = node_hash(self._stack.pop(), current)
            carry >>= 1
        self._stack.append(current)
        self._size += 1 << height

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """The hashes it holds: the roots of the complete subtrees that make up the tree,
        largest (leftmost) first, one per set bit of the size. With the size they are all
        that is needed to go on (:meth:`resume`): what a monitor keeps between runs."""
        return tuple(self._stack)

    @classmethod
    def resume(cls, size: int, frontier: Sequence[bytes]) -> CompactRange:
        """The compact range of a tree of ``size`` leaves from its :attr:`frontier`.

        Raises :class:`InputError` when the hashes are not one 32-byte hash per set bit of
        ``size``."""
        if not _is_count(size):
            raise InputError(f"tree size {size!r} is not a non-negative integer")
        hashes = [_check_hash_input(h, "a frontier hash") for h in frontier]
        if len(hashes) != size.bit_count():
            raise InputError(
                f"a tree of size {size} has {size.bit_count()} frontier hashes, not {len(hashes)}"
            )
        compact = cls()
        compact._size = size
        compact._stack = hashes
        return compact

    def root(self) -> bytes:
        """The root of the tree of every leaf appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        result = self._stack[-1]
        for part in reversed(self._stack[:-1]):
            result = node_hash(part, result)
        return result


def _check_proof_elements(proof: Sequence[bytes]) -> list[bytes]:
    if isinstance(proof, bytes | str):
        raise InvalidProof("a proof is a sequence of hashes, not one byte string")
    items = list(proof)
    for i, item in enumerate(items):
        if not isinstance(item, bytes) or len(item) != HASH_SIZE:
            raise InvalidProof(f"proof element {i} is not a {HASH_SIZE}-byte hash")
    return items


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the ``size``-leaf tree with ``root``.

    RFC 9162 section 2.1.3.2. Raises :class:`InvalidProof` on any failure.
    """
    if not _is_count(index) or not _is_count(size) or index >= size:
        raise InvalidProof(f"leaf index {index!r} is out of range for tree size {size!r}")
    if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
        raise InvalidProof(f"the leaf hash is not {HASH_SIZE} bytes")
    if not isinstance(root, bytes) or len(root) != HASH_SIZE:
        raise InvalidProof(f"the root is not {HASH_SIZE} bytes")
    path = _check_proof_elements(proof)
    fn, sn = index, size - 1
    r = leaf_hash
    for p in path:
        if sn == 0:
            raise InvalidProof("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("inclusion proof is too short")
    if r != root:
        raise InvalidProof("inclusion proof does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the ``old_size`` tree with ``old_root`` is a prefix of the ``new_size`` one.

    RFC 9162 section 2.1.4.2. ``old_size`` must be at least 1; for equal sizes the proof
    must be empty and the roots equal (byte for byte: like the transparency-dev vectors,
    this case does not check that the roots are 32 bytes). Raises :class:`InvalidProof`
    on any failure.
    """
    if not _is_count(old_size) or not _is_count(new_size):
        raise InvalidProof("tree sizes must be non-negative integers")
    if old_size == 0:
        raise InvalidProof("a consistency proof from the empty tree is meaningless")
    if old_size > new_size:
        raise InvalidProof(f"old tree size {old_size} is larger than new size {new_size}")
    path = _check_proof_elements(proof)
    if old_size == new_size:
        if path:
            raise InvalidProof("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise InvalidProof("equal tree sizes with different roots")
        return
    if not path:
        raise InvalidProof("consistency proof is empty")
    for what, value in (("old", old_root), ("new", new_root)):
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise InvalidProof(f"the {what} root is not {HASH_SIZE} bytes")
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("consistency proof is too long")
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
    if sn != 0:
        raise InvalidProof("consistency proof is too short")
    if fr != old_root:
        raise InvalidProof("consistency proof does not lead to the old root")
    if sr != new_root:
        raise InvalidProof("consistency proof does not lead to the new root")
