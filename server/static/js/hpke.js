// @ts-check
// anonballot browser cryptography: HPKE, RFC 9180, base mode only (mode_base = 0x00),
// with DHKEM(X25519, HKDF-SHA256) (kem 0x0020), HKDF-SHA256 (kdf 0x0001) and AES-128-GCM
// (aead 0x0001): the suite that seals ballot shares to the trustees (protocol section 6.2).
//
//   LabeledExtract / LabeledExpand     RFC 9180 section 4, HKDF (RFC 5869) on WebCrypto HMAC
//   DeriveKeyPair (X25519)             RFC 9180 section 7.1.3
//   Encap / Decap                      RFC 9180 section 4.1 (WebCrypto X25519 deriveBits)
//   KeySchedule (base mode)            RFC 9180 section 5.1
//   Seal / Open, nonce per sequence    RFC 9180 section 5.2
//   Export                             RFC 9180 section 5.3
//   single-shot seal / open            RFC 9180 section 6.1
//
// Keys are raw 32-byte X25519 strings (RFC 7748), as in the manifest and the releases.
// WebCrypto cannot import a raw X25519 private key, so it is wrapped in its fixed PKCS#8
// header (RFC 8410).

import { CryptoError } from "./errors.js";
import { b64uDecode } from "./b64u.js";
import { checkBytes, concat, i2osp, utf8 } from "./bytes.js";

export const N_SECRET = 32;
export const N_ENC = 32;
export const N_PK = 32;
export const N_SK = 32;
export const N_K = 16; // AES-128-GCM key
export const N_N = 12; // AES-128-GCM nonce
export const N_T = 16; // AES-128-GCM tag
const N_H = 32; // SHA-256

const MODE_BASE = 0x00;
const KEM_SUITE_ID = concat(utf8("KEM"), new Uint8Array([0x00, 0x20]));
const HPKE_SUITE_ID = concat(utf8("HPKE"), new Uint8Array([0x00, 0x20, 0x00, 0x01, 0x00, 0x01]));
const HPKE_V1 = utf8("HPKE-v1");
const EMPTY = new Uint8Array(0);
const X25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

// ------------------------------------------------------------------- HKDF-SHA256 (RFC 5869)

/**
 * @param {Uint8Array<ArrayBuffer>} key
 * @param {Uint8Array<ArrayBuffer>} data
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function hmacSha256(key, data) {
  // WebCrypto refuses an empty HMAC key; HMAC pads keys with zeros to the block size, so
  // an empty key and 32 zero bytes give the same MAC (RFC 5869 2.2 uses the latter).
  const k = await crypto.subtle.importKey("raw", key.length ? key : new Uint8Array(N_H), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

/**
 * @param {Uint8Array<ArrayBuffer>} salt
 * @param {Uint8Array<ArrayBuffer>} ikm
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function extract(salt, ikm) {
  return hmacSha256(salt, ikm);
}

/**
 * @param {Uint8Array<ArrayBuffer>} prk
 * @param {Uint8Array<ArrayBuffer>} info
 * @param {number} length
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function expand(prk, info, length) {
  if (length > 255 * N_H) throw new CryptoError("HKDF-Expand: length too large", "invalid_input");
  const blocks = [];
  let t = EMPTY;
  for (let i = 1; blocks.length * N_H < length; i++) {
    t = await hmacSha256(prk, concat(t, info, new Uint8Array([i])));
    blocks.push(t);
  }
  return concat(...blocks).slice(0, length);
}

/**
 * @param {Uint8Array<ArrayBuffer>} suiteId
 * @param {Uint8Array<ArrayBuffer>} salt
 * @param {string} label
 * @param {Uint8Array<ArrayBuffer>} ikm
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
function labeledExtract(suiteId, salt, label, ikm) {
  return extract(salt, concat(HPKE_V1, suiteId, utf8(label), ikm));
}

/**
 * @param {Uint8Array<ArrayBuffer>} suiteId
 * @param {Uint8Array<ArrayBuffer>} prk
 * @param {string} label
 * @param {Uint8Array<ArrayBuffer>} info
 * @param {number} length
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
function labeledExpand(suiteId, prk, label, info, length) {
  return expand(prk, concat(i2osp(BigInt(length), 2), HPKE_V1, suiteId, utf8(label), info), length);
}

// ------------------------------------------------------------------- X25519 through WebCrypto

/**
 * @param {Uint8Array<ArrayBuffer>} sk
 * @returns {Promise<CryptoKey>}
 */
async function importPrivate(sk) {
  checkBytes(sk, "X25519 private key", N_SK);
  return crypto.subtle.importKey("pkcs8", concat(X25519_PKCS8_PREFIX, sk), { name: "X25519" }, true, ["deriveBits"]);
}

/**
 * @param {Uint8Array<ArrayBuffer>} pk
 * @returns {Promise<CryptoKey>}
 */
async function importPublic(pk) {
  checkBytes(pk, "X25519 public key", N_PK);
  return crypto.subtle.importKey("raw", pk, { name: "X25519" }, true, []);
}

