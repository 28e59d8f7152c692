"""Voting tokens: RFC 9474 RSA blind signatures over a voter's Ed25519 public key.

A token is ``(msg, sig)`` where ``msg = prefix || voter_public_key`` (32 random bytes and a
32-byte Ed25519 public key, the RFC 9474 ``PrepareRandomize`` output) and ``sig`` is an
RSABSSA-SHA384-PSS-Randomized signature of ``msg`` under the issuer key of one
``(round, ward)``.

The flow::

    request = TokenRequest.create(issuer_public_der, voter_public_key)   # voter
    store(request.to_json())                                             # voter, secret
    blind_sig = issuer.sign_blinded(request.blinded)                     # issuer
    token = request.finalize(blind_sig)                                  # voter
    verify_token(issuer_public_der, token)                               # anyone

The issuer sees only ``request.blinded``, which is uniformly random and independent of
``msg``; only the holder of ``request.inv`` can link the two.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from .encoding import JSONValue, b64u_decode, b64u_encode, sha256
from .errors import EncodingError, InputError
from .hazmat import blind_rsa

__all__ = [
    "MAX_MODULUS_BITS",
    "MAX_SIG_BYTES",
    "MIN_MODULUS_BITS",
    "MIN_SIG_BYTES",
    "PUBLIC_EXPONENT",
    "TOKEN_MSG_LENGTH",
    "IssuerKey",
    "Token",
    "TokenRequest",
    "load_issuer_public_key",
    "verify_token",
]

MIN_MODULUS_BITS = 2048
MAX_MODULUS_BITS = 4096
PUBLIC_EXPONENT = 65537
VOTER_KEY_LENGTH = 32
TOKEN_MSG_LENGTH = blind_rsa.PREFIX_LENGTH + VOTER_KEY_LENGTH
"""64: a 32-byte random prefix and a 32-byte Ed25519 voter public key."""

MIN_SIG_BYTES = MIN_MODULUS_BITS // 8
"""The shortest token signature (a 2048-bit key)."""
MAX_SIG_BYTES = MAX_MODULUS_BITS // 8
"""The longest token signature (a 4096-bit key)."""
_MIN_SIG_BYTES = MIN_SIG_BYTES
_MAX_SIG_BYTES = MAX_SIG_BYTES


def _check_json_object(obj: object, keys: set[str], what: str) -> dict[str, JSONValue]:
    if not isinstance(obj, dict) or set(obj) != keys:
        names = ", ".join(sorted(keys))
        raise EncodingError(f"{what}: expected an object with exactly the keys {names}")
    return obj


def _check_voter_key(voter_public_key: object) -> bytes:
    if not isinstance(voter_public_key, bytes) or len(voter_public_key) != VOTER_KEY_LENGTH:
        raise EncodingError(f"a voter public key is exactly {VOTER_KEY_LENGTH} bytes")
    return voter_public_key


@dataclass(frozen=True)
class Token:
    """A voting token: ``msg`` (64 bytes) and its RSA blind signature ``sig``.

    Construction checks only the shape (``msg`` is 64 bytes, ``sig`` is 256 to 512 bytes);
    :func:`verify_token` checks the signature. Raises :class:`EncodingError`.
    """

    msg: bytes
    sig: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.msg, bytes) or len(self.msg) != TOKEN_MSG_LENGTH:
            raise EncodingError(
                f"token msg: expected {TOKEN_MSG_LENGTH} bytes "
                "(a 32-byte random prefix and a 32-byte Ed25519 public key)"
            )
        if not isinstance(self.sig, bytes) or not _MIN_SIG_BYTES <= len(self.sig) <= _MAX_SIG_BYTES:
            raise EncodingError(
                f"token sig: expected {_MIN_SIG_BYTES} to {_MAX_SIG_BYTES} bytes "
                "(a 2048- to 4096-bit RSA signature)"
            )

    @classmethod
    def _unchecked(cls, msg: bytes, sig: bytes) -> Token:
        """A token from a ``msg`` and ``sig`` whose types and sizes the caller has checked
        (the leaf parser, once per ballot of an audit)."""
        token = object.__new__(cls)
        token.__dict__.update(msg=msg, sig=sig)  # what the frozen __init__ would set
        return token

    @property
    def voter_public_key(self) -> bytes:
        """The voter's 32-byte Ed25519 public key (``msg[32:64]``)."""
        return self.msg[blind_rsa.PREFIX_LENGTH :]

    def to_json(self) -> dict[str, JSONValue]:
        """``{"msg": b64u(msg), "sig": b64u(sig)}``."""
        return {"msg": b64u_encode(self.msg), "sig": b64u_encode(self.sig)}

    @classmethod
    def from_json(cls, obj: object) -> Token:
        """Parse :meth:`to_json`'s form strictly; raises :class:`EncodingError`."""
        data = _check_json_object(obj, {"msg", "sig"}, "token")
        msg = b64u_decode(data["msg"], length=TOKEN_MSG_LENGTH, what="token msg")
        sig = b64u_decode(data["sig"], what="token sig")
        return cls(msg=msg, sig=sig)


