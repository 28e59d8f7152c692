"""Receipts and every check a participant can make (anonballot.receipt; protocol 6.7, 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _jsonview import obj
from _records import RoundRun, copy_record, run_round

from anonballot.encoding import b64u_decode, jcs, parse_json
from anonballot.errors import AnonBallotError
from anonballot.receipt import (
    CHECK_IDS,
    Receipt,
    RecordSource,
    read_receipt,
    receipt_code,
    verify_receipt,
)
from anonballot.record import Record
from anonballot.signing import sign_object


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RoundRun:
    return run_round(tmp_path_factory.mktemp("receipt") / "record", wards=2, voters=2)


def receipt_of(run: RoundRun, index: int) -> Receipt:
    return run.engine.board.receipt(index, run.checkpoints[index + 1], index + 1)


def test_every_check_passes_and_the_ballot_is_counted_as_cast(run: RoundRun) -> None:
    for index, participant in enumerate(run.participants):
        rc = receipt_of(run, index)
        with Record(run.path) as record:
            report = verify_receipt(rc, RecordSource(record))
        assert report.passed, report.failure
        assert [c.id for c in report.checks] == list(CHECK_IDS)
        assert report.receipt_size == index + 1
        assert report.board_size == len(run.participants)
        assert report.closed
        counted = report.counted
        assert counted is not None
        assert counted.reason is None
        assert counted.ward == participant.ward
        assert counted.answers is not None
        assert set(counted.answers) == {s.id for s in run.engine.manifest.subjects_of(counted.ward)}
        assert json.loads(json.dumps(report.to_json()))["passed"] is True


def test_a_forged_receipt_fails_inclusion(run: RoundRun) -> None:
    forged = Receipt.from_json({**receipt_of(run, 0).to_json(), "leaf_index": 1})
    with Record(run.path) as record:
        report = verify_receipt(forged, RecordSource(record))
    failure = report.failure
    assert failure is not None
    assert failure.id == "inclusion"
    assert [c.id for c in report.checks] == ["manifest", "inclusion"]


def test_another_rounds_receipt_fails_the_manifest_check(run: RoundRun) -> None:
    other = Receipt.from_json({**receipt_of(run, 0).to_json(), "round": "A" * 43})
    with Record(run.path) as record:
        report = verify_receipt(other, RecordSource(record))
    failure = report.failure
    assert failure is not None
    assert (failure.id, failure.code) == ("manifest", "wrong_round")


def test_results_that_misreport_the_ballot_fail_counted(run: RoundRun, tmp_path: Path) -> None:
    record = copy_record(run.path, tmp_path / "record")
    signed = obj(parse_json((record / "results.json").read_bytes()))
    results = signed["results"]
    results["invalid"] = [{"leaf_index": 0, "reason": "invalid_content"}]
    (record / "results.json").write_bytes(jcs(sign_object("results", results, run.organizer)))
    with Record(record) as rec:
        report = verify_receipt(receipt_of(run, 0), RecordSource(rec))
    failure = report.failure
    assert failure is not None
    assert failure.id == "counted"
    assert "disagree with the opened ballot" in failure.detail


def test_a_rewritten_board_fails_consistency(run: RoundRun, tmp_path: Path) -> None:
    record = copy_record(run.path, tmp_path / "record")
    lines = (record / "board.jsonl").read_bytes().splitlines(keepends=True)
    (record / "board.jsonl").write_bytes(b"".join(lines[:-1]))  # the last leaf dropped
    with Record(record) as rec:
        report = verify_receipt(receipt_of(run, 0), RecordSource(rec))
    failure = report.failure
    assert failure is not None
    assert failure.id == "consistency"


def test_before_close_only_inclusion_and_consistency_run(run: RoundRun, tmp_path: Path) -> None:
    record = copy_record(run.path, tmp_path / "record")
    (record / "close.json").unlink()
    (record / "results.json").unlink()
    with Record(record) as rec:
        report = verify_receipt(receipt_of(run, 1), RecordSource(rec))
    assert report.passed
    assert [c.id for c in report.checks] == ["manifest", "inclusion", "consistency"]
    assert not report.closed
    assert report.counted is None


def test_a_receipt_as_a_tlog_proof(run: RoundRun) -> None:
    """c2sp.org/tlog-proof@v1: the same receipt, in the transparency logs' own format."""
    import base64

    manifest = run.engine.manifest
    rc = receipt_of(run, 2)
    text = rc.to_tlog_proof()
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    extra = base64.b64decode(lines[1].removeprefix("extra "), validate=True)
    assert extra == b64u_decode(manifest.mid) + rc.leaf_hash
    assert lines[2] == "index 2"
    proof = lines[3 : 3 + len(rc.inclusion)]
    assert [base64.b64decode(p) for p in proof] == list(rc.inclusion)  # standard base64
    assert lines[3 + len(rc.inclusion)] == ""
    assert text.endswith(rc.checkpoint)  # the checkpoint verbatim
    again = read_receipt(text.encode())
    assert again == rc
    assert again.verify(manifest).size == 3
    assert read_receipt(jcs(rc.to_json())) == rc  # the JSON form still reads


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: t.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "expected"),
        (lambda t: t.replace("index 2", "index 02"), "index N"),
        (lambda t: t.replace("index 2", "index ²"), "index N"),
        (lambda t: "\n".join(x for x in t.split("\n") if not x.startswith("extra")), "extra"),
        (lambda t: t.replace("\n\n", "\n", 1), "not base64"),  # the checkpoint read as proof
    ],
)  # fmt: skip
def test_a_malformed_tlog_proof_is_refused(run: RoundRun, change: object, words: str) -> None:
    text = change(receipt_of(run, 2).to_tlog_proof())  # type: ignore[operator]
    with pytest.raises(AnonBallotError) as caught:
        read_receipt(text.encode())
    assert words in caught.value.detail
    assert caught.value.code == "bad_receipt"


