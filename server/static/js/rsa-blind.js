// @ts-check
// anonballot browser cryptography: RSA blind signatures, RFC 9474
// RSABSSA-SHA384-PSS-Randomized (protocol section 5.2), client side.
//
//   prepareRandomize  RFC 9474 section 4.1 (32 random bytes || msg)
//   emsaPssEncode     RFC 8017 section 9.1.1, SHA-384, MGF1-SHA-384 (RFC 8017 B.2.1),
//                     emBits = modBits - 1
//   blind             RFC 9474 section 4.2 (random r coprime to n, inv = r^-1 mod n)
//   finalize          RFC 9474 section 4.4 (unblind, then verify)
//   verify            RSASSA-PSS-VERIFY, RFC 8017 sections 8.1.2 and 9.1.2, salt length
//                     EXACTLY 48 (never "auto"), done here in BigInt arithmetic
//   parseIssuerKey    the issuer key: canonical DER SubjectPublicKeyInfo (RFC 5280 4.1,
//                     RFC 8017 A.1.1), 2048 to 4096 bits, e = 65537 (protocol section 3)
//
// SIDE CHANNELS: JavaScript BigInt arithmetic is NOT constant time, and constant time is
// not achievable in JavaScript at all (the engine decides representation, allocation and
// instruction selection). The secrets handled here are the blinding factor r and its
// inverse inv, which link a token to its issuance; an attacker who can time this code on
// the participant's own phone could learn them. Only the public exponent e is ever used
// as an exponent here, so there is no private-key exponentiation to attack.

import { CryptoError } from "./errors.js";
import { bitLength, checkBytes, concat, equal, i2osp, os2ip, randomBytes, sha384 } from "./bytes.js";

/** @typedef {{n: bigint, e: bigint, modBits: number, k: number, der: Uint8Array<ArrayBuffer>}} IssuerKey an RSA public key */

export const SALT_LENGTH = 48; // sLen of RSABSSA-SHA384-PSS-*
export const HASH_LENGTH = 48; // hLen of SHA-384
export const PREFIX_LENGTH = 32; // PrepareRandomize prefix
export const PUBLIC_EXPONENT = 65537n;
export const MIN_MODULUS_BITS = 2048;
export const MAX_MODULUS_BITS = 4096;

// ------------------------------------------------------------------- BigInt arithmetic

/**
 * base^exp mod m (square and multiply; not constant time).
 * @param {bigint} base
 * @param {bigint} exp
 * @param {bigint} m
 * @returns {bigint}
 */
export function modPow(base, exp, m) {
  let result = 1n;
  let b = ((base % m) + m) % m;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

/**
 * @param {bigint} a
 * @param {bigint} b
 * @returns {bigint}
 */
export function gcd(a, b) {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y) [x, y] = [y, x % y];
  return x;
}

/**
 * a^-1 mod m (extended Euclid); throws when a is not invertible.
 * @param {bigint} a
 * @param {bigint} m
 * @returns {bigint}
 */
export function modInverse(a, m) {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new CryptoError("not invertible modulo n", "invalid_input");
  return ((oldS % m) + m) % m;
}

/**
 * A uniform BigInt in [1, n) from the CSPRNG (rejection sampling on bit length).
 * @param {bigint} n
 * @returns {bigint}
 */
function randomBelow(n) {
  const bits = bitLength(n);
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    const v = os2ip(randomBytes(Math.ceil(bits / 8))) & mask;
    if (v >= 1n && v < n) return v;
  }
}

// ------------------------------------------------------------------- the issuer key (DER)

const RSA_ALGORITHM_ID = new Uint8Array([
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
]); // SEQUENCE { OID 1.2.840.113549.1.1.1 rsaEncryption, NULL }

/**
 * @param {number} n
 * @returns {Uint8Array<ArrayBuffer>}
 */
function derLength(n) {
  if (n < 0x80) return new Uint8Array([n]);
  const bytes = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return new Uint8Array([0x80 | bytes.length, ...bytes]);
}

