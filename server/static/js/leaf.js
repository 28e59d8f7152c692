// @ts-check
// anonballot browser cryptography: the voter key and the leaf (protocol sections 5.2, 6.3).
//
// The voter key is a one-time Ed25519 key pair (RFC 8032) made with WebCrypto on the
// participant's device; its raw 32-byte public key is the token's msg[32:64]. The leaf is
//   {"v": 1, "round": mid, "ward": w, "token": {msg, sig}, "ballot": {shares, nonce, ct},
//    "voter_sig": b64u(Ed25519(voter key, JCS(leaf without voter_sig)))}
// and its bytes are its JCS (jcs.js). The whole booth flow:
//
//   const round = await openSignedManifest(parse(manifestBytes));          // manifest.js
//   const voter = await generateVoterKey();
//   const request = await createTokenRequest(round.issuerKey(ward), voter.publicKey);
//   ... persist exportVoterSeed(voter), request.prepared, request.inv; send request.blinded
//   const token = await finalizeToken(round.issuerKey(ward), request, blindSig);  // token.js
//   const ballot = validateBallot(makeBallot(ward, answers), round.manifest, ward);
//   const sealed = await seal(jcs(ballot), {mid: round.mid, ward, trustees: round.trustees,
//                                           threshold: round.threshold});       // sealing.js
//   const leaf = await buildLeaf({mid: round.mid, ward, token, sealed, voter});
//   ... POST the leaf, then verifyReceipt(answer, round, leaf)                   // receipt.js

import { CryptoError } from "./errors.js";
import { b64uDecode, b64uEncode } from "./b64u.js";
import { checkBytes, concat, equal } from "./bytes.js";
import { jcs } from "./jcs.js";
import { sealedToJson } from "./sealing.js";
import { tokenToJson, voterKeyOf } from "./token.js";

/** @typedef {{privateKey: CryptoKey, publicKey: Uint8Array<ArrayBuffer>}} VoterKey a one-time Ed25519 voter key */

const ED25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

/**
 * @param {CryptoKey} privateKey
 * @returns {Promise<VoterKey>}
 */
async function withPublicKey(privateKey) {
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  return { privateKey, publicKey: b64uDecode(jwk.x, 32, "Ed25519 public key") };
}

/**
 * A fresh one-time voter key: {privateKey: CryptoKey, publicKey: 32 raw bytes}.
 * @returns {Promise<VoterKey>}
 */
export async function generateVoterKey() {
  // Extractable, because the device must persist the key before asking for a token.
  const pair = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]));
  return withPublicKey(pair.privateKey);
}

/**
 * The 32-byte Ed25519 seed of a voter key, for the device's own storage only.
 * @param {VoterKey} voter
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function exportVoterSeed(voter) {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", voter.privateKey));
  return pkcs8.slice(ED25519_PKCS8_PREFIX.length);
}

/**
 * A voter key from its 32-byte seed.
 * @param {Uint8Array<ArrayBuffer>} seed
 * @returns {Promise<VoterKey>}
 */
export async function importVoterSeed(seed) {
  checkBytes(seed, "Ed25519 seed", 32);
  const privateKey = await crypto.subtle.importKey("pkcs8", concat(ED25519_PKCS8_PREFIX, seed), { name: "Ed25519" }, true, ["sign"]);
  return withPublicKey(privateKey);
}

/** The largest leaf, 65,535 bytes (protocol section 6.3): the largest entry of a tlog-tiles
 * entry bundle (section 6.8), whose length is a uint16. */
export const MAX_LEAF_SIZE = 0xffff;

/**
 * @param {number} size
 * @returns {number} the length of b64u(size bytes), without padding
 */
const b64uLength = (size) => Math.floor((4 * size + 2) / 3);

/**
 * The exact size of the leaf of `ward` that seals a plaintext of `plaintextLength` bytes for
 * `trustees` trustees, with a token signature of `sigLength` bytes: every other value of a
 * leaf has a fixed size and no JCS escape (base64url, identifiers, the integer 1), so the
 * size is known before sealing, as anonballot.leaf.leaf_size computes it.
 * @param {{ward: string, trustees: number, plaintextLength: number, sigLength: number}} sizes
 * @returns {number}
 */
export function leafSize({ ward, trustees, plaintextLength, sigLength }) {
  const template = {
    v: 1,
    round: "A".repeat(43),
    ward,
    token: { msg: "A".repeat(86), sig: "A".repeat(b64uLength(sigLength)) },
    ballot: {
      shares: Array.from({ length: trustees }, () => "A".repeat(b64uLength(114))),
      nonce: "A".repeat(b64uLength(12)),
      ct: "A".repeat(b64uLength(plaintextLength + 16)),
    },
    voter_sig: "A".repeat(86),
  };
  return jcs(template).length;
}

/**
 * The JCS bytes of the leaf, signed with the voter key bound into `token`.
 * @param {{mid: string, ward: string, token: import("./token.js").Token, sealed: import("./sealing.js").Sealed, voter: VoterKey}} parts
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function buildLeaf({ mid, ward, token, sealed, voter }) {
  if (!equal(voterKeyOf(token), voter.publicKey)) throw new CryptoError("the voter key is not the one bound into the token", "invalid_input");
  const unsigned = { v: 1, round: mid, ward, token: tokenToJson(token), ballot: sealedToJson(sealed) };
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, voter.privateKey, jcs(unsigned)));
  const leaf = jcs({ ...unsigned, voter_sig: b64uEncode(signature) });
  if (leaf.length > MAX_LEAF_SIZE) throw new CryptoError(`the leaf is ${leaf.length} bytes, more than the ${MAX_LEAF_SIZE} a leaf may have`, "leaf_too_large");
  return leaf;
}
