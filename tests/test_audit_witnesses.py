"""Check A13 (anonballot.audit): the final checkpoint's cosignatures by the witnesses the
manifest names, at least its quorum of them (protocol sections 6.9 and 9.2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _records import RoundRun, copy_record, run_round
from _witnessed import CASES, NAMES, QUORUM, Witnessed, split_note, witnessed_round
from click.testing import CliRunner

from anonballot.audit import audit_record, render_report
from anonballot.cli.main import main


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Witnessed:
    return witnessed_round(tmp_path_factory.mktemp("witnessed") / "record")


def test_the_record_carries_the_cosignatures(witnessed: Witnessed) -> None:
    note = (witnessed.run.path / "checkpoint.txt").read_text(encoding="utf-8")
    _, lines = split_note(note)
    assert len(lines) == 1 + len(NAMES)  # the log's signature and three cosignatures
    assert witnessed.policy.cosigners(note) == witnessed.policy.witnesses


@pytest.mark.parametrize("name", list(CASES))
def test_a13(witnessed: Witnessed, tmp_path: Path, name: str) -> None:
    case = CASES[name]
    record = copy_record(witnessed.run.path, tmp_path / "record")
    if case.change is not None:
        case.change(record, witnessed)
    report = audit_record(record, workers=1)
    a13 = report.checks["A13"]
    assert set(report.failed()) == set(case.failing), render_report(report)
    assert a13.passed is case.passes
    counts = {"witnesses": len(NAMES), "quorum": QUORUM}
    if name != "no-checkpoint":
        counts["cosigned"] = len(case.cosigned)
        assert a13.names == {"cosigned": list(case.cosigned)}
    assert a13.counts == counts


def test_a13_failures_say_why(witnessed: Witnessed, tmp_path: Path) -> None:
    details = {}
    for name in ("one-cosigns", "tampered-cosignature", "cosignature-of-another-checkpoint",
                 "no-checkpoint"):  # fmt: skip
        record = copy_record(witnessed.run.path, tmp_path / name)
        change = CASES[name].change
        assert change is not None
        change(record, witnessed)
        failures = audit_record(record, workers=1).checks["A13"].failures
        assert {f["file"] for f in failures} == {"checkpoint.txt"}
        details[name] = [f["detail"] for f in failures]
    assert details["one-cosigns"] == [
        "1 of the manifest's witnesses cosigned the final checkpoint, the quorum is 2"
    ]
    for name in ("tampered-cosignature", "cosignature-of-another-checkpoint"):
        # the quorum is met by w1 and w2: the one failure names the witness
        assert details[name] == [f"the cosignature line by the witness {NAMES[2]} does not verify"]
    assert details["no-checkpoint"] == ["not checked: the final checkpoint (A6) is not usable"]


def test_no_witnesses_nothing_to_check(tmp_path: Path) -> None:
    run: RoundRun = run_round(tmp_path / "record", wards=1, voters=2)
    assert run.engine.manifest.witnesses is None
    report = audit_record(run.path, workers=1)
    assert report.passed
    assert report.checks["A13"].counts == {"witnesses": 0}
    assert report.checks["A13"].names == {}
    assert "names" not in report.checks["A13"].to_json()


def test_the_public_part_runs_a13(witnessed: Witnessed, tmp_path: Path) -> None:
    record = copy_record(witnessed.run.path, tmp_path / "record")
    for path in (record / "releases").iterdir():
        path.unlink()
    (record / "results.json").unlink()
    report = audit_record(record, workers=1)
    assert report.not_checked() == ["A10", "A11", "A12"]
    assert report.checks["A13"].status == "passed"
    text = render_report(report)
    assert "RESULT: A1 to A9, A13 pass; A10 to A12 not checked" in text


def test_reports_name_the_cosigners(witnessed: Witnessed) -> None:
    report = audit_record(witnessed.run.path, workers=1)
    text = render_report(report)
    assert f"        cosigned: {', '.join(NAMES)}" in text
    assert "A13 PASS" in text
    assert "[witnesses 3, quorum 2, cosigned 3]" in text
    assert report.checks["A13"].to_json()["names"] == {"cosigned": list(NAMES)}
    result = CliRunner().invoke(main, ["audit", str(witnessed.run.path), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert f"cosigned: {', '.join(NAMES)}" in result.output
    result = CliRunner().invoke(
        main, ["audit", str(witnessed.run.path), "--workers", "1", "--json"]
    )
    assert json.loads(result.stdout)["checks"][12]["names"] == {"cosigned": list(NAMES)}
