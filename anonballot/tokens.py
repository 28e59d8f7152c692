"""Voting tokens: RFC 9474 RSA blind signatures over a voter's Ed25519 public key.

A token is ``(msg, sig)`` where ``msg = prefix || voter_public_key`` (32 random bytes and a
32-byte Ed25519 public key, the RFC 9474 ``PrepareRandomize`` output) and ``sig`` is an
RSABSSA-SHA384-PSS-Randomized signature of ``msg`` under the issuer key of one
``(round, ward)``.

The flow::

    request = TokenRequest.create(manifest.ward(w).issuer_key, voter_key)   # voter
    store(request.to_json())                                                # voter, secret
    blind_sig = issuer.sign_blinded(request.blinded)                        # issuer
    token = request.finalize(blind_sig)                                     # voter
    manifest.ward(w).issuer_key.verify(token)                               # anyone

The issuer sees only ``request.blinded``, which is uniformly random and independent of
``msg``; only the holder of ``request.inv`` can link the two.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import NoReturn

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from .encoding import JSONValue, b64u_decode, b64u_encode, sha256
from .errors import EncodingError, InputError
from .hazmat import blind_rsa
from .signing import VerifyKey

__all__ = [
    "MAX_MODULUS_BITS",
    "MAX_SIG_BYTES",
    "MIN_MODULUS_BITS",
    "MIN_SIG_BYTES",
    "PUBLIC_EXPONENT",
    "TOKEN_MSG_LENGTH",
    "IssuerKey",
    "IssuerPublicKey",
    "Token",
    "TokenRequest",
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


@dataclass(frozen=True)
class Token:
    """A voting token: ``msg`` (64 bytes) and its RSA blind signature ``sig``.

    Construction checks only the shape (``msg`` is 64 bytes, ``sig`` is 256 to 512 bytes);
    :meth:`IssuerPublicKey.verify` checks the signature. Raises :class:`EncodingError`.
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
    def voter_public_key(self) -> VerifyKey:
        """The voter's one-time Ed25519 public key (``msg[32:64]``)."""
        return VerifyKey(self.msg[blind_rsa.PREFIX_LENGTH :])

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


@functools.lru_cache(maxsize=16_384)
def _parse_issuer_der(der: bytes) -> tuple[RSAPublicKey, int, int]:
    """The parsed key, its modulus and its length in bytes. Cached: a manifest is parsed
    once per request or per audit worker, and reading the modulus out of a key is not free.
    The cache holds every key of a national round (10,000 wards): with fewer entries, each
    parse of its manifest would evict the keys the next one needs, and check them all again."""
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise EncodingError("issuer key: not a DER SubjectPublicKeyInfo") from exc
    if not isinstance(key, RSAPublicKey):
        raise EncodingError("issuer key: not an RSA public key")
    if _public_der(key) != der:
        raise EncodingError("issuer key: not in canonical DER SubjectPublicKeyInfo form")
    if not MIN_MODULUS_BITS <= key.key_size <= MAX_MODULUS_BITS:
        raise EncodingError(
            f"issuer key: the modulus is {key.key_size} bits, "
            f"expected {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS}"
        )
    numbers = key.public_numbers()
    if numbers.e != PUBLIC_EXPONENT:
        raise EncodingError(f"issuer key: the public exponent must be {PUBLIC_EXPONENT}")
    return key, numbers.n, blind_rsa.modulus_bytes(key)


