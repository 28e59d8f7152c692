"""The command line against a hostile server (anonballot.cli.transfer): bounded answers.

A hostile ASGI application, served on loopback, answers every path under ``/<scenario>/``
the same hostile way: a huge JSON answer, an endless record, a body that stalls or trickles,
a gzip bomb, a zip bomb, a huge refusal, a redirect loop. ``anonballot audit URL`` and
``anonballot receipt verify --server URL`` must stop each one within its bound, with one
line and exit 2, and leave no temporary file behind (Ctrl-C and SIGTERM included).

The caps and times are made small for the tests (``bounds``); what a client consumed is
measured by the bytes the application managed to send (what the client read plus what the
sockets' buffers hold, a few MiB on loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _live import serve_app
from click.testing import CliRunner, Result

from anonballot.cli import transfer
from anonballot.cli.main import main
from anonballot.encoding import b64u_encode

MiB = 1024 * 1024
CAP = 1 * MiB
"""The answer and record caps of these tests."""
HUGE = 256 * MiB
"""What the hostile answers would send to a client that read on (bounded, so that a client
without the caps ends too, and the test fails rather than hangs)."""
SLACK = 48 * MiB
"""What loopback sockets may hold beyond what the client read."""


class Hostile:
    """The hostile application; ``sent[scenario]`` counts the body bytes it got out while
    the client was connected (uvicorn drops what is sent after a disconnect)."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.gone: dict[str, asyncio.Event] = {}
        self.gzip_bomb = gzip.compress(b"\0" * HUGE, compresslevel=9)
        self.zip_bomb = _zip_bomb()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        scenario = scope["path"].strip("/").split("/")[0]
        handler = getattr(self, "_" + scenario.replace("-", "_"), None)
        if handler is None:  # /api/rounds: the readiness probe of serve_app
            await self._start(send, 200, b"application/json")
            await send({"type": "http.response.body", "body": b"[]"})
            return
        self.sent[scenario] = 0
        gone = self.gone[scenario] = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await handler(scenario, scope, send)
        finally:
            watcher.cancel()

    @staticmethod
    async def _start(send: Any, status: int, kind: bytes, *headers: tuple[bytes, bytes]) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", kind), *headers],
            }
        )

    async def _body(self, scenario: str, send: Any, chunk: bytes, total: int) -> None:
        while self.sent[scenario] < total and not self.gone[scenario].is_set():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self.sent[scenario] += len(chunk)
            # a send to a closed connection returns at once: let the loop see the close
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})

    async def _huge_json(self, scenario: str, scope: Any, send: Any) -> None:
        await self._start(send, 200, b"application/json")
        await send({"type": "http.response.body", "body": b"[", "more_body": True})
        await self._body(scenario, send, b'"x",' * 16384, HUGE)

    async def _declared_huge(self, scenario: str, scope: Any, send: Any) -> None:
        await self._start(send, 200, b"application/json", (b"content-length", b"%d" % HUGE))
        await self._body(scenario, send, b" " * 65536, HUGE)

    async def _endless(self, scenario: str, scope: Any, send: Any) -> None:
        await self._start(send, 200, b"application/zip")
        await self._body(scenario, send, b"\0" * 65536, HUGE)

    async def _stall(self, scenario: str, scope: Any, send: Any) -> None:
        await self._start(send, 200, b"application/zip")
        await send({"type": "http.response.body", "body": b"PK\3\4", "more_body": True})
        self.sent[scenario] = 4
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.gone[scenario].wait(), 60)
        await send({"type": "http.response.body", "body": b""})

    async def _trickle(self, scenario: str, scope: Any, send: Any) -> None:
        await self._start(send, 200, b"application/json")
        for _ in range(600):  # a byte every 0.1 s: a minute, never a second without one
            if self.gone[scenario].is_set():
                return
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
            self.sent[scenario] += 1
            await asyncio.sleep(0.1)
        await send({"type": "http.response.body", "body": b"[]"})

    async def _gzip_bomb(self, scenario: str, scope: Any, send: Any) -> None:
        await self._start(
            send, 200, b"application/json", (b"content-encoding", b"gzip"),
            (b"content-length", b"%d" % len(self.gzip_bomb)),
        )  # fmt: skip
        await send({"type": "http.response.body", "body": self.gzip_bomb})
        self.sent[scenario] = len(self.gzip_bomb)

    async def _zip_bomb(self, scenario: str, scope: Any, send: Any) -> None:
        await self._start(send, 200, b"application/zip")
        await send({"type": "http.response.body", "body": self.zip_bomb})
        self.sent[scenario] = len(self.zip_bomb)

    async def _huge_error(self, scenario: str, scope: Any, send: Any) -> None:
        await self._start(send, 404, b"application/json")
        await send({"type": "http.response.body", "body": b'{"detail": "', "more_body": True})
        await self._body(scenario, send, b"x" * 65536, HUGE)

    async def _redirect_loop(self, scenario: str, scope: Any, send: Any) -> None:
        await self._start(send, 302, b"text/plain", (b"location", scope["path"].encode()))
        await send({"type": "http.response.body", "body": b""})

    async def _escapes(self, scenario: str, scope: Any, send: Any) -> None:
        body = json.dumps({"error": "x", "detail": "line one\nline two \x1b[31mred\x1b[0m"})
        await self._start(send, 404, b"application/json")
        await send({"type": "http.response.body", "body": body.encode()})


