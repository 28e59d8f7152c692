"""The leaf: one cast ballot as it stands on the board (protocol section 6).

A leaf's bytes are its JCS. :func:`parse_leaf` checks structure and canonical form
(audit check A2), :meth:`Leaf.verify_token` the eligibility token (A3) and
:meth:`Leaf.verify_voter_sig` the one-time voter signature (A4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .encoding import JSONValue, b64u_decode, b64u_encode, jcs, parse_json
from .errors import EncodingError, InvalidSignature
from .manifest import Manifest
from .sealing import SealedBallot
from .signing import SigningKey, verify_ed25519
from .tokens import Token, verify_token

__all__ = ["LEAF_KEYS", "Leaf", "build_leaf", "parse_leaf"]

LEAF_KEYS = frozenset({"v", "round", "ward", "token", "ballot", "voter_sig"})


@dataclass(frozen=True)
class Leaf:
    """A parsed leaf; ``raw`` is its exact (canonical) bytes."""

    raw: bytes
    round: str
    ward: str
    token: Token
    ballot: SealedBallot
    voter_sig: bytes
    value: dict[str, Any]

    @property
    def voter_key(self) -> bytes:
        """The one-time Ed25519 voter key, the spent-token key."""
        return self.token.voter_public_key

    def signed_bytes(self) -> bytes:
        """JCS of the leaf without ``voter_sig``: what the voter key signed.

        ``raw`` is canonical (checked when parsed), and the JCS of an object is its members
        in order, so dropping the one ``,"voter_sig":"..."`` member gives the JCS of the rest
        (the quotes are unescaped, so the pattern cannot occur inside a string).
        """
        member = b',"voter_sig":"' + self.value["voter_sig"].encode("ascii") + b'"'
        return self.raw.replace(member, b"", 1)

    def verify_token(self, manifest: Manifest) -> None:
        verify_token(manifest.ward(self.ward).issuer_key, self.token)

    def verify_voter_sig(self) -> None:
        try:
            verify_ed25519(self.voter_key, self.signed_bytes(), self.voter_sig)
        except InvalidSignature as exc:
            raise InvalidSignature("voter_sig does not verify", code="bad_voter_signature") from exc


def parse_leaf(data: bytes, manifest: Manifest, mid: str | None = None) -> Leaf:
    """Parse leaf bytes strictly: canonical JCS, exact keys and sizes, this round, known ward.

    Raises :class:`EncodingError` (code ``bad_leaf``, ``wrong_round`` or ``unknown_ward``).
    """
    mid = mid or manifest.mid
    try:
        value = parse_json(data)
    except EncodingError as exc:
        raise EncodingError(f"leaf: {exc.detail}", code="bad_leaf") from exc
    if not isinstance(value, dict) or set(value) != LEAF_KEYS:
        raise EncodingError(
            "leaf: expected exactly the keys v, round, ward, token, ballot, voter_sig",
            code="bad_leaf",
        )
    try:
        if jcs(value) != data:
            raise EncodingError("leaf: not in canonical form (RFC 8785)", code="bad_leaf")
        if value["v"] != 1 or isinstance(value["v"], bool):
            raise EncodingError("leaf: v must be 1", code="bad_leaf")
        if value["round"] != mid:
            raise EncodingError("leaf: round is not this round's mid", code="wrong_round")
        if not manifest.has_ward(value["ward"]):
            raise EncodingError(f"leaf: unknown ward {value['ward']!r}", code="unknown_ward")
        token = Token.from_json(value["token"])
        ballot = SealedBallot.from_json(value["ballot"], len(manifest.trustees))
        voter_sig = b64u_decode(value["voter_sig"], length=64, what="voter_sig")
    except EncodingError as exc:
        if exc.code in ("wrong_round", "unknown_ward", "bad_leaf"):
            raise
        raise EncodingError(f"leaf: {exc.detail}", code="bad_leaf") from exc
    return Leaf(data, value["round"], value["ward"], token, ballot, voter_sig, value)


def build_leaf(
    mid: str, ward: str, token: Token, ballot: SealedBallot, voter_key: SigningKey
) -> bytes:
    """The JCS bytes of a leaf, signed with the one-time voter key bound into ``token``."""
    if voter_key.public_key != token.voter_public_key:
        raise EncodingError("the voter key is not the one bound into the token")
    unsigned: dict[str, JSONValue] = {
        "v": 1,
        "round": mid,
        "ward": ward,
        "token": token.to_json(),
        "ballot": ballot.to_json(),
    }
    unsigned["voter_sig"] = b64u_encode(voter_key.sign(jcs(unsigned)))
    return jcs(unsigned)
