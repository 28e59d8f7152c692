// @ts-check
// anonballot browser cryptography: the board's Merkle tree, RFC 9162 (protocol section 6.5).
//
//   leaf hash  = SHA-256(0x00 || leaf bytes)                  RFC 9162 section 2.1.1
//   node hash  = SHA-256(0x01 || left || right)
//   MTH        the root of a list of leaf hashes             RFC 9162 section 2.1.1
//   rootAndInclusion  MTH and PATH(m, D[n])                  RFC 9162 sections 2.1.1, 2.1.3.1
//   verifyInclusion                                          RFC 9162 section 2.1.3.2
//   verifyConsistency                                        RFC 9162 section 2.1.4.2
//
// Indices and tree sizes may be Numbers (safe integers) or BigInts; they are BigInts inside,
// because checkpoint sizes go up to 2^64 - 1 and JavaScript's bit operators are 32-bit.
// Verifiers throw a CryptoError with code "invalid_proof" on any failure.

import { CryptoError } from "./errors.js";
import { concat, equal, sha256 } from "./bytes.js";

export const HASH_SIZE = 32;

/**
 * @param {string} message
 * @returns {never}
 */
function invalid(message) {
  throw new CryptoError(message, "bad_proof");
}

/**
 * @param {Uint8Array<ArrayBuffer>} data
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export function leafHash(data) {
  return sha256(concat(new Uint8Array([0]), data));
}

/**
 * @param {Uint8Array<ArrayBuffer>} left
 * @param {Uint8Array<ArrayBuffer>} right
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export function nodeHash(left, right) {
  return sha256(concat(new Uint8Array([1]), left, right));
}

/**
 * MTH over leaf hashes, straight from the recursive definition.
 * @param {Uint8Array<ArrayBuffer>[]} leafHashes
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function rootOf(leafHashes) {
  const n = leafHashes.length;
  if (n === 0) return sha256(new Uint8Array(0));
  if (n === 1) return leafHashes[0];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return nodeHash(await rootOf(leafHashes.slice(0, k)), await rootOf(leafHashes.slice(k)));
}

/**
 * MTH of `n` leaf hashes packed in one buffer (hash i at bytes 32 i to 32 i + 31), and, for
 * `index`, the inclusion proof PATH(index, D[0:n]) (RFC 9162 section 2.1.3.1), leaf side
 * first, as `verifyInclusion` reads it. Built level by level: each level pairs its nodes
 * left to right and carries an odd last node up unchanged, which is the same tree as the
 * recursive definition (its left subtrees are the largest powers of two). The proof is the
 * sibling of the leaf's ancestor on every level that has one. Memory: the leaves' buffer and
 * about half of it more.
 * @param {Uint8Array<ArrayBuffer>} packed
 * @param {number} [index] a leaf index, or none (the proof is then empty)
 * @returns {Promise<{root: Uint8Array<ArrayBuffer>, proof: Uint8Array<ArrayBuffer>[]}>}
 */
export async function rootAndInclusion(packed, index = undefined) {
  if (!(packed instanceof Uint8Array) || packed.length % HASH_SIZE) invalid(`the leaf hashes are not a multiple of ${HASH_SIZE} bytes`);
  const size = packed.length / HASH_SIZE;
  if (index !== undefined && !(Number.isSafeInteger(index) && index >= 0 && index < size)) invalid(`leaf index ${index} is out of range for tree size ${size}`);
  if (size === 0) return { root: await sha256(new Uint8Array(0)), proof: [] };
  /** @type {Uint8Array<ArrayBuffer>[]} */
  const proof = [];
  const node = (/** @type {Uint8Array<ArrayBuffer>} */ level, /** @type {number} */ i) => level.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  let level = packed;
  let width = size;
  let at = index ?? -1;
  const CHUNK = 2048; // hashes asked of WebCrypto at once
  while (width > 1) {
    if (at >= 0) {
      const sibling = at ^ 1;
      if (sibling < width) proof.push(node(level, sibling));
      at >>= 1;
    }
    const pairs = width >> 1;
    const up = new Uint8Array(((width + 1) >> 1) * HASH_SIZE);
    for (let start = 0; start < pairs; start += CHUNK) {
      const end = Math.min(pairs, start + CHUNK);
      const hashes = [];
      for (let j = start; j < end; j++) hashes.push(nodeHash(node(level, 2 * j), node(level, 2 * j + 1)));
      (await Promise.all(hashes)).forEach((hash, k) => up.set(hash, (start + k) * HASH_SIZE));
    }
    if (width & 1) up.set(node(level, width - 1), pairs * HASH_SIZE); // carried up
    level = up;
    width = (width + 1) >> 1;
  }
  return { root: node(level, 0), proof };
}

