"""The auditor (anonballot.audit): checks A1 to A13 on a round record."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _records import (
    RoundRun,
    audit,
    board_lines,
    copy_record,
    patch_zip_member,
    read_json,
    resign,
    run_round,
    write_board,
    write_json,
)
from click.testing import CliRunner

from anonballot.audit import CHECKS, MAX_LISTED, NEEDS_CONFIDENTIAL, audit_record, render_report
from anonballot.checkpoint import Checkpoint
from anonballot.cli.main import main
from anonballot.encoding import b64u_encode
from anonballot.errors import InputError, RecordError
from anonballot.leaf import build_leaf, parse_leaf
from anonballot.record import MAX_LEAF_LINE, write_record
from anonballot.signing import SigningKey
from anonballot.tokens import Token

LEAVES = 6  # 2 wards x 3 voters, every one casts


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RoundRun:
    return run_round(tmp_path_factory.mktemp("audit") / "record", wards=2, voters=3)


@pytest.fixture
def record(run: RoundRun, tmp_path: Path) -> Path:
    """A fresh copy of the round's record, to change."""
    return copy_record(run.path, tmp_path / "record")


def test_record_passes_with_one_and_two_workers(run: RoundRun) -> None:
    one = audit(run.path, workers=1)
    two = audit(run.path, workers=2)
    assert one.passed, render_report(one)
    assert one.exit_status == 0
    assert one.failed() == []
    assert json.dumps(one.to_json(), sort_keys=True) == json.dumps(two.to_json(), sort_keys=True)
    assert one.checks["A2"].counts["leaves"] == LEAVES
    assert one.checks["A11"].counts == {"valid": LEAVES, "invalid": 0}
    assert one.results == read_json(run.path, "results.json")["results"]
    text = render_report(one)
    assert text.splitlines()[-1] == "RESULT: all checks pass"
    assert all(f" {cid} PASS" in text for cid in CHECKS)


def test_zip_record_passes(run: RoundRun, tmp_path: Path) -> None:
    archive = tmp_path / "record.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(run.path.rglob("*")):
            if path.is_file():
                zf.write(path, f"{run.engine.manifest.round_id}/{path.relative_to(run.path)}")
    folder, packed = audit(run.path).to_json(), audit(archive, workers=2).to_json()
    assert packed["passed"] is True
    assert packed.pop("record") == str(archive)
    folder.pop("record")
    assert packed == folder


