"""The public board (protocol section 6.5): an append-only RFC 9162 Merkle log of leaves.

It hands out the receipts (:mod:`anonballot.receipt`) and proofs of the leaves it holds.
"""

from __future__ import annotations

from .checkpoint import Checkpoint
from .hazmat.merkle import MerkleTree, leaf_hash
from .manifest import Manifest
from .receipt import Receipt

__all__ = ["Board"]


class Board:
    """The leaves of one round in a Merkle tree, with receipts and proofs."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.tree = MerkleTree()

    @property
    def size(self) -> int:
        return self.tree.size

    def append(self, leaf: bytes) -> int:
        return self.tree.append(leaf_hash(leaf))

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        size = self.tree.size if size is None else size
        return Checkpoint(self.manifest.origin, size, self.tree.root(size))

    def receipt(self, index: int, checkpoint_note: str, size: int) -> Receipt:
        return Receipt(
            self.manifest.mid,
            index,
            self.tree.leaf_hash_at(index),
            checkpoint_note,
            tuple(self.tree.inclusion_proof(index, size)),
        )
