// @ts-check
// anonballot browser cryptography: the trustees' releases that count (protocol section 7.2).
//
// A release is a signed object {"release": {"round", "trustee", "private_key"}, "signature"}
// signed by the trustee's signing_key of the manifest. It counts when its signature verifies,
// it has exactly these three members, it is for this round, and its private key derives the
// trustee's hpke_key. A release that does not count is left out here (the audit reports it).

import { b64uDecode } from "./b64u.js";
import { equal } from "./bytes.js";
import { publicKeyOf } from "./hpke.js";
import { verifySignedObject } from "./signing.js";

/** @typedef {{index: number, id: string, sk: Uint8Array<ArrayBuffer>}} Release a counted release: 1-based trustee index, id, X25519 private key */

/**
 * The releases that count, in trustee order.
 * @param {unknown} releases the published releases: an object whose values are signed releases
 * @param {import("./manifest.js").Manifest} manifest
 * @param {string} mid
 * @returns {Promise<Release[]>}
 */
export async function countedReleases(releases, manifest, mid) {
  /** @type {Release[]} */
  const out = [];
  const values = releases !== null && typeof releases === "object" && !Array.isArray(releases) ? Object.values(releases) : [];
  for (const obj of values) {
    try {
      const id = obj?.release?.trustee;
      const index = manifest.trustees.findIndex((t) => t.id === id);
      if (index < 0) continue;
      const trustee = manifest.trustees[index];
      const value = await verifySignedObject(obj, "release", b64uDecode(trustee.signing_key, 32));
      const keys = Object.keys(value).sort().join(",");
      if (keys !== "private_key,round,trustee" || value.round !== mid) continue;
      const sk = b64uDecode(value.private_key, 32);
      if (!equal(await publicKeyOf(sk), b64uDecode(trustee.hpke_key, 32))) continue;
      out.push({ index: index + 1, id: trustee.id, sk });
    } catch {
      // a release that does not count
    }
  }
  return out.sort((a, b) => a.index - b.index);
}
