"""The browser's cryptography (``server/static/js/``) in Debian's Chromium, driven by Playwright.

Every JavaScript module runs against the vectors the Python library is tested with (RFC 9474
A.1 and A.3, RFC 9180 A.1.1, the RFC 9162 transparency-dev proofs, the checkpoint note), and
against the Python library itself: JCS on tricky values, HPKE both ways, Shamir and sealing
from the same random stream, a leaf made in the browser that the Python engine accepts and
the tally counts, and engine receipts verified (and tampered ones rejected) in the browser.

The page is ``tests/browser/index.html``, served from a local static server
(``tests/_static.py``) that maps ``/static/js/`` to ``server/static/js/``;
``tests/browser/harness.js`` turns each check into one call with plain JSON in and out.
One browser per module (and per xdist worker).

Chromium comes from Debian (``apt-get install chromium``; ``make pytest`` installs it);
Playwright's own browser download is not used. Without Chromium or Playwright the tests are
a failure (``make test`` installs Debian's chromium), never a skip.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import gmpy2
import pytest
from _static import harness_page, static_server
from conftest import RoundFactory
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from anonballot.ballot import make_ballot, validate_ballot
from anonballot.checkpoint import Checkpoint
from anonballot.encoding import b64u_decode, b64u_encode, jcs, parse_json
from anonballot.errors import AnonBallotError, EncodingError
from anonballot.hazmat import shamir
from anonballot.hazmat.blind_rsa import mgf1_sha384, verify
from anonballot.hazmat.note import b64std_decode, sign_note
from anonballot.manifest import Manifest
from anonballot.opening import open_sealed
from anonballot.receipt import Receipt, read_receipt
from anonballot.sealing import SealedBallot, _randbelow_from, seal
from anonballot.signing import SigningKey, sign_object
from anonballot.tally import strip_comment
from anonballot.tokens import IssuerKey, IssuerPublicKey
from anonballot.trustee import HpkePublicKey, TrusteeKey, TrusteePublic, TrusteeSecret

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import Page

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover - playwright is in the test extra
    HAVE_PLAYWRIGHT = False

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(__file__).parent / "vectors"
HPKE_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


def _unavailable(reason: str) -> NoReturn:
    """Fail: the browser is required (``make test`` installs Debian's chromium)."""
    pytest.fail(f"{reason}; the browser tests need it (make test installs it)")


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def static_url() -> Iterator[str]:
    with static_server() as url:
        yield url


@pytest.fixture(scope="module")
def page(static_url: str) -> Iterator[Page]:
    if not HAVE_PLAYWRIGHT:
        _unavailable("playwright is not installed (pip install playwright)")
    with harness_page(static_url) as pg:
        # 127.0.0.1 is a secure context, so crypto.subtle is available.
        yield pg


def call(page: Page, name: str, *args: Any) -> Any:
    """``await window.harness[name](...args)`` in the page; JSON values in and out."""
    return page.evaluate("([name, args]) => window.harness[name](...args)", [name, list(args)])


def test_harness_exposes_every_module(page: Page) -> None:
    modules = page.evaluate("Object.keys(window.ab).sort()")
    assert modules == sorted(
        [
            "b64u",
            "ballot",
            "bytes",
            "checkpoint",
            "codes",
            "errorCodes",
            "hpke",
            "jcs",
            "leaf",
            "manifest",
            "merkle",
            "note",
            "opening",
            "receipt",
            "releases",
            "rsa",
            "sealing",
            "shamir",
            "signing",
            "tiles",
            "token",
            "witness",
        ]
    )
    assert page.evaluate("isSecureContext") is True


# --------------------------------------------------------------------------- RFC 9474


@functools.cache
def _rfc9474(name: str) -> dict[str, Any]:
    data = json.loads((VECTORS / "rfc9474" / "rfc9474_vectors.json").read_text())
    vectors: dict[str, dict[str, Any]] = {v["name"]: v for v in data["vectors"]}
    return vectors[name]


def _spki(n: int, e: int) -> bytes:
    key = rsa.RSAPublicNumbers(e, n).public_key()
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "name", ["RSABSSA-SHA384-PSS-Randomized", "RSABSSA-SHA384-PSS-Deterministic"]
)
def test_rfc9474_step_by_step(page: Page, name: str) -> None:
    """A.1 (prepare with the vector prefix) and A.3 (identity): encode with the vector salt,
    blind with r = inv^-1, finalize the vector's blind signature, verify."""
    v = _rfc9474(name)
    der = _spki(int(v["n"], 16), int(v["e"], 16))
    out = call(page, "rfc9474", v, der.hex())
    assert out["n"] == v["n"].lstrip("0")
    assert (out["e"], out["modBits"]) == (65537, 4096)
    assert out["prepared"] == v["prepared_msg"]
    assert out["encoded"] == v["encoded_msg"]
    assert out["blinded"] == v["blinded_msg"]
    assert out["inv"] == v["inv"]
    assert out["sig"] == v["sig"]
    assert out["verifies"] is True
    assert out["webcrypto"] is True  # WebCrypto's own RSA-PSS (salt 48) agrees
    assert out["tamperedSigVerifies"] is False
    assert out["otherMessageVerifies"] is False
    assert out["tamperedFinalize"]["ok"] is False
    assert out["tamperedFinalize"]["code"] == "bad_token"


def test_pss_salt_length_is_exactly_48(page: Page) -> None:
    """RSASSA-PSS signatures with another salt length, hash or MGF do not verify as tokens."""
    v = _rfc9474("RSABSSA-SHA384-PSS-Randomized")
    p, q, n, d = (int(v[k], 16) for k in ("p", "q", "n", "d"))
    private = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(65537, n),
    ).private_key()
    der = _spki(n, 65537)
    msg = bytes.fromhex(v["prepared_msg"])
    sha384, sha256 = hashes.SHA384(), hashes.SHA256()
    variants = [(48, sha384, sha384, True)] + [
        (salt, h, mgf, False)
        for salt, h, mgf in [
            (0, sha384, sha384),
            (32, sha384, sha384),
            (47, sha384, sha384),
            (49, sha384, sha384),
            (64, sha384, sha384),
            (48, sha256, sha256),
            (48, sha384, sha256),
        ]
    ]
    for salt, h, mgf, valid in variants:
        sig = private.sign(msg, padding.PSS(padding.MGF1(mgf), salt), h)
        assert call(page, "rsaVerify", der.hex(), msg.hex(), sig.hex()) is valid, salt
        try:
            verify(private.public_key(), msg, sig)
            python_ok = True
        except AnonBallotError:
            python_ok = False
        assert python_ok is valid


