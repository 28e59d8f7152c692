// Test harness for server/static/js/: every entry point takes and returns plain JSON values
// (bytes as hex or b64u) so that tests/test_browser_crypto.py can drive it through Playwright
// and compare with the Python library. Nothing here is used by the voting booth itself.

import * as api from "/static/js/api.js";
import * as b64u from "/static/js/b64u.js";
import * as ballot from "/static/js/ballot.js";
import * as boothState from "/static/js/booth-state.js";
import * as bytes from "/static/js/bytes.js";
import * as checkpoint from "/static/js/checkpoint.js";
import * as codes from "/static/js/codes.js";
import * as errorCodes from "/static/js/error-codes.js";
import * as hpke from "/static/js/hpke.js";
import * as jcs from "/static/js/jcs.js";
import * as leaf from "/static/js/leaf.js";
import * as manifest from "/static/js/manifest.js";
import * as merkle from "/static/js/merkle.js";
import * as note from "/static/js/note.js";
import * as opening from "/static/js/opening.js";
import * as receipt from "/static/js/receipt.js";
import * as releases from "/static/js/releases.js";
import * as rsa from "/static/js/rsa-blind.js";
import * as sealing from "/static/js/sealing.js";
import * as shamir from "/static/js/shamir.js";
import * as signing from "/static/js/signing.js";
import * as tiles from "/static/js/tiles.js";
import * as token from "/static/js/token.js";
import * as witness from "/static/js/witness.js";

const { fromHex, toHex } = bytes;
const std = (text) => Uint8Array.from(atob(text ?? ""), (c) => c.charCodeAt(0)); // lenient, vectors only

/** Run `fn`; {ok: true, value} or {ok: false, error, code}. */
async function attempt(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: String(e?.message ?? e), code: e?.code ?? null };
  }
}

/** A byte source that reads a fixed buffer in order (the same stream the Python side reads). */
function streamRng(hex) {
  const buffer = fromHex(hex);
  let pos = 0;
  return (n) => {
    if (pos + n > buffer.length) throw new Error("deterministic rng exhausted");
    const out = buffer.slice(pos, pos + n);
    pos += n;
    return out;
  };
}

// ----------------------------------------------------------------- RFC 9474

async function rfc9474(v, derHex) {
  const pk = rsa.parseIssuerKey(fromHex(derHex));
  const n = BigInt("0x" + v.n);
  const prepared = v.prepare === "PrepareRandomize" ? rsa.prepareRandomize(fromHex(v.msg), fromHex(v.msg_prefix)) : fromHex(v.msg);
  const encoded = await rsa.emsaPssEncode(prepared, pk.modBits - 1, fromHex(v.salt));
  const r = rsa.modInverse(BigInt("0x" + v.inv), n); // RFC 9474 vectors give inv = r^-1
  const { blinded, inv } = await rsa.blind(pk, prepared, { salt: fromHex(v.salt), r });
  const sig = await rsa.finalize(pk, prepared, fromHex(v.blind_sig), inv);
  // Independent check of the same signature with WebCrypto's RSA-PSS (salt length 48).
  const wcKey = await crypto.subtle.importKey("spki", pk.der, { name: "RSA-PSS", hash: "SHA-384" }, false, ["verify"]);
  const webcrypto = await crypto.subtle.verify({ name: "RSA-PSS", saltLength: 48 }, wcKey, sig, prepared);
  const flipped = sig.slice();
  flipped[100] ^= 1;
  const badBlindSig = fromHex(v.blind_sig);
  badBlindSig[7] ^= 1;
  return {
    n: pk.n.toString(16),
    e: Number(pk.e),
    modBits: pk.modBits,
    prepared: toHex(prepared),
    encoded: toHex(encoded),
    blinded: toHex(blinded),
    inv: toHex(inv),
    sig: toHex(sig),
    verifies: await rsa.verify(pk, prepared, sig),
    webcrypto,
    tamperedSigVerifies: await rsa.verify(pk, prepared, flipped),
    otherMessageVerifies: await rsa.verify(pk, fromHex(v.msg + "00"), sig),
    tamperedFinalize: await attempt(() => rsa.finalize(pk, prepared, badBlindSig, inv)),
  };
}

