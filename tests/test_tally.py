"""Decryption and the tally (anonballot.tally) against a plain count: the oracle property.

Ballots are sealed here by an independent re-implementation of protocol section 6 (own
Shamir polynomial over GF(2^521 - 1), HPKE from ``cryptography``, AES-256-GCM), so that share
faults can be placed exactly. The oracle classifies each plaintext by the rules of section
7.3 in plain Python (``rfc8785`` for canonical form), and counts the valid
ones per ward, subject, role and the district (7.5).
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import rfc8785
from _hypothesis import examples
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonballot.district import District, Role, Subject, Ward
from anonballot.encoding import b64u_encode, jcs
from anonballot.leaf import Leaf, parse_leaf
from anonballot.manifest import Manifest, RoundConfig, Window
from anonballot.opening import LeafOpener
from anonballot.questionnaire import CommentField, Criterion, Questionnaire, ScaleLevel
from anonballot.sealing import SealedBallot
from anonballot.signing import SigningKey
from anonballot.tally import WHITE_SPACE, TallyBuilder, strip_comment
from anonballot.tokens import IssuerPublicKey
from anonballot.trustee import HpkePrivateKey, Trustee, TrusteeSecret

P = 2**521 - 1
SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
REASONS = (
    "share_undecryptable",
    "shares_inconsistent",
    "bad_key",
    "undecryptable",
    "not_canonical",
    "wrong_ward",
    "invalid_content",
)

# -- a small round ------------------------------------------------------------------------------

TRUSTEE_KEYS = [X25519PrivateKey.from_private_bytes(bytes([i]) * 32) for i in (1, 2, 3)]
TRUSTEE_IDS = ["t-one", "t-two", "t-three"]
WARDS = {"w1": ["s1", "s2"], "w2": ["s3"], "w3": ["s4"]}
SUBJECT_ROLE = {"s1": "r1", "s2": "r2", "s3": "r1", "s4": "r2"}
SUBJECT_WARD = {s: w for w, subjects in WARDS.items() for s in subjects}
LABEL = {"vi": "nhãn", "en": "label"}


def _unused_issuer_key(n: int) -> IssuerPublicKey:
    """A distinct issuer key of the right shape per ward: counting never verifies tokens."""
    return IssuerPublicKey.from_cryptography(
        rsa.RSAPublicNumbers(65537, (1 << 2047) | (2 * n + 1)).public_key()
    )


def make_manifest(*, abstain: bool, comments: bool) -> Manifest:
    questionnaire = Questionnaire(
        scale=tuple(ScaleLevel(i, LABEL) for i in ("tot", "kha", "kem")),
        abstain=ScaleLevel("khong", LABEL) if abstain else None,
        criteria=(Criterion("k1", LABEL), Criterion("k2", LABEL)),
        comments=(CommentField("uu-diem", LABEL, 2000), CommentField("ngan", LABEL, 5))
        if comments
        else (),
    )
    district = District(
        LABEL,
        tuple(Ward(w, LABEL) for w in WARDS),
        (Role("r1", LABEL), Role("r2", LABEL), Role("r3", LABEL)),  # r3: nobody holds it
        tuple(Subject(s, SUBJECT_WARD[s], SUBJECT_ROLE[s], LABEL) for s in SUBJECT_WARD),
    )
    window = Window("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
    signing = SigningKey(bytes(32))
    config = RoundConfig(
        round_id="tally-test",
        title=LABEL,
        origin="example.org/tally-test",
        issuance=window,
        voting=window,
        questionnaire=questionnaire,
        district=district,
        trustees=tuple(
            Trustee(
                tid, LABEL, HpkePrivateKey(key.private_bytes_raw()).public_key, signing.public_key
            )
            for tid, key in zip(TRUSTEE_IDS, TRUSTEE_KEYS, strict=True)
        ),
        threshold=2,
    )
    return Manifest.build(
        config,
        eligible={"w1": 40, "w2": 30, "w3": 5},
        issuer_keys={w: _unused_issuer_key(n) for n, w in enumerate(WARDS)},
        organizer_key=signing.public_key,
        log_key=signing.public_key,
    )


MANIFESTS = {
    "full": make_manifest(abstain=True, comments=True),
    "bare": make_manifest(abstain=False, comments=False),
}
RELEASE_SETS = [(1, 2), (1, 3), (2, 3), (1, 2, 3)]
DUMMY_TOKEN = {"msg": b64u_encode(bytes(64)), "sig": b64u_encode(b"\1" * 256)}


def secrets_for(release: Sequence[int]) -> list[TrusteeSecret]:
    return [
        TrusteeSecret(
            i, TRUSTEE_IDS[i - 1], HpkePrivateKey(TRUSTEE_KEYS[i - 1].private_bytes_raw())
        )
        for i in release
    ]


# -- independent sealing --------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One leaf to build: its ward, its plaintext and what goes wrong in its sealing."""

    ward: str
    plaintext: bytes
    fault: str = "none"
    """none | garbage (random share) | big (share >= p) | off (share not on f) |
    badkey (consistent shares, f(0) >= 2^256) | ct (ciphertext changed) | aad (other ward)"""
    trustee: int = 1
    """The trustee whose share the fault changes (garbage, big, off)."""
    seed: int = 0


