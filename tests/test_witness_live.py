"""``anonballot witness keygen`` and ``witness serve``: add-checkpoint through a real witness
process on loopback, a restart in between (its state survives), a split view refused."""

from __future__ import annotations

import base64
import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _live import free_port, stop_process, wait_until_up
from click.testing import CliRunner

from anonballot.checkpoint import Checkpoint
from anonballot.cli.main import main as cli_main
from anonballot.hazmat.merkle import MerkleTree, leaf_hash
from anonballot.hazmat.note import verifier_key
from anonballot.signing import SigningKey
from anonballot.witness import WitnessKey, verify_cosignature

pytestmark = pytest.mark.slow

ORIGIN = "district.example/long-bien-2026-11"
LOG = SigningKey(bytes(range(100, 132)))
NAME = "witness.example/w1"


def tree(n: int, salt: bytes = b"") -> MerkleTree:
    return MerkleTree(leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n))


def note(t: MerkleTree, size: int | None = None, key: SigningKey = LOG) -> str:
    size = t.size if size is None else size
    return Checkpoint(ORIGIN, size, t.root(size)).sign(key)


def body(old: int, proof: list[bytes], checkpoint: str) -> bytes:
    lines = [f"old {old}"] + [base64.b64encode(p).decode() for p in proof]
    return ("\n".join(lines) + "\n\n" + checkpoint).encode()


@contextlib.contextmanager
def witness_process(key: Path, data: Path, port: int) -> Iterator[str]:
    log = (data.parent / "witness.log").open("ab")
    proc = subprocess.Popen(  # noqa: S603 (our own entry point, fixed arguments)
        [sys.executable, "-m", "anonballot.cli", "witness", "serve", "--key", str(key),
         "--data", str(data), "--port", str(port),
         "--log", f"{ORIGIN}={verifier_key(ORIGIN, LOG.public_key)}"],
        stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        stop_process(proc)
        log.close()


def keygen(tmp_path: Path) -> tuple[Path, str]:
    key = tmp_path / "witness.key"
    result = CliRunner().invoke(
        cli_main, ["--lang", "en", "witness", "keygen", "--name", NAME, "--out", str(key)]
    )
    assert result.exit_code == 0, result.output
    vkey = result.output.splitlines()[-1]
    assert (tmp_path / "witness.key.pub").read_text(encoding="utf-8") == vkey + "\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert WitnessKey.from_private_text(key.read_text(encoding="utf-8")).vkey() == vkey
    again = CliRunner().invoke(
        cli_main, ["--lang", "vi", "witness", "keygen", "--name", NAME, "--out", str(key)]
    )
    assert again.exit_code == 2
    assert again.output.startswith("lỗi: ")
    return key, vkey


def test_add_checkpoint_across_a_restart_and_a_split_view(tmp_path: Path) -> None:
    key, vkey = keygen(tmp_path)
    data, port = tmp_path / "witness", free_port()
    t, forked = tree(12), tree(12, b"fork")
    with witness_process(key, data, port) as url, httpx.Client(base_url=url) as http:
        answer = http.post("/add-checkpoint", content=body(0, [], note(t, 4)))
        assert answer.status_code == 200, answer.text
        assert verify_cosignature(note(t, 4), answer.text, vkey) > 0
        # a second log signature under the same origin: the first view reached the witness
        split = http.post("/add-checkpoint", content=body(4, [], note(forked, 4)))
        assert (split.status_code, split.text) == (409, "4\n")
        assert split.headers["content-type"] == "text/x.tlog.size"
        answer = http.post(
            "/add-checkpoint", content=body(4, t.consistency_proof(4, 7), note(t, 7))
        )
        assert answer.status_code == 200, answer.text
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "witness.db").stat().st_mode) == 0o600

    with witness_process(key, data, port) as url, httpx.Client(base_url=url) as http:
        # what was acknowledged before the restart is what the witness holds
        stale = http.post("/add-checkpoint", content=body(4, t.consistency_proof(4, 9), note(t, 9)))
        assert (stale.status_code, stale.text) == (409, "7\n")
        fork = http.post(
            "/add-checkpoint", content=body(7, forked.consistency_proof(7, 12), note(forked))
        )
        assert fork.status_code == 422, fork.text
        answer = http.post("/add-checkpoint", content=body(7, t.consistency_proof(7, 12), note(t)))
        assert answer.status_code == 200, answer.text
        assert verify_cosignature(note(t), answer.text, vkey) > 0
        assert answer.text.startswith(f"— {NAME} ")

        stranger = Checkpoint("other.example/log", 3, tree(3).root()).sign(LOG)
        assert http.post("/add-checkpoint", content=body(0, [], stranger)).status_code == 404
        forged = note(t, key=SigningKey(bytes(32)))
        assert http.post("/add-checkpoint", content=body(12, [], forged)).status_code == 403
        shrink = http.post("/add-checkpoint", content=body(12, [], note(t, 5)))
        assert shrink.status_code == 400

        text = note(t).encode()
        for bad in (b"", b"\xff" * 100, b"old 12\n", b"old x\n\n" + text,
                    b"old 12\n!!!!\n\n" + text, b"\n\n\n", b"old 12\n\n\n\n"):  # fmt: skip
            answer = http.post("/add-checkpoint", content=bad)
            assert 400 <= answer.status_code < 500, (bad, answer.status_code)
        assert http.post("/add-checkpoint", content=b"x" * (65 * 1024)).status_code == 413
        assert http.get("/add-checkpoint").status_code == 405
        assert http.post("/nothing", content=b"").status_code == 404
        answer = http.post("/add-checkpoint", content=body(12, [], note(t)))
        assert answer.status_code == 200  # the same checkpoint again is cosigned again