/** Blind with fresh randomness; the caller signs `blinded` and calls finishRandomBlind. */
const pending = {};
async function startRandomBlind(derHex, msgHex) {
  const pk = rsa.parseIssuerKey(fromHex(derHex));
  const prepared = rsa.prepareRandomize(fromHex(msgHex));
  const { blinded, inv } = await rsa.blind(pk, prepared);
  Object.assign(pending, { pk, prepared, inv });
  return { prepared: toHex(prepared), blinded: toHex(blinded) };
}

async function finishRandomBlind(blindSigHex) {
  return toHex(await rsa.finalize(pending.pk, pending.prepared, fromHex(blindSigHex), pending.inv));
}

async function rsaVerify(derHex, msgHex, sigHex) {
  return rsa.verify(rsa.parseIssuerKey(fromHex(derHex)), fromHex(msgHex), fromHex(sigHex));
}

async function parseIssuerKeys(derHexes) {
  return Promise.all(derHexes.map((h) => attempt(() => rsa.parseIssuerKey(fromHex(h)).modBits)));
}

// ----------------------------------------------------------------- RFC 9180

async function rfc9180(v) {
  const info = fromHex(v.info);
  const e = await hpke.deriveKeyPair(fromHex(v.ikmE));
  const r = await hpke.deriveKeyPair(fromHex(v.ikmR));
  const { enc, ctx } = await hpke.setupBaseS(fromHex(v.pkRm), info, { testOnlySkE: fromHex(v.skEm) });
  const receiver = await hpke.setupBaseR(enc, fromHex(v.skRm), info);
  const wanted = new Map(v.encryptions.map((x, i) => [i, x]));
  // The vector's encryptions are at sequence numbers 0, 1, 2, 4, 255, 256 of one context.
  const seqs = [0, 1, 2, 4, 255, 256];
  const ciphertexts = [];
  const plaintexts = [];
  for (let seq = 0, k = 0; seq <= 256; seq++) {
    if (seq !== seqs[k]) {
      ctx.incrementSeq();
      receiver.incrementSeq();
      continue;
    }
    const x = wanted.get(k++);
    if (toHex(ctx.nonce()) !== x.nonce) throw new Error(`nonce at seq ${seq}`);
    const ct = await ctx.seal(fromHex(x.aad), fromHex(x.plaintext));
    ciphertexts.push(toHex(ct));
    plaintexts.push(toHex(await receiver.open(fromHex(x.aad), ct)));
  }
  const exports = [];
  for (const x of v.exports) exports.push(toHex(await ctx.export(fromHex(x.exportContext), x.exportLength)));
  // Single shot with the fixed ephemeral key: the first encryption of the vector.
  const first = v.encryptions[0];
  const single = await hpke.sealBase(fromHex(v.pkRm), info, fromHex(first.aad), fromHex(first.plaintext), { testOnlySkE: fromHex(v.skEm) });
  const opened = await hpke.openBase(single.enc, fromHex(v.skRm), info, fromHex(first.aad), single.ct);
  const tampered = single.ct.slice();
  tampered[0] ^= 1;
  return {
    skEm: toHex(e.sk),
    pkEm: toHex(e.pk),
    skRm: toHex(r.sk),
    pkRm: toHex(r.pk),
    enc: toHex(enc),
    key: toHex(ctx.key),
    baseNonce: toHex(ctx.baseNonce),
    exporterSecret: toHex(ctx.exporterSecret),
    ciphertexts,
    plaintexts,
    exports,
    singleEnc: toHex(single.enc),
    singleCt: toHex(single.ct),
    singleOpened: toHex(opened),
    tamperedOpen: await attempt(() => hpke.openBase(single.enc, fromHex(v.skRm), info, fromHex(first.aad), tampered)),
    wrongInfoOpen: await attempt(() => hpke.openBase(single.enc, fromHex(v.skRm), fromHex("00"), fromHex(first.aad), single.ct)),
  };
}

