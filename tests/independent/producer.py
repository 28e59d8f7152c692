"""Independent producer of an anonballot v1 round record, written from the protocol texts.

``produce_record(path, wards=..., voters=..., seed=...)`` plays the organizer, the ward
issuers, the log, three trustees (threshold 2) and the participants, and writes a complete
round record (brief section 9, R16). Tokens are signed directly (PSS, salt 48) instead of
through blinding: the blinding is not observable in the record.

Every ward gets ``voters + 2`` roster entries, ``voters + 1`` tokens issued and ``voters``
ballots cast. Some leaves are deliberately invalid ballots (R10 reasons); with
``edge_cases=True`` the record also carries the rarer reasons and comment edge cases.
"""

from __future__ import annotations

import copy
import json
import random
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.signing import SigningKey

from .verifier import (
    HPKE_SUITE,
    P,
    ballot_aad,
    build_results,
    hpke_info,
    jcs,
    leaf_hash,
    merkle_root,
    note_key_id,
    parse_manifest,
    sha256,
)
from .verifier import b64u as _b64u

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SCALE = [
    ("tot", "Tốt", "Good"),
    ("kha", "Khá", "Fair"),
    ("trung-binh", "Trung bình", "Average"),
    ("kem", "Kém", "Poor"),
]
ABSTAIN = ("khong-danh-gia", "Không đánh giá", "No opinion")
CRITERIA = [
    ("dao-duc", "Đạo đức, lối sống", "Ethics"),
    ("nang-luc", "Năng lực công tác", "Competence"),
    ("trach-nhiem", "Trách nhiệm nêu gương", "Responsibility"),
]
COMMENTS = [("uu-diem", "Ưu điểm", "Strengths", 200), ("de-xuat", "Đề xuất", "Proposals", 40)]
ROLES = [("bi-thu", "Bí thư", "Secretary"), ("chu-tich", "Chủ tịch", "Chairman")]
TRUSTEES = [
    ("tuyen-giao", "Ban Tuyên giáo"),
    ("to-chuc", "Ban Tổ chức"),
    ("kiem-tra", "Ủy ban Kiểm tra"),
]
TEXTS = [
    "  Gần dân, lắng nghe ý kiến nhân dân  ",
    "\tLàm việc tận tụy, đúng giờ\n",
    "\u00a0Cần quan tâm hơn đến môi trường\u3000",
    "Đề nghị giải quyết thủ tục nhanh hơn",
    "   ",
    "",
    "Tốt",
    "Ổn định trật tự khu phố",
]
# Comment edge cases (R11): U+001F is stripped by Python's str.strip() but has no White_Space
# property; U+200B and U+180E are not White_Space; U+0085, U+2028/9, U+3000, U+00A0 are.
# U+FF01 sorts before U+1F600 by code point but after it by UTF-16 code unit; 40 emoji are
# 40 code points (the max_chars of "de-xuat") but 80 UTF-16 code units.
EDGE_TEXTS = [
    "\x1fGiữ nguyên ký tự phân cách\x1f",
    "\u200bCó dấu cách rộng 0\u200b",
    "\u2028Đúng\u2029",
    "\uff01 Ý kiến toàn độ rộng",
    "\U0001f600 Vui vẻ",
    "\x85Dòng mới\x85",
    "\u180eMông Cổ\u180e",
    "\u3000\u00a0",
    "Hai  dấu   cách bên trong",
    "\U0001f600" * 40,
]

