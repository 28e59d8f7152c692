"""Several server instances on one PostgreSQL database (``anonballot serve --database``).

Two engines, or two ``anonballot serve`` processes, share one round: each token is issued
once and each token counts once whichever instance a request reaches, the board has one
writer at a time and its checkpoints never fork, any instance answers for any round, and a
``kill -9`` of one instance in a burst of casts on both loses nothing acknowledged.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from _live import demo_office, server_process
from independent.tiles_reader import http_fetcher, log_parameters, read_log
from independent.verifier import failed_checks, verify_record
from test_durability import base, burst, check_board, check_receipt_kept, finish_and_audit

from anonballot.codes import normalize_code
from anonballot.encoding import b64u_decode, b64u_encode
from anonballot.errors import AnonBallotError
from anonballot.hazmat.merkle import MerkleTree, leaf_hash
from anonballot.participant import Participant
from anonballot.receipt import Receipt
from anonballot.server.service import Service
from anonballot.testing import random_answers

pytestmark = pytest.mark.slow


def test_two_engines_on_one_database_take_turns_on_the_board(tmp_path: Path, pg_url: str) -> None:
    """Casts committed at once through two services (two instances' engines) on one
    database: one board, every checkpoint a prefix of the next, no token counted twice."""
    office = demo_office(tmp_path / "data", voters=20, database=pg_url)
    one = Service(tmp_path / "one", key_bits=2048, database=pg_url)
    two = Service(tmp_path / "two", key_bits=2048, database=pg_url)
    try:
        engines = [one.round(office.round_id), two.round(office.round_id)]
        manifest = engines[0].signed_manifest()
        people = []
        for i, (code, ward) in enumerate(office.codes):
            p = Participant(manifest, ward)
            p.finish_token(engines[i % 2].issue(normalize_code(code), p.request_token()))
            people.append(p)
        # the same code at the other instance: the same answer for the same request only
        p = people[0]
        assert p.request is not None
        again = engines[1].issue(normalize_code(office.codes[0][0]), p.request.blinded)
        assert p.request.finalize(again).msg == p.token.msg  # type: ignore[union-attr]
        with pytest.raises(AnonBallotError, match="another request"):
            engines[1].issue(
                normalize_code(office.codes[0][0]), Participant(manifest, "bo-de").request_token()
            )
        leaves = [p.make_leaf(random_answers(p.manifest, p.ward, random.Random(i)))
                  for i, p in enumerate(people)]  # fmt: skip
        receipts: dict[int, Receipt] = {}
        errors: list[BaseException] = []

        def cast(engine_index: int, indexes: Sequence[int]) -> None:
            try:
                for lo in range(0, len(indexes), 3):  # groups of three, as a batcher does
                    group = [leaves[i] for i in indexes[lo : lo + 3]]
                    answers = engines[engine_index].cast_many(group)
                    for i, answer in zip(indexes[lo : lo + 3], answers, strict=True):
                        assert isinstance(answer, Receipt), answer
                        receipts[i] = answer
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=cast, args=(k, range(k, len(leaves), 2))) for k in (0, 1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        # a token spent through one instance is refused at the other, unless it is the very
        # same leaf (then the same receipt)
        again_receipt = engines[1].cast(leaves[0])
        assert again_receipt.to_json() == receipts[0].to_json()
        board = [bytes(x) for x in engines[0].store.leaves(0, engines[0].store.leaf_count())]
        assert sorted(board) == sorted(leaves)  # each once
        tree = MerkleTree(leaf_hash(leaf) for leaf in board)
        m = engines[0].manifest
        for i, receipt in receipts.items():
            checkpoint = receipt.verify(m, leaves[i])  # its proof against its checkpoint
            assert board[receipt.leaf_index] == leaves[i]
            assert checkpoint.root == tree.root(checkpoint.size)  # a prefix: no fork
        total = engines[1].turnout()["total"]
        assert isinstance(total, dict)
        assert total["cast"] == len(leaves)
    finally:
        one.close()
        two.close()


def test_kill_9_of_one_of_two_instances_loses_nothing_acknowledged(
    tmp_path: Path, pg_url: str
) -> None:
    """The issue's check: two ``anonballot serve`` on one PostgreSQL, a client alternating
    between them, one killed with ``kill -9`` in a burst of casts; after its restart every
    acknowledged ballot is counted, and the record passes the audit and the independent
    verifier."""
    office = demo_office(tmp_path / "data", voters=40, database=pg_url)
    data = office.data
    with (
        server_process(data, database=pg_url) as (url_a, proc_a),
        server_process(data, database=pg_url) as (url_b, _),
        httpx.Client(base_url=url_a) as a,
        httpx.Client(base_url=url_b) as b,
    ):
        manifest = b.get(f"{base(office)}/manifest").json()  # B never saw the round made
        people = []
        for i, (code, ward) in enumerate(office.codes):
            p = Participant(manifest, ward)
            http = (a, b)[i % 2]
            body = {"code": code, "blinded": b64u_encode(p.request_token())}
            r = http.post(f"{base(office)}/tokens", json=body)
            assert r.status_code == 200, r.text
            p.finish_token(b64u_decode(r.json()["blind_sig"]))
            p.make_leaf(random_answers(p.manifest, ward, random.Random(i)))
            people.append(p)
        ballots = f"{base(office)}/ballots"

        def send(i: int, leaf: bytes) -> object:
            # even requests to A, odd to B: A's die with it, B's go on
            def request(http: httpx.Client) -> httpx.Response:
                with httpx.Client(base_url=(url_a, url_b)[i % 2], timeout=10) as own:
                    return own.post(ballots, content=leaf)

            return request

        sends = [send(i, p.leaf) for i, p in enumerate(people)]  # type: ignore[arg-type]
        acked = burst(url_a, sends, kill_after=20, kill=proc_a.kill)  # type: ignore[arg-type]
        proc_a.wait()
        # B answers on its own meanwhile, for every round and every read
        latest = check_board(b, office, people[0])
        assert latest.size >= len(acked)
    with (
        server_process(data, database=pg_url) as (url_a, _),
        server_process(data, database=pg_url) as (url_b, _),
        httpx.Client(base_url=url_a) as a,
        httpx.Client(base_url=url_b) as b,
    ):
        for http in (a, b):
            latest = check_board(http, office, people[0])
            for i, answer in acked.items():
                check_receipt_kept(
                    http, office, people[i], Receipt.from_json(answer.json()), latest
                )
        # the independent tiles reader takes each receipt from the other instance's log
        m = people[0].manifest
        log = log_parameters(b.get(f"{base(office)}/manifest").json()["manifest"])
        fetch = http_fetcher(f"{url_b}/log/{office.round_id}/")
        assert read_log(fetch, log.origin, log.public_key).checkpoint.size == latest.size
        for i, p in enumerate(people):  # every ballot again, alternating: each once
            assert p.leaf is not None
            r = (a, b)[i % 2].post(ballots, content=p.leaf)
            assert r.status_code == 200, r.text
        assert check_board(a, office, people[0]).size == len(people)
        results = finish_and_audit(b, office, m.mid, tmp_path)
        record = tmp_path / "record.zip"
        assert not failed_checks(verify_record(record))
    assert results["district"]["ballots"] == len(people)


def test_each_instance_serves_the_board_cosigned(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ballots cast through one instance only: the other, which signed none of its
    checkpoints, still serves the newest one with every witness's cosignature within
    seconds (its cosigner finds it in the database)."""
    from contextlib import ExitStack

    from _live import server_thread
    from test_cosigning_live import Witnesses, cast, vouched_for

    from anonballot.server.cosigner import Cosigner

    monkeypatch.setattr(Cosigner, "INTERVAL", 0.2)
    witnesses = Witnesses()
    office = demo_office(tmp_path / "data", voters=2, witnesses=witnesses.policy, database=pg_url)
    service = Service(tmp_path / "one", database=pg_url)
    try:
        manifest = service.round(office.round_id).manifest
    finally:
        service.close()
    with ExitStack() as stack:
        witnesses.serve(stack, manifest, tmp_path)
        url_a = stack.enter_context(server_thread(office.data, database=pg_url))
        url_b = stack.enter_context(server_thread(tmp_path / "b", database=pg_url))
        vouched_for(url_b, manifest, 0)  # B's one push of its own, when it starts
        for i, (code, _) in enumerate(office.codes[:3]):
            cast(url_a, office, code, i)
        vouched_for(url_a, manifest, 3)
        vouched_for(url_b, manifest, 3, timeout=4)  # well before B's cosigner would retry
        # B answers every read of the board A wrote: leaves, proofs, tiles
        api = f"{url_b}/api/rounds/{office.round_id}"
        leaves = httpx.get(f"{api}/leaves", params={"start": 0, "end": 3})
        assert leaves.status_code == 200
        assert leaves.content.count(b"\n") == 3
        for path, params in (
            ("inclusion", {"index": 2, "size": 3}),
            ("consistency", {"old": 1, "new": 3}),
        ):
            answer = httpx.get(f"{api}/proof/{path}", params=params)
            assert answer.status_code == 200, answer.text
        assert httpx.get(f"{url_b}/log/{office.round_id}/tile/entries/000.p/3").status_code == 200


def test_a_database_out_of_reach_is_503_storage_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL stopped under a running server: every request is refused with 503
    storage_unavailable (one line in the log, no traceback), none is a 500."""
    from starlette.testclient import TestClient

    from anonballot.server import store_pg
    from anonballot.server.app import create_app
    from anonballot.testing.postgres import PgCluster

    monkeypatch.setattr(store_pg, "POOL_TIMEOUT", 1.0)
    cluster = PgCluster()
    try:
        url = cluster.fresh_url()
        office = demo_office(tmp_path / "data", voters=1, database=url)
        service = Service(office.data, database=url)
    except BaseException:
        cluster.stop()
        raise
    try:
        with TestClient(create_app(service)) as client:
            api = f"/api/rounds/{office.round_id}"
            assert client.get(f"{api}/status").status_code == 200
            cluster.stop()
            with caplog.at_level("WARNING"):
                for path in (f"{api}/status", f"{api}/checkpoint", "/api/rounds"):
                    answer = client.get(path)
                    assert answer.status_code == 503, (path, answer.text)
                    assert answer.json()["error"] == "storage_unavailable"
                answer = client.post(f"{api}/ballots", content=b"{}")
                assert answer.status_code in (400, 503), answer.text
            assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    finally:
        service.close()


def test_the_live_demo_on_two_instances_serves_an_independent_client_through_a_kill_9(
    tmp_path: Path, pg_url: str
) -> None:
    """The issue's done-when: ``anonballot demo --database`` sets up the demo round, two
    ``anonballot serve --database`` processes serve it, and an independent client (its own
    RFC 9474 blinding, sealing and receipt checks: tests/independent/client.py) takes each
    token from one instance and casts at the other, alternating; one instance is killed with
    ``kill -9`` in the middle and started again. Every acknowledged ballot is counted, and
    the record passes the audit and the independent verifier."""
    import csv
    import json
    import subprocess
    import sys
    import time

    from _live import free_ports_in_a_row
    from independent.client import Voter

    from anonballot.manifest import Manifest
    from anonballot.server.demo import start_demo_witnesses
    from anonballot.trustee import TrusteeKey

    data = tmp_path / "demo"
    port = free_ports_in_a_row(4)  # the demo's witnesses take the three ports after it
    setup = subprocess.run(  # noqa: S603 (our own entry point, fixed arguments)
        [sys.executable, "-m", "anonballot.cli", "demo", "--data", str(data), "--key-bits",
         "2048", "--no-serve", "--database", pg_url, "--port", str(port)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stdout + setup.stderr
    with (data / "invitations.csv").open(encoding="utf-8-sig", newline="") as rows:
        codes = [row["code"] for row in csv.DictReader(rows)][:24]
    token = (data / "admin.token").read_text().strip()
    round_id = "long-bien-demo"
    rng = random.Random(5)
    receipts: list[tuple[Voter, dict[str, object]]] = []
    with start_demo_witnesses(data, pg_url):  # the demo round names them
        with (
            server_process(data, database=pg_url) as (url_a, proc_a),
            server_process(data, database=pg_url) as (url_b, _),
            httpx.Client(base_url=url_a, timeout=30) as a,
            httpx.Client(base_url=url_b, timeout=30) as b,
        ):
            for i, code in enumerate(codes[:12]):
                one, other = ((a, b), (b, a))[i % 2]
                voter = Voter(one, round_id, code)
                receipts.append((voter, voter.vote(rng, cast_to=other)))
            proc_a.kill()  # in the middle of the round: B goes on alone
            proc_a.wait()
            for code in codes[12:18]:
                voter = Voter(b, round_id, code)
                receipts.append((voter, voter.vote(rng)))
        with (
            server_process(data, database=pg_url) as (url_a, _),
            server_process(data, database=pg_url) as (url_b, _),
            httpx.Client(base_url=url_a, timeout=30) as a,
            httpx.Client(base_url=url_b, timeout=30) as b,
        ):
            for i, code in enumerate(codes[18:]):
                one, other = ((a, b), (b, a))[i % 2]
                voter = Voter(one, round_id, code)
                receipts.append((voter, voter.vote(rng, cast_to=other)))
            for i, (voter, receipt) in enumerate(receipts):  # each against the other's log too
                voter.receipt_ok(receipt, (url_a, url_b)[i % 2])
            admin = {"authorization": f"Bearer {token}"}
            closed = a.post(
                f"/api/admin/rounds/{round_id}/close", json={"force": True}, headers=admin
            )
            assert closed.status_code == 200, closed.text
            policy = Manifest.from_signed(receipts[0][0].manifest_json).witnesses
            assert policy is not None
            deadline = time.monotonic() + 30  # the final checkpoint, cosigned by a quorum
            while not policy.vouched(b.get(f"/log/{round_id}/checkpoint").text):
                assert time.monotonic() < deadline, "the witnesses did not cosign the final board"
                time.sleep(0.2)
            mid = receipts[0][0].m.mid
            for path in sorted((data / "trustees").glob("*.json"))[:2]:
                key = TrusteeKey.from_json(json.loads(path.read_text())["key"])
                assert (
                    b.post(f"/api/rounds/{round_id}/releases", json=key.release(mid)).status_code
                    == 200
                )
            tallied = b.post(f"/api/admin/rounds/{round_id}/tally", headers=admin)
            assert tallied.status_code == 200, tallied.text
            record = tmp_path / "record.zip"
            record.write_bytes(a.get(f"/api/rounds/{round_id}/record", headers=admin).content)
            results = b.get(f"/api/rounds/{round_id}/results", headers=admin).json()["results"]
    from anonballot.audit import audit_record

    report = audit_record(record, workers=1)
    assert report.passed, {k: c.detail for k, c in report.checks.items() if not c.passed}
    assert not failed_checks(verify_record(record))
    assert results["district"]["ballots"] == len(receipts) == len(codes)


def test_the_tiles_folder_of_one_instance_follows_the_others_casts(
    tmp_path: Path, pg_url: str
) -> None:
    """``serve --tiles-dir`` on instance B, every ballot cast at A: B's folder still follows
    the board (B looks at the open rounds every second), checkpoint and tiles."""
    import time

    from _live import server_thread
    from test_cosigning_live import cast

    from anonballot.checkpoint import Checkpoint

    office = demo_office(tmp_path / "data", voters=2, database=pg_url)
    folder = tmp_path / "log"
    with (
        server_thread(office.data, database=pg_url) as url_a,
        server_thread(tmp_path / "b", tiles_dir=folder, database=pg_url),
    ):
        for i, (code, _) in enumerate(office.codes[:3]):
            cast(url_a, office, code, i)
        manifest = Service(tmp_path / "c", database=pg_url)
        try:
            m = manifest.round(office.round_id).manifest
        finally:
            manifest.close()
        deadline = time.monotonic() + 15
        while True:
            note = folder / office.round_id / "checkpoint"
            if note.exists():
                checkpoint = Checkpoint.parse(note.read_text(), m.origin, m.log_key)
                if checkpoint.size == 3:
                    break
            assert time.monotonic() < deadline, "B's tiles folder did not follow A's casts"
            time.sleep(0.1)
        assert (folder / office.round_id / "tile" / "entries" / "000.p" / "3").exists()