def test_json_report_structure(run: RoundRun) -> None:
    result = CliRunner().invoke(main, ["audit", str(run.path), "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {
        "record", "round_id", "mid", "passed", "complete", "checks", "results"
    }  # fmt: skip
    assert report["passed"] is True
    assert report["complete"] is True
    assert report["mid"] == run.mid
    assert report["round_id"] == run.engine.manifest.round_id
    assert [c["id"] for c in report["checks"]] == list(CHECKS)
    for check in report["checks"]:
        assert set(check) == {
            "id", "title", "status", "passed", "counts", "failure_count", "failures"
        }  # fmt: skip
        assert check["title"] == CHECKS[check["id"]]
        assert check["passed"] is True
        assert check["status"] == "passed"
        assert check["failure_count"] == 0
        assert all(isinstance(v, int) for v in check["counts"].values())
    assert report["results"]["tree_size"] == LEAVES


# -- every check fails, and says where ------------------------------------------------------------


def _leaf(run: RoundRun, line: bytes) -> Any:
    return parse_leaf(line.rstrip(b"\n"), run.engine.manifest, run.mid)


def _forged_leaf(run: RoundRun, line: bytes, sig: bytes) -> bytes:
    """The leaf with a new voter key and token ``sig`` (not from the issuer), re-signed."""
    leaf = _leaf(run, line)
    voter = SigningKey.generate()
    token = Token(msg=os.urandom(32) + voter.public_key.to_bytes(), sig=sig)
    return build_leaf(run.mid, leaf.ward, token, leaf.ballot, voter) + b"\n"


def _break_a1(run: RoundRun, rec: Path) -> None:
    signed = read_json(rec, "manifest.json")
    signed["manifest"]["min_group"] = 6
    write_json(rec, "manifest.json", signed)


def _break_a2(run: RoundRun, rec: Path) -> None:
    lines = board_lines(rec)
    lines[1] = lines[1].replace(b'"v":1', b'"v":2')
    write_board(rec, lines)


def _break_a3(run: RoundRun, rec: Path) -> None:
    lines = board_lines(rec)
    lines[2] = _forged_leaf(run, lines[2], (1).to_bytes(256, "big"))
    write_board(rec, lines)


def _break_a4(run: RoundRun, rec: Path) -> None:
    lines = board_lines(rec)
    value = json.loads(lines[3])
    value["voter_sig"] = b64u_encode(SigningKey.generate().sign(b"something else"))
    lines[3] = json.dumps(value, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    write_board(rec, lines)


def _break_a5(run: RoundRun, rec: Path) -> None:
    lines = board_lines(rec)
    write_board(rec, [*lines, lines[0]])


def _break_a6(run: RoundRun, rec: Path) -> None:
    other = Checkpoint(run.engine.manifest.origin, LEAVES, bytes(32))
    (rec / "checkpoint.txt").write_text(other.sign(run.log))


def _break_a7(run: RoundRun, rec: Path) -> None:
    (rec / "checkpoints").mkdir()
    (rec / "checkpoints" / "2.txt").write_text(
        Checkpoint(run.engine.manifest.origin, 2, bytes(32)).sign(run.log)
    )


def _break_a8(run: RoundRun, rec: Path) -> None:
    resign(rec, "close.json", "close", run.organizer, lambda v: v.update(root=v["round"]))


def _break_a9(run: RoundRun, rec: Path) -> None:
    def more(value: dict[str, Any]) -> None:
        value["issued"]["bo-de"] += 1

    resign(rec, "close.json", "close", run.organizer, more)
    resign(rec, "results.json", "results", run.organizer, lambda v: v["wards"]["bo-de"].update(
        issued=v["wards"]["bo-de"]["issued"] + 1))  # fmt: skip


def _break_a10(run: RoundRun, rec: Path) -> None:
    (rec / "releases" / "to-chuc.json").unlink()


def _break_a12(run: RoundRun, rec: Path) -> None:
    resign(rec, "results.json", "results", run.organizer, lambda v: v.update(trustees=[]))


BREAKERS: dict[str, Callable[[RoundRun, Path], None]] = {
    "A1": _break_a1,
    "A2": _break_a2,
    "A3": _break_a3,
    "A4": _break_a4,
    "A5": _break_a5,
    "A6": _break_a6,
    "A7": _break_a7,
    "A8": _break_a8,
    "A9": _break_a9,
    "A10": _break_a10,
    "A12": _break_a12,
}
ALSO_FAILING = {  # what else fails, as a consequence of the one change
    "A1": set(CHECKS) - {"A1"},
    "A2": {"A6"},
    "A3": {"A6", "A12"},  # the board's root is in the results
    "A4": {"A6", "A12"},
    "A5": {"A6", "A9", "A12"},  # one ballot more than tokens issued in the ward
    "A10": {"A11", "A12"},
}


@pytest.mark.parametrize("check", [c for c in CHECKS if c in BREAKERS])
def test_each_check_fails_and_says_where(
    run: RoundRun, record: Path, tmp_path: Path, check: str
) -> None:
    BREAKERS[check](run, record)
    report = audit(record)
    assert report.exit_status == 1
    assert check in report.failed()
    if check in ALSO_FAILING:
        assert set(report.failed()) <= {check} | ALSO_FAILING[check] | {"A8", "A12"}
    else:
        assert report.failed() == [check]
    for result in report.checks.values():
        assert result.passed == (result.failure_count == 0)
        assert len(result.failures) == min(result.failure_count, MAX_LISTED)
        for failure in result.failures:
            # every failure points at a leaf or a file of the record
            assert "leaf_index" in failure or "file" in failure, (result.id, failure)
            assert isinstance(failure["detail"], str)
            assert failure["detail"]
    where = report.checks[check].failures[0]
    if check in ("A2", "A3", "A4", "A5"):
        assert where["leaf_index"] == {"A2": 1, "A3": 2, "A4": 3, "A5": LEAVES}[check]
    text = render_report(report)
    assert text.splitlines()[-1] == "RESULT: FAILED " + ", ".join(report.failed())
    # the same report from worker processes
    assert audit(record, workers=2).to_json() == report.to_json()


def test_failures_are_counted_beyond_the_listed(run: RoundRun, record: Path) -> None:
    write_board(record, [*board_lines(record), *([b"{}\n"] * (MAX_LISTED + 10))])
    # a final checkpoint as long as the board: it is read to its end (A6 fails by its root)
    size = LEAVES + MAX_LISTED + 10
    note = Checkpoint(run.engine.manifest.origin, size, bytes(32)).sign(run.log)
    (record / "checkpoint.txt").write_text(note, encoding="utf-8")
    a2 = audit(record).checks["A2"]
    assert a2.failure_count == MAX_LISTED + 10
    assert len(a2.failures) == MAX_LISTED
    assert [f["leaf_index"] for f in a2.failures] == list(range(LEAVES, LEAVES + MAX_LISTED))
    assert "... and 50 more" in render_report(audit(record))  # ten are shown


@pytest.mark.parametrize(
    ("change", "index"),
    [
        (lambda lines: [*lines[:2], b"\n", *lines[2:]], 2),  # empty line
        (lambda lines: [*lines[:3], lines[3][:-1] + b"\r\n", *lines[4:]], 3),  # CRLF
        (lambda lines: [*lines, b"x" * (MAX_LEAF_LINE + 5) + b"\n"], LEAVES),  # over-long
        (lambda lines: [lines[0][:-1] + b" \n", *lines[1:]], 0),  # not canonical
        (lambda lines: [*lines[:-1], lines[-1].rstrip(b"\n")], LEAVES - 1),  # truncated
    ],
)
def test_bad_board_lines_fail_a2_at_their_index(
    record: Path, change: Callable[[list[bytes]], list[bytes]], index: int
) -> None:
    write_board(record, change(board_lines(record)))
    report = audit(record)
    assert [f["leaf_index"] for f in report.checks["A2"].failures] == [index]
    if index == LEAVES - 1:
        # the leaf's bytes are intact, so the root is too; only the line is not
        assert report.failed() == ["A2", "A12"]
    else:
        assert {"A2", "A6"} <= set(report.failed())


def test_missing_board_is_a_failed_check(record: Path) -> None:
    (record / "board.jsonl").unlink()
    report = audit(record)
    assert report.exit_status == 1
    assert report.checks["A2"].failures == [
        {"detail": "the record has no board.jsonl", "file": "board.jsonl"}
    ]
    assert {"A2", "A6", "A8"} <= set(report.failed())


def test_damaged_zip_board_is_a_failed_check(run: RoundRun, tmp_path: Path) -> None:
    archive = tmp_path / "record.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(run.path / "manifest.json", "r/manifest.json")
        # as many lines as the final checkpoint says: the whole board is read
        zf.write(run.path / "checkpoint.txt", "r/checkpoint.txt")
        zf.writestr("r/board.jsonl", (run.path / "board.jsonl").read_bytes())
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("r/board.jsonl")
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0x55
    archive.write_bytes(bytes(data))
    report = audit(archive)
    assert report.exit_status == 1
    # Whatever the corrupted stream inflates to first, the damage itself is reported.
    assert any(
        f.get("file") == "board.jsonl" and "damaged" in str(f["detail"])
        for f in report.checks["A2"].failures
    )
    assert audit(archive, workers=2).to_json() == report.to_json()


def test_ledger_with_entries_of_any_type(run: RoundRun, record: Path) -> None:
    ledger = read_json(record, "issuance.json")
    ledger["wards"]["bo-de"] = [*ledger["wards"]["bo-de"], 7, ["x"]]
    write_json(record, "issuance.json", ledger)
    report = audit(record)
    assert "A8" in report.failed()
    assert all(f["file"] == "issuance.json" for f in report.checks["A8"].failures)


def test_missing_files_fail_their_checks(public_run: RoundRun, tmp_path: Path) -> None:
    record = copy_record(public_run.path, tmp_path / "record")
    for name in ("checkpoint.txt", "close.json", "issuance.json", "results.json"):
        (record / name).unlink()
    shutil.rmtree(record / "releases")
    report = audit(record)
    assert report.failed() == ["A6", "A8", "A9", "A10", "A11", "A12"]
    assert report.checks["A6"].failures[0]["file"] == "checkpoint.txt"


# -- the public part of a restricted round (protocol section 9.2) --------------------------------


@pytest.fixture(scope="module")
def public_run(tmp_path_factory: pytest.TempPathFactory) -> RoundRun:
    """A round whose manifest says its results are public."""
    path = tmp_path_factory.mktemp("public") / "record"
    return run_round(path, wards=2, voters=3, results_access="public")


def _public_part(run: RoundRun, dest: Path) -> Path:
    engine = run.engine
    write_record(
        dest, engine.manifest.round_id, engine.record_files(), engine.board_leaves(),
        public_only=True,
    )  # fmt: skip
    return dest


def test_public_part_of_a_restricted_round(run: RoundRun, tmp_path: Path) -> None:
    assert run.engine.manifest.results_access == "restricted"
    part = _public_part(run, tmp_path / "public")
    assert sorted(p.name for p in part.iterdir()) == [
        "board.jsonl", "checkpoint.txt", "close.json", "issuance.json", "manifest.json"
    ]  # fmt: skip
    report = audit(part)
    assert report.passed
    assert not report.complete
    assert report.exit_status == 0
    assert report.failed() == []
    assert report.not_checked() == ["A10", "A11", "A12"]
    assert report.results is None
    value: dict[str, Any] = report.to_json()
    assert value["passed"] is True
    assert value["complete"] is False
    status = {c["id"]: c["status"] for c in value["checks"]}
    assert status == {cid: "passed" if cid not in ("A10", "A11", "A12") else "not_checked"
                      for cid in CHECKS}  # fmt: skip
    for check in value["checks"][9:12]:
        assert check["passed"] is False  # never read as a pass by an older reader
        assert check["detail"] == NEEDS_CONFIDENTIAL
        assert check["failure_count"] == 0
    text = render_report(report)
    assert " A10 ----  releases" in text
    assert "        not checked: needs the confidential part" in text
    assert "RESULT: A1 to A9, A13 pass; A10 to A12 not checked" in text
    assert "need the confidential part (the trustees' releases and the results)" in text

    # the command line says the same and exits 0
    result = CliRunner().invoke(main, ["audit", str(part), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "A10 to A12 not checked" in result.output
    as_json = CliRunner().invoke(main, ["audit", str(part), "--json", "--workers", "1"])
    assert json.loads(as_json.stdout)["complete"] is False


def test_the_full_record_of_a_restricted_round_is_audited_fully(run: RoundRun) -> None:
    report = audit(run.path)
    assert report.passed
    assert report.complete
    assert report.not_checked() == []


def test_the_public_part_still_catches_tampering(run: RoundRun, tmp_path: Path) -> None:
    part = _public_part(run, tmp_path / "public")
    lines = board_lines(part)
    write_board(part, lines[:-1])  # a ballot dropped
    report = audit(part)
    assert not report.passed
    assert not report.complete
    assert report.exit_status == 1
    assert "A6" in report.failed()
    assert "A8" in report.failed()
    assert render_report(report).splitlines()[-2].startswith("RESULT: FAILED A6")


def test_a_public_round_without_releases_fails(public_run: RoundRun, tmp_path: Path) -> None:
    """Only a restricted manifest makes a missing confidential part acceptable."""
    part = _public_part(public_run, tmp_path / "public")
    report = audit(part)
    assert report.failed() == ["A10", "A11", "A12"]
    assert report.complete
    assert report.exit_status == 1


def test_a_restricted_record_with_part_of_the_confidential_part_fails(
    run: RoundRun, record: Path
) -> None:
    """Releases without results (or the reverse) is a broken record, not the public part."""
    (record / "results.json").unlink()
    report = audit(record)
    assert report.failed() == ["A12"]
    assert report.complete
    shutil.rmtree(record / "releases")
    (record / "results.json").write_bytes(b"{}")
    report = audit(record)
    assert report.failed() == ["A10", "A11", "A12"]


def test_the_public_part_exists_once_closed(tmp_path: Path) -> None:
    from anonballot.engine import Round
    from anonballot.errors import StateError
    from anonballot.storage import MemoryStore
    from anonballot.testing import demo_config

    config, _trustees = demo_config(wards=1)
    engine = Round.create(MemoryStore(), config, organizer=SigningKey.generate(), key_bits=2048)
    engine.open()
    with pytest.raises(StateError):
        engine.record_files(public_only=True)
    engine.close()
    files = engine.record_files(public_only=True)
    assert set(files) == {"manifest.json", "close.json", "issuance.json", "checkpoint.txt"}
    with pytest.raises(StateError):
        engine.record_files()  # the whole record needs the tally
    part = write_record(tmp_path / "p.zip", config.round_id, files, engine.board_leaves())
    report = audit(part)
    assert report.passed
    assert report.not_checked() == ["A10", "A11", "A12"]


def test_invalid_ballots_are_listed_and_a11_passes(run: RoundRun, record: Path) -> None:
    lines = board_lines(record)
    participant = run.participants[4]
    leaf = _leaf(run, lines[4])
    sealed = participant.seal(b'{"v":1}')  # a plaintext that is no ballot
    assert participant.voter_key is not None
    assert participant.token is not None
    lines[4] = build_leaf(run.mid, leaf.ward, participant.token, sealed, participant.voter_key)
    write_board(record, [*lines[:4], lines[4] + b"\n", *lines[5:]])
    report = audit(record)
    a11 = report.checks["A11"]
    assert a11.passed
    assert a11.counts == {"valid": LEAVES - 1, "invalid": 1}
    assert a11.failures == [{"leaf_index": 4, "detail": "invalid_content"}]
    assert report.results is not None
    assert report.results["invalid"] == [{"leaf_index": 4, "reason": "invalid_content"}]
    assert "leaf 4: invalid_content" in render_report(report)
    assert {"A6", "A8", "A12"} == set(report.failed())


# -- earlier checkpoints (A7) ---------------------------------------------------------------------


def _with_checkpoints(record: Path, notes: dict[str, str | bytes]) -> list[dict[str, Any]]:
    folder = record / "checkpoints"
    folder.mkdir()
    for name, note in notes.items():
        data = note.encode() if isinstance(note, str) else note
        (folder / name).write_bytes(data)
    report = audit(record)
    assert report.failed() in ([], ["A7"])
    assert report.checks["A7"].counts["checkpoints"] >= 0
    return report.checks["A7"].failures


def test_consistent_checkpoints_pass(run: RoundRun, record: Path) -> None:
    notes: dict[str, str | bytes] = {f"{size}.txt": note for size, note in run.checkpoints.items()}
    assert set(run.checkpoints) == set(range(LEAVES + 1))
    assert _with_checkpoints(record, notes) == []
    assert audit(record).checks["A7"].counts["checkpoints"] == LEAVES + 1


def test_inconsistent_checkpoints_fail(run: RoundRun, record: Path) -> None:
    origin = run.engine.manifest.origin
    other_key = SigningKey.generate()
    honest = Checkpoint.parse(run.checkpoints[3], origin, run.log.public_key)
    notes: dict[str, str | bytes] = {
        "good.txt": run.checkpoints[2],
        "forged.txt": honest.sign(other_key),  # the right tree, another key
        "other-tree.txt": Checkpoint(origin, 3, bytes(32)).sign(run.log),
        "other-tree-empty.txt": Checkpoint(origin, 0, bytes(32)).sign(run.log),
        "beyond.txt": Checkpoint(origin, LEAVES + 1, bytes(32)).sign(run.log),
        "whole-other.txt": Checkpoint(origin, LEAVES, bytes(32)).sign(run.log),
        "garbage.txt": b"\xff\xfe not a note",
    }
    failures = _with_checkpoints(record, notes)
    assert sorted(f["file"] for f in failures) == sorted(
        f"checkpoints/{name}" for name in notes if name != "good.txt"
    )
    beyond = next(f for f in failures if f["file"] == "checkpoints/beyond.txt")
    assert "beyond" in beyond["detail"]


# -- not a record ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_not_a_record_raises(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    if kind == "file":
        target.write_bytes(b"PK\x03\x04 not really a zip")
    elif kind == "empty":
        target.mkdir()
    with pytest.raises(RecordError) as error:
        audit_record(target, workers=1)
    assert isinstance(error.value, InputError)


# -- a hostile record: the audit reads no more than the record can hold and pass ------------


def test_board_longer_than_the_final_checkpoint_is_read_one_line_past_it(record: Path) -> None:
    write_board(record, [*board_lines(record), *([b"{}\n"] * 5000)])
    report = audit(record)
    # one line past the checkpoint's size is enough to fail; the rest is not read
    assert report.checks["A2"].failure_count == 1
    assert report.checks["A2"].failures[0]["leaf_index"] == LEAVES
    assert report.checks["A6"].failures[0]["detail"] == (
        f"the final checkpoint has size {LEAVES}, the board more than {LEAVES} leaves"
    )
    assert audit(record, workers=2).to_json() == report.to_json()


def test_board_without_a_usable_checkpoint_is_read_up_to_the_eligible(record: Path) -> None:
    (record / "checkpoint.txt").write_text("not a checkpoint\n", encoding="utf-8")
    write_board(record, [*board_lines(record), *([b"{}\n"] * 5000)])
    report = audit(record)
    assert report.checks["A2"].failure_count == 1  # 6 eligible: 7 lines read
    assert any(
        f["detail"] == f"board.jsonl has more than {LEAVES} lines (the round's eligible "
        "participants): not read further"
        for f in report.checks["A6"].failures
    )


def _one_line_error(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return lines[0]


@pytest.mark.parametrize("member", ["board.jsonl", "results.json", "checkpoint.txt"])
def test_zip_bomb_record_is_unusable_input(run: RoundRun, tmp_path: Path, member: str) -> None:
    archive = tmp_path / "record.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(run.path.rglob("*")):
            name = path.relative_to(run.path).as_posix()
            if path.is_file() and name != member:
                zf.write(path, f"r/{name}")
        # 48 MiB of newlines deflate to about 48 KiB
        zf.writestr(f"r/{member}", b"\n" * (48 * 1024 * 1024))
    with pytest.raises(RecordError) as refused:
        audit(archive)
    assert refused.value.code == "too_large"
    line = _one_line_error(["audit", str(archive), "--workers", "1"])
    assert f"{member}: not read, it inflates to more than 200 times" in line


@pytest.mark.parametrize(
    "patch", [{"flag_bits": 0x1}, {"method": 9}], ids=["encrypted", "deflate64"]
)
def test_zip_that_zipfile_cannot_read_is_unusable_input(
    run: RoundRun, tmp_path: Path, patch: dict[str, int]
) -> None:
    archive = write_record(
        tmp_path / "record.zip",
        run.engine.config.round_id,
        {"manifest.json": (run.path / "manifest.json").read_bytes()},
        [line.rstrip(b"\n") for line in board_lines(run.path)],
    )
    patch_zip_member(archive, f"{run.engine.config.round_id}/manifest.json", **patch)
    line = _one_line_error(["audit", str(archive), "--workers", "1"])
    assert "encrypted" in line or "zip method 9" in line
