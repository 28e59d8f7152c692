"""SQLite storage for the reference server: one database file under the data directory.

:class:`Database` owns the file (WAL, ``synchronous=FULL``, versioned migrations) and the
district-level tables (the district configuration, the roster with its personal data, the
admin token's hash, the access tokens' hashes, the people rated's link keys' hashes and their
remediation plans). :class:`SqliteRoundStore` implements the engine's
:class:`~anonballot.storage.RoundStore` for one round over the same file.

What is stored for a cast ballot is the leaf's bytes and its voter key, nothing else: no
time, no address, no request data. Roster personal data lives in its own table and never
goes into a round record.

Every SQL statement of the server is in this module. It uses :mod:`sqlite3` itself, not
sqlite-utils: the schema is the DDL of versioned migrations under ``PRAGMA user_version``,
which every existing data directory already carries (sqlite-utils' own migrations would be a
second bookkeeping next to it), and every write is a group commit (one ``BEGIN IMMEDIATE``
for many requests, one fsync) whose ``IntegrityError`` becomes a 409 code, which one
``executemany`` states more plainly than a row-by-row insert helper.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from anonballot.errors import Conflict, NotFound
from anonballot.storage import Issuance

__all__ = [
    "SCHEMA_VERSION",
    "Database",
    "PlanRow",
    "SqlDatabase",
    "SqlRoundStore",
    "SqliteRoundStore",
    "Tx",
]

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE roster (
        id INTEGER PRIMARY KEY,
        ward TEXT NOT NULL,
        name TEXT NOT NULL,
        position TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE rounds (round_id TEXT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE documents (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        name TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (round_id, name)
    );
    CREATE TABLE secrets (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        name TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (round_id, name)
    );
    CREATE TABLE invitations (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        code_hash BLOB NOT NULL,
        ward TEXT NOT NULL,
        PRIMARY KEY (round_id, code_hash)
    );
    CREATE TABLE issuances (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        code_hash BLOB NOT NULL,
        ward TEXT NOT NULL,
        pseudonym TEXT NOT NULL,
        blinded BLOB NOT NULL,
        blind_sig BLOB NOT NULL,
        PRIMARY KEY (round_id, code_hash)
    );
    CREATE TABLE leaves (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        idx INTEGER NOT NULL,
        data BLOB NOT NULL,
        voter_key BLOB NOT NULL,
        PRIMARY KEY (round_id, idx),
        UNIQUE (round_id, voter_key)
    );
    CREATE TABLE checkpoints (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        size INTEGER NOT NULL,
        note TEXT NOT NULL,
        PRIMARY KEY (round_id, size)
    );
    """,
    # 2: access tokens of a restricted round's readers, the personal links of the people
    # rated, and their remediation plans (docs/plans.md; nothing here touches a ballot)
    """
    CREATE TABLE access_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        token_sha256 BLOB NOT NULL UNIQUE
    );
    CREATE TABLE leader_keys (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        subject TEXT NOT NULL,
        key_sha256 BLOB NOT NULL UNIQUE,
        PRIMARY KEY (round_id, subject)
    );
    CREATE TABLE plans (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        subject TEXT NOT NULL,
        state TEXT NOT NULL,
        version INTEGER NOT NULL,
        items BLOB NOT NULL,
        remarks TEXT NOT NULL DEFAULT '',
        signed BLOB,
        progress BLOB,
        PRIMARY KEY (round_id, subject)
    );
    """,
    # 3: anonymity at rest (docs/threat-model.md#what-the-database-keeps). The invitations
    # and the issuances lose their rowids, whose order followed the roster and the order of
    # issuance: a WITHOUT ROWID table is stored in the order of its key, a hash. The
    # blinded message and its answer, kept only for retries while issuance is open, may be
    # NULL: forget_issuance_answers() empties them, and a round closed before this version
    # loses them here (the file is then rewritten, _migrate).
    """
    CREATE TABLE invitations_keyed (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        code_hash BLOB NOT NULL,
        ward TEXT NOT NULL,
        PRIMARY KEY (round_id, code_hash)
    ) WITHOUT ROWID;
    INSERT INTO invitations_keyed SELECT round_id, code_hash, ward FROM invitations
        ORDER BY round_id, code_hash;
    DROP TABLE invitations;
    ALTER TABLE invitations_keyed RENAME TO invitations;
    CREATE TABLE issuances_keyed (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        code_hash BLOB NOT NULL,
        ward TEXT NOT NULL,
        pseudonym TEXT NOT NULL,
        blinded BLOB,
        blind_sig BLOB,
        PRIMARY KEY (round_id, code_hash)
    ) WITHOUT ROWID;
    INSERT INTO issuances_keyed
        SELECT i.round_id, i.code_hash, i.ward, i.pseudonym,
            CASE WHEN r.state IN ('closed', 'tallied') THEN NULL ELSE i.blinded END,
            CASE WHEN r.state IN ('closed', 'tallied') THEN NULL ELSE i.blind_sig END
        FROM issuances AS i JOIN rounds AS r ON r.round_id = i.round_id
        ORDER BY i.round_id, i.code_hash;
    DROP TABLE issuances;
    ALTER TABLE issuances_keyed RENAME TO issuances;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
CHECKPOINT_INTERVAL = 0.2
"""Seconds between two checkpoints of the write-ahead log while writes come in."""


class Cursor(Protocol):
    """What a statement run in a transaction gives back (sqlite3's and psycopg's cursors)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...


