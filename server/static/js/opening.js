// @ts-check
// anonballot browser cryptography: opening one leaf (protocol section 7.3), as the tally and
// the auditor do (anonballot.sealing, anonballot.ballot), so that a participant can see how
// their own ballot was counted.
//
// With the counted releases (releases.js), in trustee order:
//   1. each released trustee's share opens with HPKE (else share_undecryptable);
//   2. the first `threshold` points interpolate f; every further point lies on it (else
//      shares_inconsistent);
//   3. K = f(0) is below 2^256 (else bad_key);
//   4. AES-256-GCM(K, nonce, aad = JCS({"round", "ward"})) opens ct (else undecryptable);
//   5. the plaintext is canonical JSON (else not_canonical);
//   6. a "ward" member, if any, is the leaf's ward (else wrong_ward);
//   7. the ballot is valid for the ward (else invalid_content).
// The first failing step names the reason; the reasons are error-codes.js's OPENING_REASONS.

import { b64uDecode } from "./b64u.js";
import { i2osp } from "./bytes.js";
import { parseCanonical } from "./jcs.js";
import { openBase } from "./hpke.js";
import { interpolateAt, shareFromBytes } from "./shamir.js";
import { ballotAad, shareInfo, SHARE_SIZE } from "./sealing.js";
import { validateBallot } from "./ballot.js";

/**
 * @typedef {{ward: string, ballot: {shares: string[], nonce: string, ct: string}}} Leaf the members of a leaf that opening reads
 * @typedef {import("./error-codes.js").OpeningReason} OpeningReason
 * @typedef {import("./ballot.js").Ballot} Ballot
 * @typedef {{ballot: Ballot, reason?: undefined} | {reason: OpeningReason, ballot?: undefined}} Opened
 */

/**
 * Open one leaf: {ballot} when it counts, else {reason}.
 * @param {Leaf} leaf the parsed leaf
 * @param {import("./manifest.js").Manifest} manifest
 * @param {string} mid
 * @param {import("./releases.js").Release[]} released the counted releases, at least `threshold`
 * @returns {Promise<Opened>}
 */
export async function openLeaf(leaf, manifest, mid, released) {
  const shares = leaf.ballot.shares.map((s) => b64uDecode(s, SHARE_SIZE, "share"));
  const nonce = b64uDecode(leaf.ballot.nonce, 12, "nonce");
  const ct = b64uDecode(leaf.ballot.ct, undefined, "ct");
  /** @type {[number, bigint][]} */
  const points = [];
  for (const r of released) {
    const share = shares[r.index - 1];
    try {
      const opened = await openBase(share.slice(0, 32), r.sk, shareInfo(mid, r.id), new Uint8Array(0), share.slice(32));
      points.push([r.index, shareFromBytes(opened)]);
    } catch {
      return { reason: "share_undecryptable" };
    }
  }
  const base = points.slice(0, manifest.threshold);
  for (const [x, y] of points.slice(manifest.threshold)) {
    if (interpolateAt(base, x) !== y) return { reason: "shares_inconsistent" };
  }
  const k = interpolateAt(base, 0);
  if (k >= 1n << 256n) return { reason: "bad_key" };
  let plaintext;
  try {
    const key = await crypto.subtle.importKey("raw", i2osp(k, 32), { name: "AES-GCM" }, false, ["decrypt"]);
    const aad = ballotAad(mid, leaf.ward);
    plaintext = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, key, ct));
  } catch {
    return { reason: "undecryptable" };
  }
  let value;
  try {
    value = parseCanonical(plaintext);
  } catch {
    return { reason: "not_canonical" };
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, "ward") && value.ward !== leaf.ward) {
    return { reason: "wrong_ward" };
  }
  try {
    return { ballot: validateBallot(value, manifest, leaf.ward) };
  } catch {
    return { reason: "invalid_content" };
  }
}