/**
 * @param {number} tag
 * @param {Uint8Array<ArrayBuffer>} body
 * @returns {Uint8Array<ArrayBuffer>}
 */
function tlv(tag, body) {
  return concat(new Uint8Array([tag]), derLength(body.length), body);
}

/**
 * @param {bigint} x
 * @returns {Uint8Array<ArrayBuffer>}
 */
function derInteger(x) {
  let body = i2osp(x, Math.max(1, Math.ceil(bitLength(x) / 8)));
  if (body[0] & 0x80) body = concat(new Uint8Array([0]), body);
  return tlv(0x02, body);
}

/**
 * The DER SubjectPublicKeyInfo of the RSA public key (n, e).
 * @param {bigint} n
 * @param {bigint} e
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function encodeSpki(n, e) {
  const rsaPublicKey = tlv(0x30, concat(derInteger(n), derInteger(e)));
  return tlv(0x30, concat(RSA_ALGORITHM_ID, tlv(0x03, concat(new Uint8Array([0]), rsaPublicKey))));
}

/**
 * Read one DER TLV at `offset`: {tag, body, next}; lengths must be definite.
 * @param {Uint8Array<ArrayBuffer>} der
 * @param {number} offset
 * @returns {{tag: number, body: Uint8Array<ArrayBuffer>, next: number}}
 */
function readTlv(der, offset) {
  if (offset + 2 > der.length) throw new CryptoError("issuer key: truncated DER", "bad_encoding");
  const tag = der[offset];
  let len = der[offset + 1];
  let pos = offset + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 3 || pos + count > der.length) throw new CryptoError("issuer key: bad DER length", "bad_encoding");
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + der[pos + i];
    pos += count;
  }
  if (pos + len > der.length) throw new CryptoError("issuer key: truncated DER", "bad_encoding");
  return { tag, body: der.subarray(pos, pos + len), next: pos + len };
}

/**
 * @param {Uint8Array<ArrayBuffer>} der
 * @param {number} offset
 * @param {number} tag
 * @param {string} what
 */
function expectTlv(der, offset, tag, what) {
  const t = readTlv(der, offset);
  if (t.tag !== tag) throw new CryptoError(`issuer key: expected ${what}`, "bad_encoding");
  return t;
}

/**
 * An RSA public key object from its numbers: {n, e, modBits, k, der}.
 * @param {bigint} n
 * @param {bigint} e
 * @returns {IssuerKey}
 */
export function publicKeyFromNumbers(n, e) {
  const modBits = bitLength(n);
  return { n, e, modBits, k: Math.ceil(modBits / 8), der: encodeSpki(n, e) };
}

/**
 * Parse a protocol issuer key: canonical DER SubjectPublicKeyInfo of an RSA key (re-encoding
 * gives the same bytes), modulus of 2048 to 4096 bits, e = 65537. Returns {n, e, modBits, k, der}.
 * @param {Uint8Array<ArrayBuffer>} der
 * @returns {IssuerKey}
 */
export function parseIssuerKey(der) {
  checkBytes(der, "issuer key");
  const spki = expectTlv(der, 0, 0x30, "a SEQUENCE");
  if (spki.next !== der.length) throw new CryptoError("issuer key: trailing data", "bad_encoding");
  const alg = expectTlv(spki.body, 0, 0x30, "an AlgorithmIdentifier");
  const bits = expectTlv(spki.body, alg.next, 0x03, "a BIT STRING");
  if (bits.body[0] !== 0) throw new CryptoError("issuer key: BIT STRING with unused bits", "bad_encoding");
  const rsaKey = expectTlv(bits.body, 1, 0x30, "an RSAPublicKey SEQUENCE");
  const nTlv = expectTlv(rsaKey.body, 0, 0x02, "the modulus INTEGER");
  const eTlv = expectTlv(rsaKey.body, nTlv.next, 0x02, "the exponent INTEGER");
  const key = publicKeyFromNumbers(os2ip(nTlv.body), os2ip(eTlv.body));
  // Canonical form: re-encoding the numbers gives back exactly the input (this also rejects
  // other algorithms, parameters, negative or padded integers and trailing data).
  if (!equal(key.der, der)) throw new CryptoError("issuer key: not a canonical DER RSA SubjectPublicKeyInfo", "bad_encoding");
  if (key.modBits < MIN_MODULUS_BITS || key.modBits > MAX_MODULUS_BITS) {
    throw new CryptoError(`issuer key: the modulus is ${key.modBits} bits, expected 2048 to 4096`, "bad_encoding");
  }
  if (key.e !== PUBLIC_EXPONENT) throw new CryptoError("issuer key: the public exponent must be 65537", "bad_encoding");
  return key;
}

