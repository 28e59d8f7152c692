"""PostgreSQL storage for the reference server: several instances on one database.

:class:`PgDatabase` is the :class:`~server.store.SqlDatabase` of ``anonballot serve
--database postgresql://...``: the same tables and the same statements as SQLite's
(:mod:`server.store`), over a pool of psycopg 3 connections. What differs is here: the
schema's types (``BYTEA``, identity columns), its migrations, and the locks that let
several server instances share one round:

- one token per invitation code and one accepted cast per token are the tables' unique
  constraints, whatever instance writes;
- a round's board has one writer at a time: a group of casts takes the round's "append"
  advisory lock for its transaction (``pg_advisory_xact_lock``), once per group commit, so
  instances batch instead of queueing cast by cast; the engine reads the board's size, adds
  what other instances appended, and stores the group with its checkpoint under it, so
  checkpoints never fork;
- issuances take the round's "state" lock shared, and a change of state (open, close,
  tally) takes it and the "append" lock exclusively: nothing is issued or cast after the
  close statement's counts were signed.

A commit returns once PostgreSQL has made it durable (``synchronous_commit`` as the server
is configured: docs/operations.md asks for ``on``), and a receipt is answered only after it.

Anonymity at rest (docs/threat-model.md#what-the-database-keeps): invitations are inserted in
the order of their hashes; :meth:`rewrite_issuances` copies the issuances again in the order
of their hashes in one transaction (one transaction id for all, so nothing of the order or
the grouping of their first inserts stays in the rows' headers) and ``VACUUM FULL`` rewrites
the table's file without the old rows. A database must not keep commit timestamps
(``track_commit_timestamp``, off by default) nor archive its write-ahead log.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool, PoolTimeout

from anonballot.errors import NotFound

from .store import Cursor, Purpose, SqlDatabase, Tx

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PgDatabase", "is_postgres_url", "redacted"]

MIGRATIONS: list[str] = [
    # 1: the schema of SQLite's version 3, in PostgreSQL's types
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL);
    CREATE TABLE roster (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ward TEXT NOT NULL,
        name TEXT NOT NULL,
        position TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE rounds (round_id TEXT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE documents (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        name TEXT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (round_id, name)
    );
    CREATE TABLE secrets (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        name TEXT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (round_id, name)
    );
    CREATE TABLE invitations (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        code_hash BYTEA NOT NULL,
        ward TEXT NOT NULL,
        PRIMARY KEY (round_id, code_hash)
    );
    CREATE TABLE issuances (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        code_hash BYTEA NOT NULL,
        ward TEXT NOT NULL,
        pseudonym TEXT NOT NULL,
        blinded BYTEA,
        blind_sig BYTEA,
        PRIMARY KEY (round_id, code_hash)
    );
    CREATE TABLE leaves (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        idx BIGINT NOT NULL,
        data BYTEA NOT NULL,
        voter_key BYTEA NOT NULL,
        PRIMARY KEY (round_id, idx),
        UNIQUE (round_id, voter_key)
    );
    CREATE TABLE checkpoints (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        size BIGINT NOT NULL,
        note TEXT NOT NULL,
        PRIMARY KEY (round_id, size)
    );
    CREATE TABLE access_tokens (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL,
        token_sha256 BYTEA NOT NULL UNIQUE
    );
    CREATE TABLE leader_keys (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        subject TEXT NOT NULL,
        key_sha256 BYTEA NOT NULL UNIQUE,
        PRIMARY KEY (round_id, subject)
    );
    CREATE TABLE plans (
        round_id TEXT NOT NULL REFERENCES rounds(round_id),
        subject TEXT NOT NULL,
        state TEXT NOT NULL,
        version INTEGER NOT NULL,
        items BYTEA NOT NULL,
        remarks TEXT NOT NULL DEFAULT '',
        signed BYTEA,
        progress BYTEA,
        PRIMARY KEY (round_id, subject)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

LOCK_SPACE = 0x616E6F6E  # "anon": the first key of every advisory lock this server takes
_MIGRATION_LOCK = 0
_APPEND, _STATE = 1, 2
"""The second key's low bits: which lock of a round (its hash in the bits above)."""

