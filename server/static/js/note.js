// @ts-check
// anonballot browser cryptography: C2SP signed notes with Ed25519
// (https://c2sp.org/signed-note; protocol section 6.6).
//
// A signed note is its text (ending in "\n"), one empty line, and signature lines
//   "— <key name> <base64(key ID || signature)>\n"     (U+2014 EM DASH, space)
// For Ed25519 (signature type 0x01):
//   key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4]
// Opening is strict, like anonballot.hazmat.note.open_note: UTF-8 text, no control
// characters but newline, at most 1 MiB and 100 signatures, every signature line well formed
// (standard canonical base64), at least one signature by the expected key (name AND key ID),
// and every such signature must verify. Lines of other keys (witnesses) are ignored.
// Signatures are verified with WebCrypto Ed25519 (RFC 8032).

import { CryptoError } from "./errors.js";
import { b64stdDecode, b64stdEncode } from "./b64u.js";
import { checkBytes, concat, equal, sha256, toHex, utf8 } from "./bytes.js";

export const ED25519_TYPE = 0x01;
export const MAX_NOTE_SIZE = 1 << 20;
export const MAX_SIGNATURES = 100;

const SIG_PREFIX = "\u2014 ";
const CONTROL = /[\x00-\x09\x0b-\x1f]/;
// Unicode White_Space (the 25 code points of protocol section 7.4) plus the C0 separators
// U+001C..U+001F: together exactly what Python's str.isspace() matches.
const SPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/**
 * @param {string} message
 * @returns {never}
 */
function malformed(message) {
  throw new CryptoError(message, "bad_encoding");
}

/**
 * Require a signed-note key name: non-empty, no white space, no "+", no control characters.
 * @param {unknown} name
 * @returns {string}
 */
export function checkKeyName(name) {
  if (typeof name !== "string" || !name || name.includes("+") || SPACE.test(name) || CONTROL.test(name)) {
    malformed(`${JSON.stringify(name)} is not a signed-note key name`);
  }
  utf8(name); // rejects lone surrogates
  return name;
}

/**
 * The 4-byte key ID of an Ed25519 key: SHA-256(name || "\n" || 0x01 || public key)[:4].
 * @param {string} name
 * @param {Uint8Array<ArrayBuffer>} publicKey
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function keyId(name, publicKey) {
  checkKeyName(name);
  checkBytes(publicKey, "Ed25519 public key", 32);
  return (await sha256(concat(utf8(name), new Uint8Array([0x0a, ED25519_TYPE]), publicKey))).slice(0, 4);
}

/**
 * The verifier key string "<name>+<hex key ID>+<base64(0x01 || public key)>".
 * @param {string} name
 * @param {Uint8Array<ArrayBuffer>} publicKey
 * @returns {Promise<string>}
 */
export async function verifierKey(name, publicKey) {
  const kid = await keyId(name, publicKey);
  return `${name}+${toHex(kid)}+${b64stdEncode(concat(new Uint8Array([ED25519_TYPE]), publicKey))}`;
}

/**
 * Ed25519 verification with WebCrypto: true or false.
 * @param {unknown} publicKey
 * @param {Uint8Array<ArrayBuffer>} message
 * @param {unknown} signature
 * @returns {Promise<boolean>}
 */
export async function verifyEd25519(publicKey, message, signature) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  const raw = /** @type {Uint8Array<ArrayBuffer>} */ (publicKey); // the pages never share memory
  let key;
  try {
    key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  } catch {
    return false; // not a point on the curve
  }
  return crypto.subtle.verify({ name: "Ed25519" }, key, /** @type {Uint8Array<ArrayBuffer>} */ (signature), message);
}

/**
 * Verify a signed note against the Ed25519 key (name, publicKey) and return its text.
 * Throws a CryptoError: code "bad_encoding" for a malformed note, "bad_signature" when no
 * signature by the key verifies or one by the key does not.
 * @param {unknown} note
 * @param {string} name
 * @param {Uint8Array<ArrayBuffer>} publicKey
 * @returns {Promise<string>}
 */
export async function openNote(note, name, publicKey) {
  checkKeyName(name);
  checkBytes(publicKey, "Ed25519 public key", 32);
  const expectedId = await keyId(name, publicKey);
  if (typeof note !== "string") malformed("a signed note is text");
  if (note.length > MAX_NOTE_SIZE || utf8(note).length > MAX_NOTE_SIZE) malformed(`signed note is larger than ${MAX_NOTE_SIZE} bytes`);
  if (CONTROL.test(note)) malformed("signed note contains an ASCII control character");

  const split = note.lastIndexOf("\n\n");
  if (split < 0) malformed("signed note has no blank line before its signatures");
  const text = note.slice(0, split + 1);
  const sigBlock = note.slice(split + 2);
  if (!sigBlock || !sigBlock.endsWith("\n")) malformed("signed note must end with signature lines and a newline");
  const lines = sigBlock.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) malformed(`signed note has more than ${MAX_SIGNATURES} signatures`);

  const message = utf8(text);
  let verified = 0;
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) malformed("signature line does not start with an em dash and a space");
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(" ");
    if (space < 0) malformed("signature line has no space between name and signature");
    const signer = checkKeyName(rest.slice(0, space));
    const blob = b64stdDecode(rest.slice(space + 1), undefined, "note signature");
    if (blob.length < 5) malformed("note signature is shorter than a key ID and a signature");
    if (signer !== name || !equal(blob.slice(0, 4), expectedId)) continue; // another key: ignored
    if (!(await verifyEd25519(publicKey, message, blob.slice(4)))) {
      throw new CryptoError(`the signature by ${name} does not verify`, "bad_signature");
    }
    verified++;
  }
  if (verified === 0) throw new CryptoError(`the note has no signature by ${name} (key ID ${toHex(expectedId)})`, "bad_signature");
  return text;
}