// ------------------------------------------------------------------- EMSA-PSS

/**
 * MGF1 with SHA-384 (RFC 8017 B.2.1): `length` bytes of mask from `seed`.
 * @param {Uint8Array<ArrayBuffer>} seed
 * @param {number} length
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function mgf1Sha384(seed, length) {
  const blocks = [];
  for (let counter = 0; blocks.length * HASH_LENGTH < length; counter++) {
    blocks.push(await sha384(concat(seed, i2osp(BigInt(counter), 4))));
  }
  return concat(...blocks).slice(0, length);
}

/**
 * EMSA-PSS-ENCODE (RFC 8017 9.1.1) with SHA-384; the salt length is salt.length.
 * @param {Uint8Array<ArrayBuffer>} msg
 * @param {number} emBits
 * @param {Uint8Array<ArrayBuffer>} salt
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function emsaPssEncode(msg, emBits, salt) {
  const emLen = Math.ceil(emBits / 8);
  if (emLen < HASH_LENGTH + salt.length + 2) throw new CryptoError("encoding error: modulus too small", "invalid_input");
  const mHash = await sha384(msg);
  const h = await sha384(concat(new Uint8Array(8), mHash, salt));
  const db = concat(new Uint8Array(emLen - salt.length - HASH_LENGTH - 2), new Uint8Array([1]), salt);
  const mask = await mgf1Sha384(h, emLen - HASH_LENGTH - 1);
  const maskedDb = db.map((b, i) => b ^ mask[i]);
  maskedDb[0] &= 0xff >> (8 * emLen - emBits);
  return concat(maskedDb, h, new Uint8Array([0xbc]));
}

/**
 * EMSA-PSS-VERIFY (RFC 8017 9.1.2) with SHA-384 and a salt of exactly SALT_LENGTH bytes.
 * @param {Uint8Array<ArrayBuffer>} msg
 * @param {Uint8Array<ArrayBuffer>} em
 * @param {number} emBits
 * @returns {Promise<boolean>}
 */
