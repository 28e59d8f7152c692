"""Ed25519 keys and signed objects (anonballot.signing; protocol section 2.4)."""

from __future__ import annotations

import pickle

import pytest

from anonballot.encoding import b64u_encode, jcs
from anonballot.errors import EncodingError, InvalidSignature
from anonballot.signing import SigningKey, VerifyKey, sign_object, verify_object

# RFC 8032 section 7.1, test 1: the empty message.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_rfc8032_vector() -> None:
    key = SigningKey(RFC8032_SEED)
    assert key.public_key == VerifyKey(RFC8032_PUBLIC)
    assert key.public_key.to_bytes() == RFC8032_PUBLIC
    assert key.sign(b"") == RFC8032_SIGNATURE
    key.public_key.verify(b"", RFC8032_SIGNATURE)
    with pytest.raises(InvalidSignature):
        key.public_key.verify(b"x", RFC8032_SIGNATURE)
    with pytest.raises(InvalidSignature):
        key.public_key.verify(b"", RFC8032_SIGNATURE[:63])


def test_verify_key_is_a_value() -> None:
    key = VerifyKey(RFC8032_PUBLIC)
    same = VerifyKey.from_b64u(key.to_b64u())
    assert same == key
    assert hash(same) == hash(key)
    assert {key, same} == {key}
    assert VerifyKey.from_bytes(bytes(key)) == key
    assert key != SigningKey.generate().public_key
    assert key != RFC8032_PUBLIC  # a key is not its bytes
    assert repr(key) == f"VerifyKey({b64u_encode(RFC8032_PUBLIC)!r})"
    assert pickle.loads(pickle.dumps(key)) == key  # noqa: S301 - our own bytes
    with pytest.raises(AttributeError):
        key._key = bytes(32)


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), "x" * 32, None])
def test_verify_key_rejects(bad: object) -> None:
    with pytest.raises(EncodingError):
        VerifyKey(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", b64u_encode(bytes(31)), b64u_encode(bytes(32)) + "=", 7])
def test_verify_key_from_b64u_rejects(bad: object) -> None:
    with pytest.raises(EncodingError):
        VerifyKey.from_b64u(bad)


def test_signed_objects() -> None:
    key = SigningKey.generate()
    signed = sign_object("close", {"a": 1}, key)
    assert verify_object(signed, "close", key.public_key) == {"a": 1}
    with pytest.raises(InvalidSignature):
        verify_object(signed, "close", SigningKey.generate().public_key)
    with pytest.raises(EncodingError):
        verify_object(signed, "results", key.public_key)
    forged = {"close": {"a": 2}, "signature": b64u_encode(key.sign(jcs({"a": 1})))}
    with pytest.raises(InvalidSignature):
        verify_object(forged, "close", key.public_key)


def test_signing_key_hides_its_seed() -> None:
    key = SigningKey(RFC8032_SEED)
    assert RFC8032_SEED.hex() not in repr(key)
    assert b64u_encode(RFC8032_SEED) not in repr(key)
    with pytest.raises(EncodingError):
        SigningKey(bytes(31))