/** Seal `pt` to `pkR` with a fresh ephemeral key: enc || ct, hex (in an attempt). */
async function hpkeSeal(pkRHex, infoHex, ptHex) {
  return attempt(async () => {
    const { enc, ct } = await hpke.sealBase(fromHex(pkRHex), fromHex(infoHex), new Uint8Array(0), fromHex(ptHex));
    return toHex(bytes.concat(enc, ct));
  });
}

async function hpkeOpen(skRHex, infoHex, sealedHex) {
  const sealed = fromHex(sealedHex);
  return attempt(async () => toHex(await hpke.openBase(sealed.slice(0, 32), fromHex(skRHex), fromHex(infoHex), new Uint8Array(0), sealed.slice(32))));
}

// ----------------------------------------------------------------- Shamir and sealing

function shamirSplit(secretHex, threshold, count, streamHex) {
  const shares = shamir.split(BigInt("0x" + secretHex), threshold, count, shamir.randbelowFrom(streamRng(streamHex)));
  return shares.map((s) => toHex(shamir.shareToBytes(s)));
}

function shamirInterpolate(points, x) {
  const parsed = points.map(([xi, hex]) => [xi, shamir.shareFromBytes(fromHex(hex))]);
  return shamir.interpolateAt(parsed, x).toString(16);
}

async function sealDeterministic(ptHex, mid, ward, trustees, threshold, streamHex) {
  const sealed = await sealing.seal(fromHex(ptHex), {
    mid,
    ward,
    trustees: trustees.map((t) => ({ id: t.id, hpkeKey: b64u.b64uDecode(t.hpke_key, 32) })),
    threshold,
    rng: streamRng(streamHex),
  });
  return sealing.sealedToJson(sealed);
}

// ----------------------------------------------------------------- RFC 9162

async function merkleRoots(leafHexes) {
  const hashes = [];
  for (const h of leafHexes) hashes.push(await merkle.leafHash(fromHex(h)));
  const roots = [];
  for (let size = 0; size <= hashes.length; size++) roots.push(toHex(await merkle.rootOf(hashes.slice(0, size))));
  return roots;
}

async function merkleInclusion(cases) {
  return Promise.all(
    cases.map(async (c) => ({
      name: c.name,
      result: await attempt(() => merkle.verifyInclusion(std(c.leafHash), c.leafIdx, c.treeSize, (c.proof ?? []).map(std), std(c.root))),
    })),
  );
}

async function merkleConsistency(cases) {
  return Promise.all(
    cases.map(async (c) => ({
      name: c.name,
      result: await attempt(() => merkle.verifyConsistency(c.size1, c.size2, (c.proof ?? []).map(std), std(c.root1), std(c.root2))),
    })),
  );
}

/** MTH and the inclusion proof of each of `indices` over leaf hashes given in hex. */
async function merkleRootAndInclusion(leafHashHexes, indices) {
  const packed = fromHex(leafHashHexes.join(""));
  const root = toHex((await merkle.rootAndInclusion(packed)).root);
  const proofs = [];
  for (const i of indices) {
    const { root: again, proof } = await merkle.rootAndInclusion(packed, i);
    proofs.push({ root: toHex(again), proof: proof.map(toHex) });
  }
  return { root, proofs, refused: await attempt(() => merkle.rootAndInclusion(packed, leafHashHexes.length)) };
}

// ----------------------------------------------------------------- C2SP tlog-tiles

/** Tile paths and the level-0 tiles of sizes, and a board read back from tiles made up here. */
async function tilePaths(cases, sizes) {
  return {
    paths: cases.map(([level, index, width]) => tiles.tilePath(level, index, width ?? undefined)),
    levelZero: sizes.map((size) => tiles.levelZeroTiles(size)),
  };
}

/** readLeafHashes over made-up tiles (hash i is 32 bytes of i % 251): the paths asked for,
 * the most asked at once, and whether every hash landed in its place. */
