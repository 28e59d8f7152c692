"""A whole round of the 14-ward district through a real server.

Participants issue and cast from several clients at once over HTTP; the organizer closes the
round with the CLI; two trustees release their keys with the CLI; the organizer tallies and
exports the record with the CLI; the record passes the audit.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from _jsonview import obj
from _live import Office, demo_office, server_thread
from click.testing import CliRunner

from anonballot.audit import audit_record
from anonballot.cli.main import main
from anonballot.encoding import b64u_decode, b64u_encode
from anonballot.keyfile import encrypt_key_file, write_private
from anonballot.participant import Participant
from anonballot.testing import random_answers

pytestmark = pytest.mark.slow

PASSPHRASE = "một câu mật khẩu đủ dài"  # noqa: S105 (a test passphrase)


def participate(url: str, office: Office, code: str, seed: int) -> str:
    """One participant on their own connection: ward, manifest, token, ballot, receipt."""
    base = f"/api/rounds/{office.round_id}"
    with httpx.Client(base_url=url, timeout=60) as http:
        ward = http.post(f"{base}/ward", json={"code": code}).json()["ward"]
        p = Participant(http.get(f"{base}/manifest").json(), ward)
        answer = http.post(
            f"{base}/tokens", json={"code": code, "blinded": b64u_encode(p.request_token())}
        )
        answer.raise_for_status()
        p.finish_token(b64u_decode(answer.json()["blind_sig"]))
        leaf = p.make_leaf(random_answers(p.manifest, ward, random.Random(seed)))
        receipt = http.post(f"{base}/ballots", content=leaf)
        receipt.raise_for_status()
        return p.check_receipt(receipt.json()).code


def test_fourteen_wards_through_the_server_and_the_cli(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", wards=14, voters=3)
    runner = CliRunner()
    with server_thread(office.data) as url:
        cli = ["--server", url, "--token-file", str(office.token_file)]
        voters = office.codes[::3] + office.codes[1::3]  # two of three in every ward vote
        with ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(
                    lambda item: participate(url, office, *item),
                    ((c, i) for i, (c, _) in enumerate(voters)),
                )
            )
        assert len(set(codes)) == len(voters) == 28

        closed = runner.invoke(main, ["round", "close", office.round_id, "--force", *cli])
        assert closed.exit_code == 0, closed.output
        pass_file = tmp_path / "passphrase.txt"
        pass_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
        for key in office.trustees[:2]:
            key_file = tmp_path / f"{key.id}.key"
            write_private(key_file, json.dumps(encrypt_key_file(key.to_json(), PASSPHRASE)))
            released = runner.invoke(
                main,
                ["trustee", "release", "--key", str(key_file), "--round", office.round_id,
                 "--server", url, "--passphrase-file", str(pass_file)],
            )  # fmt: skip
            assert released.exit_code == 0, released.output
        tallied = runner.invoke(main, ["round", "tally", office.round_id, *cli])
        assert tallied.exit_code == 0, tallied.output
        record = tmp_path / "record.zip"
        exported = runner.invoke(
            main, ["round", "export", office.round_id, "--out", str(record), "--server", url]
        )
        assert exported.exit_code == 0, exported.output

    report = audit_record(record, workers=2)
    assert report.passed, report.failed()
    assert report.results is not None
    wards = obj(report.results["wards"])
    assert len(wards) == 14
    assert all(w["ballots"] == w["valid"] == 2 and w["issued"] == 2 for w in wards.values())
    audited = runner.invoke(main, ["audit", str(record)])
    assert audited.exit_code == 0, audited.output