POOL_SIZE = 16
"""Connections per instance: the group commits (a few at a time) and the readers."""
POOL_TIMEOUT = 10.0
"""Seconds a request waits for a connection before it is refused (503 storage_unavailable)."""


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


_PLACEHOLDER = re.compile(r"\?")


def _sql(sql: str) -> str:
    """A statement of :mod:`server.store` (``?`` placeholders) in psycopg's ``%s`` style."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class _PgTx:
    """One transaction's connection, speaking the ``?`` statements of the SQLite store."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> Cursor:
        return cast("Cursor", self.conn.execute(_sql(sql), args))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        with self.conn.cursor() as cursor:
            cursor.executemany(_sql(sql), rows)
            return cursor


class PgDatabase(SqlDatabase):
    """A PostgreSQL database shared by every server instance of a district office."""

    integrity_errors = (psycopg.errors.IntegrityError,)

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        try:  # once first, so that a wrong URL or a database away is one clear refusal
            psycopg.connect(url, connect_timeout=int(POOL_TIMEOUT)).close()
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise NotFound(
                f"cannot connect to the database {redacted(url)}: {reason}", code="no_database"
            ) from exc
        self.pool = ConnectionPool(
            url,
            min_size=2,
            max_size=pool_size,
            kwargs={"autocommit": True},
            timeout=POOL_TIMEOUT,
            open=False,
            name="anonballot",
        )
        try:
            self.pool.open(wait=True, timeout=POOL_TIMEOUT)
        except PoolTimeout as exc:
            self.pool.close()
            raise NotFound(
                f"cannot connect to the database {redacted(url)}", code="no_database"
            ) from exc
        self._local = threading.local()
        try:
            self._migrate()
        except BaseException:
            self.pool.close()
            raise

    def close(self) -> None:
        self.pool.close()

    def _tx(self) -> _PgTx | None:
        tx: _PgTx | None = getattr(self._local, "tx", None)
        return tx

    def read(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        tx = self._tx()
        if tx is not None:  # this thread's open transaction: its view, and no second connection
            return list(tx.conn.execute(_sql(sql), args).fetchall())
        with self.pool.connection() as conn:
            return list(conn.execute(_sql(sql), args).fetchall())

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        tx = self._tx()
        if tx is not None:  # nested: joins the thread's transaction
            yield tx
            return
        with self.pool.connection() as conn, conn.transaction():
            self._local.tx = tx = _PgTx(conn)
            try:
                yield tx
            finally:
                self._local.tx = None

    def lock_round(self, conn: Tx, round_id: str, purpose: Purpose) -> None:
        def lock(which: int, *, shared: bool = False) -> None:
            call = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            conn.execute(f"SELECT {call}({LOCK_SPACE}, (hashtext(?) << 2) | {which})", (round_id,))

        if purpose == "append":
            lock(_APPEND)
        elif purpose == "issue":
            lock(_STATE, shared=True)
        else:  # the state lock first, as issuances take it: no two orders, no deadlock
            lock(_STATE)
            lock(_APPEND)

    def rewrite_issuances(self) -> None:
        with self.transaction() as conn:
            # no other round's issuance may be written between the copy and the delete (it
            # would be deleted and not copied back): writers wait, readers go on
            conn.execute("LOCK TABLE issuances IN EXCLUSIVE MODE")
            conn.execute(
                "CREATE TEMPORARY TABLE issuances_copy ON COMMIT DROP AS SELECT * FROM issuances"
            )
            conn.execute("DELETE FROM issuances")
            conn.execute(
                "INSERT INTO issuances SELECT * FROM issuances_copy ORDER BY round_id, code_hash"
            )
        with self.pool.connection() as conn:  # VACUUM runs outside a transaction
            conn.execute("VACUUM FULL issuances")

    def _migrate(self) -> None:
        with self.transaction() as conn:
            # two instances starting together: one migrates, the other then finds it done
            conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_SPACE}, {_MIGRATION_LOCK})")
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            version = int(row[0] or 0)
            if version > SCHEMA_VERSION:
                raise NotFound(
                    f"the database has schema version {version}, newer than this anonballot "
                    f"({SCHEMA_VERSION}); upgrade anonballot",
                    code="schema_too_new",
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_version(version) VALUES(?)", (number + 1,))


def redacted(url: str) -> str:
    """``url`` without its password (a database URL may carry one: never in a message)."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)