/**
 * @param {unknown} value
 * @param {string} what
 * @returns {bigint}
 */
function count(value, what) {
  if (typeof value === "bigint" && value >= 0n) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return invalid(`${what} must be a non-negative integer`);
}

/**
 * @param {unknown} value
 * @returns {value is Uint8Array<ArrayBuffer>}
 */
function isHash(value) {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

/**
 * @param {unknown} proof
 * @returns {Uint8Array<ArrayBuffer>[]}
 */
function checkProof(proof) {
  if (!Array.isArray(proof)) invalid("a proof is a list of hashes");
  proof.forEach((p, i) => isHash(p) || invalid(`proof element ${i} is not a ${HASH_SIZE}-byte hash`));
  return [...proof];
}

/**
 * Check that `leaf` (a leaf hash) is leaf `index` of the `size`-leaf tree with `root`.
 * @param {Uint8Array<ArrayBuffer>} leaf
 * @param {number | bigint} index
 * @param {number | bigint} size
 * @param {unknown} proof
 * @param {Uint8Array<ArrayBuffer>} root
 * @returns {Promise<void>}
 */
export async function verifyInclusion(leaf, index, size, proof, root) {
  const idx = count(index, "leaf index");
  const sz = count(size, "tree size");
  if (idx >= sz) invalid(`leaf index ${idx} is out of range for tree size ${sz}`);
  if (!isHash(leaf)) invalid("the leaf hash is not 32 bytes");
  if (!isHash(root)) invalid("the root is not 32 bytes");
  const path = checkProof(proof);
  let fn = idx;
  let sn = sz - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) invalid("inclusion proof is too long");
    if (fn & 1n || fn === sn) {
      r = await nodeHash(p, r);
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) invalid("inclusion proof is too short");
  if (!equal(r, root)) invalid("inclusion proof does not lead to the root");
}

/**
 * Check that the `oldSize` tree with `oldRoot` is a prefix of the `newSize` tree with
 * `newRoot`. `oldSize` must be at least 1. For equal sizes the proof must be empty and the
 * roots equal byte for byte, without a length check (as the transparency-dev vectors expect,
 * see protocol section 10 item 21).
 * @param {number | bigint} oldSize
 * @param {number | bigint} newSize
 * @param {unknown} proof
 * @param {Uint8Array<ArrayBuffer>} oldRoot
 * @param {Uint8Array<ArrayBuffer>} newRoot
 * @returns {Promise<void>}
 */
export async function verifyConsistency(oldSize, newSize, proof, oldRoot, newRoot) {
  const m = count(oldSize, "old tree size");
  const n = count(newSize, "new tree size");
  if (m === 0n) invalid("a consistency proof from the empty tree is meaningless");
  if (m > n) invalid(`old tree size ${m} is larger than new size ${n}`);
  const path = checkProof(proof);
  if (m === n) {
    if (path.length) invalid("a consistency proof between equal sizes must be empty");
    if (!(oldRoot instanceof Uint8Array && newRoot instanceof Uint8Array && equal(oldRoot, newRoot))) invalid("equal tree sizes with different roots");
    return;
  }
  if (!path.length) invalid("consistency proof is empty");
  if (!isHash(oldRoot)) invalid("the old root is not 32 bytes");
  if (!isHash(newRoot)) invalid("the new root is not 32 bytes");
  if ((m & (m - 1n)) === 0n) path.unshift(oldRoot); // m is a power of two
  let fn = m - 1n;
  let sn = n - 1n;
  while (fn & 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) invalid("consistency proof is too long");
    if (fn & 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) invalid("consistency proof is too short");
  if (!equal(fr, oldRoot)) invalid("consistency proof does not lead to the old root");
  if (!equal(sr, newRoot)) invalid("consistency proof does not lead to the new root");
}
