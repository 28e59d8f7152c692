// @ts-check
// anonballot browser cryptography: reading the board as C2SP tlog-tiles (https://c2sp.org/tlog-tiles,
// protocol section 6.8), as anonballot.hazmat.tiles writes it.
//
// A level-0 tile holds up to 256 consecutive leaf hashes (32 bytes each): tile N holds the
// hashes of leaves N*256 to N*256 + 255. A tree of size s has floor(s / 256) full tiles
// tile/0/<N> and, when s % 256 is not 0, one partial tile tile/0/<N>.p/<s % 256>. N is
// written in groups of three digits, every group but the last prefixed with "x":
// 1234067 is x001/x234/067.
//
// readLeafHashes fetches every level-0 tile of a size (a few at a time) through a function
// given by the caller, and returns the leaf hashes packed in one buffer: it knows nothing of
// the page or of the server's address.

import { CryptoError } from "./errors.js";

export const TILE_WIDTH = 256;
export const HASH_SIZE = 32;
/** The largest board the page reads whole: 15,625 tiles, 128 MB of hashes. */
export const MAX_LEAVES = 4_000_000;

/**
 * @param {unknown} value
 * @param {string} what
 * @returns {number}
 */
function count(value, what) {
  const n = typeof value === "bigint" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw new CryptoError(`${what} must be a non-negative integer`, "invalid_input");
  return n;
}

/**
 * N in groups of three digits, "x" before every group but the last: 1234067 -> x001/x234/067.
 * @param {number | bigint} index
 * @returns {string}
 */
export function tileIndexPath(index) {
  let digits = String(count(index, "tile index"));
  digits = "0".repeat((3 - (digits.length % 3)) % 3) + digits;
  const groups = digits.match(/.{3}/g) ?? [];
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

/**
 * The path of a hash tile below the log's prefix: tile/<level>/<N>[.p/<width>].
 * @param {number} level 0 to 63
 * @param {number | bigint} index
 * @param {number} [width] 1 to 255 for a partial tile; none (or 256) for a full one
 * @returns {string}
 */
export function tilePath(level, index, width = TILE_WIDTH) {
  if (!Number.isSafeInteger(level) || level < 0 || level > 63) throw new CryptoError(`tile level ${level} is not 0 to 63`, "invalid_input");
  if (!Number.isSafeInteger(width) || width < 1 || width > TILE_WIDTH) throw new CryptoError(`tile width ${width} is not 1 to ${TILE_WIDTH}`, "invalid_input");
  return `tile/${level}/${tileIndexPath(index)}${width === TILE_WIDTH ? "" : `.p/${width}`}`;
}

/**
 * The level-0 tiles of a tree of `size` leaves, in order: their paths and how many hashes each holds.
 * @param {number | bigint} size
 * @returns {{path: string, width: number}[]}
 */
export function levelZeroTiles(size) {
  const n = count(size, "tree size");
  const out = [];
  for (let i = 0; i * TILE_WIDTH < n; i++) {
    const width = Math.min(TILE_WIDTH, n - i * TILE_WIDTH);
    out.push({ path: tilePath(0, i, width), width });
  }
  return out;
}

/**
 * Every leaf hash of a tree of `size` leaves, read from its level-0 tiles: `fetchTile(path)`
 * returns a tile's bytes; at most `concurrency` tiles are asked for at once; `onProgress`
 * hears (tiles read, tiles in all). A tile of the wrong length is a CryptoError.
 * @param {number | bigint} size at most MAX_LEAVES
 * @param {(path: string) => Promise<Uint8Array>} fetchTile
 * @param {{concurrency?: number, onProgress?: (done: number, total: number) => void}} [options]
 * @returns {Promise<Uint8Array<ArrayBuffer>>} size * 32 bytes, leaf hash i at i * 32
 */
export async function readLeafHashes(size, fetchTile, { concurrency = 6, onProgress = () => {} } = {}) {
  const n = count(size, "tree size");
  if (n > MAX_LEAVES) throw new CryptoError(`a board of ${n} leaves is more than ${MAX_LEAVES} to read`, "invalid_input");
  const tiles = levelZeroTiles(n);
  const out = new Uint8Array(n * HASH_SIZE);
  let next = 0;
  let done = 0;
  let failed = false;
  onProgress(0, tiles.length);
  const worker = async () => {
    while (next < tiles.length && !failed) {
      const i = next++;
      const { path, width } = tiles[i];
      let data;
      try {
        data = await fetchTile(path);
      } catch (error) {
        failed = true; // the other workers ask for no more tiles
        throw error;
      }
      if (!(data instanceof Uint8Array) || data.length !== width * HASH_SIZE) {
        failed = true;
        throw new CryptoError(`${path} is ${data?.length} bytes, not ${width * HASH_SIZE}`, "bad_encoding");
      }
      out.set(data, i * TILE_WIDTH * HASH_SIZE);
      onProgress(++done, tiles.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, tiles.length)) }, worker));
  return out;
}

/**
 * Where leaf `index` of a tree of `size` leaves is in the entry bundles: the bundle's path
 * (tile/entries/<N>, or .p/<W> for the last, partial one) and the leaf's place in it.
 * Reading the whole bundle tells the server only which 256 leaves were read, not which one.
 * @param {number | bigint} index
 * @param {number | bigint} size
 * @returns {{path: string, width: number, offset: number}}
 */
export function entryBundleOf(index, size) {
  const i = count(index, "leaf index");
  const n = count(size, "tree size");
  if (i >= n) throw new CryptoError(`leaf ${i} is not in a tree of ${n} leaves`, "invalid_input");
  const tile = Math.floor(i / TILE_WIDTH);
  const width = Math.min(TILE_WIDTH, n - tile * TILE_WIDTH);
  const partial = width < TILE_WIDTH ? `.p/${width}` : "";
  return { path: `tile/entries/${tileIndexPath(tile)}${partial}`, width, offset: i % TILE_WIDTH };
}

/**
 * The entries of an entry bundle (each a big-endian uint16 length, then that many bytes):
 * exactly `width` of them, or a CryptoError.
 * @param {Uint8Array<ArrayBuffer>} data
 * @param {number} width
 * @returns {Uint8Array<ArrayBuffer>[]}
 */
export function parseEntryBundle(data, width) {
  /** @type {Uint8Array<ArrayBuffer>[]} */
  const entries = [];
  let at = 0;
  while (at < data.length) {
    if (at + 2 > data.length) throw new CryptoError("an entry bundle ends inside an entry's length", "bad_encoding");
    const length = (data[at] << 8) | data[at + 1];
    if (at + 2 + length > data.length) throw new CryptoError("an entry bundle ends inside an entry", "bad_encoding");
    entries.push(data.slice(at + 2, at + 2 + length));
    at += 2 + length;
  }
  if (entries.length !== width) throw new CryptoError(`an entry bundle of ${entries.length} entries, not ${width}`, "bad_encoding");
  return entries;
}
