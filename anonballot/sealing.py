"""Sealed ballots: k-of-n threshold encryption to the round's trustees (protocol 6 and 7.3).

Sealing (section 6): draw a 32-byte key ``K`` and a 12-byte nonce; encrypt the plaintext
with AES-256-GCM under ``aad = JCS({"round": mid, "ward": ward})``; split ``int(K)`` with
Shamir over GF(2^521 - 1); seal share ``f(i)`` (66 bytes) to trustee ``i`` with HPKE base
mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, single shot, ``info =
JCS({"round": mid, "trustee": id_i})``, empty aad. Each stored share is ``enc || ct``, 114
bytes.

Opening (section 7.3) is deterministic: open the share of every released trustee, in
index order; interpolate ``f`` from the ``threshold`` lowest indices; every other released
share must lie on ``f``; ``K = f(0)`` must be below 2^256; AES-GCM must open. The first
failing step raises :class:`~anonballot.errors.OpenError` with its reason code
(``share_undecryptable``, ``shares_inconsistent``, ``bad_key``, ``undecryptable``).

For many ballots of one round, build an :class:`Opener` once and call
:meth:`Opener.open` for each ballot: it reuses the loaded keys and the Lagrange weights.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .encoding import JSONValue, b64u_decode, b64u_encode, jcs
from .errors import EncodingError, InputError, OpenError
from .hazmat import shamir

__all__ = [
    "KEY_SIZE",
    "MAX_CT",
    "MAX_PLAINTEXT",
    "MIN_CT",
    "NONCE_SIZE",
    "SHARE_SIZE",
    "Opener",
    "SealedBallot",
    "TrusteePublic",
    "TrusteeSecret",
    "generate_trustee_keypair",
    "open_sealed",
    "seal",
    "x25519_public_from_private",
]

KEY_SIZE = 32
"""Size of the ballot key ``K`` (AES-256-GCM)."""
NONCE_SIZE = 12
"""Size of the AES-GCM nonce of a ballot."""
SHARE_SIZE = 114
"""Size of one stored share: HPKE ``enc`` (32) + ciphertext of 66 bytes + tag (16)."""
MAX_CT = 65536
"""Largest ballot ciphertext (tag included), 64 KiB."""
MIN_CT = 16
"""Smallest ballot ciphertext: the AES-GCM tag of an empty plaintext."""
MAX_PLAINTEXT = MAX_CT - 16
"""Largest plaintext :func:`seal` accepts."""

_ENC_SIZE = 32
_KEY_LIMIT = 1 << (8 * KEY_SIZE)
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
_BALLOT_KEYS = frozenset({"shares", "nonce", "ct"})


def _ballot_aad(round_id: str, ward: str) -> bytes:
    return jcs({"round": round_id, "ward": ward})


def _share_info(round_id: str, trustee_id: str) -> bytes:
    return jcs({"round": round_id, "trustee": trustee_id})


# --------------------------------------------------------------------------- keys


def generate_trustee_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair for a trustee: ``(private, public)``, 32 raw bytes each."""
    key = X25519PrivateKey.generate()
    return key.private_bytes_raw(), key.public_key().public_bytes_raw()


def x25519_public_from_private(private: bytes) -> bytes:
    """The raw 32-byte X25519 public key of a raw 32-byte private key."""
    return _load_private(private).public_key().public_bytes_raw()


def _load_private(private: bytes) -> X25519PrivateKey:
    if not isinstance(private, bytes) or len(private) != 32:
        raise InputError("an X25519 private key is exactly 32 bytes")
    return X25519PrivateKey.from_private_bytes(private)


def _load_public(public: bytes) -> X25519PublicKey:
    if not isinstance(public, bytes) or len(public) != 32:
        raise InputError("an X25519 public key is exactly 32 bytes")
    return X25519PublicKey.from_public_bytes(public)


