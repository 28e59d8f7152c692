"""The Python implementation against the v1 conformance suite (tests/vectors/anonballot-v1/).

Every vector is recomputed by the library and compared, every input the suite marks as
rejected must be rejected, every outcome leaf opens to its outcome, and the audit of
``record/`` equals ``record.audit.json``. The last test regenerates the suite into a temporary
folder and compares it byte for byte with the committed files.
"""

from __future__ import annotations

import base64
import filecmp
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from _jsonview import obj
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from anonballot.audit import audit_record
from anonballot.checkpoint import Checkpoint
from anonballot.codes import code_hash, normalize_code, pseudonym
from anonballot.encoding import b64u_decode, b64u_encode, jcs, parse_canonical, parse_json
from anonballot.errors import AnonBallotError, InputError, OpenError
from anonballot.hazmat import blind_rsa, shamir
from anonballot.hazmat.merkle import leaf_hash
from anonballot.leaf import parse_leaf
from anonballot.manifest import Manifest
from anonballot.opening import LeafOpener, open_sealed
from anonballot.receipt import Receipt, receipt_code
from anonballot.sealing import SealedBallot, seal
from anonballot.signing import SigningKey, VerifyKey
from anonballot.tokens import IssuerKey, IssuerPublicKey, Token, TokenRequest
from anonballot.trustee import HpkePrivateKey, HpkePublicKey, TrusteePublic, TrusteeSecret

SUITE = Path(__file__).parent / "vectors" / "anonballot-v1"
RECORD = SUITE / "record"
OUTCOMES = {
    "valid",
    "share_undecryptable",
    "shares_inconsistent",
    "bad_key",
    "undecryptable",
    "not_canonical",
    "wrong_ward",
    "invalid_content",
}
HPKE_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


@cache
def vector(name: str) -> Any:
    return json.loads((SUITE / name).read_text(encoding="utf-8"))


@cache
def manifest() -> Manifest:
    return Manifest.from_signed(parse_json((RECORD / "manifest.json").read_bytes()))


