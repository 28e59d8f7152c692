"""Witnesses over sockets (issue 10's done-when): a live server pushes its checkpoints to
three witness servers while ballots are cast through its API, is restarted in the middle
(and picks up from the witnesses' sizes), closes the round, and the round record's final
checkpoint carries every cosignature; what /log/ serves carries them too."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from _live import Office, demo_office, free_port, serve_app, server_thread

from anonballot.audit import audit_record
from anonballot.checkpoint import Checkpoint
from anonballot.encoding import b64u_decode, b64u_encode
from anonballot.manifest import Manifest
from anonballot.participant import Participant
from anonballot.server.booth import STATIC
from anonballot.server.cosigner import Cosigner
from anonballot.server.service import Service
from anonballot.server.witness import SqliteWitnessStore, create_witness_app
from anonballot.testing import random_answers
from anonballot.witness import PolicyWitness, WitnessKey, WitnessPolicy

pytestmark = pytest.mark.slow

NAMES = ("nhan-chung.tuyen-giao", "nhan-chung.uy-ban-mttq", "nhan-chung.thanh-tra")


def seen_on_verify_page(url: str, office: Office, manifest: Manifest) -> None:
    """/verify, given a ballot's receipt code, says which witnesses vouch for the board."""
    from _browser import PHONE, TIMEOUT, launch_chromium

    from anonballot.hazmat.merkle import leaf_hash
    from anonballot.receipt import receipt_code

    leaf = httpx.get(f"{url}/api/rounds/{office.round_id}/leaves?start=4&end=5").content
    code = receipt_code(leaf_hash(leaf.removesuffix(b"\n")))
    vi = json.loads((STATIC / "i18n" / "vi.json").read_text(encoding="utf-8"))
    assert manifest.witnesses is not None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_context(viewport=PHONE).new_page()
            page.set_default_timeout(TIMEOUT)
            page.goto(f"{url}/verify#receipt={code}&round={office.round_id}")
            page.wait_for_selector("#lookup-check .summary:not(:empty)")
            text = page.inner_text("#lookup-check")
        finally:
            browser.close()
    names = ", ".join(w.name for w in manifest.witnesses.witnesses)
    assert vi["verify.ok.witnesses"].format(count=3, total=3, quorum=2, names=names) in text


def seen_by_receipt_verify(url: str, office: Office) -> str:
    """`anonballot receipt verify --code` on the ballot at position 4: what it prints."""
    from click.testing import CliRunner

    from anonballot.cli.main import main
    from anonballot.hazmat.merkle import leaf_hash
    from anonballot.receipt import receipt_code

    leaf = httpx.get(f"{url}/api/rounds/{office.round_id}/leaves?start=3&end=4").content
    code = receipt_code(leaf_hash(leaf.removesuffix(b"\n")))
    result = CliRunner().invoke(
        main, ["receipt", "verify", "--code", code, "--server", url, "--round", office.round_id]
    )
    assert result.exit_code == 0, result.output
    return result.output


def voted_with_the_cli(url: str, office: Office, manifest: Manifest) -> None:
    """`anonballot vote` waits for the witnesses: its .tlog-proof carries a checkpoint they
    cosigned, which `receipt verify --manifest` shows offline."""
    from click.testing import CliRunner
    from conftest import all_answers

    from anonballot.cli.main import main

    code, ward = office.codes[5]
    folder = office.data.parent / "voter"
    folder.mkdir()
    answers = folder / "answers.json"
    answers.write_text(json.dumps(all_answers(manifest, ward, "tot")), encoding="utf-8")
    (folder / "manifest.json").write_text(
        httpx.get(f"{url}/api/rounds/{office.round_id}/manifest").text, encoding="utf-8"
    )
    runner = CliRunner()
    voted = runner.invoke(main, [
        "vote", "--server", url, "--round", office.round_id, "--code", code, "--answers",
        str(answers), "--state", str(folder / "state.json"), "--receipt", str(folder / "r.json"),
    ])  # fmt: skip
    assert voted.exit_code == 0, voted.output
    assert "Waiting for the witnesses to cosign" in voted.output
    proof = (folder / "r.tlog-proof").read_text(encoding="utf-8")
    assert manifest.witnesses is not None
    assert manifest.witnesses.vouched(proof.split("\n\n", 1)[1])
    checked = runner.invoke(main, [
        "receipt", "verify", str(folder / "r.tlog-proof"), "--manifest",
        str(folder / "manifest.json"),
    ])  # fmt: skip
    assert checked.exit_code == 0, checked.output
    assert "[ok] 3 of 3 witnesses (needed: 2) cosigned this board" in checked.output


def tmp_record(office: Office) -> Path:
    """The round's record written to a folder beside its data directory."""
    from anonballot.record import write_record

    service = Service(office.data)
    try:
        engine = service.round(office.round_id)
        folder = office.data.parent / "record"
        return write_record(folder, office.round_id, engine.record_files(), engine.board_leaves())
    finally:
        service.close()