@functools.lru_cache(maxsize=256)
def _load_issuer_public_key(der: bytes) -> RSAPublicKey:
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise EncodingError("issuer key: not a DER SubjectPublicKeyInfo") from exc
    if not isinstance(key, RSAPublicKey):
        raise EncodingError("issuer key: not an RSA public key")
    canonical = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if canonical != der:
        raise EncodingError("issuer key: not in canonical DER SubjectPublicKeyInfo form")
    if not MIN_MODULUS_BITS <= key.key_size <= MAX_MODULUS_BITS:
        raise EncodingError(
            f"issuer key: the modulus is {key.key_size} bits, "
            f"expected {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS}"
        )
    if key.public_numbers().e != PUBLIC_EXPONENT:
        raise EncodingError(f"issuer key: the public exponent must be {PUBLIC_EXPONENT}")
    return key


@functools.lru_cache(maxsize=256)
def _issuer_verifier(der: bytes) -> tuple[RSAPublicKey, int, int]:
    """The parsed key, its modulus and its length in bytes (cached: :func:`verify_token`
    runs once per ballot, and reading the modulus out of the key is not free)."""
    key = _load_issuer_public_key(der)
    return key, key.public_numbers().n, blind_rsa.modulus_bytes(key)


def load_issuer_public_key(der: bytes) -> RSAPublicKey:
    """Parse an issuer public key: canonical DER SubjectPublicKeyInfo, RSA, 2048 to 4096
    bits, ``e = 65537``. Raises :class:`EncodingError`. Parsed keys are cached."""
    if not isinstance(der, bytes):
        raise EncodingError("issuer key: expected DER bytes")
    return _load_issuer_public_key(der)