async function readTiles(size, concurrency, badPath) {
  const asked = [];
  let running = 0;
  let most = 0;
  const fetchTile = async (path) => {
    asked.push(path);
    running++;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, 1));
    running--;
    const tile = tiles.levelZeroTiles(size).findIndex((t) => t.path === path);
    const count = path === badPath ? 3 : Math.min(256, size - tile * 256);
    const out = new Uint8Array(count * 32);
    for (let k = 0; k < count; k++) out.fill((tile * 256 + k) % 251, k * 32, (k + 1) * 32);
    return out;
  };
  const result = await attempt(() => tiles.readLeafHashes(size, fetchTile, { concurrency }));
  let placed = null;
  if (result.ok) {
    placed = result.value.length === size * 32 && result.value.every((b, j) => b === Math.floor(j / 32) % 251);
    result.value = null;
  }
  return { asked: asked.sort(), most, ok: result.ok, code: result.code ?? null, placed };
}

// ----------------------------------------------------------------- witnesses

/** The names of the witnesses of `policy` (M.witnesses) that cosigned `note`, or the error. */
async function witnessVouchers(note, policy) {
  return attempt(async () => {
    const p = await witness.witnessPolicy(policy);
    return p === null ? null : (await witness.vouchers(note, p.witnesses)).map((w) => w.name);
  });
}

/** Entry bundles: where leaf `index` of a tree of `size` is, and a bundle's entries. */
async function entryBundles(cases, bundleHex, width) {
  const bundle = Uint8Array.from(bundleHex.match(/../g) ?? [], (h) => parseInt(h, 16));
  const parsed = await attempt(async () => tiles.parseEntryBundle(bundle, width).map((e) => Array.from(e)));
  return { places: cases.map(([index, size]) => tiles.entryBundleOf(index, size)), parsed };
}

// ----------------------------------------------------------------- signed notes

async function signedNote(v) {
  const pk = fromHex(v.ed25519_public_key_hex);
  const text = await note.openNote(v.signed_note, v.key_name, pk);
  const cp = await checkpoint.parseCheckpoint(v.signed_note, v.key_name, pk);
  const otherKey = pk.slice();
  otherKey[0] ^= 1;
  const sigLine = v.signed_note.split("\n").at(-2);
  const blob = b64u.b64stdDecode(sigLine.split(" ").at(-1));
  blob[10] ^= 1; // inside the signature, after the key ID
  const badSig = v.signed_note.replace(sigLine.split(" ").at(-1), b64u.b64stdEncode(blob));
  const goodAndBad = v.signed_note + badSig.split("\n").at(-2) + "\n";
  const witness = v.signed_note + "\u2014 witness.example/w " + b64u.b64stdEncode(new Uint8Array(68)) + "\n";
  return {
    text,
    keyId: toHex(await note.keyId(v.key_name, pk)),
    verifierKey: await note.verifierKey(v.key_name, pk),
    leafHash: toHex(await merkle.leafHash(bytes.utf8(v.leaf_utf8))),
    size: Number(cp.size),
    root: toHex(cp.root),
    rejects: {
      otherKey: await attempt(() => note.openNote(v.signed_note, v.key_name, otherKey)),
      otherName: await attempt(() => note.openNote(v.signed_note, "example.org/other", pk)),
      badSignature: await attempt(() => note.openNote(badSig, v.key_name, pk)),
      changedText: await attempt(() => note.openNote(v.signed_note.replace("\n1\n", "\n2\n"), v.key_name, pk)),
      noBlankLine: await attempt(() => note.openNote(v.signed_note.replace("\n\n", "\n"), v.key_name, pk)),
      controlChar: await attempt(() => note.openNote(v.signed_note.replace("\n1\n", "\n1\r\n"), v.key_name, pk)),
      goodAndBad: await attempt(() => note.openNote(goodAndBad, v.key_name, pk)),
    },
    witnessIgnored: await attempt(() => note.openNote(witness, v.key_name, pk)),
  };
}

// ----------------------------------------------------------------- JCS

