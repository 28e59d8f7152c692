"""Independent reader of a C2SP tiled transparency log (issue 10: an independent tiles reader).

Written from the specifications alone, not from this project's code: c2sp.org/tlog-tiles
(tiles, partial tiles, entry bundles, path encoding), c2sp.org/tlog-checkpoint (the note's
three lines), c2sp.org/signed-note (signature lines, key ids, Ed25519 signatures) and RFC 9162
section 2.1 (Merkle tree hashing, inclusion proofs). It uses the standard library,
``httpx`` (only in :func:`http_fetcher`), ``pynacl`` (Ed25519) and ``rfc8785`` (JCS, for the
round's ``mid``); nothing from ``anonballot``. The only project facts it takes are where the
log's parameters are (``manifest["origin"]``, ``manifest["log_key"]``: base64url of the
32-byte Ed25519 key), the round's ``mid`` (b64u of SHA-256 of the manifest's JCS) and the
receipt's fields (protocol section 6.7).

- :func:`read_log` fetches ``checkpoint``, verifies it, fetches every entry bundle and every
  hash tile (all levels) of its size, and checks entries -> level 0 -> level 1 -> ... and the
  root (RFC 9162 MTH of the leaf hashes) against the checkpoint.
- :func:`verify_receipt` checks a receipt ``{"round", "leaf_index", "leaf_hash",
  "checkpoint", "inclusion"}``: its checkpoint's signature, the leaf hash at that index in
  the level-0 tile of the checkpoint's size, and the inclusion proof (RFC 9162 2.1.3.2);
  given a :class:`LogView` read before, also that the receipt's tree is a prefix of it.

Every failure raises :class:`TilesError` with a reason.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import rfc8785
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .verifier import leaf_hash, node_hash, sha256
from .verifier import merkle_root as mth

TILE_WIDTH = 256  # tile height 8 (tlog-tiles)
HASH_SIZE = 32
ED25519_TYPE = b"\x01"  # signed-note signature type of Ed25519
MAX_SIGNATURES = 64  # signed-note: accept at least 16


class TilesError(Exception):
    """The log, a tile or a receipt does not verify."""


class NotFound(TilesError):
    """The resource is not served (404)."""


Fetch = Callable[[str], bytes]  # a path under the log's prefix -> the resource's bytes


def http_fetcher(prefix: str, client: httpx.Client | None = None) -> Fetch:
    """GET ``<prefix>/<path>``; 404 raises :class:`NotFound`, any other non-200 TilesError."""
    base = prefix.rstrip("/")
    headers = {"Accept-Encoding": "gzip, identity"}

    def fetch(path: str) -> bytes:
        url = f"{base}/{path}"
        answer = (client or httpx).get(url, headers=headers, timeout=30)
        if answer.status_code == 404:
            raise NotFound(f"{path}: 404")
        if answer.status_code != 200:
            raise TilesError(f"{path}: HTTP {answer.status_code}")
        return answer.content

    return fetch


# -- RFC 9162 section 2.1 ----------------------------------------------------------------------


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size:
        raise TilesError(f"leaf index {index} is not below the tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise TilesError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise TilesError("the inclusion proof is too short")
    if r != root:
        raise TilesError("the inclusion proof does not lead to the checkpoint's root")


# -- signed notes and checkpoints ----------------------------------------------------------------


def key_id(name: str, public_key: bytes) -> bytes:
    """signed-note: SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 key)[:4]."""
    return sha256(name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key)[:4]


def _b64std(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as e:
        raise TilesError(f"{what}: not base64") from e
    if base64.b64encode(data).decode("ascii") != text:
        raise TilesError(f"{what}: not canonical base64")
    return data


def b64u_decode(text: object, what: str, size: int | None = None) -> bytes:
    """base64url without padding, canonical (how anonballot writes keys and hashes)."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise TilesError(f"{what}: not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as e:
        raise TilesError(f"{what}: not base64url") from e
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != text:
        raise TilesError(f"{what}: not canonical base64url")
    if size is not None and len(data) != size:
        raise TilesError(f"{what}: {len(data)} bytes, not {size}")
    return data


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str  # the whole signed note


