"""The browser's ES modules (``server/static/js/``) against the v1 conformance suite.

The same files as ``tests/test_conformance.py`` (tests/vectors/anonballot-v1/), run in
Debian's Chromium through Playwright: JCS, code normalisation, ``mid``, the token (blinding
with the fixed inputs, unblinding, verification), sealing from the vector's random stream and
HPKE with the vector's ephemeral keys, the leaf hash and receipt code, receipts, checkpoints,
and the opening of every outcome leaf (protocol 7.3). The page is tests/browser/index.html on a
local static server (tests/_static.py); each check is one ``page.evaluate``
with JSON in and out, compared here with the vector.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from _static import harness_page, static_server
from playwright.sync_api import Page

pytestmark = pytest.mark.slow

SUITE = Path(__file__).parent / "vectors" / "anonballot-v1"
# Where each protocol function lives in the browser (window.conf.<name> in the page).
MODULES = {
    "b64u": "/static/js/b64u.js",
    "bytes": "/static/js/bytes.js",
    "checkpoint": "/static/js/checkpoint.js",
    "codes": "/static/js/codes.js",
    "hpke": "/static/js/hpke.js",
    "jcs": "/static/js/jcs.js",
    "leaf": "/static/js/leaf.js",
    "ledger": "/static/js/ledger.js",
    "manifest": "/static/js/manifest.js",
    "merkle": "/static/js/merkle.js",
    "receipt": "/static/js/receipt.js",
    "rsa": "/static/js/rsa-blind.js",
    "sealing": "/static/js/sealing.js",
    "token": "/static/js/token.js",
}
FUNCTIONS = {
    "normalizeCode": ("/static/js/codes.js", "normalizeCode"),
    "openLeaf": ("/static/js/opening.js", "openLeaf"),
}


@cache
def vector(name: str) -> Any:
    return json.loads((SUITE / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the browser


_LOAD = """async ([modules, functions]) => {
  const conf = {};
  for (const [name, path] of Object.entries(modules)) conf[name] = await import(path);
  for (const [name, [path, fn]] of Object.entries(functions)) conf[name] = (await import(path))[fn];
  const { fromHex, toHex } = conf.bytes;
  conf.fromHex = fromHex;
  conf.toHex = toHex;
  conf.attempt = async (fn) => {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      return { ok: false, error: String(e?.message ?? e) };
    }
  };
  window.conf = conf;
  return Object.keys(conf).length;
}"""


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with static_server() as url, harness_page(url) as pg:
        pg.evaluate(_LOAD, [MODULES, {k: list(v) for k, v in FUNCTIONS.items()}])
        yield pg


# --------------------------------------------------------------------------- encodings


def test_jcs(page: Page) -> None:
    cases = vector("jcs.json")["cases"]
    got = page.evaluate(
        """async (cases) => {
          const { jcs, fromHex, attempt, bytes } = window.conf;
          return Promise.all(cases.map(async (c) => {
            const data = fromHex(c.input_hex);
            const out = await attempt(() => bytes.fromUtf8(jcs.jcs(jcs.parse(data))));
            const canonical = await attempt(() => jcs.parseCanonical(data));
            return { jcs: out.ok ? out.value : null, canonical: canonical.ok };
          }));
        }""",
        cases,
    )
    expected = [{"jcs": c["jcs"], "canonical": c["canonical"]} for c in cases]
    wrong = [(c["note"], g, e) for c, g, e in zip(cases, got, expected, strict=True) if g != e]
    assert wrong == []


def test_invitation_codes(page: Page) -> None:
    cases = vector("codes.json")["cases"]
    got = page.evaluate(
        "(inputs) => inputs.map((text) => window.conf.normalizeCode(text))",
        [c["input"] for c in cases],
    )
    assert got == [c["normalized"] for c in cases]


def test_ledger_pseudonyms(page: Page) -> None:
    """codes.js computes the pseudonym of each code as typed, as anonballot.codes does; a
    text that is not a code has none."""
    v = vector("codes.json")
    got = page.evaluate(
        """async ([mid, inputs]) => {
          const { codes, attempt } = window.conf;
          return Promise.all(inputs.map(async (text) => {
            const r = await attempt(() => codes.pseudonym(mid, text));
            return r.ok ? r.value : null;
          }));
        }""",
        [v["mid"], [c["input"] for c in v["cases"]]],
    )
    assert got == [c.get("pseudonym") for c in v["cases"]]
    assert any(p is not None for p in got)
    assert None in got


def test_issuance_ledger(page: Page) -> None:
    """ledger.js opens the record's issuance ledger under its signed close statement, and
    refuses every ledger the close statement does not bind or that breaks section 8."""
    record = SUITE / "record"
    signed_manifest = json.loads((record / "manifest.json").read_text(encoding="utf-8"))
    signed_close = json.loads((record / "close.json").read_text(encoding="utf-8"))
    ledger = json.loads((record / "issuance.json").read_text(encoding="utf-8"))
    first_ward = sorted(ledger["wards"])[0]
    entries = ledger["wards"][first_ward]
    tampered = {
        "one entry less": {**ledger, "wards": {**ledger["wards"], first_ward: entries[1:]}},
        "unsorted": {
            **ledger,
            "wards": {**ledger["wards"], first_ward: [entries[1], entries[0], *entries[2:]]},
        },
        "twice": {
            **ledger,
            "wards": {**ledger["wards"], first_ward: [entries[0], *entries]},
        },
        "another round": {**ledger, "round": vector("codes.json")["mid"][::-1]},
        "a ward missing": {**ledger, "wards": {first_ward: entries}},
        "not a pseudonym": {**ledger, "wards": {**ledger["wards"], first_ward: ["x", *entries]}},
        "an extra key": {**ledger, "extra": 1},
    }
    got = page.evaluate(
        """async ([signedManifest, signedClose, ledger, tampered, firstWard]) => {
          const { manifest, ledger: L, b64u, attempt } = window.conf;
          const round = await manifest.openSignedManifest(signedManifest);
          const key = b64u.b64uDecode(round.manifest.organizer_key, 32);
          const close = await manifest.verifySignedObject(signedClose, "close", key);
          const opened = await L.openLedger(ledger, round, close);
          const counts = Object.fromEntries(
            Object.entries(opened.wards).map(([w, e]) => [w, e.length]),
          );
          const code = async (value, c = close) => {
            const r = await attempt(() => L.openLedger(value, round, c));
            return r.ok ? "opened" : r.error;
          };
          const refused = {};
          for (const [name, value] of Object.entries(tampered)) refused[name] = await code(value);
          const issued = { ...close.issued, [firstWard]: close.issued[firstWard] + 1 };
          refused["counts"] = await code(ledger, { ...close, issued });
          return {
            counts,
            found: L.wardOf(opened, ledger.wards[firstWard][0]),
            missing: L.wardOf(opened, "A".repeat(43)),
            refused,
          };
        }""",
        [signed_manifest, signed_close, ledger, tampered, first_ward],
    )
    assert got["counts"] == signed_close["close"]["issued"]
    assert got["found"] == first_ward
    assert got["missing"] is None
    assert set(got["refused"]) == {*tampered, "counts"}
    for name, error in got["refused"].items():
        assert error != "opened", name
    assert "close statement" in got["refused"]["one entry less"]
    assert "close statement's counts" in got["refused"]["counts"]
    assert "another round" in got["refused"]["another round"]


def test_mid(page: Page) -> None:
    v = vector("mid.json")
    got = page.evaluate(
        """async (signed) => {
          const { manifest, bytes, jcs } = window.conf;
          const opened = await manifest.openSignedManifest(signed);
          return { mid: opened.mid, jcs: bytes.fromUtf8(jcs.jcs(signed.manifest)) };
        }""",
        v["signed_manifest"],
    )
    assert got == {"mid": v["mid"], "jcs": v["manifest_jcs"]}


# --------------------------------------------------------------------------- token


def test_token(page: Page) -> None:
    v = vector("token.json")
    got = page.evaluate(
        """async (v) => {
          const { rsa, token, leaf, b64u, fromHex, toHex, attempt } = window.conf;
          const pk = rsa.parseIssuerKey(b64u.b64uDecode(v.issuer_key));
          const voter = await leaf.importVoterSeed(fromHex(v.voter_seed_hex));
          const prepared = rsa.prepareRandomize(voter.publicKey, fromHex(v.prefix_hex));
          const salt = fromHex(v.salt_hex);
          const encoded = await rsa.emsaPssEncode(prepared, pk.modBits - 1, salt);
          const r = BigInt("0x" + v.r_hex);
          const { blinded, inv } = await rsa.blind(pk, prepared, { salt, r });
          const sig = await rsa.finalize(pk, prepared, fromHex(v.blind_sig_hex), inv);
          const verified = await attempt(() => token.verifyToken(pk, token.tokenFromJson(v.token)));
          const invalid = [];
          for (const c of v.invalid_tokens) {
            const r = await attempt(() => token.verifyToken(pk, token.tokenFromJson(c.token)));
            invalid.push(r.ok);
          }
          return {
            modulus_bits: pk.modBits,
            voter_public_key_hex: toHex(voter.publicKey),
            prepared_hex: toHex(prepared),
            encoded_message_hex: toHex(encoded),
            blinded_hex: toHex(blinded),
            inv_hex: toHex(inv),
            sig_hex: toHex(sig),
            token: token.tokenToJson({ msg: prepared, sig }),
            verified: verified.ok,
            invalid_accepted: invalid,
          };
        }""",
        v,
    )
    keys = [
        "modulus_bits",
        "voter_public_key_hex",
        "prepared_hex",
        "encoded_message_hex",
        "blinded_hex",
        "inv_hex",
        "sig_hex",
        "token",
    ]
    assert {k: got[k] for k in keys} == {k: v[k] for k in keys}
    assert got["verified"] is True
    assert got["invalid_accepted"] == [False] * len(v["invalid_tokens"])


# --------------------------------------------------------------------------- sealing, leaf


def test_sealed_ballot(page: Page) -> None:
    v = vector("sealed.json")
    got = page.evaluate(
        """async (v) => {
          const { sealing, hpke, b64u, bytes, fromHex, toHex } = window.conf;
          const buffer = fromHex(v.rng_hex);
          let pos = 0;
          const rng = (n) => {
            if (pos + n > buffer.length) throw new Error("the vector's rng stream is exhausted");
            pos += n;
            return buffer.slice(pos - n, pos);
          };
          const trustees = v.trustees.map(
            (t) => ({ id: t.id, hpkeKey: b64u.b64uDecode(t.hpke_key, 32) }),
          );
          const sealed = await sealing.seal(
            bytes.utf8(v.plaintext),
            { mid: v.round, ward: v.ward, trustees, threshold: v.threshold, rng },
          );
          const none = new Uint8Array(0);
          const shares = [];
          const opened = [];
          for (const [i, s] of v.shares.entries()) {
            const info = bytes.utf8(s.info);
            const skE = fromHex(s.ephemeral_private_key_hex);
            const value = fromHex(s.value_hex);
            const { enc, ct } = await hpke.sealBase(
              trustees[i].hpkeKey, info, none, value, { testOnlySkE: skE },
            );
            shares.push(b64u.b64uEncode(bytes.concat(enc, ct)));
            const share = b64u.b64uDecode(s.share, 114);
            const sk = b64u.b64uDecode(v.trustees[i].private_key, 32);
            const plain = await hpke.openBase(share.slice(0, 32), sk, info, none, share.slice(32));
            opened.push(toHex(plain));
          }
          return {
            nonce_hex: toHex(sealed.nonce), ct_hex: toHex(sealed.ct), rng_left: buffer.length - pos,
            aad: bytes.fromUtf8(sealing.ballotAad(v.round, v.ward)), shares, opened,
          };
        }""",
        v,
    )
    assert (got["nonce_hex"], got["ct_hex"], got["aad"]) == (v["nonce_hex"], v["ct_hex"], v["aad"])
    assert got["rng_left"] == 0
    assert got["shares"] == [s["share"] for s in v["shares"]] == v["ballot"]["shares"]
    assert got["opened"] == [s["value_hex"] for s in v["shares"]]


def test_leaf_hash(page: Page) -> None:
    v = vector("leaf.json")
    got = page.evaluate(
        """async (text) => {
          const { merkle, receipt, bytes, toHex } = window.conf;
          const h = await merkle.leafHash(bytes.utf8(text));
          return [toHex(h), receipt.receiptCode(h)];
        }""",
        v["leaf"],
    )
    assert got == [v["leaf_hash_hex"], v["receipt_code"]]


def test_receipts(page: Page) -> None:
    v = vector("receipt.json")
    got = page.evaluate(
        """async (v) => {
          const { receipt, b64u, bytes, attempt } = window.conf;
          const round = { mid: v.round, origin: v.origin, logKey: b64u.b64uDecode(v.log_key, 32) };
          return Promise.all(v.cases.map(async (c) => {
            const leaf = c.leaf === null ? undefined : bytes.utf8(c.leaf);
            const verify = () => receipt.verifyReceipt(c.receipt, round, leaf);
            const r = await attempt(async () => (await verify()).code);
            return r.ok ? r.value : null;
          }));
        }""",
        v,
    )
    assert got == [c["code"] for c in v["cases"]]


def test_checkpoints(page: Page) -> None:
    v = vector("checkpoint.json")
    got = page.evaluate(
        """async (v) => {
          const { checkpoint, b64u, toHex, attempt } = window.conf;
          const logKey = b64u.b64uDecode(v.log_key, 32);
          return Promise.all(v.cases.map(async (c) => {
            const r = await attempt(() => checkpoint.parseCheckpoint(c.note, v.origin, logKey));
            return r.ok ? [Number(r.value.size), toHex(r.value.root)] : null;
          }));
        }""",
        v,
    )
    assert got == [[c["size"], c["root_hex"]] if c["valid"] else None for c in v["cases"]]


# --------------------------------------------------------------------------- opening


def test_openings(page: Page) -> None:
    v = vector("openings.json")
    signed = vector("mid.json")["signed_manifest"]
    got = page.evaluate(
        """async ([v, signed]) => {
          const { jcs, b64u, attempt } = window.conf;
          const out = [];
          for (const c of v.cases) {
            const released = c.released.map(
              (r) => ({ index: r.index, id: r.id, sk: b64u.b64uDecode(r.private_key, 32) }),
            );
            const leaf = jcs.parse(c.leaf);
            const r = await attempt(
              () => window.conf.openLeaf(leaf, signed.manifest, v.round, released),
            );
            out.push(r.ok ? (r.value.reason ?? { ballot: r.value.ballot }) : `error: ${r.error}`);
          }
          return out;
        }""",
        [v, signed],
    )
    expected = [
        {"ballot": c["ballot"]} if c["outcome"] == "valid" else c["outcome"] for c in v["cases"]
    ]
    wrong = [(c["name"], g, e) for c, g, e in zip(v["cases"], got, expected, strict=True) if g != e]
    assert wrong == []