class Tx(Protocol):
    """The connection of one transaction: statements with ``?`` placeholders."""

    def execute(self, sql: str, args: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


Purpose = Literal["append", "issue", "state"]
"""What a round's lock is taken for (:meth:`SqlRoundStore.locked`)."""


class SqlDatabase(ABC):
    """The district's tables and rounds over SQL, whatever the engine: every statement of the
    server is written once here, with ``?`` placeholders, in the SQL that SQLite and
    PostgreSQL both speak. A back end supplies the connections (:meth:`read`,
    :meth:`transaction`), the round locks (:meth:`lock_round`) and the rewrite that leaves
    nothing of the order of issuance at rest (:meth:`rewrite_issuances`).
    """

    integrity_errors: tuple[type[Exception], ...]
    """The exceptions of a broken constraint (a duplicate key, a NULL): a Conflict or a bug."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def read(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        """The rows of one query (in this thread's transaction, if one is open)."""

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """One atomic write; nested in another of the same thread, it joins it."""

    @abstractmethod
    def lock_round(self, conn: Tx, round_id: str, purpose: Purpose) -> None:
        """Take the round's lock for ``purpose`` until the transaction ends: "append" (a
        group of leaves and its checkpoint: one writer of the board at a time), "issue"
        (token issuances: many at once, but not while the state changes), "state" (open,
        close, tally: alone)."""

    @abstractmethod
    def rewrite_issuances(self) -> None:
        """Rewrite what holds the issuances, after their answers were emptied, so that nothing
        at rest keeps those answers or the order in which issuances came."""

    # -- district-level values ------------------------------------------------------------------

    def get_meta(self, key: str) -> bytes | None:
        rows = self.read("SELECT value FROM meta WHERE key=?", (key,))
        return bytes(rows[0][0]) if rows else None

    def put_meta(self, key: str, value: bytes) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # -- the roster (personal data: never in a round's record) --------------------------------

    def add_roster(self, rows: Sequence[tuple[str, str, str]], *, replace: bool = False) -> None:
        """Add ``(ward, name, position)`` rows in one transaction; ``replace``: drop the old
        roster in the same transaction, so that a failed import leaves the old one whole."""
        with self.transaction() as conn:
            if replace:
                conn.execute("DELETE FROM roster")
            conn.executemany("INSERT INTO roster(ward, name, position) VALUES(?, ?, ?)", rows)

    def roster(self) -> list[tuple[str, str, str]]:
        """Every ``(ward, name, position)`` row, in the order they were added."""
        rows = self.read("SELECT ward, name, position FROM roster ORDER BY id")
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    # -- rounds ------------------------------------------------------------------------------------

    def round_ids(self) -> list[tuple[str, str]]:
        rows = self.read("SELECT round_id, state FROM rounds ORDER BY round_id")
        return [(r[0], r[1]) for r in rows]

    def add_round(self, round_id: str) -> SqlRoundStore:
        exists = Conflict(f"round {round_id!r} already exists", code="round_exists")
        try:
            with self.transaction() as conn:
                if conn.execute("SELECT 1 FROM rounds WHERE round_id=?", (round_id,)).fetchone():
                    raise exists
                conn.execute("INSERT INTO rounds(round_id, state) VALUES(?, 'draft')", (round_id,))
        except self.integrity_errors as exc:  # another instance added it meanwhile
            raise exists from exc
        return SqlRoundStore(self, round_id)

    # -- access tokens (readers of restricted rounds), stored as SHA-256 only ---------------

    def add_access_token(self, name: str, token_sha256: bytes) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO access_tokens(name, token_sha256) VALUES(?, ?) RETURNING id",
                (name, token_sha256),
            )
            return int(cursor.fetchone()[0])

    def access_tokens(self) -> list[tuple[int, str, bytes]]:
        """Every ``(id, name, token_sha256)``, oldest first."""
        rows = self.read("SELECT id, name, token_sha256 FROM access_tokens ORDER BY id")
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def delete_access_token(self, token_id: int) -> bool:
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM access_tokens WHERE id=?", (token_id,))
            return cursor.rowcount > 0

    # -- the personal links of the people rated ------------------------------------------------

    def set_leader_keys(self, round_id: str, keys: Sequence[tuple[str, bytes]]) -> None:
        """Replace the round's ``(subject, key_sha256)`` pairs in one transaction."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM leader_keys WHERE round_id=?", (round_id,))
            conn.executemany(
                "INSERT INTO leader_keys(round_id, subject, key_sha256) VALUES(?, ?, ?)",
                [(round_id, subject, digest) for subject, digest in keys],
            )

    def leader_keys(self, round_id: str) -> list[tuple[str, bytes]]:
        rows = self.read(
            "SELECT subject, key_sha256 FROM leader_keys WHERE round_id=? ORDER BY subject",
            (round_id,),
        )
        return [(str(r[0]), bytes(r[1])) for r in rows]

    # -- remediation plans -------------------------------------------------------------------

    def plan_row(self, round_id: str, subject: str) -> PlanRow | None:
        rows = self.read(
            "SELECT subject, state, version, items, remarks, signed, progress FROM plans "
            "WHERE round_id=? AND subject=?",
            (round_id, subject),
        )
        return _plan_row(rows[0]) if rows else None

    def plan_rows(self, round_id: str) -> list[PlanRow]:
        rows = self.read(
            "SELECT subject, state, version, items, remarks, signed, progress FROM plans "
            "WHERE round_id=? ORDER BY subject",
            (round_id,),
        )
        return [_plan_row(r) for r in rows]

    def put_plan_row(self, round_id: str, row: PlanRow, *, expect: str | None) -> None:
        """Write ``row``; ``expect`` is the state the stored row must still be in (None: no
        row yet), so that two reviewers (or a reviewer and the person rated) acting at once
        cannot both win: the loser gets ``409 plan_changed``."""
        with self.transaction() as conn:
            found = conn.execute(
                "SELECT state FROM plans WHERE round_id=? AND subject=?", (round_id, row.subject)
            ).fetchone()
            if (None if found is None else str(found[0])) != expect:
                raise Conflict("the plan changed meanwhile; load it again", code="plan_changed")
            conn.execute(
                "INSERT INTO plans(round_id, subject, state, version, items, remarks, signed, "
                "progress) VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(round_id, subject) DO "
                "UPDATE SET state=excluded.state, version=excluded.version, "
                "items=excluded.items, remarks=excluded.remarks, signed=excluded.signed, "
                "progress=excluded.progress",
                (round_id, row.subject, row.state, row.version, row.items, row.remarks,
                 row.signed, row.progress),
            )  # fmt: skip

    def round_store(self, round_id: str) -> SqlRoundStore:
        if not self.read("SELECT 1 FROM rounds WHERE round_id=?", (round_id,)):
            raise NotFound(f"there is no round {round_id!r}", code="unknown_round")
        return SqlRoundStore(self, round_id)


class Database(SqlDatabase):
    """The server's SQLite file: one writer connection under a lock, a reader per thread.

    Every write is one ``BEGIN IMMEDIATE ... COMMIT`` on the writer connection, serialized by
    :attr:`lock`; with ``synchronous=FULL`` the commit returns only once the transaction is
    in the write-ahead log on disk, so whatever a caller acknowledges after it survives a
    crash or a power loss. Reads go through :meth:`read`, on a connection of the calling
    thread's own: in WAL mode readers see every committed transaction and neither wait for
    the writer (a group commit holds the lock during its fsync) nor make it wait.

    The write-ahead log is checkpointed into the database file by a background thread
    (``PRAGMA wal_checkpoint(PASSIVE)``, at most every :data:`CHECKPOINT_INTERVAL` seconds
    while writes come in), not by the commit that happens to fill it: SQLite's automatic
    checkpoint copies a few megabytes and fsyncs the database file inside that commit,
    which stalled every request waiting for it for tens of milliseconds. A checkpoint
    changes nothing about durability: a committed transaction is durable in the log.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        private_folder(self.path.parent)
        for file in (self.path, *_log_files(self.path)):
            private_file(file, create=file == self.path)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.conn = conn
        self.lock = threading.RLock()
        conn.execute("PRAGMA journal_mode=WAL")
        # what is deleted is overwritten with zeros, in the file and in the log
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        # Under steady load the log grows (readers keep it from starting over); once it
        # does start over, a log larger than this is cut back.
        conn.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
        self._written = threading.Event()
        self._stopping = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._local = threading.local()
        self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._migrate()

    def close(self) -> None:
        with self.lock, self._readers_lock:
            self._closed = True
            checkpointer = self._checkpointer
        self._stopping.set()
        self._written.set()
        if checkpointer is not None:
            checkpointer.join(30)
        with self.lock, self._readers_lock:
            for _, reader in self._readers:
                reader.close()
            self._readers.clear()
            self.conn.close()  # the last connection: SQLite checkpoints and removes the log

    def _checkpoints(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA synchronous=FULL")
            while not self._closed:
                if not self._written.wait(1.0):
                    continue
                self._written.clear()
                with contextlib.suppress(sqlite3.Error):  # tried again after the next write
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self._stopping.wait(CHECKPOINT_INTERVAL)  # the writes meanwhile: one checkpoint
        finally:
            conn.close()

    def _reader(self) -> sqlite3.Connection:
        reader: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if reader is not None:
            return reader
        with self._readers_lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            # Connections of threads that have ended are closed here, not leaked.
            for thread, old in [r for r in self._readers if not r[0].is_alive()]:
                old.close()
                self._readers.remove((thread, old))
            reader = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            reader.execute("PRAGMA query_only=ON")
            self._readers.append((threading.current_thread(), reader))
        self._local.conn = reader
        return reader

    def read(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        """The rows of one query, read on this thread's reader connection (no lock taken).

        All rows are fetched at once, so the statement's read snapshot ends here.
        """
        return self._reader().execute(sql, args).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: BEGIN IMMEDIATE ... COMMIT, rolled back on any error.

        Nested in another transaction of the same thread, it joins the outer one, so that a
        group of store calls (the engine's ``atomic()``) commits as one.
        """
        with self.lock:
            if self.conn.in_transaction:  # the lock is ours: an outer transaction of this thread
                yield self.conn
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk, an I/O
                # error): a ROLLBACK then would fail and hide the error that matters.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:  # a commit that failed leaves no transaction open
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            if self._checkpointer is None:
                self._checkpointer = threading.Thread(
                    target=self._checkpoints, name="sqlite-checkpointer", daemon=True
                )
                self._checkpointer.start()
            self._written.set()

    integrity_errors = (sqlite3.IntegrityError,)

    def lock_round(self, conn: Tx, round_id: str, purpose: Purpose) -> None:
        """Nothing to take: a transaction is ``BEGIN IMMEDIATE``, the file's one writer."""

    def rewrite_issuances(self) -> None:
        self.rewrite()

    def rewrite(self) -> None:
        """Rewrite the whole file (``VACUUM``): every table in the order of its key, no free
        page keeping what was deleted; then checkpoint the log and cut it to nothing.

        Afterwards the file says nothing about the order in which rows came (its pages and
        the cells in them were laid out afresh) and the log holds no earlier page. It waits
        for the writes in progress and holds them back while it runs.
        """
        with self.lock:
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def _migrate(self) -> None:
        with self.lock:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise NotFound(
                    f"{self.path} has schema version {version}, newer than this anonballot "
                    f"({SCHEMA_VERSION}); upgrade anonballot",
                    code="schema_too_new",
                )
            for number in range(version, SCHEMA_VERSION):
                with self.transaction() as conn:
                    for statement in _statements(MIGRATIONS[number]):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={number + 1}")
            if 0 < version < 3:
                # schema 3 rebuilt the invitations and issuances: the old tables' pages, in
                # arrival order, must not stay in the file (docs/threat-model.md)
                self.rewrite()


@dataclass(frozen=True)
class PlanRow:
    """One person rated's plan as stored: the workflow state (not signed), the items as
    JCS bytes of a list of plan items, and once accepted the signed plan and progress."""

    subject: str
    state: str
    version: int
    items: bytes
    remarks: str
    signed: bytes | None
    progress: bytes | None


def _plan_row(r: Any) -> PlanRow:
    return PlanRow(
        str(r[0]), str(r[1]), int(r[2]), bytes(r[3]), str(r[4]),
        None if r[5] is None else bytes(r[5]), None if r[6] is None else bytes(r[6]),
    )  # fmt: skip


def _issuance(row: Sequence[Any]) -> Issuance:
    """An issuance row; its blinded message and answer are empty once forgotten."""
    return Issuance(str(row[0]), str(row[1]), bytes(row[2] or b""), bytes(row[3] or b""))


def _log_files(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def private_folder(folder: Path) -> None:
    """Make ``folder`` (mode 0700), or take group and others' access away from it: it holds
    every private key of the server and the roster's personal data."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def private_file(path: Path, *, create: bool = False) -> None:
    """Make ``path`` readable and writable by its owner only (0600); ``create`` it empty so
    if it is missing (SQLite gives its log files the database file's mode)."""
    if create:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.exists() and path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


NamedTable = Literal["documents", "secrets"]
"""The two tables of named blobs; the only table names put into SQL text."""


class SqlRoundStore:
    """The :class:`~anonballot.storage.RoundStore` of one round in a :class:`SqlDatabase`
    (SQLite's :class:`Database` or PostgreSQL's :class:`~server.store_pg.PgDatabase`)."""

    def __init__(self, database: SqlDatabase, round_id: str) -> None:
        self.database = database
        self.round_id = round_id

    def _one(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        rows = self.database.read(sql, (self.round_id, *args))
        return tuple(rows[0]) if rows else None

    def atomic(self) -> contextlib.AbstractContextManager[object]:
        """Several writes that take effect together (one transaction)."""
        return self.database.transaction()

    @contextmanager
    def locked(self, purpose: Purpose) -> Iterator[None]:
        """One transaction holding the round's lock for ``purpose``
        (:meth:`SqlDatabase.lock_round`): the reads in it see every write committed before
        by any instance on the database."""
        with self.database.transaction() as conn:
            self.database.lock_round(conn, self.round_id, purpose)
            yield

    def get_state(self) -> str:
        row = self._one("SELECT state FROM rounds WHERE round_id=?")
        if row is None:
            raise NotFound(f"there is no round {self.round_id!r}", code="unknown_round")
        return str(row[0])

    def set_state(self, state: str) -> None:
        with self.database.transaction() as conn:
            conn.execute("UPDATE rounds SET state=? WHERE round_id=?", (state, self.round_id))

    def _get_named(self, table: NamedTable, name: str) -> bytes | None:
        """A named blob of this round from ``documents`` or ``secrets``."""
        row = self._one(f"SELECT data FROM {table} WHERE round_id=? AND name=?", name)  # noqa: S608 (a NamedTable)
        return None if row is None else bytes(row[0])

    def _put_named(self, table: NamedTable, name: str, data: bytes) -> None:
        with self.database.transaction() as conn:
            conn.execute(
                f"INSERT INTO {table}(round_id, name, data) VALUES(?, ?, ?) "
                "ON CONFLICT(round_id, name) DO UPDATE SET data=excluded.data",
                (self.round_id, name, data),
            )

    def get_document(self, name: str) -> bytes | None:
        return self._get_named("documents", name)

    def put_document(self, name: str, data: bytes) -> None:
        self._put_named("documents", name, data)

    def document_names(self, prefix: str) -> list[str]:
        rows = self.database.read(
            "SELECT name FROM documents WHERE round_id=? AND substr(name, 1, ?)=? ORDER BY name",
            (self.round_id, len(prefix), prefix),
        )
        return [r[0] for r in rows]

    def get_secret(self, name: str) -> bytes | None:
        return self._get_named("secrets", name)

    def put_secret(self, name: str, data: bytes) -> None:
        self._put_named("secrets", name, data)

    def add_invitations(self, entries: list[tuple[bytes, str]]) -> None:
        try:
            with self.database.transaction() as conn:
                # in the order of the hashes, not of the roster: a table that keeps rows in
                # the order they came (PostgreSQL's) then says nothing of who is which code
                conn.executemany(
                    "INSERT INTO invitations(round_id, code_hash, ward) VALUES(?, ?, ?)",
                    [(self.round_id, h, w) for h, w in sorted(entries)],
                )
        except self.database.integrity_errors as exc:
            raise Conflict("an invitation code appears twice", code="duplicate_code") from exc

    def invitation_ward(self, code_hash: bytes) -> str | None:
        row = self._one("SELECT ward FROM invitations WHERE round_id=? AND code_hash=?", code_hash)
        return None if row is None else str(row[0])

    def invitation_counts(self) -> dict[str, int]:
        rows = self.database.read(
            "SELECT ward, count(*) FROM invitations WHERE round_id=? GROUP BY ward",
            (self.round_id,),
        )
        return {r[0]: r[1] for r in rows}

    def get_issuance(self, code_hash: bytes) -> Issuance | None:
        row = self._one(
            "SELECT ward, pseudonym, blinded, blind_sig FROM issuances "
            "WHERE round_id=? AND code_hash=?",
            code_hash,
        )
        return None if row is None else _issuance(row)

    def add_issuance(self, code_hash: bytes, issuance: Issuance) -> None:
        try:
            with self.database.transaction() as conn:
                conn.execute(
                    "INSERT INTO issuances(round_id, code_hash, ward, pseudonym, blinded, "
                    "blind_sig) VALUES(?, ?, ?, ?, ?, ?)",
                    (self.round_id, code_hash, issuance.ward, issuance.pseudonym,
                     issuance.blinded, issuance.blind_sig),
                )  # fmt: skip
        except self.database.integrity_errors as exc:
            raise Conflict("this invitation code was already served", code="code_used") from exc

    def add_issuances(self, entries: list[tuple[bytes, Issuance]]) -> list[Issuance]:
        """Record issuances in one transaction (a group commit): for each entry the issuance
        the store holds for its code hash afterwards, the entry's own or an earlier one."""
        out: list[Issuance] = []
        with self.database.transaction() as conn:
            for code_hash, issuance in entries:
                # ON CONFLICT DO NOTHING, not a unique violation: the code served meanwhile
                # by another instance (which this waits for) must not fail the whole group
                inserted = conn.execute(
                    "INSERT INTO issuances(round_id, code_hash, ward, pseudonym, blinded, "
                    "blind_sig) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (self.round_id, code_hash, issuance.ward, issuance.pseudonym,
                     issuance.blinded, issuance.blind_sig),
                ).rowcount  # fmt: skip
                if inserted:
                    out.append(issuance)
                    continue
                row = conn.execute(
                    "SELECT ward, pseudonym, blinded, blind_sig FROM issuances "
                    "WHERE round_id=? AND code_hash=?",
                    (self.round_id, code_hash),
                ).fetchone()
                out.append(_issuance(row))
        return out

    def issuance_counts(self) -> dict[str, int]:
        rows = self.database.read(
            "SELECT ward, count(*) FROM issuances WHERE round_id=? GROUP BY ward",
            (self.round_id,),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def issuances(self) -> Iterator[Issuance]:
        rows = self.database.read(
            "SELECT ward, pseudonym, blinded, blind_sig FROM issuances WHERE round_id=? "
            "ORDER BY code_hash",
            (self.round_id,),
        )
        return iter([_issuance(r) for r in rows])

    def forget_issuance_answers(self) -> None:
        """Empty the blinded messages and their answers (kept only for retries while
        issuance is open), then :meth:`SqlDatabase.rewrite_issuances`, once."""
        with self.database.transaction() as conn:
            forgotten = conn.execute(
                "UPDATE issuances SET blinded=NULL, blind_sig=NULL "
                "WHERE round_id=? AND (blinded IS NOT NULL OR blind_sig IS NOT NULL)",
                (self.round_id,),
            ).rowcount
        if forgotten:
            self.database.rewrite_issuances()

    def leaf_count(self) -> int:
        row = self._one("SELECT coalesce(max(idx), -1) + 1 FROM leaves WHERE round_id=?")
        return int(row[0]) if row else 0

    def leaves(self, start: int, end: int) -> Iterator[bytes]:
        """Leaves [start, end), read in pages so that a large board streams."""
        page = 1000
        for lo in range(start, end, page):
            hi = min(end, lo + page)
            rows = self.database.read(
                "SELECT data FROM leaves WHERE round_id=? AND idx>=? AND idx<? ORDER BY idx",
                (self.round_id, lo, hi),
            )
            for row in rows:
                yield bytes(row[0])

    def spent_index(self, voter_key: bytes) -> int | None:
        row = self._one("SELECT idx FROM leaves WHERE round_id=? AND voter_key=?", voter_key)
        return None if row is None else int(row[0])

    def spent_indices(self, voter_keys: Sequence[bytes]) -> dict[bytes, int]:
        """The index of each of ``voter_keys`` already spent, in a few queries."""
        out: dict[bytes, int] = {}
        for lo in range(0, len(voter_keys), 500):
            chunk = voter_keys[lo : lo + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT voter_key, idx FROM leaves WHERE round_id=? AND voter_key IN ({marks})"  # noqa: S608 (placeholders only)
            rows = self.database.read(sql, (self.round_id, *chunk))
            out.update((bytes(r[0]), int(r[1])) for r in rows)
        return out

    def append_leaf(self, leaf: bytes, voter_key: bytes, checkpoint: str) -> int:
        return self.append_leaves([(leaf, voter_key)], checkpoint)

    def append_leaves(self, entries: list[tuple[bytes, bytes]], checkpoint: str) -> int:
        """Append leaves and the checkpoint covering them in one transaction; first index."""
        try:
            with self.database.transaction() as conn:
                self.database.lock_round(conn, self.round_id, "append")
                row = conn.execute(
                    "SELECT coalesce(max(idx), -1) + 1 FROM leaves WHERE round_id=?",
                    (self.round_id,),
                ).fetchone()
                first = int(row[0])
                conn.executemany(
                    "INSERT INTO leaves(round_id, idx, data, voter_key) VALUES(?, ?, ?, ?)",
                    [
                        (self.round_id, first + i, leaf, key)
                        for i, (leaf, key) in enumerate(entries)
                    ],
                )
                conn.execute(
                    "INSERT INTO checkpoints(round_id, size, note) VALUES(?, ?, ?)",
                    (self.round_id, first + len(entries), checkpoint),
                )
        except self.database.integrity_errors as exc:
            raise Conflict("this token was already spent", code="token_spent") from exc
        return first

    def latest_checkpoint(self) -> str | None:
        row = self._one("SELECT note FROM checkpoints WHERE round_id=? ORDER BY size DESC LIMIT 1")
        return None if row is None else str(row[0])

    def checkpoint_at(self, size: int) -> str | None:
        row = self._one("SELECT note FROM checkpoints WHERE round_id=? AND size=?", size)
        return None if row is None else str(row[0])

    def checkpoint_covering(self, index: int) -> str | None:
        row = self._one(
            "SELECT note FROM checkpoints WHERE round_id=? AND size>? ORDER BY size LIMIT 1", index
        )
        return None if row is None else str(row[0])

    def checkpoint_sizes(self, after: int, upto: int) -> list[int]:
        """The sizes of the stored checkpoints in ``(after, upto]``, smallest first."""
        rows = self.database.read(
            "SELECT size FROM checkpoints WHERE round_id=? AND size>? AND size<=? ORDER BY size",
            (self.round_id, after, upto),
        )
        return [int(r[0]) for r in rows]

    def put_checkpoint(self, size: int, checkpoint: str) -> None:
        with self.database.transaction() as conn:
            conn.execute(
                "INSERT INTO checkpoints(round_id, size, note) VALUES(?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (self.round_id, size, checkpoint),
            )

    def cosign_checkpoint(self, size: int, checkpoint: str) -> None:
        with self.database.transaction() as conn:
            conn.execute(
                "UPDATE checkpoints SET note=? WHERE round_id=? AND size=?",
                (checkpoint, self.round_id, size),
            )


SqliteRoundStore = SqlRoundStore
"""The name this class had when SQLite was the only back end."""
