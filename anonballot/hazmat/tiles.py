"""C2SP tlog-tiles: the board served as static tiles (https://c2sp.org/tlog-tiles).

HAZMAT: raw log math, like :mod:`anonballot.hazmat.merkle`. It knows tile paths, which
tiles a tree size has, the hashes of a tile (read from a :class:`MerkleTree`) and the entry
bundle encoding; it does not say what the entries are (the board's leaves, protocol
section 6.3) nor which tree size a log has published (its latest checkpoint, section 6.6).

A tile at level ``L`` is a run of up to 256 consecutive Merkle tree hashes, each the root of
a complete subtree of ``256**L`` leaves: hash ``i`` of tile ``N`` is
``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])``, a node of height ``8 L``.
Level 0 holds leaf hashes. A tree of size ``s`` has ``s >> 8L`` such hashes at level ``L``:
``(s >> 8L) // 256`` full tiles and, when ``(s >> 8L) % 256`` is not 0, one partial tile of
that width. An entry bundle holds the entries of a level-0 tile, each as a big-endian
uint16 length and its bytes, so an entry is at most 65,535 bytes.

Paths (relative to the log's prefix)::

    tile/<L>/<N>[.p/<W>]        L: 0..63, decimal, no leading zero
    tile/entries/<N>[.p/<W>]    W: 1..255, decimal, no leading zero

``N`` is written in groups of three digits, every group but the last prefixed with ``x``:
1234067 is ``x001/x234/067``. :meth:`TilePath.parse` accepts exactly the canonical text
(no extra leading ``x000`` group), so one tile has one path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import InputError, NotFound
from .merkle import MerkleTree

__all__ = [
    "MAX_ENTRY_SIZE",
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TilePath",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "entries_range",
    "hashes_at_level",
    "tile_hashes",
    "tile_levels",
    "tiles_for_size",
]

TILE_HEIGHT = 8
"""Tree levels covered by one tile: its hashes are nodes of height ``8 L``."""
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes (or entries) of a full tile: 256."""
MAX_LEVEL = 63
"""The highest level a tile path may name."""
MAX_ENTRY_SIZE = 0xFFFF
"""The largest entry an entry bundle can carry (a uint16 length): 65,535 bytes."""

_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"([0-9]{3})(?:\.p)?")
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


def _bad(path: str, why: str) -> InputError:
    return InputError(f"{path!r} is not a tile path: {why}", code="bad_tile_path")


@dataclass(frozen=True)
class TilePath:
    """One tile: ``level`` (None for an entry bundle), ``index`` ``N`` and ``width``
    (None for a full tile, else 1 to 255)."""

    level: int | None
    index: int
    width: int | None = None

    def __post_init__(self) -> None:
        if self.level is not None and not (
            isinstance(self.level, int) and 0 <= self.level <= MAX_LEVEL
        ):
            raise InputError(f"tile level {self.level!r} is not 0 to {MAX_LEVEL}")
        if not isinstance(self.index, int) or self.index < 0:
            raise InputError(f"tile index {self.index!r} is not a non-negative integer")
        if self.width is not None and not (
            isinstance(self.width, int) and 1 <= self.width < TILE_WIDTH
        ):
            raise InputError(f"partial tile width {self.width!r} is not 1 to {TILE_WIDTH - 1}")

    @property
    def is_entries(self) -> bool:
        return self.level is None

    @property
    def hash_level(self) -> int:
        """The level of the tile's hashes: an entry bundle matches the level-0 tile."""
        return 0 if self.level is None else self.level

    @property
    def count(self) -> int:
        """How many hashes (or entries) the tile holds."""
        return TILE_WIDTH if self.width is None else self.width

    @property
    def full(self) -> TilePath:
        """The full tile at the same place."""
        return TilePath(self.level, self.index)

    def index_path(self) -> str:
        """``N`` in groups of three digits, ``x`` before every group but the last."""
        digits = str(self.index)
        digits = "0" * (-len(digits) % 3) + digits
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
        return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])

    def path(self) -> str:
        """The path below the log's prefix, e.g. ``tile/0/x001/234.p/5``."""
        level = "entries" if self.level is None else str(self.level)
        suffix = "" if self.width is None else f".p/{self.width}"
        return f"tile/{level}/{self.index_path()}{suffix}"

    @classmethod
    def parse(cls, path: str) -> TilePath:
        """The tile of a canonical path ``tile/<L or entries>/<N>[.p/<W>]``.

        Raises :class:`InputError` (code ``bad_tile_path``) for any other text.
        """
        if not isinstance(path, str) or not path.isascii():
            raise _bad(str(path), "not ASCII")
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "tile":
            raise _bad(path, "expected tile/<L>/<N> or tile/entries/<N>")
        level: int | None
        if parts[1] == "entries":
            level = None
        elif _LEVEL.fullmatch(parts[1]) and int(parts[1]) <= MAX_LEVEL:
            level = int(parts[1])
        else:
            raise _bad(path, f"the level is 0 to {MAX_LEVEL} or 'entries'")
        rest = parts[2:]
        width: int | None = None
        if len(rest) >= 2 and rest[-2].endswith(".p"):
            if not _WIDTH.fullmatch(rest[-1]) or int(rest[-1]) >= TILE_WIDTH:
                raise _bad(path, f"a partial tile's width is 1 to {TILE_WIDTH - 1}")
            width = int(rest[-1])
            rest = rest[:-1]
        elif rest[-1].endswith(".p"):
            raise _bad(path, "'.p' is followed by /<width>")
        *groups, last = rest
        match = _LAST.fullmatch(last)
        if match is None or (width is None) != (last == match.group(1)):
            raise _bad(path, "the index ends in a group of three digits")
        if not all(_GROUP.fullmatch(g) for g in groups):
            raise _bad(path, "every group of the index but the last is x and three digits")
        if groups and groups[0] == "x000":
            raise _bad(path, "the index has a leading group of zeros")
        index = int("".join(g[1:] for g in groups) + match.group(1))
        return cls(level, index, width)