def verify_note(note: str, name: str, public_key: bytes) -> str:
    """The text of a signed note with a valid Ed25519 signature by (name, key); signatures
    by other keys are ignored, one by this key that fails rejects the note."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise TilesError("the note holds a control character")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise TilesError("the note has no signature block")
    text, signatures = note[: cut + 1], note[cut + 2 :]
    lines = signatures[:-1].split("\n")
    if not lines or len(lines) > MAX_SIGNATURES:
        raise TilesError("the note has no or too many signature lines")
    wanted = key_id(name, public_key)
    verify = VerifyKey(public_key)
    verified = False
    for line in lines:
        m = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        if not m or "+" in m.group(1):
            raise TilesError(f"malformed signature line {line!r}")
        sig = _b64std(m.group(2), "signature")
        if len(sig) < 5:
            raise TilesError("a signature shorter than its key id")
        if m.group(1) != name or sig[:4] != wanted:
            continue  # an unknown key (a cosigner, say): ignored
        if len(sig) != 4 + 64:
            raise TilesError("an Ed25519 signature of the wrong length")
        try:
            verify.verify(text.encode("utf-8"), sig[4:])
        except BadSignatureError as e:
            raise TilesError("the log's signature does not verify") from e
        verified = True
    if not verified:
        raise TilesError("no signature by the log's key")
    return text


def parse_checkpoint(note: str, origin: str, public_key: bytes) -> Checkpoint:
    """tlog-checkpoint: origin, decimal size, base64 root hash, then optional extension lines."""
    text = verify_note(note, origin, public_key)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise TilesError("a checkpoint has at least three lines")
    if lines[0] != origin:
        raise TilesError(f"checkpoint origin {lines[0]!r}, not {origin!r}")
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]) or int(lines[1]) >= 2**64:
        raise TilesError(f"bad tree size {lines[1]!r}")
    root = _b64std(lines[2], "root hash")
    if len(root) != HASH_SIZE:
        raise TilesError("the root hash is not 32 bytes")
    return Checkpoint(origin, int(lines[1]), root, note)


# -- tiles ---------------------------------------------------------------------------------------


def encode_index(n: int) -> str:
    """tlog-tiles: zero-padded 3-digit elements, all but the last prefixed with x."""
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int | None, n: int, width: int) -> str:
    """``tile/<L>/<N>`` (``level`` None: ``tile/entries/<N>``), ``.p/<W>`` when partial."""
    kind = "entries" if level is None else str(level)
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{kind}/{encode_index(n)}{suffix}"


def tiles_of(count: int) -> list[tuple[int, int]]:
    """(tile index, width) of the tiles holding ``count`` hashes of one level."""
    tiles = [(n, TILE_WIDTH) for n in range(count // TILE_WIDTH)]
    if count % TILE_WIDTH:
        tiles.append((count // TILE_WIDTH, count % TILE_WIDTH))
    return tiles


def fetch_tile(fetch: Fetch, level: int | None, n: int, width: int) -> bytes:
    """A tile of ``width`` hashes (or entries); a partial tile no longer served is read from
    the full tile at its place, whose first hashes are the same (tlog-tiles)."""
    try:
        return fetch(tile_path(level, n, width))
    except NotFound:
        if width == TILE_WIDTH:
            raise
        data = fetch(tile_path(level, n, TILE_WIDTH))
        if level is None:
            return _cut_bundle(data, width)
        return data[: width * HASH_SIZE]


def split_hashes(data: bytes, width: int, what: str) -> list[bytes]:
    if len(data) != width * HASH_SIZE:
        raise TilesError(f"{what}: {len(data)} bytes, not {width} hashes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def decode_bundle(data: bytes, width: int, what: str) -> list[bytes]:
    """An entry bundle: big-endian uint16 length then the entry, exactly ``width`` of them."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise TilesError(f"{what}: a truncated length")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise TilesError(f"{what}: a truncated entry")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    if len(entries) != width:
        raise TilesError(f"{what}: {len(entries)} entries, not {width}")
    return entries


def _cut_bundle(data: bytes, width: int) -> bytes:
    at = 0
    for _ in range(width):
        at += 2 + int.from_bytes(data[at : at + 2], "big")
    return data[:at]


@dataclass(frozen=True)
class LogView:
    checkpoint: Checkpoint
    entries: list[bytes]
    leaf_hashes: list[bytes]
    levels: list[list[bytes]]  # levels[L]: the hashes of the hash tiles at level L


@dataclass(frozen=True)
class LogParameters:
    origin: str
    public_key: bytes
    mid: str  # the round's id in receipts: b64u(SHA-256(JCS(manifest)))