def test_a_tampered_tlog_proof_fails_its_proof(run: RoundRun) -> None:
    lines = receipt_of(run, 2).to_tlog_proof().split("\n")
    lines[3] = "A" * 43 + "="  # another sibling hash
    with pytest.raises(AnonBallotError):
        read_receipt("\n".join(lines).encode()).verify(run.engine.manifest)


def test_a_written_down_code_is_found_among_the_leaf_hashes(run: RoundRun) -> None:
    """receipt_for_code: the lookup of protocol section 6.8's level-0 tiles, made locally."""
    from anonballot.errors import InvalidProof, NotFound
    from anonballot.receipt import receipt_for_code

    manifest = run.engine.manifest
    size = len(run.participants)
    hashes = [run.engine.board.tree.leaf_hash_at(i) for i in range(size)]
    checkpoint = run.checkpoints[size]
    for index in range(size):
        code = receipt_code(hashes[index])
        rc = receipt_for_code(code.upper().replace("-", " "), manifest, checkpoint, hashes)
        assert (rc.leaf_index, rc.leaf_hash) == (index, hashes[index])
        assert rc.verify(manifest).size == size
    with pytest.raises(NotFound):
        receipt_for_code("0000-0000-0000-0000-0000", manifest, checkpoint, hashes)
    with pytest.raises(InvalidProof):  # a hash swapped: not the signed board
        receipt_for_code(receipt_code(hashes[0]), manifest, checkpoint, [hashes[1], *hashes[1:]])
    with pytest.raises(AnonBallotError):
        receipt_for_code("not-a-code", manifest, checkpoint, hashes)


def test_a_server_s_note_without_a_size_gives_no_leaf() -> None:
    """receipt verify reads a ballot from the entry bundle of the server's checkpoint size:
    a note without a size line is refused as no leaf, not a traceback."""
    from anonballot.cli.participant import ServerSource
    from anonballot.errors import NotFound

    source = ServerSource(None, "r")  # type: ignore[arg-type]  # never asked: the note is given
    for note in ("garbage", "origin\nnot a size\nroot\n\nsig\n"):
        source.note = note
        with pytest.raises(NotFound):
            source.leaf(0)