def _zip_bomb() -> bytes:
    """A record zip whose manifest.json inflates to 256 MiB (from about 256 KiB)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("r/manifest.json", "w", force_zip64=True) as member:
            for _ in range(HUGE // (16 * MiB)):
                member.write(b" " * (16 * MiB))
        zf.writestr("r/board.jsonl", b"")
    return out.getvalue()


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[Hostile, str]]:
    app = Hostile()
    with serve_app(app) as url:
        yield app, url


@pytest.fixture
def bounds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Small caps and times; temporary files go to a folder of the test's own."""
    monkeypatch.setattr(transfer, "MAX_ANSWER", CAP)
    monkeypatch.setattr(transfer, "STALL_SECONDS", 1.0)
    monkeypatch.setattr(transfer, "RATE_WINDOW", 1.0)
    monkeypatch.setattr(transfer, "MIN_RATE", 1024)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def _receipt(tmp_path: Path) -> Path:
    path = tmp_path / "receipt.json"
    receipt = {
        "round": "r", "leaf_index": 0, "leaf_hash": b64u_encode(bytes(32)),
        "checkpoint": "origin\n1\n\n", "inclusion": [],
    }  # fmt: skip
    path.write_text(json.dumps(receipt), encoding="utf-8")
    return path


def _audit(url: str, scenario: str) -> list[str]:
    return ["audit", f"{url}/{scenario}/api/rounds/r/record", "--max-size", "1"]


def _verify(url: str, scenario: str, tmp_path: Path) -> list[str]:
    return ["receipt", "verify", str(_receipt(tmp_path)), "--server", f"{url}/{scenario}"]


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    if lines and lines[0].startswith("downloaded "):  # the audit's note: the download is done
        lines = lines[1:]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return lines[0]


def _run(args: list[str]) -> tuple[str, float]:
    start = time.monotonic()
    result = CliRunner().invoke(main, args)
    return _one_line_error(result), time.monotonic() - start


# (scenario, command, words of the error, most bytes the client may have taken)
CASES = [
    ("huge-json", "verify", "larger than 1048576 bytes", CAP + SLACK),
    ("declared-huge", "verify", "larger than 1048576 bytes", SLACK),
    ("endless", "audit", "larger than 1048576 bytes", CAP + SLACK),
    ("endless", "verify", "larger than 1048576 bytes", CAP + SLACK),
    ("huge-error", "audit", "error answer is larger than 65536 bytes", SLACK),
    ("huge-error", "verify", "error answer is larger than 65536 bytes", SLACK),
    ("gzip-bomb", "verify", "larger than 1048576 bytes", None),
    ("zip-bomb", "audit", "manifest.json: not read, it inflates to more than 200 times", None),
    ("redirect-loop", "audit", "answered 302 and points to /redirect-loop/", None),
    ("redirect-loop", "verify", "answered 302 and points to /redirect-loop/", None),
]


@pytest.mark.parametrize(
    ("scenario", "command", "words", "most"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_hostile_answer_is_one_line_and_exit_2(
    hostile: tuple[Hostile, str], bounds: Path, tmp_path: Path,
    scenario: str, command: str, words: str, most: int | None,
) -> None:  # fmt: skip
    app, url = hostile
    args = _audit(url, scenario) if command == "audit" else _verify(url, scenario, tmp_path)
    line, elapsed = _run(args)
    assert words in line
    assert elapsed < 30
    if most is not None:
        assert app.sent[scenario] < most
    assert list(bounds.iterdir()) == []  # the download's folder is gone


@pytest.mark.slow  # each waits out a stall of about a second
@pytest.mark.parametrize("command", ["audit", "verify"])
@pytest.mark.parametrize(
    ("scenario", "words"),
    [("stall", "sent nothing for 1 seconds"), ("trickle", "slower than 1024 bytes a second")],
)
def test_stalled_answer_is_stopped(
    hostile: tuple[Hostile, str], bounds: Path, tmp_path: Path,
    scenario: str, words: str, command: str,
) -> None:  # fmt: skip
    _, url = hostile
    args = _audit(url, scenario) if command == "audit" else _verify(url, scenario, tmp_path)
    line, elapsed = _run(args)
    assert words in line
    assert elapsed < 10  # the rule's second, not the server's minute
    assert list(bounds.iterdir()) == []


def test_gzip_bomb_is_inflated_a_piece_at_a_time(
    hostile: tuple[Hostile, str], bounds: Path, tmp_path: Path
) -> None:
    # 64 KiB of the bomb inflate to 64 MiB: inflated at once, they would be in memory at once
    _, url = hostile
    tracemalloc.start()
    try:
        _run(_verify(url, "gzip-bomb", tmp_path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB


def test_server_text_is_shown_on_one_line(hostile: tuple[Hostile, str], tmp_path: Path) -> None:
    _, url = hostile
    line, _ = _run(_verify(url, "escapes", tmp_path))
    assert line == "error: line one\\nline two \\x1b[31mred\\x1b[0m"


def test_headers_dripped_byte_by_byte_are_stopped(bounds: Path, tmp_path: Path) -> None:
    # The pacing is on the connection: it holds for an answer's headers as for its body.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    done = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 600:
                if done.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.1)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        line, elapsed = _run(_verify(f"http://127.0.0.1:{port}", "x", tmp_path))
    finally:
        done.set()
        listener.close()
    assert "slower than 1024 bytes a second" in line
    assert elapsed < 10


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_download_leaves_no_file(
    hostile: tuple[Hostile, str], tmp_path: Path, signum: int
) -> None:
    _, url = hostile
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(  # noqa: S603 (our own entry point, fixed arguments)
        [sys.executable, "-m", "anonballot.cli", *_audit(url, "stall")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(tmp)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not list(tmp.glob("anonballot-audit-*/record.zip")):
            assert time.monotonic() < deadline, "the download did not start"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert b"Traceback" not in stderr
    # click ends the ^C line first; then one line at most
    assert len([line for line in stderr.splitlines() if line.strip()]) <= 1, stderr
    assert list(tmp.iterdir()) == []
