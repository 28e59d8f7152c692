// @ts-check
// anonballot browser cryptography: checking a cast's receipt (protocol section 6.7).
//
// A receipt is {"round": mid, "leaf_index": i, "leaf_hash": b64u, "checkpoint": note,
// "inclusion": [b64u, ...]}. It is valid when: it has exactly these members; `round` is the
// round's mid; the checkpoint is a checkpoint of the round's log signed by the log key
// (checkpoint.js, note.js); the inclusion proof of `leaf_hash` at `leaf_index` verifies
// against the checkpoint's size and root (RFC 9162 2.1.3.2, merkle.js); and, for the
// participant who kept the leaf, `leaf_hash` is SHA-256(0x00 || leaf bytes).
// A receipt proves inclusion, not authorship.

import { CryptoError } from "./errors.js";
import { b64stdEncode, b64uDecode } from "./b64u.js";
import { concat, equal, toHex } from "./bytes.js";
import { parseCheckpoint } from "./checkpoint.js";
import { leafHash, verifyInclusion } from "./merkle.js";
import { vouchers, witnessPolicy } from "./witness.js";

const RECEIPT_KEYS = ["checkpoint", "inclusion", "leaf_hash", "leaf_index", "round"];

/**
 * @param {string} message
 * @returns {never}
 */
function bad(message) {
  throw new CryptoError(message, "bad_receipt");
}

/**
 * The receipt code shown to people: 20 lowercase hex digits of the leaf hash, in groups of four.
 * @param {Uint8Array} hash
 * @returns {string}
 */
export function receiptCode(hash) {
  return (toHex(hash).slice(0, 20).match(/.{4}/g) ?? []).join("-");
}

/**
 * A receipt code as written down (any case, spaces and dashes anywhere) in the form
 * receiptCode shows, or null when it is not 20 hex digits; as anonballot.receipt's
 * normalize_receipt_code.
 * @param {unknown} input
 * @returns {string | null}
 */
export function normalizeReceiptCode(input) {
  if (typeof input !== "string") return null;
  const digits = input.toLowerCase().replace(/[\s-]/g, "");
  return /^[0-9a-f]{20}$/.test(digits) ? (digits.match(/.{4}/g) ?? []).join("-") : null;
}

/**
 * Parse a receipt object strictly: {round, leafIndex, leafHash, checkpoint, inclusion}.
 * @param {any} value the parsed JSON
 * @returns {{round: string, leafIndex: number, leafHash: Uint8Array<ArrayBuffer>, checkpoint: string, inclusion: Uint8Array<ArrayBuffer>[]}}
 */
export function parseReceipt(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad("a receipt is a JSON object");
  const keys = Object.keys(value).sort();
  if (keys.length !== RECEIPT_KEYS.length || keys.some((k, i) => k !== RECEIPT_KEYS[i])) {
    bad("a receipt has exactly round, leaf_index, leaf_hash, checkpoint and inclusion");
  }
  const index = value.leaf_index;
  if (!Number.isSafeInteger(index) || index < 0) bad("receipt leaf_index: expected an integer >= 0");
  if (typeof value.round !== "string" || typeof value.checkpoint !== "string") bad("receipt: round and checkpoint are text");
  if (!Array.isArray(value.inclusion)) bad("receipt inclusion: expected a list");
  return {
    round: value.round,
    leafIndex: index,
    leafHash: b64uDecode(value.leaf_hash, 32, "leaf_hash"),
    checkpoint: value.checkpoint,
    inclusion: value.inclusion.map((/** @type {unknown} */ p) => b64uDecode(p, 32, "inclusion proof")),
  };
}

/**
 * The receipt as a c2sp.org/tlog-proof@v1 file (protocol section 6.7): the header line,
 * `extra` (standard base64 of mid || leaf hash), `index`, one standard base64 line per
 * proof element, an empty line, the checkpoint verbatim. Byte for byte what
 * `Receipt.to_tlog_proof` writes in Python.
 * @param {unknown} value the parsed JSON of the receipt
 * @returns {string}
 */
export function toTlogProof(value) {
  const r = parseReceipt(value);
  const extra = b64stdEncode(concat(b64uDecode(r.round, 32, "round"), r.leafHash));
  const proof = r.inclusion.map((p) => b64stdEncode(p));
  const checkpoint = r.checkpoint.endsWith("\n") ? r.checkpoint : `${r.checkpoint}\n`;
  return [`c2sp.org/tlog-proof@v1`, `extra ${extra}`, `index ${r.leafIndex}`, ...proof, ""].join("\n") + "\n" + checkpoint;
}

/**
 * Verify a receipt for the round {mid, origin, logKey (32 raw bytes)}; with `leaf` (the
 * leaf's bytes), also check that it is the receipt of exactly that leaf.
 * Returns {checkpoint: {origin, size, root}, code}; throws a CryptoError otherwise.
 * @param {unknown} value the parsed JSON of the receipt
 * @param {{mid: string, origin: string, logKey: Uint8Array<ArrayBuffer>}} round
 * @param {Uint8Array<ArrayBuffer>} [leaf]
 * @returns {Promise<{checkpoint: {origin: string, size: bigint, root: Uint8Array<ArrayBuffer>}, code: string}>}
 */
export async function verifyReceipt(value, { mid, origin, logKey }, leaf = undefined) {
  const receipt = parseReceipt(value);
  if (receipt.round !== mid) throw new CryptoError("the receipt is for another round", "wrong_round");
  if (leaf !== undefined && !equal(await leafHash(leaf), receipt.leafHash)) {
    throw new CryptoError("the receipt is for another leaf", "bad_proof");
  }
  const checkpoint = await parseCheckpoint(receipt.checkpoint, origin, logKey);
  await verifyInclusion(receipt.leafHash, receipt.leafIndex, checkpoint.size, receipt.inclusion, checkpoint.root);
  return { checkpoint, code: receiptCode(receipt.leafHash) };
}

/**
 * The receipt proven in a later checkpoint of its board that a quorum of the round's
 * witnesses cosigned (protocol section 6.9): what the downloaded tlog-proof carries, like
 * `anonballot.receipt.with_checkpoint`. `note` is the board's newest checkpoint and
 * `fetchProof(index, size)` gives the ballot's inclusion proof in it (b64u strings). The
 * receipt as it was when the round names no witnesses, when `note` is not vouched for by a
 * quorum, or when anything does not verify.
 * @param {unknown} value the parsed JSON of the receipt
 * @param {{mid: string, origin: string, logKey: Uint8Array<ArrayBuffer>, manifest: {witnesses?: unknown}}} round
 * @param {string} note
 * @param {(index: number, size: bigint) => Promise<unknown>} fetchProof
 * @returns {Promise<unknown>}
 */
export async function cosignedReceipt(value, round, note, fetchProof) {
  try {
    const policy = await witnessPolicy(round.manifest.witnesses);
    if (policy === null) return value;
    const r = parseReceipt(value);
    const cp = await parseCheckpoint(note, round.origin, round.logKey);
    if (BigInt(r.leafIndex) >= cp.size) return value;
    if ((await vouchers(note, policy.witnesses)).length < policy.quorum) return value;
    const later = { .../** @type {object} */ (value), checkpoint: note, inclusion: await fetchProof(r.leafIndex, cp.size) };
    await verifyReceipt(later, round);
    return later;
  } catch {
    return value; // the receipt the server gave stands
  }
}
