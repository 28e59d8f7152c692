"""The token layer (anonballot.tokens): blind issuance, verification, JSON forms, keys."""

from __future__ import annotations

import functools
import os
from typing import Any

import pytest
from _hypothesis import examples
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.encoding import b64u_decode, b64u_encode, sha256
from anonballot.errors import EncodingError, InputError, InvalidToken
from anonballot.signing import VerifyKey
from anonballot.tokens import IssuerKey, IssuerPublicKey, Token, TokenRequest


@functools.cache
def issuer() -> IssuerKey:
    """One 2048-bit issuer key for the whole session."""
    return IssuerKey.generate(2048)


@functools.cache
def other_issuer() -> IssuerKey:
    return IssuerKey.generate(2048)


def _spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _issue(key: IssuerKey, voter_public_key: bytes) -> Token:
    request = TokenRequest.create(key.public_key, VerifyKey(voter_public_key))
    return request.finalize(key.sign_blinded(request.blinded))


# --- round trip ---------------------------------------------------------------------------


@settings(deadline=None, max_examples=examples(20))
@given(voter_public_key=st.binary(min_size=32, max_size=32))
def test_blind_issuance_round_trip(voter_public_key: bytes) -> None:
    key = issuer()
    voter = VerifyKey(voter_public_key)
    r1 = TokenRequest.create(key.public_key, voter)
    r2 = TokenRequest.create(key.public_key, voter)
    # Unlinkability sanity: two requests for the same voter key look unrelated.
    assert r1.blinded != r2.blinded
    assert r1.prepared != r2.prepared
    assert r1.voter_public_key == r2.voter_public_key == voter
    assert voter_public_key not in r1.blinded

    token = r1.finalize(key.sign_blinded(r1.blinded))
    assert token.msg == r1.prepared
    assert token.voter_public_key == voter
    assert len(token.sig) == key.modulus_bytes == 256
    key.public_key.verify(token)
    assert Token.from_json(token.to_json()) == token

    with pytest.raises(InvalidToken):
        other_issuer().public_key.verify(token)


def test_request_json_round_trip() -> None:
    key = issuer()
    voter = VerifyKey(os.urandom(32))
    request = TokenRequest.create(key.public_key, voter)
    saved = request.to_json()
    assert set(saved) == {"issuer_public_der", "prepared", "inv", "blinded"}
    restored = TokenRequest.from_json(saved)
    assert restored == request
    assert "inv" not in repr(request)
    token = restored.finalize(key.sign_blinded(request.blinded))
    key.public_key.verify(token)


def test_request_from_json_rejects_bad_shapes() -> None:
    key = issuer()
    good: dict[str, Any] = TokenRequest.create(key.public_key, VerifyKey(os.urandom(32))).to_json()
    with pytest.raises(EncodingError):
        TokenRequest.from_json([good])
    with pytest.raises(EncodingError):
        TokenRequest.from_json({**good, "extra": "AA"})
    missing = dict(good)
    del missing["inv"]
    with pytest.raises(EncodingError):
        TokenRequest.from_json(missing)
    with pytest.raises(EncodingError):
        TokenRequest.from_json({**good, "inv": b64u_encode(b"\x01" * 255)})
    with pytest.raises(EncodingError):
        TokenRequest.from_json({**good, "blinded": good["blinded"] + "="})
    with pytest.raises(EncodingError):
        TokenRequest.from_json({**good, "issuer_public_der": b64u_encode(b"junk")})


def test_create_rejects_bad_voter_key() -> None:
    for bad in (b"", b"\x00" * 31, b"\x00" * 33):
        with pytest.raises(EncodingError):
            VerifyKey(bad)
    with pytest.raises(EncodingError):
        TokenRequest.create(issuer().public_key, bytes(32))  # type: ignore[arg-type]


def test_finalize_rejects_bad_blind_signatures() -> None:
    key = issuer()
    request = TokenRequest.create(key.public_key, VerifyKey(os.urandom(32)))
    blind_sig = key.sign_blinded(request.blinded)

    flipped = bytearray(blind_sig)
    flipped[10] ^= 0x01
    with pytest.raises(InvalidToken):
        request.finalize(bytes(flipped))
    with pytest.raises(InvalidToken):
        request.finalize(blind_sig[:-1])
    with pytest.raises(InvalidToken):
        request.finalize(b"\xff" * key.modulus_bytes)
    # Another key's answer to the same blinded message does not finalize. (That key signs
    # only a blinded value below its own modulus: use a request for which it is.)
    other = other_issuer()
    other_n = other.public_key.to_cryptography().public_numbers().n
    same_key_request = request
    while int.from_bytes(same_key_request.blinded, "big") >= other_n:
        same_key_request = TokenRequest.create(key.public_key, VerifyKey(os.urandom(32)))
    with pytest.raises(InvalidToken):
        same_key_request.finalize(other.sign_blinded(same_key_request.blinded))
    # The answer to another request does not finalize either.
    other_request = TokenRequest.create(key.public_key, VerifyKey(os.urandom(32)))
    with pytest.raises(InvalidToken):
        request.finalize(key.sign_blinded(other_request.blinded))
    assert request.finalize(blind_sig).msg == request.prepared


