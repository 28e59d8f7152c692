"""A real uvicorn server on 127.0.0.1 for tests: in a thread, or as a separate process.

``demo_office(tmp)`` prepares a small data directory (2 demo wards, 2048-bit keys, a few
participants per ward) with an open round, and returns its paths and invitation codes.
``Clock`` is a time a test moves, for a server whose windows open and close on cue
(``server_thread(data, clock=clock)``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from anonballot.district import District
from anonballot.keyfile import write_private
from anonballot.manifest import Window
from anonballot.server.app import create_app
from anonballot.server.booth import booth_pins
from anonballot.server.roster import RosterEntry
from anonballot.server.service import Service
from anonballot.testing import demo_config, long_bien_district
from anonballot.trustee import TrusteeKey
from anonballot.witness import WitnessPolicy

ROUND = "test-round"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports_in_a_row(count: int) -> int:
    """The first of ``count`` consecutive free ports (``anonballot demo --port P`` puts its
    witnesses at P + 1 to P + 3), below the range the kernel hands to client sockets, so
    that no connection takes one of them meanwhile."""
    import random

    rng = random.Random()
    for _ in range(200):
        first = rng.randrange(20000, 32000 - count)
        try:
            with contextlib.ExitStack() as held:
                for port in range(first, first + count):
                    s = held.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError(f"no {count} free ports in a row")


def wait_until_up(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/api/rounds", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"the server at {url} did not come up")


class Clock:
    """A time that stands still until a test moves it: the ``clock`` of a Service."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, when: str) -> None:
        """Move to ``when`` (RFC 3339)."""
        self.now = dt.datetime.fromisoformat(when)


@dataclass
class Office:
    data: Path
    token: str
    token_file: Path
    round_id: str
    trustees: list[TrusteeKey]
    codes: list[tuple[str, str]]  # (printed code, ward)
    database: str | None = None  # the PostgreSQL URL it is kept in, or None: SQLite in data


