"""Anonymity at rest: a copy of the data folder names no voter (docs/threat-model.md).

A ward votes one by one in a known order, in a round whose windows overlap (each participant
takes the token and casts at once, so that issuance order is casting order, the worst case).
The same round (same keys, same codes, the same answers) is played twice, the second time in
the opposite order. After the close the two data folders are dumped, every table and the raw
bytes of every file: what is stored about invitations and issuances is byte for byte the
same, and laid out in the same order in the file, so nothing at rest says in which order the
participants came. The blinded messages and their answers are gone, the log is empty, and
the folder and its files are private.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import stat
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import NOW, Clock, RoundFactory, all_answers

from anonballot.codes import code_hash, normalize_code, pseudonym
from anonballot.manifest import Window
from anonballot.participant import Participant
from anonballot.server.roster import RosterEntry
from anonballot.server.service import Service
from anonballot.server.store import Database
from anonballot.storage import Issuance, MemoryStore
from anonballot.testing import demo_config
from anonballot.testing.postgres import PgCluster

VOTERS = 12
ROUND = "ward-round"


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def dump(db: Path, table: str) -> list[tuple[Any, ...]]:
    """A table's rows in the order it stores them (no ORDER BY)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [tuple(r) for r in conn.execute(f"SELECT * FROM {table}")]  # noqa: S608 (ours)


def offsets(data: bytes, needles: list[bytes]) -> list[int]:
    """The needles (by their index in ``needles``) in the order they stand in ``data``, each
    as often as it stands there (a code hash is in the invitations and in the issuances)."""
    found = []
    for i, needle in enumerate(needles):
        at = data.find(needle)
        assert at >= 0, f"needle {i} is not in the file"
        while at >= 0:
            found.append((at, i))
            at = data.find(needle, at + 1)
    return [i for _, i in sorted(found)]


@pytest.fixture
def ward_votes(make_round: RoundFactory, tmp_path: Path) -> Any:
    """Play the ward's round on a fresh data folder, its participants in ``order``."""

    def play(name: str, order: list[int]) -> tuple[Path, list[str]]:
        folder = tmp_path / name
        database = Database(folder / "anonballot.db")
        try:
            store = database.add_round(ROUND)
            demo = make_round(wards=1, voters=VOTERS, store=cast(MemoryStore, store), seed=7)
            manifest = demo.manifest
            ward = demo.roster[0][1]
            for i in order:  # token, then the ballot at once: issuance order is casting order
                p = demo.participant(i)
                demo.engine.cast(p.make_leaf(all_answers(manifest, ward, "kha")))
            assert store.leaf_count() == VOTERS
            demo.engine.close()
            # the round closed, the server still running: the log is already cut to nothing
            wal = folder / "anonballot.db-wal"
            assert not wal.exists() or wal.stat().st_size == 0
            codes = [code for code, _ in demo.roster]
            pseudonyms = [pseudonym(demo.engine.mid, normalize_code(c)) for c in codes]
            assert sorted(pseudonyms) == sorted(
                p for ps in demo.engine.issuance_ledger().wards.values() for p in ps
            )
        finally:
            database.close()
        return folder, codes

    return play


