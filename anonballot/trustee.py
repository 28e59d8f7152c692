"""Trustees (protocol sections 4.1 and 7.2): their manifest entry, keys and releases.

A trustee holds an X25519 key that ballot shares are sealed to and an Ed25519 key that signs
its release. The manifest lists each one as a :class:`Trustee` (its public keys); sealing
needs only :class:`TrusteePublic`; the trustee keeps its :class:`TrusteeKey`. After close it
publishes
``{"release": {"round": mid, "trustee": id, "private_key": b64u(32)}, "signature": ...}``.
A release counts only if the signature verifies and the key derives the manifest's
``hpke_key`` (:func:`verify_release`); a counted release is a :class:`TrusteeSecret`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ._shape import Label, b64, obj, wrap
from .encoding import JSONValue, b64u_decode, b64u_encode, check_id, check_label
from .errors import EncodingError, InputError, InvalidSignature, ManifestError
from .signing import SigningKey, sign_object, verify_object

__all__ = [
    "RoundTrustees",
    "Trustee",
    "TrusteeKey",
    "TrusteePublic",
    "TrusteeSecret",
    "generate_trustee_keypair",
    "verify_release",
    "x25519_private_key",
    "x25519_public_from_private",
    "x25519_public_key",
]


def generate_trustee_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair for a trustee: ``(private, public)``, 32 raw bytes each."""
    key = X25519PrivateKey.generate()
    return key.private_bytes_raw(), key.public_key().public_bytes_raw()


def x25519_public_from_private(private: bytes) -> bytes:
    """The raw 32-byte X25519 public key of a raw 32-byte private key."""
    return x25519_private_key(private).public_key().public_bytes_raw()


def x25519_private_key(private: bytes) -> X25519PrivateKey:
    """A raw 32-byte X25519 private key as a key object (:class:`InputError` otherwise)."""
    if not isinstance(private, bytes) or len(private) != 32:
        raise InputError("an X25519 private key is exactly 32 bytes")
    return X25519PrivateKey.from_private_bytes(private)


def x25519_public_key(public: bytes) -> X25519PublicKey:
    """A raw 32-byte X25519 public key as a key object (:class:`InputError` otherwise)."""
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


@dataclass(frozen=True)
class Trustee:
    """A trustee as the manifest lists it (protocol section 4.1): id, name, public keys."""

    id: str
    name: Label
    hpke_key: bytes
    """X25519 public key (32 bytes) that shares are sealed to."""
    signing_key: bytes
    """Ed25519 public key (32 bytes) that signs the trustee's release."""

    def __post_init__(self) -> None:
        if len(self.hpke_key) != 32 or len(self.signing_key) != 32:
            raise ManifestError(f"trustee {self.id}: keys are 32 bytes each")

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "name": dict(self.name),
            "hpke_key": b64u_encode(self.hpke_key),
            "signing_key": b64u_encode(self.signing_key),
        }

    @property
    def public(self) -> TrusteePublic:
        """What sealing needs of this trustee: its id and X25519 key."""
        return TrusteePublic(self.id, self.hpke_key)

    @classmethod
    def from_json(cls, value: object, what: str = "trustee") -> Trustee:
        o = obj(value, {"id", "name", "hpke_key", "signing_key"}, what)
        return cls(
            wrap(check_id, o["id"], f"{what}.id"),
            wrap(check_label, o["name"], f"{what}.name"),
            b64(o["hpke_key"], f"{what}.hpke_key", 32),
            b64(o["signing_key"], f"{what}.signing_key", 32),
        )


@dataclass(frozen=True)
class TrusteeKey:
    """A trustee's private keys for one round."""

    id: str
    hpke_private: bytes = field(repr=False)
    signing: SigningKey = field(repr=False)

    def __post_init__(self) -> None:
        check_id(self.id, "trustee id")
        if len(self.hpke_private) != 32:
            raise EncodingError("an X25519 private key is 32 bytes")

    @classmethod
    def generate(cls, trustee_id: str) -> TrusteeKey:
        private, _ = generate_trustee_keypair()
        return cls(trustee_id, private, SigningKey.generate())

    @property
    def hpke_public(self) -> bytes:
        return x25519_public_from_private(self.hpke_private)

    def public(self, name: dict[str, str]) -> Trustee:
        """The manifest entry for this trustee."""
        return Trustee(self.id, name, self.hpke_public, self.signing.public_key)

    def release(self, mid: str) -> dict[str, JSONValue]:
        """The signed release of this trustee's key for round ``mid``."""
        value = {"round": mid, "trustee": self.id, "private_key": b64u_encode(self.hpke_private)}
        return sign_object("release", value, self.signing)

    def to_json(self) -> dict[str, JSONValue]:
        """The private key file's content (unencrypted; the CLI encrypts it)."""
        return {
            "id": self.id,
            "hpke_private": b64u_encode(self.hpke_private),
            "signing_seed": b64u_encode(self.signing.seed),
        }

    @classmethod
    def from_json(cls, value: object) -> TrusteeKey:
        if not isinstance(value, dict) or set(value) != {"id", "hpke_private", "signing_seed"}:
            raise EncodingError("a trustee key has exactly id, hpke_private and signing_seed")
        return cls(
            check_id(value["id"], "trustee id"),
            b64u_decode(value["hpke_private"], length=32, what="hpke_private"),
            SigningKey(b64u_decode(value["signing_seed"], length=32, what="signing_seed")),
        )


class RoundTrustees(Protocol):
    """What :func:`verify_release` needs of a manifest (a :class:`~anonballot.manifest.Manifest`
    is one); a protocol, because the manifest module imports this one."""

    @property
    def mid(self) -> str: ...

    @property
    def trustees(self) -> tuple[Trustee, ...]: ...

    def trustee_index(self, trustee_id: str) -> int: ...


def verify_release(obj: object, manifest: RoundTrustees, mid: str | None = None) -> TrusteeSecret:
    """Check one release against the manifest (protocol section 7.2); the trustee's secret.

    ``manifest`` is the round's :class:`~anonballot.manifest.Manifest`.
    """
    mid = mid or manifest.mid
    if not isinstance(obj, dict) or not isinstance(obj.get("release"), dict):
        raise EncodingError('expected {"release": ..., "signature": ...}', code="bad_release")
    value = obj["release"]
    if set(value) != {"round", "trustee", "private_key"}:
        raise EncodingError(
            "a release has exactly round, trustee and private_key", code="bad_release"
        )
    if value["round"] != mid:
        raise InputError("the release is for another round", code="wrong_round")
    index = manifest.trustee_index(value["trustee"])
    trustee = manifest.trustees[index - 1]
    verify_object(obj, "release", trustee.signing_key)
    private = b64u_decode(value["private_key"], length=32, what="private_key")
    if not hmac.compare_digest(x25519_public_from_private(private), trustee.hpke_key):
        raise InvalidSignature(
            f"trustee {trustee.id}: the released key does not derive the manifest's hpke_key",
            code="bad_release_key",
        )
    return TrusteeSecret(index=index, id=trustee.id, private_key=private)
