// @ts-check
// anonballot browser cryptography: Shamir secret sharing over GF(p), p = 2^521 - 1
// (protocol sections 6.2 step 3 and 7.3 step 2), in BigInt.
//
// The secret s is the constant term of a random polynomial f of degree threshold - 1; share
// i (1-based, the trustee's manifest position) is f(i), written as 66 big-endian bytes. Any
// `threshold` shares give f back by Lagrange interpolation; fewer reveal nothing about s.
// This module is raw arithmetic: sealing.js decides what is shared and how it is drawn.
// BigInt arithmetic is not constant time (see rsa-blind.js).

import { CryptoError } from "./errors.js";
import { bitLength, checkBytes, i2osp, os2ip, randomBytes } from "./bytes.js";

export const PRIME = (1n << 521n) - 1n;
export const SHARE_BYTES = 66;

/**
 * @param {bigint} x
 */
const mod = (x) => ((x % PRIME) + PRIME) % PRIME;

/**
 * @param {bigint} a
 * @returns {bigint}
 */
function inverse(a) {
  // p is prime: a^(p-2) = a^-1 (Fermat).
  let result = 1n;
  let b = mod(a);
  for (let e = PRIME - 2n; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % PRIME;
    b = (b * b) % PRIME;
  }
  return result;
}

/**
 * f(x) mod p for f = coefficients[0] + coefficients[1] x + ... (Horner).
 * @param {bigint[]} coefficients
 * @param {bigint | number} x
 * @returns {bigint}
 */
export function evaluate(coefficients, x) {
  let acc = 0n;
  for (let i = coefficients.length - 1; i >= 0; i--) acc = (acc * BigInt(x) + coefficients[i]) % PRIME;
  return acc;
}

/**
 * A uniform `randbelow(n)` from a byte source `rng(count) -> Uint8Array`, by rejection
 * sampling on the bit length: the same draws as anonballot.sealing._randbelow_from.
 * @param {(n: number) => Uint8Array<ArrayBuffer>} rng
 * @returns {(n: bigint) => bigint}
 */
export function randbelowFrom(rng) {
  return (n) => {
    const bits = bitLength(n);
    const size = Math.ceil(bits / 8);
    const mask = (1n << BigInt(bits)) - 1n;
    for (;;) {
      const value = os2ip(checkBytes(rng(size), "rng output", size)) & mask;
      if (value < n) return value;
    }
  };
}

/**
 * Split `secret` (a BigInt in [0, p)) into `count` shares, any `threshold` of which recover it.
 * Returns [f(1), ..., f(count)]; the threshold - 1 random coefficients are randbelow(p) each,
 * drawn in order of degree.
 * @param {bigint} secret
 * @param {number} threshold
 * @param {number} count
 * @param {(n: bigint) => bigint} [randbelow]
 * @returns {bigint[]}
 */
export function split(secret, threshold, count, randbelow = randbelowFrom(randomBytes)) {
  if (typeof secret !== "bigint" || secret < 0n || secret >= PRIME) throw new CryptoError("a Shamir secret must be in [0, p)", "invalid_input");
  if (!Number.isInteger(threshold) || !Number.isInteger(count) || threshold < 1 || threshold > count) {
    throw new CryptoError(`need 1 <= threshold <= count, got ${threshold} of ${count}`, "invalid_input");
  }
  const coefficients = [secret];
  for (let i = 1; i < threshold; i++) coefficients.push(randbelow(PRIME));
  const shares = [];
  for (let x = 1; x <= count; x++) shares.push(evaluate(coefficients, x));
  return shares;
}

/**
 * f(x) for the polynomial of least degree through `points` ([[x, y], ...], x >= 1 distinct).
 * @param {[number | bigint, bigint][]} points
 * @param {number | bigint} [x]
 * @returns {bigint}
 */
export function interpolateAt(points, x = 0) {
  if (points.length === 0) throw new CryptoError("interpolation needs at least one point", "invalid_input");
  const xs = points.map(([xi]) => BigInt(xi));
  if (new Set(xs.map(String)).size !== xs.length) throw new CryptoError("interpolation nodes must be distinct", "invalid_input");
  for (const [xi, yi] of points) {
    if (BigInt(xi) < 1n || BigInt(xi) >= PRIME) throw new CryptoError("interpolation node not in [1, p)", "invalid_input");
    if (yi < 0n || yi >= PRIME) throw new CryptoError("a share value must be in [0, p)", "invalid_input");
  }
  const at = BigInt(x);
  let sum = 0n;
  points.forEach(([, yj], j) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((xm, m) => {
      if (m !== j) {
        num = mod(num * (at - xm));
        den = mod(den * (xs[j] - xm));
      }
    });
    sum = (sum + yj * num * inverse(den)) % PRIME;
  });
  return sum;
}

/**
 * The 66-byte big-endian form of a share value in [0, p).
 * @param {bigint} value
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function shareToBytes(value) {
  if (value < 0n || value >= PRIME) throw new CryptoError("a share value must be in [0, p)", "invalid_input");
  return i2osp(value, SHARE_BYTES);
}

/**
 * Parse a 66-byte share; other sizes and values >= p are errors.
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @returns {bigint}
 */
export function shareFromBytes(bytes) {
  checkBytes(bytes, "share", SHARE_BYTES);
  const value = os2ip(bytes);
  if (value >= PRIME) throw new CryptoError("a share value must be below 2^521 - 1", "invalid_input");
  return value;
}