def _poly_at(coefficients: Sequence[int], x: int) -> int:
    return sum(c * pow(x, k, P) for k, c in enumerate(coefficients)) % P


def seal_spec(spec: Spec, mid: str) -> tuple[SealedBallot, list[int], bytes]:
    """The sealed ballot, the share values and the AES key, by section 6 (re-implemented)."""
    rng = random.Random(spec.seed)
    key = rng.randbytes(32)
    nonce = rng.randbytes(12)
    aad_ward = {"w1": "w2", "w2": "w3", "w3": "w1"}[spec.ward] if spec.fault == "aad" else spec.ward
    aad = rfc8785.dumps({"round": mid, "ward": aad_ward})
    ct = AESGCM(key).encrypt(nonce, spec.plaintext, aad)
    if spec.fault == "ct":
        ct = bytes([ct[0] ^ 1]) + ct[1:]
    secret = int.from_bytes(key, "big")
    if spec.fault == "badkey":
        secret = 2**256 + rng.randrange(P - 2**256)
    coefficients = [secret, rng.randrange(P)]  # threshold 2: degree 1
    values = [_poly_at(coefficients, i) for i in (1, 2, 3)]
    shares = []
    for i, value in enumerate(values, start=1):
        share_value = value
        if spec.trustee == i and spec.fault == "off":
            share_value = (value + 1 + rng.randrange(P - 1)) % P
        if spec.trustee == i and spec.fault == "big":
            share_value = P + rng.randrange(2**528 - P)
        values[i - 1] = share_value
        info = rfc8785.dumps({"round": mid, "trustee": TRUSTEE_IDS[i - 1]})
        public = TRUSTEE_KEYS[i - 1].public_key()
        share = SUITE.encrypt(share_value.to_bytes(66, "big"), public, info=info)
        if spec.trustee == i and spec.fault == "garbage":
            share = rng.randbytes(114)
        shares.append(share)
    return SealedBallot(tuple(shares), nonce, ct), values, key


def make_leaf(spec: Spec, manifest: Manifest) -> Leaf:
    """A leaf around the sealed ballot (token and voter_sig of the right shape only)."""
    sealed, _, _ = seal_spec(spec, manifest.mid)
    value = {
        "v": 1,
        "round": manifest.mid,
        "ward": spec.ward,
        "token": DUMMY_TOKEN,
        "ballot": sealed.to_json(),
        "voter_sig": b64u_encode(bytes(64)),
    }
    return parse_leaf(jcs(value), manifest, manifest.mid)


# -- the oracle -----------------------------------------------------------------------------------