def _public_der(key: RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class IssuerPublicKey:
    """The RSA public key that issues the tokens of one ward in one round (protocol sections
    4.1 and 5.2): the manifest's ``issuer_key``, compared and hashed by value, immutable.

    Its bytes are the canonical DER SubjectPublicKeyInfo of an RSA key of 2048 to 4096 bits
    with ``e = 65537``; anything else raises :class:`EncodingError`.
    """

    __slots__ = ("_der", "_k", "_key", "_n")
    _der: bytes
    _key: RSAPublicKey
    _n: int
    _k: int

    def __init__(self, der: bytes) -> None:
        if not isinstance(der, bytes):
            raise EncodingError("issuer key: expected DER bytes")
        key, n, k = _parse_issuer_der(der)
        for name, value in (("_der", der), ("_key", key), ("_n", n), ("_k", k)):
            object.__setattr__(self, name, value)

    @classmethod
    def from_bytes(cls, der: bytes) -> IssuerPublicKey:
        """The key of its DER SubjectPublicKeyInfo; raises :class:`EncodingError`."""
        return cls(der)

    @classmethod
    def from_b64u(cls, text: object, what: str = "issuer key") -> IssuerPublicKey:
        """The key of its base64url DER (the manifest's form); raises :class:`EncodingError`."""
        return cls(b64u_decode(text, what=what))

    @classmethod
    def from_cryptography(cls, key: RSAPublicKey) -> IssuerPublicKey:
        """The key of a pyca/cryptography RSA public key; raises :class:`EncodingError`."""
        if not isinstance(key, RSAPublicKey):
            raise EncodingError("issuer key: not an RSA public key")
        return cls(_public_der(key))

    def to_bytes(self) -> bytes:
        """The DER SubjectPublicKeyInfo, as the manifest publishes it."""
        return self._der

    def to_b64u(self) -> str:
        return b64u_encode(self._der)

    def to_cryptography(self) -> RSAPublicKey:
        """The key as a pyca/cryptography object (for the raw RFC 9474 functions)."""
        return self._key

    @property
    def key_id(self) -> str:
        """``b64u(SHA-256(DER))``."""
        return b64u_encode(sha256(self._der))

    @property
    def bits(self) -> int:
        """The modulus length in bits."""
        return self._key.key_size

    @property
    def modulus_bytes(self) -> int:
        """The length of blinded messages, blind signatures and token signatures."""
        return self._k

    def check_blinded(self, blinded: bytes) -> None:
        """Raise :class:`InputError` (code ``bad_blinded``) unless ``blinded`` could be a
        token request for this key (protocol section 5.2): exactly ``k`` bytes, a value
        below ``n`` and none of 0, 1 and ``n - 1``.

        Those three are what a real blinding ``m * r^e mod n`` is only with negligible
        chance, and their "signatures" are themselves under every key: a request for one is
        a broken or probing client, refused before anything is signed or an invitation
        code is spent.
        """
        if not isinstance(blinded, bytes) or len(blinded) != self._k:
            raise InputError(
                f"blinded: expected {self._k} bytes (the modulus length of the ward's key)",
                code="bad_blinded",
            )
        value = int.from_bytes(blinded, "big")
        if value >= self._n:
            raise InputError("blinded: the value is not below the modulus", code="bad_blinded")
        if value in (0, 1, self._n - 1):
            raise InputError("blinded: 0, 1 and n - 1 are not blinded messages", code="bad_blinded")

    def verify(self, token: Token) -> None:
        """Raise :class:`~anonballot.errors.InvalidToken` unless ``token`` is signed by this
        key (protocol section 5.3)."""
        if not isinstance(token, Token):
            raise InputError("IssuerPublicKey.verify needs a Token")
        blind_rsa.verify_with_modulus(self._key, self._n, self._k, token.msg, token.sig)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IssuerPublicKey):
            return NotImplemented
        return self._der == other._der

    def __hash__(self) -> int:
        return hash((IssuerPublicKey, self._der))

    def __repr__(self) -> str:
        return f"IssuerPublicKey(key_id={self.key_id!r}, bits={self.bits})"

    def __reduce__(self) -> tuple[type[IssuerPublicKey], tuple[bytes]]:
        return IssuerPublicKey, (self._der,)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("an IssuerPublicKey is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("an IssuerPublicKey is immutable")


class IssuerKey:
    """The RSA private key that issues the tokens of one ``(round, ward)``.

    Only RSA keys of 2048 to 4096 bits with ``e = 65537`` are accepted
    (:class:`InputError` otherwise).
    """

    __slots__ = ("_private_key", "_public", "_signer")

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
        self._public = IssuerPublicKey.from_cryptography(private_key.public_key())
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
    def from_pem(cls, data: bytes, *, check: bool = True) -> IssuerKey:
        """Load an unencrypted PEM private key (PKCS#8 or PKCS#1); raises :class:`EncodingError`
        when it cannot be read and :class:`InputError` when it is not a usable issuer key.

        ``check=False`` skips OpenSSL's check of the key's primes (0.1 s a 3072-bit key: 20
        minutes for a national round's 10,000 wards at every start): for a key its owner
        made and stored, whose every blind signature :meth:`sign_blinded` verifies before
        giving it out (a broken key is then a ``SigningFault``, never a wrong signature)."""
        if not isinstance(data, bytes):
            raise EncodingError("issuer key: expected PEM bytes")
        try:
            key = serialization.load_pem_private_key(
                data, password=None, unsafe_skip_rsa_key_validation=not check
            )
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
    def public_key(self) -> IssuerPublicKey:
        """The public key, as the manifest publishes it."""
        return self._public

    @property
    def key_id(self) -> str:
        """``b64u(SHA-256(DER of the public key))``."""
        return self._public.key_id

    @property
    def modulus_bytes(self) -> int:
        """The length of blinded messages, blind signatures and token signatures."""
        return self._public.modulus_bytes

    def sign_blinded(self, blinded: bytes) -> bytes:
        """RFC 9474 ``BlindSign`` of a client's blinded message.

        Raises :class:`InputError` (code ``bad_blinded``) when ``blinded`` is not a
        ``k``-byte value less than ``n`` and coprime with it, or is one of 0, 1 and ``n - 1``
        (:meth:`IssuerPublicKey.check_blinded`). The issuer learns nothing about the token
        it signs.
        """
        self._public.check_blinded(blinded)
        if self._signer is None:
            self._signer = blind_rsa.BlindSigner(self._private_key)
        try:
            return self._signer.sign(blinded)
        except InputError as exc:  # a value sharing a factor with n
            raise InputError(exc.detail, code="bad_blinded") from exc

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

    issuer: IssuerPublicKey
    prepared: bytes
    inv: bytes = field(repr=False)
    blinded: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, IssuerPublicKey):
            raise EncodingError("token request issuer: expected an IssuerPublicKey")
        k = self.issuer.modulus_bytes
        if not isinstance(self.prepared, bytes) or len(self.prepared) != TOKEN_MSG_LENGTH:
            raise EncodingError(f"token request prepared: expected {TOKEN_MSG_LENGTH} bytes")
        for name in ("inv", "blinded"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != k:
                raise EncodingError(f"token request {name}: expected {k} bytes")

    @classmethod
    def create(cls, issuer: IssuerPublicKey, voter_key: VerifyKey) -> TokenRequest:
        """Prepare ``random prefix || voter_key`` and blind it for the issuer key."""
        if not isinstance(issuer, IssuerPublicKey):
            raise EncodingError("token request issuer: expected an IssuerPublicKey")
        if not isinstance(voter_key, VerifyKey):
            raise EncodingError("a voter key is an Ed25519 VerifyKey")
        prepared = blind_rsa.prepare_randomize(voter_key.to_bytes())
        blinded, inv = blind_rsa.blind(issuer.to_cryptography(), prepared)
        return cls(issuer=issuer, prepared=prepared, inv=inv, blinded=blinded)

    @property
    def voter_public_key(self) -> VerifyKey:
        return VerifyKey(self.prepared[blind_rsa.PREFIX_LENGTH :])

    def to_json(self) -> dict[str, JSONValue]:
        """All four fields, base64url. Contains the secret ``inv``."""
        return {
            "issuer_public_der": self.issuer.to_b64u(),
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
            issuer=IssuerPublicKey.from_b64u(data["issuer_public_der"], what="issuer_public_der"),
            prepared=b64u_decode(data["prepared"], length=TOKEN_MSG_LENGTH, what="prepared"),
            inv=b64u_decode(data["inv"], what="inv"),
            blinded=b64u_decode(data["blinded"], what="blinded"),
        )

    def finalize(self, blind_sig: bytes) -> Token:
        """Unblind the issuer's answer and verify it; raises
        :class:`~anonballot.errors.InvalidToken` when it is not a valid signature."""
        sig = blind_rsa.finalize(self.issuer.to_cryptography(), self.prepared, blind_sig, self.inv)
        return Token(msg=self.prepared, sig=sig)