async function jcsCases(hexes) {
  return Promise.all(hexes.map(async (h) => {
    const r = await attempt(() => toHex(jcs.jcs(jcs.parse(fromHex(h)))));
    return r.ok ? r.value : null;
  }));
}

/** Values only JavaScript can hand to the serializer: which of them were handled wrongly. */
function jcsJsOnly() {
  const deep = (n) => (n === 0 ? 1 : [deep(n - 1)]);
  const rejects = {
    float: 1.5, nan: NaN, inf: Infinity, big: 2 ** 53, undef: undefined, undefMember: { a: undefined },
    undefItem: [undefined], hole: [, 1], map: new Map(), date: new Date(0), bigint: 10n, symbol: Symbol("s"),
    fn: () => 1, lone: "\ud800", nfd: "e\u0301", nfdKey: { "e\u0301": 1 }, deep33: deep(33),
  };
  const accepts = { negZero: [[-0], "[0]"], deep32: [deep(32), "[".repeat(32) + "1" + "]".repeat(32)], nullProto: [Object.assign(Object.create(null), { b: 1, a: 2 }), '{"a":2,"b":1}'] };
  const wrong = [];
  for (const [name, value] of Object.entries(rejects)) {
    try {
      jcs.canonicalize(value);
      wrong.push(`${name}: accepted`);
    } catch (e) {
      if (!(e instanceof Error) || e.code !== "bad_encoding") wrong.push(`${name}: ${e}`);
    }
  }
  for (const [name, [value, expected]] of Object.entries(accepts)) {
    const got = jcs.canonicalize(value);
    if (got !== expected) wrong.push(`${name}: ${got}`);
  }
  // The parser itself enforces the depth limit (not only the serializer).
  try {
    jcs.parse("[".repeat(33) + "]".repeat(33));
    wrong.push("parse: 33 levels accepted");
  } catch (e) {
    if (e.code !== "bad_encoding") wrong.push(`parse depth: ${e}`);
  }
  if (jcs.parse("[".repeat(32) + "]".repeat(32)).length !== 1) wrong.push("parse: 32 levels");
  // "__proto__" stays a member through the parser.
  const parsed = jcs.parse('{"__proto__":{"x":1},"a":1}');
  if (jcs.canonicalize(parsed) !== '{"__proto__":{"x":1},"a":1}') wrong.push("__proto__ member lost");
  return wrong;
}

function b64Cases(cases) {
  return cases.map(([kind, text]) => {
    try {
      return toHex(kind === "u" ? b64u.b64uDecode(text) : b64u.b64stdDecode(text));
    } catch {
      return null;
    }
  });
}

// ----------------------------------------------------------------- the booth, end to end

const booth = {};

/** Steps 1 to 4 of protocol 5.2: verify the manifest, make the voter key, blind. */
async function boothStart(manifestText, ward) {
  booth.round = await manifest.openSignedManifest(jcs.parse(manifestText));
  booth.ward = ward;
  booth.issuerKey = booth.round.issuerKey(ward);
  booth.voter = await leaf.generateVoterKey();
  // The voter key survives a round trip through its seed (what the device persists).
  booth.voter = await leaf.importVoterSeed(await leaf.exportVoterSeed(booth.voter));
  booth.request = await token.createTokenRequest(booth.issuerKey, booth.voter.publicKey);
  return { mid: booth.round.mid, blinded: b64u.b64uEncode(booth.request.blinded) };
}

/** Step 6 of 5.2 and section 6: finalize the token, build, validate, seal and sign the leaf. */
async function boothFinish(blindSigB64u, answers) {
  const tok = await token.finalizeToken(booth.issuerKey, booth.request, b64u.b64uDecode(blindSigB64u));
  await token.verifyToken(booth.issuerKey, tok);
  const ward = booth.ward;
  const b = ballot.validateBallot(ballot.makeBallot(ward, answers), booth.round.manifest, ward);
  const sealed = await sealing.seal(jcs.jcs(b), { mid: booth.round.mid, ward, trustees: booth.round.trustees, threshold: booth.round.threshold });
  booth.leaf = await leaf.buildLeaf({ mid: booth.round.mid, ward, token: tok, sealed, voter: booth.voter });
  return { leaf: bytes.fromUtf8(booth.leaf), ballot: jcs.canonicalize(b) };
}