def demo_office(
    data: Path,
    *,
    wards: int = 2,
    voters: int = 4,
    open_round: bool = True,
    results_access: str = "public",
    windows: tuple[Window, Window] | None = None,
    witnesses: WitnessPolicy | None = None,
    booth: bool = False,
    database: str | None = None,
) -> Office:
    """A data directory with a small demo round, ready to serve.

    The round's results are public unless ``results_access`` says "restricted" (a new
    round's default): most tests read them without an access token. ``windows`` (issuance,
    voting) replace the demo's one window open now (a two-phase round, say). ``witnesses``
    is the round's witness policy (``M.witnesses``); with ``booth``, the round opens with the
    booth's files pinned (``M.booth``), as the admin API's open does. ``database``: a
    PostgreSQL URL to keep the state in (``--database``), instead of SQLite in ``data``."""
    service = Service(data, key_bits=2048, database=database)
    try:
        token = service.new_admin_token()
        token_file = data / "admin.token"
        write_private(token_file, token + "\n")
        full = long_bien_district()
        config, trustees = demo_config(wards=wards, round_id=ROUND, results_access=results_access)
        if windows is not None:
            config = dataclasses.replace(config, issuance=windows[0], voting=windows[1])
        if witnesses is not None:
            config = dataclasses.replace(config, witnesses=witnesses)
        district: District = config.district
        assert {w.id for w in district.wards} <= {w.id for w in full.wards}
        service.set_district(district)
        service.import_roster(
            [RosterEntry(w.id, f"Người {w.id} {i}") for w in district.wards for i in range(voters)]
        )
        service.create_round(config)
        invitations = service.make_invitations(ROUND)
        if open_round:
            service.round(ROUND).open(booth=booth_pins(ROUND) if booth else None)
    finally:
        service.close()
    with (data / "invitations.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["ward", "participant", "code"])
        for inv in invitations:
            writer.writerow([inv.ward, inv.participant, inv.printed])
    codes = [(inv.printed, inv.ward) for inv in invitations]
    return Office(data, token, token_file, ROUND, trustees, codes, database)


@contextlib.contextmanager
def serve_app(app: Any, port: int | None = None) -> Iterator[str]:
    """An ASGI application under uvicorn in a thread of this process; yields the base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def server_thread(
    data: Path,
    clock: Clock | None = None,
    *,
    tiles_dir: Path | None = None,
    database: str | None = None,
) -> Iterator[str]:
    """The server of a data directory in a thread of this process; yields the base URL.
    With ``clock``, the server's time is the test's to move; with ``tiles_dir``, it writes
    the rounds' tiles there (``anonballot serve --tiles-dir``); with ``database``, on that
    PostgreSQL database (``--database``)."""
    service = (
        Service(data, database=database)
        if clock is None
        else Service(data, clock=clock, database=database)
    )
    try:
        with serve_app(create_app(service, tiles_dir=tiles_dir)) as url:
            yield url
    finally:
        service.close()


@contextlib.contextmanager
def server_process(
    data: Path, port: int | None = None, *, database: str | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``anonballot serve`` as a separate process (so a test can kill -9 it); with
    ``database``, on that PostgreSQL database (``--database``)."""
    port = port or free_port()
    log = (data.parent / f"{data.name}.server.log").open("ab")  # the server's stderr
    extra = ["--database", database] if database else []
    proc = subprocess.Popen(  # noqa: S603 (our own entry point, fixed arguments)
        [sys.executable, "-m", "anonballot.cli", "serve", "--data", str(data), "--port", str(port),
         *extra],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url, proc
    finally:
        stop_process(proc)
        log.close()


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL after 10 s; nothing if it already ended."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def grow_board(data: Path, round_id: str, sizes: list[int], *, pad: int = 300) -> None:
    """Append made-up leaves up to each of ``sizes``, one signed checkpoint each, as the
    engine's group commits do (the tiles do not look inside a leaf); leaf ``i`` is padded
    with ``i % pad`` bytes so that entries differ in length."""
    from anonballot.checkpoint import Checkpoint
    from anonballot.hazmat.merkle import MerkleTree, leaf_hash
    from anonballot.server.store import SqliteRoundStore
    from anonballot.signing import SigningKey

    service = Service(data, key_bits=2048)
    try:
        engine = service.round(round_id)
        store = engine.store
        assert isinstance(store, SqliteRoundStore)
        log = SigningKey(store.get_secret("log") or b"")
        tree = MerkleTree(leaf_hash(leaf) for leaf in store.leaves(0, store.leaf_count()))
        for size in sizes:
            batch = []
            for i in range(tree.size, size):
                leaf = b'{"made-up leaf":%d}' % i + b"x" * (i % pad)
                tree.append(leaf_hash(leaf))
                batch.append((leaf, i.to_bytes(32, "big")))
            note = Checkpoint(engine.manifest.origin, size, tree.root()).sign(log)
            store.append_leaves(batch, note)
    finally:
        service.close()


def vote_and_tally(office: Office, *, seed: int = 0) -> None:
    """Every invitation of the office's open round casts random answers; then close, two
    releases and the tally (on the data directory, with no server running)."""
    import random

    from anonballot.participant import Participant
    from anonballot.testing import random_answers

    service = Service(office.data, key_bits=2048, database=office.database)
    try:
        engine = service.round(office.round_id)
        for i, (code, _) in enumerate(office.codes):
            p = Participant(engine.signed_manifest(), engine.ward_for_code(code))
            p.finish_token(engine.issue(code, p.request_token()))
            answers = random_answers(p.manifest, p.ward, random.Random(seed + i))
            engine.cast(p.make_leaf(answers))
        engine.close()
        for trustee in office.trustees[:2]:
            engine.add_release(trustee.release(engine.mid))
        engine.tally()
    finally:
        service.close()


_LEADER_SLIP = re.compile(
    r'data-subject="([^"]+)".*?<div class="url">[^<]*/leader/([^#<]+)#key=([^<]+)</div>',
    flags=re.DOTALL,
)


def leader_links(slips: Path) -> dict[str, tuple[str, str]]:
    """Each person rated's (round id, key), read from ``leaders slips``' page as printed."""
    page = slips.read_text(encoding="utf-8")
    return {subject: (round_id, key) for subject, round_id, key in _LEADER_SLIP.findall(page)}
