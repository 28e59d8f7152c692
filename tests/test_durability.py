"""Durability: what the server acknowledged survives a restart and a ``kill -9``.

``anonballot serve`` runs as a separate process on a data directory. An answer (a receipt, a
blind signature) is given only once its data is on disk with the checkpoint that covers it,
so after a crash every acknowledged ballot is on the board at its index, the board matches
its latest checkpoint, each receipt's checkpoint is consistent with that one, and the round
can be finished and audited.
"""

from __future__ import annotations

import random
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from _live import Office, demo_office, server_process

from anonballot.audit import audit_record
from anonballot.checkpoint import Checkpoint
from anonballot.encoding import b64u_decode, b64u_encode
from anonballot.hazmat.merkle import MerkleTree, leaf_hash, verify_consistency
from anonballot.participant import Participant
from anonballot.receipt import Receipt
from anonballot.server.batcher import BlindSigners
from anonballot.testing import random_answers

pytestmark = pytest.mark.slow


def base(office: Office) -> str:
    return f"/api/rounds/{office.round_id}"


def admin(office: Office) -> dict[str, str]:
    return {"authorization": f"Bearer {office.token}"}


def issue_all(
    http: httpx.Client, office: Office, codes: Sequence[tuple[str, str]]
) -> list[Participant]:
    """A token and a leaf for each code (issued one after the other)."""
    manifest = http.get(f"{base(office)}/manifest").json()
    people: list[Participant] = []
    for code, ward in codes:
        p = Participant(manifest, ward)
        r = http.post(
            f"{base(office)}/tokens", json={"code": code, "blinded": b64u_encode(p.request_token())}
        )
        assert r.status_code == 200, r.text
        p.finish_token(b64u_decode(r.json()["blind_sig"]))
        p.make_leaf(random_answers(p.manifest, ward, random.Random(len(people))))
        people.append(p)
    return people