def test_sign_blinded_rejects_bad_input() -> None:
    key = issuer()
    n = key.public_key.to_cryptography().public_numbers().n
    k = key.modulus_bytes
    private = serialization.load_pem_private_key(key.to_pem(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    p = private.private_numbers().p  # a value sharing a factor with n
    for bad in (
        b"\x00" * k, n.to_bytes(k, "big"), b"\xff" * k, b"\x01" * (k - 1),
        (1).to_bytes(k, "big"), (n - 1).to_bytes(k, "big"), p.to_bytes(k, "big"),
    ):  # fmt: skip
        with pytest.raises(InputError) as refused:
            key.sign_blinded(bad)
        assert refused.value.code == "bad_blinded"
    # 0, 1 and n - 1 are refused by the public key too, before any signing
    for value in (0, 1, n - 1):
        with pytest.raises(InputError) as refused:
            key.public_key.check_blinded(value.to_bytes(k, "big"))
        assert refused.value.code == "bad_blinded"
    key.public_key.check_blinded((2).to_bytes(k, "big"))


# --- token verification ---------------------------------------------------------------------


def test_verify_token_rejects_tampering() -> None:
    key = issuer()
    token = _issue(key, os.urandom(32))
    key.public_key.verify(token)

    for i in (0, 31, 32, 63):
        msg = bytearray(token.msg)
        msg[i] ^= 0x01
        with pytest.raises(InvalidToken):
            key.public_key.verify(Token(bytes(msg), token.sig))
    for i in (0, 128, 255):
        sig = bytearray(token.sig)
        sig[i] ^= 0x10
        with pytest.raises(InvalidToken):
            key.public_key.verify(Token(token.msg, bytes(sig)))
    # A well-formed signature of the wrong length for this key.
    with pytest.raises(InvalidToken):
        key.public_key.verify(Token(token.msg, b"\x00" + token.sig))
    # The signature is not less than the modulus.
    n = key.public_key.to_cryptography().public_numbers().n
    with pytest.raises(InvalidToken):
        key.public_key.verify(Token(token.msg, n.to_bytes(256, "big")))


def test_sign_token_directly_verifies() -> None:
    key = issuer()
    msg = os.urandom(64)
    token = key.sign_token_directly(msg)
    assert token.msg == msg
    key.public_key.verify(token)
    assert key.sign_token_directly(msg).sig != token.sig  # random salt
    with pytest.raises(InvalidToken):
        other_issuer().public_key.verify(token)
    with pytest.raises(InputError):
        key.sign_token_directly(msg[:32])


# --- Token shape and JSON -------------------------------------------------------------------


def test_token_validation() -> None:
    Token(b"\x00" * 64, b"\x00" * 256)
    Token(b"\x00" * 64, b"\x00" * 512)
    bad: list[tuple[Any, Any]] = [
        (b"\x00" * 63, b"\x00" * 256),
        (b"\x00" * 65, b"\x00" * 256),
        (b"\x00" * 64, b"\x00" * 255),
        (b"\x00" * 64, b"\x00" * 513),
        ("x" * 64, b"\x00" * 256),
        (b"\x00" * 64, None),
    ]
    for msg, sig in bad:
        with pytest.raises(EncodingError):
            Token(msg, sig)


def test_token_json() -> None:
    token = Token(bytes(range(64)), b"\x07" * 256)
    obj = token.to_json()
    assert obj == {"msg": b64u_encode(bytes(range(64))), "sig": b64u_encode(b"\x07" * 256)}
    assert Token.from_json(obj) == token
    assert token.voter_public_key == VerifyKey(bytes(range(32, 64)))


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        "token",
        {},
        {"msg": b64u_encode(b"\x00" * 64)},
        {"sig": b64u_encode(b"\x00" * 256)},
        {"msg": b64u_encode(b"\x00" * 64), "sig": b64u_encode(b"\x00" * 256), "x": 1},
        {"msg": b64u_encode(b"\x00" * 63), "sig": b64u_encode(b"\x00" * 256)},
        {"msg": b64u_encode(b"\x00" * 64), "sig": b64u_encode(b"\x00" * 100)},
        {"msg": b64u_encode(b"\x00" * 64) + "=", "sig": b64u_encode(b"\x00" * 256)},
        {"msg": b64u_encode(b"\x00" * 64), "sig": 5},
        {"msg": b"\x00" * 64, "sig": b64u_encode(b"\x00" * 256)},
        {"msg": "+" * 86, "sig": b64u_encode(b"\x00" * 256)},
    ],
)
def test_token_from_json_rejects_bad_shapes(obj: object) -> None:
    with pytest.raises(EncodingError):
        Token.from_json(obj)


