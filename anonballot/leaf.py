"""The leaf: one cast ballot as it stands on the board (protocol section 6).

A leaf's bytes are its JCS. :func:`parse_leaf` checks structure and canonical form
(audit check A2), :meth:`Leaf.verify_token` the eligibility token (A3) and
:meth:`Leaf.verify_voter_sig` the one-time voter signature (A4).
"""

from __future__ import annotations

import binascii
import functools
import re
from dataclasses import dataclass
from typing import cast

from .encoding import JSONValue, b64u_decode, b64u_encode, jcs, parse_json
from .errors import EncodingError, InvalidSignature
from .manifest import Manifest
from .sealing import MAX_CT, MIN_CT, SHARE_SIZE, SealedBallot
from .signing import SigningKey, VerifyKey
from .tokens import MAX_SIG_BYTES, MIN_SIG_BYTES, Token

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

    @functools.cached_property
    def value(self) -> dict[str, JSONValue]:
        """The leaf as a JSON object (parsed from ``raw`` when first asked for)."""
        # An object: raw is a leaf that parse_leaf accepted.
        return cast("dict[str, JSONValue]", parse_json(self.raw))

    @property
    def voter_key(self) -> VerifyKey:
        """The one-time Ed25519 voter key, the spent-token key."""
        return self.token.voter_public_key

    @classmethod
    def _unchecked(cls, **fields: object) -> Leaf:
        """A leaf from fields that :func:`parse_leaf` has already checked."""
        leaf = object.__new__(cls)
        leaf.__dict__.update(fields)  # what the frozen __init__ would set
        return leaf

    def signed_bytes(self) -> bytes:
        """JCS of the leaf without ``voter_sig``: what the voter key signed.

        ``raw`` is canonical (checked when parsed), and the JCS of an object is its members
        in order, so dropping the one ``,"voter_sig":"..."`` member gives the JCS of the rest
        (the quotes are unescaped, so the pattern cannot occur inside a string). The
        canonical base64url of ``voter_sig`` is exactly the text it was parsed from.
        """
        return self._signed

    @functools.cached_property
    def _signed(self) -> bytes:
        member = b',"voter_sig":"' + b64u_encode(self.voter_sig).encode("ascii") + b'"'
        return self.raw.replace(member, b"", 1)

    def verify_token(self, manifest: Manifest) -> None:
        manifest.issuer_key(self.ward).verify(self.token)

    def verify_voter_sig(self) -> None:
        try:
            self.voter_key.verify(self.signed_bytes(), self.voter_sig)
        except InvalidSignature as exc:
            raise InvalidSignature("voter_sig does not verify", code="bad_voter_signature") from exc


# -- the fast path ---------------------------------------------------------------------------
#
# Every value of a valid leaf is a base64url string, an identifier or the integer 1, and the
# JCS of such an object is fixed text around them: keys sorted, no white space, no escapes.
# So a leaf that matches this pattern is canonical JCS with exactly the six keys (and the
# ballot and token objects exactly their keys), and its fields are the groups. A leaf that
# does not match (or whose fields then fail a check) goes to the general parser, which gives
# the precise reason; the fast path never accepts what the general one rejects.

_TO_STANDARD = bytes.maketrans(b"-_+/", b"+/!!")
"""base64url to standard base64; a ``+`` or ``/`` of the leaf becomes ``!``, which no field
pattern below accepts, so the leaf's own text must be base64url."""
_FROM_STANDARD = bytes.maketrans(b"+", b"-")
_B64 = rb"([A-Za-z0-9+/]*)"
_SHARE = rb"[A-Za-z0-9+/]{152}"  # 114 bytes
_LEAF_RE = re.compile(
    rb'\{"ballot":\{"ct":"' + _B64
    + rb'","nonce":"([A-Za-z0-9+/]{16})'  # 12 bytes
    + rb'","shares":\["((?:' + _SHARE + rb'",")*' + _SHARE + rb')"\]\},"round":"' + _B64
    + rb'","token":\{"msg":"([A-Za-z0-9+/]{86})'  # 64 bytes
    + rb'","sig":"' + _B64
    + rb'"\},"v":1,"voter/sig":"([A-Za-z0-9+/]{86})'  # 64 bytes
    + rb'","ward":"([a-z0-9+]*)"\}'
)  # fmt: skip
"""A leaf in canonical form with fields of the right sizes, matched on its translation by
:data:`_TO_STANDARD` (which turns the key ``voter_sig`` into ``voter/sig`` and the ``-`` of
ward ids into ``+``)."""
_VOTER_SIG_GROUP = 7
_VOTER_SIG_MEMBER = len(b',"voter_sig":"')
_SHARE_TEXT = 152 + len(b'","')
_B64_VALUE = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_PAD = (b"", b"", b"==", b"=")
_STRAY_BITS = (0, 0, 0x0F, 0x03)
"""Per ``len % 4``: the low bits of the last character that a canonical encoding leaves 0."""
_a2b = binascii.a2b_base64


