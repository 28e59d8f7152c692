"""The server's side of the witnesses (protocol section 6.9, server/cosigner.py): the
newest checkpoint goes to every witness the manifest names, their cosignatures are stored
with it and served, a witness that is down delays only its own cosignature, a restarted
server picks up from the witnesses' sizes (409), a witness that saw another board is
refused, and the record's final checkpoint carries the quorum.

The witnesses here are the real witness application (server/witness.py) over SQLite, in
this process: the cosigner's HTTP client is a TestClient that sends each witness's host to
its application. tests/test_cosigning_live.py does the same over sockets."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _live import Office, demo_office
from starlette.testclient import TestClient

from anonballot.checkpoint import Checkpoint
from anonballot.participant import Participant
from anonballot.server.cosigner import Cosigner
from anonballot.server.service import Service
from anonballot.server.witness import SqliteWitnessStore, create_witness_app
from anonballot.testing import random_answers
from anonballot.witness import PolicyWitness, WitnessKey, WitnessPolicy

NAMES = ("nhan-chung.tuyen-giao", "nhan-chung.uy-ban-mttq", "nhan-chung.thanh-tra")


class Witnesses:
    """Three witness applications, each under its own host name; ``down`` ones refuse to
    connect."""

    def __init__(self, root: Path) -> None:
        self.keys = [WitnessKey.generate(name) for name in NAMES]
        self.root = root
        self.down: set[str] = set()
        self.stores: dict[str, SqliteWitnessStore] = {}
        self.apps: dict[str, Any] = {}

    def policy(self, quorum: int = 2) -> WitnessPolicy:
        return WitnessPolicy(
            tuple(PolicyWitness(k.verifier, f"http://{k.name}.test") for k in self.keys), quorum
        )

    def follow(self, origin: str, log_key: Any) -> None:
        for key in self.keys:
            store = self.stores[key.name] = SqliteWitnessStore(self.root / key.name)
            self.apps[f"{key.name}.test"] = create_witness_app(key, {origin: log_key}, store)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        host = dict(scope["headers"]).get(b"host", b"").decode().split(":")[0]
        if host in self.down:
            raise httpx.ConnectError(f"{host} is down")
        await self.apps[host](scope, receive, send)

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Office, Service, Witnesses]]:
    witnesses = Witnesses(tmp_path / "witnesses")
    office = demo_office(tmp_path / "data", voters=3, witnesses=witnesses.policy())
    service = Service(office.data)
    manifest = service.round(office.round_id).manifest
    witnesses.follow(manifest.origin, manifest.log_key)
    try:
        yield office, service, witnesses
    finally:
        service.close()
        witnesses.close()


def cosigner(service: Service, witnesses: Witnesses) -> Cosigner:
    return Cosigner(service, client=TestClient(witnesses))


def cast(service: Service, office: Office, which: range) -> None:
    engine = service.round(office.round_id)
    for i in which:
        code, ward = office.codes[i]
        p = Participant(engine.signed_manifest(), ward)
        p.finish_token(engine.issue(code, p.request_token()))
        engine.cast(p.make_leaf(random_answers(p.manifest, ward, random.Random(i))))


def vouchers(service: Service, office: Office) -> set[str]:
    engine = service.round(office.round_id)
    policy = engine.manifest.witnesses
    assert policy is not None
    note = engine.checkpoint()
    Checkpoint.parse(note, engine.manifest.origin, engine.manifest.log_key)  # still the log's
    return {w.name for w in policy.cosigners(note)}


def test_the_newest_checkpoint_is_cosigned_by_every_witness(setup: Any) -> None:
    office, service, witnesses = setup
    pusher = cosigner(service, witnesses)
    assert pusher.push(office.round_id)  # the empty board of the open round
    assert vouchers(service, office) == set(NAMES)
    cast(service, office, range(2))
    assert vouchers(service, office) == set()  # a new checkpoint: not cosigned yet
    assert pusher.push(office.round_id)
    assert vouchers(service, office) == set(NAMES)
    assert pusher.push(office.round_id)  # nothing left to do: nothing is sent again
    note = service.round(office.round_id).checkpoint()
    assert note.count("\u2014 ") == 4  # the log's signature and three cosignatures, once


def test_a_witness_that_is_down_delays_only_its_cosignature(setup: Any) -> None:
    office, service, witnesses = setup
    pusher = cosigner(service, witnesses)
    witnesses.down.add(f"{NAMES[2]}.test")
    cast(service, office, range(1))
    assert not pusher.push(office.round_id)  # tried again later
    assert vouchers(service, office) == set(NAMES[:2])  # the quorum, 2 of 3
    cast(service, office, range(1, 3))  # casts go on meanwhile
    witnesses.down.clear()
    assert pusher.push(office.round_id)
    assert vouchers(service, office) == set(NAMES)


def test_a_restarted_server_starts_from_the_witnesses_sizes(setup: Any) -> None:
    office, service, witnesses = setup
    cast(service, office, range(2))
    assert cosigner(service, witnesses).push(office.round_id)
    cast(service, office, range(2, 4))
    # a new cosigner knows nothing of the witnesses: each answers 409 with its size (2),
    # and the push is made again with a consistency proof from 2 to 4
    assert cosigner(service, witnesses).push(office.round_id)
    assert vouchers(service, office) == set(NAMES)
    for store in witnesses.stores.values():
        assert store.latest(service.round(office.round_id).manifest.origin) is not None


def test_a_witness_that_saw_another_board_is_refused_and_named(
    setup: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A split view: the witness holds a checkpoint of the same log (signed with its key)
    for another board of the same size; it never cosigns this one."""
    office, service, witnesses = setup
    engine = service.round(office.round_id)
    cast(service, office, range(2))
    manifest = engine.manifest
    other = Checkpoint(manifest.origin, 2, bytes(32)).sign(engine._secret_key("log"))
    witnesses.stores[NAMES[0]].replace(manifest.origin, None, 2, other)
    pusher = cosigner(service, witnesses)
    with caplog.at_level(logging.ERROR, logger="anonballot.server.cosigner"):
        assert pusher.push(office.round_id)  # nothing more to do: the refused one is left
    assert vouchers(service, office) == set(NAMES[1:])
    assert any(NAMES[0] in r.getMessage() and "different board" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    stored = witnesses.stores[NAMES[0]].latest(manifest.origin)
    assert stored == other  # the witness kept what it saw: it was not rolled over


def test_the_record_s_final_checkpoint_carries_the_quorum(setup: Any) -> None:
    office, service, witnesses = setup
    engine = service.round(office.round_id)
    cast(service, office, range(3))
    engine.close()
    witnesses.down.add(f"{NAMES[0]}.test")
    assert not cosigner(service, witnesses).push(office.round_id)
    final = engine.record_files(public_only=True)["checkpoint.txt"].decode()
    policy = engine.manifest.witnesses
    assert policy is not None
    assert policy.vouched(final)
    assert {w.name for w in policy.cosigners(final)} == set(NAMES[1:])
    assert Checkpoint.parse(final, engine.manifest.origin, engine.manifest.log_key).size == 3


def test_cosignatures_are_checked_before_they_are_stored(setup: Any) -> None:
    office, service, witnesses = setup
    engine = service.round(office.round_id)
    cast(service, office, range(1))
    note, size = engine.published()
    stranger = WitnessKey.generate("nguoi-la")
    good = witnesses.keys[0].cosign(note, 1_800_000_000)
    forged = good[:-10] + ("A" if good[-10] != "A" else "B") + good[-9:]
    stored = engine.add_cosignatures(size, [stranger.cosign(note, 1), forged, good, good])
    assert stored == note + good  # the stranger's and the forged line are left out, once


def test_an_open_round_keeps_cosignatures_in_memory_only(setup: Any) -> None:
    """A cosignature dates the board's size: while the round is open the store keeps none
    (a copy of the database would tell when each stretch of ballots was cast); the final
    checkpoint's are stored at the close, for the record."""
    office, service, witnesses = setup
    engine = service.round(office.round_id)
    cast(service, office, range(2))
    pusher = cosigner(service, witnesses)
    assert pusher.push(office.round_id)
    cast(service, office, range(2, 3))
    assert pusher.push(office.round_id)
    assert vouchers(service, office) == set(NAMES)  # served with them
    store = engine.store
    for size in (0, 1, 2, 3):
        note = store.checkpoint_at(size)
        assert note is None or note.count("\u2014 ") == 1, size  # the log's signature only
    for path in office.data.glob("anonballot.db*"):  # the database and its write-ahead log
        assert f"\u2014 {NAMES[0]} ".encode() not in path.read_bytes(), path
    engine.close()
    final = store.checkpoint_at(3)
    assert final is not None
    assert final.count("\u2014 ") == 4  # stored at the close: the record carries them
