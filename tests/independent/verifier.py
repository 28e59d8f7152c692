"""Independent auditor of an anonballot v1 round record (checks A1..A13).

Written from the protocol brief (sections 2-9) and the refinements R1..R17 only. It uses the
standard library, ``cryptography`` (RSA-PSS, X25519, HPKE, AES-GCM), ``pynacl`` (Ed25519)
and ``rfc8785`` (JCS); Merkle trees, signed notes, Shamir interpolation, parsing, the opening
rules (R10) and the tally (R11) are this module's own.

``verify_record(path)`` returns ``{"A1": True | "reason", ..., "A13": True | "reason"}``:
``True`` when the check passes, :data:`NOT_CHECKED` for A10 to A12 on the public part of a
restricted round (protocol section 9.2), otherwise a string saying why it fails.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools
import json
import re
import unicodedata
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import rfc8785
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

CHECKS = tuple(f"A{i}" for i in range(1, 14))

P = 2**521 - 1  # Shamir field (brief section 6)
HPKE_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_128_GCM)
PSS_48 = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
SAFE_INT = 2**53 - 1
MAX_DEPTH = 32  # arrays and objects nest at most 32 levels (protocol section 2.1)
# Characters with the Unicode White_Space property (R11), not Python's str.isspace().
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
EM_DASH = "\u2014"

_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_LANG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_B64U = re.compile(r"[A-Za-z0-9_-]*")
_B64STD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))"
)
_DECIMAL = re.compile(r"0|[1-9][0-9]*")

MANIFEST_KEYS = {
    "v",
    "round_id",
    "title",
    "district",
    "origin",
    "issuance",
    "voting",
    "questionnaire",
    "roles",
    "wards",
    "subjects",
    "trustees",
    "threshold",
    "min_group",
    "organizer_key",
    "log_key",
}
OPTIONAL_MANIFEST_KEYS = {"results_access", "previous", "witnesses", "booth"}  # section 4.1
LEAF_KEYS = {"v", "round", "ward", "token", "ballot", "voter_sig"}
NOT_CHECKED = "not checked: needs the confidential part"
"""A10 to A12 on a record of a restricted round that holds no release and no results."""


class Invalid(Exception):
    """A rule of the texts is broken; the message says which."""


class Unusable(ValueError):
    """The input is not a round record at all (audit exit code 2)."""


# --------------------------------------------------------------------------- encodings


def jcs(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value."""
    data: bytes = rfc8785.dumps(value)
    return data


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: object, size: int | None = None, what: str = "value") -> bytes:
    """Canonical unpadded base64url (R3), optionally of an exact byte length."""
    if not isinstance(text, str) or not _B64U.fullmatch(text) or len(text) % 4 == 1:
        raise Invalid(f"{what}: not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64u(data) != text:
        raise Invalid(f"{what}: non-canonical base64url")
    if size is not None and len(data) != size:
        raise Invalid(f"{what}: {len(data)} bytes, expected {size}")
    return data


def b64std_decode(text: str, what: str) -> bytes:
    """Canonical padded standard base64 (checkpoints, R3/R14)."""
    if not _B64STD.fullmatch(text) or len(text) % 4:
        raise Invalid(f"{what}: not padded standard base64")
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode("ascii") != text:
        raise Invalid(f"{what}: non-canonical base64")
    return data


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Invalid(f"duplicate member name {key!r}")
        out[key] = value
    return out


def _reject_float(text: str) -> Any:
    raise Invalid(f"non-integer number {text}")


def _reject_constant(text: str) -> Any:
    raise Invalid(f"not JSON: {text}")


def _check_int(text: str) -> int:
    value = int(text)
    if not -SAFE_INT <= value <= SAFE_INT:
        raise Invalid(f"integer {text} outside the I-JSON range")
    return value


def _check_strings(value: object) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid("string with a lone surrogate") from None
        if not unicodedata.is_normalized("NFC", value):
            raise Invalid(f"string not NFC: {value!r}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def _nesting(value: object) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0, ``[]`` is 1)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(data: bytes) -> Any:
    """Strict parse (protocol section 2.1): UTF-8, RFC 8259, integers in the safe range, no
    duplicate names, NFC strings without lone surrogates, nested at most 32 levels. Does not
    require canonical bytes."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("not UTF-8") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_reject_float,
            parse_int=_check_int,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        raise Invalid(f"not JSON: {exc}") from None
    except RecursionError:
        raise Invalid(f"nested deeper than {MAX_DEPTH} levels") from None
    if _nesting(value) > MAX_DEPTH:
        raise Invalid(f"nested deeper than {MAX_DEPTH} levels")
    _check_strings(value)
    return value


def parse_canonical(data: bytes) -> Any:
    """Parse and require the bytes to be the JCS of the value (R2 "is canonical")."""
    value = parse_json(data)
    if jcs(value) != data:
        raise Invalid("not canonical JCS")
    return value


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def want_dict(value: object, keys: set[str] | None, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{what}: not an object")
    if keys is not None and set(value) != keys:
        raise Invalid(f"{what}: keys {sorted(value)}, expected {sorted(keys)}")
    return cast(dict[str, Any], value)


def want_list(value: object, what: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(f"{what}: not a list")
    if non_empty and not value:
        raise Invalid(f"{what}: empty")
    return value


def want_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise Invalid(f"{what}: not an identifier: {value!r}")
    return value


def want_label(value: object, what: str) -> None:
    label = want_dict(value, None, what)
    if "vi" not in label:
        raise Invalid(f"{what}: no vi text")
    for tag, text in label.items():
        if not _LANG.fullmatch(tag):
            raise Invalid(f"{what}: bad language tag {tag!r}")
        if not isinstance(text, str) or not text:
            raise Invalid(f"{what}: empty or non-string text for {tag}")


def want_time(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise Invalid(f"{what}: not a string")
    match = _TIME.fullmatch(value)
    if not match:
        raise Invalid(f"{what}: not RFC 3339: {value!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        raise Invalid(f"{what}: impossible date/time {value!r}") from None
    if second > 60 or (match.group(9) and (int(match.group(9)) > 23 or int(match.group(10)) > 59)):
        raise Invalid(f"{what}: impossible time {value!r}")


def unique_ids(items: list[Any], what: str) -> list[str]:
    ids = [want_id(want_dict(item, None, what).get("id"), f"{what} id") for item in items]
    if len(set(ids)) != len(ids):
        raise Invalid(f"{what}: duplicate ids")
    return ids


def ed25519_ok(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    try:
        VerifyKey(public).verify(message, signature)
    except (BadSignatureError, ValueError, TypeError, CryptoError):
        return False
    return True


def open_signed(value: object, kind: str, public: bytes | None) -> dict[str, Any]:
    """``{"<kind>": V, "signature": b64u(Ed25519(JCS(V)))}``; returns V. With ``public``
    None the signature is only parsed (the caller verifies with a key found in V)."""
    signed = want_dict(value, {kind, "signature"}, f"signed {kind}")
    signature = b64u_decode(signed["signature"], 64, f"{kind} signature")
    body = want_dict(signed[kind], None, kind)
    if public is not None and not ed25519_ok(public, jcs(body), signature):
        raise Invalid(f"{kind} signature does not verify")
    return body


# --------------------------------------------------------------------------- Merkle tree


def leaf_hash(leaf: bytes) -> bytes:
    return sha256(b"\x00" + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def merkle_root(leaf_hashes: list[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes."""
    n = len(leaf_hashes)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(merkle_root(leaf_hashes[:k]), merkle_root(leaf_hashes[k:]))


# --------------------------------------------------------------------------- signed notes


def note_key_id(origin: str, public: bytes) -> bytes:
    return sha256(origin.encode("utf-8") + b"\n" + b"\x01" + public)[:4]


def parse_checkpoint(data: bytes, origin: str, log_key: bytes) -> tuple[int, bytes]:
    """A C2SP checkpoint signed by the log key (R14); returns (size, root)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("checkpoint not UTF-8") from None
    split = text.find("\n\n")
    if split < 0:
        raise Invalid("checkpoint has no blank line before its signatures")
    body, signatures = text[: split + 1], text[split + 2 :]
    lines = body.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise Invalid("checkpoint body is not exactly three lines")
    if lines[0] != origin:
        raise Invalid(f"checkpoint origin {lines[0]!r} is not {origin!r}")
    if not _DECIMAL.fullmatch(lines[1]):
        raise Invalid(f"checkpoint size {lines[1]!r} is not decimal")
    size = int(lines[1])
    if len(lines[2]) != 44:
        raise Invalid("checkpoint root is not 44 characters")
    root = b64std_decode(lines[2], "checkpoint root")
    if len(root) != 32:
        raise Invalid("checkpoint root is not 32 bytes")
    if not signatures or not signatures.endswith("\n"):
        raise Invalid("checkpoint has no signature lines")
    key_id = note_key_id(origin, log_key)
    verified = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(EM_DASH + " "):
            raise Invalid(f"malformed signature line {line!r}")
        parts = line[2:].split(" ")
        if len(parts) != 2 or not parts[0]:
            raise Invalid(f"malformed signature line {line!r}")
        blob = b64std_decode(parts[1], "note signature")
        if len(blob) < 5:
            raise Invalid("note signature too short")
        if parts[0] != origin or blob[:4] != key_id:
            continue
        if not ed25519_ok(log_key, body.encode("utf-8"), blob[4:]):
            raise Invalid("checkpoint signature by the log key does not verify")
        verified = True
    if not verified:
        raise Invalid("checkpoint has no signature by the log key")
    return size, root


# --------------------------------------------------------------------------- manifest


@dataclass
class Ward:
    id: str
    eligible: int
    key: rsa.RSAPublicKey
    modulus_bytes: int


@dataclass
class Subject:
    id: str
    ward: str
    role: str


@dataclass
class Trustee:
    id: str
    x: int
    hpke_key: bytes
    signing_key: bytes


@dataclass
class Witness:
    """A witness named by ``M.witnesses`` (protocol section 6.9): its cosignature/v1 key."""

    name: str
    key_id: bytes
    public_key: bytes


@dataclass
class Manifest:
    value: dict[str, Any]
    mid: str
    round_id: str
    origin: str
    wards: dict[str, Ward]
    roles: list[str]
    subjects: list[Subject]
    trustees: list[Trustee]
    threshold: int
    scale: list[str]
    abstain: str | None
    criteria: list[str]
    comments: dict[str, int]
    organizer_key: bytes
    log_key: bytes
    results_access: str = "public"
    witnesses: list[Witness] = field(default_factory=list)
    """Empty when the manifest names no witnesses."""
    quorum: int = 0

    @property
    def levels(self) -> list[str]:
        return self.scale + ([self.abstain] if self.abstain is not None else [])

    def ward_subjects(self, ward: str) -> list[str]:
        return [s.id for s in self.subjects if s.ward == ward]


def _rsa_key(text: object, what: str) -> rsa.RSAPublicKey:
    der = b64u_decode(text, None, what)
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise Invalid(f"{what}: not a DER SubjectPublicKeyInfo") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise Invalid(f"{what}: not an RSA key")
    if not 2048 <= key.key_size <= 4096 or key.public_numbers().e != 65537:
        raise Invalid(f"{what}: modulus {key.key_size} bits or e != 65537")
    canonical = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if canonical != der:
        raise Invalid(f"{what}: non-canonical DER")
    return key


def parse_manifest(signed: object) -> Manifest:
    """A1: the signed manifest, its structure (R5) and signature."""
    body = open_signed(signed, "manifest", None)
    m = want_dict(body, None, "manifest")
    if not MANIFEST_KEYS <= set(m) <= MANIFEST_KEYS | OPTIONAL_MANIFEST_KEYS:
        raise Invalid(f"manifest: keys {sorted(m)}")
    if not is_int(m["v"]) or m["v"] != 1:
        raise Invalid("manifest v is not 1")
    round_id = want_id(m["round_id"], "round_id")
    # section 4.2: absent means public; present, exactly one of the two words
    results_access = m.get("results_access", "public")
    if results_access not in ("public", "restricted"):
        raise Invalid(f"results_access {results_access!r}")
    if "previous" in m:
        prev = want_dict(m["previous"], {"round_id", "mid"}, "previous")
        if want_id(prev["round_id"], "previous.round_id") == round_id:
            raise Invalid("previous names the round itself")
        b64u_decode(prev["mid"], 32, "previous.mid")
    want_label(m["title"], "title")
    want_label(m["district"], "district")
    origin = m["origin"]
    if (
        not isinstance(origin, str)
        or not origin
        or "+" in origin
        or any(ch in WHITE_SPACE or ch.isspace() for ch in origin)
    ):
        raise Invalid(f"origin {origin!r} is not a valid key name")
    for window in ("issuance", "voting"):
        w = want_dict(m[window], {"opens", "closes"}, window)
        want_time(w["opens"], f"{window}.opens")
        want_time(w["closes"], f"{window}.closes")

    q = want_dict(m["questionnaire"], {"scale", "abstain", "criteria", "comments"}, "questionnaire")
    scale_items = want_list(q["scale"], "scale", non_empty=True)
    for item in scale_items:
        want_label(want_dict(item, {"id", "label"}, "scale level")["label"], "scale label")
    scale = unique_ids(scale_items, "scale")
    abstain: str | None = None
    if q["abstain"] is not None:
        a = want_dict(q["abstain"], {"id", "label"}, "abstain")
        abstain = want_id(a["id"], "abstain id")
        want_label(a["label"], "abstain label")
        if abstain in scale:
            raise Invalid("abstain id equals a scale id")
    criteria_items = want_list(q["criteria"], "criteria", non_empty=True)
    for item in criteria_items:
        want_label(want_dict(item, {"id", "label"}, "criterion")["label"], "criterion label")
    criteria = unique_ids(criteria_items, "criteria")
    comment_items = want_list(q["comments"], "comments")
    comments: dict[str, int] = {}
    for item in comment_items:
        c = want_dict(item, {"id", "label", "max_chars"}, "comment field")
        want_label(c["label"], "comment label")
        if not is_int(c["max_chars"]) or not 1 <= c["max_chars"] <= 65536:
            raise Invalid("max_chars outside 1..65536")
        comments[want_id(c["id"], "comment id")] = c["max_chars"]
    if len(comments) != len(comment_items):
        raise Invalid("comments: duplicate ids")

    role_items = want_list(m["roles"], "roles", non_empty=True)
    for item in role_items:
        want_label(want_dict(item, {"id", "title"}, "role")["title"], "role title")
    roles = unique_ids(role_items, "roles")

    ward_items = want_list(m["wards"], "wards", non_empty=True)
    unique_ids(ward_items, "wards")
    wards: dict[str, Ward] = {}
    seen_keys: set[str] = set()
    for item in ward_items:
        w = want_dict(item, {"id", "name", "eligible", "issuer_key"}, "ward")
        want_label(w["name"], "ward name")
        if not is_int(w["eligible"]) or w["eligible"] < 0:
            raise Invalid(f"ward {w['id']}: eligible is not a non-negative integer")
        key = _rsa_key(w["issuer_key"], f"ward {w['id']} issuer_key")
        if w["issuer_key"] in seen_keys:
            raise Invalid("two wards share an issuer key")
        seen_keys.add(w["issuer_key"])
        wards[w["id"]] = Ward(w["id"], w["eligible"], key, (key.key_size + 7) // 8)

    subject_items = want_list(m["subjects"], "subjects", non_empty=True)
    unique_ids(subject_items, "subjects")
    subjects: list[Subject] = []
    for item in subject_items:
        s = want_dict(item, {"id", "ward", "role", "name"}, "subject")
        want_label(s["name"], "subject name")
        if s["ward"] not in wards or s["role"] not in roles:
            raise Invalid(f"subject {s['id']}: unknown ward or role")
        subjects.append(Subject(s["id"], s["ward"], s["role"]))
    for ward_id in wards:
        if not any(s.ward == ward_id for s in subjects):
            raise Invalid(f"ward {ward_id} has no subject")

    trustee_items = want_list(m["trustees"], "trustees", non_empty=True)
    unique_ids(trustee_items, "trustees")
    trustees: list[Trustee] = []
    for index, item in enumerate(trustee_items, start=1):
        t = want_dict(item, {"id", "name", "hpke_key", "signing_key"}, "trustee")
        want_label(t["name"], "trustee name")
        trustees.append(
            Trustee(
                t["id"],
                index,
                b64u_decode(t["hpke_key"], 32, "hpke_key"),
                b64u_decode(t["signing_key"], 32, "signing_key"),
            )
        )
    threshold = m["threshold"]
    if not is_int(threshold) or not 1 <= threshold <= len(trustees):
        raise Invalid("threshold outside 1..len(trustees)")
    if not is_int(m["min_group"]) or m["min_group"] < 1:
        raise Invalid("min_group < 1")
    organizer_key = b64u_decode(m["organizer_key"], 32, "organizer_key")
    log_key = b64u_decode(m["log_key"], 32, "log_key")
    witnesses, quorum = parse_witnesses(m["witnesses"]) if "witnesses" in m else ([], 0)
    open_signed(signed, "manifest", organizer_key)
    return Manifest(
        value=m,
        mid=b64u(sha256(jcs(m))),
        round_id=round_id,
        origin=origin,
        wards=wards,
        roles=roles,
        subjects=subjects,
        trustees=trustees,
        threshold=threshold,
        scale=scale,
        abstain=abstain,
        criteria=criteria,
        comments=comments,
        organizer_key=organizer_key,
        log_key=log_key,
        results_access=results_access,
        witnesses=witnesses,
        quorum=quorum,
    )


def key_name_ok(name: object) -> bool:
    """A signed-note key name: non-empty, no "+", no white space (section 6.6)."""
    return (
        isinstance(name, str)
        and bool(name)
        and "+" not in name
        and not any(ch in WHITE_SPACE or ch.isspace() for ch in name)
    )


def cosignature_key_id(name: str, public: bytes) -> bytes:
    """c2sp.org/tlog-cosignature: SHA-256(name || 0x0A || 0x04 || Ed25519 key)[:4]."""
    return sha256(name.encode("utf-8") + b"\n" + b"\x04" + public)[:4]


def parse_witness_vkey(vkey: object) -> Witness:
    """``<name>+<8 hex key ID>+<base64(0x04 || 32-byte Ed25519 key)>``, key ID checked."""
    if not isinstance(vkey, str) or vkey.count("+") < 2:
        raise Invalid("witness vkey: not <name>+<key id>+<key>")
    name, kid_hex, b64 = vkey.split("+", 2)
    if not key_name_ok(name):
        raise Invalid(f"witness vkey: {name!r} is not a key name")
    if not re.fullmatch(r"[0-9a-f]{8}", kid_hex):
        raise Invalid("witness vkey: the key ID is not 8 lowercase hex digits")
    raw = b64std_decode(b64, "witness vkey")
    if len(raw) != 33 or raw[0] != 0x04:
        raise Invalid("witness vkey: not 0x04 and a 32-byte Ed25519 key")
    if cosignature_key_id(name, raw[1:]).hex() != kid_hex:
        raise Invalid("witness vkey: the key ID does not match the name and key")
    return Witness(name, bytes.fromhex(kid_hex), raw[1:])


def parse_witnesses(value: object) -> tuple[list[Witness], int]:
    """``M.witnesses``: ``{"quorum": q, "list": [{"vkey", "url"}, ...]}``, 1 to 32
    witnesses of distinct names, ``1 <= q <= len(list)``."""
    w = want_dict(value, {"quorum", "list"}, "witnesses")
    items = want_list(w["list"], "witnesses.list", non_empty=True)
    if len(items) > 32:
        raise Invalid("witnesses: more than 32")
    witnesses = []
    for item in items:
        entry = want_dict(item, {"vkey", "url"}, "witness")
        url = entry["url"]
        if not isinstance(url, str) or not re.fullmatch(r"https?://[\x21-\x7e]+", url):
            raise Invalid(f"witness url {url!r}")
        witnesses.append(parse_witness_vkey(entry["vkey"]))
    if len({x.name for x in witnesses}) != len(witnesses):
        raise Invalid("witnesses: two with the same name")
    quorum = w["quorum"]
    if not is_int(quorum) or not 1 <= quorum <= len(witnesses):
        raise Invalid("witnesses.quorum outside 1..len(list)")
    return witnesses, quorum


# --------------------------------------------------------------------------- leaves


@dataclass
class Leaf:
    index: int
    ward: str
    msg: bytes
    sig: bytes
    shares: list[bytes]
    nonce: bytes
    ct: bytes
    voter_sig: bytes
    value: dict[str, Any]


def parse_leaf(index: int, line: bytes, m: Manifest) -> Leaf:
    """A2: the whole leaf structure of R8, canonical form, v, round, known ward."""
    value = want_dict(parse_canonical(line), LEAF_KEYS, "leaf")
    if not is_int(value["v"]) or value["v"] != 1:
        raise Invalid("v is not 1")
    if value["round"] != m.mid:
        raise Invalid("round is not this round's mid")
    ward = value["ward"]
    if not isinstance(ward, str) or ward not in m.wards:
        raise Invalid(f"unknown ward {ward!r}")
    token = want_dict(value["token"], {"msg", "sig"}, "token")
    msg = b64u_decode(token["msg"], 64, "token.msg")
    sig = b64u_decode(token["sig"], m.wards[ward].modulus_bytes, "token.sig")
    if int.from_bytes(sig, "big") >= m.wards[ward].key.public_numbers().n:
        raise Invalid("token.sig >= n")
    ballot = want_dict(value["ballot"], {"shares", "nonce", "ct"}, "ballot")
    shares_raw = want_list(ballot["shares"], "shares")
    if len(shares_raw) != len(m.trustees):
        raise Invalid(f"{len(shares_raw)} shares for {len(m.trustees)} trustees")
    shares = [b64u_decode(s, 114, "share") for s in shares_raw]
    nonce = b64u_decode(ballot["nonce"], 12, "nonce")
    ct = b64u_decode(ballot["ct"], None, "ct")
    if not 16 <= len(ct) <= 65536:
        raise Invalid(f"ct is {len(ct)} bytes")
    voter_sig = b64u_decode(value["voter_sig"], 64, "voter_sig")
    return Leaf(index, ward, msg, sig, shares, nonce, ct, voter_sig, value)


def token_ok(leaf: Leaf, m: Manifest) -> bool:
    try:
        m.wards[leaf.ward].key.verify(leaf.sig, leaf.msg, PSS_48, hashes.SHA384())
    except InvalidSignature:
        return False
    return True


def voter_sig_ok(leaf: Leaf) -> bool:
    unsigned = {k: v for k, v in leaf.value.items() if k != "voter_sig"}
    return ed25519_ok(leaf.msg[32:], jcs(unsigned), leaf.voter_sig)


# --------------------------------------------------------------------------- opening (R10)


def lagrange(points: list[tuple[int, int]], x: int) -> int:
    total = 0
    for j, (xj, yj) in enumerate(points):
        num, den = 1, 1
        for k, (xk, _) in enumerate(points):
            if k != j:
                num = num * (x - xk) % P
                den = den * (xj - xk) % P
        total = (total + yj * num * pow(den, -1, P)) % P
    return total


def hpke_info(mid: str, trustee: str) -> bytes:
    return jcs({"round": mid, "trustee": trustee})


def ballot_aad(mid: str, ward: str) -> bytes:
    return jcs({"round": mid, "ward": ward})


def ballot_valid(b: object, ward: str, m: Manifest) -> bool:
    """Brief section 6: the rules of a valid plaintext ballot B for the leaf's ward."""
    if not isinstance(b, dict) or set(b) != {"v", "ward", "answers"}:
        return False
    if not is_int(b["v"]) or b["v"] != 1 or b["ward"] != ward:
        return False
    answers = b["answers"]
    if not isinstance(answers, dict) or set(answers) != set(m.ward_subjects(ward)):
        return False
    levels = set(m.levels)
    for answer in answers.values():
        if not isinstance(answer, dict) or set(answer) != {"ratings", "comments"}:
            return False
        ratings, comments = answer["ratings"], answer["comments"]
        if not isinstance(ratings, dict) or set(ratings) != set(m.criteria):
            return False
        if not all(isinstance(v, str) and v in levels for v in ratings.values()):
            return False
        if not isinstance(comments, dict) or not set(comments) <= set(m.comments):
            return False
        for name, text in comments.items():
            if not isinstance(text, str) or not unicodedata.is_normalized("NFC", text):
                return False
            if len(text) > m.comments[name]:
                return False
    return True


def open_leaf(
    leaf: Leaf, m: Manifest, released: Mapping[str, x25519.X25519PrivateKey]
) -> dict[str, Any] | str:
    """R10: the plaintext ballot, or the reason code of the first failing step."""
    taking_part = [t for t in m.trustees if t.id in released]  # index order
    values: list[tuple[int, int]] = []
    for t in taking_part:
        try:
            plain = HPKE_SUITE.decrypt(
                leaf.shares[t.x - 1], released[t.id], info=hpke_info(m.mid, t.id)
            )
        except Exception:
            return "share_undecryptable"
        if len(plain) != 66 or int.from_bytes(plain, "big") >= P:
            return "share_undecryptable"
        values.append((t.x, int.from_bytes(plain, "big")))
    basis = values[: m.threshold]
    for x, y in values[m.threshold :]:
        if lagrange(basis, x) != y:
            return "shares_inconsistent"
    key = lagrange(basis, 0)
    if key >= 2**256:
        return "bad_key"
    try:
        plaintext = AESGCM(key.to_bytes(32, "big")).decrypt(
            leaf.nonce, leaf.ct, ballot_aad(m.mid, leaf.ward)
        )
    except InvalidTag:
        return "undecryptable"
    try:
        ballot = parse_canonical(plaintext)
    except Invalid:
        return "not_canonical"
    if isinstance(ballot, dict) and "ward" in ballot and ballot["ward"] != leaf.ward:
        return "wrong_ward"
    if not ballot_valid(ballot, leaf.ward, m):
        return "invalid_content"
    return cast(dict[str, Any], ballot)


# --------------------------------------------------------------------------- tally (R11)


def strip_white_space(text: str) -> str:
    return text.strip(WHITE_SPACE)


def build_results(
    m: Manifest,
    *,
    tree_size: int,
    root: bytes,
    trustees: list[str],
    issued: Mapping[str, int],
    leaf_wards: list[str],
    outcomes: list[dict[str, Any] | str],
) -> dict[str, Any]:
    """The results value of R11 from each leaf's ward and outcome (ballot or reason)."""

    def zero_counts() -> dict[str, dict[str, int]]:
        return {c: dict.fromkeys(m.levels, 0) for c in m.criteria}

    def add(into: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]) -> None:
        for criterion, per_level in counts.items():
            for level, n in per_level.items():
                into[criterion][level] += n

    ballots = dict.fromkeys(m.wards, 0)
    valid = dict.fromkeys(m.wards, 0)
    criteria = {s.id: zero_counts() for s in m.subjects}
    texts: dict[str, dict[str, list[str]]] = {s.id: {f: [] for f in m.comments} for s in m.subjects}
    invalid: list[dict[str, Any]] = []
    for index, (ward, outcome) in enumerate(zip(leaf_wards, outcomes, strict=True)):
        ballots[ward] += 1
        if isinstance(outcome, str):
            invalid.append({"leaf_index": index, "reason": outcome})
            continue
        valid[ward] += 1
        for subject, answer in outcome["answers"].items():
            for criterion, level in answer["ratings"].items():
                criteria[subject][criterion][level] += 1
            for name, text in answer["comments"].items():
                stripped = strip_white_space(text)
                if stripped:
                    texts[subject][name].append(stripped)

    subjects: dict[str, Any] = {}
    for s in m.subjects:
        subjects[s.id] = {
            "ward": s.ward,
            "role": s.role,
            "ballots": valid[s.ward],
            "criteria": criteria[s.id],
            "comments": {name: sorted(found) for name, found in texts[s.id].items()},
        }
    roles: dict[str, Any] = {}
    for role in m.roles:
        summed = zero_counts()
        members = [s for s in m.subjects if s.role == role]
        for s in members:
            add(summed, criteria[s.id])
        roles[role] = {
            "subjects": len(members),
            "ballots": sum(valid[s.ward] for s in members),
            "criteria": summed,
        }
    district = zero_counts()
    for s in m.subjects:
        add(district, criteria[s.id])
    return {
        "round": m.mid,
        "tree_size": tree_size,
        "root": b64u(root),
        "trustees": trustees,
        "wards": {
            w.id: {
                "eligible": w.eligible,
                "issued": issued[w.id],
                "ballots": ballots[w.id],
                "valid": valid[w.id],
                "invalid": ballots[w.id] - valid[w.id],
            }
            for w in m.wards.values()
        },
        "subjects": subjects,
        "roles": roles,
        "district": {"ballots": sum(valid.values()), "criteria": district},
        "invalid": invalid,
    }


# --------------------------------------------------------------------------- the record


def load_files(path: str | Path) -> dict[str, bytes]:
    """The record's files by name relative to the round folder (R16)."""
    path = Path(path)
    if path.is_dir():
        root = path
        if not (root / "manifest.json").is_file():
            inner = [d for d in path.iterdir() if d.is_dir() and (d / "manifest.json").is_file()]
            if len(inner) != 1:
                raise Unusable(f"{path}: no manifest.json")
            root = inner[0]
        return {
            f.relative_to(root).as_posix(): f.read_bytes() for f in root.rglob("*") if f.is_file()
        }
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            tops = {n.split("/", 1)[0] for n in names}
            if len(tops) != 1 or any("/" not in n for n in names):
                raise Unusable(f"{path}: entries are not under one <round_id>/ folder")
            top = tops.pop()
            files = {n[len(top) + 1 :]: archive.read(n) for n in names}
        if "manifest.json" not in files:
            raise Unusable(f"{path}: no manifest.json")
        files[".zip-folder"] = top.encode("utf-8")
        return files
    raise Unusable(f"{path}: not a folder or a zip")


@dataclass
class _State:
    files: dict[str, bytes]
    manifest: Manifest | None = None
    lines: list[bytes] = field(default_factory=list)
    leaves: dict[int, Leaf] = field(default_factory=dict)
    leaf_wards: dict[int, str] = field(default_factory=dict)
    root: bytes = b""
    issued: dict[str, int] | None = None
    ledger: dict[str, list[str]] | None = None
    released: dict[str, x25519.X25519PrivateKey] = field(default_factory=dict)
    outcomes: list[dict[str, Any] | str] | None = None


class _Fail(Exception):
    pass


def _json_file(st: _State, name: str) -> Any:
    if name not in st.files:
        raise _Fail(f"{name} missing")
    try:
        return parse_json(st.files[name])
    except Invalid as exc:
        raise _Fail(f"{name}: {exc}") from None


def _need_manifest(st: _State) -> Manifest:
    if st.manifest is None:
        raise _Fail("not checked: the manifest failed A1")
    return st.manifest


def _a1(st: _State) -> None:
    st.manifest = parse_manifest(_json_file(st, "manifest.json"))
    folder = st.files.get(".zip-folder")
    if folder is not None and folder.decode("utf-8") != st.manifest.round_id:
        raise _Fail(f"zip folder {folder.decode()!r} is not the round id")


def _a2(st: _State) -> None:
    m = _need_manifest(st)
    data = st.files.get("board.jsonl")
    if data is None:
        raise _Fail("board.jsonl missing")
    lines = data.split(b"\n")
    unterminated = lines[-1] != b""
    st.lines = lines if unterminated else lines[:-1]
    st.root = merkle_root([leaf_hash(line) for line in st.lines])
    bad: list[str] = []
    for index, line in enumerate(st.lines):
        try:
            leaf = parse_leaf(index, line, m)
        except Invalid as exc:
            bad.append(f"leaf {index}: {exc}")
            try:
                ward = json.loads(line).get("ward")
                if ward in m.wards:
                    st.leaf_wards[index] = ward
            except Exception:  # noqa: S110 - a best-effort ward for A9 only
                pass
            continue
        st.leaves[index] = leaf
        st.leaf_wards[index] = leaf.ward
    if unterminated:
        raise _Fail("board.jsonl does not end in a newline")
    if bad:
        raise _Fail(f"{len(bad)} bad leaves; {bad[0]}")


def _a3(st: _State) -> None:
    m = _need_manifest(st)
    bad = [i for i, leaf in st.leaves.items() if not token_ok(leaf, m)]
    if bad:
        raise _Fail(f"tokens of leaves {bad} do not verify")


def _a4(st: _State) -> None:
    _need_manifest(st)
    bad = [i for i, leaf in st.leaves.items() if not voter_sig_ok(leaf)]
    if bad:
        raise _Fail(f"voter_sig of leaves {bad} does not verify")


def _a5(st: _State) -> None:
    _need_manifest(st)
    seen: dict[bytes, int] = {}
    for i, leaf in st.leaves.items():
        key = leaf.msg[32:]
        if key in seen:
            raise _Fail(f"voter key of leaf {i} already used by leaf {seen[key]}")
        seen[key] = i


def _a6(st: _State) -> None:
    m = _need_manifest(st)
    if "checkpoint.txt" not in st.files:
        raise _Fail("checkpoint.txt missing")
    size, root = parse_checkpoint(st.files["checkpoint.txt"], m.origin, m.log_key)
    if size != len(st.lines):
        raise _Fail(f"checkpoint size {size} != {len(st.lines)} board lines")
    if root != st.root:
        raise _Fail("board root differs from the checkpoint's")


def _a7(st: _State) -> None:
    m = _need_manifest(st)
    hashes_ = [leaf_hash(line) for line in st.lines]
    names = sorted(
        n
        for n in st.files
        if n.startswith("checkpoints/") and n.endswith(".txt") and n.count("/") == 1
    )
    for name in names:
        try:
            size, root = parse_checkpoint(st.files[name], m.origin, m.log_key)
        except Invalid as exc:
            raise _Fail(f"{name}: {exc}") from None
        if size > len(hashes_):
            raise _Fail(f"{name}: size {size} exceeds the board")
        if merkle_root(hashes_[:size]) != root:
            raise _Fail(f"{name}: inconsistent with the board")


def _a8(st: _State) -> None:
    m = _need_manifest(st)
    problems: list[str] = []
    close = open_signed(_json_file(st, "close.json"), "close", m.organizer_key)
    close = want_dict(close, {"round", "tree_size", "root", "issued", "issuance_ledger"}, "close")
    issued = want_dict(close["issued"], None, "close.issued")
    if set(issued) != set(m.wards):
        problems.append(f"close.issued lists {sorted(issued)}, not the manifest's wards")
    if all(is_int(issued.get(w)) and issued[w] >= 0 for w in m.wards):
        st.issued = {w: issued[w] for w in m.wards}  # usable for A9 and A12
    else:
        problems.append("close.issued has a missing or non-count entry")
    ledger = want_dict(_json_file(st, "issuance.json"), {"round", "wards"}, "issuance ledger")
    entries = want_dict(ledger["wards"], None, "ledger wards")
    if set(entries) != set(m.wards):
        problems.append(f"ledger lists wards {sorted(entries)}, not the manifest's")
    if all(isinstance(entries.get(w), list) for w in m.wards):
        st.ledger = {w: entries[w] for w in m.wards}  # usable for A9
    for ward, names in entries.items():
        names = want_list(names, f"ledger {ward}")
        try:
            for name in names:
                b64u_decode(name, 32, "pseudonym")
        except Invalid as exc:
            problems.append(f"ledger {ward}: {exc}")
        if any(a >= b for a, b in itertools.pairwise(names)):
            problems.append(f"ledger {ward}: pseudonyms not sorted and distinct")
    if close["round"] != m.mid:
        problems.append("close.round is not the mid")
    if ledger["round"] != m.mid:
        problems.append("ledger round is not the mid")
    if close["tree_size"] != len(st.lines) or not is_int(close["tree_size"]):
        problems.append(f"close.tree_size {close['tree_size']!r} != {len(st.lines)} leaves")
    if close["root"] != b64u(st.root):
        problems.append("close.root is not the board root")
    if close["issuance_ledger"] != b64u(sha256(jcs(ledger))):
        problems.append("close.issuance_ledger does not match issuance.json")
    if problems:
        raise _Fail("; ".join(problems))


def _a9(st: _State) -> None:
    m = _need_manifest(st)
    if st.issued is None or st.ledger is None:
        raise _Fail("not checked: close statement or ledger unusable")
    for ward in m.wards.values():
        on_board = sum(1 for w in st.leaf_wards.values() if w == ward.id)
        issued, entries = st.issued[ward.id], len(st.ledger[ward.id])
        if not on_board <= issued == entries <= ward.eligible:
            raise _Fail(
                f"ward {ward.id}: ballots {on_board}, issued {issued}, ledger {entries}, "
                f"eligible {ward.eligible}"
            )


def _public_part(st: _State) -> bool:
    """A restricted round's record without releases and results (protocol section 9.2)."""
    return (
        st.manifest is not None
        and st.manifest.results_access == "restricted"
        and "results.json" not in st.files
        and not any(
            n.startswith("releases/") and n.endswith(".json") and n.count("/") == 1
            for n in st.files
        )
    )


def _a10(st: _State) -> None:
    m = _need_manifest(st)
    trustees = {t.id: t for t in m.trustees}
    names = sorted(
        n
        for n in st.files
        if n.startswith("releases/") and n.endswith(".json") and n.count("/") == 1
    )
    problems: list[str] = []
    for name in names:
        try:
            signed = _json_file(st, name)
            body = open_signed(signed, "release", None)
            body = want_dict(body, {"round", "trustee", "private_key"}, "release")
            if body["round"] != m.mid:
                raise Invalid("round is not the mid")
            trustee = trustees.get(body["trustee"])
            if trustee is None:
                raise Invalid(f"unknown trustee {body['trustee']!r}")
            if name != f"releases/{trustee.id}.json":
                raise Invalid("filed under another trustee's name")
            open_signed(signed, "release", trustee.signing_key)
            private = x25519.X25519PrivateKey.from_private_bytes(
                b64u_decode(body["private_key"], 32, "private_key")
            )
            if private.public_key().public_bytes_raw() != trustee.hpke_key:
                raise Invalid("private key does not derive the manifest's hpke_key")
        except (Invalid, _Fail) as exc:
            problems.append(f"{name}: {exc}")
            continue
        st.released[trustee.id] = private
    if len(st.released) < m.threshold:
        raise _Fail(f"{len(st.released)} valid releases < threshold {m.threshold}; {problems}")
    if problems:
        raise _Fail("; ".join(problems))


def _a11(st: _State) -> None:
    m = _need_manifest(st)
    if len(st.released) < m.threshold:
        raise _Fail("fewer than threshold valid releases")
    # R17: A11 passes when decryption could run. A leaf that failed A2 cannot be opened;
    # it is left out here and A12 (whose tally would be undefined) then fails.
    st.outcomes = [open_leaf(leaf, m, st.released) for leaf in st.leaves.values()]


def _a12(st: _State) -> None:
    m = _need_manifest(st)
    if st.outcomes is None or st.issued is None:
        raise _Fail("not checked: A11 or the close statement failed")
    if len(st.leaves) != len(st.lines):
        raise _Fail("not checked: the tally of a board with unreadable leaves (A2) is undefined")
    given = open_signed(_json_file(st, "results.json"), "results", m.organizer_key)
    mine = build_results(
        m,
        tree_size=len(st.lines),
        root=st.root,
        trustees=[t.id for t in m.trustees if t.id in st.released],
        issued=st.issued,
        leaf_wards=[st.leaves[i].ward for i in range(len(st.lines))],
        outcomes=st.outcomes,
    )
    if jcs(mine) != jcs(given):
        differing = sorted(
            k for k in set(mine) | set(given) if jcs(mine.get(k)) != jcs(given.get(k))
        )
        detail = ""
        if differing:
            k = differing[0]
            detail = f"; {k}: expected {jcs(mine.get(k))[:300]!r}, got {jcs(given.get(k))[:300]!r}"
        raise _Fail(f"results differ in {differing}{detail}")


def _a13(st: _State) -> None:
    """The final checkpoint carries valid cosignature/v1 lines by at least ``quorum``
    distinct witnesses of the manifest; a line by a named witness (its name and key ID)
    must verify, lines by other keys are ignored. No witnesses: nothing to check."""
    m = _need_manifest(st)
    if not m.witnesses:
        return
    data = st.files.get("checkpoint.txt")
    if data is None:
        raise _Fail("not checked: checkpoint.txt missing")
    try:
        parse_checkpoint(data, m.origin, m.log_key)  # every signature line well formed
    except Invalid as exc:
        raise _Fail(f"not checked: the final checkpoint is not usable ({exc})") from None
    text = data.decode("utf-8")
    split = text.find("\n\n")
    body, signatures = text[: split + 1], text[split + 2 :]
    named = {(w.name, w.key_id): w for w in m.witnesses}
    cosigned: set[str] = set()
    for line in signatures[:-1].split("\n"):
        name, b64 = line[2:].split(" ")
        blob = b64std_decode(b64, "note signature")
        witness = named.get((name, blob[:4]))
        if witness is None:
            continue  # another key: ignored
        timestamp = int.from_bytes(blob[4:12], "big")
        message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
        if (
            len(blob) != 4 + 8 + 64
            or timestamp >= 2**63
            or not ed25519_ok(witness.public_key, message, blob[12:])
        ):
            raise _Fail(f"the cosignature by witness {name} does not verify")
        cosigned.add(name)
    if len(cosigned) < m.quorum:
        raise _Fail(f"{len(cosigned)} witnesses cosigned, the quorum is {m.quorum}")


_RUNNERS: dict[str, Callable[[_State], None]] = {
    "A1": _a1,
    "A2": _a2,
    "A3": _a3,
    "A4": _a4,
    "A5": _a5,
    "A6": _a6,
    "A7": _a7,
    "A8": _a8,
    "A9": _a9,
    "A10": _a10,
    "A11": _a11,
    "A12": _a12,
    "A13": _a13,
}


def verify_record(path: str | Path) -> dict[str, bool | str]:
    """Run A1..A13 on a record folder or .zip; True per passing check, else the reason.

    Raises ``Unusable`` when the input is not a round record (the audit's exit code 2)."""
    st = _State(load_files(path))
    report: dict[str, bool | str] = {}
    for check in CHECKS:
        if check in ("A10", "A11", "A12") and _public_part(st):
            report[check] = NOT_CHECKED
            continue
        try:
            _RUNNERS[check](st)
        except (_Fail, Invalid) as exc:
            report[check] = str(exc) or type(exc).__name__
        else:
            report[check] = True
    return report


def failed_checks(report: Mapping[str, bool | str]) -> set[str]:
    return {
        check for check, outcome in report.items() if outcome is not True and outcome != NOT_CHECKED
    }
