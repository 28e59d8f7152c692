// @ts-check
// anonballot pages: every error code the browser understands, in one place, named as the
// Python library and the server name them (docs/server.md "Errors", protocol section 7.3).
//
// - API_ERRORS: the `error` member of the server's refusals ({"error", "detail"}); each has
//   the catalog text "error.<code>" (static/i18n/*.json).
// - OPENING_REASONS: why a leaf does not count (protocol section 7.3), as the results list
//   them in `invalid` and opening.js finds them; each has "reason.<code>" and
//   "reason.<code>.short".
// - CRYPTO_ERRORS: the codes of a CryptoError (errors.js), the browser's own verdict on data
//   it checked; each is the code of the Python library's error for the same failure
//   (anonballot/errors.py), so a message names the same fault on both sides.
// - LOCAL_ERRORS: situations only a browser meets (no answer, a malformed answer, a manifest
//   that changed under a saved ballot, no storage); never a server's code.
//
// tests/test_error_codes.py checks these lists against the codes the Python side can
// produce and the catalogs, and the type checker checks every `new CryptoError(...)`.

export const API_ERRORS = /** @type {const} */ ([
  "bad_json",
  "bad_request",
  "bad_range",
  "too_large",
  "not_found",
  "method_not_allowed",
  "unknown_round",
  "round_not_open",
  "wrong_state",
  "outside_window",
  "unknown_ward",
  "bad_code",
  "unknown_code",
  "code_used",
  "bad_encoding",
  "bad_leaf",
  "wrong_round",
  "bad_token",
  "bad_voter_signature",
  "token_spent",
  "bad_release",
  "bad_signature",
  "bad_release_key",
  "not_enough_releases",
  "no_close",
  "no_issuance",
  "no_results",
  "not_tallied",
  "unauthorized",
  "bad_roster",
  "bad_manifest",
  "invitations_exist",
  "round_exists",
  "invalid_input",
  "no_district",
  "empty_roster",
  "unknown_trustee",
  "missing_key",
  "bad_receipt",
  "internal_error",
  "restricted",
  "unknown_access_token",
  "unknown_subject",
  "unknown_item",
  "plan_submitted",
  "plan_accepted",
  "plan_not_submitted",
  "plan_not_accepted",
  "plan_changed",
  "empty_plan",
  "roster_exists",
  "duplicate_rows",
  "voting_not_over",
  "bad_blinded",
  "storage_full",
  "storage_unavailable",
  "signing_fault",
  "leaf_too_large",
  "bad_tile_path",
  "tile_not_found",
  "entry_too_large",
]);

export const OPENING_REASONS = /** @type {const} */ ([
  "share_undecryptable",
  "shares_inconsistent",
  "bad_key",
  "undecryptable",
  "not_canonical",
  "wrong_ward",
  "invalid_content",
]);

export const CRYPTO_ERRORS = /** @type {const} */ ([
  "bad_encoding",
  "invalid_input",
  "bad_signature",
  "bad_token",
  "bad_proof",
  "bad_receipt",
  "invalid_content",
  "undecryptable",
  "unknown_ward",
  "wrong_round",
  "bad_statement",
  "ledger_mismatch",
  "ballot_too_large",
  "leaf_too_large",
]);

export const LOCAL_ERRORS = /** @type {const} */ (["network", "bad_answer", "manifest_changed", "storage"]);

/** @typedef {typeof API_ERRORS[number]} ApiErrorCode */
/** @typedef {typeof OPENING_REASONS[number]} OpeningReason */
/** @typedef {typeof CRYPTO_ERRORS[number]} CryptoErrorCode */
/** @typedef {typeof LOCAL_ERRORS[number]} LocalErrorCode */

/**
 * Whether `code` is a code of the server's API the pages have a text for.
 * @param {string} code
 * @returns {code is ApiErrorCode}
 */
export function isApiError(code) {
  return /** @type {readonly string[]} */ (API_ERRORS).includes(code);
}

/**
 * Whether `code` is a reason of protocol section 7.3.
 * @param {unknown} code
 * @returns {code is OpeningReason}
 */
export function isOpeningReason(code) {
  return typeof code === "string" && /** @type {readonly string[]} */ (OPENING_REASONS).includes(code);
}
