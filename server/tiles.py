"""Each round's board as a C2SP tlog-tiles log (protocol section 6.8): routes and a folder.

- :func:`log_routes` serves ``/log/{round_id}/checkpoint`` (the latest signed checkpoint,
  short-lived) and ``/log/{round_id}/tile/...`` (hash tiles and entry bundles, immutable),
  computed from the engine's tree in memory; full tiles are kept in a bounded cache.
- :class:`TileFolder` writes the same files under ``--tiles-dir`` as the board grows, so
  that a static web server or an object store can serve them in front of the application:
  each full tile once, the partial tiles of each new checkpointed size, and the
  ``checkpoint`` file last, every file atomically (a temporary file, fsync, rename). It runs
  in a thread of its own after the group commits, so no cast waits for it; at start it
  catches up with the database, which holds everything acknowledged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from anonballot.board import TILE_WIDTH, TilePath, hashes_at_level, tile_levels
from anonballot.engine import Round
from anonballot.errors import AnonBallotError, InputError

from .errors import http_status, one_line
from .service import Service
from .store import SqlRoundStore

__all__ = [
    "CHECKPOINT_CACHE",
    "TILE_CACHE",
    "TileCache",
    "TileFolder",
    "log_routes",
]

logger = logging.getLogger(__name__)

TILE_CACHE = "public, max-age=31536000, immutable"
"""Every tile path names fixed bytes: a tile's hashes are roots of complete subtrees and its
entries are leaves on disk, neither of which ever changes (c2sp.org/tlog-tiles)."""
CHECKPOINT_CACHE = "no-cache"
"""The checkpoint changes with each commit: a cache must ask again every time."""
CACHE_BYTES = 64 * 1024 * 1024
"""Most bytes of full tiles kept in memory by the routes (a full hash tile is 8 KiB; a full
entry bundle of typical leaves a few hundred KiB)."""


class TileCache:
    """Full tiles by (round, mid, path), least recently used dropped beyond ``limit`` bytes.

    Only full tiles: their bytes never change. Partial tiles are cheap to make and many."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self._items: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: tuple[str, str, str], data: bytes) -> None:
        if len(data) > self.limit:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = data
            self._bytes += len(data)
            while self._bytes > self.limit:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)


ANYONE = {"access-control-allow-origin": "*"}
"""The log is public: any page may read it (a monitor's, another district's tool), and it
is read without credentials, so no other CORS header is needed."""


def _error(exc: AnonBallotError) -> Response:
    # An answer for a path beyond the tree now may be a tile later: never cached.
    return JSONResponse(
        {"error": exc.code, "detail": exc.detail},
        status_code=http_status(exc),
        headers={"cache-control": "no-store", **ANYONE},
    )


def serve_tile(engine: Round, tile: TilePath, cache: TileCache) -> bytes:
    """The bytes of ``tile`` of the round's published board, from ``cache`` when full."""
    key = (engine.manifest.round_id, engine.mid, tile.path())
    if tile.width is None:
        cached = cache.get(key)
        if cached is not None:
            # A full tile is cached only once the published size covered it, and sizes
            # only grow.
            return cached
    data = engine.tile(tile)
    if tile.width is None:
        cache.put(key, data)
    return data


def log_routes(service: Service, cache: TileCache | None = None) -> list[BaseRoute]:
    """``/log/{round_id}/checkpoint`` and ``/log/{round_id}/tile/...`` of every round."""
    tiles = cache or TileCache()

    async def checkpoint(request: Request) -> Response:
        try:
            engine = service.round(request.path_params["round_id"])
            note, _ = await run_in_threadpool(engine.published)
        except AnonBallotError as exc:
            return _error(exc)
        return Response(
            note,
            media_type="text/plain; charset=utf-8",
            headers={"cache-control": CHECKPOINT_CACHE, **ANYONE},
        )

    async def tile(request: Request) -> Response:
        try:
            path = TilePath.parse("tile/" + request.path_params["path"])
            engine = service.round(request.path_params["round_id"])
            data = await run_in_threadpool(serve_tile, engine, path, tiles)
        except AnonBallotError as exc:
            return _error(exc)
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"cache-control": TILE_CACHE, **ANYONE},
        )

    return [
        Route("/log/{round_id}/checkpoint", checkpoint, methods=["GET", "HEAD"]),
        Route("/log/{round_id}/tile/{path:path}", tile, methods=["GET", "HEAD"]),
    ]