@dataclass(frozen=True)
class TrusteePublic:
    """A trustee as the manifest lists it: identifier and X25519 HPKE public key."""

    id: str
    hpke_key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InputError("a trustee id is a non-empty string")
        if not isinstance(self.hpke_key, bytes) or len(self.hpke_key) != 32:
            raise InputError(f"trustee {self.id}: an X25519 public key is exactly 32 bytes")


@dataclass(frozen=True)
class TrusteeSecret:
    """A released trustee key: 1-based manifest position, identifier, X25519 private key."""

    index: int
    id: str
    private_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 1:
            raise InputError("a trustee index is an integer >= 1 (manifest position)")
        if not isinstance(self.id, str) or not self.id:
            raise InputError("a trustee id is a non-empty string")
        if not isinstance(self.private_key, bytes) or len(self.private_key) != 32:
            raise InputError(f"trustee {self.id}: an X25519 private key is exactly 32 bytes")


# --------------------------------------------------------------------------- ballots


@dataclass(frozen=True)
class SealedBallot:
    """The ``ballot`` object of a leaf: one HPKE share per trustee, the nonce and ``ct``."""

    shares: tuple[bytes, ...]
    nonce: bytes
    ct: bytes

    def __post_init__(self) -> None:
        shares = tuple(self.shares)
        object.__setattr__(self, "shares", shares)
        if not shares:
            raise InputError("a sealed ballot has at least one share")
        for i, share in enumerate(shares):
            if not isinstance(share, bytes) or len(share) != SHARE_SIZE:
                raise InputError(f"share {i + 1}: expected {SHARE_SIZE} bytes")
        if not isinstance(self.nonce, bytes) or len(self.nonce) != NONCE_SIZE:
            raise InputError(f"nonce: expected {NONCE_SIZE} bytes")
        if not isinstance(self.ct, bytes) or not MIN_CT <= len(self.ct) <= MAX_CT:
            raise InputError(f"ct: expected {MIN_CT} to {MAX_CT} bytes")

    @classmethod
    def _unchecked(cls, shares: tuple[bytes, ...], nonce: bytes, ct: bytes) -> SealedBallot:
        """A sealed ballot from fields whose types and sizes the caller has checked (the
        leaf parser, once per ballot of an audit)."""
        ballot = object.__new__(cls)
        ballot.__dict__.update(shares=shares, nonce=nonce, ct=ct)  # as the frozen __init__
        return ballot

    def to_json(self) -> dict[str, JSONValue]:
        """``{"shares": [b64u, ...], "nonce": b64u, "ct": b64u}``."""
        return {
            "shares": [b64u_encode(s) for s in self.shares],
            "nonce": b64u_encode(self.nonce),
            "ct": b64u_encode(self.ct),
        }

    @classmethod
    def from_json(cls, obj: object, trustee_count: int) -> SealedBallot:
        """Parse a ``ballot`` object strictly; raise :class:`EncodingError` on any deviation.

        Exactly the keys ``shares``, ``nonce`` and ``ct``; ``trustee_count`` shares of
        114 bytes each; a 12-byte nonce; ``ct`` of 16 to 65536 bytes; strict base64url.
        """
        if not isinstance(obj, dict):
            raise EncodingError("ballot: expected an object")
        keys = set(obj)
        if keys != _BALLOT_KEYS:
            missing = sorted(_BALLOT_KEYS - keys)
            extra = sorted(str(k) for k in keys - _BALLOT_KEYS)
            raise EncodingError(
                f"ballot: expected exactly the keys ct, nonce, shares"
                f" (missing {missing}, unexpected {extra})"
            )
        raw_shares = obj["shares"]
        if not isinstance(raw_shares, list):
            raise EncodingError("ballot.shares: expected a list")
        if len(raw_shares) != trustee_count:
            raise EncodingError(
                f"ballot.shares: expected {trustee_count} shares (one per trustee),"
                f" found {len(raw_shares)}"
            )
        shares = tuple(
            b64u_decode(s, length=SHARE_SIZE, what=f"ballot.shares[{i}]")
            for i, s in enumerate(raw_shares)
        )
        nonce = b64u_decode(obj["nonce"], length=NONCE_SIZE, what="ballot.nonce")
        ct = b64u_decode(obj["ct"], what="ballot.ct")
        if not MIN_CT <= len(ct) <= MAX_CT:
            raise EncodingError(f"ballot.ct: expected {MIN_CT} to {MAX_CT} bytes, found {len(ct)}")
        return cls(shares=shares, nonce=nonce, ct=ct)