# Deliberately invalid ballots, in the order they are cast.
BASIC_SPECIALS = ["wrong_ward", "not_canonical", "invalid_content"]
EDGE_SPECIALS = [
    "undecryptable",
    "bad_key",
    "share_value_ge_p",
    "share_wrong_info",
    "shares_inconsistent",
    "comment_too_long",
    "ballot_without_ward",
    "plain_v_true",
    "plain_ward_number",
    "plain_extra_key",
    "plain_missing_subject",
    "plain_unknown_comment_field",
    "plain_comment_number",
    "plain_not_object",
    "plain_non_nfc",
    "plain_float",
    "plain_duplicate_key",
    "plain_big_int",
    "plain_lone_surrogate",
    "plain_not_utf8",
]
EXPECTED_REASON = {
    "wrong_ward": "wrong_ward",
    "not_canonical": "not_canonical",
    "invalid_content": "invalid_content",
    "undecryptable": "undecryptable",
    "bad_key": "bad_key",
    "share_value_ge_p": "share_undecryptable",
    "share_wrong_info": "share_undecryptable",
    "shares_inconsistent": "shares_inconsistent",
    "comment_too_long": "invalid_content",
    "ballot_without_ward": "invalid_content",
    "plain_v_true": "invalid_content",
    "plain_ward_number": "wrong_ward",
    "plain_extra_key": "invalid_content",
    "plain_missing_subject": "invalid_content",
    "plain_unknown_comment_field": "invalid_content",
    "plain_comment_number": "invalid_content",
    "plain_not_object": "invalid_content",
    "plain_non_nfc": "not_canonical",
    "plain_float": "not_canonical",
    "plain_duplicate_key": "not_canonical",
    "plain_big_int": "not_canonical",
    "plain_lone_surrogate": "not_canonical",
    "plain_not_utf8": "not_canonical",
}


def nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nfc(v) for v in value]
    return value


def label(vi: str, en: str | None = None) -> dict[str, str]:
    out = {"vi": vi}
    if en is not None:
        out["en"] = en
    return out


