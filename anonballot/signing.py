"""Ed25519 keys (through PyNaCl) and the protocol's signed objects.

A signed object is ``{"<kind>": VALUE, "signature": b64u(Ed25519(key, JCS(VALUE)))}``
(protocol section 2.4). The manifest, the close statement, releases and results are signed
objects. A public key is a :class:`VerifyKey`: the organizer's and the log's keys, a
trustee's signing key and a voter's one-time key (protocol sections 4.1 and 5.2).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NoReturn

import nacl.bindings
import nacl.exceptions
import nacl.signing

from .encoding import JSONValue, b64u_decode, b64u_encode, jcs
from .errors import EncodingError, InvalidSignature

__all__ = ["SigningKey", "VerifyKey", "sign_object", "verify_object"]

KEY_LENGTH = 32
SIGNATURE_LENGTH = 64

_GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
"""L, the order of Ed25519's prime-order subgroup: a signature's S is below it."""


class VerifyKey:
    """An Ed25519 public key: 32 bytes, compared and hashed by value, immutable.

    Construction checks only the length (as PyNaCl's ``VerifyKey`` does): a point that is
    not on the curve makes every signature fail, which is how the protocol treats it.
    """

    __slots__ = ("_key",)
    _key: bytes

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_LENGTH:
            raise EncodingError(f"an Ed25519 public key is exactly {KEY_LENGTH} bytes")
        object.__setattr__(self, "_key", key)

    @classmethod
    def from_bytes(cls, data: bytes) -> VerifyKey:
        """The key of its 32 raw bytes; raises :class:`EncodingError`."""
        return cls(data)

    @classmethod
    def from_b64u(cls, text: object, what: str = "Ed25519 public key") -> VerifyKey:
        """The key of its base64url text (the manifest's form); raises :class:`EncodingError`."""
        return cls(b64u_decode(text, length=KEY_LENGTH, what=what))

    def to_bytes(self) -> bytes:
        """The 32 raw bytes."""
        return self._key

    def to_b64u(self) -> str:
        """The base64url text, as manifests and releases carry it."""
        return b64u_encode(self._key)

    def __bytes__(self) -> bytes:
        return self._key

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise :class:`InvalidSignature` unless ``signature`` is valid for ``message``."""
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LENGTH:
            raise InvalidSignature(f"an Ed25519 signature is {SIGNATURE_LENGTH} bytes")
        try:
            nacl.signing.VerifyKey(self._key).verify(message, signature)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError) as exc:
            raise InvalidSignature("Ed25519 signature does not verify") from exc

    def verify_chunks(self, chunks: Iterable[bytes], signature: bytes) -> bool:
        """True when ``signature`` is valid for the concatenation of ``chunks``, hashed as
        they come: a message of any size verified in constant memory.

        Ed25519 hashes the message after the signature's ``R`` and the key
        (``k = SHA-512(R || A || M)``), so the equation ``[S]B = R + [k]A`` is checked here
        with libsodium's group operations. This accepts only what :meth:`verify`
        accepts: it also requires ``R`` and the key to be canonical points of the
        prime-order subgroup, which every honest signature and key are. False says the
        signature does not verify, or that this check cannot tell: then call :meth:`verify`
        on the whole message.
        """
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LENGTH:
            return False
        r, s = signature[:32], signature[32:]
        if int.from_bytes(s, "little") >= _GROUP_ORDER:
            return False
        try:
            if not (
                nacl.bindings.crypto_core_ed25519_is_valid_point(r)
                and nacl.bindings.crypto_core_ed25519_is_valid_point(self._key)
            ):
                return False
            h = hashlib.sha512(r + self._key)
            for chunk in chunks:
                h.update(chunk)
            k = nacl.bindings.crypto_core_ed25519_scalar_reduce(h.digest())
            sb = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(s)
            ka = nacl.bindings.crypto_scalarmult_ed25519_noclamp(k, self._key)
            return hmac.compare_digest(nacl.bindings.crypto_core_ed25519_add(r, ka), sb)
        except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError, ValueError, TypeError):
            return False  # e.g. k or S zero, where libsodium's scalar multiplication refuses

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyKey):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash((VerifyKey, self._key))

    def __repr__(self) -> str:
        return f"VerifyKey({self.to_b64u()!r})"

    def __reduce__(self) -> tuple[type[VerifyKey], tuple[bytes]]:
        return VerifyKey, (self._key,)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("a VerifyKey is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("a VerifyKey is immutable")


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 signing key, held as its 32-byte seed."""

    seed: bytes = field(repr=False)
    _key: nacl.signing.SigningKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, bytes) or len(self.seed) != KEY_LENGTH:
            raise EncodingError(f"an Ed25519 seed is exactly {KEY_LENGTH} bytes")
        object.__setattr__(self, "_key", nacl.signing.SigningKey(self.seed))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def public_key(self) -> VerifyKey:
        """The Ed25519 public key."""
        return VerifyKey(bytes(self._key.verify_key))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return bytes(self._key.sign(message).signature)


def sign_object(kind: str, value: JSONValue, key: SigningKey) -> dict[str, JSONValue]:
    """Wrap ``value`` as the signed object ``{kind: value, "signature": ...}``."""
    return {kind: value, "signature": b64u_encode(key.sign(jcs(value)))}


def verify_object(
    obj: object, kind: str, key: VerifyKey, *, canonical: bytes | None = None
) -> JSONValue:
    """Check a signed object's shape and signature under ``key`` and return its value.

    ``canonical``: the JCS bytes of ``obj[kind]`` when the caller has them already (the
    manifest's parser, which canonicalizes ``M`` once for its checks, its signature and its
    ``mid``: 11 MB for a national round)."""
    if not isinstance(obj, dict) or set(obj) != {kind, "signature"}:
        raise EncodingError(f'expected a signed object {{"{kind}": ..., "signature": ...}}')
    signature = b64u_decode(obj["signature"], length=SIGNATURE_LENGTH, what="signature")
    try:
        key.verify(jcs(obj[kind]) if canonical is None else canonical, signature)
    except InvalidSignature as exc:
        raise InvalidSignature(f"the {kind} signature does not verify") from exc
    value: JSONValue = obj[kind]
    return value
