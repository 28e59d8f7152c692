"""Smoke tests of the benchmarks: the audit (bench/audit.py), a tiny round built, audited and
reported; the national round (bench/national.py), a tiny country; the booth's load
(bench/booth_load.py), two throttled loads in Chromium; the tiles (bench/tiles.py); the
server's casts (bench/server.py) with three witness processes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parent.parent / "bench" / "audit.py"
BOOTH_LOAD = BENCH.parent / "booth_load.py"


def test_bench_quick_runs(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 (our own script, with the test's interpreter)
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--sizes",
            "300",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tokens signed directly" in result.stdout
    row = re.search(r"^\s+300\s+1\s+.*\s(\d+\.\d+)\s+1\.00x$", result.stdout, re.MULTILINE)
    assert row is not None, result.stdout
    assert float(row.group(1)) > 0  # the ratio to the primitive floor
    assert "target ratio <= 1.3" in result.stdout


def test_national_quick_runs(tmp_path: Path) -> None:
    """bench/national.py --quick: a country of 50 wards (keys of pairs of OpenSSL primes, to
    be quick), its manifest measured, 1,000 ballots built, recorded and audited."""
    result = subprocess.run(  # noqa: S603 (our own script, with the test's interpreter)
        [
            sys.executable,
            str(BENCH.parent / "national.py"),
            "--quick",
            "--keys",
            "pairs",
            "--sizes",
            "1000",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "tokens signed directly with the ward issuer keys" in out
    assert "NOT safe keys" in out
    size = re.search(r"^manifest: ([\d,]+) bytes signed", out, re.MULTILINE)
    assert size is not None, out
    assert int(size.group(1).replace(",", "")) > 50 * 500  # 50 wards, a 3072-bit key each
    assert re.search(r"Manifest\.from_signed .* \d+ ms", out), out
    assert "issuance.json" in out
    assert "close.json" in out
    row = re.search(r"^\s+1,000\s+1\s+.*\s(\d+\.\d+)\s+1\.00x$", out, re.MULTILINE)
    assert row is not None, out
    assert float(row.group(1)) > 0  # the ratio to the primitive floor
    assert "target ratio <= 1.3" in out
    # a rerun builds nothing: the keys, the manifest, the leaves and the record are cached
    again = subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(BENCH.parent / "national.py"),
            "--quick",
            "--keys",
            "pairs",
            "--sizes",
            "1000",
            "--build-only",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "issuer keys: from the cache" in again.stdout
    assert "leaves: from the cache" in again.stdout


def test_booth_load_quick_runs(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 (our own script, with the test's interpreter)
        [sys.executable, str(BOOTH_LOAD), "--quick", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for cache in ("cold", "warm"):
        row = re.search(rf"^{cache}\s+(\d+)\s+(\d+)\s+(\d+)\s", result.stdout, re.MULTILINE)
        assert row is not None, result.stdout
        median, low, high = (int(g) for g in row.groups())
        assert 0 < low <= median <= high
    assert "ballot on screen" in result.stdout
    assert "profile slow-4g: latency 150 ms" in result.stdout


def test_tiles_bench_quick_runs(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 (our own script, with the test's interpreter)
        [sys.executable, str(BENCH.parent / "tiles.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("level-0 hash tile, full, no cache", "GET tile/0/<N>", "written: the whole log"):
        assert line in result.stdout, result.stdout
    rate = re.search(r"level-0 hash tile, full, no cache\s+([\d,]+)/s", result.stdout)
    assert rate is not None
    assert int(rate.group(1).replace(",", "")) > 0


def test_server_bench_quick_runs_with_witnesses(tmp_path: Path) -> None:
    """bench/server.py --witnesses 3: the round names three `witness serve` processes, the
    casts are cosigned, and the report says how long the cosignatures trailed."""
    result = subprocess.run(  # noqa: S603 (our own script, with the test's interpreter)
        [
            sys.executable,
            str(BENCH.parent / "server.py"),
            "--quick",
            "--witnesses",
            "3",
            "--key-bits",
            "2048",
            "--clients",
            "16",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    cast = re.search(r"^cast\s+16\s+200\s+(\d+)\s", result.stdout, re.MULTILINE)
    assert cast is not None, result.stdout
    assert int(cast.group(1)) > 0
    assert "witnesses: 3 witness serve processes, quorum 2" in result.stdout
    row = re.search(
        r"^cast\s+16\s+\d+/\d+/\d+\s+[\d.]+\s+\d+\s+\d+\s+([\d.]+)$", result.stdout, re.M
    )
    assert row is not None, result.stdout
    assert float(row.group(1)) < 30  # every cosignature on the served checkpoint
