// @ts-check
// anonballot browser cryptography: the witnesses' cosignatures on a checkpoint
// (https://c2sp.org/tlog-cosignature, Ed25519 cosignature/v1; protocol section 6.9), as
// anonballot.witness checks them.
//
// A witness is known by its verifier key "<name>+<hex key ID>+<base64(0x04 || public key)>",
// key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4]. Its cosignature is a signature
// line of the checkpoint note, "— <name> base64(key ID || u64 big-endian time || signature)",
// the signature over "cosignature/v1\ntime <time>\n" followed by the note's text (its three
// lines). The round's manifest names its witnesses and a quorum (M.witnesses):
// `vouchers` says which of them cosigned a note.

import { b64stdDecode } from "./b64u.js";
import { concat, equal, sha256, utf8 } from "./bytes.js";
import { CryptoError } from "./errors.js";
import { checkKeyName, verifyEd25519 } from "./note.js";

export const COSIGNATURE_TYPE = 0x04;
const SIG_PREFIX = "\u2014 ";

/**
 * @typedef {{name: string, keyId: Uint8Array<ArrayBuffer>, publicKey: Uint8Array<ArrayBuffer>, url: string}} Witness
 */

/**
 * A witness's verifier key, checked (its key ID must be its name's and key's).
 * @param {unknown} vkey
 * @returns {Promise<{name: string, keyId: Uint8Array<ArrayBuffer>, publicKey: Uint8Array<ArrayBuffer>}>}
 */
export async function parseWitnessKey(vkey) {
  if (typeof vkey !== "string") throw new CryptoError("a witness's verifier key is text", "bad_encoding");
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  if (first < 0 || second < 0) throw new CryptoError("a witness's verifier key is <name>+<key ID>+<key>", "bad_encoding");
  const name = checkKeyName(vkey.slice(0, first));
  const hex = vkey.slice(first + 1, second);
  const raw = b64stdDecode(vkey.slice(second + 1), 33, "witness verifier key");
  if (raw[0] !== COSIGNATURE_TYPE) throw new CryptoError("not a cosignature/v1 witness key", "bad_encoding");
  const publicKey = raw.slice(1);
  const keyId = (await sha256(concat(utf8(name), new Uint8Array([0x0a, COSIGNATURE_TYPE]), publicKey))).slice(0, 4);
  const expected = Array.from(keyId, (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== expected) throw new CryptoError("the witness key's ID does not match its name and key", "bad_encoding");
  return { name, keyId, publicKey };
}

/**
 * The witnesses of a manifest (M.witnesses), or null when it names none.
 * @param {unknown} policy M.witnesses
 * @returns {Promise<{quorum: number, witnesses: Witness[]} | null>}
 */
export async function witnessPolicy(policy) {
  if (policy === undefined || policy === null) return null;
  const p = /** @type {{quorum?: unknown, list?: unknown}} */ (policy);
  if (typeof p !== "object" || !Array.isArray(p.list) || typeof p.quorum !== "number") {
    throw new CryptoError("M.witnesses is not {quorum, list}", "bad_encoding");
  }
  /** @type {Witness[]} */
  const witnesses = [];
  for (const entry of p.list) {
    const e = /** @type {{vkey?: unknown, url?: unknown}} */ (entry);
    witnesses.push({ ...(await parseWitnessKey(e?.vkey)), url: String(e?.url) });
  }
  return { quorum: p.quorum, witnesses };
}

/**
 * The witnesses (of `witnesses`) whose cosignature on the signed checkpoint `note` verifies;
 * every other signature line is ignored. The log's own signature is not checked here.
 * @param {string} note
 * @param {Witness[]} witnesses
 * @returns {Promise<Witness[]>}
 */
export async function vouchers(note, witnesses) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) return [];
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2).split("\n").filter((l) => l.startsWith(SIG_PREFIX));
  /** @type {Witness[]} */
  const found = [];
  for (const witness of witnesses) {
    for (const line of lines) {
      const rest = line.slice(SIG_PREFIX.length);
      const space = rest.indexOf(" ");
      if (space < 0 || rest.slice(0, space) !== witness.name) continue;
      let blob;
      try {
        blob = b64stdDecode(rest.slice(space + 1), 76, "cosignature");
      } catch {
        continue; // not a cosignature (the log's own line, say)
      }
      if (!equal(blob.slice(0, 4), witness.keyId)) continue;
      const time = new DataView(blob.buffer, blob.byteOffset + 4, 8).getBigUint64(0);
      const message = utf8(`cosignature/v1\ntime ${time}\n${text}`);
      if (await verifyEd25519(witness.publicKey, message, blob.slice(12))) {
        found.push(witness);
        break;
      }
    }
  }
  return found;
}
