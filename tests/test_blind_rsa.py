"""RFC 9474 RSA blind signatures (anonballot.hazmat.blind_rsa) against Appendix A."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from anonballot.errors import InputError, InvalidToken, VerificationError
from anonballot.hazmat import blind_rsa
from anonballot.hazmat.blind_rsa import (
    SALT_LENGTH,
    BlindSigner,
    blind,
    emsa_pss_encode,
    finalize,
    prepare_randomize,
    verify,
)

VECTORS_PATH = Path(__file__).parent / "vectors" / "rfc9474" / "rfc9474_vectors.json"

GMPY2_MODES = [
    pytest.param(True, id="gmpy2"),  # gmpy2 is a dependency: its absence must fail
    pytest.param(False, id="pure-python"),
]


@functools.cache
def _vectors() -> dict[str, dict[str, Any]]:
    data = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return {v["name"]: v for v in data["vectors"]}


def _vector(name: str) -> dict[str, Any]:
    return _vectors()[name]


def _h(vector: dict[str, Any], key: str) -> bytes:
    return bytes.fromhex(vector[key])


def _i(vector: dict[str, Any], key: str) -> int:
    return int(vector[key], 16)


@functools.cache
def _private_key(name: str) -> RSAPrivateKey:
    v = _vector(name)
    p, q, d, e, n = _i(v, "p"), _i(v, "q"), _i(v, "d"), _i(v, "e"), _i(v, "n")
    assert p * q == n
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, n),
    )
    return numbers.private_key()


RANDOMIZED = "RSABSSA-SHA384-PSS-Randomized"
DETERMINISTIC = "RSABSSA-SHA384-PSS-Deterministic"
KEY = RANDOMIZED  # the key used by the rejection tests (both vectors share it)


def _k() -> int:
    return blind_rsa.modulus_bytes(_private_key(KEY).public_key())


def _n() -> int:
    return _private_key(KEY).public_key().public_numbers().n


@pytest.mark.parametrize("use_gmpy2", GMPY2_MODES)
def test_a1_randomized_step_by_step(use_gmpy2: bool) -> None:
    v = _vector(RANDOMIZED)
    key = _private_key(RANDOMIZED)
    public_key = key.public_key()
    assert public_key.key_size == v["modulus_bits"] == 4096
    assert v["sLen"] == SALT_LENGTH

    prepared = prepare_randomize(_h(v, "msg"), prefix=_h(v, "msg_prefix"))
    assert prepared == _h(v, "prepared_msg")

    encoded = emsa_pss_encode(prepared, public_key.key_size - 1, _h(v, "salt"))
    assert encoded == _h(v, "encoded_msg")

    r = pow(_i(v, "inv"), -1, _i(v, "n"))
    blinded, inv = blind(public_key, prepared, salt=_h(v, "salt"), r=r)
    assert blinded == _h(v, "blinded_msg")
    assert inv == _h(v, "inv")

    signer = BlindSigner(key, use_gmpy2=use_gmpy2)
    assert signer.uses_gmpy2 is use_gmpy2
    assert signer.modulus_bytes == 512
    assert signer.public_key.public_numbers() == public_key.public_numbers()
    blind_sig = signer.sign(blinded)
    assert blind_sig == _h(v, "blind_sig")

    sig = finalize(public_key, prepared, blind_sig, inv)
    assert sig == _h(v, "sig")
    verify(public_key, prepared, sig)


@pytest.mark.parametrize("use_gmpy2", GMPY2_MODES)
def test_a3_deterministic_math(use_gmpy2: bool) -> None:
    v = _vector(DETERMINISTIC)
    assert v["msg_prefix"] == ""
    assert _h(v, "prepared_msg") == _h(v, "msg")
    key = _private_key(DETERMINISTIC)
    public_key = key.public_key()
    prepared = _h(v, "prepared_msg")

    encoded = emsa_pss_encode(prepared, public_key.key_size - 1, _h(v, "salt"))
    assert encoded == _h(v, "encoded_msg")

    r = pow(_i(v, "inv"), -1, _i(v, "n"))
    blinded, inv = blind(public_key, prepared, salt=_h(v, "salt"), r=r)
    assert blinded == _h(v, "blinded_msg")
    assert inv == _h(v, "inv")

    blind_sig = BlindSigner(key, use_gmpy2=use_gmpy2).sign(blinded)
    assert blind_sig == _h(v, "blind_sig")

    sig = finalize(public_key, prepared, blind_sig, inv)
    assert sig == _h(v, "sig")
    verify(public_key, prepared, sig)


def test_sig_is_an_ordinary_pss_signature() -> None:
    # sig^e mod n is the encoded message: a standard RSASSA-PSS signature.
    v = _vector(RANDOMIZED)
    assert pow(_i(v, "sig"), _i(v, "e"), _i(v, "n")) == _i(v, "encoded_msg")


def test_prepare_randomize() -> None:
    a = prepare_randomize(b"m")
    b = prepare_randomize(b"m")
    assert len(a) == 33
    assert a.endswith(b"m")
    assert a != b
    with pytest.raises(InputError):
        prepare_randomize(b"m", prefix=b"\x00" * 31)


def test_emsa_pss_encode_rejects_small_modulus() -> None:
    # emLen must be at least hLen + sLen + 2 = 98 bytes.
    emsa_pss_encode(b"x", 98 * 8, b"\x00" * SALT_LENGTH)
    with pytest.raises(InputError, match="encoding error"):
        emsa_pss_encode(b"x", 97 * 8, b"\x00" * SALT_LENGTH)
    with pytest.raises(InputError):
        emsa_pss_encode(b"x", 0, b"")


def test_blind_is_randomized() -> None:
    public_key = _private_key(KEY).public_key()
    prepared = prepare_randomize(b"voter")
    b1, i1 = blind(public_key, prepared)
    b2, i2 = blind(public_key, prepared)
    assert b1 != b2
    assert i1 != i2
    assert len(b1) == len(i1) == _k()
    signer = BlindSigner(_private_key(KEY))
    s1 = finalize(public_key, prepared, signer.sign(b1), i1)
    s2 = finalize(public_key, prepared, signer.sign(b2), i2)
    verify(public_key, prepared, s1)
    verify(public_key, prepared, s2)


def test_blind_rejects_bad_parameters() -> None:
    public_key = _private_key(KEY).public_key()
    v = _vector(KEY)
    prepared = _h(v, "prepared_msg")
    with pytest.raises(InputError):
        blind(public_key, prepared, salt=b"\x00" * 32)
    for r in (0, _n(), -1):
        with pytest.raises(InputError):
            blind(public_key, prepared, r=r)
    with pytest.raises(InputError, match="not invertible"):
        blind(public_key, prepared, r=_i(v, "p"))


# --- BlindSigner rejections -------------------------------------------------------------


@pytest.mark.parametrize("use_gmpy2", GMPY2_MODES)
def test_sign_rejects_out_of_range(use_gmpy2: bool) -> None:
    signer = BlindSigner(_private_key(KEY), use_gmpy2=use_gmpy2)
    k, n = _k(), _n()
    with pytest.raises(InputError, match="not less than the modulus"):
        signer.sign(n.to_bytes(k, "big"))
    with pytest.raises(InputError, match="not less than the modulus"):
        signer.sign(b"\xff" * k)


@pytest.mark.parametrize("use_gmpy2", GMPY2_MODES)
def test_sign_rejects_non_coprime(use_gmpy2: bool) -> None:
    signer = BlindSigner(_private_key(KEY), use_gmpy2=use_gmpy2)
    v = _vector(KEY)
    k = _k()
    for value in (0, _i(v, "p"), _i(v, "q"), 7 * _i(v, "q")):
        with pytest.raises(InputError, match="coprime"):
            signer.sign(value.to_bytes(k, "big"))


def test_sign_rejects_wrong_length() -> None:
    signer = BlindSigner(_private_key(KEY))
    blinded = _h(_vector(KEY), "blinded_msg")
    for bad in (blinded[1:], b"\x00" + blinded, b""):
        with pytest.raises(InputError, match="expected 512 bytes"):
            signer.sign(bad)


@pytest.mark.parametrize("use_gmpy2", GMPY2_MODES)
def test_sign_detects_faults(use_gmpy2: bool) -> None:
    signer = BlindSigner(_private_key(KEY), use_gmpy2=use_gmpy2)
    signer._dp = signer._dp + 2  # simulate a fault in the CRT half modulo p
    with pytest.raises(VerificationError, match="fault"):
        signer.sign(_h(_vector(KEY), "blinded_msg"))


def test_signer_paths_agree_on_random_inputs() -> None:
    assert blind_rsa._HAVE_GMPY2, "gmpy2 is a dependency of anonballot"
    key = _private_key(KEY)
    fast, slow = BlindSigner(key, use_gmpy2=True), BlindSigner(key, use_gmpy2=False)
    public_key = key.public_key()
    for _ in range(3):
        blinded, _inv = blind(public_key, prepare_randomize(b"x"))
        assert fast.sign(blinded) == slow.sign(blinded)


def test_pure_python_fallback_when_gmpy2_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blind_rsa, "_HAVE_GMPY2", False)
    key = _private_key(KEY)
    signer = BlindSigner(key)
    assert not signer.uses_gmpy2
    assert signer.sign(_h(_vector(KEY), "blinded_msg")) == _h(_vector(KEY), "blind_sig")
    with pytest.raises(InputError, match="gmpy2"):
        BlindSigner(key, use_gmpy2=True)


def test_wrong_key_types() -> None:
    with pytest.raises(InputError):
        BlindSigner(_private_key(KEY).public_key())  # type: ignore[arg-type]
    with pytest.raises(InputError):
        blind(_private_key(KEY), b"x")  # type: ignore[arg-type]


# --- finalize and verify rejections -------------------------------------------------------


def test_verify_rejects_bad_signatures() -> None:
    key = _private_key(KEY)
    public_key = key.public_key()
    v = _vector(KEY)
    prepared, sig = _h(v, "prepared_msg"), _h(v, "sig")
    k, n = _k(), _n()
    verify(public_key, prepared, sig)

    with pytest.raises(InvalidToken, match="512 bytes"):
        verify(public_key, prepared, sig[1:])
    with pytest.raises(InvalidToken, match="512 bytes"):
        verify(public_key, prepared, b"\x00" + sig)
    with pytest.raises(InvalidToken, match="not less than the modulus"):
        verify(public_key, prepared, n.to_bytes(k, "big"))
    with pytest.raises(InvalidToken, match="not less than the modulus"):
        verify(public_key, prepared, (n + _i(v, "sig")).to_bytes(k, "big"))
    with pytest.raises(InvalidToken):
        verify(public_key, prepared, b"\x00" * k)

    flipped = bytearray(sig)
    flipped[-1] ^= 0x01
    with pytest.raises(InvalidToken):
        verify(public_key, prepared, bytes(flipped))
    other = bytearray(prepared)
    other[0] ^= 0x80
    with pytest.raises(InvalidToken):
        verify(public_key, bytes(other), sig)
    # The deterministic vector signs the message without the prefix.
    with pytest.raises(InvalidToken):
        verify(public_key, _h(v, "msg"), sig)


@pytest.mark.parametrize("salt_length", [0, 32, 64])
def test_verify_requires_salt_length_48(salt_length: int) -> None:
    key = _private_key(KEY)
    prepared = _h(_vector(KEY), "prepared_msg")
    sig = key.sign(
        prepared,
        padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=salt_length),
        hashes.SHA384(),
    )
    with pytest.raises(InvalidToken):
        verify(key.public_key(), prepared, sig)
    good = key.sign(
        prepared,
        padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_LENGTH),
        hashes.SHA384(),
    )
    verify(key.public_key(), prepared, good)


def test_verify_rejects_other_hash() -> None:
    key = _private_key(KEY)
    prepared = _h(_vector(KEY), "prepared_msg")
    sig = key.sign(
        prepared,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH),
        hashes.SHA256(),
    )
    with pytest.raises(InvalidToken):
        verify(key.public_key(), prepared, sig)


def test_finalize_rejects_bad_blind_signatures() -> None:
    public_key = _private_key(KEY).public_key()
    v = _vector(KEY)
    prepared, blind_sig, inv = _h(v, "prepared_msg"), _h(v, "blind_sig"), _h(v, "inv")
    k, n = _k(), _n()
    assert finalize(public_key, prepared, blind_sig, inv) == _h(v, "sig")

    with pytest.raises(InvalidToken):
        finalize(public_key, prepared, blind_sig[1:], inv)
    with pytest.raises(InvalidToken):
        finalize(public_key, prepared, n.to_bytes(k, "big"), inv)
    flipped = bytearray(blind_sig)
    flipped[100] ^= 0x04
    with pytest.raises(InvalidToken):
        finalize(public_key, prepared, bytes(flipped), inv)
    # The blind signature of another message does not finalize.
    with pytest.raises(InvalidToken):
        finalize(public_key, prepared, _h(v, "blinded_msg"), inv)
    # An unusable unblinding value is the client's own input error.
    with pytest.raises(InputError):
        finalize(public_key, prepared, blind_sig, inv[1:])
    with pytest.raises(InputError):
        finalize(public_key, prepared, blind_sig, b"\x00" * k)


def test_finalize_rejects_signature_from_other_key() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    prepared = prepare_randomize(b"voter")
    blinded, inv = blind(other.public_key(), prepared)
    blind_sig = BlindSigner(other).sign(blinded)
    sig = finalize(other.public_key(), prepared, blind_sig, inv)
    verify(other.public_key(), prepared, sig)
    vector_key = _private_key(KEY).public_key()
    with pytest.raises(InvalidToken, match="512 bytes"):
        verify(vector_key, prepared, sig)
    with pytest.raises(InvalidToken, match="does not verify"):
        verify(vector_key, prepared, sig.rjust(_k(), b"\x00"))
