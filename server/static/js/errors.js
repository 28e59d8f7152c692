// anonballot browser cryptography: the one error type every module throws.
//
// A CryptoError carries a short machine-readable `code` (for example "bad_signature",
// "invalid_proof", "encoding") next to its human-readable message, so a voting booth can
// tell "the server answered garbage" from "this proof is wrong" without parsing text.

export class CryptoError extends Error {
  /**
   * @param {string} message what went wrong, for people
   * @param {string} [code] what went wrong, for programs
   */
  constructor(message, code = "error") {
    super(message);
    this.name = "CryptoError";
    this.code = code;
  }
}