def cast(url: str, office: Office, code: str, seed: int) -> None:
    api = f"{url}/api/rounds/{office.round_id}"
    with httpx.Client(timeout=30) as c:
        ward = c.post(f"{api}/ward", json={"code": code}).json()["ward"]
        p = Participant(c.get(f"{api}/manifest").json(), ward)
        blinded = b64u_encode(p.request_token())
        answer = c.post(f"{api}/tokens", json={"code": code, "blinded": blinded})
        assert answer.status_code == 200, answer.text
        p.finish_token(b64u_decode(answer.json()["blind_sig"]))
        leaf = p.make_leaf(random_answers(p.manifest, ward, random.Random(seed)))
        assert c.post(f"{api}/ballots", content=leaf).status_code == 200


def vouched_for(url: str, manifest: Manifest, size: int, timeout: float = 30) -> str:
    """The served checkpoint once it is of ``size`` and cosigned by every witness."""
    assert manifest.witnesses is not None
    deadline = time.monotonic() + timeout
    while True:
        note = httpx.get(f"{url}/log/{manifest.round_id}/checkpoint").text
        checkpoint = Checkpoint.parse(note, manifest.origin, manifest.log_key)
        names = {w.name for w in manifest.witnesses.cosigners(note)}
        if checkpoint.size == size and names == set(NAMES):
            return note
        assert time.monotonic() < deadline, f"size {checkpoint.size}, cosigned by {names}"
        time.sleep(0.1)


class Witnesses:
    """The three witnesses of :data:`NAMES`, each at a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.keys = [WitnessKey.generate(name) for name in NAMES]
        self.ports = [free_port() for _ in self.keys]
        pairs = zip(self.keys, self.ports, strict=True)
        listed = tuple(PolicyWitness(k.verifier, f"http://127.0.0.1:{p}") for k, p in pairs)
        self.policy = WitnessPolicy(listed, 2)

    def serve(self, stack: ExitStack, manifest: Manifest, folder: Path) -> None:
        """Start each witness (its state in ``folder``) following the round's log."""
        for key, port in zip(self.keys, self.ports, strict=True):
            store = SqliteWitnessStore(folder / key.name)
            stack.callback(store.close)
            app = create_witness_app(key, {manifest.origin: manifest.log_key}, store)
            stack.enter_context(serve_app(app, port))


@pytest.fixture
def witnessed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Office, Manifest]]:
    monkeypatch.setattr(Cosigner, "INTERVAL", 0.2)
    witnesses = Witnesses()
    office = demo_office(tmp_path / "data", voters=3, witnesses=witnesses.policy)
    with server_thread(office.data) as url:
        manifest = Manifest.from_signed(
            httpx.get(f"{url}/api/rounds/{office.round_id}/manifest").json()
        )
    with ExitStack() as stack:
        witnesses.serve(stack, manifest, tmp_path)
        yield office, manifest


def test_a_live_round_is_cosigned_through_a_restart_and_its_record_keeps_the_quorum(
    witnessed: tuple[Office, Manifest],
) -> None:
    office, manifest = witnessed
    codes = [code for code, _ in office.codes]
    with server_thread(office.data) as url:
        vouched_for(url, manifest, 0)  # the empty board, pushed when the server starts
        for i in range(3):
            cast(url, office, codes[i], i)
        vouched_for(url, manifest, 3)
    with server_thread(office.data) as url:  # a new server: the witnesses answer 409 first
        for i in range(3, 5):
            cast(url, office, codes[i], i)
        vouched_for(url, manifest, 5)
        seen_on_verify_page(url, office, manifest)
        voted_with_the_cli(url, office, manifest)
        said = seen_by_receipt_verify(url, office)
        assert "[ok] 3 of 3 witnesses (needed: 2) cosigned this board: " in said, said
        admin = {"authorization": f"Bearer {office.token}"}
        closed = httpx.post(
            f"{url}/api/admin/rounds/{office.round_id}/close", json={"force": True}, headers=admin
        )
        assert closed.status_code == 200, closed.text
        final = vouched_for(url, manifest, 6)
    service = Service(office.data)
    try:
        engine = service.round(office.round_id)
        for trustee in office.trustees[:2]:
            engine.add_release(trustee.release(engine.mid))
        engine.tally()
        in_record = engine.record_files()["checkpoint.txt"].decode()
        assert engine.board.size == 6
    finally:
        service.close()
    assert in_record == final
    engine_files = tmp_record(office)
    report = audit_record(engine_files)
    assert report.checks["A13"].passed, report.checks["A13"]
    assert report.passed
    assert manifest.witnesses is not None
    assert manifest.witnesses.vouched(in_record)
