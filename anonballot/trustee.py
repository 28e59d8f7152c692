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
from typing import NoReturn, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ._shape import Label, obj, wrap
from .encoding import JSONValue, b64u_decode, b64u_encode, check_id, check_label
from .errors import EncodingError, InputError, InvalidSignature, ManifestError
from .signing import SigningKey, VerifyKey, sign_object, verify_object

__all__ = [
    "HpkePrivateKey",
    "HpkePublicKey",
    "RoundTrustees",
    "Trustee",
    "TrusteeKey",
    "TrusteePublic",
    "TrusteeSecret",
    "verify_release",
]

KEY_LENGTH = 32


class HpkePublicKey:
    """A trustee's X25519 public key (protocol sections 4.1 and 6.2), the manifest's
    ``hpke_key`` that ballot shares are sealed to: 32 bytes, compared and hashed by value,
    immutable. Any 32 bytes are accepted, as RFC 7748 decodes them; a low-order point makes
    sealing fail (``DeriveKeyPairError``), which is how the protocol treats it."""

    __slots__ = ("_key",)
    _key: bytes

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_LENGTH:
            raise EncodingError(f"an X25519 public key is exactly {KEY_LENGTH} bytes")
        object.__setattr__(self, "_key", key)

    @classmethod
    def from_bytes(cls, data: bytes) -> HpkePublicKey:
        """The key of its 32 raw bytes; raises :class:`EncodingError`."""
        return cls(data)

    @classmethod
    def from_b64u(cls, text: object, what: str = "hpke_key") -> HpkePublicKey:
        """The key of its base64url text (the manifest's form); raises :class:`EncodingError`."""
        return cls(b64u_decode(text, length=KEY_LENGTH, what=what))

    def to_bytes(self) -> bytes:
        return self._key

    def to_b64u(self) -> str:
        return b64u_encode(self._key)

    def to_cryptography(self) -> X25519PublicKey:
        """The key as a pyca/cryptography object (what the HPKE suite seals to)."""
        return X25519PublicKey.from_public_bytes(self._key)

    def __bytes__(self) -> bytes:
        return self._key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HpkePublicKey):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash((HpkePublicKey, self._key))

    def __repr__(self) -> str:
        return f"HpkePublicKey({self.to_b64u()!r})"

    def __reduce__(self) -> tuple[type[HpkePublicKey], tuple[bytes]]:
        return HpkePublicKey, (self._key,)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("an HpkePublicKey is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("an HpkePublicKey is immutable")


class HpkePrivateKey:
    """A trustee's X25519 private key (protocol sections 6.2 and 7.2): what a release
    publishes after close. Immutable; its repr shows only the public key."""

    __slots__ = ("_key",)
    _key: bytes

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_LENGTH:
            raise EncodingError(f"an X25519 private key is exactly {KEY_LENGTH} bytes")
        object.__setattr__(self, "_key", key)

    @classmethod
    def generate(cls) -> HpkePrivateKey:
        return cls(X25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_bytes(cls, data: bytes) -> HpkePrivateKey:
        """The key of its 32 raw bytes; raises :class:`EncodingError`."""
        return cls(data)

    def to_bytes(self) -> bytes:
        """The 32 raw bytes. Secret until the trustee releases them."""
        return self._key

    def to_cryptography(self) -> X25519PrivateKey:
        """The key as a pyca/cryptography object (what the HPKE suite opens with)."""
        return X25519PrivateKey.from_private_bytes(self._key)

    @property
    def public_key(self) -> HpkePublicKey:
        """The X25519 public key this key derives (RFC 7748)."""
        return HpkePublicKey(self.to_cryptography().public_key().public_bytes_raw())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HpkePrivateKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash((HpkePrivateKey, self.public_key.to_bytes()))

    def __repr__(self) -> str:
        return f"HpkePrivateKey(public_key={self.public_key!r})"

    def __reduce__(self) -> tuple[type[HpkePrivateKey], tuple[bytes]]:
        return HpkePrivateKey, (self._key,)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("an HpkePrivateKey is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("an HpkePrivateKey is immutable")


@dataclass(frozen=True)
class TrusteePublic:
    """A trustee as the manifest lists it: identifier and X25519 HPKE public key."""

    id: str
    hpke_key: HpkePublicKey

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InputError("a trustee id is a non-empty string")
        if not isinstance(self.hpke_key, HpkePublicKey):
            raise InputError(f"trustee {self.id}: hpke_key is an HpkePublicKey")


@dataclass(frozen=True)
class TrusteeSecret:
    """A released trustee key: 1-based manifest position, identifier, X25519 private key."""

    index: int
    id: str
    private_key: HpkePrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 1:
            raise InputError("a trustee index is an integer >= 1 (manifest position)")
        if not isinstance(self.id, str) or not self.id:
            raise InputError("a trustee id is a non-empty string")
        if not isinstance(self.private_key, HpkePrivateKey):
            raise InputError(f"trustee {self.id}: private_key is an HpkePrivateKey")


@dataclass(frozen=True)
class Trustee:
    """A trustee as the manifest lists it (protocol section 4.1): id, name, public keys."""

    id: str
    name: Label
    hpke_key: HpkePublicKey
    """The X25519 key that shares are sealed to."""
    signing_key: VerifyKey
    """The Ed25519 key that signs the trustee's release."""

    def __post_init__(self) -> None:
        if not isinstance(self.hpke_key, HpkePublicKey):
            raise ManifestError(f"trustee {self.id}: hpke_key is an HpkePublicKey")
        if not isinstance(self.signing_key, VerifyKey):
            raise ManifestError(f"trustee {self.id}: signing_key is a VerifyKey")

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "name": dict(self.name),
            "hpke_key": self.hpke_key.to_b64u(),
            "signing_key": self.signing_key.to_b64u(),
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
            wrap(HpkePublicKey.from_b64u, o["hpke_key"], f"{what}.hpke_key"),
            wrap(VerifyKey.from_b64u, o["signing_key"], f"{what}.signing_key"),
        )


@dataclass(frozen=True)
class TrusteeKey:
    """A trustee's private keys for one round."""

    id: str
    hpke_private: HpkePrivateKey = field(repr=False)
    signing: SigningKey = field(repr=False)

    def __post_init__(self) -> None:
        check_id(self.id, "trustee id")
        if not isinstance(self.hpke_private, HpkePrivateKey):
            raise EncodingError("hpke_private is an HpkePrivateKey")
        if not isinstance(self.signing, SigningKey):
            raise EncodingError("signing is a SigningKey")

    @classmethod
    def generate(cls, trustee_id: str) -> TrusteeKey:
        return cls(trustee_id, HpkePrivateKey.generate(), SigningKey.generate())

    @property
    def hpke_public(self) -> HpkePublicKey:
        return self.hpke_private.public_key

    def public(self, name: dict[str, str]) -> Trustee:
        """The manifest entry for this trustee."""
        return Trustee(self.id, name, self.hpke_public, self.signing.public_key)

    def release(self, mid: str) -> dict[str, JSONValue]:
        """The signed release of this trustee's key for round ``mid``."""
        private = b64u_encode(self.hpke_private.to_bytes())
        value: dict[str, JSONValue] = {"round": mid, "trustee": self.id, "private_key": private}
        return sign_object("release", value, self.signing)

    def to_json(self) -> dict[str, JSONValue]:
        """The private key file's content (unencrypted; the CLI encrypts it)."""
        return {
            "id": self.id,
            "hpke_private": b64u_encode(self.hpke_private.to_bytes()),
            "signing_seed": b64u_encode(self.signing.seed),
        }

    @classmethod
    def from_json(cls, value: object) -> TrusteeKey:
        if not isinstance(value, dict) or set(value) != {"id", "hpke_private", "signing_seed"}:
            raise EncodingError("a trustee key has exactly id, hpke_private and signing_seed")
        return cls(
            check_id(value["id"], "trustee id"),
            HpkePrivateKey(b64u_decode(value["hpke_private"], length=32, what="hpke_private")),
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
    private = HpkePrivateKey(b64u_decode(value["private_key"], length=32, what="private_key"))
    if not hmac.compare_digest(private.public_key.to_bytes(), trustee.hpke_key.to_bytes()):
        raise InvalidSignature(
            f"trustee {trustee.id}: the released key does not derive the manifest's hpke_key",
            code="bad_release_key",
        )
    return TrusteeSecret(index=index, id=trustee.id, private_key=private)
