"""The round record (protocol section 9): writing and reading, as a folder or a ``.zip``.

::

    <round_id>/manifest.json        signed manifest
    <round_id>/board.jsonl          one leaf per line, exactly its JCS bytes, in board order
    <round_id>/checkpoint.txt       final signed checkpoint
    <round_id>/close.json           signed close statement
    <round_id>/issuance.json        the issuance ledger
    <round_id>/releases/<trustee>.json
    <round_id>/results.json         signed results
    <round_id>/checkpoints/*.txt    optional: earlier checkpoints collected by anyone

A folder record is the ``<round_id>/`` folder itself (or a folder holding exactly one such
folder); a zip record holds the files under ``<round_id>/``. The board is streamed, never
loaded whole.

A record may come from anyone, a hostile server included, so reading it is bounded: a file
is measured by the bytes really read (inflated), never by the size a zip header declares; a
zip member may not inflate to more than :data:`MAX_INFLATE_RATIO` times its compressed size
(past :data:`INFLATE_ALLOWANCE`); and the board is read up to a number of lines the caller
gives (the audit: the final checkpoint's size plus one). Past a bound the reader stops with
a :class:`RecordError` of code ``too_large``. An encrypted zip, or one compressed with a
method this reader lacks, is refused when it is opened.
"""

from __future__ import annotations

import os
import secrets
import shutil
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from .errors import RecordError

__all__ = [
    "INFLATE_ALLOWANCE",
    "MAX_FILE_SIZE",
    "MAX_INFLATE_RATIO",
    "MAX_LEAF_LINE",
    "Record",
    "is_confidential",
    "public_part",
    "write_record",
]

MAX_LEAF_LINE = 96 * 1024
"""No valid leaf line is longer (64 KiB of ciphertext in base64url plus the rest)."""

MAX_FILE_SIZE = 64 * 1024 * 1024
"""The largest record file but the board that is read (:meth:`Record.read`): a large
round's ``results.json``, every comment included, is a few MiB."""

MAX_INFLATE_RATIO = 200
"""How many times its compressed size a zip member may inflate to. A record's JSON files
deflate 2 to 15 times, its board (base64url ciphertext) about 1.4 times; deflate reaches
about 1000 on repeated bytes, which is what a zip bomb uses."""

INFLATE_ALLOWANCE = 1024 * 1024
"""Bytes any zip member may inflate to whatever its ratio (a tiny file compresses well)."""

# The compression methods read: what write_record and every common zip tool write. zipfile
# would fail mid-read on others (NotImplementedError for deflate64 or AES, and bzip2 and
# lzma raise their own errors on damage): refused when the zip is opened.
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})

# What reading a damaged zip member raises (a bad CRC, a broken deflate stream, a cut-off
# file); Record turns these into RecordError so that callers see one exception tree.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)


def is_confidential(name: str) -> bool:
    """Whether a record file belongs to the confidential part of a restricted round:
    the trustees' releases and the results (protocol section 9.1)."""
    return name == "results.json" or name.startswith("releases/")