def _public_der(key: RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verify_token(issuer_public_der: bytes, token: Token) -> None:
    """Raise :class:`~anonballot.errors.InvalidToken` unless ``token`` is signed by the
    issuer key ``issuer_public_der``; raise :class:`EncodingError` if that key is unusable."""
    if not isinstance(token, Token):
        raise InputError("verify_token needs a Token")
    if not isinstance(issuer_public_der, bytes):
        raise EncodingError("issuer key: expected DER bytes")
    public_key, n, k = _issuer_verifier(issuer_public_der)
    blind_rsa.verify_with_modulus(public_key, n, k, token.msg, token.sig)


class IssuerKey:
    """The RSA private key that issues the tokens of one ``(round, ward)``.

    Only RSA keys of 2048 to 4096 bits with ``e = 65537`` are accepted
    (:class:`InputError` otherwise).
    """

    __slots__ = ("_private_key", "_public_der", "_signer")

    def __init__(self, private_key: RSAPrivateKey) -> None:
        if not isinstance(private_key, RSAPrivateKey):
            raise InputError("an issuer key is an RSA private key")
        if not MIN_MODULUS_BITS <= private_key.key_size <= MAX_MODULUS_BITS:
            raise InputError(
                f"issuer key: the modulus is {private_key.key_size} bits, "
                f"expected {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS}"
            )
        if private_key.public_key().public_numbers().e != PUBLIC_EXPONENT:
            raise InputError(f"issuer key: the public exponent must be {PUBLIC_EXPONENT}")
        self._private_key = private_key
        self._public_der = _public_der(private_key.public_key())
        self._signer: blind_rsa.BlindSigner | None = None

    def __repr__(self) -> str:
        return f"IssuerKey(key_id={self.key_id!r}, bits={self._private_key.key_size})"

    @classmethod
    def generate(cls, bits: int = 3072) -> IssuerKey:
        """A fresh key of ``bits`` bits (2048 to 4096) with ``e = 65537``."""
        if isinstance(bits, bool) or not isinstance(bits, int):
            raise InputError("bits must be an integer")
        if not MIN_MODULUS_BITS <= bits <= MAX_MODULUS_BITS:
            raise InputError(f"bits must be between {MIN_MODULUS_BITS} and {MAX_MODULUS_BITS}")
        return cls(rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits))

    @classmethod
    def from_pem(cls, data: bytes) -> IssuerKey:
        """Load an unencrypted PEM private key (PKCS#8 or PKCS#1); raises :class:`EncodingError`
        when it cannot be read and :class:`InputError` when it is not a usable issuer key."""
        if not isinstance(data, bytes):
            raise EncodingError("issuer key: expected PEM bytes")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise EncodingError("issuer key: not an unencrypted PEM private key") from exc
        if not isinstance(key, RSAPrivateKey):
            raise EncodingError("issuer key: not an RSA private key")
        return cls(key)

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM. Keep it secret."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_key(self) -> RSAPublicKey:
        return self._private_key.public_key()

    @property
    def public_der(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo (what manifests publish)."""
        return self._public_der

    @property
    def key_id(self) -> str:
        """``b64u(SHA-256(public_der))``."""
        return b64u_encode(sha256(self._public_der))

    @property
    def modulus_bytes(self) -> int:
        """The length of blinded messages, blind signatures and token signatures."""
        return blind_rsa.modulus_bytes(self._private_key.public_key())

    def sign_blinded(self, blinded: bytes) -> bytes:
        """RFC 9474 ``BlindSign`` of a client's blinded message.

        Raises :class:`InputError` when ``blinded`` is not a ``k``-byte value less than ``n``
        and coprime with it. The issuer learns nothing about the token it signs.
        """
        if self._signer is None:
            self._signer = blind_rsa.BlindSigner(self._private_key)
        return self._signer.sign(blinded)

    def sign_token_directly(self, msg: bytes) -> Token:
        """Sign the 64-byte token ``msg`` (``prefix || voter_public_key``) without blinding.

        For benchmarks and simulations only: it bypasses blinding, so the issuer sees
        ``msg`` and can link the token to whoever asked for it. It exists to generate test
        data fast (EMSA-PSS with a random 48-byte salt and an RSA private-key operation,
        through OpenSSL). The result verifies exactly like a blind-issued token.
        """
        if not isinstance(msg, bytes) or len(msg) != TOKEN_MSG_LENGTH:
            raise InputError(f"token msg: expected {TOKEN_MSG_LENGTH} bytes")
        sig = self._private_key.sign(
            msg,
            padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=blind_rsa.SALT_LENGTH),
            hashes.SHA384(),
        )
        return Token(msg=msg, sig=sig)


@dataclass(frozen=True)
class TokenRequest:
    """A voter's pending token request (client side).

    ``blinded`` goes to the issuer; ``prepared`` (the future token ``msg``) and ``inv``
    (the unblinding secret) stay with the voter. Whoever learns ``inv`` can link the
    request to the token, so persist :meth:`to_json` only where the voter's secrets go.
    """

    issuer_public_der: bytes
    prepared: bytes
    inv: bytes = field(repr=False)
    blinded: bytes

    def __post_init__(self) -> None:
        public_key = load_issuer_public_key(self.issuer_public_der)
        k = blind_rsa.modulus_bytes(public_key)
        if not isinstance(self.prepared, bytes) or len(self.prepared) != TOKEN_MSG_LENGTH:
            raise EncodingError(f"token request prepared: expected {TOKEN_MSG_LENGTH} bytes")
        for name in ("inv", "blinded"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != k:
                raise EncodingError(f"token request {name}: expected {k} bytes")

    @classmethod
    def create(cls, issuer_public_der: bytes, voter_public_key: bytes) -> TokenRequest:
        """Prepare ``random prefix || voter_public_key`` and blind it for the issuer key."""
        public_key = load_issuer_public_key(issuer_public_der)
        prepared = blind_rsa.prepare_randomize(_check_voter_key(voter_public_key))
        blinded, inv = blind_rsa.blind(public_key, prepared)
        return cls(issuer_public_der=issuer_public_der, prepared=prepared, inv=inv, blinded=blinded)

    @property
    def voter_public_key(self) -> bytes:
        return self.prepared[blind_rsa.PREFIX_LENGTH :]

    def to_json(self) -> dict[str, JSONValue]:
        """All four fields, base64url. Contains the secret ``inv``."""
        return {
            "issuer_public_der": b64u_encode(self.issuer_public_der),
            "prepared": b64u_encode(self.prepared),
            "inv": b64u_encode(self.inv),
            "blinded": b64u_encode(self.blinded),
        }

    @classmethod
    def from_json(cls, obj: object) -> TokenRequest:
        """Parse :meth:`to_json`'s form strictly; raises :class:`EncodingError`."""
        data = _check_json_object(
            obj, {"issuer_public_der", "prepared", "inv", "blinded"}, "token request"
        )
        return cls(
            issuer_public_der=b64u_decode(data["issuer_public_der"], what="issuer_public_der"),
            prepared=b64u_decode(data["prepared"], length=TOKEN_MSG_LENGTH, what="prepared"),
            inv=b64u_decode(data["inv"], what="inv"),
            blinded=b64u_decode(data["blinded"], what="blinded"),
        )

    def finalize(self, blind_sig: bytes) -> Token:
        """Unblind the issuer's answer and verify it; raises
        :class:`~anonballot.errors.InvalidToken` when it is not a valid signature."""
        public_key = load_issuer_public_key(self.issuer_public_der)
        sig = blind_rsa.finalize(public_key, self.prepared, blind_sig, self.inv)
        return Token(msg=self.prepared, sig=sig)