# -- the tiles folder ------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` whole or not at all, even after a crash: a temporary file in
    the same folder, flushed to disk, then renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # public: whatever serves the folder reads it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _note_size(note: str) -> int | None:
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 2 and lines[1].isdigit() else None


class TileFolder:
    """Writes every round's log under ``root/<round_id>/`` (the layout of ``/log/``).

    :meth:`notify` (after a commit: a set and an event, nothing else) wakes the writer
    thread, which brings each notified round's folder up to the round's latest checkpoint.
    Several commits before a pass make one pass, and passes are at least :attr:`INTERVAL`
    apart: the work waiting is at most one entry per round. A pass that fails (a full disk)
    is tried again a few seconds later.
    """

    RETRY = 5.0
    """Seconds before a failed pass is tried again."""
    INTERVAL = 0.25
    """Least seconds between two passes: the commits meanwhile make one pass, so that under
    load the writer does not take CPU from the casts (bench/README.md, "Tiles"); the
    folder's checkpoint trails the database's by about this much."""
    FOLLOW = 1.0
    """With several instances on one database: seconds between two looks at the open rounds,
    whose boards the other instances grow without this one's commits notifying it."""

    def __init__(self, service: Service, root: str | Path) -> None:
        self.service = service
        self.root = Path(root)
        self._published: dict[str, int] = {}
        self._notes: dict[str, str] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._busy = False
        self._restart: set[str] = set()
        self._thread: threading.Thread | None = None

    # -- the thread ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer; it first catches up every round (:meth:`catch_up`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._pending.update(r for r, state in self.service.round_ids() if state != "draft")
            self._restart |= self._pending
        self._thread = threading.Thread(target=self._run, name="tiles", daemon=True)
        self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)

    def notify(self, round_id: str) -> None:
        """The round's board (or state) changed: bring its folder up to date soon."""
        with self._lock:
            self._pending.add(round_id)
        self._wake.set()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is pending (for tests and shutdown); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending and not self._busy, timeout)

    def _run(self) -> None:
        shared = self.service.shared  # other instances append too: look at the open rounds
        while not self._stop.is_set():
            self._wake.wait(self.FOLLOW if shared else self.RETRY)
            self._wake.clear()
            others = self._open_rounds() if shared else set()
            with self._lock:
                pending, self._pending = self._pending | others, set()
                self._busy = True
            failed = set()
            for round_id in sorted(pending):
                try:
                    self.sync(round_id, verify=round_id in self._restart)
                    self._restart.discard(round_id)
                except psycopg.OperationalError as exc:  # the database away: tried again
                    logger.warning("the tiles of round %s: %s", round_id, one_line(exc))
                    failed.add(round_id)
                except Exception:  # a full disk must not stop the server: tried again
                    logger.exception("writing the tiles of round %s failed", round_id)
                    failed.add(round_id)
            with self._idle:
                self._pending |= failed
                self._busy = False
                self._idle.notify_all()
            self._stop.wait(self.INTERVAL)

    def _open_rounds(self) -> set[str]:
        try:
            return {r for r, state in self.service.round_ids() if state == "open"}
        except psycopg.OperationalError as exc:  # the database away: the next pass looks again
            logger.warning("listing the open rounds for the tiles folder: %s", one_line(exc))
            return set()

    # -- one pass ------------------------------------------------------------------------------

    def folder(self, round_id: str) -> Path:
        return self.root / round_id

    def _folder_size(self, engine: Round, folder: Path) -> int:
        """The size of the folder's checkpoint: 0 when it has none. Raises when the folder
        is not this round's log (its checkpoint is not one the database signed)."""
        try:
            note = (folder / "checkpoint").read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0
        size = _note_size(note)
        store = engine.store
        if size is None or not isinstance(store, SqlRoundStore):
            raise InputError(f"{folder / 'checkpoint'} is not a checkpoint")
        stored = store.checkpoint_at(size)
        # the body only: the witnesses' cosignatures are added to a stored note later
        if stored is None or _body(stored) != _body(note):
            raise InputError(
                f"{folder / 'checkpoint'} is not a checkpoint of this round's database (a "
                "database restored from an older backup, or another server's folder): the "
                "folder is left as it is; move it away to have it written again"
            )
        return size

    def sync(self, round_id: str, *, verify: bool = False) -> int:
        """Bring ``root/<round_id>/`` up to the round's latest checkpoint; its size.

        ``verify`` (the first pass after a start) checks every full tile of the folder's
        size, not only the new ones: files renamed into place before a crash are whole, but
        a crash may have lost some of them.
        """
        engine = self.service.round(round_id)
        if engine.state == "draft":
            return 0
        note, size = engine.published()
        folder = self.folder(round_id)
        old = self._published.get(round_id)
        if old is None or verify:
            old = self._folder_size(engine, folder)
            start = 0
        else:
            start = old
        if size < old:
            raise InputError(f"the folder of {round_id} is ahead of its database")
        store = engine.store
        sizes = store.checkpoint_sizes(old, size) if isinstance(store, SqlRoundStore) else [size]
        write_tiles(engine, folder, start, old, size, sizes)
        if note != self._notes.get(round_id) or verify or not (folder / "checkpoint").exists():
            _write_atomic(folder / "checkpoint", note.encode("utf-8"))  # last: see module
        self._published[round_id] = size
        self._notes[round_id] = note  # rewritten when the witnesses' cosignatures arrive
        return size


