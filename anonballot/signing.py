"""Ed25519 keys (through PyNaCl) and the protocol's signed objects.

A signed object is ``{"<kind>": VALUE, "signature": b64u(Ed25519(key, JCS(VALUE)))}``
(protocol section 2). The manifest, the close statement, releases and results are signed
objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nacl.exceptions
import nacl.signing

from .encoding import JSONValue, b64u_decode, b64u_encode, jcs
from .errors import EncodingError, InvalidSignature

__all__ = ["SigningKey", "sign_object", "verify_ed25519", "verify_object"]


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 signing key, held as its 32-byte seed."""

    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, bytes) or len(self.seed) != 32:
            raise EncodingError("an Ed25519 seed is exactly 32 bytes")
        object.__setattr__(self, "_key", nacl.signing.SigningKey(self.seed))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        key: Any = object.__getattribute__(self, "_key")
        return bytes(key.verify_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        key: Any = object.__getattribute__(self, "_key")
        return bytes(key.sign(message).signature)


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`InvalidSignature` unless ``signature`` is valid for ``message``."""
    if len(public_key) != 32 or len(signature) != 64:
        raise InvalidSignature("Ed25519 keys are 32 bytes and signatures 64 bytes")
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError) as exc:
        raise InvalidSignature("Ed25519 signature does not verify") from exc


def sign_object(kind: str, value: JSONValue, key: SigningKey) -> dict[str, JSONValue]:
    """Wrap ``value`` as the signed object ``{kind: value, "signature": ...}``."""
    return {kind: value, "signature": b64u_encode(key.sign(jcs(value)))}


def verify_object(obj: object, kind: str, public_key: bytes) -> Any:
    """Check a signed object's shape and signature and return its value."""
    if not isinstance(obj, dict) or set(obj) != {kind, "signature"}:
        raise EncodingError(f'expected a signed object {{"{kind}": ..., "signature": ...}}')
    signature = b64u_decode(obj["signature"], length=64, what="signature")
    try:
        verify_ed25519(public_key, jcs(obj[kind]), signature)
    except InvalidSignature as exc:
        raise InvalidSignature(f"the {kind} signature does not verify") from exc
    return obj[kind]
