"""Hazmat: RSA blind signatures, RFC 9474 RSABSSA-SHA384-PSS-Randomized.

This module is the raw math of RFC 9474 (SHA-384, MGF1-SHA-384, a 48-byte salt, the
``PrepareRandomize`` message preparation). It is easy to misuse: a caller that reuses a
blinding factor, skips :func:`finalize`'s verification or mixes up ``prepared`` and the
original message loses either unlinkability or unforgeability. Code outside the library
should use :mod:`anonballot.tokens` instead.

Conventions. Every byte string that holds a number is big-endian and exactly the modulus
length ``k = ceil(bits(n) / 8)`` bytes long. Every check raises an
:class:`~anonballot.errors.AnonBallotError`: :class:`~anonballot.errors.InputError` for
unusable input, :class:`~anonballot.errors.InvalidToken` for a signature that does not
verify, :class:`~anonballot.errors.VerificationError` for a signing fault.

Side channels. The signer's exponentiation runs on Python integers or, when gmpy2 is
installed, on GMP integers through ``gmpy2.powmod_sec`` (GMP's ``mpz_powm_sec``, whose memory
access pattern and timing do not depend on the exponent). The rest of the arithmetic
(Garner recombination, reductions, the client's blinding) uses ordinary big-integer
operations whose timing may depend on the values; the pure-Python fallback is not constant
time at all. Deployments that care about local timing attackers against the issuer should
keep gmpy2 installed and run the issuer on a machine that does not host untrusted code.
Verification uses OpenSSL through ``cryptography`` and handles only public values.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import os
import secrets
import types
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from ..errors import InputError, InvalidToken, SigningFault

__all__ = [
    "HASH_LENGTH",
    "PREFIX_LENGTH",
    "SALT_LENGTH",
    "BlindSigner",
    "blind",
    "emsa_pss_encode",
    "finalize",
    "mgf1_sha384",
    "modulus_bytes",
    "prepare_randomize",
    "verify",
    "verify_with_modulus",
]

# gmpy2 has no type information: its functions are reached through the module object.
_gmpy2: types.ModuleType
try:
    _gmpy2 = importlib.import_module("gmpy2")
    _HAVE_GMPY2 = True
except ImportError:  # pragma: no cover - gmpy2 is a declared dependency
    _gmpy2 = types.ModuleType("gmpy2")  # empty: never used, as _HAVE_GMPY2 is False
    _HAVE_GMPY2 = False

SALT_LENGTH = 48
"""The PSS salt length in bytes (``sLen`` of RSABSSA-SHA384-PSS-*)."""

HASH_LENGTH = 48
"""The SHA-384 digest length in bytes (``hLen``)."""

PREFIX_LENGTH = 32
"""The length of the random message prefix of ``PrepareRandomize``."""


# The salt length is exactly 48: never PSS.AUTO or MAX_LENGTH, which would accept
# signatures made with another salt length. Both objects are immutable parameters, built once.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_LENGTH)
_SHA384 = hashes.SHA384()


def _pss_padding() -> padding.PSS:
    return _PSS


def _i2osp(value: int, length: int) -> bytes:
    return int(value).to_bytes(length, "big")


def _os2ip(data: bytes) -> int:
    return int.from_bytes(data, "big")


def modulus_bytes(public_key: RSAPublicKey) -> int:
    """The modulus length ``k`` in bytes: every number this module handles is ``k`` bytes."""
    return (public_key.key_size + 7) // 8


def _check_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise InputError(f"{what}: expected bytes, found {type(value).__name__}")
    return value


def prepare_randomize(msg: bytes, *, prefix: bytes | None = None) -> bytes:
    """RFC 9474 ``PrepareRandomize``: ``prefix || msg`` with a fresh 32-byte random prefix.

    ``prefix`` is for test vectors only; it must be exactly 32 bytes.
    """
    _check_bytes(msg, "message")
    if prefix is None:
        prefix = os.urandom(PREFIX_LENGTH)
    elif not isinstance(prefix, bytes) or len(prefix) != PREFIX_LENGTH:
        raise InputError(f"the message prefix is exactly {PREFIX_LENGTH} bytes")
    return prefix + msg


def mgf1_sha384(seed: bytes, length: int) -> bytes:
    """MGF1 with SHA-384 (RFC 8017 appendix B.2.1): ``length`` bytes of mask from ``seed``."""
    if length < 0 or length > (1 << 32) * HASH_LENGTH:
        raise InputError("MGF1: mask too long")
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha384(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:length])


def emsa_pss_encode(msg: bytes, em_bits: int, salt: bytes) -> bytes:
    """EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) with SHA-384 and MGF1-SHA-384.

    ``em_bits`` is ``bits(n) - 1``; the result is ``ceil(em_bits / 8)`` bytes. The salt
    length is ``len(salt)`` (RFC 9474 uses :data:`SALT_LENGTH`). Raises
    :class:`InputError` ("encoding error") when ``em_bits`` is too small for the salt.
    """
    _check_bytes(msg, "message")
    _check_bytes(salt, "salt")
    if isinstance(em_bits, bool) or not isinstance(em_bits, int) or em_bits < 1:
        raise InputError("em_bits must be a positive integer")
    em_len = (em_bits + 7) // 8
    s_len = len(salt)
    if em_len < HASH_LENGTH + s_len + 2:
        raise InputError("encoding error: the modulus is too small for EMSA-PSS with this salt")
    m_hash = hashlib.sha384(msg).digest()
    h = hashlib.sha384(b"\x00" * 8 + m_hash + salt).digest()
    db = b"\x00" * (em_len - s_len - HASH_LENGTH - 2) + b"\x01" + salt
    db_mask = mgf1_sha384(h, em_len - HASH_LENGTH - 1)
    masked_db = bytearray(a ^ b for a, b in zip(db, db_mask, strict=True))
    masked_db[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked_db) + h + b"\xbc"


def _random_blind(n: int) -> int:
    while True:
        r = secrets.randbelow(n - 1) + 1  # uniform in [1, n)
        if math.gcd(r, n) == 1:
            return r


def blind(
    public_key: RSAPublicKey,
    prepared: bytes,
    *,
    salt: bytes | None = None,
    r: int | None = None,
) -> tuple[bytes, bytes]:
    """RFC 9474 ``Blind`` (section 4.2): return ``(blinded_msg, inv)``.

    ``prepared`` is the output of :func:`prepare_randomize`. ``inv = r^-1 mod n`` is the
    client's secret: it unblinds the signature and links ``blinded_msg`` to ``prepared``.
    ``salt`` (48 bytes) and ``r`` (in ``[1, n)``, coprime with ``n``) are for test vectors
    only; by default both are fresh and random. Raises :class:`InputError` when the encoded
    message is not coprime with ``n`` ("invalid input") or ``r`` is not invertible.
    """
    _check_bytes(prepared, "prepared message")
    n, k = _load_public_numbers(public_key)
    e = public_key.public_numbers().e
    if salt is None:
        salt = os.urandom(SALT_LENGTH)
    elif not isinstance(salt, bytes) or len(salt) != SALT_LENGTH:
        raise InputError(f"the PSS salt is exactly {SALT_LENGTH} bytes")
    encoded = emsa_pss_encode(prepared, n.bit_length() - 1, salt)
    m = _os2ip(encoded)
    if math.gcd(m, n) != 1:
        raise InputError("invalid input: the encoded message is not coprime with the modulus")
    if r is None:
        r = _random_blind(n)
    elif isinstance(r, bool) or not isinstance(r, int) or not 1 <= r < n:
        raise InputError("the blinding factor r must be an integer in [1, n)")
    elif math.gcd(r, n) != 1:
        raise InputError("blinding error: r is not invertible modulo n")
    inv = pow(r, -1, n)
    z = (m * pow(r, e, n)) % n
    return _i2osp(z, k), _i2osp(inv, k)


class BlindSigner:
    """RFC 9474 ``BlindSign`` with a cached CRT private key.

    The key's numbers are read once and kept as ``gmpy2.mpz`` when gmpy2 is available
    (``use_gmpy2=None``, the default) or asked for (``use_gmpy2=True``), as Python integers
    otherwise (``use_gmpy2=False``, the pure-Python path the tests also exercise).
    """

    __slots__ = ("_d", "_dp", "_dq", "_e", "_gmp", "_k", "_n", "_p", "_public_key", "_q", "_qinv")

    # At run time these hold gmpy2.mpz values on the gmpy2 path.
    _n: int
    _e: int
    _d: int
    _p: int
    _q: int
    _dp: int
    _dq: int
    _qinv: int

    def __init__(self, private_key: RSAPrivateKey, *, use_gmpy2: bool | None = None) -> None:
        if not isinstance(private_key, RSAPrivateKey):
            raise InputError("BlindSigner needs an RSA private key")
        if use_gmpy2 is None:
            use_gmpy2 = _HAVE_GMPY2
        if use_gmpy2 and not _HAVE_GMPY2:
            raise InputError("use_gmpy2=True but gmpy2 is not installed")
        self._gmp = bool(use_gmpy2)
        priv = private_key.private_numbers()
        pub = priv.public_numbers
        self._public_key = private_key.public_key()
        self._k = modulus_bytes(self._public_key)
        # An mpz behaves as an int in every use below.
        convert: Callable[[int], int] = _gmpy2.mpz if self._gmp else int
        self._n = convert(pub.n)
        self._e = convert(pub.e)
        self._d = convert(priv.d)
        self._p = convert(priv.p)
        self._q = convert(priv.q)
        self._dp = convert(priv.dmp1)
        self._dq = convert(priv.dmq1)
        self._qinv = convert(priv.iqmp)  # q^-1 mod p

    @property
    def public_key(self) -> RSAPublicKey:
        """The signer's public key."""
        return self._public_key

    @property
    def modulus_bytes(self) -> int:
        """The modulus length in bytes: the length of blinded messages and blind signatures."""
        return self._k

    @property
    def uses_gmpy2(self) -> bool:
        """Whether this signer computes with gmpy2 (``True``) or Python integers."""
        return self._gmp

    def _secret_pow(self, base: int, exponent: int, modulus: int) -> int:
        if self._gmp:
            result: int = _gmpy2.powmod_sec(base, exponent, modulus)
            return result
        return pow(base, exponent, modulus)

    def sign(self, blinded: bytes) -> bytes:
        """RFC 9474 ``BlindSign``: the blind signature ``blinded^d mod n`` as ``k`` bytes.

        Raises :class:`InputError` when ``blinded`` is not exactly ``k`` bytes, is not less
        than ``n``, or shares a factor with ``n`` (this includes zero), and
        :class:`VerificationError` when the result does not verify (a computation fault:
        the faulty value is never returned, since it could leak a factor of ``n``).
        """
        _check_bytes(blinded, "blinded message")
        if len(blinded) != self._k:
            raise InputError(
                f"blinded message: expected {self._k} bytes (the modulus length), "
                f"found {len(blinded)}"
            )
        m_int = _os2ip(blinded)
        if m_int >= self._n:
            raise InputError("blinded message: the value is not less than the modulus")
        m = _gmpy2.mpz(m_int) if self._gmp else m_int
        gcd = _gmpy2.gcd(m, self._n) if self._gmp else math.gcd(m, self._n)
        if gcd != 1:
            raise InputError("blinded message: the value is not coprime with the modulus")
        s_p = self._secret_pow(m % self._p, self._dp, self._p)
        s_q = self._secret_pow(m % self._q, self._dq, self._q)
        h = (self._qinv * (s_p - s_q)) % self._p
        s = s_q + self._q * h
        if pow(s, self._e, self._n) != m:
            raise SigningFault("blind signing fault: the signature does not verify")
        return _i2osp(s, self._k)