def burst(
    url: str, requests: Sequence[Callable[[httpx.Client], httpx.Response]], kill_after: int,
    kill: Callable[[], None], threads: int = 8,
) -> dict[int, httpx.Response]:  # fmt: skip
    """Send ``requests`` from ``threads`` threads; ``kill`` once ``kill_after`` were answered.

    Returns the 200 answers by request index; a thread stops at its first transport error.
    """
    acked: dict[int, httpx.Response] = {}
    lock = threading.Lock()

    def sender(indexes: range) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            for i in indexes:
                try:
                    answer = requests[i](http)
                except httpx.TransportError:
                    return
                assert answer.status_code == 200, answer.text
                with lock:
                    acked[i] = answer

    workers = [
        threading.Thread(target=sender, args=(range(t, len(requests), threads),))
        for t in range(threads)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while len(acked) < kill_after and time.monotonic() < deadline:
        time.sleep(0.001)
    kill()
    for worker in workers:
        worker.join(30)
    assert kill_after <= len(acked) < len(requests), "the kill did not land mid-burst"
    return acked


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def wait_gone(pids: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists()]
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes {alive} outlived the killed server")


def check_board(http: httpx.Client, office: Office, p: Participant) -> Checkpoint:
    """The whole board matches the latest checkpoint (size and root); that checkpoint."""
    manifest = p.manifest
    latest = Checkpoint.parse(
        http.get(f"{base(office)}/checkpoint").text, manifest.origin, manifest.log_key
    )
    body = http.get(f"{base(office)}/leaves", params={"start": 0, "end": latest.size}).content
    leaves = body.split(b"\n")[:-1]
    assert len(leaves) == latest.size
    assert MerkleTree(leaf_hash(leaf) for leaf in leaves).root(latest.size) == latest.root
    return latest


def check_receipt_kept(
    http: httpx.Client, office: Office, p: Participant, receipt: Receipt, latest: Checkpoint
) -> None:
    """The receipt's leaf is at its index, and its checkpoint is consistent with ``latest``."""
    assert p.leaf is not None
    index = receipt.leaf_index
    stored = http.get(f"{base(office)}/leaves", params={"start": index, "end": index + 1})
    assert stored.content == p.leaf + b"\n"
    old = receipt.verify(p.manifest, p.leaf)
    proof = http.get(
        f"{base(office)}/proof/consistency", params={"old": old.size, "new": latest.size}
    ).json()["proof"]
    if 0 < old.size < latest.size:
        verify_consistency(
            old.size, latest.size, [b64u_decode(x) for x in proof], old.root, latest.root
        )
    else:
        assert old.size <= latest.size
        assert old.size < latest.size or old.root == latest.root


def finish_and_audit(http: httpx.Client, office: Office, mid: str, tmp: Path) -> dict[str, Any]:
    """Close, two releases, tally, download the record, audit it; the results."""
    r = http.post(
        f"/api/admin/rounds/{office.round_id}/close", headers=admin(office), json={"force": True}
    )
    assert r.status_code == 200, r.text
    for trustee in office.trustees[:2]:
        r = http.post(f"{base(office)}/releases", json=trustee.release(mid))
        assert r.status_code == 200, r.text
    r = http.post(f"/api/admin/rounds/{office.round_id}/tally", headers=admin(office))
    assert r.status_code == 200, r.text
    record = http.get(f"{base(office)}/record")
    assert record.status_code == 200
    path = tmp / "record.zip"
    path.write_bytes(record.content)
    assert zipfile.is_zipfile(path)
    assert audit_record(path, workers=1).passed
    results: dict[str, Any] = http.get(f"{base(office)}/results").json()["results"]
    return results


def test_a_restart_between_cast_and_close_loses_nothing(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", voters=3)
    with server_process(office.data) as (url, _), httpx.Client(base_url=url) as http:
        people = issue_all(http, office, office.codes)
        receipts = []
        for p in people[:5]:
            assert p.leaf is not None
            r = http.post(f"{base(office)}/ballots", content=p.leaf)
            assert r.status_code == 200, r.text
            receipts.append(p.check_receipt(r.json()))
    # stopped (SIGTERM); started again on the same data directory
    with server_process(office.data) as (url, _), httpx.Client(base_url=url) as http:
        latest = check_board(http, office, people[0])
        assert latest.size == 5
        for p, receipt in zip(people[:5], receipts, strict=True):
            check_receipt_kept(http, office, p, receipt, latest)
        # the token issued before the restart is still known: the same request gets the
        # same answer, and its ballot is accepted now
        last = people[5]
        assert last.request is not None
        assert last.token is not None
        assert last.leaf is not None
        code = office.codes[5][0]
        again = http.post(
            f"{base(office)}/tokens",
            json={"code": code, "blinded": b64u_encode(last.request.blinded)},
        )
        assert last.request.finalize(b64u_decode(again.json()["blind_sig"])).msg == last.token.msg
        assert http.post(f"{base(office)}/ballots", content=last.leaf).status_code == 200
        results = finish_and_audit(http, office, last.manifest.mid, tmp_path)
    assert results["district"]["ballots"] == 6


def test_kill_9_in_a_burst_of_casts_and_issuances_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    office = demo_office(tmp_path / "data", voters=60)
    casting, late = office.codes[:96], office.codes[96:]
    with server_process(office.data) as (url, proc), httpx.Client(base_url=url) as http:
        people = issue_all(http, office, casting)
        workers = children(proc.pid)  # the blind-signing processes
        assert workers or not BlindSigners().processes
        ballots = f"{base(office)}/ballots"
        sends = [lambda h, leaf=p.leaf: h.post(ballots, content=leaf) for p in people]
        acked = burst(url, sends, kill_after=24, kill=proc.kill)
        proc.wait()
    wait_gone(workers)

    with server_process(office.data) as (url, proc), httpx.Client(base_url=url) as http:
        latest = check_board(http, office, people[0])
        assert latest.size >= len(acked)
        for i, answer in acked.items():
            receipt = Receipt.from_json(answer.json())
            check_receipt_kept(http, office, people[i], receipt, latest)
        # the ballots whose answer was lost are sent again: each is on the board once
        for p in people:
            assert p.leaf is not None
            assert http.post(ballots, content=p.leaf).status_code == 200
        latest = check_board(http, office, people[0])
        assert latest.size == len(people)
        # now a burst of token requests, killed too
        manifest = http.get(f"{base(office)}/manifest").json()
        requesters = [Participant(manifest, ward) for _, ward in late]
        bodies = [
            {"code": code, "blinded": b64u_encode(p.request_token())}
            for (code, _), p in zip(late, requesters, strict=True)
        ]
        tokens = f"{base(office)}/tokens"
        sends = [lambda h, body=body: h.post(tokens, json=body) for body in bodies]
        issued = burst(url, sends, kill_after=6, kill=proc.kill, threads=4)
        proc.wait()

    with server_process(office.data) as (url, _), httpx.Client(base_url=url) as http:
        for i, answer in issued.items():  # recorded: the same request gets the same answer
            again = http.post(tokens, json=bodies[i])
            assert again.json() == answer.json()
        close_count = len(casting) + sum(
            http.post(tokens, json=body).status_code == 200 for body in bodies
        )
        results = finish_and_audit(http, office, people[0].manifest.mid, tmp_path)
        close = http.get(f"{base(office)}/close").json()["close"]
    assert results["district"]["ballots"] == len(people)
    assert sum(close["issued"].values()) == close_count
