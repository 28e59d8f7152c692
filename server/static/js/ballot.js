// @ts-check
// anonballot browser cryptography: the plaintext ballot B (protocol section 6.1).
//
//   B = {"v": 1, "ward": w, "answers": {<subject>: {"ratings": {<criterion>: <level>},
//                                                    "comments": {<field>: "text"}}}}
//
// makeBallot builds B from the booth's answers (dropping comments that are empty or only
// white space); validateBallot enforces every rule of a valid ballot for the ward, as
// anonballot.ballot.validate_ballot does, so that the device never seals a ballot the tally
// would count as invalid. The plaintext that is sealed is JCS(B) (jcs.js).

import { CryptoError } from "./errors.js";

/**
 * @typedef {{ratings: Record<string, string>, comments: Record<string, string>}} BallotAnswer
 * @typedef {{v: 1, ward: string, answers: Record<string, BallotAnswer>}} Ballot a valid plaintext ballot B
 */

// Unicode White_Space: exactly the 25 code points of protocol section 7.4 (not JavaScript's
// trim(), which also removes U+FEFF).
const WHITE_SPACE = "\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

/**
 * `text` without leading and trailing White_Space (protocol section 7.4).
 * @param {string} text
 * @returns {string}
 */
export function stripWhiteSpace(text) {
  let start = 0;
  let end = text.length;
  while (start < end && WHITE_SPACE.includes(text[start])) start++;
  while (end > start && WHITE_SPACE.includes(text[end - 1])) end--;
  return text.slice(start, end);
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, any>}
 */
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * B for `ward`; `answers` maps subject id to {ratings, comments}. Blank comments are dropped.
 * @param {string} ward
 * @param {Record<string, unknown>} answers
 * @returns {{v: 1, ward: string, answers: Record<string, unknown>}}
 */
export function makeBallot(ward, answers) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [subject, answer] of Object.entries(answers)) {
    if (!isObject(answer)) {
      out[subject] = answer; // left for validateBallot to reject
      continue;
    }
    /** @type {unknown} */
    let comments = answer.comments ?? {};
    if (isObject(comments)) {
      comments = Object.fromEntries(Object.entries(comments).filter(([, text]) => typeof text !== "string" || stripWhiteSpace(text) !== ""));
    }
    out[subject] = { ratings: isObject(answer.ratings) ? { ...answer.ratings } : (answer.ratings ?? {}), comments };
  }
  return { v: 1, ward, answers: out };
}

/**
 * @param {object} obj
 * @param {Set<string> | Map<string, unknown>} expected
 * @returns {boolean}
 */
function sameKeys(obj, expected) {
  const keys = Object.keys(obj);
  return keys.length === expected.size && keys.every((k) => expected.has(k));
}

/**
 * @param {string} message
 * @returns {never}
 */
function invalid(message) {
  throw new CryptoError(message, "invalid_content");
}

/**
 * Throw unless `ballot` is a valid B for `ward` of the manifest M (the unsigned value).
 * @param {unknown} ballot
 * @param {import("./manifest.js").Manifest} manifest
 * @param {string} ward
 * @returns {Ballot}
 */
export function validateBallot(ballot, manifest, ward) {
  if (!isObject(ballot) || !sameKeys(ballot, new Set(["v", "ward", "answers"]))) invalid("a ballot has exactly the keys v, ward and answers");
  if (ballot.v !== 1) invalid("ballot v must be 1");
  if (ballot.ward !== ward) invalid(`ballot is for ward ${JSON.stringify(ballot.ward)}, expected ${JSON.stringify(ward)}`);
  const q = manifest.questionnaire;
  const subjects = new Set(manifest.subjects.filter((s) => s.ward === ward).map((s) => s.id));
  const criteria = new Set(q.criteria.map((c) => c.id));
  const levels = new Set([...q.scale.map((s) => s.id), ...(q.abstain ? [q.abstain.id] : [])]);
  const fields = new Map(q.comments.map((c) => [c.id, c.max_chars]));
  if (!isObject(ballot.answers) || !sameKeys(ballot.answers, subjects)) invalid("answers must cover exactly the ward's subjects");
  for (const [subject, answer] of Object.entries(ballot.answers)) {
    if (!isObject(answer) || !sameKeys(answer, new Set(["ratings", "comments"]))) invalid(`${subject}: an answer has exactly ratings and comments`);
    if (!isObject(answer.ratings) || !sameKeys(answer.ratings, criteria)) invalid(`${subject}: ratings must cover every criterion`);
    for (const [criterion, level] of Object.entries(answer.ratings)) {
      if (typeof level !== "string" || !levels.has(level)) invalid(`${subject}.${criterion}: ${JSON.stringify(level)} is not on the scale`);
    }
    if (!isObject(answer.comments)) invalid(`${subject}: comments must be an object`);
    for (const [name, text] of Object.entries(answer.comments)) {
      if (!fields.has(name)) invalid(`${subject}: ${JSON.stringify(name)} is not a comment field`);
      if (typeof text !== "string" || text.normalize("NFC") !== text) invalid(`${subject}.${name}: a comment is NFC text`);
      const length = [...text].length; // code points, not UTF-16 units
      if (length > (fields.get(name) ?? 0)) invalid(`${subject}.${name}: ${length} characters, at most ${fields.get(name)} allowed`);
    }
  }
  return /** @type {Ballot} */ (ballot);
}