def _load_public_numbers(public_key: RSAPublicKey) -> tuple[int, int]:
    if not isinstance(public_key, RSAPublicKey):
        raise InputError("expected an RSA public key")
    numbers = public_key.public_numbers()
    return numbers.n, modulus_bytes(public_key)


def verify(public_key: RSAPublicKey, prepared: bytes, sig: bytes) -> None:
    """RSASSA-PSS-VERIFY with SHA-384, MGF1-SHA-384 and a salt of exactly 48 bytes.

    ``prepared`` is the prepared message (``prefix || msg``). Raises
    :class:`InvalidToken` unless ``sig`` is a ``k``-byte value less than ``n`` and a valid
    signature of ``prepared``.
    """
    n, k = _load_public_numbers(public_key)
    verify_with_modulus(public_key, n, k, prepared, sig)


def verify_with_modulus(
    public_key: RSAPublicKey, n: int, k: int, prepared: bytes, sig: bytes
) -> None:
    """:func:`verify` for callers that hold ``public_key``'s modulus ``n`` and its length
    ``k`` in bytes (reading them from the key costs more than the checks they serve)."""
    if not isinstance(prepared, bytes):
        raise InvalidToken("the signed message must be bytes")
    if not isinstance(sig, bytes) or len(sig) != k:
        raise InvalidToken(f"the signature must be exactly {k} bytes (the modulus length)")
    if _os2ip(sig) >= n:
        raise InvalidToken("the signature is not less than the modulus")
    try:
        public_key.verify(sig, prepared, _PSS, _SHA384)
    except (_CryptographyInvalidSignature, ValueError) as exc:
        raise InvalidToken("the RSA blind signature does not verify") from exc


def finalize(public_key: RSAPublicKey, prepared: bytes, blind_sig: bytes, inv: bytes) -> bytes:
    """RFC 9474 ``Finalize``: unblind ``blind_sig`` with ``inv`` and verify the result.

    Returns the ``k``-byte signature of ``prepared``. Raises :class:`InvalidToken` when the
    blind signature has the wrong length or value or the unblinded signature does not
    verify, and :class:`InputError` when ``inv`` (the client's own secret) is unusable.
    """
    n, k = _load_public_numbers(public_key)
    if not isinstance(blind_sig, bytes) or len(blind_sig) != k:
        raise InvalidToken(f"the blind signature must be exactly {k} bytes (the modulus length)")
    if not isinstance(inv, bytes) or len(inv) != k:
        raise InputError(f"the unblinding value must be exactly {k} bytes (the modulus length)")
    z = _os2ip(blind_sig)
    if z >= n:
        raise InvalidToken("the blind signature is not less than the modulus")
    r_inv = _os2ip(inv)
    if not 1 <= r_inv < n:
        raise InputError("the unblinding value is not in [1, n)")
    sig = _i2osp((z * r_inv) % n, k)
    verify(public_key, prepared, sig)
    return sig
