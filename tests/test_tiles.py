"""C2SP tlog-tiles (anonballot.hazmat.tiles): paths, tiles against an independent tree,
entry bundles, and the engine's tiles of a real board (protocol section 6.8)."""

from __future__ import annotations

import pytest
from _hypothesis import examples
from _mth import reference_mth
from conftest import RoundFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.checkpoint import Checkpoint
from anonballot.errors import InputError, NotFound
from anonballot.hazmat.merkle import MerkleTree, leaf_hash, node_hash
from anonballot.hazmat.tiles import (
    MAX_ENTRY_SIZE,
    TilePath,
    decode_entry_bundle,
    encode_entry_bundle,
    tile_hashes,
    tiles_for_size,
)
from anonballot.signing import SigningKey


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _expected_tile(hashes: list[bytes], level: int, index: int, width: int) -> bytes:
    """The spec's formula: MTH(D[(n*256 + i) * 256**l : (n*256 + i + 1) * 256**l])."""
    span = 256**level
    return b"".join(
        reference_mth(hashes[(index * 256 + i) * span : (index * 256 + i + 1) * span])
        for i in range(width)
    )


# -- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tile", "path"),
    [
        (TilePath(0, 0), "tile/0/000"),
        (TilePath(0, 1234067), "tile/0/x001/x234/067"),  # the spec's example
        (TilePath(1, 1000), "tile/1/x001/000"),
        (TilePath(2, 999), "tile/2/999"),
        (TilePath(0, 5, 112), "tile/0/005.p/112"),
        (TilePath(63, 0, 1), "tile/63/000.p/1"),
        (TilePath(None, 1234, 255), "tile/entries/x001/234.p/255"),
        (TilePath(None, 0), "tile/entries/000"),
    ],
)
def test_path_encoding(tile: TilePath, path: str) -> None:
    assert tile.path() == path
    assert TilePath.parse(path) == tile


@given(
    st.one_of(st.none(), st.integers(0, 63)),
    st.integers(0, 2**64),
    st.one_of(st.none(), st.integers(1, 255)),
)
@settings(max_examples=examples(200))
def test_path_round_trip(level: int | None, index: int, width: int | None) -> None:
    tile = TilePath(level, index, width)
    assert TilePath.parse(tile.path()) == tile


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",  # not three digits
        "tile/0/0001",
        "tile/00/000",  # leading zero in the level
        "tile/64/000",  # level beyond 63
        "tile/-1/000",
        "tile/x/000",
        "tile/0/x000/001",  # a leading group of zeros: not the one path of tile 1
        "tile/0/001/002",  # the x is missing
        "tile/0/x001",  # the last group has no x
        "tile/0/x01/000",
        "tile/0/000.p/0",  # width 0
        "tile/0/000.p/256",  # width beyond 255
        "tile/0/000.p/05",
        "tile/0/000.p",
        "tile/0/000.p/",
        "tile/0/000/",
        "tile/0/x001.p/5/000",
        "tile/0/x001/000.p/5/6",
        "tile/0/000.q/5",
        "tile/entries/000.p/1/",
        "tile/Entries/000",
        "tiles/0/000",
        "tile/0",
        "tile/0/\u0660\u0660\u0660",  # Arabic-Indic digits are digits to str.isdigit
    ],
)
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(InputError) as caught:
        TilePath.parse(path)
    assert caught.value.code == "bad_tile_path"


def test_spec_example_of_a_tree_of_70000() -> None:
    # c2sp.org/tlog-tiles: 273 full level-0 tiles, a partial one of width 112, one full
    # level-1 tile, a partial level-1 tile of width 17 and a partial level-2 tile of width 1.
    tiles = [t for t in tiles_for_size(70_000) if t.level is not None]
    assert [t for t in tiles if t.level == 0 and t.width is None] == [
        TilePath(0, i) for i in range(273)
    ]
    assert [t for t in tiles if t.width is not None] == [
        TilePath(0, 273, 112),
        TilePath(1, 1, 17),
        TilePath(2, 0, 1),
    ]
    assert [t for t in tiles if t.level == 1 and t.width is None] == [TilePath(1, 0)]
    assert len([t for t in tiles_for_size(70_000) if t.level is None]) == 274
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    # tile of width 1"
    assert [t for t in tiles_for_size(256) if t.level is not None] == [
        TilePath(0, 0),
        TilePath(1, 0, 1),
    ]
    assert list(tiles_for_size(0)) == []


# -- hash tiles against an independent tree ---------------------------------------------------

HASHES = _leaves(70_000)
TREE = MerkleTree(HASHES)


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 511, 512, 65_535, 65_536, 70_000])
def test_every_tile_of_a_size_is_the_subtree_roots(size: int) -> None:
    hashes = HASHES[:size]
    for tile in tiles_for_size(size):
        if tile.level is None or (tile.level == 0 and tile.index % 37):
            continue  # the level-0 tiles are checked in the root rebuild below
        expected = _expected_tile(hashes, tile.level, tile.index, tile.count)
        assert tile_hashes(TREE, tile, size) == expected, tile.path()


@pytest.mark.parametrize("size", [1, 3, 256, 300, 65_536, 70_000])
def test_root_rebuilt_from_level_0_tiles(size: int) -> None:
    leaf_hashes = b"".join(tile_hashes(TREE, t, size) for t in tiles_for_size(size) if t.level == 0)
    rebuilt = [leaf_hashes[i : i + 32] for i in range(0, len(leaf_hashes), 32)]
    assert len(rebuilt) == size
    assert reference_mth(rebuilt) == TREE.root(size)


