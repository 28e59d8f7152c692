// @ts-check
// anonballot browser cryptography: sealing a ballot for the trustees (protocol section 6.2),
// byte-compatible with anonballot.sealing.seal.
//
//   1. K (32 bytes) and nonce (12 bytes) at random;
//   2. ct = AES-256-GCM(K, nonce, plaintext, aad = JCS({"round": mid, "ward": ward})),
//      ciphertext || 16-byte tag;
//   3. Shamir over GF(2^521 - 1): f(0) = int(K) (big-endian), threshold - 1 random
//      coefficients in [0, p);
//   4. share_i = HPKE single-shot seal (RFC 9180 base mode, X25519 / HKDF-SHA256 /
//      AES-128-GCM) of I2OSP(f(i), 66) to trustee i (manifest order, 1-based), with
//      info = JCS({"round": mid, "trustee": id_i}) and an empty aad; stored as enc || ct,
//      32 + 66 + 16 = 114 bytes.
//
// `rng(n)` supplies, in this order, K, the nonce and the Shamir coefficients (66-byte draws,
// rejection-sampled below p), exactly as the Python `rng` argument does, so a seeded rng
// reproduces the Python nonce, ct and share values. HPKE ephemeral keys are always fresh.

import { CryptoError } from "./errors.js";
import { b64uEncode } from "./b64u.js";
import { checkBytes, concat, os2ip, randomBytes } from "./bytes.js";
import { jcs } from "./jcs.js";
import { sealBase } from "./hpke.js";
import { randbelowFrom, shareToBytes, split } from "./shamir.js";

/** @typedef {{shares: Uint8Array<ArrayBuffer>[], nonce: Uint8Array<ArrayBuffer>, ct: Uint8Array<ArrayBuffer>}} Sealed a sealed ballot, raw bytes */

export const KEY_SIZE = 32;
export const NONCE_SIZE = 12;
export const SHARE_SIZE = 114;
export const MAX_CT = 65536;
export const MAX_PLAINTEXT = MAX_CT - 16;

/**
 * The AES-GCM associated data of a ballot: JCS({round, ward}).
 * @param {string} mid
 * @param {string} ward
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function ballotAad(mid, ward) {
  return jcs({ round: mid, ward });
}

/**
 * The HPKE info of a trustee's share: JCS({round, trustee}).
 * @param {string} mid
 * @param {string} trusteeId
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function shareInfo(mid, trusteeId) {
  return jcs({ round: mid, trustee: trusteeId });
}

/**
 * @param {(n: number) => Uint8Array<ArrayBuffer>} rng
 * @param {number} n
 * @returns {Uint8Array<ArrayBuffer>}
 */
function exact(rng, n) {
  return checkBytes(rng(n), `rng(${n})`, n);
}

/**
 * Seal `plaintext` (bytes, normally JCS(B)) for `ward` of the round `mid`.
 * `trustees` is [{id, hpkeKey: 32 raw bytes}, ...] in manifest order.
 * Returns {shares: [Uint8Array(114), ...], nonce: Uint8Array(12), ct: Uint8Array}.
 * @param {Uint8Array<ArrayBuffer>} plaintext
 * @param {{mid: string, ward: string, trustees: {id: string, hpkeKey: Uint8Array<ArrayBuffer>}[], threshold: number, rng?: (n: number) => Uint8Array<ArrayBuffer>}} options
 * @returns {Promise<Sealed>}
 */
export async function seal(plaintext, { mid, ward, trustees, threshold, rng = randomBytes }) {
  checkBytes(plaintext, "plaintext");
  if (plaintext.length > MAX_PLAINTEXT) throw new CryptoError(`plaintext is ${plaintext.length} bytes, at most ${MAX_PLAINTEXT} fit`, "invalid_input");
  if (!Array.isArray(trustees) || trustees.length === 0) throw new CryptoError("a ballot is sealed to at least one trustee", "invalid_input");
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > trustees.length) {
    throw new CryptoError(`threshold must be in 1..${trustees.length}, got ${threshold}`, "invalid_input");
  }
  if (new Set(trustees.map((t) => t.id)).size !== trustees.length) throw new CryptoError("trustee ids must be distinct", "invalid_input");
  const aad = ballotAad(mid, ward);
  const infos = trustees.map((t) => shareInfo(mid, t.id));
  trustees.forEach((t) => checkBytes(t.hpkeKey, `trustee ${t.id}: hpke key`, 32));

  const key = exact(rng, KEY_SIZE).slice(); // our own copy, zeroed below
  const nonce = exact(rng, NONCE_SIZE);
  const aesKey = await crypto.subtle.importKey("raw", key, { name: "AES-GCM" }, false, ["encrypt"]);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, aesKey, plaintext));
  const values = split(os2ip(key), threshold, trustees.length, randbelowFrom(rng));
  key.fill(0); // best effort: the WebCrypto key object and other copies may remain
  const shares = [];
  for (let i = 0; i < trustees.length; i++) {
    const { enc, ct: sealedShare } = await sealBase(trustees[i].hpkeKey, infos[i], new Uint8Array(0), shareToBytes(values[i]));
    shares.push(concat(enc, sealedShare));
  }
  return { shares, nonce, ct };
}

/**
 * The leaf's `ballot` object: {"shares": [b64u, ...], "nonce": b64u, "ct": b64u}.
 * @param {Sealed} sealed
 * @returns {{shares: string[], nonce: string, ct: string}}
 */
export function sealedToJson(sealed) {
  return { shares: sealed.shares.map(b64uEncode), nonce: b64uEncode(sealed.nonce), ct: b64uEncode(sealed.ct) };
}
