// anonballot browser cryptography: the signed round manifest as a participant's device needs
// it (protocol sections 2.4, 3 and 4).
//
// A signed object is {"<kind>": VALUE, "signature": b64u(Ed25519(key, JCS(VALUE)))}. The
// manifest is signed by the organizer key it names itself, and the round id used everywhere
// is mid = b64u(SHA-256(JCS(M))). This module checks the signature and extracts what the
// booth needs (the ward's issuer key, the trustees, the log key); it does NOT re-check every
// rule of section 4.2, which the auditor does. Participants SHOULD compare `mid` or the
// organizer key with the one the district publishes through its own channels.

import { CryptoError } from "./errors.js";
import { b64uDecode, b64uEncode } from "./b64u.js";
import { sha256 } from "./bytes.js";
import { jcs } from "./jcs.js";
import { verifyEd25519 } from "./note.js";
import { parseIssuerKey } from "./rsa-blind.js";

/** Check a signed object's shape and signature under `publicKey`; return its value. */
export async function verifySignedObject(obj, kind, publicKey) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new CryptoError(`expected a signed ${kind}`, "encoding");
  const has = (k) => Object.prototype.hasOwnProperty.call(obj, k);
  if (Object.keys(obj).length !== 2 || !has(kind) || !has("signature")) {
    throw new CryptoError(`expected a signed object {"${kind}": ..., "signature": ...}`, "encoding");
  }
  const signature = b64uDecode(obj.signature, 64, "signature");
  if (!(await verifyEd25519(publicKey, jcs(obj[kind]), signature))) {
    throw new CryptoError(`the ${kind} signature does not verify`, "bad_signature");
  }
  return obj[kind];
}

/** mid = b64u(SHA-256(JCS(M))). */
export async function manifestId(manifest) {
  return b64uEncode(await sha256(jcs(manifest)));
}

/**
 * Verify a signed manifest (parsed JSON) and return what the booth needs:
 * {manifest, mid, origin, logKey, threshold, trustees: [{id, hpkeKey}], issuerKey(ward)}.
 */
export async function openSignedManifest(signed) {
  const m = signed?.manifest;
  if (m === null || typeof m !== "object" || m.v !== 1) throw new CryptoError("not a version 1 manifest", "encoding");
  const organizerKey = b64uDecode(m.organizer_key, 32, "organizer_key");
  const manifest = await verifySignedObject(signed, "manifest", organizerKey);
  if (!Array.isArray(manifest.trustees) || !Array.isArray(manifest.wards)) throw new CryptoError("manifest: trustees and wards are lists", "encoding");
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