def public_part(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The record files but the confidential ones (:func:`is_confidential`)."""
    return {name: data for name, data in files.items() if not is_confidential(name)}


def _temporary_name(parent: Path, suffix: str = "") -> Path:
    # Fix: tempfile.mkstemp/mkdtemp create mode 0600/0700, so a published record was
    # unreadable to everyone but its writer. A fresh name created with the ordinary modes
    # (umask applies) keeps the write-beside-then-rename scheme.
    return parent / f".record-{secrets.token_hex(8)}{suffix}"


def write_record(
    dest: str | os.PathLike[str],
    round_id: str,
    files: Mapping[str, bytes],
    leaves: Iterable[bytes],
    *,
    public_only: bool = False,
) -> Path:
    """Write a record to ``dest``: a ``.zip`` if the name ends so, else a folder.

    With ``public_only``, the releases and the results are left out: the public part of a
    restricted round's record (protocol section 9.1), which the audit checks up to A9.

    The folder (or zip) is written beside its final name and moved into place, so a crash
    never leaves a half-written record under that name.
    """
    if public_only:
        files = public_part(files)
    path = Path(dest)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zip":
        tmp = _temporary_name(path.parent, ".zip")
        try:  # a failed write leaves no temporary zip behind
            with zipfile.ZipFile(tmp, "x", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, data in sorted(files.items()):
                    zf.writestr(f"{round_id}/{name}", data)
                with zf.open(f"{round_id}/board.jsonl", "w", force_zip64=True) as out:
                    for leaf in leaves:
                        out.write(leaf + b"\n")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path
    tmpdir = _temporary_name(path.parent)
    tmpdir.mkdir()
    try:
        for name, data in files.items():
            target = tmpdir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        with (tmpdir / "board.jsonl").open("wb") as out:
            for leaf in leaves:
                out.write(leaf + b"\n")
        # an existing file or symlink at dest is replaced too, not only a folder
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        tmpdir.rename(path)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return path


class Record:
    """Read access to a record folder or zip."""

    def __init__(self, source: str | os.PathLike[str]) -> None:
        self.source = Path(source)
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if not self.source.exists():
            raise RecordError(f"{self.source}: no such file or folder", code="no_record")
        if self.source.is_dir():
            root = self.source
            if not (root / "manifest.json").is_file():
                inner = [p for p in root.iterdir() if (p / "manifest.json").is_file()]
                if len(inner) != 1:
                    raise RecordError(
                        f"{self.source}: not a round record (no manifest.json)", code="no_record"
                    )
                root = inner[0]
            self._root = root
        else:
            _check_directory(self.source)
            try:
                self._zip = zipfile.ZipFile(self.source)
            except (zipfile.BadZipFile, OSError) as exc:
                raise RecordError(
                    f"{self.source}: not a folder or a zip file", code="no_record"
                ) from exc
            _check_members(self._zip, self.source)
            # Only "manifest.json" or "<dir>/manifest.json" is a manifest (protocol 9.1):
            # a bare endswith("manifest.json") would take "x/old-manifest.json" for one.
            tops = {
                n[: -len("manifest.json")]
                for n in self._zip.namelist()
                if n == "manifest.json" or (n.endswith("/manifest.json") and n.count("/") == 1)
            }
            if len(tops) != 1:
                raise RecordError(
                    f"{self.source}: not a round record (no manifest.json)", code="no_record"
                )
            self._prefix = tops.pop()
            self._root = Path()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self._prefix.rstrip("/") if self._zip else self._root.name

    def exists(self, name: str) -> bool:
        if self._zip is not None:
            try:
                self._zip.getinfo(self._prefix + name)
            except KeyError:
                return False
            return True
        return (self._root / name).is_file()

    def read(self, name: str, *, limit: int = MAX_FILE_SIZE) -> bytes:
        """The bytes of one file; :class:`RecordError` if it is missing, damaged, or larger
        than ``limit`` (code ``too_large``: counted as read, whatever its header says)."""
        if not self.exists(name):
            raise RecordError(f"the record has no {name}", code="missing_file")
        with self._open(name, limit) as stream:
            chunks = []
            while chunk := stream.read(1024 * 1024):
                chunks.append(chunk)
            return b"".join(chunks)

    def stream(self, name: str) -> _Bounded:
        """``name`` as a stream to read a part of at a time (a context manager with
        ``read``): no size limit but, in a zip, :data:`MAX_INFLATE_RATIO`. The caller
        bounds what it reads. :class:`RecordError` if it is missing or damaged."""
        if not self.exists(name):
            raise RecordError(f"the record has no {name}", code="missing_file")
        return self._open(name, None, whole=False)

    def _open(self, name: str, limit: int | None, *, whole: bool = True) -> _Bounded:
        """``name`` as a stream that stops past ``limit`` bytes read (None: no limit but, in
        a zip, :data:`MAX_INFLATE_RATIO`). ``whole``: the file is to be read to its end, so
        one whose size already says it is too large is refused before reading."""
        if self._zip is None:
            path = self._root / name
            if whole and limit is not None and path.stat().st_size > limit:
                raise _too_large(name, limit)
            return _Bounded(path.open("rb"), name, limit, limit)
        info = self._zip.getinfo(self._prefix + name)
        ratio_limit = max(INFLATE_ALLOWANCE, MAX_INFLATE_RATIO * info.compress_size)
        bound = ratio_limit if limit is None else min(limit, ratio_limit)
        # what the header admits needs no inflating to be refused
        if info.file_size > (bound if whole else ratio_limit):
            raise _too_large(name, limit if whole else None, ratio_limit)
        try:
            stream = self._zip.open(info)
        except _ZIP_ERRORS as exc:
            raise RecordError(f"{name}: damaged zip member ({exc})", code="bad_record") from exc
        return _Bounded(stream, name, bound, limit, ratio_limit)

    def names(self, folder: str) -> list[str]:
        """Files directly inside ``folder/``, as record-relative names, sorted."""
        prefix = folder.rstrip("/") + "/"
        if self._zip is not None:
            full = self._prefix + prefix
            return sorted(
                n[len(self._prefix) :]
                for n in self._zip.namelist()
                if n.startswith(full) and "/" not in n[len(full) :] and n != full
            )
        base = self._root / prefix
        if not base.is_dir():
            return []
        return sorted(prefix + p.name for p in base.iterdir() if p.is_file())

    def board_size_bytes(self) -> int:
        """The board's size in bytes (uncompressed); 0 when the record has no board."""
        # A record without board.jsonl is still a record: the audit reports the missing
        # board as a failed check (protocol 9.2), so nothing here may raise for it.
        if not self.exists("board.jsonl"):
            return 0
        if self._zip is not None:
            return self._zip.getinfo(self._prefix + "board.jsonl").file_size
        return (self._root / "board.jsonl").stat().st_size

    def board(self, *, max_lines: int | None = None) -> Iterator[bytes]:
        """The board's lines, one at a time, each with its final newline.

        A line without a final newline (the last line of a truncated file, or a line longer
        than :data:`MAX_LEAF_LINE`, which is cut there and skipped to its end) is passed on
        without one, so that the audit reports it at its index. A damaged zip member raises
        :class:`RecordError` where the damage is found.

        With ``max_lines``, at most that many lines are read, and at most ``max_lines``
        lines of :data:`MAX_LEAF_LINE` bytes: a line that goes on past that raises
        :class:`RecordError` (``too_large``) rather than being skipped to its end.
        """
        if not self.exists("board.jsonl"):
            raise RecordError("the record has no board.jsonl", code="missing_file")
        budget = None if max_lines is None else max_lines * (MAX_LEAF_LINE + 1)
        count = 0
        with self._open("board.jsonl", budget, whole=False) as stream:
            while max_lines is None or count < max_lines:
                count += 1
                line = stream.readline(MAX_LEAF_LINE + 1)
                # A zip member's readline(limit) may return more than limit bytes
                # (CPython's IOBase.readline): measure the line, not the request.
                ended = line.endswith(b"\n")
                if len(line) - ended > MAX_LEAF_LINE:
                    rest = line
                    while rest and not rest.endswith(b"\n"):
                        rest = stream.readline(MAX_LEAF_LINE)
                    line = line[:MAX_LEAF_LINE]
                if not line:
                    return
                yield line


MAX_ZIP_DIRECTORY = 16 * 1024 * 1024
"""The largest central directory of a record's zip read (some 300,000 members at the least
size each takes; a record has a few files, and a few thousand checkpoints at the most)."""
MAX_ZIP_MEMBERS = 100_000
"""The most members a record's zip may declare."""


def _check_directory(source: Path) -> None:
    """Refuse a zip whose central directory, which zipfile reads whole into memory when it
    opens it, is larger than :data:`MAX_ZIP_DIRECTORY` or declares more than
    :data:`MAX_ZIP_MEMBERS` members: read from its end records before zipfile does. A file
    without an end record is left for zipfile to refuse."""
    try:
        with source.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            tail = min(size, 0xFFFF + 22 + 56 + 20)  # a comment, the end record, zip64's
            f.seek(size - tail)
            data = f.read(tail)
    except OSError:
        return
    end = data.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(data):
        return
    members = int.from_bytes(data[end + 10 : end + 12], "little")
    directory = int.from_bytes(data[end + 12 : end + 16], "little")
    zip64 = data.rfind(b"PK\x06\x06", 0, end)
    if zip64 >= 0 and zip64 + 56 <= end:
        members = max(members, int.from_bytes(data[zip64 + 32 : zip64 + 40], "little"))
        directory = max(directory, int.from_bytes(data[zip64 + 40 : zip64 + 48], "little"))
    if members > MAX_ZIP_MEMBERS or directory > MAX_ZIP_DIRECTORY:
        raise RecordError(
            f"{source}: not read, its zip lists {members} members in {directory} bytes (a round "
            f"record has a few files; at most {MAX_ZIP_MEMBERS} members and "
            f"{MAX_ZIP_DIRECTORY} bytes are read)",
            code="too_large",
        )


def _check_members(zf: zipfile.ZipFile, source: Path) -> None:
    """Refuse a zip whose members zipfile would fail on mid-read (RuntimeError,
    NotImplementedError): an encrypted member (a round record is never encrypted), or a
    compression method other than stored and deflate."""
    for info in zf.infolist():
        if info.flag_bits & 0x1:
            problem = f"an encrypted zip ({info.filename}); a round record is not encrypted"
        elif info.compress_type not in _METHODS:
            problem = (
                f"{info.filename} is compressed with zip method {info.compress_type}, which "
                "a round record does not use (stored or deflate)"
            )
        else:
            continue
        zf.close()
        raise RecordError(f"{source}: {problem}", code="bad_record")


def _too_large(name: str, limit: int | None, ratio_limit: int | None = None) -> RecordError:
    if ratio_limit is not None and (limit is None or ratio_limit < limit):
        why = (
            f"it inflates to more than {MAX_INFLATE_RATIO} times its compressed size (a zip bomb?)"
        )
    else:
        why = f"it is larger than {limit} bytes"
    return RecordError(f"{name}: not read, {why}", code="too_large")


class _Bounded:
    """A record file's stream that counts the bytes really read (a zip member's inflated
    bytes, not its declared size) and raises :class:`RecordError` (``too_large``) past
    ``bound``, the smaller of the caller's ``limit`` and the zip's ``ratio_limit``."""

    def __init__(
        self,
        stream: IO[bytes],
        name: str,
        bound: int | None,
        limit: int | None,
        ratio_limit: int | None = None,
    ) -> None:
        self.stream, self.name, self.bound = stream, name, bound
        self.limit, self.ratio_limit = limit, ratio_limit
        self.count = 0

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.bound is not None and self.count > self.bound:
            raise _too_large(self.name, self.limit, self.ratio_limit)
        return data

    def read(self, size: int = -1) -> bytes:
        try:
            return self._counted(self.stream.read(size))
        except _ZIP_ERRORS as exc:  # a damaged member is bad input, not a zipfile/zlib error
            raise RecordError(
                f"{self.name}: damaged zip member ({exc})", code="bad_record"
            ) from exc

    def readline(self, size: int = -1) -> bytes:
        try:
            return self._counted(self.stream.readline(size))
        except _ZIP_ERRORS as exc:
            raise RecordError(
                f"{self.name}: damaged zip member ({exc})", code="bad_record"
            ) from exc

    def __enter__(self) -> _Bounded:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()
