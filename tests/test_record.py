"""The round record (anonballot.record): writing and reading folders and zips, streaming."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest
from _records import patch_zip_member

from anonballot.errors import InputError, RecordError
from anonballot.record import MAX_LEAF_LINE, Record, write_record

ROUND = "round-x"
FILES = {
    "manifest.json": b'{"manifest":{}}',
    "checkpoint.txt": b"origin\n0\nroot\n",
    "close.json": b"{}",
    "releases/b-trustee.json": b'{"b":1}',
    "releases/a-trustee.json": b'{"a":1}',
    "checkpoints/1.txt": b"one\n",
}
LEAVES = [b'{"leaf":1}', b'{"leaf":2}', b'{"leaf":"\xc3\xa9"}']


@pytest.fixture(params=["folder", "zip"])
def written(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    name = "rec.zip" if request.param == "zip" else "rec"
    return write_record(tmp_path / name, ROUND, FILES, iter(LEAVES))


def test_write_and_read_back(written: Path) -> None:
    with Record(written) as record:
        assert record.name == (ROUND if written.suffix == ".zip" else "rec")
        for name, data in FILES.items():
            assert record.exists(name)
            assert record.read(name) == data
        assert not record.exists("results.json")
        assert record.names("releases") == ["releases/a-trustee.json", "releases/b-trustee.json"]
        assert record.names("releases/") == record.names("releases")
        assert record.names("checkpoints") == ["checkpoints/1.txt"]
        assert record.names("nothing-here") == []
        assert list(record.board()) == [leaf + b"\n" for leaf in LEAVES]
        assert record.board_size_bytes() == sum(len(leaf) + 1 for leaf in LEAVES)


def test_zip_layout(tmp_path: Path) -> None:
    path = write_record(tmp_path / "rec.zip", ROUND, FILES, iter(LEAVES))
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert all(n.startswith(f"{ROUND}/") for n in names)
    assert f"{ROUND}/board.jsonl" in names
    assert [p.name for p in tmp_path.iterdir()] == ["rec.zip"]  # no temporary file left


def test_missing_file_and_size_limit(written: Path) -> None:
    with Record(written) as record:
        with pytest.raises(RecordError) as missing:
            record.read("results.json")
        assert missing.value.code == "missing_file"
        with pytest.raises(RecordError) as large:
            record.read("manifest.json", limit=3)
        assert large.value.code == "too_large"


def test_written_record_is_readable_by_others(tmp_path: Path) -> None:
    # the record is meant to be published: not the 0700/0600 of a temporary file
    old = os.umask(0o022)
    try:
        folder = write_record(tmp_path / "rec", ROUND, FILES, iter(LEAVES))
        archive = write_record(tmp_path / "rec.zip", ROUND, FILES, iter(LEAVES))
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE(archive.stat().st_mode) == 0o644


def test_write_replaces_existing(tmp_path: Path) -> None:
    dest = tmp_path / "rec"
    write_record(dest, ROUND, FILES, iter(LEAVES))
    (dest / "stray.txt").write_text("old")
    write_record(dest, ROUND, FILES, iter(LEAVES[:1]))
    assert not (dest / "stray.txt").exists()
    assert (dest / "board.jsonl").read_bytes() == LEAVES[0] + b"\n"
    # an existing file at the destination is replaced as well
    other = tmp_path / "file"
    other.write_text("x")
    write_record(other, ROUND, FILES, iter(LEAVES))
    assert (other / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "rec"]


def test_write_failure_leaves_nothing(tmp_path: Path) -> None:
    def leaves() -> list[bytes]:
        raise OSError("disk full")

    for name in ("rec", "rec.zip"):
        with pytest.raises(OSError, match="disk full"):
            write_record(tmp_path / name, ROUND, FILES, iter(leaves()))
    assert list(tmp_path.iterdir()) == []


def _board(tmp_path: Path, data: bytes, kind: str) -> Record:
    if kind == "zip":
        path = tmp_path / "r.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("r/manifest.json", b"{}")
            zf.writestr("r/board.jsonl", data)
        return Record(path)
    root = tmp_path / "r"
    root.mkdir()
    (root / "manifest.json").write_bytes(b"{}")
    (root / "board.jsonl").write_bytes(data)
    return Record(root)


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_board_lines_keep_newline_and_truncated_last_line(tmp_path: Path, kind: str) -> None:
    with _board(tmp_path, b"a\n\nbc\r\nlast", kind) as record:
        assert list(record.board()) == [b"a\n", b"\n", b"bc\r\n", b"last"]
    (tmp_path / "empty").mkdir()
    with _board(tmp_path / "empty", b"", kind) as record:
        assert list(record.board()) == []
        assert record.board_size_bytes() == 0


@pytest.mark.parametrize("kind", ["folder", "zip"])
@pytest.mark.parametrize("extra", [1, 10, 5000, MAX_LEAF_LINE + 3])
def test_board_over_long_line(tmp_path: Path, kind: str, extra: int) -> None:
    long = b"x" * (MAX_LEAF_LINE + extra)
    fits = b"y" * MAX_LEAF_LINE
    data = b"first\n" + long + b"\n" + fits + b"\nafter\n" + long
    with _board(tmp_path, data, kind) as record:
        lines = list(record.board())
    # a line longer than the limit is cut there, without newline, and skipped to its end;
    # a line of exactly the limit is whole
    assert lines == [
        b"first\n",
        long[:MAX_LEAF_LINE],
        fits + b"\n",
        b"after\n",
        long[:MAX_LEAF_LINE],
    ]


def test_missing_board(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "manifest.json").write_bytes(b"{}")
    with Record(root) as record:
        assert record.board_size_bytes() == 0
        with pytest.raises(RecordError):
            list(record.board())


def test_folder_holding_one_record(tmp_path: Path) -> None:
    write_record(tmp_path / "outer" / ROUND, ROUND, FILES, iter(LEAVES))
    (tmp_path / "outer" / "notes.txt").write_text("not a record")
    (tmp_path / "outer" / "other").mkdir()
    with Record(tmp_path / "outer") as record:
        assert record.name == ROUND
        assert record.read("close.json") == b"{}"
        assert len(list(record.board())) == len(LEAVES)
    # two records in one folder: which one is meant?
    write_record(tmp_path / "outer" / "second", ROUND, FILES, iter(LEAVES))
    with pytest.raises(RecordError):
        Record(tmp_path / "outer")


def test_zip_with_record_at_its_top(tmp_path: Path) -> None:
    path = tmp_path / "flat.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", b"{}")
        zf.writestr("board.jsonl", b"a\n")
    with Record(path) as record:
        assert record.read("manifest.json") == b"{}"
        assert list(record.board()) == [b"a\n"]


def test_zip_manifest_name_must_match_exactly(tmp_path: Path) -> None:
    path = tmp_path / "odd.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("r/old-manifest.json", b"{}")
        zf.writestr("r/board.jsonl", b"")
    with pytest.raises(RecordError):
        Record(path)


def test_damaged_zip_member(tmp_path: Path) -> None:
    path = write_record(tmp_path / "r.zip", ROUND, FILES, iter(LEAVES * 50))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(f"{ROUND}/board.jsonl")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x55
    path.write_bytes(bytes(data))
    with Record(path) as record, pytest.raises(RecordError) as damaged:
        list(record.board())
    assert isinstance(damaged.value, InputError)


@pytest.mark.parametrize("kind", ["missing", "file", "empty", "zip-without-manifest", "deep"])
def test_not_a_record(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    if kind == "file":
        target.write_bytes(os.urandom(200))
    elif kind == "empty":
        target.mkdir()
    elif kind == "zip-without-manifest":
        with zipfile.ZipFile(target, "w") as zf:
            zf.writestr("r/board.jsonl", b"")
    elif kind == "deep":  # a record two folders down is not found
        write_record(target / "a" / "b", ROUND, FILES, iter(LEAVES))
    with pytest.raises(RecordError) as error:
        Record(target)
    assert isinstance(error.value, InputError)
    assert error.value.code == "no_record"


# -- bounded reading: a record may come from a hostile server ----------------------------------


def _zip(tmp_path: Path, members: dict[str, bytes], **patch: int) -> Path:
    path = tmp_path / "r.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("r/manifest.json", b"{}")
        for name, data in members.items():
            zf.writestr(f"r/{name}", data)
    if patch:
        patch_zip_member(path, f"r/{next(iter(members))}", **patch)
    return path


def test_zip_bomb_member_is_not_inflated(tmp_path: Path) -> None:
    # 64 MiB of zeros deflate to 64 KiB: far past MAX_INFLATE_RATIO, though below the limit
    bomb = b"\0" * (64 * 1024 * 1024)
    path = _zip(tmp_path, {"results.json": bomb, "board.jsonl": bomb})
    with Record(path) as record:
        with pytest.raises(RecordError) as too_large:
            record.read("results.json", limit=len(bomb) + 1)
        assert too_large.value.code == "too_large"
        assert "zip bomb" in too_large.value.detail
        with pytest.raises(RecordError) as board:
            list(record.board())
        assert board.value.code == "too_large"


def test_zip_member_counted_as_inflated_not_as_declared(tmp_path: Path) -> None:
    # The header says 2 KiB of a 1 MiB member (and so escapes the ratio): what is read
    # stops at what the header says (zipfile), and what is read is what is counted.
    real = os.urandom(512 * 1024).hex().encode()
    path = _zip(tmp_path, {"results.json": real}, file_size=2048)
    with Record(path) as record:
        with pytest.raises(RecordError) as lied:  # the CRC of 2 KiB is not the member's
            record.read("results.json", limit=4096)
        assert lied.value.code == "bad_record"
        with pytest.raises(RecordError) as limited:
            record.read("results.json", limit=1024)
        assert limited.value.code == "too_large"


@pytest.mark.skipif(
    not Path("/proc/self/status").is_file() and os.environ.get("CI") != "true",
    reason="needs Linux's /proc (under CI it must be there: the test then fails, not skips)",
)
def test_folder_file_counted_as_read_not_as_its_size(tmp_path: Path) -> None:
    # /proc files say they are empty (st_size 0) and are not: what is read is counted
    root = tmp_path / "r"
    root.mkdir()
    (root / "manifest.json").write_bytes(b"{}")
    (root / "results.json").symlink_to("/proc/self/status")
    with Record(root) as record:
        assert len(record.read("results.json")) > 100
        with pytest.raises(RecordError) as large:
            record.read("results.json", limit=100)
        assert large.value.code == "too_large"


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_board_read_up_to_max_lines(tmp_path: Path, kind: str) -> None:
    lines = [b"%d\n" % i for i in range(10)]
    with _board(tmp_path, b"".join(lines), kind) as record:
        assert list(record.board(max_lines=3)) == lines[:3]
        assert list(record.board(max_lines=10)) == lines
        assert list(record.board(max_lines=20)) == lines
        assert list(record.board(max_lines=0)) == []


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_board_line_that_never_ends_stops_at_max_lines_of_bytes(tmp_path: Path, kind: str) -> None:
    # without max_lines such a line is skipped to its end, however far that is
    endless = os.urandom(3 * MAX_LEAF_LINE).hex().encode()
    with _board(tmp_path, b"first\n" + endless + b"\nlast\n", kind) as record:
        assert len(list(record.board())) == 3
        with pytest.raises(RecordError) as large:
            list(record.board(max_lines=2))
        assert large.value.code == "too_large"
        # a budget of max_lines whole lines holds them
        assert len(list(record.board(max_lines=10))) == 3


@pytest.mark.parametrize(
    ("patch", "words"),
    [({"flag_bits": 0x1}, "encrypted"), ({"method": 9}, "zip method 9")],
    ids=["encrypted", "deflate64"],
)
def test_zip_zipfile_cannot_read_is_refused_when_opened(
    tmp_path: Path, patch: dict[str, int], words: str
) -> None:
    path = _zip(tmp_path, {"close.json": b"{}"}, **patch)
    with pytest.raises(RecordError) as refused:
        Record(path)
    assert refused.value.code == "bad_record"
    assert words in refused.value.detail


@pytest.mark.parametrize("field", ["directory", "zip64-members"])
def test_a_zip_declaring_a_huge_directory_is_not_opened(tmp_path: Path, field: str) -> None:
    """zipfile reads a zip's whole central directory into memory when it opens it: a
    hostile record declaring a huge one, or millions of members, is refused from its end
    records first (unusable input, as any file over the reader's limits)."""
    import struct

    path = tmp_path / "record.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("r/manifest.json", b"{}")
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    if field == "directory":  # 17 MiB of central directory
        struct.pack_into("<I", data, end + 12, 17 * 1024 * 1024)
    else:  # a zip64 end record before the end record, declaring ten million members
        record = b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, 10**7, 10**7, 46, 0)
        locator = b"PK\x06\x07" + struct.pack("<IQI", 0, end, 1)
        data[end:end] = record + locator
    path.write_bytes(bytes(data))
    with pytest.raises(RecordError) as refused:
        Record(path)
    assert refused.value.code == "too_large"
    assert "a round record has a few files" in refused.value.detail