def _body(note: str) -> str:
    """A signed note's text, without its signature lines."""
    return note[: note.rfind("\n\n") + 1]


def _full_count(size: int, tile: TilePath) -> int:
    return hashes_at_level(size, tile.hash_level) // TILE_WIDTH


def write_tiles(
    engine: Round, folder: Path, start: int, old: int, size: int, sizes: list[int]
) -> None:
    """Write the tiles of the board of ``size`` leaves that the folder may lack.

    Full tiles that hold leaves from ``start`` on are written when missing, and partial
    tiles are written for each checkpointed size in ``sizes`` (above ``old``) at places
    not full at ``size``: those of the tree at ``size`` last. The partial tiles of a place
    that became full are removed (c2sp.org/tlog-tiles allows it: a client falls back on
    the full tile, whose first hashes are the same), so the folder holds at most 255
    partial tiles per level. A partial entry bundle is written for ``size`` only: it costs
    up to 255 leaves, and a client checks a receipt's checkpoint with hash tiles.
    """
    levels = tile_levels(size)
    for tile_level in levels:
        probe = TilePath(tile_level, 0)
        first = _full_count(start, probe)
        for index in range(first, _full_count(size, probe)):
            tile = TilePath(tile_level, index)
            path = folder / tile.path()
            if not path.exists():
                _write_atomic(path, engine.tile(tile, size))
            partials = path.with_name(path.name + ".p")
            if partials.exists():
                shutil.rmtree(partials, ignore_errors=True)
    for checkpointed in [*(s for s in sizes if old < s < size), size]:
        for tile_level in levels:
            count = hashes_at_level(checkpointed, 0 if tile_level is None else tile_level)
            width = count % TILE_WIDTH
            if not width or (tile_level is None and checkpointed != size):
                continue
            tile = TilePath(tile_level, count // TILE_WIDTH, width)
            if tile.index < _full_count(size, tile):
                continue  # full at size: the full tile serves this checkpoint's clients
            path = folder / tile.path()
            if not path.exists():
                _write_atomic(path, engine.tile(tile, size))