def signed(kind: str, value: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    return {kind: value, "signature": _b64u(key.sign(jcs(value)).signature)}


def checkpoint(origin: str, log: SigningKey, lines: list[bytes]) -> bytes:
    import base64

    root = merkle_root([leaf_hash(line) for line in lines])
    body = f"{origin}\n{len(lines)}\n{base64.b64encode(root).decode()}\n"
    key_id = note_key_id(origin, bytes(log.verify_key))
    sig = log.sign(body.encode()).signature
    return (body + f"\n\u2014 {origin} {base64.b64encode(key_id + sig).decode()}\n").encode()


def invitation_code(rng: random.Random) -> str:
    """80 random bits as 16 Crockford base32 characters, most significant first (R7)."""
    n = rng.getrandbits(80)
    return "".join(CROCKFORD[(n >> (5 * (15 - i))) & 31] for i in range(16))


def pseudonym(mid: str, code: str) -> str:
    data = b"anonballot/v1/pseudonym" + b"\x00" + mid.encode() + b"\x00" + code.encode()
    return _b64u(sha256(data))


def poly_eval(coefficients: list[int], x: int) -> int:
    y = 0
    for c in reversed(coefficients):
        y = (y * x + c) % P
    return y


def _odd_plaintext(special: str, ballot: dict[str, Any]) -> bytes:
    """Plaintexts that break one rule of R2 or of a valid ballot (brief section 6)."""
    answers = ballot["answers"]
    first = next(iter(answers))
    canonical = jcs(ballot)
    if special == "plain_v_true":
        return jcs({**ballot, "v": True})
    if special == "plain_ward_number":
        return jcs({**ballot, "ward": 7})
    if special == "plain_extra_key":
        return jcs({**ballot, "note": "x"})
    if special == "plain_missing_subject":
        return jcs({**ballot, "answers": {k: v for k, v in answers.items() if k != first}})
    if special == "plain_unknown_comment_field":
        answers[first]["comments"]["khac"] = "Ý kiến khác"
        return jcs(ballot)
    if special == "plain_comment_number":
        answers[first]["comments"]["uu-diem"] = 5
        return jcs(ballot)
    if special == "plain_not_object":
        return jcs([ballot])
    if special == "plain_non_nfc":
        answers[first]["comments"]["uu-diem"] = "Tốt"  # NFD, a JCS-stable byte string
        return jcs(ballot)
    if special == "plain_float":  # 1e+21 is its own JCS form, but R2 allows integers only
        return canonical.replace(b'"v":1,', b'"v":1e+21,')
    if special == "plain_duplicate_key":
        return canonical.replace(b'"v":1,', b'"v":1,"v":1,')
    if special == "plain_big_int":
        return canonical.replace(b'"v":1,', b'"v":9007199254740993,')
    if special == "plain_lone_surrogate":
        answers[first]["comments"]["uu-diem"] = "LONE"
        return jcs(ballot).replace(b"LONE", b"\\ud800")
    if special == "plain_not_utf8":
        answers[first]["comments"]["uu-diem"] = "LONE"
        return jcs(ballot).replace(b"LONE", b"\xff")
    raise ValueError(special)


@dataclass
class _Voter:
    ward: str
    special: str | None


@dataclass
class Produced:
    """What the producer knows beyond the record: the keys that let a test re-sign."""

    round_id: str
    mid: str
    organizer: SigningKey
    log: SigningKey
    trustee_signing: list[SigningKey]
    outcomes: list[dict[str, Any] | str]


def produce_record(
    path: str | Path,
    *,
    wards: int,
    voters: int,
    seed: int,
    released: tuple[int, ...] = (0, 2),
    edge_cases: bool = False,
) -> None:
    """Write a complete, valid round record to ``path`` (a folder, or a ``.zip``).

    ``released`` are the 0-based indices of the trustees that publish their keys.
    """
    produce(path, wards=wards, voters=voters, seed=seed, released=released, edge_cases=edge_cases)


def produce(
    path: str | Path,
    *,
    wards: int,
    voters: int,
    seed: int,
    released: tuple[int, ...] = (0, 2),
    edge_cases: bool = False,
    manifest_hook: Callable[[dict[str, Any]], None] | None = None,
    leaf_hook: Callable[[int, dict[str, Any]], None] | None = None,
) -> Produced:
    """``produce_record`` that also returns the keys and the intended outcomes.

    ``manifest_hook`` edits the manifest value before it is signed, ``leaf_hook(index,
    leaf)`` edits a leaf before the voter signs it: tests use them to break one rule while
    keeping every signature and hash of the record consistent.
    """
    rng = random.Random(seed)
    path = Path(path)

    def seed32() -> bytes:
        return rng.randbytes(32)

    organizer = SigningKey(seed32())
    log = SigningKey(seed32())
    ward_ids = [f"ward-{chr(ord('a') + i)}" for i in range(wards)]
    issuers = {w: rsa.generate_private_key(public_exponent=65537, key_size=2048) for w in ward_ids}
    trustee_hpke = [x25519.X25519PrivateKey.from_private_bytes(seed32()) for _ in TRUSTEES]
    trustee_sign = [SigningKey(seed32()) for _ in TRUSTEES]
    threshold = 2
    round_id = f"doc-lap-{seed}"
    origin = f"audit.example/{round_id}"

    def spki(key: rsa.RSAPrivateKey) -> str:
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return _b64u(der)

    manifest: dict[str, Any] = nfc(
        {
            "v": 1,
            "round_id": round_id,
            "title": label("Đánh giá thử nghiệm độc lập", "Independent test round"),
            "district": label("Quận Thử Nghiệm"),
            "origin": origin,
            "issuance": {"opens": "2026-11-01T08:00:00+07:00", "closes": "2026-11-10T00:00:00Z"},
            "voting": {"opens": "2026-11-05T08:00:00+07:00", "closes": "2026-11-15T17:00:00Z"},
            "questionnaire": {
                "scale": [{"id": i, "label": label(vi, en)} for i, vi, en in SCALE],
                "abstain": {"id": ABSTAIN[0], "label": label(ABSTAIN[1], ABSTAIN[2])},
                "criteria": [{"id": i, "label": label(vi, en)} for i, vi, en in CRITERIA],
                "comments": [
                    {"id": i, "label": label(vi, en), "max_chars": n} for i, vi, en, n in COMMENTS
                ],
            },
            "roles": [{"id": i, "title": label(vi, en)} for i, vi, en in ROLES],
            "wards": [
                {
                    "id": w,
                    "name": label(f"Phường {w[-1].upper()}"),
                    "eligible": voters + 2,
                    "issuer_key": spki(issuers[w]),
                }
                for w in ward_ids
            ],
            "subjects": [
                {
                    "id": f"{w}-{role}",
                    "ward": w,
                    "role": role,
                    "name": label(f"Nguyễn Văn {w[-1].upper()}{n}"),
                }
                for w in ward_ids
                for n, (role, _, _) in enumerate(ROLES)
            ],
            "trustees": [
                {
                    "id": tid,
                    "name": label(name),
                    "hpke_key": _b64u(k.public_key().public_bytes_raw()),
                    "signing_key": _b64u(bytes(s.verify_key)),
                }
                for (tid, name), k, s in zip(TRUSTEES, trustee_hpke, trustee_sign, strict=True)
            ],
            "threshold": threshold,
            "min_group": 5,
            "organizer_key": _b64u(bytes(organizer.verify_key)),
            "log_key": _b64u(bytes(log.verify_key)),
        }
    )
    signed_manifest = signed("manifest", manifest, organizer)
    m = parse_manifest(signed_manifest)  # our own structure check of what we made
    if manifest_hook is not None:
        manifest = copy.deepcopy(manifest)
        manifest_hook(manifest)
        signed_manifest = signed("manifest", manifest, organizer)
        m.mid = _b64u(sha256(jcs(manifest)))
    mid = m.mid

    # Roster, issuance ledger.
    ledger: dict[str, list[str]] = {}
    issued: dict[str, int] = {}
    for w in ward_ids:
        codes = [invitation_code(rng) for _ in range(voters + 2)]
        served = codes[: voters + 1]
        ledger[w] = sorted({pseudonym(mid, c) for c in served})
        issued[w] = len(ledger[w])
    ledger_value = {"round": mid, "wards": ledger}

    # Who casts what, in board order.
    specials = BASIC_SPECIALS + (EDGE_SPECIALS if edge_cases else [])
    if wards < 2:
        specials = [s for s in specials if s != "wrong_ward"]
    if len(released) <= threshold:
        specials = [s for s in specials if s != "shares_inconsistent"]
    casts = [_Voter(w, None) for w in ward_ids for _ in range(voters)]
    rng.shuffle(casts)
    for voter, kind in zip(casts, specials, strict=False):
        voter.special = kind

    rel = sorted(released)
    lines: list[bytes] = []
    outcomes: list[dict[str, Any] | str] = []
    checkpoints: dict[int, bytes] = {0: checkpoint(origin, log, [])}
    marks = {len(casts) // 3, (2 * len(casts)) // 3}
    text_pool = TEXTS
    edge_turn = 0

    for voter in casts:
        w, special = voter.ward, voter.special
        subjects = m.ward_subjects(w)
        ballot: dict[str, Any] = {
            "v": 1,
            "ward": w,
            "answers": {
                s: {
                    "ratings": {c: rng.choice(m.levels) for c in m.criteria},
                    "comments": {
                        f: rng.choice(text_pool) for f in m.comments if rng.random() < 0.6
                    },
                }
                for s in subjects
            },
        }
        ballot = nfc(ballot)
        if edge_cases and special is None:  # every ward sees every edge text, in turn
            for j, answer in enumerate(ballot["answers"].values()):
                answer["comments"]["de-xuat"] = EDGE_TEXTS[(edge_turn + j) % len(EDGE_TEXTS)]
            edge_turn += 1
        for answer in ballot["answers"].values():  # keep within max_chars
            for f, text in answer["comments"].items():
                answer["comments"][f] = text[: m.comments[f]]
        plaintext = jcs(ballot)
        aad_ward = w
        if special == "wrong_ward":
            other = ward_ids[(ward_ids.index(w) + 1) % len(ward_ids)]
            other_ballot = {
                "v": 1,
                "ward": other,
                "answers": {
                    s: {"ratings": dict.fromkeys(m.criteria, "tot"), "comments": {}}
                    for s in m.ward_subjects(other)
                },
            }
            plaintext = jcs(other_ballot)
        elif special == "not_canonical":
            plaintext = json.dumps(ballot, ensure_ascii=False, indent=1).encode()
        elif special == "invalid_content":
            first = subjects[0]
            ballot["answers"][first]["ratings"][m.criteria[0]] = "xuat-sac"
            plaintext = jcs(ballot)
        elif special == "comment_too_long":
            ballot["answers"][subjects[0]]["comments"]["de-xuat"] = "ư" * 41
            plaintext = jcs(ballot)
        elif special == "ballot_without_ward":
            plaintext = jcs({"v": 1, "answers": ballot["answers"]})
        elif special is not None and special.startswith("plain_"):
            plaintext = _odd_plaintext(special, ballot)
        elif special == "undecryptable":
            aad_ward = ward_ids[(ward_ids.index(w) + 1) % len(ward_ids)] if wards > 1 else "x"

        key = rng.randbytes(32)
        secret = int.from_bytes(key, "big")
        if special == "bad_key":
            secret = 2**256 + rng.randrange(P - 2**256)
        coefficients = [secret] + [rng.randrange(P) for _ in range(threshold - 1)]
        nonce = rng.randbytes(12)
        ct = AESGCM(key).encrypt(nonce, plaintext, ballot_aad(mid, aad_ward))
        shares: list[str] = []
        for i, ((tid, _), k) in enumerate(zip(TRUSTEES, trustee_hpke, strict=True)):
            value = poly_eval(coefficients, i + 1)
            info = hpke_info(mid, tid)
            if special == "share_value_ge_p" and i == rel[0]:
                value = P + 5  # 66 bytes, but not a field element
            if special == "share_wrong_info" and i == rel[-1]:
                info = hpke_info(mid, TRUSTEES[(i + 1) % len(TRUSTEES)][0])
            if special == "shares_inconsistent" and i == rel[threshold]:
                value = (value + 1) % P
            share = HPKE_SUITE.encrypt(value.to_bytes(66, "big"), k.public_key(), info=info)
            shares.append(_b64u(share))

        voter_key = SigningKey(seed32())
        prepared = rng.randbytes(32) + bytes(voter_key.verify_key)
        sig = issuers[w].sign(
            prepared,
            padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48),
            hashes.SHA384(),
        )
        leaf: dict[str, Any] = {
            "v": 1,
            "round": mid,
            "ward": w,
            "token": {"msg": _b64u(prepared), "sig": _b64u(sig)},
            "ballot": {"shares": shares, "nonce": _b64u(nonce), "ct": _b64u(ct)},
        }
        if leaf_hook is not None:
            leaf_hook(len(lines), leaf)
        leaf["voter_sig"] = _b64u(voter_key.sign(jcs(leaf)).signature)
        lines.append(jcs(leaf))
        outcomes.append(EXPECTED_REASON[special] if special else ballot)
        if len(lines) in marks:
            checkpoints[len(lines)] = checkpoint(origin, log, lines)

    root = merkle_root([leaf_hash(line) for line in lines])
    close = {
        "round": mid,
        "tree_size": len(lines),
        "root": _b64u(root),
        "issued": issued,
        "issuance_ledger": _b64u(sha256(jcs(ledger_value))),
    }
    releases = {
        TRUSTEES[i][0]: signed(
            "release",
            {
                "round": mid,
                "trustee": TRUSTEES[i][0],
                "private_key": _b64u(
                    trustee_hpke[i].private_bytes(
                        serialization.Encoding.Raw,
                        serialization.PrivateFormat.Raw,
                        serialization.NoEncryption(),
                    )
                ),
            },
            trustee_sign[i],
        )
        for i in rel
    }
    results = build_results(
        m,
        tree_size=len(lines),
        root=root,
        trustees=[TRUSTEES[i][0] for i in rel],
        issued=issued,
        leaf_wards=[v.ward for v in casts],
        outcomes=outcomes,
    )

    files: dict[str, bytes] = {
        "manifest.json": jcs(signed_manifest),
        "board.jsonl": b"".join(line + b"\n" for line in lines),
        "checkpoint.txt": checkpoint(origin, log, lines),
        "close.json": jcs(signed("close", close, organizer)),
        "issuance.json": jcs(ledger_value),
        "results.json": jcs(signed("results", results, organizer)),
    }
    for tid, release in releases.items():
        files[f"releases/{tid}.json"] = jcs(release)
    for size, note in checkpoints.items():
        files[f"checkpoints/{size:05d}.txt"] = note

    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in sorted(files.items()):
                archive.writestr(f"{round_id}/{name}", data)
    else:
        for name, data in files.items():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return Produced(round_id, mid, organizer, log, trustee_sign, outcomes)
