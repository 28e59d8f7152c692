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

export const TOKEN_MSG_LENGTH = 64;

/** {prepared, blinded, inv} for the parsed issuer key and the raw voter public key. */
export async function createTokenRequest(issuerKey, voterPublicKey) {
  checkBytes(voterPublicKey, "voter public key", 32);
  const prepared = prepareRandomize(voterPublicKey);
  const { blinded, inv } = await blind(issuerKey, prepared);
  return { prepared, blinded, inv };
}

/** Unblind the issuer's answer and verify it: the token {msg, sig} (raw bytes). */
export async function finalizeToken(issuerKey, request, blindSig) {
  const sig = await finalize(issuerKey, request.prepared, blindSig, request.inv);
  return { msg: request.prepared, sig };
}

/** Throw unless `token` ({msg, sig} bytes) is signed by the issuer key (section 5.3). */
export async function verifyToken(issuerKey, token) {
  checkBytes(token.msg, "token msg", TOKEN_MSG_LENGTH);
  if (!(await verify(issuerKey, token.msg, token.sig))) throw new CryptoError("the token does not verify", "invalid_token");
}

/** The voter key bound into a token: msg[32:64]. */
export function voterKeyOf(token) {
  return checkBytes(token.msg, "token msg", TOKEN_MSG_LENGTH).slice(32, 64);
}

export function tokenToJson(token) {
  return { msg: b64uEncode(token.msg), sig: b64uEncode(token.sig) };
}

export function tokenFromJson(value) {
  return { msg: b64uDecode(value.msg, TOKEN_MSG_LENGTH, "token msg"), sig: b64uDecode(value.sig, undefined, "token sig") };
}