def _raw_pss(
    msg: bytes, em_len: int, *, sep: int = 1, ps_byte: int = 0, top: int = 0, trailer: int = 0xBC
) -> bytes:
    """EMSA-PSS (SHA-384, salt 48) built by hand, with optional structural faults."""
    salt = os.urandom(48)
    h = hashlib.sha384(bytes(8) + hashlib.sha384(msg).digest() + salt).digest()
    db = bytearray(em_len - 48 - 48 - 2) + bytes([sep]) + salt
    db[5] = ps_byte
    masked = bytearray(a ^ b for a, b in zip(db, mgf1_sha384(h, len(db)), strict=True))
    masked[0] = (masked[0] & 0x7F) | top
    return bytes(masked) + h + bytes([trailer])


def test_pss_structure_is_checked(page: Page) -> None:
    """Encoded messages with a correct hash but a broken structure (signed with raw RSA)."""
    v = _rfc9474("RSABSSA-SHA384-PSS-Randomized")
    n, d = int(v["n"], 16), int(v["d"], 16)
    der = _spki(n, 65537)
    public = IssuerPublicKey(der).to_cryptography()
    msg = bytes.fromhex(v["prepared_msg"])
    variants = {
        "good": _raw_pss(msg, 512),
        "separator 0x02": _raw_pss(msg, 512, sep=2),
        "non-zero padding": _raw_pss(msg, 512, ps_byte=1),
        "top bit set": _raw_pss(msg, 512, top=0x80),
        "trailer 0xbd": _raw_pss(msg, 512, trailer=0xBD),
    }
    for name, em in variants.items():
        m = int.from_bytes(em, "big")
        if m >= n:  # "top bit set" may not be signable; draw again
            continue
        sig = pow(m, d, n).to_bytes(512, "big")
        valid = name == "good"
        assert call(page, "rsaVerify", der.hex(), msg.hex(), sig.hex()) is valid, name
        try:
            verify(public, msg, sig)
            python_ok = True
        except AnonBallotError:
            python_ok = False
        assert python_ok is valid, name