/**
 * @param {CryptoKey} privateKey
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function publicOf(privateKey) {
  // The JWK export of a private OKP key carries its public key `x`.
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  return b64uDecode(jwk.x, N_PK, "X25519 public key");
}

/**
 * The raw X25519 public key of a raw 32-byte private key.
 * @param {Uint8Array<ArrayBuffer>} sk
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function publicKeyOf(sk) {
  return publicOf(await importPrivate(sk));
}

/**
 * @param {CryptoKey} privateKey
 * @param {CryptoKey} publicKey
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function dh(privateKey, publicKey) {
  let shared;
  try {
    shared = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: publicKey }, privateKey, 256));
  } catch {
    throw new CryptoError("X25519 failed (low-order public key?)", "undecryptable");
  }
  // RFC 9180 7.1.4 / RFC 7748 6.1: an all-zero shared secret must be rejected.
  if (shared.every((b) => b === 0)) throw new CryptoError("X25519 produced the all-zero secret", "undecryptable");
  return shared;
}

/**
 * A fresh X25519 key pair: {sk, pk}, raw 32 bytes each.
 * @returns {Promise<{sk: Uint8Array<ArrayBuffer>, pk: Uint8Array<ArrayBuffer>}>}
 */
export async function generateKeyPair() {
  const pair = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const pk = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { sk: pkcs8.slice(X25519_PKCS8_PREFIX.length), pk };
}

/**
 * RFC 9180 7.1.3 DeriveKeyPair for X25519: {sk, pk} from input keying material.
 * @param {Uint8Array<ArrayBuffer>} ikm
 * @returns {Promise<{sk: Uint8Array<ArrayBuffer>, pk: Uint8Array<ArrayBuffer>}>}
 */
export async function deriveKeyPair(ikm) {
  const dkpPrk = await labeledExtract(KEM_SUITE_ID, EMPTY, "dkp_prk", ikm);
  const sk = await labeledExpand(KEM_SUITE_ID, dkpPrk, "sk", EMPTY, N_SK);
  return { sk, pk: await publicKeyOf(sk) };
}

// ------------------------------------------------------------------- DHKEM (RFC 9180 4.1)

/**
 * @param {Uint8Array<ArrayBuffer>} dhValue
 * @param {Uint8Array<ArrayBuffer>} kemContext
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function extractAndExpand(dhValue, kemContext) {
  const eaePrk = await labeledExtract(KEM_SUITE_ID, EMPTY, "eae_prk", dhValue);
  return labeledExpand(KEM_SUITE_ID, eaePrk, "shared_secret", kemContext, N_SECRET);
}

/**
 * @param {Uint8Array<ArrayBuffer>} pkR
 * @param {Uint8Array<ArrayBuffer> | undefined} testOnlySkE
 * @returns {Promise<{sharedSecret: Uint8Array<ArrayBuffer>, enc: Uint8Array<ArrayBuffer>}>}
 */
async function encap(pkR, testOnlySkE) {
  let skE;
  let enc;
  if (testOnlySkE === undefined) {
    const pair = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]));
    skE = pair.privateKey;
    enc = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  } else {
    skE = await importPrivate(testOnlySkE);
    enc = await publicOf(skE);
  }
  const dhValue = await dh(skE, await importPublic(pkR));
  return { sharedSecret: await extractAndExpand(dhValue, concat(enc, pkR)), enc };
}

/**
 * @param {Uint8Array<ArrayBuffer>} enc
 * @param {Uint8Array<ArrayBuffer>} skR
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function decap(enc, skR) {
  checkBytes(enc, "enc", N_ENC);
  const privateKey = await importPrivate(skR);
  const dhValue = await dh(privateKey, await importPublic(enc));
  return extractAndExpand(dhValue, concat(enc, await publicOf(privateKey)));
}

// ------------------------------------------------------------------- key schedule and context

/** An HPKE context (RFC 9180 5.2): seal/open with a per-message nonce, and export. */
class Context {
  /**
   * @param {{key: Uint8Array<ArrayBuffer>, baseNonce: Uint8Array<ArrayBuffer>, exporterSecret: Uint8Array<ArrayBuffer>}} secrets
   */
  constructor({ key, baseNonce, exporterSecret }) {
    this.key = key; // raw 16 bytes
    this.baseNonce = baseNonce;
    this.exporterSecret = exporterSecret;
    this.seq = 0n;
    /** @type {CryptoKey | null} */
    this.aesKey = null;
  }

