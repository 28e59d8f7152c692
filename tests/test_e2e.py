"""End to end: simulate the demo district, audit the record, and catch each kind of tampering.

Each tampering is done on a copy of one simulated record (14 wards, 5 participants each),
as a dishonest server could do it after the fact, without the organizer's key.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from _jsonview import obj
from _records import audit, board_lines, copy_record, read_json, write_board, write_json

from anonballot.audit import render_report
from anonballot.encoding import b64u_decode, b64u_encode, jcs
from anonballot.leaf import build_leaf, parse_leaf
from anonballot.manifest import Manifest
from anonballot.signing import SigningKey
from anonballot.testing import simulate
from anonballot.tokens import IssuerKey

pytestmark = pytest.mark.slow

WARDS = 14


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "record"
    summary = simulate(path, wards=WARDS, voters=5, key_bits=2048, seed=2026)
    assert summary.cast > 10
    return path


@pytest.fixture
def record(pristine: Path, tmp_path: Path) -> Path:
    return copy_record(pristine, tmp_path / "record")


def manifest_of(record: Path) -> Manifest:
    return Manifest.from_signed(read_json(record, "manifest.json"))


def results_of(record: Path) -> dict[str, Any]:
    value: dict[str, Any] = read_json(record, "results.json")["results"]
    return value


def test_simulated_round_passes(pristine: Path) -> None:
    report = audit(pristine)
    assert report.passed, render_report(report)
    assert len(manifest_of(pristine).wards) == WARDS
    assert report.results == results_of(pristine)
    assert obj(report.results)["district"]["ballots"] == len(board_lines(pristine))


def test_dropped_leaf(record: Path) -> None:
    lines = board_lines(record)
    write_board(record, lines[:3] + lines[4:])
    failed = audit(record).failed()
    assert {"A6", "A8", "A12"} <= set(failed)
    assert not {"A2", "A3", "A4", "A5", "A10", "A11"} & set(failed)


def test_swapped_leaves(record: Path) -> None:
    lines = board_lines(record)
    lines[1], lines[5] = lines[5], lines[1]
    write_board(record, lines)
    report = audit(record)
    assert {"A6", "A8"} <= set(report.failed())
    assert not {"A2", "A3", "A4", "A5", "A9", "A10", "A11"} & set(report.failed())
    # the tally is unaffected: only the board's root in the results differs
    assert report.results is not None
    published = results_of(record)
    assert report.results["root"] != published["root"]
    assert {k: v for k, v in report.results.items() if k != "root"} == {
        k: v for k, v in published.items() if k != "root"
    }


def test_duplicated_leaf(record: Path) -> None:
    lines = board_lines(record)
    write_board(record, [*lines[:4], lines[2], *lines[4:]])
    report = audit(record)
    assert {"A5", "A6"} <= set(report.failed())
    assert [f["leaf_index"] for f in report.checks["A5"].failures] == [4]


def test_changed_ciphertext(record: Path) -> None:
    lines = board_lines(record)
    index = 6
    leaf = json.loads(lines[index])
    ct = bytearray(b64u_decode(leaf["ballot"]["ct"]))
    ct[0] ^= 0x01
    leaf["ballot"]["ct"] = b64u_encode(bytes(ct))
    lines[index] = jcs(leaf) + b"\n"
    write_board(record, lines)
    report = audit(record)
    # the voter's signature no longer covers the leaf, the root changed, and the ballot
    # no longer opens: listed as invalid, so the recomputed results differ
    assert {"A4", "A6", "A12"} <= set(report.failed())
    assert report.checks["A11"].passed
    assert report.checks["A11"].failures == [{"leaf_index": index, "detail": "undecryptable"}]
    assert [f["leaf_index"] for f in report.checks["A4"].failures] == [index]
    assert report.results is not None
    assert report.results["invalid"] == [{"leaf_index": index, "reason": "undecryptable"}]


def test_forged_token(record: Path) -> None:
    manifest = manifest_of(record)
    lines = board_lines(record)
    index = 3
    leaf = parse_leaf(lines[index][:-1], manifest, manifest.mid)
    voter = SigningKey.generate()
    # a token signed with another RSA key, for a fresh voter key that signs the leaf
    token = IssuerKey.generate(2048).sign_token_directly(
        os.urandom(32) + voter.public_key.to_bytes()
    )
    lines[index] = build_leaf(manifest.mid, leaf.ward, token, leaf.ballot, voter) + b"\n"
    write_board(record, lines)  # the board and checkpoint are left as they were
    report = audit(record)
    assert report.checks["A3"].failure_count == 1
    assert report.checks["A3"].failures[0]["leaf_index"] == index
    assert report.checks["A4"].passed
    assert report.checks["A5"].passed
    assert "A6" in report.failed()


def test_edited_results(record: Path) -> None:
    signed = read_json(record, "results.json")
    ward = next(iter(signed["results"]["wards"].values()))
    ward["valid"] += 1
    write_json(record, "results.json", signed)
    report = audit(record)
    assert report.failed() == ["A12"]
    assert report.checks["A12"].failures[0]["file"] == "results.json"


def test_missing_release(record: Path) -> None:
    releases = sorted((record / "releases").iterdir())
    assert len(releases) == 2
    releases[0].unlink()
    report = audit(record)
    assert report.failed() == ["A10", "A11", "A12"]
    for check in ("A11", "A12"):
        detail = report.checks[check].failures[0]["detail"]
        assert isinstance(detail, str)
        assert detail.startswith("not checked")
    assert report.results is None


def test_done_when_district_of_fifty(tmp_path: Path) -> None:
    """The whole district, 14 wards x 50 participants, 2048-bit issuer keys: simulate, audit."""
    started = time.monotonic()
    summary = simulate(tmp_path / "record", wards=WARDS, voters=50, key_bits=2048, seed=1)
    report = audit(summary.record, workers=2)
    assert report.passed, render_report(report)
    assert summary.eligible == WARDS * 50
    assert report.checks["A2"].counts["leaves"] == summary.cast
    assert time.monotonic() - started < 60


def test_simulation_reports_progress_to_the_end(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    summary = simulate(
        tmp_path / "r", wards=1, voters=30, key_bits=2048, seed=3,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert summary.cast < summary.eligible  # some never cast
    assert seen == [(n, 30) for n in range(1, 31)]
