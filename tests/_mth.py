"""MTH straight from the RFC 9162 recursion (over leaf hashes), independent of the stored
levels of anonballot's MerkleTree: the reference the Merkle and tiles tests compare with."""

from __future__ import annotations

from anonballot.hazmat.merkle import EMPTY_ROOT, node_hash


def reference_mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1's MTH of a list of leaf hashes."""
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(reference_mth(hashes[:k]), reference_mth(hashes[k:]))
