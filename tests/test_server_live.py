"""The server on a real socket (uvicorn on 127.0.0.1), driven over HTTP by httpx."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest
from _live import demo_office, server_thread

from anonballot.encoding import b64u_decode, b64u_encode
from anonballot.participant import Participant
from anonballot.testing import random_answers

pytestmark = pytest.mark.slow


def test_a_participant_votes_over_a_real_socket(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data")
    code, ward = office.codes[0]
    with server_thread(office.data) as url, httpx.Client(base_url=url) as http:
        base = f"/api/rounds/{office.round_id}"
        assert http.post(f"{base}/ward", json={"code": code}).json() == {"ward": ward}
        p = Participant(http.get(f"{base}/manifest").json(), ward)
        answer = http.post(
            f"{base}/tokens", json={"code": code, "blinded": b64u_encode(p.request_token())}
        )
        p.finish_token(b64u_decode(answer.json()["blind_sig"]))
        leaf = p.make_leaf(random_answers(p.manifest, ward, random.Random(1)))
        receipt = http.post(f"{base}/ballots", content=leaf)
        assert receipt.status_code == 200, receipt.text
        p.check_receipt(receipt.json())
        assert http.get(f"{base}/checkpoint").text.startswith(p.manifest.origin + "\n1\n")


def test_demo_sets_up_the_district_and_prints_where_everything_is(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from anonballot.cli.main import main

    data = tmp_path / "var"
    result = CliRunner().invoke(
        main, ["demo", "--data", str(data), "--key-bits", "2048", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert f"invitations:  {data / 'invitations.csv'}" in result.output
    assert f"admin token:  {data / 'admin.token'}" in result.output
    link = result.output.split("try the booth: ")[1].split()[0]
    code = link.split("#code=")[1]
    assert "?" not in link  # the code only in the fragment
    rows = (data / "invitations.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == "ward,participant,code"
    assert len(rows) - 1 >= 14 * 30
    assert rows[1].split(",")[2].replace("-", "") == code
    again = CliRunner().invoke(main, ["demo", "--data", str(data), "--no-serve"])
    assert again.exit_code == 0, again.output  # a second run reuses the demo round
    assert (data / "invitations.csv").read_text(encoding="utf-8-sig").splitlines() == rows


def test_demo_runs_the_trustee_boards_witnesses_and_its_board_is_cosigned(tmp_path: Path) -> None:
    """`anonballot demo` starts a witness for each demo trustee board (ports after the
    server's): the demo round's checkpoint is cosigned by them out of the box."""
    import subprocess
    import sys
    import time

    from _live import free_port, stop_process, wait_until_up

    from anonballot.checkpoint import Checkpoint
    from anonballot.manifest import Manifest

    port = free_port()
    log = (tmp_path / "demo.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 (our own entry point, fixed arguments)
        [sys.executable, "-m", "anonballot.cli", "--lang", "en", "demo", "--data",
         str(tmp_path / "var"), "--port", str(port), "--key-bits", "2048"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, timeout=120)
        manifest = Manifest.from_signed(
            httpx.get(f"{url}/api/rounds/long-bien-demo/manifest").json()
        )
        policy = manifest.witnesses
        assert policy is not None
        assert policy.quorum == 2
        assert [w.url for w in policy.witnesses] == [
            f"http://127.0.0.1:{port + i}" for i in (1, 2, 3)
        ]
        deadline = time.monotonic() + 30
        while True:
            note = httpx.get(f"{url}/log/long-bien-demo/checkpoint").text
            Checkpoint.parse(note, manifest.origin, manifest.log_key)
            if len(policy.cosigners(note)) == 3:
                break
            assert time.monotonic() < deadline, note
            time.sleep(0.2)
    finally:
        stop_process(proc)
        log.close()
    printed = (tmp_path / "demo.log").read_text(encoding="utf-8")
    assert "3 witnesses of the trustee boards run with the demo server" in printed