def test_a_copy_of_the_data_folder_keeps_no_order(ward_votes: Any) -> None:
    forward, codes = ward_votes("forward", list(range(VOTERS)))
    backward, same_codes = ward_votes("backward", list(reversed(range(VOTERS))))
    assert codes == same_codes

    for folder in (forward, backward):
        assert private(folder)
        assert [f.name for f in folder.iterdir()] == ["anonballot.db"]  # no log left
        assert private(folder / "anonballot.db")

    db_f, db_b = forward / "anonballot.db", backward / "anonballot.db"
    with contextlib.closing(sqlite3.connect(db_f)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "sqlite_sequence" not in tables  # no AUTOINCREMENT anywhere
        for keyed in ("invitations", "issuances"):
            with pytest.raises(sqlite3.OperationalError):  # WITHOUT ROWID: no arrival order
                conn.execute(f"SELECT rowid FROM {keyed}")  # noqa: S608 (ours)
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info({keyed})")}
            assert columns <= {"round_id", "code_hash", "ward", "pseudonym", "blinded",
                               "blind_sig"}  # fmt: skip

    # the rows, in the order the file keeps them: the same whichever order people came in
    for table in ("invitations", "issuances"):
        assert dump(db_f, table) == dump(db_b, table)
    issuances = dump(db_f, "issuances")
    assert len(issuances) == VOTERS
    assert all(row[4] is None and row[5] is None for row in issuances)  # answers forgotten
    assert [row[1] for row in issuances] == sorted(row[1] for row in issuances)

    # the raw bytes: each code hash and each pseudonym stands at the same place in both files
    hashes = [code_hash(normalize_code(c)) for c in codes]
    raw_f, raw_b = db_f.read_bytes(), db_b.read_bytes()
    for needles in (hashes, [bytes(row[3], "ascii") for row in issuances]):
        assert offsets(raw_f, needles) == offsets(raw_b, needles)
    # and the order in the file is not the order of arrival of either folder
    by_place = [i for i in offsets(raw_f, hashes) if i is not None]
    first = list(dict.fromkeys(by_place))  # each code by its first place in the file
    assert first not in (list(range(VOTERS)), list(reversed(range(VOTERS))))


def test_invitations_are_stored_in_an_order_of_no_meaning(make_round: RoundFactory) -> None:
    """The engine hands a store its invitations shuffled, whatever the roster's order."""
    seen: list[list[tuple[bytes, str]]] = []

    class Recording(MemoryStore):
        def add_invitations(self, entries: list[tuple[bytes, str]]) -> None:
            seen.append(list(entries))
            super().add_invitations(entries)

    demo = make_round(wards=1, voters=40, store=Recording(), open_round=False)
    roster = [(code_hash(normalize_code(code)), ward) for code, ward in demo.roster]
    assert sorted(seen[0]) == sorted(roster)
    assert seen[0] != roster  # 40 entries: the same order by chance once in 40! tries


def test_a_two_phase_round_forgets_when_issuance_ends(tmp_path: Path) -> None:
    """The server forgets the token requests' answers once the issuance window has ended,
    while voting is still open, and rewrites the file."""
    clock = Clock(NOW)
    service = Service(tmp_path / "data", key_bits=2048, clock=clock)
    try:
        config, _ = demo_config(wards=1, now=NOW)
        ward = config.district.wards[0].id
        issuance = Window(config.issuance.opens, "2026-11-03T08:00:00Z")
        voting = Window("2026-11-03T08:00:00Z", "2026-11-09T08:00:00Z")
        config = dataclasses.replace(config, issuance=issuance, voting=voting)
        service.set_district(config.district)
        service.import_roster([RosterEntry(ward, f"Người {i}") for i in range(5)])
        engine = service.create_round(config)
        invitations = service.make_invitations(config.round_id)
        engine.open()
        for invitation in invitations[:3]:
            p = Participant(engine.signed_manifest(), invitation.ward)
            p.finish_token(engine.issue(invitation.code, p.request_token()))
        assert service.forget_issuance_answers() == []  # issuance still open
        assert all(i.blinded for i in engine.store.issuances())
        clock.now = NOW.replace(day=4)  # voting
        assert service.forget_issuance_answers() == [config.round_id]
        assert engine.state == "open"
        held: list[Issuance] = list(engine.store.issuances())
        assert len(held) == 3
        assert all(i.blinded == b"" and i.blind_sig == b"" for i in held)
    finally:
        service.close()
    db = tmp_path / "data" / "anonballot.db"
    assert all(row[4] is None for row in dump(db, "issuances"))


def test_the_data_folder_and_its_files_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    Service(folder).close()
    assert private(folder)
    assert private(folder / "anonballot.db")
    # a folder made before this version: taken back from group and others
    folder.chmod(0o755)
    (folder / "anonballot.db").chmod(0o644)
    Service(folder).close()
    assert private(folder)
    assert private(folder / "anonballot.db")


def test_a_database_of_the_earlier_schema_keeps_its_rows(tmp_path: Path) -> None:
    """Schema 2 (rowid tables) becomes schema 3 with every invitation and issuance kept."""
    from anonballot.server.store import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "data" / "anonballot.db"
    path.parent.mkdir()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for script in MIGRATIONS[:2]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version=2")
        conn.execute("INSERT INTO rounds VALUES ('r', 'open')")
        conn.execute("INSERT INTO rounds VALUES ('c', 'tallied')")
        conn.execute("INSERT INTO issuances VALUES ('c', ?, 'w', 'q', x'03', x'04')", (b"\2" * 32,))
        conn.executemany(
            "INSERT INTO invitations VALUES ('r', ?, 'w')", [(bytes([i]) * 32,) for i in (3, 1, 2)]
        )
        conn.execute("INSERT INTO issuances VALUES ('r', ?, 'w', 'p', x'01', x'02')", (b"\1" * 32,))
        conn.commit()
    database = Database(path)
    try:
        store = database.add_round("s")
        del store
        assert database.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        database.close()
    assert [row[1][0] for row in dump(path, "invitations")] == [1, 2, 3]
    # an open round keeps its answers for retries; a round closed before loses them
    assert dump(path, "issuances") == [
        ("c", b"\2" * 32, "w", "q", None, None),
        ("r", b"\1" * 32, "w", "p", b"\1", b"\2"),
    ]


@pytest.mark.slow
def test_postgresql_keeps_no_order_of_issuance_after_it_ends(
    make_round: RoundFactory, pg_cluster: PgCluster
) -> None:
    """The same promise on PostgreSQL, whose tables keep rows in the order they came and
    mark each with the id of the transaction that wrote it (``xmin``, a sequence shared with
    the casts): after the close, the issuances lie in the order of their hashes, all written
    by one transaction, and no file of the database holds a blinded message any more (the
    write-ahead log aside: docs/threat-model.md); the invitations lie in hash order too."""
    import psycopg

    from anonballot.server.store_pg import PgDatabase

    url = pg_cluster.fresh_url()
    database = PgDatabase(url)

    def files_holding(needles: list[bytes]) -> int:
        """How many of ``needles`` some file of the cluster's tables holds, after a
        checkpoint has written every change to them."""
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        found = set()
        for path in (pg_cluster.data / "base").rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                found |= {i for i, needle in enumerate(needles) if needle in data}
        return len(found)

    try:
        store = database.add_round(ROUND)
        demo = make_round(wards=1, voters=VOTERS, store=cast(MemoryStore, store), seed=7)
        ward = demo.roster[0][1]
        for i in range(VOTERS):  # token then ballot, one by one: each its own transactions
            p = demo.participant(i)
            demo.engine.cast(p.make_leaf(all_answers(demo.manifest, ward, "kha")))
        blinded = [i.blinded[:32] for i in store.issuances()]
        assert len(blinded) == VOTERS
        with psycopg.connect(url) as conn:
            before = conn.execute("SELECT DISTINCT xmin::text FROM issuances").fetchall()
        assert len(before) == VOTERS  # what the rewrite must undo
        assert files_holding(blinded) == VOTERS  # what the rewrite must remove
        demo.engine.close()
        with psycopg.connect(url) as conn:
            for table in ("issuances", "invitations"):
                rows = conn.execute(f"SELECT code_hash, xmin::text FROM {table} ORDER BY ctid")  # noqa: S608 (ours)
                hashes, xmins = zip(*((bytes(h), x) for h, x in rows), strict=True)
                assert list(hashes) == sorted(hashes), table
                assert len(set(xmins)) == 1, table
            count = conn.execute("SELECT count(*) FROM issuances WHERE blinded IS NOT NULL")
            assert count.fetchone() == (0,)
        assert files_holding(blinded) == 0
    finally:
        database.close()