# --- issuer keys ----------------------------------------------------------------------------


def test_issuer_key_pem_and_ids() -> None:
    key = issuer()
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = IssuerKey.from_pem(pem)
    assert again.public_key == key.public_key
    assert again.key_id == key.key_id == b64u_encode(sha256(key.public_key.to_bytes()))
    assert len(b64u_decode(key.key_id)) == 32
    assert key.key_id in repr(key)
    public = key.public_key
    assert IssuerPublicKey(public.to_bytes()) == public
    assert hash(IssuerPublicKey(public.to_bytes())) == hash(public)
    assert IssuerPublicKey.from_b64u(public.to_b64u()) == public
    assert IssuerPublicKey.from_cryptography(public.to_cryptography()) == public
    assert public.key_id == key.key_id
    assert (public.bits, public.modulus_bytes) == (2048, 256)
    assert repr(public) == f"IssuerPublicKey(key_id={key.key_id!r}, bits=2048)"
    assert public != other_issuer().public_key
    with pytest.raises(AttributeError):
        public._der = b""
    # A token blind-issued by the reloaded key verifies under the original's public key.
    key.public_key.verify(_issue(again, os.urandom(32)))


def test_issuer_key_from_pem_rejects() -> None:
    with pytest.raises(EncodingError):
        IssuerKey.from_pem(b"not a key")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(EncodingError):
        IssuerKey.from_pem(ec_pem)
    # Too small on purpose: the issuer must refuse it.
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    small_pem = small.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InputError):
        IssuerKey.from_pem(small_pem)
    with pytest.raises(InputError):
        IssuerKey(small)


@pytest.mark.parametrize("bits", [1024, 2047, 4097, 8192])
def test_issuer_key_generate_rejects_sizes(bits: int) -> None:
    with pytest.raises(InputError):
        IssuerKey.generate(bits)


def test_issuer_public_key_rejects() -> None:
    good = issuer().public_key.to_bytes()
    n = issuer().public_key.to_cryptography().public_numbers().n
    bad = [
        b"",
        b"junk",
        good[:-1],
        good + b"\x00",
        _spki(ec.generate_private_key(ec.SECP256R1()).public_key()),
        _spki(rsa.RSAPublicNumbers(3, n).public_key()),
        _spki(rsa.RSAPublicNumbers(65539, n).public_key()),
        _spki(rsa.RSAPublicNumbers(65537, (1 << 2046) | 1).public_key()),
        _spki(rsa.RSAPublicNumbers(65537, (1 << 4096) | 1).public_key()),
    ]
    for der in bad:
        with pytest.raises(EncodingError):
            IssuerPublicKey(der)
        with pytest.raises(EncodingError):
            IssuerPublicKey.from_b64u(b64u_encode(der))
    # Both ends of the allowed range.
    IssuerPublicKey(_spki(rsa.RSAPublicNumbers(65537, (1 << 2047) | 1).public_key()))
    IssuerPublicKey(_spki(rsa.RSAPublicNumbers(65537, (1 << 4095) | 1).public_key()))
    with pytest.raises(EncodingError):
        TokenRequest.create(b"junk", VerifyKey(os.urandom(32)))  # type: ignore[arg-type]


def test_an_unchecked_broken_key_gives_a_signing_fault_never_a_signature(
    issuer_pool: tuple[IssuerKey, ...],
) -> None:
    """``from_pem(check=False)`` (the server's own keys, at a national round's start) skips
    OpenSSL's key check; a key broken at rest (here its CRT exponent) still never gives out
    a signature: the blind signature is verified first. Checked, the key is refused."""
    from anonballot.errors import SigningFault

    good = issuer_pool[0]
    loaded = serialization.load_pem_private_key(good.to_pem(), None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    numbers = loaded.private_numbers()
    broken = rsa.RSAPrivateNumbers(
        numbers.p, numbers.q, numbers.d, numbers.dmp1 ^ 2, numbers.dmq1, numbers.iqmp,
        numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)  # fmt: skip
    pem = broken.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises((EncodingError, InputError)):
        IssuerKey.from_pem(pem)
    key = IssuerKey.from_pem(pem, check=False)
    request = TokenRequest.create(good.public_key, VerifyKey(os.urandom(32)))
    with pytest.raises(SigningFault):
        key.sign_blinded(request.blinded)
    assert IssuerKey.from_pem(good.to_pem(), check=False).sign_blinded(request.blinded)
