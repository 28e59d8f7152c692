"""Generate the anonballot v1 conformance suite (this folder), reproducibly.

    .venv/bin/python tests/vectors/anonballot-v1/generate.py [--out FOLDER]

Every random value comes from a SHA-256 counter-mode generator seeded with :data:`SEED`
(:class:`Drbg`), one named stream per purpose, fed to the library's ``rng`` parameters and
explicit test inputs (RFC 9474 prefix, salt and blind ``r``; Shamir coefficients; HPKE
ephemeral keys). Ed25519 signatures are deterministic. The RSA issuer keys cannot be derived
from a seed by pyca/cryptography, so they are fixed key material in ``keys/`` (made once when
missing, read back on every later run). Running the script again writes byte-identical files;
``tests/test_conformance.py`` checks that.

The expected values are what the Python implementation computes; ``README.md`` says what each
file holds. Every use of the ``anonballot`` package is in the section "the library" below, so
that a change of its module layout touches one place.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import math
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

# --------------------------------------------------------------------------- the library
from anonballot.audit import audit_record
from anonballot.checkpoint import Checkpoint
from anonballot.codes import code_hash, generate_code, normalize_code, pseudonym
from anonballot.district import District, Role, Subject, Ward
from anonballot.encoding import b64u_encode, jcs, parse_json
from anonballot.engine import Round
from anonballot.errors import AnonBallotError
from anonballot.hazmat import blind_rsa, shamir
from anonballot.hazmat.merkle import leaf_hash
from anonballot.hazmat.note import key_id, sign_note
from anonballot.leaf import build_leaf
from anonballot.manifest import Manifest, RoundConfig, Window
from anonballot.questionnaire import CommentField, Criterion, Questionnaire, ScaleLevel
from anonballot.receipt import Receipt, receipt_code
from anonballot.record import write_record
from anonballot.sealing import SealedBallot, seal
from anonballot.signing import SigningKey
from anonballot.storage import MemoryStore
from anonballot.tokens import IssuerKey, Token, TokenRequest
from anonballot.trustee import HpkePrivateKey, TrusteeKey, TrusteePublic

# ---------------------------------------------------------------------------

HERE = Path(__file__).resolve().parent
KEYS = HERE / "keys"
SEED = b"anonballot/v1/conformance"
P = 2**521 - 1
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


class Drbg:
    """SHA-256 in counter mode: block ``i`` is ``SHA-256(SEED || 0x00 || label || 0x00 ||
    i as 8 bytes, big-endian)``; the stream is the blocks in order. One label per purpose, so
    that adding a vector never shifts another one's bytes."""

    def __init__(self, label: str) -> None:
        self.prefix = SEED + b"\x00" + label.encode("ascii") + b"\x00"
        self.counter = 0
        self.buffer = b""

    def __call__(self, n: int) -> bytes:
        while len(self.buffer) < n:
            block = self.prefix + self.counter.to_bytes(8, "big")
            self.buffer += hashlib.sha256(block).digest()
            self.counter += 1
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def randbits(self, k: int) -> int:
        return int.from_bytes(self((k + 7) // 8), "big") & ((1 << k) - 1)

    def randbelow(self, n: int) -> int:
        while True:
            value = self.randbits(n.bit_length())
            if value < n:
                return value


class Recorder:
    """An ``rng`` that reads a :class:`Drbg` and keeps what it handed out."""

    def __init__(self, source: Drbg) -> None:
        self.source = source
        self.taken = bytearray()

    def __call__(self, n: int) -> bytes:
        data = self.source(n)
        self.taken += data
        return data


def b64u(data: bytes) -> str:
    return b64u_encode(data)


# --------------------------------------------------------------------------- HPKE, fixed skE
#
# cryptography's hpke.Suite draws its own ephemeral key, so shares sealed through it differ on
# every run. This is RFC 9180 base mode single-shot sealing with a given ephemeral private key,
# DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (as tests/test_hpke_vectors.py checks
# against RFC 9180 A.1.1); the library opens every share it makes (test_conformance.py).

_KEM_ID = b"KEM\x00\x20"
_HPKE_ID = b"HPKE\x00\x20\x00\x01\x00\x01"


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    mac = hmac.HMAC(salt or bytes(32), hashes.SHA256())
    mac.update(b"HPKE-v1" + suite + label + ikm)
    return mac.finalize()


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


def hpke_seal_fixed(pk_r: bytes, info: bytes, plaintext: bytes, sk_e: bytes) -> bytes:
    """``enc || ct`` of HPKE base-mode single-shot sealing with the ephemeral key ``sk_e``."""
    ephemeral = X25519PrivateKey.from_private_bytes(sk_e)
    enc = ephemeral.public_key().public_bytes_raw()
    dh = ephemeral.exchange(X25519PublicKey.from_public_bytes(pk_r))
    eae_prk = _labeled_extract(_KEM_ID, b"", b"eae_prk", dh)
    shared = _labeled_expand(_KEM_ID, eae_prk, b"shared_secret", enc + pk_r, 32)
    psk_id_hash = _labeled_extract(_HPKE_ID, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_ID, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_ID, shared, b"secret", b"")
    key = _labeled_expand(_HPKE_ID, secret, b"key", context, 16)
    nonce = _labeled_expand(_HPKE_ID, secret, b"base_nonce", context, 12)
    return enc + AESGCM(key).encrypt(nonce, plaintext, b"")


# --------------------------------------------------------------------------- the round

ROUND_ID = "conformance-v1"
ORIGIN = "conformance.example/anonballot-v1"
ISSUANCE = Window("2026-11-01T08:00:00+07:00", "2026-11-08T00:00:00+07:00")
VOTING = Window("2026-11-08T00:00:00+07:00", "2026-11-15T17:00:00+07:00")
ISSUE_AT = dt.datetime(2026, 11, 3, 2, 0, tzinfo=dt.UTC)
CAST_AT = dt.datetime(2026, 11, 9, 2, 0, tzinfo=dt.UTC)
WARDS = ("bo-de", "gia-thuy")
TRUSTEES = (
    ("tuyen-giao", "Ban Tuyên giáo"),
    ("to-chuc", "Ban Tổ chức"),
    ("kiem-tra", "Ủy ban Kiểm tra"),
)
SHORT_FIELD = 40  # max_chars of "de-xuat": 40 code points, which is 80 UTF-16 units of emoji


def round_config(trustees: list[TrusteeKey]) -> RoundConfig:
    questionnaire = Questionnaire(
        (
            ScaleLevel("tot", {"vi": "Tốt", "en": "Good"}),
            ScaleLevel("kha", {"vi": "Khá", "en": "Fair"}),
            ScaleLevel("kem", {"vi": "Kém", "en": "Poor"}),
        ),
        ScaleLevel("khong-danh-gia", {"vi": "Không đánh giá", "en": "No opinion"}),
        (
            Criterion("dao-duc", {"vi": "Đạo đức, lối sống", "en": "Ethics"}),
            Criterion("nang-luc", {"vi": "Năng lực công tác", "en": "Competence"}),
        ),
        (
            CommentField("uu-diem", {"vi": "Ưu điểm", "en": "Strengths"}, 200),
            CommentField("de-xuat", {"vi": "Đề xuất", "en": "Proposals"}, SHORT_FIELD),
        ),
    )
    roles = (
        Role("bi-thu", {"vi": "Bí thư Đảng ủy phường", "en": "Party secretary"}),
        Role("chu-tich", {"vi": "Chủ tịch UBND phường", "en": "Chairman"}),
    )
    wards = (
        Ward("bo-de", {"vi": "Phường Bồ Đề", "en": "Bồ Đề ward"}),
        Ward("gia-thuy", {"vi": "Phường Gia Thụy", "en": "Gia Thụy ward"}),
    )
    subjects = tuple(
        Subject(f"{w}-{r.id}", w, r.id, {"vi": f"{r.title['vi']} {w} (tên mẫu)"})
        for w in WARDS
        for r in roles
    )
    names = dict(TRUSTEES)
    return RoundConfig(
        round_id=ROUND_ID,
        title={"vi": "Bộ kiểm thử tương thích anonballot v1", "en": "anonballot v1 conformance"},
        origin=ORIGIN,
        issuance=ISSUANCE,
        voting=VOTING,
        questionnaire=questionnaire,
        district=District({"vi": "Quận Thử Nghiệm"}, wards, roles, subjects),
        trustees=tuple(t.public({"vi": names[t.id]}) for t in trustees),
        threshold=2,
        min_group=3,
        # v1 files never change: the manifest states no results_access, as every manifest
        # made before the member existed (protocol section 4.2: read as public)
        results_access=None,
    )


def issuer_keys() -> dict[str, IssuerKey]:
    """The fixed 2048-bit issuer keys of ``keys/``, made once when missing."""
    KEYS.mkdir(exist_ok=True)
    keys = {}
    for ward in WARDS:
        path = KEYS / f"issuer-{ward}.pem"
        if not path.exists():
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            path.write_bytes(
                private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        keys[ward] = IssuerKey.from_pem(path.read_bytes())
    return keys


class Clock:
    def __init__(self) -> None:
        self.now = ISSUE_AT

    def __call__(self) -> dt.datetime:
        return self.now


# --------------------------------------------------------------------------- tokens


@dataclass
class TokenRun:
    """Every value of one issuance (protocol 5.2) with the blinding inputs fixed."""

    ward: str
    issuer: IssuerKey
    voter: SigningKey
    prefix: bytes
    salt: bytes
    r: int
    request: TokenRequest
    blind_sig: bytes
    token: Token

    def to_json(self) -> dict[str, Any]:
        n = self.issuer.public_key.to_cryptography().public_numbers().n
        prepared = self.request.prepared
        encoded = blind_rsa.emsa_pss_encode(prepared, n.bit_length() - 1, self.salt)
        return {
            "ward": self.ward,
            "issuer_key": self.issuer.public_key.to_b64u(),
            "issuer_key_id": self.issuer.key_id,
            "modulus_bits": n.bit_length(),
            "voter_seed_hex": self.voter.seed.hex(),
            "voter_public_key_hex": self.voter.public_key.to_bytes().hex(),
            "prefix_hex": self.prefix.hex(),
            "prepared_hex": prepared.hex(),
            "salt_hex": self.salt.hex(),
            "r_hex": format(self.r, "x"),
            "encoded_message_hex": encoded.hex(),
            "blinded_hex": self.request.blinded.hex(),
            "inv_hex": self.request.inv.hex(),
            "blind_sig_hex": self.blind_sig.hex(),
            "sig_hex": self.token.sig.hex(),
            "token": self.token.to_json(),
        }


def issue_token(engine: Round, code: str, ward: str, rng: Drbg) -> TokenRun:
    issuer = engine.issuer_key(ward)
    public = issuer.public_key.to_cryptography()
    n = public.public_numbers().n
    voter = SigningKey(rng(32))
    prefix = rng(32)
    prepared = blind_rsa.prepare_randomize(voter.public_key.to_bytes(), prefix=prefix)
    salt = rng(blind_rsa.SALT_LENGTH)
    while True:
        r = rng.randbelow(n)
        if r >= 1 and math.gcd(r, n) == 1:
            break
    blinded, inv = blind_rsa.blind(public, prepared, salt=salt, r=r)
    request = TokenRequest(issuer.public_key, prepared, inv, blinded)
    blind_sig = engine.issue(code, blinded)
    token = request.finalize(blind_sig)
    return TokenRun(ward, issuer, voter, prefix, salt, r, request, blind_sig, token)


# --------------------------------------------------------------------------- ballots


@dataclass
class Plan:
    """One leaf of the board: its ward, how its plaintext and ballot are made, the outcome."""

    name: str
    ward: str
    outcome: str
    note: str
    plaintext: Callable[[dict[str, Any]], bytes] | None = None
    """From an honest ballot of the ward to the bytes that are sealed (default: its JCS)."""
    aad_ward: str | None = None
    bad_key: bool = False
    share_value: dict[int, Callable[[int], int]] = field(default_factory=dict)
    share_info: dict[int, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)


def _replace(old: bytes, new: bytes) -> Callable[[dict[str, Any]], bytes]:
    def make(ballot: dict[str, Any]) -> bytes:
        data = jcs(ballot)
        if old not in data:
            raise ValueError(f"{old!r} is not in the ballot")
        return data.replace(old, new, 1)

    return make


def _value(change: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], bytes]:
    def make(ballot: dict[str, Any]) -> bytes:
        changed = change(json.loads(json.dumps(ballot)))
        text = json.dumps(changed, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return text.encode()

    return make


def _first_comment(ballot: dict[str, Any], value: Any) -> dict[str, Any]:
    first = min(ballot["answers"])
    ballot["answers"][first]["comments"]["uu-diem"] = value
    return ballot


def _first_rating(ballot: dict[str, Any], value: str) -> dict[str, Any]:
    first = min(ballot["answers"])
    ballot["answers"][first]["ratings"]["dao-duc"] = value
    return ballot


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


PLANS = [
    Plan("valid", "bo-de", "valid", "an honest ballot (the token, sealed, leaf and receipt "
         "vectors are this leaf)"),
    Plan("valid-comments", "gia-thuy", "valid", "comments whose stripping differs between "
         "languages: U+001F and U+200B are not White_Space (kept), U+3000, U+0085, U+2028 are",
         comments={"uu-diem": "\u3000\x1fGiữ nguyên\u200b\x85", "de-xuat": "\u2028Đúng\u2029"}),
    Plan("share-wrong-info", "bo-de", "share_undecryptable",
         "trustee 2's share is sealed with trustee 3's info", share_info={2: "kiem-tra"}),
    Plan("shares-inconsistent", "gia-thuy", "shares_inconsistent",
         "trustee 3's share is f(3) + 1", share_value={3: lambda v: (v + 1) % P}),
    Plan("bad-key", "bo-de", "bad_key", "f(0) is 2^256 + 7, not a 32-byte key", bad_key=True),
    Plan("undecryptable", "gia-thuy", "undecryptable",
         "ct sealed with the aad of ward bo-de, on a leaf of ward gia-thuy", aad_ward="bo-de"),
    Plan("not-canonical-space", "bo-de", "not_canonical", "the ballot with a space after a colon",
         plaintext=_replace(b'"v":1', b'"v": 1')),
    Plan("not-canonical-float", "gia-thuy", "not_canonical", '"v":1.0, a float',
         plaintext=_replace(b'"v":1', b'"v":1.0')),
    Plan("not-canonical-depth-33", "bo-de", "not_canonical",
         "a comment that is an array, nesting 33 levels (section 2.1 allows 32)",
         plaintext=_value(lambda b: _first_comment(b, _nested(29)))),
    Plan("invalid-content-depth-32", "gia-thuy", "invalid_content",
         "a comment that is an array, nesting exactly 32 levels: canonical, but not a ballot",
         plaintext=_value(lambda b: _first_comment(b, _nested(28)))),
    Plan("not-canonical-nfd", "bo-de", "not_canonical", "a comment in NFD (e + U+0301)",
         plaintext=_value(lambda b: _first_comment(b, "Tre\u0301"))),
    Plan("wrong-ward", "gia-thuy", "wrong_ward", 'a ballot of gia-thuy\'s subjects whose ward '
         'member says "bo-de", on a leaf of ward gia-thuy',
         plaintext=_replace(b'"ward":"gia-thuy"', b'"ward":"bo-de"')),
    Plan("invalid-content-level", "bo-de", "invalid_content", "a rating that is not a level",
         plaintext=_value(lambda b: _first_rating(b, "xuat-sac"))),
    Plan("valid-abstain-emoji", "gia-thuy", "valid",
         "every rating the abstain level and 40 emoji in a 40-character field (80 UTF-16 units)",
         comments={"de-xuat": "\U0001f600" * SHORT_FIELD}),
    Plan("share-above-p", "gia-thuy", "share_undecryptable",
         "trustee 1's share opens to 66 bytes whose value is p + 5",
         share_value={1: lambda v: P + 5}),
    Plan("not-canonical-duplicate", "bo-de", "not_canonical", 'a duplicate member "v"',
         plaintext=_replace(b'"v":1', b'"v":1,"v":1')),
    Plan("not-canonical-surrogate", "gia-thuy", "not_canonical",
         "a comment holding the escaped lone surrogate \\ud800",
         plaintext=_replace(b'"uu-diem":"', b'"uu-diem":"\\ud800')),
    Plan("invalid-content-too-long", "bo-de", "invalid_content",
         "41 code points in a 40-character field", comments={"de-xuat": "ư" * (SHORT_FIELD + 1)}),
    Plan("invalid-content-no-ward", "gia-thuy", "invalid_content",
         "the ballot without its ward member", plaintext=_value(lambda b: {
             "v": b["v"], "answers": b["answers"]})),
    Plan("wrong-ward-number", "bo-de", "wrong_ward", 'ward is the number 7',
         plaintext=_replace(b'"ward":"bo-de"', b'"ward":7')),
    Plan("invalid-content-array", "gia-thuy", "invalid_content", "the ballot inside an array",
         plaintext=lambda b: b"[" + jcs(b) + b"]"),
    Plan("not-canonical-big-int", "bo-de", "not_canonical", "v is 2^53, outside the safe range",
         plaintext=_replace(b'"v":1', b'"v":9007199254740992')),
    Plan("not-canonical-utf8", "gia-thuy", "not_canonical", "a byte 0xFF inside a comment",
         plaintext=_replace(b'"uu-diem":"', b'"uu-diem":"\xff')),
]  # fmt: skip


def honest_ballot(manifest: Manifest, plan: Plan, rng: Drbg) -> dict[str, Any]:
    q = manifest.questionnaire
    levels = list(q.answer_ids)
    answers: dict[str, Any] = {}
    for subject in manifest.subjects_of(plan.ward):
        if plan.name == "valid-abstain-emoji":
            ratings = {c.id: levels[-1] for c in q.criteria}
        else:
            ratings = {c.id: levels[rng.randbelow(len(levels) - 1)] for c in q.criteria}
        comments = {"uu-diem": "Gần dân, gương mẫu."}
        comments.update(plan.comments)
        comments = {k: unicodedata.normalize("NFC", v) for k, v in comments.items()}
        answers[subject.id] = {"ratings": ratings, "comments": comments}
    ballot: dict[str, Any] = {"v": 1, "ward": plan.ward, "answers": answers}
    return ballot


@dataclass
class Sealing:
    """A sealed ballot and every value that made it (protocol 6.2)."""

    sealed: SealedBallot
    rng_stream: bytes
    key: bytes
    nonce: bytes
    coefficients: list[int]
    values: list[int]
    infos: list[bytes]
    ephemerals: list[bytes]
    aad: bytes


def seal_ballot(
    manifest: Manifest, trustees: list[TrusteeKey], plan: Plan, plaintext: bytes, rng: Drbg
) -> Sealing:
    """The library's ``seal`` reads K, the nonce and the Shamir coefficients from ``rng``; the
    shares are then sealed again with ephemeral keys from ``rng``, as only they vary."""
    mid = manifest.mid
    recorder = Recorder(rng)
    publics = [TrusteePublic(t.id, t.hpke_key) for t in manifest.trustees]
    aad_ward = plan.aad_ward or plan.ward
    library = seal(
        plaintext,
        round_id=mid,
        ward=aad_ward,
        trustees=publics,
        threshold=manifest.threshold,
        rng=recorder,
    )
    stream = bytes(recorder.taken)
    key, nonce = stream[:32], stream[32:44]
    values = []
    for t, share in zip(trustees, library.shares, strict=True):
        private = t.hpke_private.to_cryptography()
        opened = _SUITE.decrypt(share, private, info=jcs({"round": mid, "trustee": t.id}))
        values.append(int.from_bytes(opened, "big"))
    coefficients = [int.from_bytes(key, "big")]
    # threshold 2: f(x) = a0 + a1 x, so a1 = f(1) - a0 (mod p)
    coefficients.append((values[0] - coefficients[0]) % P)
    if plan.bad_key:
        coefficients[0] = 2**256 + 7
        values = [shamir.evaluate(coefficients, x) for x in range(1, len(trustees) + 1)]
    for index, change in plan.share_value.items():
        values[index - 1] = change(values[index - 1])
    infos = [
        jcs({"round": mid, "trustee": plan.share_info.get(i, t.id)})
        for i, t in enumerate(trustees, start=1)
    ]
    ephemerals = [rng(32) for _ in trustees]
    shares = tuple(
        hpke_seal_fixed(t.hpke_public.to_bytes(), info, value.to_bytes(66, "big"), sk_e)
        for t, info, value, sk_e in zip(trustees, infos, values, ephemerals, strict=True)
    )
    sealed = SealedBallot(shares=shares, nonce=library.nonce, ct=library.ct)
    aad = jcs({"round": mid, "ward": aad_ward})
    return Sealing(sealed, stream, key, nonce, coefficients, values, infos, ephemerals, aad)


# --------------------------------------------------------------------------- the round run


@dataclass
class Cast:
    plan: Plan
    index: int
    token: TokenRun
    ballot: dict[str, Any]
    plaintext: bytes
    sealing: Sealing
    leaf: bytes
    receipt: Receipt


@dataclass
class RoundRun:
    engine: Round
    trustees: list[TrusteeKey]
    organizer: SigningKey
    log: SigningKey
    roster: list[tuple[str, str]]
    casts: list[Cast]
    final_note: str

    @property
    def manifest(self) -> Manifest:
        return self.engine.manifest


def run_round(record: Path) -> RoundRun:
    keys = Drbg("keys")
    organizer, log = SigningKey(keys(32)), SigningKey(keys(32))
    trustees = [
        TrusteeKey(tid, HpkePrivateKey(keys(32)), SigningKey(keys(32))) for tid, _ in TRUSTEES
    ]
    config = round_config(trustees)
    clock = Clock()
    engine = Round.create(
        MemoryStore(), config, organizer=organizer, log=log, issuer_keys=issuer_keys(), clock=clock
    )
    codes = Drbg("codes")
    # Per ward: one entry per planned leaf, one that takes a token and never casts, and one
    # that never takes part (A9: ballots < issued < eligible).
    roster: list[tuple[str, str]] = []
    for ward in WARDS:
        count = sum(1 for p in PLANS if p.ward == ward) + 2
        roster += [(generate_code(codes.randbits), ward) for _ in range(count)]
    engine.add_invitations(roster)
    engine.open()
    manifest = engine.manifest

    unused = {ward: [c for c, w in roster if w == ward] for ward in WARDS}
    tokens: list[tuple[Plan, TokenRun]] = []
    for n, plan in enumerate(PLANS):
        code = unused[plan.ward].pop(0)
        tokens.append((plan, issue_token(engine, code, plan.ward, Drbg(f"token/{n}"))))
    for ward in WARDS:  # the tokens never cast
        issue_token(engine, unused[ward].pop(0), ward, Drbg(f"token/unused/{ward}"))

    clock.now = CAST_AT
    casts = []
    for n, (plan, token) in enumerate(tokens):
        rng = Drbg(f"ballot/{n}")
        ballot = honest_ballot(manifest, plan, rng)
        plaintext = plan.plaintext(ballot) if plan.plaintext else jcs(ballot)
        sealing = seal_ballot(manifest, trustees, plan, plaintext, rng)
        leaf = build_leaf(manifest.mid, plan.ward, token.token, sealing.sealed, token.voter)
        receipt = engine.cast(leaf)
        index = receipt.leaf_index
        casts.append(Cast(plan, index, token, ballot, plaintext, sealing, leaf, receipt))
    engine.close()
    for key in trustees:
        engine.add_release(key.release(engine.mid))
    engine.tally()

    final_note = engine.checkpoint()
    files = engine.record_files()
    for size in (0, 1, 6, 13):
        note = engine.store.checkpoint_at(size)
        if note is None:
            raise AnonBallotError(f"no checkpoint of size {size}")
        files[f"checkpoints/size-{size:04d}.txt"] = note.encode("utf-8")
    write_record(record, ROUND_ID, files, engine.board_leaves())
    return RoundRun(engine, trustees, organizer, log, roster, casts, final_note)


# --------------------------------------------------------------------------- the vectors


def vector_jcs() -> dict[str, Any]:
    values: list[Any] = [
        {"vi": "Tốt", "en": "Good"},
        '\u0000\u0001\u0008\u0009\u000a\u000b\u000c\u000d\u001e\u001f\u007f"\\/',
        "😀 emoji 👍🏽 family 👨‍👩‍👧 flag 🇻🇳",
        "\u2028\u2029\ufeff\u00a0\u3000",
        {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With "
         "Dagesh", "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
         "\u00f6": "Latin Small Letter O With Diaeresis"},
        {"\uff61": 1, "😀": 2, "a": 3, "\u00e9": 4, "Tốt": 5, "": 6, "\U00010000": 7},
        [0, -1, 1, 9007199254740991, -9007199254740991, 1000000],
        {"a": {"b": [1, {"c": None, "d": True, "e": False}], "f": {}, "g": []}, "h": "x"},
    ]  # fmt: skip
    inputs: list[tuple[bytes, str]] = []
    for v in values:
        inputs.append((json.dumps(v, ensure_ascii=True).encode(), "ASCII escapes, JSON spacing"))
        inputs.append((json.dumps(v, ensure_ascii=False, indent=2).encode(), "indented UTF-8"))
    inputs += [
        (b"[" * 32 + b"1" + b"]" * 32, "32 levels: the deepest allowed"),
        (b"[" * 33 + b"1" + b"]" * 33, "33 levels: too deep (section 2.1)"),
        (b'{"a":' * 32 + b"1" + b"}" * 32, "32 levels of objects"),
        (b'{"a":' * 33 + b"1" + b"}" * 33, "33 levels of objects: too deep"),
        (b' \t\r\n{ "b" : [ 1 , 2 ] , "a" : -0 } \n', "white space and -0"),
        (b'"\\ud83d\\ude00 \\u00e9 \\u0041 \\/ \\u001F"', "escapes that JCS writes otherwise"),
        (b'"\\ud800"', "a lone high surrogate"),
        (b'"\\udc00x"', "a lone low surrogate"),
        ('"a\u0301"'.encode(), "a string in NFD"),
        ('{"e\u0301":1}'.encode(), "a member name in NFD"),
        (b"1.0", "a float"),
        (b"1e3", "an exponent"),
        (b"1E3", "an exponent"),
        (b"-0.0", "a float"),
        (b"9007199254740991", "2^53 - 1: the largest safe integer"),
        (b"9007199254740992", "2^53: outside the safe range"),
        (b"-9007199254740992", "-2^53: outside the safe range"),
        (b"12345678901234567890", "far outside the safe range"),
        (b"00", "a leading zero"),
        (b"01", "a leading zero"),
        (b"NaN", "not JSON"),
        (b"Infinity", "not JSON"),
        (b"-Infinity", "not JSON"),
        (b'{"a":1,"a":2}', "a duplicate member name"),
        (b'{"a":1,"b":{"c":1,"c":1}}', "a nested duplicate member name"),
        (b"[1,]", "a trailing comma"),
        (b'{"a":1,}', "a trailing comma"),
        (b'"\\x"', "an invalid escape"),
        (b'"a\tb"', "a raw control character"),
        (b"\xef\xbb\xbf{}", "a byte order mark"),
        (b'"\xff"', "not UTF-8"),
        (b'"\xed\xa0\x80"', "an encoded surrogate (not UTF-8)"),
        (b'"\xc0\xaf"', "an overlong encoding (not UTF-8)"),
        (b"", "empty"),
        (b"true false", "two values"),
        (b"{}x", "trailing text"),
        (b"'a'", "single quotes"),
        (b'"\\u12"', "a short escape"),
        (b"tru", "a cut-off literal"),
        (b'{"b":1,"a":2}', "members out of order"),
        (b'{"a":2,"b":1}', "canonical"),
        (b'"\\u00e9"', "an escaped letter"),
        (b'"\\u001f"', "a control character, canonical escape"),
    ]
    cases = []
    for data, note in inputs:
        try:
            out: bytes | None = jcs(parse_json(data))
        except AnonBallotError:
            out = None
        case: dict[str, Any] = {"note": note, "input_hex": data.hex()}
        with contextlib.suppress(UnicodeDecodeError):
            case["input"] = data.decode("utf-8")
        case["jcs"] = None if out is None else out.decode("utf-8")
        case["canonical"] = out == data
        cases.append(case)
    return {
        "description": "Canonical JSON (protocol section 2.1). For each input (input_hex, "
        "authoritative; input, the same bytes as text when they are UTF-8): jcs is the JCS of "
        "the value it parses to, or null when the input must be rejected (not strict JSON by "
        "section 2.1: not UTF-8, a float or exponent, an integer outside the safe range, a "
        "duplicate member name, a lone surrogate, a string or member name not in NFC, nested "
        "deeper than 32 levels, or not JSON); canonical is true when the input bytes are "
        "exactly their own JCS.",
        "cases": cases,
    }


def vector_codes(mid: str) -> dict[str, Any]:
    inputs = [
        ("CWZ9-XWVN-FHBT-737G", "printed form"),
        ("CWZ9XWVNFHBT737G", "normal form"),
        ("cwz9-xwvn-fhbt-737g", "lower case"),
        (" CWZ9 XWVN\tFHBT 737G ", "spaces and tabs"),
        ("0OIL-1lio-ABCD-EFGH", "O to 0, I and L to 1, any case"),
        ("CWZ9--XWVN--FHBT--737G", "several dashes"),
        ("CWZ9-XWVN-FHBT-737", "15 characters"),
        ("CWZ9-XWVN-FHBT-737GG", "17 characters"),
        ("CWZ9-XWVN-FHBT-737U", "U is not in the alphabet"),
        ("CWZ9_XWVN_FHBT_737G", "underscores are not removed"),
        ("CWZ9\nXWVN\nFHBT\n737G", "newlines are not removed"),
        ("CWZ9-XWVN-FHBT-737ß", "non-ASCII: ß would upper-case to SS"),
        ("CWZ9-XWVN-FHBT-73ſG", "non-ASCII: long s would upper-case to S"),
        ("ＣＷＺ９ＸＷＶＮＦＨＢＴ７３７Ｇ", "non-ASCII: full-width letters"),
        ("CWZ9-XWVN-FHBT-737G\u00a0", "non-ASCII: no-break space"),
        ("", "empty"),
    ]
    cases = []
    for text, note in inputs:
        case: dict[str, Any] = {"note": note, "input": text}
        try:
            normal: str | None = normalize_code(text)
        except AnonBallotError:
            normal = None
        case["normalized"] = normal
        if normal is not None:
            case["code_hash_hex"] = code_hash(normal).hex()
            case["pseudonym"] = pseudonym(mid, normal)
        cases.append(case)
    return {
        "description": "Invitation codes (protocol 5.1) and ledger pseudonyms (section 8). "
        "normalized is the 16-character normal form, or null when the input must be rejected; "
        "for accepted inputs, code_hash_hex is SHA-256('anonballot/v1/code' || 0x00 || code) "
        "and pseudonym is the ledger entry in the round mid.",
        "mid": mid,
        "cases": cases,
    }


def vector_mid(run: RoundRun) -> dict[str, Any]:
    signed = run.engine.signed_manifest()
    return {
        "description": "The round id (protocol section 4): mid = b64u(SHA-256(JCS(M))), where M "
        "is the value of the signed manifest's member manifest. The signed manifest verifies "
        "under M.organizer_key (section 2.4). It is record/manifest.json.",
        "signed_manifest": signed,
        "manifest_jcs": jcs(signed["manifest"]).decode("utf-8"),
        "mid": run.manifest.mid,
    }


def _pss_sign_raw(issuer: IssuerKey, prepared: bytes, salt: bytes) -> bytes:
    """A PSS signature with an explicit salt (of any length): EMSA-PSS and RSASP1."""
    private = serialization.load_pem_private_key(issuer.to_pem(), password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise TypeError("an RSA key")
    numbers = private.private_numbers()
    n = numbers.public_numbers.n
    encoded = blind_rsa.emsa_pss_encode(prepared, n.bit_length() - 1, salt)
    return pow(int.from_bytes(encoded, "big"), numbers.d, n).to_bytes(256, "big")


def vector_token(run: RoundRun) -> dict[str, Any]:
    first = run.casts[0].token
    msg = first.token.msg
    sig = first.token.sig
    n = first.issuer.public_key.to_cryptography().public_numbers().n
    other_ward = run.casts[1].token
    flipped = bytearray(sig)
    flipped[100] ^= 1
    rng = Drbg("token/invalid")
    invalid = [
        ("a bit of sig flipped", {"msg": b64u(msg), "sig": b64u(bytes(flipped))}),
        ("a bit of msg flipped", {"msg": b64u(bytes([msg[0] ^ 1]) + msg[1:]), "sig": b64u(sig)}),
        ("sig + n: the same value mod n, but not < n", {"msg": b64u(msg), "sig": b64u(
            (int.from_bytes(sig, "big") + n).to_bytes(257, "big"))}),
        ("a valid PSS signature with a 32-byte salt (the salt length is exactly 48)", {
            "msg": b64u(msg), "sig": b64u(_pss_sign_raw(first.issuer, msg, rng(32)))}),
        ("a valid PSS signature with an empty salt", {
            "msg": b64u(msg), "sig": b64u(_pss_sign_raw(first.issuer, msg, b""))}),
        ("a token of the other ward's issuer key", other_ward.token.to_json()),
    ]  # fmt: skip
    return {
        "description": "Token issuance (protocol 5.2) and verification (5.3), RSABSSA-SHA384-"
        "PSS-Randomized with the blinding inputs fixed: prepared = prefix || voter public key; "
        "encoded_message = EMSA-PSS(prepared, salt, emBits = modulus_bits - 1); blinded = "
        "encoded * r^e mod n; inv = r^-1 mod n; blind_sig is the issuer's answer (blinded^d mod "
        "n); sig = blind_sig * inv mod n. Numbers are big-endian, k = 256 bytes. token is the "
        "first leaf's token of record/; invalid_tokens must each fail verification under "
        "issuer_key.",
        **first.to_json(),
        "invalid_tokens": [{"why": why, "token": token} for why, token in invalid],
    }


def vector_sealed(run: RoundRun) -> dict[str, Any]:
    cast = run.casts[0]
    s = cast.sealing
    return {
        "description": "Sealing (protocol 6.2) of the first leaf's ballot. rng_hex is what "
        "seal() drew from its random source, in order: K (32 bytes), the nonce (12) and the "
        "Shamir coefficient a1 (66-byte draws masked to 521 bits, rejected while >= p); "
        "implementations that take such a source reproduce nonce and ct from it. Each share "
        "is HPKE base mode single-shot sealing of I2OSP(f(i), 66) with the given ephemeral "
        "private key (enc || ciphertext, 114 bytes). trustees carry their private keys, so "
        "that the shares can be opened too.",
        "round": run.manifest.mid,
        "ward": cast.plan.ward,
        "threshold": run.manifest.threshold,
        "trustees": [
            {
                "index": i,
                "id": t.id,
                "hpke_key": t.hpke_public.to_b64u(),
                "private_key": b64u(t.hpke_private.to_bytes()),
            }
            for i, t in enumerate(run.trustees, start=1)
        ],
        "plaintext": cast.plaintext.decode("utf-8"),
        "rng_hex": s.rng_stream.hex(),
        "key_hex": s.key.hex(),
        "nonce_hex": s.nonce.hex(),
        "aad": s.aad.decode("utf-8"),
        "coefficients_hex": [format(c, "x") for c in s.coefficients],
        "shares": [
            {
                "x": i,
                "info": info.decode("utf-8"),
                "value_hex": value.to_bytes(66, "big").hex(),
                "ephemeral_private_key_hex": sk_e.hex(),
                "share": b64u(share),
            }
            for i, (info, value, sk_e, share) in enumerate(
                zip(s.infos, s.values, s.ephemerals, s.sealed.shares, strict=True), start=1
            )
        ],
        "ct_hex": s.sealed.ct.hex(),
        "ballot": s.sealed.to_json(),
    }


def vector_leaf(run: RoundRun) -> dict[str, Any]:
    cast = run.casts[0]
    value = json.loads(cast.leaf)
    unsigned = {k: v for k, v in value.items() if k != "voter_sig"}
    h = leaf_hash(cast.leaf)
    variants = [
        ("a space after the first colon", cast.leaf.replace(b":", b": ", 1)),
        ("members out of order",
         json.dumps(dict(reversed(value.items())), separators=(",", ":")).encode()),
        ("an extra member", jcs({**value, "x": 1})),
        ("v is 2", jcs({**value, "v": 2})),
        ("round is not the mid", jcs({**value, "round": b64u(bytes(32))})),
        ("a ward that is not in the manifest", jcs({**value, "ward": "long-bien"})),
        ("two shares for three trustees",
         jcs({**value, "ballot": {**value["ballot"], "shares": value["ballot"]["shares"][:2]}})),
        ("an 11-byte nonce",
         jcs({**value, "ballot": {**value["ballot"], "nonce": b64u(bytes(11))}})),
        ("a ct of 15 bytes", jcs({**value, "ballot": {**value["ballot"], "ct": b64u(bytes(15))}})),
        ("a token msg of 63 bytes",
         jcs({**value, "token": {**value["token"], "msg": b64u(bytes(63))}})),
        ("voter_sig in padded base64url", jcs({**value, "voter_sig": value["voter_sig"] + "=="})),
    ]  # fmt: skip
    return {
        "description": "The first leaf of record/ (protocol 6.3): its bytes, the bytes its "
        "voter key signs (the JCS of the leaf without voter_sig), its leaf hash (SHA-256 of "
        "0x00 || leaf, section 6.5) and receipt code (6.7). invalid_leaves break one rule of "
        "the leaf's structure (audit check A2) and must be rejected in this round.",
        "round": run.manifest.mid,
        "leaf": cast.leaf.decode("utf-8"),
        "signed_bytes": jcs(unsigned).decode("utf-8"),
        "voter_public_key_hex": cast.token.voter.public_key.to_bytes().hex(),
        "leaf_hash_hex": h.hex(),
        "leaf_hash": b64u(h),
        "receipt_code": receipt_code(h),
        "invalid_leaves": [{"why": why, "leaf": data.decode("utf-8")} for why, data in variants],
    }


def _flip(text: str) -> str:
    data = bytearray(parse_b64u(text))
    data[0] ^= 1
    return b64u(bytes(data))


def parse_b64u(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vector_receipt(run: RoundRun) -> dict[str, Any]:
    casts = run.casts
    final_size = len(casts)
    later: dict[str, Any] = run.engine.board.receipt(2, run.final_note, final_size).to_json()
    first: dict[str, Any] = casts[0].receipt.to_json()
    sixth: dict[str, Any] = casts[5].receipt.to_json()
    cases: list[tuple[str, dict[str, Any], bytes | None, bool]] = [
        ("leaf 0 at the checkpoint of size 1 (an empty proof)", first, casts[0].leaf, True),
        ("leaf 5 at the checkpoint of size 6", sixth, casts[5].leaf, True),
        ("leaf 2 at the final checkpoint", later, casts[2].leaf, True),
        ("leaf 2 at the final checkpoint, without the leaf", later, None, True),
        ("another leaf than the receipt's", later, casts[3].leaf, False),
        ("round is not the mid", {**sixth, "round": b64u(bytes(32))}, casts[5].leaf, False),
        ("a proof hash flipped", {**sixth, "inclusion": [_flip(sixth["inclusion"][0]),
                                                       *sixth["inclusion"][1:]]}, None, False),
        ("leaf_index off by one", {**sixth, "leaf_index": 4}, None, False),
        ("the checkpoint of leaf 0 with leaf 5's proof", {**sixth, "checkpoint":
                                                          first["checkpoint"]}, None, False),
        ("a proof hash missing", {**later, "inclusion": later["inclusion"][:-1]}, None, False),
    ]  # fmt: skip
    return {
        "description": "Receipts (protocol 6.7) of record/'s round: valid receipts must verify "
        "(round is the mid; the checkpoint verifies under the log key, section 6.6; the "
        "inclusion proof leads from leaf_hash to its root, 6.5; and, when leaf is given, "
        "leaf_hash is the hash of those bytes); the others must be rejected.",
        "round": run.manifest.mid,
        "origin": run.manifest.origin,
        "log_key": run.manifest.log_key.to_b64u(),
        "cases": [
            {
                "why": why,
                "receipt": receipt,
                "leaf": None if leaf is None else leaf.decode("utf-8"),
                "valid": valid,
                "code": receipt_code(parse_b64u(receipt["leaf_hash"])) if valid else None,
            }
            for why, receipt, leaf, valid in cases
        ],
    }


def vector_checkpoint(run: RoundRun) -> dict[str, Any]:
    m = run.manifest
    origin = m.origin
    final = Checkpoint.parse(run.final_note, origin, m.log_key)
    root64 = final.text().split("\n")[2]
    stranger = SigningKey(Drbg("checkpoint/stranger")(32))
    signed_body = run.final_note.split("\n\n")[0] + "\n"
    sig_line = run.final_note.split("\n\n")[1]
    witness = sign_note(signed_body, "witness.example/w", stranger).split("\n\n")[1]
    empty = run.engine.store.checkpoint_at(0)
    if empty is None:
        raise AnonBallotError("no checkpoint of size 0")
    cases: list[tuple[str, str, bool]] = [
        ("the final checkpoint", run.final_note, True),
        ("the checkpoint of the empty board", empty, True),
        ("with a witness cosignature (ignored)", signed_body + "\n" + sig_line + witness, True),
        ("a witness cosignature first", signed_body + "\n" + witness + sig_line, True),
        ("an extension line, signed by the log key",
         sign_note(signed_body + "extra\n", origin, run.log), False),
        ("the size with a leading zero, signed", sign_note(
            f"{origin}\n0{final.size}\n{root64}\n", origin, run.log), False),
        ("the root without padding, signed", sign_note(
            f"{origin}\n{final.size}\n{root64.rstrip('=')}\n", origin, run.log), False),
        ("another origin, signed by the log key", sign_note(
            f"other.example/log\n{final.size}\n{root64}\n", "other.example/log", run.log), False),
        ("signed by another key under the origin's name",
         sign_note(signed_body, origin, stranger), False),
        ("only a witness signature", signed_body + "\n" + witness, False),
        ("the size changed after signing", run.final_note.replace(
            f"\n{final.size}\n", f"\n{final.size + 1}\n", 1), False),
        ("no blank line before the signature", signed_body + sig_line, False),
    ]  # fmt: skip
    out = []
    for why, note, valid in cases:
        entry: dict[str, Any] = {"why": why, "note": note, "valid": valid}
        if valid:
            cp = Checkpoint.parse(note, origin, m.log_key)
            entry["size"] = cp.size
            entry["root_hex"] = cp.root.hex()
        out.append(entry)
    return {
        "description": "Checkpoints (protocol 6.6) of record/'s round: C2SP signed notes whose "
        "body is origin, tree size and root. valid notes verify under log_key with key name "
        "origin (and give size and root_hex); the others must be rejected.",
        "origin": origin,
        "log_key": m.log_key.to_b64u(),
        "key_id_hex": key_id(origin, m.log_key).hex(),
        "cases": out,
    }


def vector_openings(run: RoundRun) -> dict[str, Any]:
    m = run.manifest
    released = [
        {"index": i, "id": t.id, "private_key": b64u(t.hpke_private.to_bytes())}
        for i, t in enumerate(run.trustees, start=1)
    ]
    cases = []
    for cast in run.casts:
        case: dict[str, Any] = {
            "name": cast.plan.name,
            "note": cast.plan.note,
            "leaf_index": cast.index,
            "leaf": cast.leaf.decode("utf-8"),
            "released": released,
            "outcome": cast.plan.outcome,
        }
        if cast.plan.outcome == "valid":
            case["ballot"] = cast.ballot
        cases.append(case)
    inconsistent = next(c for c in run.casts if c.plan.outcome == "shares_inconsistent")
    cases.append(
        {
            "name": "shares-inconsistent-threshold-only",
            "note": "the shares_inconsistent leaf opened with trustees 1 and 2 only: the bad "
            "share is not read, and the ballot is valid",
            "leaf_index": inconsistent.index,
            "leaf": inconsistent.leaf.decode("utf-8"),
            "released": released[:2],
            "outcome": "valid",
            "ballot": inconsistent.ballot,
        }
    )
    return {
        "description": "Opening one leaf (protocol 7.3) of record/'s round (manifest: "
        "record/manifest.json), with the released trustee keys given (index is the trustee's "
        "Shamir x). outcome is valid or the reason code of the first failing step; for a valid "
        "leaf, ballot is its plaintext ballot B.",
        "round": m.mid,
        "threshold": m.threshold,
        "cases": cases,
    }


# --------------------------------------------------------------------------- writing


def dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    run = run_round(out / "record")
    report = audit_record(out / "record", workers=1).to_json()
    del report["record"]  # the path it was given: not part of the result
    dump(out / "record.audit.json", report)
    dump(out / "jcs.json", vector_jcs())
    dump(out / "codes.json", vector_codes(run.manifest.mid))
    dump(out / "mid.json", vector_mid(run))
    dump(out / "token.json", vector_token(run))
    dump(out / "sealed.json", vector_sealed(run))
    dump(out / "leaf.json", vector_leaf(run))
    dump(out / "receipt.json", vector_receipt(run))
    dump(out / "checkpoint.json", vector_checkpoint(run))
    dump(out / "openings.json", vector_openings(run))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Generate the anonballot v1 conformance suite.")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (default: here)")
    args = parser.parse_args(argv)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
