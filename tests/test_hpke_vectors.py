"""Pin cryptography's ``hpke.Suite`` to RFC 9180 base mode, the sealing of protocol 6.

cryptography's HPKE API takes no aad and draws its own ephemeral key, so it cannot replay
RFC 9180 Appendix A.1.1 directly. This file carries a small, independent reference of HPKE
base mode built only from cryptography's X25519, HMAC, HKDF-Expand and AES-GCM. The reference
must reproduce every value of A.1.1 (DeriveKeyPair, enc, shared_secret, key schedule, the six
encryptions at sequence numbers 0, 1, 2, 4, 255, 256 and the three exports); then it must
interoperate both ways with ``hpke.Suite`` (single shot, empty aad, the vector's fixed skE),
which is how :mod:`anonballot.sealing` uses it.

The A.1.1 values are read from ``tests/vectors/hpke/rfc9180_a1_1.json`` (its ``source`` field
states the provenance); no vector data is written in this file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac, hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from anonballot.encoding import jcs

VECTOR_PATH = Path(__file__).parent / "vectors" / "hpke" / "rfc9180_a1_1.json"

# --------------------------------------------------------------------------- reference

KEM_ID = 0x0020  # DHKEM(X25519, HKDF-SHA256)
KDF_ID = 0x0001  # HKDF-SHA256
AEAD_ID = 0x0001  # AES-128-GCM
MODE_BASE = 0x00
N_SECRET = 32
N_ENC = 32
N_PK = 32
N_SK = 32
N_K = 16
N_N = 12
N_H = 32


def i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


KEM_SUITE_ID = b"KEM" + i2osp(KEM_ID, 2)
HPKE_SUITE_ID = b"HPKE" + i2osp(KEM_ID, 2) + i2osp(KDF_ID, 2) + i2osp(AEAD_ID, 2)


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    # RFC 5869: an empty salt is HashLen zero bytes (HMAC pads the key with zeros anyway).
    mac = hmac.HMAC(salt if salt else bytes(N_H), hashes.SHA256())
    mac.update(ikm)
    return mac.finalize()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hkdf_extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled_info = i2osp(length, 2) + b"HPKE-v1" + suite_id + label + info
    return hkdf_expand(prk, labeled_info, length)


def derive_key_pair(ikm: bytes) -> tuple[bytes, bytes]:
    """DHKEM DeriveKeyPair for X25519 (RFC 9180, 7.1.3)."""
    dkp_prk = labeled_extract(KEM_SUITE_ID, b"", b"dkp_prk", ikm)
    sk = labeled_expand(KEM_SUITE_ID, dkp_prk, b"sk", b"", N_SK)
    return sk, X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes_raw()


def dh(sk: bytes, pk: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))


def extract_and_expand(dh_value: bytes, kem_context: bytes) -> bytes:
    eae_prk = labeled_extract(KEM_SUITE_ID, b"", b"eae_prk", dh_value)
    return labeled_expand(KEM_SUITE_ID, eae_prk, b"shared_secret", kem_context, N_SECRET)


def encap(pk_r: bytes, sk_e: bytes) -> tuple[bytes, bytes]:
    """DHKEM Encap with a given ephemeral private key: ``(shared_secret, enc)``."""
    enc = X25519PrivateKey.from_private_bytes(sk_e).public_key().public_bytes_raw()
    return extract_and_expand(dh(sk_e, pk_r), enc + pk_r), enc


def decap(enc: bytes, sk_r: bytes) -> bytes:
    pk_r = X25519PrivateKey.from_private_bytes(sk_r).public_key().public_bytes_raw()
    return extract_and_expand(dh(sk_r, enc), enc + pk_r)


@dataclass
class Context:
    key_schedule_context: bytes
    secret: bytes
    key: bytes
    base_nonce: bytes
    exporter_secret: bytes
    seq: int = 0

    def _nonce(self) -> bytes:
        return i2osp(int.from_bytes(self.base_nonce, "big") ^ self.seq, N_N)

    def seal(self, aad: bytes, pt: bytes) -> bytes:
        ct = AESGCM(self.key).encrypt(self._nonce(), pt, aad)
        self.seq += 1
        return ct

    def open(self, aad: bytes, ct: bytes) -> bytes:
        pt = AESGCM(self.key).decrypt(self._nonce(), ct, aad)
        self.seq += 1
        return pt

    def export(self, exporter_context: bytes, length: int) -> bytes:
        return labeled_expand(HPKE_SUITE_ID, self.exporter_secret, b"sec", exporter_context, length)


def key_schedule_base(shared_secret: bytes, info: bytes) -> Context:
    psk_id_hash = labeled_extract(HPKE_SUITE_ID, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(HPKE_SUITE_ID, b"", b"info_hash", info)
    ks_context = i2osp(MODE_BASE, 1) + psk_id_hash + info_hash
    secret = labeled_extract(HPKE_SUITE_ID, shared_secret, b"secret", b"")
    return Context(
        key_schedule_context=ks_context,
        secret=secret,
        key=labeled_expand(HPKE_SUITE_ID, secret, b"key", ks_context, N_K),
        base_nonce=labeled_expand(HPKE_SUITE_ID, secret, b"base_nonce", ks_context, N_N),
        exporter_secret=labeled_expand(HPKE_SUITE_ID, secret, b"exp", ks_context, N_H),
    )


def single_shot_seal(pk_r: bytes, info: bytes, aad: bytes, pt: bytes, sk_e: bytes) -> bytes:
    """SealBase with a fixed ephemeral key; returns ``enc || ct`` as hpke.Suite does."""
    shared_secret, enc = encap(pk_r, sk_e)
    return enc + key_schedule_base(shared_secret, info).seal(aad, pt)


def single_shot_open(sk_r: bytes, info: bytes, aad: bytes, enc_ct: bytes) -> bytes:
    enc, ct = enc_ct[:N_ENC], enc_ct[N_ENC:]
    return key_schedule_base(decap(enc, sk_r), info).open(aad, ct)


# --------------------------------------------------------------------------- vectors


def h(v: dict[str, Any], name: str) -> bytes:
    return bytes.fromhex(v[name])


def check_derive_key_pair(v: dict[str, Any]) -> None:
    assert derive_key_pair(h(v, "ikmR")) == (h(v, "skRm"), h(v, "pkRm"))
    assert derive_key_pair(h(v, "ikmE")) == (h(v, "skEm"), h(v, "pkEm"))


def check_encap_decap(v: dict[str, Any]) -> None:
    shared_secret, enc = encap(h(v, "pkRm"), h(v, "skEm"))
    assert enc == h(v, "enc") == h(v, "pkEm")
    assert len(enc) == N_ENC
    assert len(h(v, "pkRm")) == N_PK
    assert shared_secret == h(v, "shared_secret")
    assert decap(enc, h(v, "skRm")) == shared_secret


def check_key_schedule(v: dict[str, Any]) -> None:
    ctx = key_schedule_base(h(v, "shared_secret"), h(v, "info"))
    assert ctx.key_schedule_context == h(v, "key_schedule_context")
    assert ctx.secret == h(v, "secret")
    assert ctx.key == h(v, "key")
    assert ctx.base_nonce == h(v, "base_nonce")
    assert ctx.exporter_secret == h(v, "exporter_secret")


def check_encryptions(v: dict[str, Any]) -> int:
    """Seal and open every listed encryption at its sequence number; return how many."""
    sender = key_schedule_base(h(v, "shared_secret"), h(v, "info"))
    receiver = key_schedule_base(decap(h(v, "enc"), h(v, "skRm")), h(v, "info"))
    base = int.from_bytes(h(v, "base_nonce"), "big")
    for e in v["encryptions"]:
        seq = int.from_bytes(h(e, "nonce"), "big") ^ base
        assert seq < 2**16  # the vectors use small sequence numbers
        sender.seq = receiver.seq = seq
        assert sender._nonce() == h(e, "nonce")
        ct = sender.seal(h(e, "aad"), h(e, "plaintext"))
        assert ct == h(e, "ciphertext"), seq
        assert receiver.open(h(e, "aad"), ct) == h(e, "plaintext"), seq
    return len(v["encryptions"])


def check_exports(v: dict[str, Any]) -> None:
    ctx = key_schedule_base(h(v, "shared_secret"), h(v, "info"))
    for e in v["exports"]:
        assert ctx.export(h(e, "exportContext"), e["exportLength"]) == h(e, "exportValue")


def check_single_shot(v: dict[str, Any]) -> None:
    e = v["encryptions"][0]
    assert h(e, "nonce") == h(v, "base_nonce")  # sequence number 0
    sealed = single_shot_seal(
        h(v, "pkRm"), h(v, "info"), h(e, "aad"), h(e, "plaintext"), h(v, "skEm")
    )
    assert sealed == h(v, "enc") + h(e, "ciphertext")
    assert single_shot_open(h(v, "skRm"), h(v, "info"), h(e, "aad"), sealed) == h(e, "plaintext")


def check_all(v: dict[str, Any]) -> None:
    assert (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"]) == (
        MODE_BASE,
        KEM_ID,
        KDF_ID,
        AEAD_ID,
    )
    check_derive_key_pair(v)
    check_encap_decap(v)
    check_key_schedule(v)
    assert check_encryptions(v) >= 6
    check_exports(v)
    check_single_shot(v)


def load_vector() -> dict[str, Any]:
    v: dict[str, Any] = json.loads(VECTOR_PATH.read_text())
    return v


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    return load_vector()


def test_vector_file_provenance(vector: dict[str, Any]) -> None:
    assert vector["source"].startswith("RFC 9180 Appendix A.1.1")


def test_rfc_suite_ids(vector: dict[str, Any]) -> None:
    assert (vector["mode"], vector["kem_id"], vector["kdf_id"], vector["aead_id"]) == (
        MODE_BASE,
        KEM_ID,
        KDF_ID,
        AEAD_ID,
    )


def test_rfc_derive_key_pair(vector: dict[str, Any]) -> None:
    check_derive_key_pair(vector)


def test_rfc_encap_decap(vector: dict[str, Any]) -> None:
    check_encap_decap(vector)


def test_rfc_key_schedule(vector: dict[str, Any]) -> None:
    check_key_schedule(vector)


def test_rfc_encryptions(vector: dict[str, Any]) -> None:
    assert check_encryptions(vector) == 6  # sequence numbers 0, 1, 2, 4, 255, 256


def test_rfc_exports(vector: dict[str, Any]) -> None:
    check_exports(vector)


def test_rfc_single_shot(vector: dict[str, Any]) -> None:
    check_single_shot(vector)


def test_vector_file_passes_all_checks(vector: dict[str, Any]) -> None:
    check_all(vector)


# --------------------------------------------------------------------------- interop

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)

INFOS = [
    pytest.param(None, id="vector-info"),
    pytest.param(jcs({"round": "r-2025", "trustee": "alice"}), id="protocol-info"),
    pytest.param(b"", id="empty-info"),
]
PLAINTEXTS = [b"", b"Beauty is truth, truth beauty", bytes(range(66))]


@pytest.mark.parametrize("info", INFOS)
@pytest.mark.parametrize("pt", PLAINTEXTS)
def test_suite_opens_reference(vector: dict[str, Any], info: bytes | None, pt: bytes) -> None:
    info = h(vector, "info") if info is None else info
    sealed = single_shot_seal(h(vector, "pkRm"), info, b"", pt, h(vector, "skEm"))
    assert len(sealed) == N_ENC + len(pt) + 16
    sk_r = X25519PrivateKey.from_private_bytes(h(vector, "skRm"))
    assert SUITE.decrypt(sealed, sk_r, info=info) == pt
    with pytest.raises(InvalidTag):
        SUITE.decrypt(sealed, sk_r, info=info + b"x")


@pytest.mark.parametrize("info", INFOS)
@pytest.mark.parametrize("pt", PLAINTEXTS)
def test_reference_opens_suite(vector: dict[str, Any], info: bytes | None, pt: bytes) -> None:
    info = h(vector, "info") if info is None else info
    pk_r = X25519PublicKey.from_public_bytes(h(vector, "pkRm"))
    sealed = SUITE.encrypt(pt, pk_r, info=info)
    assert len(sealed) == N_ENC + len(pt) + 16
    assert single_shot_open(h(vector, "skRm"), info, b"", sealed) == pt
    with pytest.raises(InvalidTag):
        single_shot_open(h(vector, "skRm"), info, b"aad", sealed)


def test_suite_info_none_is_empty_info(vector: dict[str, Any]) -> None:
    pk_r = X25519PublicKey.from_public_bytes(h(vector, "pkRm"))
    sealed = SUITE.encrypt(b"share", pk_r)
    assert single_shot_open(h(vector, "skRm"), b"", b"", sealed) == b"share"
