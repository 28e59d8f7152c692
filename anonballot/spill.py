"""Bounded memory for the auditor's per-ballot state: temporary files instead of lists.

An audit of a national round keeps, for each ballot, things it can only judge at the end: the
comments the recomputed results list (sorted), the invalid ballots, the voter keys whose
repetition fails A5. Held in Python objects these grow by about 0.7 KB per ballot. Here:

- :class:`SortedSpill`: byte strings added in any order and read back sorted bytewise, as
  an external merge sort: sorted runs of at most :data:`RUN_BYTES` are written to anonymous
  temporary files and merged (``heapq.merge``) when read. Reading may be repeated.
- :class:`DuplicateFinder`: fixed-width records (voter-key prefixes), hash-partitioned to
  temporary files as they come; at the end each partition in turn is loaded into a set.
  Memory is one partition's share of the records, disk the records themselves.

What is spilled is derived from the record (at most a few bytes per byte of the board), so
the temporary disk used is bounded by the record's size. The files are created with
:func:`tempfile.TemporaryFile` (unlinked at once: nothing is left behind, even on a crash)
and closed with their object.
"""

from __future__ import annotations

import heapq
import os
import struct
import sys
import tempfile
import weakref
from array import array
from collections.abc import Iterable, Iterator
from typing import IO

__all__ = ["RUN_BYTES", "DuplicateFinder", "SortedSpill"]

RUN_BYTES = 8 * 1024 * 1024
"""Bytes of items (their payload plus a per-object allowance) held before a run is written."""

MAX_RUNS = 32
"""Runs merged at once; more are merged into one run first (few: 32 runs of 8 MiB each)."""

_ITEM_OVERHEAD = 48
"""What a small bytes object and its list slot cost besides the payload, roughly."""

_BLOCK = 256 * 1024
_LENGTH = struct.Struct(">I")


class _Run:
    """A sorted run on disk: items as 4-byte big-endian lengths and the bytes."""

    def __init__(self, items: Iterable[bytes]) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        weakref.finalize(self, self.file.close)  # closed with its run, unless closed before
        pack = _LENGTH.pack
        out: list[bytes] = []
        size = 0
        for item in items:
            out.append(pack(len(item)))
            out.append(item)
            size += len(item) + 4
            if len(out) >= 8192:
                self.file.write(b"".join(out))
                out = []
        if out:
            self.file.write(b"".join(out))
        self.file.flush()
        self.size = size

    def __iter__(self) -> Iterator[bytes]:
        # os.pread: every reader has its own offset, so that several may read at once
        fd = self.file.fileno()
        unpack = _LENGTH.unpack_from
        offset = 0
        buf = b""
        pos = 0
        while True:
            if pos + 4 <= len(buf):
                (n,) = unpack(buf, pos)
                end = pos + 4 + n
                if end <= len(buf):
                    yield buf[pos + 4 : end]
                    pos = end
                    continue
            if offset >= self.size:
                if pos != len(buf):
                    raise RuntimeError("a spill file ends inside an item")
                return
            chunk = os.pread(fd, max(_BLOCK, len(buf) - pos + 4), offset)
            if not chunk:
                raise RuntimeError("a spill file is shorter than written")
            offset += len(chunk)
            buf = buf[pos:] + chunk
            pos = 0

    def close(self) -> None:
        self.file.close()


class SortedSpill:
    """Byte strings in, the same sorted bytewise out (:meth:`__iter__`), in bounded memory."""

    def __init__(self, run_bytes: int | None = None) -> None:
        self.run_bytes = RUN_BYTES if run_bytes is None else run_bytes
        self.count = 0
        """Items added."""
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._runs: list[_Run] = []

    def add(self, item: bytes) -> None:
        self._buffer.append(item)
        self.count += 1
        self._buffered += len(item) + _ITEM_OVERHEAD
        if self._buffered >= self.run_bytes:
            self._spill()

    def extend(self, items: list[bytes]) -> None:
        self._buffer.extend(items)
        self.count += len(items)
        self._buffered += sum(map(len, items)) + _ITEM_OVERHEAD * len(items)
        if self._buffered >= self.run_bytes:
            self._spill()

    def _spill(self) -> None:
        self._buffer.sort()
        self._runs.append(_Run(self._buffer))
        self._buffer = []
        self._buffered = 0
        if len(self._runs) >= MAX_RUNS:
            merged = _Run(heapq.merge(*self._runs))
            for run in self._runs:
                run.close()
            self._runs = [merged]

    def __iter__(self) -> Iterator[bytes]:
        """Every item, sorted; may be called again (nothing may be added meanwhile)."""
        self._buffer.sort()
        if not self._runs:
            return iter(self._buffer)
        return heapq.merge(*self._runs, iter(self._buffer))

    def close(self) -> None:
        for run in self._runs:
            run.close()
        self._runs = []
        self._buffer = []


class DuplicateFinder:
    """Records of ``width`` bytes (8: unsigned integers in machine order are compared), added
    in blobs already split by :meth:`partition`; :meth:`finish` counts the distinct ones and
    returns those seen more than once. ``partitions`` is a power of two up to 256: the
    records' first byte chooses theirs, so memory at the end is about ``1/partitions`` of a
    set of all of them."""

    def __init__(self, width: int, partitions: int) -> None:
        if partitions < 1 or partitions > 256 or partitions & (partitions - 1):
            raise ValueError("partitions: a power of two from 1 to 256")
        self.width = width
        self.partitions = partitions
        self.shift = 8 - (partitions.bit_length() - 1)
        self._files: dict[int, IO[bytes]] = {}
        weakref.finalize(self, _close_all, self._files)

    @staticmethod
    def for_count(count: int) -> int:
        """Partitions for about ``count`` records: 65,536 or fewer to a partition."""
        parts = 1
        while parts < 256 and parts * 65536 < count:
            parts *= 2
        return parts

    def partition(self, record: bytes) -> int:
        return record[0] >> self.shift

    def add(self, part: int, blob: bytes) -> None:
        """Records (a multiple of ``width`` bytes) all of partition ``part``."""
        if len(blob) % self.width:
            raise ValueError("a blob of whole records")
        f = self._files.get(part)
        if f is None:
            f = self._files[part] = tempfile.TemporaryFile(buffering=16 * 1024)  # noqa: SIM115
        f.write(blob)

    def finish(self) -> tuple[int, set[bytes]]:
        """(distinct records, records seen more than once); closes the files."""
        distinct = 0
        repeated: set[bytes] = set()
        w = self.width
        for part in sorted(self._files):
            f = self._files[part]
            f.flush()
            f.seek(0)
            data = f.read()
            f.close()
            del self._files[part]
            if w == 8:
                values = array("Q")
                values.frombytes(data)
                unique = set(values)
                distinct += len(unique)
                if len(unique) != len(values):
                    seen: set[int] = set()
                    for v in values:
                        if v in seen:
                            repeated.add(v.to_bytes(8, sys.byteorder))
                        seen.add(v)
            else:
                records = [data[i : i + w] for i in range(0, len(data), w)]
                unique_b = set(records)
                distinct += len(unique_b)
                if len(unique_b) != len(records):
                    seen_b: set[bytes] = set()
                    for r in records:
                        if r in seen_b:
                            repeated.add(r)
                        seen_b.add(r)
        return distinct, repeated

    def close(self) -> None:
        _close_all(self._files)


def _close_all(files: dict[int, IO[bytes]]) -> None:
    for f in files.values():
        f.close()
    files.clear()
