// @ts-check
// anonballot browser cryptography: the eligibility token (protocol sections 5.2 and 5.3).
//
// msg = PrepareRandomize(voter public key) = 32 random bytes || the 32-byte raw Ed25519
// voter public key; the token is {"msg": b64u(msg), "sig": b64u(sig)} where sig is an RFC
// 9474 RSABSSA-SHA384-PSS-Randomized signature of msg under the ward's issuer key.
//
//   const request = await createTokenRequest(issuerKey, voterPublicKey);
//   // persist the voter key, request.prepared and request.inv BEFORE sending request.blinded
//   const token = await finalizeToken(issuerKey, request, blindSig);

import { CryptoError } from "./errors.js";
import { b64uDecode, b64uEncode } from "./b64u.js";
import { checkBytes } from "./bytes.js";
import { blind, finalize, prepareRandomize, verify } from "./rsa-blind.js";

/**
 * @typedef {import("./rsa-blind.js").IssuerKey} IssuerKey
 * @typedef {{msg: Uint8Array<ArrayBuffer>, sig: Uint8Array<ArrayBuffer>}} Token the eligibility token, raw bytes
 * @typedef {{prepared: Uint8Array<ArrayBuffer>, blinded: Uint8Array<ArrayBuffer>, inv: Uint8Array<ArrayBuffer>}} TokenRequest
 */

export const TOKEN_MSG_LENGTH = 64;

/**
 * {prepared, blinded, inv} for the parsed issuer key and the raw voter public key.
 * @param {IssuerKey} issuerKey
 * @param {Uint8Array<ArrayBuffer>} voterPublicKey
 * @returns {Promise<TokenRequest>}
 */
export async function createTokenRequest(issuerKey, voterPublicKey) {
  checkBytes(voterPublicKey, "voter public key", 32);
  const prepared = prepareRandomize(voterPublicKey);
  const { blinded, inv } = await blind(issuerKey, prepared);
  return { prepared, blinded, inv };
}

/**
 * Unblind the issuer's answer and verify it: the token {msg, sig} (raw bytes).
 * @param {IssuerKey} issuerKey
 * @param {{prepared: Uint8Array<ArrayBuffer>, inv: Uint8Array<ArrayBuffer>}} request
 * @param {Uint8Array<ArrayBuffer>} blindSig
 * @returns {Promise<Token>}
 */
export async function finalizeToken(issuerKey, request, blindSig) {
  const sig = await finalize(issuerKey, request.prepared, blindSig, request.inv);
  return { msg: request.prepared, sig };
}

/**
 * Throw unless `token` ({msg, sig} bytes) is signed by the issuer key (section 5.3).
 * @param {IssuerKey} issuerKey
 * @param {Token} token
 */
export async function verifyToken(issuerKey, token) {
  checkBytes(token.msg, "token msg", TOKEN_MSG_LENGTH);
  if (!(await verify(issuerKey, token.msg, token.sig))) throw new CryptoError("the token does not verify", "bad_token");
}

/**
 * The voter key bound into a token: msg[32:64].
 * @param {Token} token
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function voterKeyOf(token) {
  return checkBytes(token.msg, "token msg", TOKEN_MSG_LENGTH).slice(32, 64);
}

/**
 * The token as the leaf and the device store it: {msg, sig} in base64url.
 * @param {Token} token
 * @returns {{msg: string, sig: string}}
 */
export function tokenToJson(token) {
  return { msg: b64uEncode(token.msg), sig: b64uEncode(token.sig) };
}

/**
 * @param {{msg: unknown, sig: unknown}} value
 * @returns {Token}
 */
export function tokenFromJson(value) {
  return { msg: b64uDecode(value.msg, TOKEN_MSG_LENGTH, "token msg"), sig: b64uDecode(value.sig, undefined, "token sig") };
}
