// @ts-check
// anonballot browser cryptography: base64 (protocol section 2.2).
//
// - b64u: base64url, RFC 4648 section 5, WITHOUT padding. Decoding is strict and canonical:
//   only the URL-safe alphabet, no padding, no white space, and the unused low bits of the
//   last character must be zero, so every byte string has exactly one text.
// - b64std: standard base64, RFC 4648 section 4, WITH padding, equally strict. Only used
//   inside C2SP signed notes (checkpoint roots and signature lines).

import { CryptoError } from "./errors.js";

const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** @type {Map<string, number>} */
const VALUES = new Map([...[...STD].map((c, i) => /** @type {[string, number]} */ ([c, i])), ["-", 62], ["_", 63]]);

/**
 * @param {string} alphabet
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @param {boolean} pad
 * @returns {string}
 */
function encodeWith(alphabet, bytes, pad) {
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += alphabet[v >> 18] + alphabet[(v >> 12) & 63] + alphabet[(v >> 6) & 63] + alphabet[v & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const v = bytes[i] << 16;
    out += alphabet[v >> 18] + alphabet[(v >> 12) & 63] + (pad ? "==" : "");
  } else if (rest === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += alphabet[v >> 18] + alphabet[(v >> 12) & 63] + alphabet[(v >> 6) & 63] + (pad ? "=" : "");
  }
  return out;
}

/**
 * @param {string} text
 * @returns {Uint8Array<ArrayBuffer>}
 */
function decodeWith(text) {
  // `text` has already been checked against its alphabet and has no padding.
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (const ch of text) {
    acc = (acc << 6) | (VALUES.get(ch) ?? 0); // checked against the alphabet before
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) throw new CryptoError("non-canonical base64 (stray bits)", "bad_encoding");
  return out;
}

/**
 * @param {Uint8Array<ArrayBuffer>} data
 * @param {number | undefined} length
 * @param {string} what
 * @returns {Uint8Array<ArrayBuffer>}
 */
function checkLength(data, length, what) {
  if (length !== undefined && data.length !== length) {
    throw new CryptoError(`${what}: expected ${length} bytes, found ${data.length}`, "bad_encoding");
  }
  return data;
}

/**
 * base64url without padding.
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @returns {string}
 */
export function b64uEncode(bytes) {
  return encodeWith(URL, bytes, false);
}

/**
 * Strict canonical base64url without padding; with `length`, require that many bytes.
 * @param {unknown} text
 * @param {number} [length]
 * @param {string} [what]
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function b64uDecode(text, length = undefined, what = "value") {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new CryptoError(`${what}: not base64url without padding`, "bad_encoding");
  }
  return checkLength(decodeWith(text), length, what);
}

/**
 * Standard base64 with padding.
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @returns {string}
 */
export function b64stdEncode(bytes) {
  return encodeWith(STD, bytes, true);
}

const B64STD_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict canonical standard base64 with padding; with `length`, require that many bytes.
 * @param {unknown} text
 * @param {number} [length]
 * @param {string} [what]
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function b64stdDecode(text, length = undefined, what = "value") {
  if (typeof text !== "string" || !B64STD_RE.test(text)) {
    throw new CryptoError(`${what}: not standard base64 with padding`, "bad_encoding");
  }
  return checkLength(decodeWith(text.replace(/=+$/, "")), length, what);
}
