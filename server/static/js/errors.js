// @ts-check
// anonballot browser cryptography: the one error type every module throws.
//
// A CryptoError carries a short machine-readable `code` (for example "bad_signature",
// "bad_proof", "bad_encoding"; the list is error-codes.js, named as the Python library
// names the same failure) next to its human-readable message, so a voting booth can tell
// "the server answered garbage" from "this proof is wrong" without parsing text.

/** @typedef {import("./error-codes.js").CryptoErrorCode} CryptoErrorCode */

export class CryptoError extends Error {
  /**
   * @param {string} message what went wrong, for people
   * @param {CryptoErrorCode} code what went wrong, for programs
   */
  constructor(message, code) {
    super(message);
    this.name = "CryptoError";
    /** @type {CryptoErrorCode} */
    this.code = code;
    /** @type {string | undefined} which step of a page met it (the catalog's "error.crypto.<stage>") */
    this.stage = undefined;
    /** @type {string | undefined} the receipt code computed on the device, when a receipt fails */
    this.localCode = undefined;
  }
}
