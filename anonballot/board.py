"""The public board (protocol section 6.5): an append-only RFC 9162 Merkle log of leaves.

It hands out the receipts (:mod:`anonballot.receipt`) and proofs of the leaves it holds.
The names of C2SP tlog-tiles that the server needs to publish the board as tiles (protocol
section 6.8) are re-exported here from :mod:`anonballot.hazmat.tiles`, so that it does not
reach into the hazmat layer.
"""

from __future__ import annotations

from .checkpoint import Checkpoint
from .hazmat.merkle import MerkleTree, leaf_hash
from .hazmat.tiles import MAX_ENTRY_SIZE, TILE_WIDTH, TilePath, hashes_at_level, tile_levels
from .manifest import Manifest
from .receipt import Receipt

__all__ = ["MAX_ENTRY_SIZE", "TILE_WIDTH", "Board", "TilePath", "hashes_at_level", "tile_levels"]


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
