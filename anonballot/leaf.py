"""The leaf: one cast ballot as it stands on the board (protocol section 6).

A leaf's bytes are its JCS. :func:`parse_leaf` checks structure and canonical form
(audit check A2), :meth:`Leaf.verify_token` the eligibility token (A3) and
:meth:`Leaf.verify_voter_sig` the one-time voter signature (A4).

A leaf is at most :data:`MAX_LEAF_SIZE` bytes (section 6.3), the largest entry of a
tlog-tiles entry bundle (section 6.8). Whoever makes or accepts a leaf applies the cap
(:func:`build_leaf`, ``parse_leaf(..., max_size=MAX_LEAF_SIZE)`` for a cast); whoever reads
a board does not, since records made before the cap may hold larger leaves. The size of a
leaf follows from the size of its plaintext (:func:`leaf_size`), so a ballot too large is
refused before it is sealed, and :func:`worst_case_leaf_size` bounds every ballot of a
ward, which a new round's manifest must keep under the cap (:func:`check_leaves_fit`).
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import cast

from .encoding import JSONValue, b64u_decode, b64u_encode, jcs, parse_json
from .errors import EncodingError, InputError, InvalidSignature, ManifestError
from .manifest import Manifest
from .questionnaire import Questionnaire
from .sealing import MAX_CT, MIN_CT, SHARE_SIZE, SealedBallot
from .signing import SigningKey, VerifyKey
from .tokens import MAX_SIG_BYTES, MIN_SIG_BYTES, Token

__all__ = [
    "LEAF_KEYS",
    "MAX_LEAF_SIZE",
    "WORST_BYTES_PER_CHARACTER",
    "Leaf",
    "build_leaf",
    "check_leaves_fit",
    "leaf_size",
    "parse_leaf",
    "worst_case_ballot_size",
    "worst_case_leaf_size",
]

LEAF_KEYS = frozenset({"v", "round", "ward", "token", "ballot", "voter_sig"})

MAX_LEAF_SIZE = 0xFFFF
"""The largest leaf, 65,535 bytes (protocol section 6.3): an entry of a tlog-tiles entry
bundle carries its length in a uint16 (section 6.8)."""

WORST_BYTES_PER_CHARACTER = 6
"""The most bytes one code point of a comment takes in a ballot's JCS: a control character
is written ``\\u00XX`` (section 2.1), six bytes; any other code point takes at most four
(UTF-8), a Vietnamese letter two or three."""

_MID_LENGTH = 43  # b64u of the 32-byte mid


def _b64u_length(size: int) -> int:
    return (4 * size + 2) // 3


def leaf_size(*, ward: str, trustees: int, plaintext_size: int, sig_size: int) -> int:
    """The exact size of a leaf of ``ward`` that seals a plaintext of ``plaintext_size``
    bytes for ``trustees`` trustees, with a token signature of ``sig_size`` bytes.

    Every other value of a leaf has a fixed size (section 6.3) and no JCS escape (base64url,
    identifiers, the integer 1), so this is the size of the leaf the plaintext will make,
    known before sealing."""
    template: dict[str, JSONValue] = {
        "v": 1,
        "round": "A" * _MID_LENGTH,
        "ward": ward,
        "token": {"msg": "A" * 86, "sig": "A" * _b64u_length(sig_size)},
        "ballot": {
            "shares": ["A" * _b64u_length(SHARE_SIZE)] * trustees,
            "nonce": "A" * _b64u_length(12),
            "ct": "A" * _b64u_length(plaintext_size + 16),
        },
        "voter_sig": "A" * 86,
    }
    return len(jcs(template))


def worst_case_ballot_size(questionnaire: Questionnaire, ward: str, subjects: Sequence[str]) -> int:
    """The size of the largest valid ballot of ``ward`` (the JCS of ``B``, section 6.1):
    every comment field at its ``max_chars``, each character of
    :data:`WORST_BYTES_PER_CHARACTER` bytes, and the longest rating everywhere."""
    longest = max(questionnaire.answer_ids, key=len)
    answer: dict[str, JSONValue] = {
        "ratings": {c.id: longest for c in questionnaire.criteria},
        "comments": {
            c.id: "A" * (WORST_BYTES_PER_CHARACTER * c.max_chars) for c in questionnaire.comments
        },
    }
    ballot: dict[str, JSONValue] = {
        "v": 1,
        "ward": ward,
        "answers": dict.fromkeys(subjects, answer),
    }
    return len(jcs(ballot))


def worst_case_leaf_size(
    questionnaire: Questionnaire,
    ward: str,
    subjects: Sequence[str],
    *,
    trustees: int,
    sig_size: int,
) -> int:
    """The size of the leaf of the largest valid ballot of ``ward``."""
    plaintext = worst_case_ballot_size(questionnaire, ward, subjects)
    return leaf_size(ward=ward, trustees=trustees, plaintext_size=plaintext, sig_size=sig_size)


def check_leaves_fit(
    questionnaire: Questionnaire,
    wards: Mapping[str, Sequence[str]],
    *,
    trustees: int,
    sig_sizes: Mapping[str, int],
) -> None:
    """Raise :class:`ManifestError` unless every valid ballot of every ward (ward id to its
    subjects' ids) makes a leaf of at most :data:`MAX_LEAF_SIZE` bytes, with the message
    the organizer needs: which ward, how large, and the ``max_chars`` that would fit.

    A rule for building a new round's manifest (section 4.2), not a check of a signed one:
    manifests made before it stay valid."""
    for ward, subjects in wards.items():
        size = worst_case_leaf_size(
            questionnaire, ward, subjects, trustees=trustees, sig_size=sig_sizes[ward]
        )
        if size <= MAX_LEAF_SIZE:
            continue
        fits = _largest_fitting_max_chars(questionnaire, ward, subjects, trustees, sig_sizes[ward])
        raise ManifestError(
            f"ward {ward}: a ballot with every comment at its longest ({len(subjects)} "
            f"people rated, {len(questionnaire.comments)} comment fields) would make a leaf "
            f"of {size:,} bytes, more than the {MAX_LEAF_SIZE:,} a leaf may have (protocol "
            f"section 6.3); lower the comment fields' max_chars to at most {fits:,} each"
        )


def _largest_fitting_max_chars(
    questionnaire: Questionnaire, ward: str, subjects: Sequence[str], trustees: int, sig: int
) -> int:
    """The largest ``n`` such that capping every comment field at ``n`` characters fits."""

    def fits(n: int) -> bool:
        fields = tuple(replace(c, max_chars=min(c.max_chars, n)) for c in questionnaire.comments)
        capped = replace(questionnaire, comments=fields)
        return (
            worst_case_leaf_size(capped, ward, subjects, trustees=trustees, sig_size=sig)
            <= MAX_LEAF_SIZE
        )

    low, high = 0, max((c.max_chars for c in questionnaire.comments), default=0)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


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


def parse_leaf(
    data: bytes, manifest: Manifest, mid: str | None = None, *, max_size: int | None = None
) -> Leaf:
    """Parse leaf bytes strictly: canonical JCS, exact keys and sizes, this round, known ward.

    ``max_size`` (a cast passes :data:`MAX_LEAF_SIZE`, protocol section 6.4) refuses a larger
    leaf; reading a board passes none, as records made before the cap may hold larger ones.
    Raises :class:`EncodingError` (code ``bad_leaf``, ``wrong_round``, ``unknown_ward`` or
    ``leaf_too_large``).
    """
    mid = mid or manifest.mid
    if max_size is not None and isinstance(data, bytes) and len(data) > max_size:
        raise EncodingError(
            f"leaf: {len(data):,} bytes, more than the {max_size:,} a leaf may have",
            code="leaf_too_large",
        )
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
    leaf = jcs(unsigned)
    if len(leaf) > MAX_LEAF_SIZE:
        raise InputError(
            f"the leaf is {len(leaf):,} bytes, more than the {MAX_LEAF_SIZE:,} a leaf may have "
            "(protocol section 6.3)",
            code="leaf_too_large",
        )
    return leaf