def test_the_highest_tiles_give_the_root() -> None:
    # 65,536 leaves: one full level-1 tile of 256 roots of level-0 tiles; their MTH is the
    # root, and the partial level-2 tile of width 1 is that root itself.
    level1 = tile_hashes(TREE, TilePath(1, 0), 65_536)
    roots = [level1[i : i + 32] for i in range(0, len(level1), 32)]
    assert reference_mth(roots) == TREE.root(65_536)
    assert tile_hashes(TREE, TilePath(2, 0, 1), 65_536) == TREE.root(65_536)


def test_partial_tiles_are_prefixes_of_the_full_tile() -> None:
    full = tile_hashes(TREE, TilePath(0, 3), 70_000)
    for width in (1, 17, 255):
        assert tile_hashes(TREE, TilePath(0, 3, width), 70_000) == full[: 32 * width]


@pytest.mark.parametrize(
    ("tile", "size"),
    [
        (TilePath(0, 0), 255),  # not full yet
        (TilePath(0, 0, 6), 5),  # wider than what exists
        (TilePath(0, 1, 1), 256),
        (TilePath(1, 0, 1), 255),
        (TilePath(1, 0), 65_535),
        (TilePath(3, 0, 1), 70_000),
        (TilePath(63, 0, 1), 70_000),
        (TilePath(0, 10**30), 70_000),
        (TilePath(0, 0, 1), 0),
    ],
)
def test_tiles_beyond_the_size_are_not_found(tile: TilePath, size: int) -> None:
    with pytest.raises(NotFound) as caught:
        tile_hashes(TREE, tile, size)
    assert caught.value.code == "tile_not_found"


def test_a_size_beyond_the_tree_is_refused() -> None:
    with pytest.raises(InputError):
        tile_hashes(MerkleTree(HASHES[:10]), TilePath(0, 0, 5), 11)


# -- entry bundles ----------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=300), max_size=40))
@settings(max_examples=examples(100))
def test_entry_bundle_round_trip(entries: list[bytes]) -> None:
    bundle = encode_entry_bundle(entries)
    assert decode_entry_bundle(bundle) == entries
    assert len(bundle) == sum(2 + len(e) for e in entries)


def test_entry_bundle_encoding_is_uint16_big_endian() -> None:
    assert encode_entry_bundle([b"ab", b"", b"x" * 258]) == (
        b"\x00\x02ab" + b"\x00\x00" + b"\x01\x02" + b"x" * 258
    )


def test_the_largest_entry_fits_and_one_more_byte_does_not() -> None:
    assert decode_entry_bundle(encode_entry_bundle([b"x" * MAX_ENTRY_SIZE])) == [
        b"x" * MAX_ENTRY_SIZE
    ]
    with pytest.raises(InputError) as caught:
        encode_entry_bundle([b"x" * (MAX_ENTRY_SIZE + 1)])
    assert caught.value.code == "entry_too_large"


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x05abc", b"\x00\x01a\x00"])
def test_a_cut_bundle_is_refused(data: bytes) -> None:
    with pytest.raises(InputError):
        decode_entry_bundle(data)


def test_merkle_tree_complete_subtrees_checks_its_range() -> None:
    tree = MerkleTree(HASHES[:5])
    assert tree.complete_subtrees(0, 0, 5) == HASHES[:5]
    assert tree.complete_subtrees(1, 0, 2) == [
        node_hash(HASHES[0], HASHES[1]),
        node_hash(HASHES[2], HASHES[3]),
    ]
    for height, start, end in [(1, 0, 3), (3, 0, 1), (0, 3, 2), (0, -1, 2), (40, 0, 1)]:
        with pytest.raises(InputError):
            tree.complete_subtrees(height, start, end)


# -- the engine: the board as tiles ------------------------------------------------------------


def test_engine_tiles_are_the_published_board(make_round: RoundFactory) -> None:
    demo = make_round(wards=1, voters=3)
    engine = demo.engine
    assert engine.published()[1] == 0
    with pytest.raises(NotFound):
        engine.tile(TilePath(0, 0, 1))
    leaves = [demo.cast(i)[1] for i in range(3)]
    note, size = engine.published()
    checkpoint = Checkpoint.parse(note, demo.manifest.origin, demo.manifest.log_key)
    assert size == checkpoint.size == 3 == len(leaves)
    stored = list(engine.leaves(0, 3))
    bundle = decode_entry_bundle(engine.tile(TilePath(None, 0, 3)))
    assert bundle == stored  # each entry is the leaf's bytes as cast, without a newline
    level0 = engine.tile(TilePath(0, 0, 3))
    assert level0 == b"".join(leaf_hash(e) for e in bundle)
    assert reference_mth([level0[i : i + 32] for i in range(0, 96, 32)]) == checkpoint.root
    assert engine.tile(TilePath(0, 0, 2)) == level0[:64]  # an earlier checkpoint's tile
    for beyond in (TilePath(0, 0, 4), TilePath(None, 0, 4), TilePath(0, 0), TilePath(1, 0, 1)):
        with pytest.raises(NotFound):
            engine.tile(beyond)


def test_a_leaf_too_large_for_a_bundle_is_a_clear_refusal(make_round: RoundFactory) -> None:
    demo = make_round(wards=1, voters=1)
    # A board made before the cap of protocol section 6.3 may hold a larger leaf: stored
    # here directly, as such a store would hold it.
    big = b"x" * (MAX_ENTRY_SIZE + 1)
    log = SigningKey(demo.store.get_secret("log") or b"")
    note = Checkpoint(demo.manifest.origin, 1, leaf_hash(big)).sign(log)
    demo.store.append_leaves([(big, b"k" * 32)], note)
    with pytest.raises(NotFound) as caught:
        demo.engine.tile(TilePath(None, 0, 1))
    assert caught.value.code == "entry_too_large"
