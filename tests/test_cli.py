"""The ``anonballot`` command, in-process (click's CliRunner)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from _records import copy_record, read_json, write_json
from click.testing import CliRunner, Result

from anonballot.cli.main import main
from anonballot.encoding import b64u_encode, jcs, sha256


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result: Result, status: int = 2) -> str:
    assert result.exit_code == status, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return lines[0]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "record"
    result = invoke(
        "simulate", "--out", out, "--wards", "2", "--voters", "3", "--key-bits", "2048",
        "--seed", "5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"record written to {out}"
    assert result.stdout.startswith("round long-bien-demo: 2 wards, 6 eligible")
    return out


def test_audit_passes(simulated: Path) -> None:
    result = invoke("audit", simulated, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "RESULT: all checks pass"
    assert result.stderr == ""


def test_audit_json(simulated: Path) -> None:
    result = invoke("audit", simulated, "--json", "--workers", "2")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert [c["id"] for c in report["checks"]] == [f"A{i}" for i in range(1, 14)]
    assert report["results"] == read_json(simulated, "results.json")["results"]


def test_simulate_zip_and_audit(tmp_path: Path) -> None:
    out = tmp_path / "record.zip"
    result = invoke("simulate", "--out", out, "--wards", "1", "--voters", "2", "--key-bits", "2048")
    assert result.exit_code == 0, result.output
    assert out.is_file()
    result = invoke("audit", out, "--workers", "1")
    assert result.exit_code == 0, result.output


def test_audit_of_a_tampered_record_exits_1(simulated: Path, tmp_path: Path) -> None:
    record = copy_record(simulated, tmp_path / "record")
    signed = read_json(record, "results.json")
    signed["results"]["district"]["ballots"] += 1
    write_json(record, "results.json", signed)
    result = invoke("audit", record, "--workers", "1")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "RESULT: FAILED A12"
    assert result.stderr == ""
    result = invoke("audit", record, "--json", "--workers", "1")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["passed"] is False


@pytest.mark.parametrize("kind", ["missing", "file", "empty", "zip"])
def test_audit_of_what_is_no_record(tmp_path: Path, kind: str) -> None:
    target = tmp_path / ("target.zip" if kind == "zip" else "target")
    if kind == "file":
        target.write_bytes(os.urandom(1000))
    elif kind == "empty":
        target.mkdir()
    elif kind == "zip":
        with zipfile.ZipFile(target, "w") as zf:
            zf.writestr("readme.txt", "no record here")
    line = assert_one_line_error(invoke("audit", target, "--workers", "1"))
    assert str(target) in line


def test_simulate_bad_arguments(tmp_path: Path) -> None:
    out = tmp_path / "record"
    line = assert_one_line_error(
        invoke("simulate", "--out", out, "--threshold", "5", "--trustees", "3")
    )
    assert "--threshold" in line
    assert not out.exists()
    assert_one_line_error(invoke("simulate", "--out", out, "--wards", "15"))
    assert_one_line_error(invoke("simulate", "--out", out, "--voters", "0"))
    assert_one_line_error(invoke("simulate", "--out", out, "--key-bits", "1024"))
    assert list(tmp_path.iterdir()) == []


def test_simulated_rounds_make_a_series(simulated: Path, tmp_path: Path) -> None:
    """--round-id names the round; --previous links it to an earlier simulated record."""
    may = read_json(simulated, "manifest.json")["manifest"]
    assert may["round_id"] == "long-bien-demo"
    assert may["results_access"] == "public"  # simulate's default: the whole record is written
    assert "previous" not in may
    out = tmp_path / "nov.zip"
    result = invoke(
        "simulate", "--out", out, "--wards", "2", "--voters", "3", "--key-bits", "2048",
        "--seed", "6", "--round-id", "long-bien-2026-11", "--previous", simulated,
        "--results-access", "restricted",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    may_mid = b64u_encode(sha256(jcs(may)))
    assert result.stdout.startswith("round long-bien-2026-11: 2 wards")
    assert f"follows round long-bien-demo (mid {may_mid})" in result.stdout
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        nov = json.loads(zf.read("long-bien-2026-11/manifest.json"))["manifest"]
    assert nov["previous"] == {"round_id": "long-bien-demo", "mid": may_mid}
    assert nov["results_access"] == "restricted"
    assert nov["origin"] == "district.example/log/long-bien-2026-11"
    # the same people rated under the same ids: a series
    assert nov["subjects"] == may["subjects"]
    # the whole record either way, and it audits
    assert "long-bien-2026-11/results.json" in names
    assert any(n.startswith("long-bien-2026-11/releases/") for n in names)
    audited = invoke("audit", out, "--workers", "1")
    assert audited.exit_code == 0, audited.output
    assert audited.stdout.splitlines()[-1] == "RESULT: all checks pass"


def test_simulate_previous_errors(simulated: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    line = assert_one_line_error(invoke("simulate", "--out", out, "--previous", simulated))
    assert line == (
        f"error: --previous {simulated} is round long-bien-demo itself; give this round "
        "another --round-id"
    )
    line = assert_one_line_error(
        invoke("simulate", "--out", out, "--round-id", "b", "--previous", tmp_path / "none")
    )
    assert line.startswith(f"error: --previous {tmp_path / 'none'}: ")
    line = assert_one_line_error(invoke("simulate", "--out", out, "--round-id", "Tháng-5"))
    assert "round_id" in line
    line = assert_one_line_error(invoke("simulate", "--out", out, "--results-access", "secret"))
    assert "--results-access" in line
    assert not out.exists()


def test_simulate_refuses_to_replace_without_force(tmp_path: Path) -> None:
    out = tmp_path / "record"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    line = assert_one_line_error(invoke("simulate", "--out", out, "--voters", "1"))
    assert "--force" in line
    assert (out / "keep.txt").read_text() == "mine"
    result = invoke(
        "simulate", "--out", out, "--wards", "1", "--voters", "1", "--key-bits", "2048",
        "--force",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists()
    assert (out / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit"], "error: Missing argument 'RECORD'. (see: anonballot audit --help)"),
        (["audit", "x", "--bogus"], "error: No such option '--bogus'."),
        (["nosuch"], "error: No such command 'nosuch'. (see: anonballot --help)"),
        (["simulate", "--out", "r", "--wards", "many"], "error: Invalid value for '--wards'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args, prog_name="anonballot")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_help_and_version_still_work() -> None:
    assert CliRunner().invoke(main, ["--version"]).exit_code == 0
    helped = CliRunner().invoke(main, ["audit", "--help"], prog_name="anonballot")
    assert helped.exit_code == 0
    assert helped.stdout.startswith("Usage: anonballot audit")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://nobody@127.0.0.1:1/anonballot", "cannot connect to the database"),
        ("mysql://nobody@127.0.0.1/anonballot", "expected a postgresql:// URL"),
    ],
)
def test_serve_on_a_database_it_cannot_use_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    """``serve --database`` with a database away or not PostgreSQL: one line, exit 2."""
    from click.testing import CliRunner

    from anonballot.cli.main import main

    result = CliRunner().invoke(main, ["serve", "--data", str(tmp_path / "d"), "--database", url])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), lines[0]
    assert says in lines[0], lines[0]
    assert "Traceback" not in result.output