# --------------------------------------------------------------------------- sealing


def _exact(rng: Callable[[int], bytes], n: int) -> bytes:
    data = rng(n)
    if not isinstance(data, bytes) or len(data) != n:
        raise InputError(f"rng({n}) must return exactly {n} bytes")
    return data


def _randbelow_from(rng: Callable[[int], bytes]) -> Callable[[int], int]:
    """A uniform ``randbelow`` from a byte source, by rejection sampling on bit length."""

    def randbelow(n: int) -> int:
        if n < 1:
            raise InputError("randbelow needs n >= 1")
        bits = n.bit_length()
        size = (bits + 7) // 8
        mask = (1 << bits) - 1
        while True:
            value = int.from_bytes(_exact(rng, size), "big") & mask
            if value < n:
                return value

    return randbelow


def seal(
    plaintext: bytes,
    *,
    round_id: str,
    ward: str,
    trustees: Sequence[TrusteePublic],
    threshold: int,
    rng: Callable[[int], bytes] = os.urandom,
) -> SealedBallot:
    """Seal ``plaintext`` for ``ward`` of round ``round_id`` to ``trustees`` (manifest order).

    ``rng`` supplies, in this order, ``K`` (32 bytes), the nonce (12 bytes) and the Shamir
    coefficients (66-byte draws, rejection-sampled below p); a seeded ``rng`` reproduces
    them. The HPKE ephemeral keys come from cryptography's own random source.
    """
    if not isinstance(plaintext, bytes):
        raise InputError("plaintext must be bytes")
    if len(plaintext) > MAX_PLAINTEXT:
        raise InputError(f"plaintext is {len(plaintext)} bytes, at most {MAX_PLAINTEXT} fit")
    if not trustees:
        raise InputError("a ballot is sealed to at least one trustee")
    if isinstance(threshold, bool) or not 1 <= threshold <= len(trustees):
        raise InputError(f"threshold must be in 1..{len(trustees)}, got {threshold}")
    if len({t.id for t in trustees}) != len(trustees):
        raise InputError("trustee ids must be distinct")
    aad = _ballot_aad(round_id, ward)
    infos = [_share_info(round_id, t.id) for t in trustees]
    keys = [_load_public(t.hpke_key) for t in trustees]

    key = _exact(rng, KEY_SIZE)
    nonce = _exact(rng, NONCE_SIZE)
    ct = AESGCM(key).encrypt(nonce, plaintext, aad)
    values = shamir.split(
        int.from_bytes(key, "big"), threshold, len(trustees), randbelow=_randbelow_from(rng)
    )
    shares = []
    for trustee, public, info, value in zip(trustees, keys, infos, values, strict=True):
        try:
            share = _SUITE.encrypt(shamir.share_to_bytes(value), public, info=info)
        except ValueError as exc:
            raise InputError(f"trustee {trustee.id}: unusable HPKE public key") from exc
        shares.append(share)
    return SealedBallot(shares=tuple(shares), nonce=nonce, ct=ct)


# --------------------------------------------------------------------------- opening

_AAD_CACHE_LIMIT = 4096