def log_parameters(manifest: Mapping[str, Any]) -> LogParameters:
    """The log's origin and Ed25519 key, and the round's ``mid``, from its manifest."""
    origin = manifest.get("origin")
    if not isinstance(origin, str) or not origin:
        raise TilesError("the manifest names no origin")
    key = b64u_decode(manifest.get("log_key"), "log_key", 32)
    mid = base64.urlsafe_b64encode(sha256(rfc8785.dumps(dict(manifest)))).rstrip(b"=")
    return LogParameters(origin, key, mid.decode("ascii"))


def read_log(fetch: Fetch, origin: str, public_key: bytes) -> LogView:
    """Verify the latest checkpoint and every tile of its size (see the module's docstring)."""
    try:
        note = fetch("checkpoint").decode("utf-8")
    except UnicodeDecodeError as e:
        raise TilesError("the checkpoint is not UTF-8") from e
    checkpoint = parse_checkpoint(note, origin, public_key)
    size = checkpoint.size
    entries: list[bytes] = []
    for n, width in tiles_of(size):
        data = fetch_tile(fetch, None, n, width)
        entries += decode_bundle(data, width, tile_path(None, n, width))
    leaves = [leaf_hash(e) for e in entries]
    levels: list[list[bytes]] = []
    below = leaves  # the hashes level L must hold, computed from the level under it
    level = 0
    while size // TILE_WIDTH**level:
        count = size // TILE_WIDTH**level
        got: list[bytes] = []
        for n, width in tiles_of(count):
            path = tile_path(level, n, width)
            got += split_hashes(fetch_tile(fetch, level, n, width), width, path)
        for i, (a, b) in enumerate(zip(got, below, strict=True)):
            if a != b:
                what = "the entry's leaf hash" if level == 0 else "the subtree's root"
                raise TilesError(f"hash {i} at level {level} is not {what}")
        levels.append(got)
        # level L+1 hash j: the root of the full level-L tile j (256 * 256**L leaves)
        below = [mth(got[j : j + TILE_WIDTH]) for j in range(0, len(got) // 256 * 256, 256)]
        level += 1
    if mth(leaves) != checkpoint.root:
        raise TilesError("the entries do not rebuild the checkpoint's root")
    return LogView(checkpoint, entries, leaves, levels)


def verify_receipt(
    receipt: Mapping[str, Any],
    fetch: Fetch,
    origin: str,
    public_key: bytes,
    mid: str,
    log: LogView | None = None,
) -> Checkpoint:
    """A participant's receipt against the tiles; returns the receipt's checkpoint. ``mid``
    is the round's (:func:`log_parameters`), which the receipt's ``round`` must be."""
    if receipt.get("round") != mid:
        raise TilesError("the receipt is of another round")
    index = receipt.get("leaf_index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise TilesError("bad leaf_index")
    leaf = b64u_decode(receipt.get("leaf_hash"), "leaf_hash", 32)
    note = receipt.get("checkpoint")
    if not isinstance(note, str):
        raise TilesError("the receipt has no checkpoint")
    checkpoint = parse_checkpoint(note, origin, public_key)
    if index >= checkpoint.size:
        raise TilesError("the leaf is beyond the receipt's checkpoint")
    # The level-0 tile holding the leaf, as the (verified) receipt checkpoint's tree has it.
    n = index // TILE_WIDTH
    width = min(TILE_WIDTH, checkpoint.size - n * TILE_WIDTH)
    path = tile_path(0, n, width)
    hashes = split_hashes(fetch_tile(fetch, 0, n, width), width, path)
    if hashes[index % TILE_WIDTH] != leaf:
        raise TilesError(f"the leaf hash at {index} in {path} is not the receipt's")
    proof = receipt.get("inclusion")
    if not isinstance(proof, list):
        raise TilesError("the receipt has no inclusion proof")
    verify_inclusion(
        index,
        checkpoint.size,
        leaf,
        [b64u_decode(p, "inclusion", 32) for p in proof],
        checkpoint.root,
    )
    if log is not None:
        if checkpoint.size > log.checkpoint.size:
            raise TilesError("the receipt's checkpoint is ahead of the log read")
        if mth(log.leaf_hashes[: checkpoint.size]) != checkpoint.root:
            raise TilesError("the receipt's tree is not a prefix of the log")
    return checkpoint
