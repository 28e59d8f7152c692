// @ts-check
// anonballot browser cryptography: byte strings.
//
// Helpers shared by every module: strict UTF-8, hex, concatenation, comparison, secure
// random bytes, SHA-256/SHA-384 through WebCrypto, and the integer conversions
// I2OSP / OS2IP of RFC 8017 section 4 on BigInt (big-endian, fixed length).
//
// Byte strings are Uint8Array everywhere. Comparisons here are NOT constant time: they are
// only used on public values (hashes, keys, signatures) in these modules.

import { CryptoError } from "./errors.js";

const encoder = new TextEncoder();
// fatal: invalid UTF-8 throws; ignoreBOM: a leading U+FEFF is kept as a character (and then
// rejected by the JSON parser) instead of being silently dropped.
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when `text` has no lone UTF-16 surrogate (so it is valid Unicode).
 * @param {string} text
 * @returns {boolean}
 */
export function isWellFormed(text) {
  return !LONE_SURROGATE.test(text);
}

/**
 * The UTF-8 bytes of `text`; lone surrogates are an error (TextEncoder would replace them).
 * @param {unknown} text
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function utf8(text) {
  if (typeof text !== "string" || !isWellFormed(text)) {
    throw new CryptoError("text is not valid Unicode (lone surrogate)", "bad_encoding");
  }
  return encoder.encode(text);
}

/**
 * Decode strict UTF-8 (no replacement characters, BOM kept).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function fromUtf8(bytes) {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new CryptoError("not UTF-8", "bad_encoding");
  }
}

/**
 * Require a Uint8Array, optionally of an exact length.
 * @param {unknown} value
 * @param {string} [what]
 * @param {number} [length]
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function checkBytes(value, what = "value", length = undefined) {
  if (!(value instanceof Uint8Array)) {
    throw new CryptoError(`${what}: expected bytes (Uint8Array)`, "invalid_input");
  }
  if (length !== undefined && value.length !== length) {
    throw new CryptoError(`${what}: expected ${length} bytes, found ${value.length}`, "invalid_input");
  }
  return /** @type {Uint8Array<ArrayBuffer>} */ (value); // the pages never share memory
}

/**
 * The bytes of `parts`, one after the other.
 * @param {...Uint8Array<ArrayBuffer>} parts
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Byte-for-byte equality (not constant time: public values only).
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {boolean}
 */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Lowercase hex.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Bytes from hex (either case).
 * @param {unknown} hex
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function fromHex(hex) {
  if (typeof hex !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(hex)) {
    throw new CryptoError("not an even-length hex string", "bad_encoding");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * `n` bytes from the browser's CSPRNG (crypto.getRandomValues, 64 KiB at a time).
 * @param {number} n
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/**
 * @param {BufferSource} data
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

/**
 * @param {BufferSource} data
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function sha384(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-384", data));
}

/**
 * RFC 8017 I2OSP: the `length`-byte big-endian form of the non-negative BigInt `x`.
 * @param {bigint} x
 * @param {number} length
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function i2osp(x, length) {
  if (typeof x !== "bigint" || x < 0n) throw new CryptoError("I2OSP needs a BigInt >= 0", "invalid_input");
  const out = new Uint8Array(length);
  let v = x;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new CryptoError("integer too large", "invalid_input");
  return out;
}

/**
 * RFC 8017 OS2IP: the big-endian bytes as a BigInt.
 * @param {Uint8Array} bytes
 * @returns {bigint}
 */
export function os2ip(bytes) {
  const hex = toHex(bytes);
  return hex.length === 0 ? 0n : BigInt("0x" + hex);
}

/**
 * The number of bits of the BigInt `x >= 0` (0 for 0).
 * @param {bigint} x
 * @returns {number}
 */
export function bitLength(x) {
  return x === 0n ? 0 : x.toString(2).length;
}