def _b64_fast(text: bytes) -> bytes | None:
    """Decode standard base64 without padding, known to be of its alphabet; None if it is
    not the canonical encoding of its bytes (a length of 1 mod 4, or stray low bits)."""
    r = len(text) & 3
    if r == 0:
        return _a2b(text)
    if r == 1 or _B64_VALUE[text[-1]] & _STRAY_BITS[r]:
        return None
    return _a2b(text + _PAD[r])


@functools.lru_cache(maxsize=16)
def _round_text(mid: str) -> bytes | None:
    """``mid`` as it reads in a leaf translated by :data:`_TO_STANDARD` (None: not ASCII)."""
    return mid.encode("ascii").translate(_TO_STANDARD) if mid.isascii() else None


def _parse_fast(data: bytes, manifest: Manifest, mid: str) -> Leaf | None:
    match = _LEAF_RE.fullmatch(data.translate(_TO_STANDARD))
    if match is None:
        return None
    ct_t, nonce_t, shares_t, round_t, msg_t, sig_t, voter_sig_t, ward_t = match.groups()
    if round_t != _round_text(mid):
        return None
    ward = ward_t.translate(_FROM_STANDARD).decode("ascii")
    count = (len(shares_t) + 3) // _SHARE_TEXT
    if not manifest.has_ward(ward) or count != len(manifest.trustees):
        return None
    # msg and voter_sig: 86 characters for 64 bytes, the last one carrying 2 bits.
    if _B64_VALUE[msg_t[-1]] & 0x0F or _B64_VALUE[voter_sig_t[-1]] & 0x0F:
        return None
    ct = _b64_fast(ct_t)
    sig = _b64_fast(sig_t)
    if (
        ct is None
        or not MIN_CT <= len(ct) <= MAX_CT
        or sig is None
        or not MIN_SIG_BYTES <= len(sig) <= MAX_SIG_BYTES
    ):
        return None
    joined = _a2b(shares_t.replace(b'","', b""))  # whole 3-byte groups: one decode for all
    shares = tuple(joined[i : i + SHARE_SIZE] for i in range(0, count * SHARE_SIZE, SHARE_SIZE))
    leaf = Leaf._unchecked(
        raw=data,
        round=mid,
        ward=ward,
        token=Token._unchecked(_a2b(msg_t + b"=="), sig),
        ballot=SealedBallot._unchecked(shares, _a2b(nonce_t), ct),
        voter_sig=_a2b(voter_sig_t + b"=="),
    )
    # What the voter key signed: the leaf without its voter_sig member (see signed_bytes).
    begin, end = match.span(_VOTER_SIG_GROUP)
    leaf.__dict__["_signed"] = data[: begin - _VOTER_SIG_MEMBER] + data[end + 1 :]
    return leaf


def parse_leaf(data: bytes, manifest: Manifest, mid: str | None = None) -> Leaf:
    """Parse leaf bytes strictly: canonical JCS, exact keys and sizes, this round, known ward.

    Raises :class:`EncodingError` (code ``bad_leaf``, ``wrong_round`` or ``unknown_ward``).
    """
    mid = mid or manifest.mid
    if isinstance(data, bytes):
        leaf = _parse_fast(data, manifest, mid)
        if leaf is not None:
            return leaf
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
        ward = value["ward"]
        if not isinstance(ward, str) or not manifest.has_ward(ward):
            raise EncodingError(f"leaf: unknown ward {value['ward']!r}", code="unknown_ward")
        token = Token.from_json(value["token"])
        ballot = SealedBallot.from_json(value["ballot"], len(manifest.trustees))
        voter_sig = b64u_decode(value["voter_sig"], length=64, what="voter_sig")
    except EncodingError as exc:
        if exc.code in ("wrong_round", "unknown_ward", "bad_leaf"):
            raise
        raise EncodingError(f"leaf: {exc.detail}", code="bad_leaf") from exc
    leaf = Leaf(data, mid, ward, token, ballot, voter_sig)
    leaf.__dict__["value"] = value  # the cached_property's slot: already parsed
    return leaf


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
