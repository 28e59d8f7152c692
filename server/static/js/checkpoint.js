// @ts-check
// anonballot browser cryptography: checkpoints, C2SP tlog-checkpoint signed notes
// (https://c2sp.org/tlog-checkpoint; protocol section 6.6).
//
// The note text is exactly three lines, each ending in "\n":
//   <origin>\n<tree size, decimal without leading zeros>\n<root, standard base64>\n
// signed with Ed25519 by the log key under the key name <origin>. The protocol defines no
// extension lines, so any extra line is rejected. Sizes are BigInts (uint64).

import { CryptoError } from "./errors.js";
import { b64stdDecode } from "./b64u.js";
import { openNote } from "./note.js";

export const MAX_TREE_SIZE = (1n << 64n) - 1n;

/**
 * Verify a signed checkpoint of the log (origin, logKey); returns {origin, size, root}.
 * @param {unknown} note
 * @param {string} origin
 * @param {Uint8Array<ArrayBuffer>} logKey
 * @returns {Promise<{origin: string, size: bigint, root: Uint8Array<ArrayBuffer>}>}
 */
export async function parseCheckpoint(note, origin, logKey) {
  const text = await openNote(note, origin, logKey);
  const lines = text.split("\n");
  if (lines.length !== 4 || lines[3] !== "") throw new CryptoError("a checkpoint is exactly three lines: origin, size, root", "bad_encoding");
  const [originLine, sizeLine, rootLine] = lines;
  if (originLine !== origin) throw new CryptoError(`checkpoint origin ${JSON.stringify(originLine)} is not the expected one`, "bad_encoding");
  if (!/^(?:0|[1-9][0-9]{0,19})$/.test(sizeLine)) throw new CryptoError("checkpoint size is not a canonical decimal", "bad_encoding");
  const size = BigInt(sizeLine);
  if (size > MAX_TREE_SIZE) throw new CryptoError("checkpoint size is larger than a uint64", "bad_encoding");
  const root = b64stdDecode(rootLine, 32, "checkpoint root");
  return { origin: originLine, size, root };
}