  /**
   * @returns {Promise<CryptoKey>}
   */
  async aes() {
    this.aesKey ??= await crypto.subtle.importKey("raw", this.key, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    return this.aesKey;
  }

  /**
   * @returns {Uint8Array<ArrayBuffer>}
   */
  nonce() {
    const seqBytes = i2osp(this.seq, N_N);
    return this.baseNonce.map((b, i) => b ^ seqBytes[i]);
  }

  incrementSeq() {
    if (this.seq >= (1n << BigInt(8 * N_N)) - 1n) throw new CryptoError("HPKE message limit reached", "invalid_input");
    this.seq += 1n;
  }

  /**
   * @param {Uint8Array<ArrayBuffer>} aad
   * @param {Uint8Array<ArrayBuffer>} pt
   * @returns {Promise<Uint8Array<ArrayBuffer>>}
   */
  async seal(aad, pt) {
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv: this.nonce(), additionalData: aad, tagLength: 128 }, await this.aes(), pt);
    this.incrementSeq();
    return new Uint8Array(ct);
  }

  /**
   * @param {Uint8Array<ArrayBuffer>} aad
   * @param {Uint8Array<ArrayBuffer>} ct
   * @returns {Promise<Uint8Array<ArrayBuffer>>}
   */
  async open(aad, ct) {
    let pt;
    try {
      pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: this.nonce(), additionalData: aad, tagLength: 128 }, await this.aes(), ct);
    } catch {
      throw new CryptoError("HPKE open failed", "undecryptable");
    }
    this.incrementSeq();
    return new Uint8Array(pt);
  }

  /**
   * @param {Uint8Array<ArrayBuffer>} exporterContext
   * @param {number} length
   * @returns {Promise<Uint8Array<ArrayBuffer>>}
   */
  async export(exporterContext, length) {
    return labeledExpand(HPKE_SUITE_ID, this.exporterSecret, "sec", exporterContext, length);
  }
}

/**
 * @param {Uint8Array<ArrayBuffer>} sharedSecret
 * @param {Uint8Array<ArrayBuffer>} info
 * @returns {Promise<Context>}
 */
async function keyScheduleBase(sharedSecret, info) {
  const pskIdHash = await labeledExtract(HPKE_SUITE_ID, EMPTY, "psk_id_hash", EMPTY);
  const infoHash = await labeledExtract(HPKE_SUITE_ID, EMPTY, "info_hash", info);
  const context = concat(new Uint8Array([MODE_BASE]), pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE_ID, sharedSecret, "secret", EMPTY); // psk = ""
  return new Context({
    key: await labeledExpand(HPKE_SUITE_ID, secret, "key", context, N_K),
    baseNonce: await labeledExpand(HPKE_SUITE_ID, secret, "base_nonce", context, N_N),
    exporterSecret: await labeledExpand(HPKE_SUITE_ID, secret, "exp", context, N_H),
  });
}

/**
 * RFC 9180 SetupBaseS: {enc, ctx} for the recipient public key `pkR` (raw 32 bytes).
 *
 * `testOnlySkE` is a seam for the RFC 9180 test vectors ONLY: a fixed ephemeral private key.
 * Never pass it in production: reusing an ephemeral key breaks the encryption.
 * @param {Uint8Array<ArrayBuffer>} pkR
 * @param {Uint8Array<ArrayBuffer>} info
 * @param {{testOnlySkE?: Uint8Array<ArrayBuffer>}} [options]
 * @returns {Promise<{enc: Uint8Array<ArrayBuffer>, ctx: Context}>}
 */
export async function setupBaseS(pkR, info, { testOnlySkE = undefined } = {}) {
  checkBytes(info, "info");
  const { sharedSecret, enc } = await encap(pkR, testOnlySkE);
  return { enc, ctx: await keyScheduleBase(sharedSecret, info) };
}

/**
 * RFC 9180 SetupBaseR: the receiver's context for `enc` and the raw private key `skR`.
 * @param {Uint8Array<ArrayBuffer>} enc
 * @param {Uint8Array<ArrayBuffer>} skR
 * @param {Uint8Array<ArrayBuffer>} info
 * @returns {Promise<Context>}
 */
export async function setupBaseR(enc, skR, info) {
  checkBytes(info, "info");
  return keyScheduleBase(await decap(enc, skR), info);
}

/**
 * Single-shot base-mode seal (RFC 9180 6.1): {enc, ct}. See setupBaseS for `testOnlySkE`.
 * @param {Uint8Array<ArrayBuffer>} pkR
 * @param {Uint8Array<ArrayBuffer>} info
 * @param {Uint8Array<ArrayBuffer>} aad
 * @param {Uint8Array<ArrayBuffer>} pt
 * @param {{testOnlySkE?: Uint8Array<ArrayBuffer>}} [options]
 * @returns {Promise<{enc: Uint8Array<ArrayBuffer>, ct: Uint8Array<ArrayBuffer>}>}
 */
export async function sealBase(pkR, info, aad, pt, options = {}) {
  const { enc, ctx } = await setupBaseS(pkR, info, options);
  return { enc, ct: await ctx.seal(aad, pt) };
}

/**
 * Single-shot base-mode open (RFC 9180 6.1): the plaintext, or a CryptoError.
 * @param {Uint8Array<ArrayBuffer>} enc
 * @param {Uint8Array<ArrayBuffer>} skR
 * @param {Uint8Array<ArrayBuffer>} info
 * @param {Uint8Array<ArrayBuffer>} aad
 * @param {Uint8Array<ArrayBuffer>} ct
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function openBase(enc, skR, info, aad, ct) {
  const ctx = await setupBaseR(enc, skR, info);
  return ctx.open(aad, ct);
}