def _rsa_key_of_2049_bits() -> rsa.RSAPrivateKey:
    """OpenSSL rounds key sizes to a multiple of 8 bits, so build one from two primes:
    with the top two bits of both set, p (1025 bits) * q (1024 bits) has exactly 2049."""

    def prime(bits: int) -> int:
        while True:
            top = 3 << (bits - 2)
            candidate = int(gmpy2.next_prime(top | int.from_bytes(os.urandom(bits // 8), "big")))
            if candidate.bit_length() == bits and math.gcd(candidate - 1, 65537) == 1:
                return candidate

    p, q = prime(1025), prime(1024)
    n = p * q
    assert n.bit_length() == 2049
    d = pow(65537, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(65537, n),
    )
    return numbers.private_key()


def test_modulus_of_2049_bits(page: Page) -> None:
    """emBits = modBits - 1 = 2048: the encoded message is one byte shorter than k."""
    private = _rsa_key_of_2049_bits()
    issuer = IssuerKey(private)
    assert issuer.modulus_bytes == 257
    start = call(page, "startRandomBlind", issuer.public_key.to_bytes().hex(), os.urandom(32).hex())
    sig = bytes.fromhex(
        call(page, "finishRandomBlind", issuer.sign_blinded(bytes.fromhex(start["blinded"])).hex())
    )
    assert len(sig) == 257
    verify(issuer.public_key.to_cryptography(), bytes.fromhex(start["prepared"]), sig)
    # a signature whose value s^e mod n does not fit in emLen = 256 bytes
    n = private.public_key().public_numbers().n
    d = private.private_numbers().d
    too_big = pow((1 << 2048) + 12345, d, n).to_bytes(257, "big")
    assert (
        call(
            page, "rsaVerify", issuer.public_key.to_bytes().hex(), start["prepared"], too_big.hex()
        )
        is False
    )


def test_blind_in_browser_sign_in_python(page: Page, issuer_pool: tuple[IssuerKey, ...]) -> None:
    """Fresh random blinding in the browser, BlindSign in Python, Finalize in the browser."""
    issuer = issuer_pool[0]
    msg = os.urandom(32)
    start = call(page, "startRandomBlind", issuer.public_key.to_bytes().hex(), msg.hex())
    prepared = bytes.fromhex(start["prepared"])
    assert prepared[32:] == msg
    blind_sig = issuer.sign_blinded(bytes.fromhex(start["blinded"]))
    sig = bytes.fromhex(call(page, "finishRandomBlind", blind_sig.hex()))
    verify(issuer.public_key.to_cryptography(), prepared, sig)


def test_issuer_key_parsing_agrees_with_python(
    page: Page, issuer_pool: tuple[IssuerKey, ...]
) -> None:
    good = issuer_pool[0].public_key.to_bytes()
    n = issuer_pool[0].public_key.to_cryptography().public_numbers().n
    small = rsa.generate_private_key(65537, 1024).public_key()  # noqa: S505 - must be refused
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    candidates = [
        good,
        _spki(int(_rfc9474("RSABSSA-SHA384-PSS-Randomized")["n"], 16), 65537),  # 4096 bits
        _spki(n, 3),  # wrong exponent
        small.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        p256.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        good + b"\x00",  # trailing data
        good[:-1],  # truncated
        # non-canonical: the outer length written in a longer form (BER, not DER)
        good[:1] + b"\x83\x00" + good[2:4] + good[4:],
    ]
    js = call(page, "parseIssuerKeys", [c.hex() for c in candidates])
    python: list[int | None] = []
    for der in candidates:
        try:
            python.append(IssuerPublicKey(der).bits)
        except EncodingError:
            python.append(None)
    assert [r["value"] if r["ok"] else None for r in js] == python
    assert python[:2] == [2048, 4096]
    assert python[2:] == [None] * (len(candidates) - 2)


# --------------------------------------------------------------------------- RFC 9180


def test_rfc9180_a1_1(page: Page) -> None:
    v: dict[str, Any] = json.loads((VECTORS / "hpke" / "rfc9180_a1_1.json").read_text())
    out = call(page, "rfc9180", v)
    assert (out["skEm"], out["pkEm"]) == (v["skEm"], v["pkEm"])  # DeriveKeyPair
    assert (out["skRm"], out["pkRm"]) == (v["skRm"], v["pkRm"])
    assert out["enc"] == v["enc"]
    assert out["key"] == v["key"]
    assert out["baseNonce"] == v["base_nonce"]
    assert out["exporterSecret"] == v["exporter_secret"]
    assert out["ciphertexts"] == [e["ciphertext"] for e in v["encryptions"]]
    assert out["plaintexts"] == [e["plaintext"] for e in v["encryptions"]]
    assert out["exports"] == [e["exportValue"] for e in v["exports"]]
    # single shot with the fixed ephemeral key reproduces the first encryption
    assert out["singleEnc"] == v["enc"]
    assert out["singleCt"] == v["encryptions"][0]["ciphertext"]
    assert out["singleOpened"] == v["encryptions"][0]["plaintext"]
    assert out["tamperedOpen"]["ok"] is False
    assert out["wrongInfoOpen"]["ok"] is False


def test_hpke_interoperates_with_python(page: Page) -> None:
    """Shares as sealing.py makes them: browser seal -> Python open, Python seal -> browser open."""
    receiver = X25519PrivateKey.generate()
    sk, pk = receiver.private_bytes_raw(), receiver.public_key().public_bytes_raw()
    info = jcs({"round": "mid-of-a-round", "trustee": "tuyen-giao"})
    share = os.urandom(66)

    sealed = bytes.fromhex(call(page, "hpkeSeal", pk.hex(), info.hex(), share.hex())["value"])
    assert len(sealed) == 114
    assert HPKE_SUITE.decrypt(sealed, receiver, info=info) == share

    from_python = HPKE_SUITE.encrypt(share, receiver.public_key(), info=info)
    opened = call(page, "hpkeOpen", sk.hex(), info.hex(), from_python.hex())
    assert opened == {"ok": True, "value": share.hex()}
    other = X25519PrivateKey.generate().private_bytes_raw()
    assert call(page, "hpkeOpen", other.hex(), info.hex(), from_python.hex())["ok"] is False
    assert call(page, "hpkeOpen", sk.hex(), b"x".hex(), from_python.hex())["ok"] is False


LOW_ORDER_X25519 = [
    "00" * 32,  # 0
    "01" + "00" * 31,  # 1
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  # order 8
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",  # order 8
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p - 1
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p, i.e. 0
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p + 1, i.e. 1
]


@pytest.mark.parametrize("public_key", LOW_ORDER_X25519)
def test_hpke_refuses_low_order_keys(page: Page, public_key: str) -> None:
    """A trustee key whose shared secret is all zero is refused (RFC 9180 7.1.4), as in Python."""
    result = call(page, "hpkeSeal", public_key, "00", "00" * 66)
    assert result["ok"] is False
    with pytest.raises(AnonBallotError):
        seal(
            b"{}",
            round_id="r",
            ward="w",
            trustees=[TrusteePublic("t", HpkePublicKey(bytes.fromhex(public_key)))],
            threshold=1,
        )


# --------------------------------------------------------------------------- Shamir, sealing


class _Stream:
    """The byte source both sides read: the same bytes in the same order."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def __call__(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def test_shamir_matches_python(page: Page) -> None:
    stream = os.urandom(66 * 8)
    secret = int.from_bytes(os.urandom(32), "big")
    python = shamir.split(secret, 3, 5, randbelow=_randbelow_from(_Stream(stream)))
    js = call(page, "shamirSplit", format(secret, "x"), 3, 5, stream.hex())
    assert js == [shamir.share_to_bytes(y).hex() for y in python]
    for points in ([1, 2, 3], [2, 4, 5], [5, 1, 3]):
        pairs = [[x, js[x - 1]] for x in points]
        assert int(call(page, "shamirInterpolate", pairs, 0), 16) == secret
        assert int(call(page, "shamirInterpolate", pairs, 4), 16) == python[3]


def test_sealing_matches_python(page: Page, trustee_keys: list[TrusteeKey]) -> None:
    """With the same random stream, sealing.js and anonballot.sealing.seal draw the same key,
    nonce and polynomial: same nonce and ct, and every share opens to the same f(i)."""
    mid, ward = "mghM1qf_AVN0uP4hFDsBE2CM84lH6QfEOdGF5-VcIWg", "bo-de"
    plaintext = jcs({"v": 1, "ward": ward, "answers": {"x": "Tốt 👍"}})
    stream = os.urandom(32 + 12 + 66 * 6)
    trustees = [TrusteePublic(t.id, t.hpke_public) for t in trustee_keys]
    python = seal(
        plaintext, round_id=mid, ward=ward, trustees=trustees, threshold=2, rng=_Stream(stream)
    )
    js_json = call(
        page,
        "sealDeterministic",
        plaintext.hex(),
        mid,
        ward,
        [{"id": t.id, "hpke_key": t.hpke_key.to_b64u()} for t in trustees],
        2,
        stream.hex(),
    )
    js = SealedBallot.from_json(js_json, len(trustees))
    assert js.nonce == python.nonce
    assert js.ct == python.ct
    for i, key in enumerate(trustee_keys):
        info = jcs({"round": mid, "trustee": key.id})
        private = key.hpke_private.to_cryptography()
        assert HPKE_SUITE.decrypt(js.shares[i], private, info=info) == HPKE_SUITE.decrypt(
            python.shares[i], private, info=info
        )
    released = [TrusteeSecret(i + 1, k.id, k.hpke_private) for i, k in enumerate(trustee_keys)]
    for chosen in (released[:2], released[1:], released):
        assert open_sealed(js, round_id=mid, ward=ward, released=chosen, threshold=2) == plaintext


# --------------------------------------------------------------------------- RFC 9162


def _merkle_cases(kind: str) -> list[dict[str, Any]]:
    cases = []
    for path in sorted((VECTORS / "merkle" / kind).rglob("*.json")):
        case: dict[str, Any] = json.loads(path.read_text())
        case["name"] = str(path.relative_to(VECTORS / "merkle"))
        cases.append(case)
    return cases


def test_merkle_roots(page: Page) -> None:
    data = json.loads((VECTORS / "merkle" / "leaves_and_roots.json").read_text())
    assert call(page, "merkleRoots", data["leaf_inputs_hex"]) == data["root_hashes_hex_by_size"]


@pytest.mark.parametrize("kind", ["inclusion", "consistency"])
def test_merkle_proof_vectors(page: Page, kind: str) -> None:
    """Every happy path verifies, every wantErr file is rejected (98 files of each kind)."""
    cases = _merkle_cases(kind)
    assert len(cases) == 98
    entry = "merkleInclusion" if kind == "inclusion" else "merkleConsistency"
    results = {r["name"]: r["result"] for r in call(page, entry, cases)}
    wrong = [
        f"{c['name']}: {results[c['name']]}"
        for c in cases
        if results[c["name"]]["ok"] == c["wantErr"]
    ]
    assert wrong == []
    assert sum(not c["wantErr"] for c in cases) >= 6
    rejected = [results[c["name"]] for c in cases if c["wantErr"]]
    assert all(r["code"] == "bad_proof" for r in rejected)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 13, 255, 256, 257, 600])
def test_merkle_root_and_inclusion_agree_with_python(page: Page, size: int) -> None:
    """rootAndInclusion (the receipt-code lookup's) gives the MTH and the inclusion proofs
    of anonballot.hazmat.merkle.MerkleTree, for the first, last and a few middle leaves."""
    from anonballot.hazmat.merkle import MerkleTree, leaf_hash

    hashes = [leaf_hash(b"leaf %d" % i) for i in range(size)]
    tree = MerkleTree(hashes)
    indices = sorted({0, size - 1, size // 2, min(size - 1, 255), (size * 2) // 3})
    out = call(page, "merkleRootAndInclusion", [h.hex() for h in hashes], indices)
    assert out["root"] == tree.root().hex()
    for i, got in zip(indices, out["proofs"], strict=True):
        assert got["root"] == tree.root().hex()
        assert got["proof"] == [p.hex() for p in tree.inclusion_proof(i, size)], i
    assert out["refused"]["ok"] is False  # an index past the last leaf


def test_merkle_root_of_nothing(page: Page) -> None:
    out = call(page, "merkleRootAndInclusion", [], [])
    assert out["root"] == hashlib.sha256(b"").hexdigest()


# --------------------------------------------------------------------------- tlog-tiles


TILE_INDICES = [0, 1, 255, 256, 999, 1000, 1234067, 10**9, 2**53 - 1]


def test_tile_paths_are_those_of_python(page: Page) -> None:
    """tiles.js names tiles as anonballot.hazmat.tiles.TilePath does (c2sp.org/tlog-tiles):
    1234067 is x001/x234/067; and a tree's level-0 tiles are those of tiles_for_size."""
    from anonballot.hazmat.tiles import TilePath, tiles_for_size

    cases: list[tuple[int, int, int | None]] = [(0, n, None) for n in TILE_INDICES]
    cases += [(0, 1234067, 5), (2, 999, 255), (63, 1000, None)]
    sizes = [0, 1, 255, 256, 257, 512, 1000]
    out = call(page, "tilePaths", cases, sizes)
    expected = [TilePath(level, n, width).path() for level, n, width in cases]
    assert out["paths"] == expected
    assert out["paths"][TILE_INDICES.index(1234067)] == "tile/0/x001/x234/067"
    for size, got in zip(sizes, out["levelZero"], strict=True):
        level0 = [t for t in tiles_for_size(size) if t.level == 0]
        assert [t["path"] for t in got] == [t.path() for t in level0], size
        assert [t["width"] for t in got] == [t.count for t in level0], size
        assert sum(t["width"] for t in got) == size


def test_witnesses_cosignatures_are_read_as_in_python(page: Page) -> None:
    """witness.js finds the same cosigners as anonballot.witness.WitnessPolicy: valid lines
    by named witnesses only; a forged line, a stranger's and the log's own are ignored."""
    from anonballot.checkpoint import Checkpoint
    from anonballot.signing import SigningKey
    from anonballot.witness import PolicyWitness, WitnessKey, WitnessPolicy

    log = SigningKey.generate()
    note = Checkpoint("district.example/log/r", 7, bytes(range(32))).sign(log)
    keys = [WitnessKey.generate(f"nhan-chung.w{i}") for i in range(3)]
    policy = WitnessPolicy(
        tuple(PolicyWitness(k.verifier, f"https://w{i}.example") for i, k in enumerate(keys)), 2
    )
    good = keys[0].cosign(note, 1_800_000_000)
    forged = keys[1].cosign(note, 1_800_000_001)
    forged = forged[:20] + ("A" if forged[20] != "A" else "B") + forged[21:]
    stranger = WitnessKey.generate("nhan-chung.w2").cosign(note, 5)  # w2's name, not its key
    signed = note + good + forged + stranger + keys[2].cosign(note, 7)
    expected = [w.name for w in policy.cosigners(signed)]
    assert expected == ["nhan-chung.w0", "nhan-chung.w2"]
    out = call(page, "witnessVouchers", signed, policy.to_json())
    assert out == {"ok": True, "value": expected}
    assert call(page, "witnessVouchers", note, policy.to_json())["value"] == []
    assert call(page, "witnessVouchers", note, None)["value"] is None
    bad = dict(policy.to_json())
    bad["list"] = [{"vkey": keys[0].vkey()[:-4] + "AAA=", "url": "https://x.example"}]
    assert call(page, "witnessVouchers", note, bad)["ok"] is False


def test_the_downloaded_proof_carries_the_witnesses_cosignatures(
    page: Page, make_round: Any
) -> None:
    """receipt.js cosignedReceipt (the booth's tlog-proof download) moves a receipt to a
    later checkpoint only when a quorum of the round's witnesses cosigned it and the proof
    verifies, as anonballot.receipt.with_checkpoint does; otherwise the receipt stands."""
    from anonballot.receipt import with_checkpoint
    from anonballot.witness import PolicyWitness, WitnessKey, WitnessPolicy

    keys = [WitnessKey.generate(f"nhan-chung.w{i}") for i in range(3)]
    policy = WitnessPolicy(
        tuple(PolicyWitness(k.verifier, f"https://w{i}.example") for i, k in enumerate(keys)), 2
    )
    demo = make_round(wards=1, voters=3, witnesses=policy)
    _, first = demo.cast(0)
    demo.cast(1)
    demo.cast(2)
    note = demo.engine.checkpoint()
    cosigned = note + keys[0].cosign(note, 100) + keys[2].cosign(note, 101)
    proof = demo.engine.inclusion_proof(first.leaf_index, 3)
    expected = with_checkpoint(first, demo.manifest, cosigned, proof).to_json()
    text = jcs(demo.signed).decode()
    b64 = [b64u_encode(p) for p in proof]
    out = call(page, "cosignedReceipts", text, first.to_json(), cosigned, b64)
    assert out == {"value": expected, "asked": [[first.leaf_index, 3]]}
    one = note + keys[0].cosign(note, 100)  # below the quorum: the receipt stands
    assert (
        call(page, "cosignedReceipts", text, first.to_json(), one, b64)["value"] == first.to_json()
    )
    wrong = [b64u_encode(bytes(32))] * len(proof)  # a proof that does not verify
    assert call(page, "cosignedReceipts", text, first.to_json(), cosigned, wrong)["value"] == (
        first.to_json()
    )


def test_entry_bundles_are_read_as_python_writes_them(page: Page) -> None:
    from anonballot.hazmat.tiles import encode_entry_bundle

    leaves = [b"", b"x", bytes(range(256)) * 3]
    bundle = encode_entry_bundle(leaves)
    out = call(page, "entryBundles", [[0, 1], [255, 256], [256, 300], [1234067, 1234100]],
               bundle.hex(), 3)  # fmt: skip
    assert out["parsed"] == {"ok": True, "value": [list(leaf) for leaf in leaves]}
    assert out["places"] == [
        {"path": "tile/entries/000.p/1", "width": 1, "offset": 0},
        {"path": "tile/entries/000", "width": 256, "offset": 255},
        {"path": "tile/entries/001.p/44", "width": 44, "offset": 0},
        {"path": "tile/entries/x004/820.p/180", "width": 180, "offset": 1234067 % 256},
    ]
    short = call(page, "entryBundles", [], bundle[:-1].hex(), 3)
    assert short["parsed"]["ok"] is False


def test_tiles_are_read_a_few_at_a_time(page: Page) -> None:
    from anonballot.hazmat.tiles import TilePath

    out = call(page, "readTiles", 256 * 20 + 7, 6, None)
    assert out["ok"] is True
    assert out["placed"] is True
    assert out["asked"] == sorted(
        [TilePath(0, n).path() for n in range(20)] + [TilePath(0, 20, 7).path()]
    )
    assert 1 < out["most"] <= 6
    bad = call(page, "readTiles", 600, 6, "tile/0/001")
    assert (bad["ok"], bad["code"]) == (False, "bad_encoding")
    too_big = call(page, "readTiles", 4_000_001, 6, None)
    assert (too_big["ok"], too_big["code"], too_big["asked"]) == (False, "invalid_input", [])


def test_receipt_codes_are_normalized_as_in_python(page: Page) -> None:
    from anonballot.errors import AnonBallotError as Refused
    from anonballot.receipt import normalize_receipt_code

    typed = [
        "5325-b155-d3ed-52f1-fe53",
        "5325B155D3ED52F1FE53",
        " 5325 b155 D3ED 52f1\tfe53 ",
        "5325-b155-d3ed-52f1-fe5",
        "5325-b155-d3ed-52f1-fe53-0",
        "5325-b155-d3ed-52f1-fe5g",
        "",
    ]
    got = page.evaluate("ts => ts.map((t) => window.ab.receipt.normalizeReceiptCode(t))", typed)
    for text, js in zip(typed, got, strict=True):
        try:
            expected: str | None = normalize_receipt_code(text)
        except Refused:
            expected = None
        assert js == expected, text


# --------------------------------------------------------------------------- signed notes


def test_checkpoint_vector(page: Page) -> None:
    v: dict[str, Any] = json.loads(
        (VECTORS / "signed-note" / "checkpoint_example.json").read_text()
    )
    out = call(page, "signedNote", v)
    assert out["text"] == v["note_text"]
    assert out["keyId"] == v["key_id_hex"]
    assert out["verifierKey"] == v["verifier_key"]
    assert out["leafHash"] == v["leaf_hash_hex"]
    assert (out["size"], out["root"]) == (1, v["leaf_hash_hex"])  # a one-leaf tree
    for name, result in out["rejects"].items():
        assert result["ok"] is False, name
    assert out["rejects"]["badSignature"]["code"] == "bad_signature"
    assert out["rejects"]["otherKey"]["code"] == "bad_signature"
    assert out["rejects"]["controlChar"]["code"] == "bad_encoding"
    assert out["witnessIgnored"] == {"ok": True, "value": v["note_text"]}


def test_checkpoint_bodies_agree_with_python(page: Page) -> None:
    """Exactly three canonical lines: extension lines, padded sizes, wrong roots are refused."""
    key = SigningKey(bytes(range(32)))
    origin = "district.example/long-bien-2026-11"
    root = base64.b64encode(bytes([0xFB] * 32)).decode()  # "+/v7...": both + and /
    assert "+" in root
    assert "/" in root
    assert root[-2] == "s"
    texts = [
        f"{origin}\n3\n{root}\n",
        f"{origin}\n0\n{root}\n",
        f"{origin}\n18446744073709551615\n{root}\n",
        f"{origin}\n18446744073709551616\n{root}\n",
        f"{origin}\n03\n{root}\n",
        f"{origin}\n-1\n{root}\n",
        f"{origin}\n3\n{root}\nextension line\n",
        f"other.example/log\n3\n{root}\n",
        f"{origin}\n3\n{root.replace('+', '-').replace('/', '_')}\n",
        f"{origin}\n3\n{base64.b64encode(bytes(31)).decode()}\n",
        f"{origin}\n3\n{root[:-2]}t=\n",  # "s" is the canonical last character: stray bits
        f"{origin}\n3\n",
    ]
    notes = [sign_note(t, origin, key) for t in texts]
    js = call(page, "checkpointCases", notes, origin, key.public_key.to_b64u())
    python: list[dict[str, str] | None] = []
    for note in notes:
        try:
            cp = Checkpoint.parse(note, origin, key.public_key)
            python.append({"size": str(cp.size), "root": cp.root.hex()})
        except AnonBallotError:
            python.append(None)
    assert [r["value"] if r["ok"] else None for r in js] == python
    assert [r is not None for r in python] == [True] * 3 + [False] * (len(texts) - 3)


# --------------------------------------------------------------------------- JCS, base64

JCS_VALUES: list[Any] = [
    {"vi": "Tốt", "en": "Good"},
    "Quận Long Biên: Bồ Đề, Gia Thụy, Ngọc Lâm, Phúc Đồng",
    '\u0000\u0001\u0008\u0009\u000a\u000b\u000c\u000d\u001e\u001f\u007f"\\/',
    "😀 emoji 👍🏽 family 👨‍👩‍👧 flag 🇻🇳",
    "\u2028\u2029\ufeff\u00a0\u3000",
    {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    },  # RFC 8785 section 3.2.3's sorting example: UTF-16 order puts the emoji before U+FB33
    {"\uff61": 1, "😀": 2, "a": 3, "\u00e9": 4, "Tốt": 5, "": 6, "\U00010000": 7},
    [0, -1, 1, 9007199254740991, -9007199254740991, 1000000, -0],
    {"a": {"b": [1, {"c": None, "d": True, "e": False}], "f": {}, "g": []}, "h": "x"},
    {
        "v": 1,
        "ward": "bo-de",
        "answers": {
            "bo-de-secretary": {
                "ratings": {"ban-linh": "tot", "dao-duc": "khong-danh-gia"},
                "comments": {"uu-diem": 'Gần dân,\tgương mẫu.\n"Tốt" 👍'},
            }
        },
    },
]
JCS_TEXTS: list[bytes] = [
    *(json.dumps(v, ensure_ascii=True).encode() for v in JCS_VALUES),
    *(json.dumps(v, ensure_ascii=False, indent=2).encode() for v in JCS_VALUES),
    b"[" * 32 + b"]" * 32,
    b"[" * 33 + b"]" * 33,
    b' \t\r\n{ "b" : [ 1 , 2 ] , "a" : -0 } \n',
    b'"\\ud83d\\ude00 \\u00e9 \\u0041 \\/"',
    b'"\\ud800"',  # lone surrogate
    b'"\\udc00x"',
    '"a\u0301"'.encode(),  # NFD
    '{"e\u0301": 1}'.encode(),  # NFD member name
    b"1.0",
    b"1e3",
    b"1E3",
    b"-0.0",
    b"9007199254740992",
    b"-9007199254740992",
    b"12345678901234567",
    b"00",
    b"01",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b'{"a":1,"a":2}',
    b'{"a":1,"b":{"c":1,"c":1}}',
    b"[1,]",
    b'{"a":1,}',
    b'"\\x"',
    b'"a\tb"',  # raw control character
    b"\xef\xbb\xbf{}",  # BOM
    b'"\xff"',  # not UTF-8
    b'"\xed\xa0\x80"',  # an encoded surrogate
    b'"\xc0\xaf"',  # overlong
    b"",
    b"true false",
    b"{}x",
    b"'a'",
    b"[1]\x00",
    b'"\\u12"',
    b"tru",
    b"nul",
]


def _python_jcs(data: bytes) -> str | None:
    try:
        return jcs(parse_json(data)).hex()
    except EncodingError:
        return None


def test_jcs_matches_python(page: Page) -> None:
    js = call(page, "jcsCases", [t.hex() for t in JCS_TEXTS])
    python = [_python_jcs(t) for t in JCS_TEXTS]
    mismatches = [
        (t, js_out, py_out)
        for t, js_out, py_out in zip(JCS_TEXTS, js, python, strict=True)
        if js_out != py_out
    ]
    assert mismatches == []
    assert sum(r is None for r in python) >= 30  # the rejections are exercised
    assert sum(r is not None for r in python) >= 20


def test_jcs_rejects_what_only_javascript_can_express(page: Page) -> None:
    assert call(page, "jcsJsOnly") == []


B64_CASES = [
    ["u", ""],
    ["u", "AA"],
    ["u", "AB"],  # stray bits
    ["u", "AAA"],
    ["u", "AAE"],  # stray bits
    ["u", "AAAA"],
    ["u", "A"],
    ["u", "AA=="],  # padding
    ["u", "+/8"],  # standard alphabet
    ["u", "-_8"],
    ["u", "A A"],
    ["s", "AA=="],
    ["s", "AB=="],
    ["s", "AA"],
    ["s", "-_8="],
    ["s", "+/8="],
    ["s", "AAA="],
    ["s", "AAB="],
    ["s", "AAAA"],
    ["s", "=AAA"],
]


def test_base64_strictness_matches_python(page: Page) -> None:
    python: list[str | None] = []
    for kind, text in B64_CASES:
        try:
            python.append((b64u_decode(text) if kind == "u" else b64std_decode(text)).hex())
        except EncodingError:
            python.append(None)
    assert call(page, "b64Cases", B64_CASES) == python
    assert python.count(None) >= 10


# --------------------------------------------------------------------------- the booth


def _answers(demo_manifest: Manifest, ward: str) -> dict[str, Any]:
    """Every rating level used somewhere, a comment with surrounding white space, and a
    comment that is only white space (dropped by the booth)."""
    q = demo_manifest.questionnaire
    levels = list(q.answer_ids)
    answers: dict[str, Any] = {}
    for s_index, subject in enumerate(demo_manifest.subjects_of(ward)):
        ratings = {
            c.id: levels[(c_index + s_index) % len(levels)] for c_index, c in enumerate(q.criteria)
        }
        comments = {}
        if q.comments:
            comments[q.comments[0].id] = f"  Cán bộ gương mẫu, gần dân 👍 ({subject.id})\u3000"
        if len(q.comments) > 1:
            comments[q.comments[1].id] = " \u3000\n"
        answers[subject.id] = {"ratings": ratings, "comments": comments}
    return answers


def test_browser_leaf_is_cast_and_counted(page: Page, make_round: RoundFactory) -> None:
    """The whole participant side in the browser: the engine accepts the leaf, the receipt
    verifies in the browser, and the Python tally opens a valid ballot with these ratings."""
    demo = make_round(wards=1, voters=2, threshold=2)
    code, ward = demo.roster[0]
    manifest_text = jcs(demo.signed).decode("utf-8")

    started = call(page, "boothStart", manifest_text, ward)
    assert started["mid"] == demo.engine.mid
    blind_sig = demo.engine.issue(code, b64u_decode(started["blinded"]))

    answers = _answers(demo.manifest, ward)
    finished = call(page, "boothFinish", b64u_encode(blind_sig), answers)
    expected_ballot = make_ballot(ward, answers)
    validate_ballot(expected_ballot, demo.manifest, ward)
    assert finished["ballot"].encode("utf-8") == jcs(expected_ballot)

    leaf = finished["leaf"].encode("utf-8")
    receipt = demo.engine.cast(leaf)
    assert receipt.leaf_index == 0
    assert call(page, "boothReceipt", receipt.to_json()) == {"code": receipt.code, "size": 1}

    demo.cast(1)  # a second participant, with the Python client
    results = demo.finish()
    assert results["invalid"] == []
    assert results["wards"][ward]["ballots"] == results["wards"][ward]["valid"] == 2
    python_answers = demo.answers(ward, 1)
    for subject, answer in answers.items():
        counted = results["subjects"][subject]
        for criterion, level in answer["ratings"].items():
            mine = 1
            other = int(python_answers[subject]["ratings"][criterion] == level)
            assert counted["criteria"][criterion][level] == mine + other
        for field in demo.manifest.questionnaire.comments:
            texts = [a[subject]["comments"].get(field.id, "") for a in (answers, python_answers)]
            expected = sorted(t for t in map(strip_comment, texts) if t)
            assert counted["comments"][field.id] == expected
        first = demo.manifest.questionnaire.comments[0].id
        assert f"Cán bộ gương mẫu, gần dân 👍 ({subject})" in counted["comments"][first]


def test_manifest_signature_is_checked(page: Page, make_round: RoundFactory) -> None:
    demo = make_round(wards=1, voters=1)
    good = jcs(demo.signed).decode("utf-8")
    altered = json.loads(good)
    altered["manifest"]["threshold"] = 1
    other_signer = sign_object("manifest", demo.signed["manifest"], SigningKey.generate())
    extra = {**demo.signed, "note": "x"}
    results = call(
        page,
        "manifestCases",
        [good, jcs(altered).decode(), jcs(other_signer).decode(), jcs(extra).decode()],
    )
    assert results[0] == {"ok": True, "value": demo.engine.mid}
    assert [r["ok"] for r in results[1:]] == [False, False, False]
    assert results[1]["code"] == results[2]["code"] == "bad_signature"


def test_ballot_validation_agrees_with_python(page: Page, make_round: RoundFactory) -> None:
    demo = make_round(wards=1, voters=1)
    ward = demo.roster[0][1]
    good: dict[str, Any] = make_ballot(ward, _answers(demo.manifest, ward))
    subject = next(iter(good["answers"]))
    criterion = next(iter(good["answers"][subject]["ratings"]))
    field = demo.manifest.questionnaire.comments[0]

    def variant(path: list[str], value: Any) -> dict[str, Any]:
        b: dict[str, Any] = json.loads(json.dumps(good))
        target = b
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return b

    cases = [
        good,
        variant(["v"], 2),
        variant(["ward"], "other"),
        variant(["answers", subject, "ratings", criterion], "not-a-level"),
        variant(["answers", subject, "comments", "not-a-field"], "x"),
        variant(["answers", subject, "comments", field.id], "e\u0301"),
        variant(["answers", subject, "comments", field.id], "😀" * field.max_chars),
        variant(["answers", subject, "comments", field.id], "😀" * (field.max_chars + 1)),
        variant(["answers", "not-a-subject"], good["answers"][subject]),
        variant(["answers", subject, "extra"], 1),
    ]
    js = call(page, "ballotCases", jcs(demo.signed).decode(), ward, cases)
    python: list[str | None] = []
    for case in cases:
        try:
            validate_ballot(case, demo.manifest, ward)
            python.append(None)
        except AnonBallotError:
            python.append("invalid_content")
    assert js == python
    assert python.count(None) == 2


# --------------------------------------------------------------------------- receipts


def _flip_b64u(text: str) -> str:
    data = bytearray(b64u_decode(text))
    data[0] ^= 1
    return b64u_encode(bytes(data))


def _tampered(receipt: dict[str, Any], other_leaf_hash: str) -> dict[str, dict[str, Any]]:
    note = receipt["checkpoint"]
    body, _, sig_line = note[:-1].rpartition("\n")
    blob = bytearray(base64.b64decode(sig_line.rsplit(" ", 1)[1]))
    blob[20] ^= 1
    bad_sig = note.replace(sig_line.rsplit(" ", 1)[1], base64.b64encode(bytes(blob)).decode())
    lines = note.split("\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[0] ^= 1
    bad_root = note.replace(lines[2], base64.b64encode(bytes(root)).decode())
    return {
        "leaf_hash": {**receipt, "leaf_hash": _flip_b64u(receipt["leaf_hash"])},
        "other_leaf_hash": {**receipt, "leaf_hash": other_leaf_hash},
        "leaf_index": {**receipt, "leaf_index": receipt["leaf_index"] + 1},
        "inclusion_element": {
            **receipt,
            "inclusion": [_flip_b64u(receipt["inclusion"][0]), *receipt["inclusion"][1:]],
        },
        "inclusion_removed": {**receipt, "inclusion": receipt["inclusion"][1:]},
        "inclusion_added": {**receipt, "inclusion": [*receipt["inclusion"], receipt["leaf_hash"]]},
        "checkpoint_signature": {**receipt, "checkpoint": bad_sig},
        "checkpoint_root": {**receipt, "checkpoint": bad_root},
        "checkpoint_size": {**receipt, "checkpoint": note.replace("\n3\n", "\n4\n", 1)},
        "checkpoint_unsigned": {**receipt, "checkpoint": body + "\n"},
        "round": {**receipt, "round": "A" * 43},
        "extra_member": {**receipt, "note": "x"},
        "index_as_text": {**receipt, "leaf_index": str(receipt["leaf_index"])},
    }


def test_engine_receipts_verify_in_the_browser(page: Page, make_round: RoundFactory) -> None:
    demo = make_round(wards=1, voters=3)
    cast = [demo.cast(i) for i in range(3)]
    leaves = [p.leaf for p, _ in cast]
    assert all(leaf is not None for leaf in leaves)
    receipts: list[dict[str, Any]] = [r.to_json() for _, r in cast]
    # a receipt of the first leaf against the latest checkpoint (size 3): a longer proof
    latest: dict[str, Any] = demo.engine.board.receipt(0, demo.engine.checkpoint(), 3).to_json()
    assert len(latest["inclusion"]) == 2
    other_key = Checkpoint(demo.manifest.origin, 3, demo.engine.board.tree.root(3))

    cases: list[tuple[str, dict[str, Any], bytes | None, bool]] = [
        *((f"receipt {i}", r, leaves[i], True) for i, r in enumerate(receipts)),
        ("receipt 0 without its leaf", receipts[0], None, True),
        ("latest checkpoint", latest, leaves[0], True),
        ("someone else's leaf", receipts[0], leaves[1], False),
        (
            "checkpoint by another key",
            {**latest, "checkpoint": other_key.sign(SigningKey.generate())},
            None,
            False,
        ),
    ]
    for name, tampered in _tampered(latest, receipts[1]["leaf_hash"]).items():
        cases.append((f"tampered {name}", tampered, None, False))

    js = call(
        page,
        "receipts",
        jcs(demo.signed).decode(),
        [
            {"receipt": r, "leaf": None if leaf is None else leaf.decode()}
            for _, r, leaf, _ in cases
        ],
    )
    for (name, receipt, leaf, valid), result in zip(cases, js, strict=True):
        assert result["ok"] is valid, (name, result)
        try:  # the Python library reaches the same verdict
            Receipt.from_json(receipt).verify(demo.manifest, leaf)
            python_ok = True
        except AnonBallotError:
            python_ok = False
        assert python_ok is valid, name
        if valid:
            assert result["value"] == Receipt.from_json(receipt).code


def test_protocol_worked_example_receipt(page: Page) -> None:
    """The receipt of protocol section 6.7 with the log key of section 6.6 (seed 00..1f)."""
    log_key = SigningKey(bytes(range(32)))
    assert log_key.public_key.to_b64u() == "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
    receipt = {
        "round": "mghM1qf_AVN0uP4hFDsBE2CM84lH6QfEOdGF5-VcIWg",
        "leaf_index": 2,
        "leaf_hash": "UyWxVdPtUvH-U576wcPGdnhyZOLAKqwgUKBODvyrHEw",
        "checkpoint": (
            "district.example/long-bien-2026-11\n3\n"
            "u13uoc/WCisS6SlIV0Nz2F/do8l7YplpuCyubDx01G8=\n\n"
            "\u2014 district.example/long-bien-2026-11 RsiS2rfT35NLYhWDpvsXxve2z4YUiMUrQ/G3qDL"
            "N/B6j8SqvUxdmwrNyIqgWW+KJcUPZbIR01/Xavycr1Rkq/k2Fbws=\n"
        ),
        "inclusion": ["DuKH_SuRRBUwoMoolFFzXNal_pw_SKPri2OvdFGWpCU"],
    }
    args = (receipt["round"], "district.example/long-bien-2026-11", log_key.public_key.to_b64u())
    assert call(page, "receiptWithKey", receipt, *args) == {
        "ok": True,
        "value": "5325-b155-d3ed-52f1-fe53",
    }
    moved = {**receipt, "leaf_index": 1}
    assert call(page, "receiptWithKey", moved, *args)["ok"] is False


def test_the_tlog_proof_is_the_same_in_the_browser(page: Page, make_round: RoundFactory) -> None:
    """receipt.js toTlogProof writes byte for byte what Receipt.to_tlog_proof writes."""
    demo = make_round(wards=1, voters=3)
    receipts = [demo.cast(i)[1] for i in range(3)]
    for receipt in receipts:
        js = page.evaluate("value => window.ab.receipt.toTlogProof(value)", receipt.to_json())
        assert js == receipt.to_tlog_proof()
        assert read_receipt(js.encode()) == receipt


# --------------------------------------------------------------------------- the leaf cap


def test_leaf_size_is_the_python_library_s(page: Page) -> None:
    """leaf.js's size of a leaf before sealing (protocol section 6.3) is anonballot.leaf's."""
    from anonballot.leaf import MAX_LEAF_SIZE, leaf_size

    assert page.evaluate("window.ab.leaf.MAX_LEAF_SIZE") == MAX_LEAF_SIZE == 65_535
    for ward, trustees, plaintext, sig in [
        ("bo-de", 3, 0, 256),
        ("thuong-thanh", 3, 40_000, 384),
        ("a", 1, 1, 512),
        ("phuc-dong", 7, 65_520, 512),
        ("x-1", 5, 12_345, 257),
    ]:
        sizes = {"ward": ward, "trustees": trustees, "plaintextLength": plaintext, "sigLength": sig}
        expected = leaf_size(ward=ward, trustees=trustees, plaintext_size=plaintext, sig_size=sig)
        assert page.evaluate("s => window.ab.leaf.leafSize(s)", sizes) == expected, sizes
