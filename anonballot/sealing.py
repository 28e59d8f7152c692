"""Sealing a ballot: k-of-n threshold encryption to the round's trustees (protocol 6.2).

Draw a 32-byte key ``K`` and a 12-byte nonce; encrypt the plaintext with AES-256-GCM under
``aad = JCS({"round": mid, "ward": ward})``; split ``int(K)`` with Shamir over
GF(2^521 - 1); seal share ``f(i)`` (66 bytes) to trustee ``i`` with HPKE base mode,
DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, single shot, ``info =
JCS({"round": mid, "trustee": id_i})``, empty aad. Each stored share is ``enc || ct``, 114
bytes. Opening a sealed ballot (section 7.3) is :mod:`anonballot.opening`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .encoding import JSONValue, b64u_decode, b64u_encode, jcs
from .errors import EncodingError, InputError
from .hazmat import shamir
from .trustee import TrusteePublic

__all__ = [
    "HPKE_SUITE",
    "KEY_SIZE",
    "MAX_CT",
    "MAX_PLAINTEXT",
    "MIN_CT",
    "NONCE_SIZE",
    "SHARE_SIZE",
    "SealedBallot",
    "ballot_aad",
    "seal",
    "share_info",
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

HPKE_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
"""The HPKE suite that seals each share (protocol section 6.2)."""
_BALLOT_KEYS = frozenset({"shares", "nonce", "ct"})


def ballot_aad(round_id: str, ward: str) -> bytes:
    """The AES-GCM associated data of a ballot: ``JCS({"round": mid, "ward": ward})``."""
    return jcs({"round": round_id, "ward": ward})


def share_info(round_id: str, trustee_id: str) -> bytes:
    """The HPKE ``info`` of a trustee's share: ``JCS({"round": mid, "trustee": id})``."""
    return jcs({"round": round_id, "trustee": trustee_id})


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
    aad = ballot_aad(round_id, ward)
    infos = [share_info(round_id, t.id) for t in trustees]
    keys = [t.hpke_key.to_cryptography() for t in trustees]

    key = _exact(rng, KEY_SIZE)
    nonce = _exact(rng, NONCE_SIZE)
    ct = AESGCM(key).encrypt(nonce, plaintext, aad)
    values = shamir.split(
        int.from_bytes(key, "big"), threshold, len(trustees), randbelow=_randbelow_from(rng)
    )
    shares = []
    for trustee, public, info, value in zip(trustees, keys, infos, values, strict=True):
        try:
            share = HPKE_SUITE.encrypt(shamir.share_to_bytes(value), public, info=info)
        except ValueError as exc:
            raise InputError(f"trustee {trustee.id}: unusable HPKE public key") from exc
        shares.append(share)
    return SealedBallot(shares=tuple(shares), nonce=nonce, ct=ct)
