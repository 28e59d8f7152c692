"""The SQL stores (SQLite and PostgreSQL, each test on both): the engine's multi-write steps
are atomic (one transaction)."""

from __future__ import annotations

from pathlib import Path

import pytest

from anonballot.engine import Round
from anonballot.server.service import open_database
from anonballot.server.store import SqlRoundStore
from anonballot.signing import SigningKey
from anonballot.testing import demo_config
from anonballot.tokens import IssuerKey


class Crash(Exception):
    """Stands for the process dying in the middle of a step."""


class CrashingStore(SqlRoundStore):
    crash_on: str | None = None

    def put_document(self, name: str, data: bytes) -> None:
        if name == self.crash_on:
            raise Crash(name)
        super().put_document(name, data)


def test_a_crash_inside_close_leaves_the_round_open_and_unpublished(
    tmp_path: Path, issuer_pool: tuple[IssuerKey, ...], database: str | None
) -> None:
    db = open_database(tmp_path, database)
    db.add_round("r")
    store = CrashingStore(db, "r")
    config, _ = demo_config(wards=1, round_id="r")
    engine = Round.create(
        store, config, organizer=SigningKey.generate(), issuer_keys={"bo-de": issuer_pool[0]}
    )
    engine.open()
    store.crash_on = "close"  # after the ledger and the final checkpoint were written
    with pytest.raises(Crash):
        engine.close()
    fresh = SqlRoundStore(db, "r")
    assert fresh.get_state() == "open"
    assert fresh.get_document("issuance") is None  # rolled back with the rest
    assert fresh.get_document("close") is None
    store.crash_on = None
    Round(fresh).close()
    assert fresh.get_state() == "closed"
    db.close()


def test_the_roster_keeps_its_order_and_a_replace_is_all_or_nothing(
    tmp_path: Path, database: str | None
) -> None:
    db = open_database(tmp_path, database)
    try:
        db.add_roster([("a", "Nguyễn Văn A", "tổ 1"), ("b", "Trần Thị B", "")])
        db.add_roster([("a", "Lê C", "")])
        assert db.roster() == [
            ("a", "Nguyễn Văn A", "tổ 1"),
            ("b", "Trần Thị B", ""),
            ("a", "Lê C", ""),
        ]
        # a row that breaks the schema (NULL name): the old roster stays whole
        with pytest.raises(db.integrity_errors):
            db.add_roster([("c", "D", ""), ("c", None, "")], replace=True)  # type: ignore[list-item]
        assert len(db.roster()) == 3
        db.add_roster([("c", "D", "")], replace=True)
        assert db.roster() == [("c", "D", "")]
    finally:
        db.close()


@pytest.mark.slow
def test_postgresql_instances_starting_together_migrate_once(pg_url: str) -> None:
    """Two instances opening a new database at once: one creates the schema (under an
    advisory lock), the other finds it made; a database of a newer schema is refused."""
    import threading

    import psycopg

    from anonballot.errors import NotFound
    from anonballot.server.store_pg import SCHEMA_VERSION, PgDatabase

    opened: list[PgDatabase] = []
    failed: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(PgDatabase(pg_url))
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failed, failed
    try:
        opened[0].add_round("r")
        assert [r for r, _ in opened[1].round_ids()] == ["r"]
    finally:
        for db in opened:
            db.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
        conn.execute("INSERT INTO schema_version(version) VALUES(%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(NotFound, match="newer than this anonballot"):
        PgDatabase(pg_url)
