"""A witness's HTTP endpoint (c2sp.org/tlog-witness) and its durable state.

``POST /add-checkpoint`` is the only operation. Its answers are plain text, as the spec
says, not the JSON of the reference server: 200 with the cosignature line, 409 with the
witness's size (``text/x.tlog.size``), 404 for a log the witness does not follow, 403 for a
checkpoint without a valid signature by its log, 422 for a proof that does not verify, 400
for a malformed body, 413 beyond :data:`MAX_BODY`. The checkpoint is stored (SQLite,
``synchronous=FULL``) before the answer leaves: a crash loses nothing acknowledged.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from anonballot.errors import (
    AnonBallotError,
    InvalidProof,
    InvalidSignature,
    NotFound,
)
from anonballot.signing import VerifyKey
from anonballot.witness import SizeConflict, Witness, WitnessKey

__all__ = ["DB_NAME", "MAX_BODY", "SqliteWitnessStore", "create_witness_app"]

DB_NAME = "witness.db"
MAX_BODY = 64 * 1024
"""The largest request body taken: 63 proof lines and a checkpoint with its signatures fit
many times over."""

SIZE_TYPE = "text/x.tlog.size"
HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


class SqliteWitnessStore:
    """The latest cosigned checkpoint of each log, in ``DIR/witness.db`` (folder mode 700,
    file mode 600). Compare-and-replace runs in one ``BEGIN IMMEDIATE`` transaction, so two
    requests (or two processes) cannot roll a log back."""

    def __init__(self, data: Path) -> None:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(data, 0o700)
        path = data / DB_NAME
        path.touch(mode=0o600, exist_ok=True)
        os.chmod(path, 0o600)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS latest (origin TEXT PRIMARY KEY, size TEXT NOT NULL, "
            "note TEXT NOT NULL) WITHOUT ROWID"
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def latest(self, origin: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT note FROM latest WHERE origin = ?", (origin,))
            found = row.fetchone()
        return str(found[0]) if found else None

    def replace(self, origin: str, expected_size: int | None, size: int, note: str) -> None:
        # Sizes are uint64, beyond SQLite's signed integers: kept as decimal text.
        with self._transaction() as conn:
            row = conn.execute("SELECT size FROM latest WHERE origin = ?", (origin,)).fetchone()
            current = int(row[0]) if row else None
            if current != expected_size:
                raise SizeConflict("the witness's checkpoint changed meanwhile", current or 0)
            conn.execute(
                "INSERT INTO latest (origin, size, note) VALUES (?, ?, ?) ON CONFLICT (origin) "
                "DO UPDATE SET size = excluded.size, note = excluded.note",
                (origin, str(size), note),
            )


STATUS: tuple[tuple[type[AnonBallotError], int], ...] = (
    (SizeConflict, 409),
    (NotFound, 404),
    (InvalidSignature, 403),
    (InvalidProof, 422),
    (AnonBallotError, 400),
)
"""The status of each refusal (c2sp.org/tlog-witness), the first class that matches."""


def _text(status: int, text: str, media_type: str = "text/plain; charset=utf-8") -> Response:
    # Response, not PlainTextResponse: that would add "; charset=utf-8" to text/x.tlog.size
    return Response(text.encode(), status, headers={**HEADERS, "content-type": media_type})


class TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):
        raise HTTPException(400, "Content-Length: expected a non-negative integer")
    if declared is not None and int(declared) > MAX_BODY:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_witness_app(
    key: WitnessKey, logs: Mapping[str, VerifyKey], store: SqliteWitnessStore
) -> Starlette:
    """The witness's application: ``POST /add-checkpoint`` over ``store``."""
    witness = Witness(key, logs, store)

    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _read_body(request)
        except TooLarge:
            return _text(413, f"the request body is larger than {MAX_BODY} bytes\n")
        try:
            cosignature = await run_in_threadpool(witness.add_checkpoint, body, int(time.time()))
        except AnonBallotError as exc:
            if isinstance(exc, SizeConflict):
                return _text(409, f"{exc.size}\n", SIZE_TYPE)
            status = next(code for cls, code in STATUS if isinstance(exc, cls))
            return _text(status, f"{exc.detail}\n")
        return _text(200, cosignature)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        if status == 405:
            response = _text(405, f"{request.method} is not allowed here\n")
            response.headers["allow"] = "POST"
            return response
        if status == 404:
            return _text(404, f"there is nothing at {request.url.path}\n")
        return _text(status, "the request is malformed\n")

    return Starlette(
        routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])],
        exception_handlers={HTTPException: http_error},
    )