async function boothReceipt(receiptValue) {
  const r = await receipt.verifyReceipt(receiptValue, booth.round, booth.leaf);
  return { code: r.code, size: Number(r.checkpoint.size) };
}

/** Verify receipts for a round: [{receipt, leaf (text) or null}] -> results. */
async function receipts(manifestText, cases) {
  const round = await manifest.openSignedManifest(jcs.parse(manifestText));
  return Promise.all(cases.map(async (c) => {
    const r = await attempt(async () => (await receipt.verifyReceipt(c.receipt, round, c.leaf === null ? undefined : bytes.utf8(c.leaf))).code);
    return r;
  }));
}

/** cosignedReceipt on a round's receipt, a later note and the proof given for it. */
async function cosignedReceipts(manifestText, receiptValue, note, proof) {
  const round = await manifest.openSignedManifest(jcs.parse(manifestText));
  const asked = [];
  const value = await receipt.cosignedReceipt(receiptValue, round, note, async (index, size) => {
    asked.push([index, Number(size)]);
    return proof;
  });
  return { value, asked };
}

/** The protocol's worked example receipt (section 6.7), with explicit round data. */
async function receiptWithKey(receiptValue, mid, origin, logKeyB64u) {
  return attempt(async () => (await receipt.verifyReceipt(receiptValue, { mid, origin, logKey: b64u.b64uDecode(logKeyB64u, 32) })).code);
}

async function checkpointCases(notes, origin, logKeyB64u) {
  const logKey = b64u.b64uDecode(logKeyB64u, 32);
  return Promise.all(notes.map((n) => attempt(async () => {
    const cp = await checkpoint.parseCheckpoint(n, origin, logKey);
    return { size: cp.size.toString(), root: toHex(cp.root) };
  })));
}

async function manifestCases(cases) {
  return Promise.all(cases.map((text) => attempt(async () => (await manifest.openSignedManifest(jcs.parse(text))).mid)));
}

function ballotCases(manifestText, ward, cases) {
  const m = jcs.parse(manifestText).manifest;
  return cases.map((b) => {
    try {
      ballot.validateBallot(b, m, ward);
      return null;
    } catch (e) {
      return e.code;
    }
  });
}

window.ab = { b64u, ballot, bytes, checkpoint, codes, errorCodes, hpke, jcs, leaf, manifest, merkle, note, opening, receipt, releases, rsa, sealing, shamir, signing, tiles, token, witness };
window.harness = {
  rfc9474, rsaVerify, checkpointCases, startRandomBlind, finishRandomBlind, parseIssuerKeys, rfc9180, hpkeSeal, hpkeOpen, shamirSplit,
  shamirInterpolate, sealDeterministic, merkleRoots, merkleInclusion, merkleConsistency, merkleRootAndInclusion, tilePaths, readTiles, witnessVouchers, entryBundles, signedNote, jcsCases,
  jcsJsOnly, b64Cases, boothStart, boothFinish, boothReceipt, receipts, receiptWithKey, cosignedReceipts, manifestCases, ballotCases,
};

// ----------------------------------------------------------------- the booth's state machine

/** A Storage in memory, one per simulated device; `broken` refuses every write. */
class MemoryStorage {
  constructor() {
    this.items = new Map();
    this.broken = false;
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    if (this.broken) throw new DOMException("the quota is exceeded", "QuotaExceededError");
    this.items.set(key, String(value));
  }
  removeItem(key) {
    this.items.delete(key);
  }
  key(i) {
    return [...this.items.keys()][i] ?? null;
  }
  get length() {
    return this.items.size;
  }
}

const devices = {};
const sessions = {};
const machines = {};

/**
 * The round's API through the test's server (window.boothServer, a Python function): the
 * answer, a refusal as an ApiError, or a lost answer (the server carried the request out).
 */
