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
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .errors import RecordError

__all__ = ["MAX_LEAF_LINE", "Record", "is_confidential", "public_part", "write_record"]

MAX_LEAF_LINE = 96 * 1024
"""No valid leaf line is longer (64 KiB of ciphertext in base64url plus the rest)."""

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
            try:
                self._zip = zipfile.ZipFile(self.source)
            except (zipfile.BadZipFile, OSError) as exc:
                raise RecordError(
                    f"{self.source}: not a folder or a zip file", code="no_record"
                ) from exc
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

    def read(self, name: str, *, limit: int = 64 * 1024 * 1024) -> bytes:
        """The bytes of one file; :class:`RecordError` if it is missing or too large."""
        if not self.exists(name):
            raise RecordError(f"the record has no {name}", code="missing_file")
        if self._zip is not None:
            info = self._zip.getinfo(self._prefix + name)
            if info.file_size > limit:
                raise RecordError(f"{name} is too large", code="bad_record")
            try:
                return self._zip.read(info)
            except _ZIP_ERRORS as exc:  # a damaged member is bad input, not a zipfile/zlib error
                raise RecordError(f"{name}: damaged zip member ({exc})", code="bad_record") from exc
        path = self._root / name
        if path.stat().st_size > limit:
            raise RecordError(f"{name} is too large", code="bad_record")
        return path.read_bytes()

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

    def board(self) -> Iterator[bytes]:
        """The board's lines, one at a time, each with its final newline.

        A line without a final newline (the last line of a truncated file, or a line longer
        than :data:`MAX_LEAF_LINE`, which is cut there and skipped to its end) is passed on
        without one, so that the audit reports it at its index. A damaged zip member raises
        :class:`RecordError` where the damage is found.
        """
        if not self.exists("board.jsonl"):
            raise RecordError("the record has no board.jsonl", code="missing_file")
        stream: io.BufferedIOBase
        if self._zip is not None:
            stream = self._zip.open(self._prefix + "board.jsonl")  # type: ignore[assignment]
        else:
            stream = (self._root / "board.jsonl").open("rb")
        with stream:
            while True:
                try:
                    line = stream.readline(MAX_LEAF_LINE + 1)
                    # A zip member's readline(limit) may return more than limit bytes
                    # (CPython's IOBase.readline): measure the line, not the request.
                    ended = line.endswith(b"\n")
                    if len(line) - ended > MAX_LEAF_LINE:
                        rest = line
                        while rest and not rest.endswith(b"\n"):
                            rest = stream.readline(MAX_LEAF_LINE)
                        line = line[:MAX_LEAF_LINE]
                except _ZIP_ERRORS as exc:  # damage is bad input, not a zipfile/zlib error
                    raise RecordError(
                        f"board.jsonl: damaged zip member ({exc})", code="bad_record"
                    ) from exc
                if not line:
                    return
                yield line