# The Unicode White_Space property (PropList.txt), written out by code point ranges.
WHITE_SPACE_RANGES = (
    (0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
    (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
    (0x3000, 0x3000),
)  # fmt: skip
ORACLE_WHITE_SPACE = "".join(chr(c) for lo, hi in WHITE_SPACE_RANGES for c in range(lo, hi + 1))


class _NotCanonical(Exception):
    pass


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise _NotCanonical("duplicate key")
    return dict(pairs)


def _no_float(text: str) -> Any:
    raise _NotCanonical(f"float {text}")


def _check_strings(value: Any) -> None:
    if isinstance(value, str):
        if unicodedata.normalize("NFC", value) != value:
            raise _NotCanonical("not NFC")
        value.encode("utf-8")  # lone surrogates raise
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise _NotCanonical("integer out of range")
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)


def _depth(value: Any) -> int:
    """Levels of arrays and objects (a scalar is 0)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def oracle_canonical(data: bytes) -> Any:
    """The value of ``data`` if it is canonical (protocol 2.1), else raise _NotCanonical."""
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_strict_pairs,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
        _check_strings(value)
        if _depth(value) > 32:  # R2b: a fixed nesting limit of 32 levels
            raise _NotCanonical("nested deeper than 32 levels")
        if rfc8785.dumps(value) != data:
            raise _NotCanonical("not its own JCS")
    except (ValueError, UnicodeError, RecursionError, rfc8785.CanonicalizationError) as exc:
        raise _NotCanonical(str(exc)) from exc
    return value


def oracle_valid(value: Any, ward: str, manifest: Manifest) -> bool:
    q = manifest.questionnaire
    levels = [s.id for s in q.scale] + ([q.abstain.id] if q.abstain else [])
    fields = {c.id: c.max_chars for c in q.comments}
    if type(value) is not dict or sorted(value) != ["answers", "v", "ward"]:
        return False
    if type(value["v"]) is not int or value["v"] != 1 or value["ward"] != ward:
        return False
    answers = value["answers"]
    if type(answers) is not dict or sorted(answers) != sorted(WARDS[ward]):
        return False
    for answer in answers.values():
        if type(answer) is not dict or sorted(answer) != ["comments", "ratings"]:
            return False
        ratings, comments = answer["ratings"], answer["comments"]
        if type(ratings) is not dict or sorted(ratings) != ["k1", "k2"]:
            return False
        if not all(type(v) is str and v in levels for v in ratings.values()):
            return False
        if type(comments) is not dict:
            return False
        for name, text in comments.items():
            if name not in fields or type(text) is not str or len(text) > fields[name]:
                return False
    return True


def oracle_reason(spec: Spec, release: Sequence[int], mid: str, manifest: Manifest) -> str | None:
    """Section 7.3 step by step, from what the test knows about the sealing."""
    sealed, values, key = seal_spec(spec, mid)
    for i in release:  # 1. every released share opens to a value below p
        if spec.trustee == i and spec.fault in ("garbage", "big"):
            return "share_undecryptable"
    base, others = release[:2], release[2:]  # 2. f from the two lowest, the rest on it
    (x1, y1), (x2, y2) = ((x, values[x - 1]) for x in base)

    def f(x: int) -> int:
        return (y1 * (x - x2) * pow(x1 - x2, -1, P) + y2 * (x - x1) * pow(x2 - x1, -1, P)) % P

    if any(values[x - 1] != f(x) for x in others):
        return "shares_inconsistent"
    secret = f(0)
    if secret >= 2**256:  # 3.
        return "bad_key"
    aad = rfc8785.dumps({"round": mid, "ward": spec.ward})
    try:  # 4.
        plaintext = AESGCM(secret.to_bytes(32, "big")).decrypt(sealed.nonce, sealed.ct, aad)
    except InvalidTag:
        return "undecryptable"
    assert secret.to_bytes(32, "big") == key
    try:  # 5.
        value = oracle_canonical(plaintext)
    except _NotCanonical:
        return "not_canonical"
    if isinstance(value, dict) and "ward" in value and value["ward"] != spec.ward:
        return "wrong_ward"  # 6.
    if not oracle_valid(value, spec.ward, manifest):
        return "invalid_content"  # 7.
    return None


def oracle_results(
    manifest: Manifest,
    specs: Sequence[Spec],
    reasons: Sequence[str | None],
    issued: dict[str, int],
    mid: str,
) -> dict[str, Any]:
    """The results object of protocol 7.5, counted in plain Python over the plaintexts."""
    q = manifest.questionnaire
    levels = [s.id for s in q.scale] + ([q.abstain.id] if q.abstain else [])
    fields = [c.id for c in q.comments]

    def zero() -> dict[str, dict[str, int]]:
        return {c: dict.fromkeys(levels, 0) for c in ("k1", "k2")}

    ballots = dict.fromkeys(WARDS, 0)
    valid = dict.fromkeys(WARDS, 0)
    criteria = {s: zero() for s in SUBJECT_WARD}
    texts: dict[str, dict[str, list[str]]] = {s: {f: [] for f in fields} for s in SUBJECT_WARD}
    for spec, reason in zip(specs, reasons, strict=True):
        ballots[spec.ward] += 1
        if reason is not None:
            continue
        valid[spec.ward] += 1
        for subject, answer in json.loads(spec.plaintext)["answers"].items():
            for criterion, level in answer["ratings"].items():
                criteria[subject][criterion][level] += 1
            for name, text in answer["comments"].items():
                stripped = text.strip(ORACLE_WHITE_SPACE)
                if stripped:
                    texts[subject][name].append(stripped)

    def total(subjects: list[str]) -> dict[str, dict[str, int]]:
        out = zero()
        for s in subjects:
            for c in out:
                for level in levels:
                    out[c][level] += criteria[s][c][level]
        return out

    return {
        "round": mid,
        "tree_size": len(specs),
        "root": "AAAA",
        "trustees": [],
        "wards": {
            w: {
                "eligible": manifest.ward(w).eligible,
                "issued": issued[w],
                "ballots": ballots[w],
                "valid": valid[w],
                "invalid": ballots[w] - valid[w],
            }
            for w in WARDS
        },
        "subjects": {
            s: {
                "ward": SUBJECT_WARD[s],
                "role": SUBJECT_ROLE[s],
                "ballots": valid[SUBJECT_WARD[s]],
                "criteria": criteria[s],
                "comments": {f: sorted(texts[s][f]) for f in fields},
            }
            for s in SUBJECT_WARD
        },
        "roles": {
            r: {
                "subjects": len(held),
                "ballots": sum(valid[SUBJECT_WARD[s]] for s in held),
                "criteria": total(held),
            }
            for r in ("r1", "r2", "r3")
            for held in [[s for s in SUBJECT_ROLE if SUBJECT_ROLE[s] == r]]
        },
        "district": {"ballots": sum(valid.values()), "criteria": total(list(SUBJECT_WARD))},
        "invalid": [{"leaf_index": i, "reason": r} for i, r in enumerate(reasons) if r is not None],
    }


def tally(
    manifest: Manifest, leaves: Sequence[Leaf], release: Sequence[int], issued: dict[str, int]
) -> tuple[TallyBuilder, list[str | None]]:
    builder = TallyBuilder(manifest)
    opener = LeafOpener(manifest, secrets_for(release), manifest.mid)
    reasons = [builder.add(i, leaf, opener) for i, leaf in enumerate(leaves)]
    return builder, reasons


def results_of(builder: TallyBuilder, issued: dict[str, int], size: int) -> dict[str, Any]:
    return builder.results(
        mid=builder.manifest.mid, tree_size=size, root=b"\0\0\0", trustees=[], issued=issued
    ).to_json()


# -- strategies -----------------------------------------------------------------------------------

COMMENT_CHARS = st.sampled_from(
    list(" \t\n\u00a0\u3000\u2028\u200a\u0085")  # White_Space
    + list("\u200b\u180e\ufeff\x1c\x1f")  # look like space, are not White_Space
    + list("aăâbđêôơưzAĐ1 .,")
    + ["ệ", "Ổ", "😀"]
)
comment_text = st.text(COMMENT_CHARS, max_size=8).map(lambda t: unicodedata.normalize("NFC", t))


@st.composite
def valid_ballot(draw: st.DrawFn, manifest: Manifest, ward: str) -> dict[str, Any]:
    q = manifest.questionnaire
    levels = [s.id for s in q.scale] + ([q.abstain.id] if q.abstain else [])
    answers = {}
    for subject in WARDS[ward]:
        ratings = {c: draw(st.sampled_from(levels)) for c in ("k1", "k2")}
        comments = {}
        for field in q.comments:
            if draw(st.booleans()):
                text = draw(comment_text)
                comments[field.id] = text[: field.max_chars]
        answers[subject] = {"ratings": ratings, "comments": comments}
    return {"v": 1, "ward": ward, "answers": answers}


Mutation = Callable[[dict[str, Any]], Any]


def _first(ballot: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = next(iter(ballot["answers"].values()))
    return answer


MUTATIONS: dict[str, Mutation] = {
    "drop-subject": lambda b: b["answers"].popitem(),
    "extra-subject": lambda b: b["answers"].setdefault("s-other", _first(b)),
    "drop-criterion": lambda b: _first(b)["ratings"].pop("k1"),
    "bad-level": lambda b: _first(b)["ratings"].update(k2="xuat-sac"),
    "level-not-text": lambda b: _first(b)["ratings"].update(k2=3),
    "extra-key": lambda b: b.update(note="x"),
    "v-2": lambda b: b.update(v=2),
    "v-true": lambda b: b.update(v=True),
    "v-text": lambda b: b.update(v="1"),
    "no-ward": lambda b: b.pop("ward"),
    "other-ward": lambda b: b.update(ward="w3" if b["ward"] != "w3" else "w1"),
    "unknown-ward": lambda b: b.update(ward="nowhere"),
    "ward-number": lambda b: b.update(ward=7),
    "unknown-field": lambda b: _first(b)["comments"].update(khac="x"),
    "long-comment": lambda b: _first(b)["comments"].update(ngan="123456"),
    "comment-number": lambda b: _first(b)["comments"].update(ngan=5),
    "ratings-list": lambda b: _first(b).update(ratings=["tot", "tot"]),
    "answers-list": lambda b: b.update(answers=[]),
    "answer-extra": lambda b: _first(b).update(extra={}),
}
WHOLE: dict[str, Any] = {"list": [1, "a"], "text": "phiếu", "number": 1, "null": None}


def _serialize(draw: st.DrawFn, value: Any) -> bytes:
    form = draw(
        st.sampled_from(
            ["jcs"] * 14
            + ["spaces", "unsorted", "ascii", "newline", "bom", "utf16", "invalid-utf8"]
            + ["float", "dup", "nfd", "big-int", "deep"]
        )
    )
    canonical: bytes = rfc8785.dumps(value)
    if form == "spaces":
        return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    if form == "unsorted":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    if form == "ascii":
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    if form == "newline":
        return canonical + b"\n"
    if form == "bom":
        return b"\xef\xbb\xbf" + canonical
    if form == "utf16":
        return canonical.decode().encode("utf-16-le")
    if form == "invalid-utf8":
        return canonical[:-1] + b"\xff" + canonical[-1:]
    if form == "float" and canonical.startswith(b'{"answers"'):
        return canonical.replace(b'"v":1', b'"v":1.0')
    if form == "dup" and canonical.startswith(b"{"):
        return b'{"v":1,' + canonical[1:]
    if form == "nfd":
        return canonical.replace(b"v", "v\u0303".encode())  # not NFC: NFC is U+1E7D
    if form == "big-int":
        return canonical.replace(b'"v":1', b'"v":9007199254740993')
    if form == "deep":  # 200 levels is past R2b's limit; 30 more is just within it
        depth = draw(st.sampled_from([200, 33 - _depth(value), 32 - _depth(value)]))
        return b"[" * depth + canonical + b"]" * depth
    return canonical


@st.composite
def specs(draw: st.DrawFn, manifest: Manifest) -> Spec:
    ward = draw(st.sampled_from(["w1", "w1", "w2", "w2", "w3"]))
    content = draw(st.sampled_from(["valid"] * 5 + ["mutated"] * 2 + ["other-ward", "whole"]))
    value: Any
    if content == "whole":
        value = WHOLE[draw(st.sampled_from(sorted(WHOLE)))]
    else:
        value = draw(valid_ballot(manifest, ward))
        if content != "valid":
            name = content if content == "other-ward" else draw(st.sampled_from(sorted(MUTATIONS)))
            MUTATIONS[name](value)
    plaintext = _serialize(draw, value)
    fault = draw(
        st.sampled_from(["none"] * 12 + ["garbage", "big", "off", "off", "badkey", "ct", "aad"])
    )
    return Spec(ward, plaintext, fault, draw(st.integers(1, 3)), draw(st.integers(0, 2**32)))


@st.composite
def rounds(draw: st.DrawFn) -> tuple[Manifest, list[Spec], tuple[int, ...], dict[str, int]]:
    manifest = MANIFESTS[draw(st.sampled_from(sorted(MANIFESTS)))]
    leaves = draw(st.lists(specs(manifest), max_size=10))
    release = draw(st.sampled_from(RELEASE_SETS))
    issued = {w: draw(st.integers(0, 50)) for w in WARDS}
    return manifest, leaves, release, issued


SETTINGS = settings(
    deadline=None, max_examples=examples(60), suppress_health_check=[HealthCheck.too_slow]
)

# -- the properties -------------------------------------------------------------------------------


@SETTINGS
@given(rounds())
def test_tally_equals_plain_count(
    case: tuple[Manifest, list[Spec], tuple[int, ...], dict[str, int]],
) -> None:
    manifest, spec_list, release, issued = case
    mid = manifest.mid
    leaves = [make_leaf(s, manifest) for s in spec_list]
    builder, reasons = tally(manifest, leaves, release, issued)
    expected = [oracle_reason(s, release, mid, manifest) for s in spec_list]
    assert reasons == expected
    assert builder.invalid == [(i, r) for i, r in enumerate(expected) if r is not None]
    results = builder.results(
        mid=mid, tree_size=len(leaves), root=b"\0\0\0", trustees=[], issued=issued
    )
    assert results.to_json() == oracle_results(manifest, spec_list, expected, issued, mid)


@SETTINGS
@given(rounds(), st.data())
def test_merge_and_order_independence(
    case: tuple[Manifest, list[Spec], tuple[int, ...], dict[str, int]], data: st.DataObject
) -> None:
    manifest, spec_list, release, issued = case
    mid = manifest.mid
    leaves = [make_leaf(s, manifest) for s in spec_list]
    whole, reasons = tally(manifest, leaves, release, issued)
    expected = results_of(whole, issued, len(leaves))

    # partial builders over any partition of the leaves (indices kept), merged in any order
    parts = data.draw(st.integers(1, 4))
    owner = data.draw(st.lists(st.integers(0, parts - 1), min_size=len(leaves)))
    opener = LeafOpener(manifest, secrets_for(release), mid)
    partial = [TallyBuilder(manifest) for _ in range(parts)]
    for index, leaf in enumerate(leaves):
        partial[owner[index]].add(index, leaf, opener)
    order = data.draw(st.permutations(range(parts)))
    merged = TallyBuilder(manifest)
    for k in order:
        merged.merge(partial[k])
    assert results_of(merged, issued, len(leaves)) == expected

    # another board order: the same results but for the invalid ballots' indices
    permutation = data.draw(st.permutations(range(len(leaves))))
    shuffled, shuffled_reasons = tally(manifest, [leaves[k] for k in permutation], release, issued)
    assert shuffled_reasons == [reasons[k] for k in permutation]
    moved = results_of(shuffled, issued, len(leaves))
    assert moved["invalid"] == [
        {"leaf_index": new, "reason": reasons[old]}
        for new, old in enumerate(permutation)
        if reasons[old] is not None
    ]
    del moved["invalid"], expected["invalid"]
    assert moved == expected


# -- every reason, by example ---------------------------------------------------------------------

FULL = MANIFESTS["full"]
GOOD: dict[str, Any] = {
    "v": 1,
    "ward": "w2",
    "answers": {"s3": {"ratings": {"k1": "tot", "k2": "khong"}, "comments": {}}},
}
GOOD_BYTES = rfc8785.dumps(GOOD)


@pytest.mark.parametrize(
    ("spec", "release", "reason"),
    [
        (Spec("w2", GOOD_BYTES), (1, 2, 3), None),
        (Spec("w2", GOOD_BYTES, "garbage", 3), (1, 2, 3), "share_undecryptable"),
        (Spec("w2", GOOD_BYTES, "garbage", 3), (1, 2), None),  # an unreleased share
        (Spec("w2", GOOD_BYTES, "big", 1), (1, 3), "share_undecryptable"),
        (Spec("w2", GOOD_BYTES, "off", 3), (1, 2, 3), "shares_inconsistent"),
        (Spec("w2", GOOD_BYTES, "off", 1), (1, 2, 3), "shares_inconsistent"),
        (Spec("w2", GOOD_BYTES, "badkey"), (1, 2), "bad_key"),
        (Spec("w2", GOOD_BYTES, "ct"), (2, 3), "undecryptable"),
        (Spec("w2", GOOD_BYTES, "aad"), (2, 3), "undecryptable"),
        (Spec("w2", GOOD_BYTES + b" "), (1, 2), "not_canonical"),
        (Spec("w1", GOOD_BYTES), (1, 2), "wrong_ward"),
        (Spec("w2", GOOD_BYTES.replace(b'"v":1', b'"v":2')), (1, 2), "invalid_content"),
    ],
)
def test_each_reason(spec: Spec, release: tuple[int, ...], reason: str | None) -> None:
    assert reason is None or reason in REASONS
    assert oracle_reason(spec, release, FULL.mid, FULL) == reason
    _, reasons = tally(FULL, [make_leaf(spec, FULL)], release, {})
    assert reasons == [reason]


def test_white_space_is_the_unicode_property() -> None:
    assert set(WHITE_SPACE) == set(ORACLE_WHITE_SPACE)
    assert strip_comment("\u3000\x85 ý kiến \u2028\t") == "ý kiến"
    assert strip_comment("\u200b ý \ufeff") == "\u200b ý \ufeff"  # not White_Space
    assert strip_comment(" \u00a0 ") == ""


def test_empty_round_has_every_zero() -> None:
    builder = TallyBuilder(FULL)
    issued = dict.fromkeys(WARDS, 0)
    assert results_of(builder, issued, 0) == oracle_results(FULL, [], [], issued, FULL.mid)
