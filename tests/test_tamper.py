"""The tamper property: changing any one byte of a round record makes its audit fail, at the
check that covers that byte.

One small simulated record (2 wards, 4 voters) per test module; each example changes one
byte of one file in place, audits, and puts the byte back.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _hypothesis import examples
from hypothesis import event, given, settings
from hypothesis import strategies as st

from anonballot.audit import AuditReport, audit_record
from anonballot.testing import simulate

SETTINGS = settings(max_examples=examples(30), deadline=None)
new_byte = st.integers(1, 255)
"""Added to the old byte modulo 256: any other value."""


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tamper") / "record"
    simulate(path, wards=2, voters=4, key_bits=2048, seed=7)
    # an earlier checkpoint someone collected: the final one is consistent with itself
    (path / "checkpoints").mkdir()
    shutil.copy(path / "checkpoint.txt", path / "checkpoints" / "collected.txt")
    assert audit_record(path, workers=1).passed
    return path


def audit_with_byte_changed(record: Path, name: str, position: int, delta: int) -> AuditReport:
    """Audit the record with byte ``position`` of ``name`` changed by ``delta`` (mod 256)."""
    file = record / name
    original = file.read_bytes()
    data = bytearray(original)
    position %= len(data)
    data[position] = (data[position] + delta) % 256
    file.write_bytes(bytes(data))
    try:
        report = audit_record(record, workers=1)
    finally:
        file.write_bytes(original)
    failed = report.failed()
    event(f"failed: {', '.join(failed)}")  # which checks caught it (--hypothesis-show-statistics)
    assert report.exit_status == 1
    return report


def _expect(report: AuditReport, check: str) -> None:
    assert check in report.failed(), f"expected {check} among the failed: {report.failed()}"


@SETTINGS
@given(line=st.integers(0), position=st.integers(0), delta=new_byte)
def test_any_byte_of_a_leaf(record: Path, line: int, position: int, delta: int) -> None:
    board = record / "board.jsonl"
    original = board.read_bytes()
    lines = original.splitlines(keepends=True)
    line %= len(lines)
    offset = sum(len(x) for x in lines[:line]) + position % len(lines[line])
    report = audit_with_byte_changed(record, "board.jsonl", offset, delta)
    assert set(report.failed()) & {"A2", "A3", "A4", "A6"}
    _expect(report, "A6")  # the root changes whatever else does
    assert board.read_bytes() == original


@SETTINGS
@given(position=st.integers(0), delta=new_byte)
def test_any_byte_of_the_checkpoint(record: Path, position: int, delta: int) -> None:
    _expect(audit_with_byte_changed(record, "checkpoint.txt", position, delta), "A6")


@SETTINGS
@given(position=st.integers(0), delta=new_byte)
def test_any_byte_of_a_collected_checkpoint(record: Path, position: int, delta: int) -> None:
    report = audit_with_byte_changed(record, "checkpoints/collected.txt", position, delta)
    assert report.failed() == ["A7"]


@SETTINGS
@given(position=st.integers(0), delta=new_byte)
def test_any_byte_of_the_close_statement(record: Path, position: int, delta: int) -> None:
    _expect(audit_with_byte_changed(record, "close.json", position, delta), "A8")


@SETTINGS
@given(position=st.integers(0), delta=new_byte)
def test_any_byte_of_the_ledger(record: Path, position: int, delta: int) -> None:
    _expect(audit_with_byte_changed(record, "issuance.json", position, delta), "A8")


@SETTINGS
@given(trustee=st.integers(0), position=st.integers(0), delta=new_byte)
def test_any_byte_of_a_release(record: Path, trustee: int, position: int, delta: int) -> None:
    releases = sorted(p.name for p in (record / "releases").iterdir())
    name = f"releases/{releases[trustee % len(releases)]}"
    report = audit_with_byte_changed(record, name, position, delta)
    _expect(report, "A10")
    # with one of the two releases gone, the threshold (2) is not met
    assert report.failed() == ["A10", "A11", "A12"]


@SETTINGS
@given(position=st.integers(0), delta=new_byte)
def test_any_byte_of_the_results(record: Path, position: int, delta: int) -> None:
    report = audit_with_byte_changed(record, "results.json", position, delta)
    assert report.failed() == ["A12"]


@SETTINGS
@given(position=st.integers(0), delta=new_byte)
def test_any_byte_of_the_manifest(record: Path, position: int, delta: int) -> None:
    report = audit_with_byte_changed(record, "manifest.json", position, delta)
    _expect(report, "A1")
    assert report.mid is None  # nothing else can be checked without the manifest
