// @ts-check
// anonballot pages: invitation codes as people type and scan them (protocol section 5.1), as
// anonballot.codes does.
//
// A code is 16 Crockford base32 characters, printed XXXX-XXXX-XXXX-XXXX. Input is
// case-insensitive, ignores "-", spaces and tabs, and maps O to 0 and I, L to 1; anything
// else (any non-ASCII character included, checked before case mapping, which would turn
// "ß" into "SS") is not a code.
//
// The pseudonym of a code (protocol section 8) is what the issuance ledger lists for a code
// that received a token: computed here, on the device, so that a participant can look their
// code up in the published ledger without sending the code anywhere.

import { b64uEncode } from "./b64u.js";
import { sha256, utf8 } from "./bytes.js";
import { CryptoError } from "./errors.js";

export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const CODE_LENGTH = 16;

/**
 * The 16-character normal form of a typed or scanned code, or null when it is not one.
 * @param {unknown} input
 * @returns {string | null}
 */
export function normalizeCode(input) {
  if (typeof input !== "string" || /[^\x00-\x7f]/.test(input)) return null;
  let out = "";
  for (const ch of input.toUpperCase()) {
    if (ch === "-" || ch === " " || ch === "\t") continue;
    const mapped = ch === "O" ? "0" : ch === "I" || ch === "L" ? "1" : ch;
    if (!ALPHABET.includes(mapped)) return null;
    out += mapped;
  }
  return out.length === CODE_LENGTH ? out : null;
}

/**
 * The printed form of a normalized code: four groups of four, joined by "-".
 * @param {string} code
 * @returns {string}
 */
export function formatCode(code) {
  return (code.match(/.{1,4}/g) ?? []).join("-");
}

/**
 * The issuance ledger's entry for `code` in the round `mid` (protocol section 8), as
 * anonballot.codes.pseudonym does it:
 * b64u(SHA-256("anonballot/v1/pseudonym" || 0x00 || mid || 0x00 || normalized code)).
 * @param {string} mid the round's manifest id (ASCII)
 * @param {string} code a code as typed, or normalized
 * @returns {Promise<string>} 43 characters of base64url
 */
export async function pseudonym(mid, code) {
  const normalized = normalizeCode(code);
  if (normalized === null) throw new CryptoError("not an invitation code", "invalid_input");
  if (typeof mid !== "string" || /[^\x00-\x7f]/.test(mid)) throw new CryptoError("a round's mid is ASCII text", "invalid_input");
  return b64uEncode(await sha256(utf8(`anonballot/v1/pseudonym\0${mid}\0${normalized}`)));
}