class Stream:
    """The ``rng`` of a vector: hands out a fixed byte string in order, then refuses."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def __call__(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise AssertionError("the rng stream of the vector is exhausted")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


# --------------------------------------------------------------------------- encodings


def _case_ids(name: str, key: str) -> list[str]:
    return [str(c[key]) for c in vector(name)["cases"]]


@pytest.mark.parametrize("case", vector("jcs.json")["cases"], ids=_case_ids("jcs.json", "note"))
def test_jcs(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["input_hex"])
    if "input" in case:
        assert case["input"].encode("utf-8") == data
    if case["jcs"] is None:
        with pytest.raises(AnonBallotError):
            jcs(parse_json(data))
        with pytest.raises(AnonBallotError):
            parse_canonical(data)
        return
    assert jcs(parse_json(data)).decode("utf-8") == case["jcs"]
    if case["canonical"]:
        parse_canonical(data)
    else:
        with pytest.raises(AnonBallotError):
            parse_canonical(data)


def test_jcs_vectors_cover_rejections() -> None:
    cases = vector("jcs.json")["cases"]
    assert sum(c["jcs"] is None for c in cases) >= 30
    assert sum(c["canonical"] for c in cases) >= 5
    assert sum(c["jcs"] is not None and not c["canonical"] for c in cases) >= 10


@pytest.mark.parametrize("case", vector("codes.json")["cases"], ids=_case_ids("codes.json", "note"))
def test_invitation_codes(case: dict[str, Any]) -> None:
    if case["normalized"] is None:
        with pytest.raises(InputError):
            normalize_code(case["input"])
        return
    assert normalize_code(case["input"]) == case["normalized"]
    assert code_hash(case["input"]).hex() == case["code_hash_hex"]
    assert pseudonym(vector("codes.json")["mid"], case["input"]) == case["pseudonym"]


def test_mid() -> None:
    v = vector("mid.json")
    m = Manifest.from_signed(v["signed_manifest"])
    assert jcs(v["signed_manifest"]["manifest"]).decode("utf-8") == v["manifest_jcs"]
    assert m.mid == v["mid"] == manifest().mid
    assert (RECORD / "manifest.json").read_bytes() == jcs(v["signed_manifest"])
    assert vector("codes.json")["mid"] == v["mid"]


# --------------------------------------------------------------------------- token


def test_token_issuance() -> None:
    v = vector("token.json")
    issuer = IssuerKey.from_pem((SUITE / "keys" / f"issuer-{v['ward']}.pem").read_bytes())
    issuer_key = IssuerPublicKey.from_b64u(v["issuer_key"])
    assert issuer.public_key == issuer_key == manifest().issuer_key(v["ward"])
    assert issuer.key_id == issuer_key.key_id == v["issuer_key_id"]
    assert issuer_key.bits == v["modulus_bits"]
    public = issuer_key.to_cryptography()
    voter = SigningKey(bytes.fromhex(v["voter_seed_hex"])).public_key
    assert voter.to_bytes().hex() == v["voter_public_key_hex"]
    prepared = blind_rsa.prepare_randomize(voter.to_bytes(), prefix=bytes.fromhex(v["prefix_hex"]))
    assert prepared.hex() == v["prepared_hex"]
    salt = bytes.fromhex(v["salt_hex"])
    encoded = blind_rsa.emsa_pss_encode(prepared, v["modulus_bits"] - 1, salt)
    assert encoded.hex() == v["encoded_message_hex"]
    blinded, inv = blind_rsa.blind(public, prepared, salt=salt, r=int(v["r_hex"], 16))
    assert (blinded.hex(), inv.hex()) == (v["blinded_hex"], v["inv_hex"])
    blind_sig = issuer.sign_blinded(blinded)
    assert blind_sig.hex() == v["blind_sig_hex"]
    token = TokenRequest(issuer_key, prepared, inv, blinded).finalize(blind_sig)
    assert token.sig.hex() == v["sig_hex"]
    assert token.to_json() == v["token"]
    assert token.voter_public_key == voter
    issuer_key.verify(Token.from_json(v["token"]))


@pytest.mark.parametrize(
    "case",
    vector("token.json")["invalid_tokens"],
    ids=[c["why"] for c in vector("token.json")["invalid_tokens"]],
)
def test_invalid_tokens(case: dict[str, Any]) -> None:
    issuer_key = IssuerPublicKey.from_b64u(vector("token.json")["issuer_key"])
    with pytest.raises(AnonBallotError):
        issuer_key.verify(Token.from_json(case["token"]))


# --------------------------------------------------------------------------- sealing, leaf


def test_sealed_ballot() -> None:
    v = vector("sealed.json")
    trustees = v["trustees"]
    plaintext = v["plaintext"].encode("utf-8")
    sealed = seal(
        plaintext,
        round_id=v["round"],
        ward=v["ward"],
        trustees=[TrusteePublic(t["id"], HpkePublicKey.from_b64u(t["hpke_key"])) for t in trustees],
        threshold=v["threshold"],
        rng=Stream(bytes.fromhex(v["rng_hex"])),
    )
    assert sealed.nonce.hex() == v["nonce_hex"]
    assert sealed.ct.hex() == v["ct_hex"]
    assert v["rng_hex"].startswith(v["key_hex"] + v["nonce_hex"])
    assert v["aad"] == jcs({"round": v["round"], "ward": v["ward"]}).decode("utf-8")
    coefficients = [int(c, 16) for c in v["coefficients_hex"]]
    assert coefficients[0] == int(v["key_hex"], 16)
    committed = SealedBallot.from_json(v["ballot"], len(trustees))
    for t, share, mine, theirs in zip(
        trustees, v["shares"], sealed.shares, committed.shares, strict=True
    ):
        private = X25519PrivateKey.from_private_bytes(b64u_decode(t["private_key"]))
        info = jcs({"round": v["round"], "trustee": t["id"]})
        assert share["info"] == info.decode("utf-8")
        value = shamir.evaluate(coefficients, share["x"]).to_bytes(66, "big")
        assert value.hex() == share["value_hex"]
        # The library's share (fresh ephemeral key) and the vector's both open to f(x).
        assert HPKE_SUITE.decrypt(mine, private, info=info) == value
        assert HPKE_SUITE.decrypt(theirs, private, info=info) == value
        assert b64u_encode(theirs) == share["share"]
        ephemeral = X25519PrivateKey.from_private_bytes(
            bytes.fromhex(share["ephemeral_private_key_hex"])
        )
        assert theirs[:32] == ephemeral.public_key().public_bytes_raw()
    released = [
        TrusteeSecret(t["index"], t["id"], HpkePrivateKey(b64u_decode(t["private_key"])))
        for t in trustees
    ]
    opened = open_sealed(
        committed, round_id=v["round"], ward=v["ward"], released=released, threshold=2
    )
    assert opened == plaintext


def test_leaf() -> None:
    v = vector("leaf.json")
    data = v["leaf"].encode("utf-8")
    leaf = parse_leaf(data, manifest())
    assert leaf.round == v["round"]
    assert leaf.signed_bytes().decode("utf-8") == v["signed_bytes"]
    assert leaf.voter_key.to_bytes().hex() == v["voter_public_key_hex"]
    leaf.verify_token(manifest())
    leaf.verify_voter_sig()
    h = leaf_hash(data)
    assert (h.hex(), b64u_encode(h), receipt_code(h)) == (
        v["leaf_hash_hex"],
        v["leaf_hash"],
        v["receipt_code"],
    )
    assert leaf.token.to_json() == vector("token.json")["token"]
    assert leaf.ballot.to_json() == vector("sealed.json")["ballot"]
    assert (RECORD / "board.jsonl").read_bytes().startswith(data + b"\n")


@pytest.mark.parametrize(
    "case",
    vector("leaf.json")["invalid_leaves"],
    ids=[c["why"] for c in vector("leaf.json")["invalid_leaves"]],
)
def test_invalid_leaves(case: dict[str, Any]) -> None:
    with pytest.raises(AnonBallotError):
        parse_leaf(case["leaf"].encode("utf-8"), manifest())


@pytest.mark.parametrize(
    "case", vector("receipt.json")["cases"], ids=_case_ids("receipt.json", "why")
)
def test_receipts(case: dict[str, Any]) -> None:
    v = vector("receipt.json")
    m = manifest()
    assert (v["round"], v["origin"], v["log_key"]) == (m.mid, m.origin, m.log_key.to_b64u())
    leaf = None if case["leaf"] is None else case["leaf"].encode("utf-8")
    if not case["valid"]:
        with pytest.raises(AnonBallotError):
            Receipt.from_json(case["receipt"]).verify(m, leaf)
        return
    receipt = Receipt.from_json(case["receipt"])
    receipt.verify(m, leaf)
    assert receipt.code == case["code"]


@pytest.mark.parametrize(
    "case", vector("checkpoint.json")["cases"], ids=_case_ids("checkpoint.json", "why")
)
def test_checkpoints(case: dict[str, Any]) -> None:
    v = vector("checkpoint.json")
    log_key = VerifyKey.from_b64u(v["log_key"])
    if not case["valid"]:
        with pytest.raises(AnonBallotError):
            Checkpoint.parse(case["note"], v["origin"], log_key)
        return
    cp = Checkpoint.parse(case["note"], v["origin"], log_key)
    assert (cp.size, cp.root.hex()) == (case["size"], case["root_hex"])
    sig_line = case["note"].split("\n\n")[1].split("\n")
    key_ids = {base64.b64decode(line.split(" ")[-1])[:4].hex() for line in sig_line if line}
    assert v["key_id_hex"] in key_ids


def test_final_checkpoint_is_the_record_s() -> None:
    final = vector("checkpoint.json")["cases"][0]
    assert (RECORD / "checkpoint.txt").read_text(encoding="utf-8") == final["note"]


# --------------------------------------------------------------------------- opening


@pytest.mark.parametrize(
    "case", vector("openings.json")["cases"], ids=_case_ids("openings.json", "name")
)
def test_opening(case: dict[str, Any]) -> None:
    v = vector("openings.json")
    m = manifest()
    assert v["round"] == m.mid
    data = case["leaf"].encode("utf-8")
    board = (RECORD / "board.jsonl").read_bytes().split(b"\n")
    assert board[case["leaf_index"]] == data
    released = [
        TrusteeSecret(r["index"], r["id"], HpkePrivateKey(b64u_decode(r["private_key"])))
        for r in case["released"]
    ]
    opener = LeafOpener(m, released, m.mid)
    leaf = parse_leaf(data, m)
    if case["outcome"] == "valid":
        assert opener.open(leaf) == case["ballot"]
        return
    with pytest.raises(OpenError) as caught:
        opener.open(leaf)
    assert caught.value.code == case["outcome"]


def test_every_outcome_is_on_the_board() -> None:
    cases = vector("openings.json")["cases"]
    assert {c["outcome"] for c in cases} == OUTCOMES
    results = obj(parse_json((RECORD / "results.json").read_bytes()))["results"]
    reasons = {entry["reason"] for entry in results["invalid"]}
    assert reasons | {"valid"} == OUTCOMES
    on_board = {c["leaf_index"]: c["outcome"] for c in cases if len(c["released"]) == 3}
    invalid = {entry["leaf_index"]: entry["reason"] for entry in results["invalid"]}
    assert {i: invalid.get(i, "valid") for i in on_board} == on_board
    assert len(on_board) == results["tree_size"]


# --------------------------------------------------------------------------- the record


def test_record_audit() -> None:
    report = audit_record(RECORD, workers=1)
    assert report.passed
    got = report.to_json()
    del got["record"]
    assert got == vector("record.audit.json")


def test_the_command_prints_the_same_report() -> None:
    """``anonballot audit record --json``, as an auditor runs it, prints the expected report."""
    from click.testing import CliRunner

    from anonballot.cli.main import main

    result = CliRunner().invoke(main, ["audit", str(RECORD), "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    del got["record"]
    assert got == vector("record.audit.json")


@pytest.mark.slow
def test_generator_reproduces_the_suite(tmp_path: Path) -> None:
    subprocess.run(  # noqa: S603 (our own script, with the test's interpreter)
        [sys.executable, str(SUITE / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(SUITE)
        for p in SUITE.rglob("*")
        if p.is_file() and p.name not in {"README.md", "generate.py"} and p.parent.name != "keys"
    )
    assert made == committed
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, SUITE, [str(p) for p in made], shallow=False)
    assert (mismatch, errors) == ([], [])
