// @ts-check
// anonballot pages: the issuance ledger (protocol section 8), as anonballot.statements'
// IssuanceLedger reads it. Published at the close: per ward, the sorted pseudonyms of the
// invitation codes that received a token (codes.js computes a code's pseudonym). The ledger is
// not signed; the signed close statement binds it by its hash and its counts per ward.

import { CryptoError } from "./errors.js";
import { b64uEncode } from "./b64u.js";
import { sha256 } from "./bytes.js";
import { jcs } from "./jcs.js";

/** The canonical base64url of 32 bytes (the last character carries 4 bits and 2 zero bits). */
const PSEUDONYM = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** @typedef {{round: string, wards: Record<string, string[]>}} Ledger */

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The ledger `value` (parsed JSON) of the round `round`, checked as the audit's A8 does, and
 * against the round's close statement `close` (its signature already verified): exactly
 * {round, wards}, the round's mid, exactly the manifest's wards, each a sorted list of
 * pseudonyms, none twice; close.issuance_ledger is b64u(SHA-256(JCS(value))) and close.issued
 * the number of entries of each ward.
 * @param {unknown} value
 * @param {{mid: string, manifest: import("./manifest.js").Manifest}} round
 * @param {unknown} close the close statement's value
 * @returns {Promise<Ledger>}
 */
export async function openLedger(value, round, close) {
  const bad = (/** @type {string} */ what) => new CryptoError(`the issuance ledger ${what}`, "bad_statement");
  if (!isObject(value) || Object.keys(value).length !== 2 || typeof value.round !== "string" || !isObject(value.wards)) {
    throw bad("has exactly the keys round and wards");
  }
  if (value.round !== round.mid) throw new CryptoError("the issuance ledger is of another round", "wrong_round");
  const wards = value.wards;
  const expected = round.manifest.wards.map((w) => w.id).sort();
  if (Object.keys(wards).sort().join("\n") !== expected.join("\n")) throw bad("does not list exactly the manifest's wards");
  /** @type {Record<string, string[]>} */
  const out = {};
  const seen = new Set();
  for (const [ward, entries] of Object.entries(wards)) {
    if (!Array.isArray(entries) || !entries.every((e) => typeof e === "string" && PSEUDONYM.test(e))) throw bad(`of ${ward} is not a list of pseudonyms`);
    for (let i = 1; i < entries.length; i++) {
      if (!(entries[i - 1] < entries[i])) throw bad(`of ${ward} is not sorted, or lists a pseudonym twice`);
    }
    for (const entry of entries) {
      if (seen.has(entry)) throw bad(`lists ${entry} twice`);
      seen.add(entry);
    }
    out[ward] = entries;
  }
  if (!isObject(close) || close.issuance_ledger !== b64uEncode(await sha256(jcs(value)))) {
    throw new CryptoError("the issuance ledger is not the one the close statement names", "ledger_mismatch");
  }
  const issued = isObject(close.issued) ? close.issued : {};
  if (Object.keys(issued).length !== expected.length || expected.some((w) => issued[w] !== out[w].length)) {
    throw new CryptoError("the close statement's counts are not the ledger's", "ledger_mismatch");
  }
  return { round: value.round, wards: out };
}

/**
 * The ward whose entries hold `pseudonym`, or null when the ledger does not list it.
 * @param {Ledger} ledger
 * @param {string} pseudonym
 * @returns {string | null}
 */
export function wardOf(ledger, pseudonym) {
  for (const [ward, entries] of Object.entries(ledger.wards)) {
    if (entries.includes(pseudonym)) return ward;
  }
  return null;
}