def hashes_at_level(size: int, level: int) -> int:
    """How many level-``level`` hashes a tree of ``size`` leaves has: ``size >> 8L``."""
    return size >> (TILE_HEIGHT * level) if level <= MAX_LEVEL else 0


def _check_exists(tile: TilePath, size: int) -> None:
    """Raise :class:`NotFound` unless a tree of ``size`` leaves holds all of ``tile``."""
    available = hashes_at_level(size, tile.hash_level)
    if tile.index * TILE_WIDTH + tile.count > available:
        raise NotFound(f"{tile.path()} is beyond the tree of size {size}", code="tile_not_found")


def tile_hashes(tree: MerkleTree, tile: TilePath, size: int) -> bytes:
    """The hash tile ``tile`` of the first ``size`` leaves of ``tree``: its hashes, 32 bytes
    each, concatenated.

    Raises :class:`NotFound` (code ``tile_not_found``) when that tree does not hold every
    hash of the tile (an index beyond it, or a partial tile wider than what exists), and
    :class:`InputError` for an entry bundle or a ``size`` beyond ``tree``.
    """
    if tile.level is None:
        raise InputError("an entry bundle holds entries, not hashes")
    if not isinstance(size, int) or not 0 <= size <= tree.size:
        raise InputError(f"tree size {size!r} is out of range for tree size {tree.size}")
    _check_exists(tile, size)
    start = tile.index * TILE_WIDTH
    # Hash i of the tile is the complete subtree of height 8 L at position start + i: the
    # tree keeps every complete subtree, so a tile is a slice of one of its levels.
    return b"".join(tree.complete_subtrees(TILE_HEIGHT * tile.level, start, start + tile.count))


def entries_range(tile: TilePath, size: int) -> tuple[int, int]:
    """The leaf indices ``[start, end)`` of entry bundle ``tile`` in a tree of ``size``.

    Raises :class:`NotFound` (``tile_not_found``) as :func:`tile_hashes` does.
    """
    if tile.level is not None:
        raise InputError("a hash tile holds hashes, not entries")
    _check_exists(tile, size)
    start = tile.index * TILE_WIDTH
    return start, start + tile.count


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries as a bundle: each a big-endian uint16 length, then its bytes.

    Raises :class:`InputError` for an entry longer than :data:`MAX_ENTRY_SIZE`.
    """
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise InputError(
                f"entry {i} is {len(entry)} bytes; an entry bundle holds at most {MAX_ENTRY_SIZE}",
                code="entry_too_large",
            )
        out += len(entry).to_bytes(2, "big")
        out += entry
    return bytes(out)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; raises :class:`InputError` if it does not split exactly."""
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise InputError("entry bundle: a length is cut short")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > len(data):
            raise InputError("entry bundle: an entry is cut short")
        entries.append(data[pos : pos + length])
        pos += length
    if len(entries) > TILE_WIDTH:
        raise InputError(f"entry bundle: more than {TILE_WIDTH} entries")
    return entries


def tile_levels(size: int) -> list[int | None]:
    """The kinds of tile a tree of ``size`` leaves has: None (the entry bundles), then each
    hash level that holds at least one hash."""
    levels: list[int | None] = [None]
    level = 0
    while hashes_at_level(size, level):
        levels.append(level)
        level += 1
    return levels


def tiles_for_size(size: int) -> Iterator[TilePath]:
    """Every tile of a tree of ``size`` leaves: the full tiles of each level, then its
    partial tile when it has one, and the entry bundles likewise (level 0's)."""
    for tile_level in tile_levels(size):
        count = hashes_at_level(size, 0 if tile_level is None else tile_level)
        for index in range(count // TILE_WIDTH):
            yield TilePath(tile_level, index)
        if count % TILE_WIDTH:
            yield TilePath(tile_level, count // TILE_WIDTH, count % TILE_WIDTH)
