// @ts-check
// anonballot browser cryptography: the signed round manifest as a participant's device needs
// it (protocol sections 2.4, 3 and 4).
//
// The manifest is a signed object (signing.js) signed by the organizer key it names itself,
// and the round id used everywhere is mid = b64u(SHA-256(JCS(M))). This module checks the
// signature and extracts what the booth needs (the ward's issuer key, the trustees, the log
// key); it does NOT re-check every rule of section 4.2, which the auditor does. Participants
// SHOULD compare `mid` or the organizer key with the one the district publishes through its
// own channels.

import { CryptoError } from "./errors.js";
import { b64uDecode, b64uEncode } from "./b64u.js";
import { sha256 } from "./bytes.js";
import { jcs } from "./jcs.js";
import { parseIssuerKey } from "./rsa-blind.js";
import { verifySignedObject } from "./signing.js";

/**
 * The shapes of the manifest M (protocol section 4.1), as far as the pages read them.
 * @typedef {Record<string, string>} Label a text in each language: {"vi": ..., "en": ...}
 * @typedef {{id: string, label: Label}} Level
 * @typedef {{id: string, label: Label, max_chars: number}} CommentField
 * @typedef {{scale: Level[], abstain: Level | null, criteria: {id: string, label: Label}[], comments: CommentField[]}} Questionnaire
 * @typedef {{id: string, name: Label, eligible: number, issuer_key: string}} Ward
 * @typedef {{id: string, ward: string, role: string, name: Label}} Subject
 * @typedef {{id: string, title: Label}} Role
 * @typedef {{id: string, name: Label, hpke_key: string, signing_key: string}} Trustee
 * @typedef {{opens: string, closes: string}} Window
 * @typedef {{
 *   v: 1, round_id: string, title: Label, origin: string, organizer_key: string, log_key: string,
 *   threshold: number, trustees: Trustee[], wards: Ward[], roles: Role[], subjects: Subject[],
 *   questionnaire: Questionnaire, issuance: Window, voting: Window,
 *   witnesses?: {quorum: number, list: {vkey: string, url: string}[]},
 *   booth?: Record<string, string>,
 * }} Manifest
 * @typedef {import("./rsa-blind.js").IssuerKey} IssuerKey
 * @typedef {{
 *   manifest: Manifest, mid: string, origin: string, logKey: Uint8Array<ArrayBuffer>, threshold: number,
 *   trustees: {id: string, hpkeKey: Uint8Array<ArrayBuffer>}[], issuerKey: (wardId: string) => IssuerKey,
 * }} Round what the booth needs of a verified manifest
 */

export { verifySignedObject };

/**
 * mid = b64u(SHA-256(JCS(M))).
 * @param {unknown} manifest
 * @returns {Promise<string>}
 */
export async function manifestId(manifest) {
  return b64uEncode(await sha256(jcs(manifest)));
}

/**
 * Verify a signed manifest (parsed JSON) and return what the booth needs.
 * @param {unknown} signed
 * @returns {Promise<Round>}
 */
export async function openSignedManifest(signed) {
  const m = /** @type {{manifest?: {v?: unknown, organizer_key?: unknown}} | null} */ (signed)?.manifest;
  if (m === null || typeof m !== "object" || m.v !== 1) throw new CryptoError("not a version 1 manifest", "bad_encoding");
  const organizerKey = b64uDecode(m.organizer_key, 32, "organizer_key");
  /** @type {Manifest} */
  const manifest = await verifySignedObject(signed, "manifest", organizerKey);
  if (!Array.isArray(manifest.trustees) || !Array.isArray(manifest.wards)) throw new CryptoError("manifest: trustees and wards are lists", "bad_encoding");
  return {
    manifest,
    mid: await manifestId(manifest),
    origin: manifest.origin,
    logKey: b64uDecode(manifest.log_key, 32, "log_key"),
    threshold: manifest.threshold,
    trustees: manifest.trustees.map((t) => ({ id: t.id, hpkeKey: b64uDecode(t.hpke_key, 32, `trustee ${t.id} hpke_key`) })),
    issuerKey(wardId) {
      const ward = manifest.wards.find((w) => w.id === wardId);
      if (!ward) throw new CryptoError(`unknown ward ${JSON.stringify(wardId)}`, "unknown_ward");
      return parseIssuerKey(b64uDecode(ward.issuer_key, undefined, "issuer_key"));
    },
  };
}