async function emsaPssVerify(msg, em, emBits) {
  const emLen = Math.ceil(emBits / 8);
  const sLen = SALT_LENGTH;
  if (em.length !== emLen || emLen < HASH_LENGTH + sLen + 2) return false;
  if (em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.slice(0, emLen - HASH_LENGTH - 1);
  const h = em.slice(emLen - HASH_LENGTH - 1, emLen - 1);
  const topBits = 8 * emLen - emBits;
  if (maskedDb[0] & ~(0xff >> topBits) & 0xff) return false;
  const mask = await mgf1Sha384(h, maskedDb.length);
  const db = maskedDb.map((b, i) => b ^ mask[i]);
  db[0] &= 0xff >> topBits;
  const psLen = emLen - HASH_LENGTH - sLen - 2;
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false;
  if (db[psLen] !== 0x01) return false;
  const salt = db.slice(db.length - sLen);
  const expected = await sha384(concat(new Uint8Array(8), await sha384(msg), salt));
  return equal(h, expected);
}

// ------------------------------------------------------------------- RFC 9474 client

/**
 * RFC 9474 PrepareRandomize: 32 random bytes || msg (`prefix` is for test vectors only).
 * @param {Uint8Array<ArrayBuffer>} msg
 * @param {Uint8Array<ArrayBuffer>} [prefix]
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function prepareRandomize(msg, prefix = undefined) {
  checkBytes(msg, "message");
  const p = prefix === undefined ? randomBytes(PREFIX_LENGTH) : checkBytes(prefix, "prefix", PREFIX_LENGTH);
  return concat(p, msg);
}

/**
 * RFC 9474 Blind: returns {blinded, inv}, both k bytes. `inv` is the client's secret and
 * must be persisted before `blinded` is sent. `salt` (48 bytes) and `r` (a BigInt in [1, n)
 * coprime with n) are for test vectors only; by default both are fresh and random.
 * @param {IssuerKey} pk
 * @param {Uint8Array<ArrayBuffer>} prepared
 * @param {{salt?: Uint8Array<ArrayBuffer>, r?: bigint}} [options]
 * @returns {Promise<{blinded: Uint8Array<ArrayBuffer>, inv: Uint8Array<ArrayBuffer>}>}
 */
export async function blind(pk, prepared, { salt = undefined, r = undefined } = {}) {
  checkBytes(prepared, "prepared message");
  const s = salt === undefined ? randomBytes(SALT_LENGTH) : checkBytes(salt, "salt", SALT_LENGTH);
  const encoded = await emsaPssEncode(prepared, pk.modBits - 1, s);
  const m = os2ip(encoded);
  if (gcd(m, pk.n) !== 1n) throw new CryptoError("invalid input: the encoded message is not coprime with n", "invalid_input");
  let blindFactor = r;
  if (blindFactor === undefined) {
    do blindFactor = randomBelow(pk.n);
    while (gcd(blindFactor, pk.n) !== 1n);
  } else if (typeof blindFactor !== "bigint" || blindFactor < 1n || blindFactor >= pk.n) {
    throw new CryptoError("the blinding factor r must be a BigInt in [1, n)", "invalid_input");
  }
  const inv = modInverse(blindFactor, pk.n); // throws unless gcd(r, n) = 1
  const z = (m * modPow(blindFactor, pk.e, pk.n)) % pk.n;
  return { blinded: i2osp(z, pk.k), inv: i2osp(inv, pk.k) };
}

/**
 * RSASSA-PSS-VERIFY of `msg` (the prepared message) with SHA-384, salt 48; true or false.
 * @param {IssuerKey} pk
 * @param {Uint8Array<ArrayBuffer>} msg
 * @param {unknown} sig
 * @returns {Promise<boolean>}
 */
export async function verify(pk, msg, sig) {
  if (!(sig instanceof Uint8Array) || sig.length !== pk.k) return false;
  const s = os2ip(sig);
  if (s >= pk.n) return false;
  const m = modPow(s, pk.e, pk.n);
  const emBits = pk.modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (m >= 1n << BigInt(8 * emLen)) return false; // I2OSP(m, emLen) would fail
  return emsaPssVerify(msg, i2osp(m, emLen), emBits);
}

/**
 * RFC 9474 Finalize: unblind `blindSig` with `inv`, verify, return the k-byte signature.
 * @param {IssuerKey} pk
 * @param {Uint8Array<ArrayBuffer>} prepared
 * @param {unknown} blindSig
 * @param {Uint8Array<ArrayBuffer>} inv
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function finalize(pk, prepared, blindSig, inv) {
  if (!(blindSig instanceof Uint8Array) || blindSig.length !== pk.k) {
    throw new CryptoError(`the blind signature must be exactly ${pk.k} bytes`, "bad_token");
  }
  checkBytes(inv, "inv", pk.k);
  const z = os2ip(blindSig);
  if (z >= pk.n) throw new CryptoError("the blind signature is not less than the modulus", "bad_token");
  const rInv = os2ip(inv);
  if (rInv < 1n || rInv >= pk.n) throw new CryptoError("the unblinding value is not in [1, n)", "invalid_input");
  const sig = i2osp((z * rInv) % pk.n, pk.k);
  if (!(await verify(pk, prepared, sig))) throw new CryptoError("the RSA blind signature does not verify", "bad_token");
  return sig;
}