async function serverRequest(path, options = {}) {
  const body = options.json !== undefined ? JSON.stringify(options.json) : options.body !== undefined ? bytes.fromUtf8(options.body) : null;
  const answer = await window.boothServer(path, options.method ?? "GET", body);
  if (answer.lost) throw new api.ApiError(0, "network", "the answer was lost");
  if (answer.status >= 400) {
    const value = JSON.parse(answer.text);
    throw new api.ApiError(answer.status, value.error, value.detail);
  }
  if (options.as === "text") return answer.text;
  if (options.as === "bytes") return bytes.utf8(answer.text);
  return jcs.parse(answer.text);
}

/** An outcome as plain JSON: its kind and what the page would show. */
function describe(outcome) {
  const out = { kind: outcome.kind };
  if (outcome.kind === "code") Object.assign(out, { errorKey: outcome.errorKey, value: outcome.value });
  if (outcome.kind === "receipt") out.again = outcome.again;
  if (outcome.kind === "error") {
    Object.assign(out, {
      error: outcome.error?.name ?? String(outcome.error),
      code: outcome.error?.code ?? null,
      stage: outcome.stage,
      actions: outcome.actions.map((a) => a.key),
      notes: outcome.notes.map((n) => n.key),
    });
    if (outcome.say) out.say = outcome.say.key;
  }
  return out;
}

window.boothHarness = {
  /** A booth (a page load) named `machine` on the device `device`, in the browser tab `tab` if given (its session storage). */
  open(device, machine, roundId, tab = null) {
    devices[device] ??= new MemoryStorage();
    const session = tab === null ? undefined : (sessions[`${device}/${tab}`] ??= new MemoryStorage());
    machines[machine] = { booth: new boothState.Booth({ roundId, storage: devices[device], session, request: serverRequest }), last: null };
  },
  /** The machine itself, for a test that drives it directly. */
  machine(machine) {
    return machines[machine].booth;
  },
  /** Ask the machine something (votingOpensLater, receipt, receiptKept, ...): a plain value. */
  ask(machine, method, ...args) {
    return machines[machine].booth[method](...args);
  },
  /** Call a step of the machine ("begin", "enterCode", "goTo", "castBallot", ...). */
  async step(machine, method, ...args) {
    const m = machines[machine];
    m.last = await m.booth[method](...args);
    return describe(m.last);
  },
  /** Press one of the last error's buttons, by its catalog key. */
  async act(machine, key) {
    const m = machines[machine];
    const action = m.last.actions.find((a) => a.key === key);
    if (!action) throw new Error(`no action ${key}`);
    m.last = await action.run();
    return describe(m.last);
  },
  /** Rate every question of the ward (level (si + ci) mod the scale) and comment once. */
  answerAll(machine) {
    const booth = machines[machine].booth;
    const levels = booth.levels();
    const criteria = booth.requireRound().manifest.questionnaire.criteria;
    booth.wardSubjects().forEach((s, si) => {
      criteria.forEach((c, ci) => booth.setRating(s.id, c.id, levels[(si + ci) % levels.length].id));
    });
    const field = booth.requireRound().manifest.questionnaire.comments[0];
    const first = booth.wardSubjects()[0];
    if (field) booth.setComment(first.id, field.id, "Gần dân.");
    booth.saveAnswers();
    return booth.unanswered().length;
  },
  /** The device's saved states by key (the pointer to the current code apart). */
  storage(device) {
    const entries = [...devices[device].items].filter(([k]) => !k.endsWith(":current"));
    return Object.fromEntries(entries.map(([k, v]) => [k, JSON.parse(v)]));
  },
  current(device, roundId) {
    return devices[device].getItem(`${boothState.PREFIX}${roundId}:current`);
  },
  /** Change a saved state on the device (what another version of the page might have left). */
  patch(device, key, changes) {
    const state = JSON.parse(devices[device].getItem(key));
    devices[device].setItem(key, JSON.stringify({ ...state, ...changes }));
  },
  breakStorage(device, broken) {
    devices[device] ??= new MemoryStorage();
    devices[device].broken = broken;
  },
};

window.harnessReady = true;
