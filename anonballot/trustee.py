"""Trustee keys and releases (protocol section 7.2).

A trustee holds an X25519 key that ballot shares are sealed to and an Ed25519 key that signs
its release. After close it publishes
``{"release": {"round": mid, "trustee": id, "private_key": b64u(32)}, "signature": ...}``.
A release counts only if the signature verifies and the key derives the manifest's
``hpke_key``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from .encoding import JSONValue, b64u_decode, b64u_encode, check_id
from .errors import EncodingError, InputError, InvalidSignature
from .manifest import Manifest, Trustee
from .sealing import TrusteeSecret, generate_trustee_keypair, x25519_public_from_private
from .signing import SigningKey, sign_object, verify_object

__all__ = ["TrusteeKey", "verify_release"]


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


def verify_release(obj: object, manifest: Manifest, mid: str | None = None) -> TrusteeSecret:
    """Check one release against the manifest and return the trustee's secret."""
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
