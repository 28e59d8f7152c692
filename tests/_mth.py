"""MTH straight from the RFC 9162 recursion (over leaf hashes), independent of the stored
levels of anonballot's MerkleTree: the independent verifier's own (tests/independent/),
the reference the Merkle and tiles tests compare with."""

from __future__ import annotations

from independent.verifier import merkle_root as reference_mth

__all__ = ["reference_mth"]
