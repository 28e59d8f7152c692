// @ts-check
// anonballot browser cryptography: signed objects (protocol section 2.4).
//
// A signed object is {"<kind>": VALUE, "signature": b64u(Ed25519(key, JCS(VALUE)))}, with
// exactly these two members. The manifest, the close statement, the issuance ledger, the
// results and each trustee's release are signed objects; this module checks one under the
// public key that must have signed it and returns its value.

import { CryptoError } from "./errors.js";
import { b64uDecode } from "./b64u.js";
import { jcs } from "./jcs.js";
import { verifyEd25519 } from "./note.js";

/**
 * Check a signed object's shape and signature under `publicKey`; return its value.
 * @param {unknown} obj the parsed JSON of the signed object
 * @param {string} kind the name of its value's member ("manifest", "release", ...)
 * @param {Uint8Array<ArrayBuffer>} publicKey a raw 32-byte Ed25519 public key
 * @returns {Promise<any>} the signed value (its shape is the caller's to check)
 */
export async function verifySignedObject(obj, kind, publicKey) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new CryptoError(`expected a signed ${kind}`, "bad_encoding");
  const record = /** @type {Record<string, unknown>} */ (obj);
  const has = (/** @type {string} */ k) => Object.prototype.hasOwnProperty.call(record, k);
  if (Object.keys(record).length !== 2 || !has(kind) || !has("signature")) {
    throw new CryptoError(`expected a signed object {"${kind}": ..., "signature": ...}`, "bad_encoding");
  }
  const signature = b64uDecode(record.signature, 64, "signature");
  if (!(await verifyEd25519(publicKey, jcs(record[kind]), signature))) {
    throw new CryptoError(`the ${kind} signature does not verify`, "bad_signature");
  }
  return record[kind];
}
