"""``anonballot audit RECORD --slips slips.csv``: the printed codes against the issuance ledger.

The Inspection committee's check of docs/threat-model.md ("A minting issuer"): every
pseudonym in the ledger must be the pseudonym of a printed code of its ward; a code whose
pseudonym is not there was never used. Here two of four participants per ward vote; the
slips file of the office lists all eight codes.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from _live import Office, demo_office, server_thread, vote_and_tally
from click.testing import CliRunner, Result

from anonballot.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tallied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Office, Path]:
    folder = tmp_path_factory.mktemp("slips")
    office = demo_office(folder / "data", wards=2, voters=4, results_access="public")
    voting = [c for i, c in enumerate(office.codes) if i % 4 < 2]  # two per ward
    vote_and_tally(dataclasses.replace(office, codes=voting))
    record = folder / "record.zip"
    with server_thread(office.data) as url:
        result = CliRunner().invoke(
            main, ["round", "export", office.round_id, "--out", str(record), "--server", url]
        )
        assert result.exit_code == 0, result.output
    return office, record


def audit(*args: str | Path, lang: str = "en") -> Result:
    return CliRunner().invoke(
        main, ["audit", *map(str, args), "--workers", "1"], env={"ANONBALLOT_LANG": lang}
    )


def test_every_ledger_entry_is_a_printed_code(tallied: tuple[Office, Path]) -> None:
    office, record = tallied
    slips = office.data / "invitations.csv"
    result = audit(record, "--slips", slips)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "The printed slips against the issuance ledger: 8 codes printed, 4 used" in lines
    assert "PASS: every ledger entry belongs to a printed code" in lines
    unused = [line for line in lines if "codes never used" in line]
    assert len(unused) == 2
    assert all(": 2 codes never used (participants " in line for line in unused)
    assert lines[-1] == "RESULT: all checks pass"
    as_json = json.loads(audit(record, "--slips", slips, "--json").stdout)
    assert as_json["slips"]["passed"] is True
    assert as_json["slips"]["used"] == 4
    vietnamese = audit(record, "--slips", slips, lang="vi")
    assert "ĐẠT: mọi dòng của sổ cấp phiếu đều thuộc một mã đã in" in vietnamese.stdout


def test_a_token_for_no_printed_code_fails(tallied: tuple[Office, Path], tmp_path: Path) -> None:
    office, record = tallied
    rows = (office.data / "invitations.csv").read_text(encoding="utf-8").splitlines()
    used = office.codes[0][0]
    missing = tmp_path / "slips.csv"  # a used code's slip is not in the file
    missing.write_text("\n".join(r for r in rows if used not in r) + "\n", encoding="utf-8")
    result = audit(record, "--slips", missing)
    assert result.exit_code == 1, result.output
    assert "1 ledger entries belong to no printed code" in result.stdout
    assert result.stdout.splitlines()[-1] == "RESULT: FAILED slips"


@pytest.mark.parametrize(
    ("content", "words"),
    [("name,code\nx,y\n", "expected the columns ward, participant, code"),
     ("ward,participant,code\nnowhere,1,AAAA-AAAA-AAAA-AAAA\n", "not in the round")],
)  # fmt: skip
def test_a_bad_slips_file_is_bad_input(
    tallied: tuple[Office, Path], tmp_path: Path, content: str, words: str
) -> None:
    _, record = tallied
    slips = tmp_path / "slips.csv"
    slips.write_text(content, encoding="utf-8")
    result = audit(record, "--slips", slips)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1
    assert words in result.stderr