class Opener:
    """Opens many sealed ballots of one round with one fixed set of released trustee keys.

    Construction loads the X25519 keys, builds the HPKE ``info`` of each trustee and the
    Lagrange weights that give ``f(0)`` and ``f(x)`` at each extra released index from the
    ``threshold`` lowest indices. :meth:`open` then costs one HPKE open per released
    trustee, a few 521-bit multiplications and one AES-GCM open.
    """

    def __init__(
        self,
        *,
        round_id: str,
        released: Sequence[TrusteeSecret],
        threshold: int,
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise InputError(f"threshold must be an integer >= 1, got {threshold!r}")
        ordered = sorted(released, key=lambda t: t.index)
        if len(ordered) < threshold:
            raise InputError(
                f"opening needs at least {threshold} released trustee keys, got {len(ordered)}"
            )
        indices = [t.index for t in ordered]
        if len(set(indices)) != len(indices):
            raise InputError("released trustee indices must be distinct")
        self.round_id = round_id
        self.threshold = threshold
        self.indices: tuple[int, ...] = tuple(indices)
        self._trustees: list[tuple[int, str, X25519PrivateKey, bytes]] = [
            (t.index - 1, t.id, _load_private(t.private_key), _share_info(round_id, t.id))
            for t in ordered
        ]
        base = indices[:threshold]
        self._weights0 = shamir.lagrange_weights(base, 0)
        self._checks: list[tuple[int, list[int]]] = [
            (k, shamir.lagrange_weights(base, x)) for k, x in enumerate(indices) if k >= threshold
        ]
        self._aads: dict[str, bytes] = {}

    def _aad(self, ward: str) -> bytes:
        aad = self._aads.get(ward)
        if aad is None:
            aad = _ballot_aad(self.round_id, ward)
            if len(self._aads) >= _AAD_CACHE_LIMIT:
                self._aads.clear()
            self._aads[ward] = aad
        return aad

    def open(self, sealed: SealedBallot, *, ward: str) -> bytes:
        """The plaintext of ``sealed`` (cast in ``ward``), or :class:`OpenError` with a reason."""
        # This runs once per ballot in an audit: locals and map() over generators.
        shares = sealed.shares
        if self.indices[-1] > len(shares):
            raise InputError(
                f"released trustee index {self.indices[-1]} but the ballot has {len(shares)} shares"
            )
        aad = self._aads.get(ward) or self._aad(ward)
        prime = shamir.PRIME
        decrypt = _SUITE.decrypt
        ys: list[int] = []
        for pos, tid, key, info in self._trustees:
            try:
                opened = decrypt(shares[pos], key, info=info)
            except (InvalidTag, ValueError) as exc:
                raise OpenError(
                    f"share of trustee {tid} (index {pos + 1}) does not open",
                    code="share_undecryptable",
                ) from exc
            if len(opened) != shamir.SHARE_BYTES:
                raise OpenError(
                    f"share of trustee {tid} (index {pos + 1}) is {len(opened)} bytes, not 66",
                    code="share_undecryptable",
                )
            y = int.from_bytes(opened, "big")
            if y >= prime:
                raise OpenError(
                    f"share of trustee {tid} (index {pos + 1}) is not below 2^521 - 1",
                    code="share_undecryptable",
                )
            ys.append(y)

        # Each weight list has ``threshold`` entries: map() stops there, at the base shares.
        for k, weights in self._checks:
            if sum(map(operator.mul, weights, ys)) % prime != ys[k]:
                raise OpenError(
                    f"share of trustee {self._trustees[k][1]} (index {self.indices[k]})"
                    " does not lie on the polynomial of the lower shares",
                    code="shares_inconsistent",
                )
        secret = sum(map(operator.mul, self._weights0, ys)) % prime
        if secret >= _KEY_LIMIT:
            raise OpenError("the recovered key f(0) is not below 2^256", code="bad_key")
        try:
            return AESGCM(secret.to_bytes(KEY_SIZE, "big")).decrypt(sealed.nonce, sealed.ct, aad)
        except InvalidTag as exc:
            raise OpenError("the ballot ciphertext does not open", code="undecryptable") from exc


def open_sealed(
    sealed: SealedBallot,
    *,
    round_id: str,
    ward: str,
    released: Sequence[TrusteeSecret],
    threshold: int,
) -> bytes:
    """Open one ballot (protocol 7.3); for many ballots build an :class:`Opener` once."""
    return Opener(round_id=round_id, released=released, threshold=threshold).open(sealed, ward=ward)
