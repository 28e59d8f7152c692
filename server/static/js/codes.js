// @ts-check
// anonballot pages: invitation codes as people type and scan them (protocol section 5.1), as
// anonballot.codes does.
//
// A code is 16 Crockford base32 characters, printed XXXX-XXXX-XXXX-XXXX. Input is
// case-insensitive, ignores "-", spaces and tabs, and maps O to 0 and I, L to 1; anything
// else (any non-ASCII character included, checked before case mapping, which would turn
// "ß" into "SS") is not a code.

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
