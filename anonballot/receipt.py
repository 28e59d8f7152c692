"""Receipts (protocol section 6.7) and every check a participant can make with one.

A receipt is
``{"round": mid, "leaf_index": i, "leaf_hash": b64u, "checkpoint": note, "inclusion": [..]}``.
It proves that a leaf is on the board as of a signed checkpoint; anyone can build one for
any public leaf, so it proves inclusion, not authorship.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .checkpoint import Checkpoint
from .encoding import JSONValue, b64u_decode, b64u_encode
from .errors import EncodingError, InvalidProof
from .hazmat.merkle import leaf_hash, verify_consistency, verify_inclusion
from .manifest import Manifest

__all__ = ["Receipt", "check_consistent", "receipt_code"]


def receipt_code(leaf_hash_bytes: bytes) -> str:
    """The code shown to people: the first 20 hex digits of the leaf hash, groups of four."""
    digits = leaf_hash_bytes.hex()[:20]
    return "-".join(digits[i : i + 4] for i in range(0, 20, 4))


@dataclass(frozen=True)
class Receipt:
    round: str
    leaf_index: int
    leaf_hash: bytes
    checkpoint: str
    inclusion: tuple[bytes, ...]

    @property
    def code(self) -> str:
        return receipt_code(self.leaf_hash)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "round": self.round,
            "leaf_index": self.leaf_index,
            "leaf_hash": b64u_encode(self.leaf_hash),
            "checkpoint": self.checkpoint,
            "inclusion": [b64u_encode(p) for p in self.inclusion],
        }

    @classmethod
    def from_json(cls, value: object) -> Receipt:
        keys = {"round", "leaf_index", "leaf_hash", "checkpoint", "inclusion"}
        if not isinstance(value, dict) or set(value) != keys:
            raise EncodingError(
                "a receipt has exactly round, leaf_index, leaf_hash, checkpoint and inclusion",
                code="bad_receipt",
            )
        index = value["leaf_index"]
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise EncodingError("receipt leaf_index: expected an integer >= 0", code="bad_receipt")
        if not isinstance(value["round"], str) or not isinstance(value["checkpoint"], str):
            raise EncodingError("receipt: round and checkpoint are text", code="bad_receipt")
        proof = value["inclusion"]
        if not isinstance(proof, list):
            raise EncodingError("receipt inclusion: expected a list", code="bad_receipt")
        return cls(
            value["round"],
            index,
            b64u_decode(value["leaf_hash"], length=32, what="leaf_hash"),
            value["checkpoint"],
            tuple(b64u_decode(p, length=32, what="inclusion proof") for p in proof),
        )

    def verify(self, manifest: Manifest, leaf: bytes | None = None) -> Checkpoint:
        """Check the checkpoint signature and the inclusion proof; return the checkpoint.

        With ``leaf``, also check that the receipt is for exactly those bytes.
        """
        if self.round != manifest.mid:
            raise InvalidProof("the receipt is for another round", code="wrong_round")
        if leaf is not None and leaf_hash(leaf) != self.leaf_hash:
            raise InvalidProof("the receipt is for another leaf")
        checkpoint = Checkpoint.parse(self.checkpoint, manifest.origin, manifest.log_key)
        verify_inclusion(
            self.leaf_hash, self.leaf_index, checkpoint.size, self.inclusion, checkpoint.root
        )
        return checkpoint


def check_consistent(older: Checkpoint, newer: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raise :class:`InvalidProof` unless ``newer`` extends ``older``."""
    if older.size == newer.size:
        if older.root != newer.root:
            raise InvalidProof("two checkpoints of the same size with different roots")
        return
    if older.size == 0:
        return  # every tree extends the empty tree
    verify_consistency(older.size, newer.size, proof, older.root, newer.root)
