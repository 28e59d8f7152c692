"""``anonballot monitor URL --state DIR`` (issue 10 section 5) against live servers: clean
runs that check only the new ballots, a rollback and a split view caught with copies of the
server's data signed by the round's own log key, a swapped booth file, made-up leaves, the
witnesses' cosignatures counted (and a forged one refused), and bad input."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import stat
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from _live import Office, demo_office, free_port, grow_board, serve_app, server_thread
from click.testing import CliRunner, Result

from anonballot.cli.main import main as cli_main
from anonballot.participant import Participant
from anonballot.server.app import create_app
from anonballot.server.service import Service
from anonballot.testing import random_answers
from anonballot.witness import Cosignature, PolicyWitness, WitnessKey, WitnessPolicy

pytestmark = pytest.mark.slow

Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Any, Any], Awaitable[None]]


def run(url: str, state: Path, *args: str) -> Result:
    return CliRunner().invoke(cli_main, ["--lang", "en", "monitor", url, "--state", str(state),
                                         *args])  # fmt: skip


def cast(data: Path, round_id: str, codes: list[str], seed: int = 0) -> None:
    """Each code casts random answers, on the data directory (no server running)."""
    service = Service(data, key_bits=2048)
    try:
        engine = service.round(round_id)
        for i, code in enumerate(codes):
            p = Participant(engine.signed_manifest(), engine.ward_for_code(code))
            p.finish_token(engine.issue(code, p.request_token()))
            engine.cast(p.make_leaf(random_answers(p.manifest, p.ward, random.Random(seed + i))))
    finally:
        service.close()


def errors(result: Result) -> list[str]:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in result.output + result.stderr
    return lines


def office(tmp_path: Path, name: str = "data", **kwargs: Any) -> tuple[Office, list[str]]:
    o = demo_office(tmp_path / name, wards=2, voters=4, booth=True, **kwargs)
    return o, [code for code, _ in o.codes]


def test_clean_runs_then_rollback_and_split_view(tmp_path: Path) -> None:
    o, codes = office(tmp_path)
    state = tmp_path / "state"
    cast(o.data, o.round_id, codes[:2])
    at_two = tmp_path / "at-two"
    shutil.copytree(o.data, at_two)  # the same round, keys and log key, at 2 ballots
    with server_thread(o.data) as url:
        first = run(url, state)
        assert first.exit_code == 0, first.output + first.stderr
        assert "2 ballots on the public board (2 new" in first.output
        assert "booth files served are the ones pinned" in first.output
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert stat.S_IMODE((state / "monitor.sqlite").stat().st_mode) == 0o600
    cast(o.data, o.round_id, codes[2:4], seed=10)
    with server_thread(o.data) as url:
        second = run(url, state)
        assert second.exit_code == 0, second.output + second.stderr
        assert "4 ballots on the public board (2 new" in second.output
        again = run(url, state)
        assert again.exit_code == 0
        assert "(0 new" in again.output
    history = [json.loads(line) for line in (state / "history.jsonl").read_text().splitlines()]
    assert [(h["size"], h["result"]) for h in history] == [(2, "ok"), (4, "ok"), (4, "ok")]

    # The copy at 2 ballots: a rollback.
    with server_thread(at_two) as url:
        back = run(url, state)
    assert back.exit_code == 1
    assert errors(back) == [f"error: round {o.round_id}: the public board went back from 4 to 2 "
                            "ballots (a rollback)"]  # fmt: skip
    # The copy grows with other ballots: 4 ballots and another root, then 5 that do not
    # extend the board seen; the state is not moved by either.
    cast(at_two, o.round_id, codes[4:6], seed=20)
    with server_thread(at_two) as url:
        fork = run(url, state)
    assert fork.exit_code == 1
    assert errors(fork)[0].endswith("the public board has 4 ballots as before, but another "
                                    "root: it is not the board seen before")  # fmt: skip
    cast(at_two, o.round_id, codes[6:7], seed=30)
    with server_thread(at_two) as url:
        split = run(url, state)
    assert split.exit_code == 1
    assert errors(split) == [f"error: round {o.round_id}: the public board of 5 ballots does not "
                             "extend the one of 4 ballots seen before"]  # fmt: skip
    # The real server, grown by one more ballot, is still fine: the state was not moved.
    cast(o.data, o.round_id, codes[7:8], seed=40)
    with server_thread(o.data) as url:
        last = run(url, state)
    assert last.exit_code == 0, last.output + last.stderr
    assert "5 ballots on the public board (1 new" in last.output


def test_manifest_changed_is_refused(tmp_path: Path) -> None:
    o, _codes = office(tmp_path)
    state = tmp_path / "state"
    with server_thread(o.data) as url:
        assert run(url, state).exit_code == 0
    other, _ = office(tmp_path, "other")  # a round of the same id, made again: another mid
    with server_thread(other.data) as url:
        result = run(url, state)
    assert result.exit_code == 1
    (line,) = errors(result)
    assert f"round {o.round_id}: the manifest changed: mid " in line


def swap(app: Asgi, path: str, body: bytes) -> Asgi:
    """``app``, but ``path`` answers ``body``."""

    async def swapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == path:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/javascript")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return swapped


def test_a_swapped_booth_file_is_caught(tmp_path: Path) -> None:
    o, codes = office(tmp_path)
    cast(o.data, o.round_id, codes[:1])
    service = Service(o.data)
    try:
        pins = service.round(o.round_id).manifest.booth or {}
        (script,) = [p for p in pins if p.endswith("/js/booth.js")]
        app = swap(create_app(service), script, b"sendTheBallotElsewhere();\n")
        with serve_app(app) as url:
            result = run(url, tmp_path / "state")
    finally:
        service.close()
    assert result.exit_code == 1
    assert errors(result) == [f"error: round {o.round_id}: the booth file {script} served is "
                              "not the one pinned when the round opened"]  # fmt: skip
    assert (
        not (tmp_path / "state" / "monitor.sqlite").exists()
        or not sqlite3.connect(tmp_path / "state" / "monitor.sqlite")
        .execute("SELECT * FROM rounds")
        .fetchall()
    )  # nothing adopted


def test_made_up_leaves_are_caught(tmp_path: Path) -> None:
    o, codes = office(tmp_path)
    cast(o.data, o.round_id, codes[:2])
    grow_board(o.data, o.round_id, [8])  # 6 leaves that are no ballot, validly logged
    with server_thread(o.data) as url:
        result = run(url, tmp_path / "state")
    assert result.exit_code == 1
    lines = errors(result)
    assert lines[0].startswith(
        f"error: round {o.round_id}: ballot 3 on the public board fails A2: leaf: "
    )  # the third leaf, the first made-up one
    assert lines[-1] == f"error: round {o.round_id}: 1 more ballot(s) fail A2"
    assert len(lines) == 6


def test_a_board_larger_than_the_roster_is_not_read(tmp_path: Path) -> None:
    """A board holds at most one ballot per eligible participant (A9): a checkpoint that
    claims more (validly signed by the log's key) is a problem, and the run reads none of
    its leaves, so a hostile server cannot make a run do unbounded work."""
    o, _ = office(tmp_path)
    grow_board(o.data, o.round_id, [9])  # 8 eligible in the two wards
    with server_thread(o.data) as url:
        result = run(url, tmp_path / "state")
    assert result.exit_code == 1
    assert errors(result) == [
        f"error: round {o.round_id}: the public board claims 9 ballots, more than the 8 "
        "eligible participants: not read further"
    ]


def test_a_ballot_logged_twice_is_caught_on_a_later_run(tmp_path: Path) -> None:
    """A5 across runs: the voter keys seen are kept in the state."""
    from anonballot.checkpoint import Checkpoint
    from anonballot.hazmat.merkle import MerkleTree, leaf_hash
    from anonballot.server.store import SqliteRoundStore
    from anonballot.signing import SigningKey

    o, codes = office(tmp_path)
    cast(o.data, o.round_id, codes[:2])
    state = tmp_path / "state"
    with server_thread(o.data) as url:
        assert run(url, state).exit_code == 0
    service = Service(o.data, key_bits=2048)
    try:
        engine = service.round(o.round_id)
        store = engine.store
        assert isinstance(store, SqliteRoundStore)
        leaves = list(store.leaves(0, store.leaf_count()))
        tree = MerkleTree(leaf_hash(leaf) for leaf in [*leaves, leaves[0]])
        log = SigningKey(store.get_secret("log") or b"")
        note = Checkpoint(engine.manifest.origin, tree.size, tree.root()).sign(log)
        store.append_leaves([(leaves[0], b"\xff" * 32)], note)  # the first ballot again
    finally:
        service.close()
    with server_thread(o.data) as url:
        result = run(url, state)
    assert result.exit_code == 1
    assert errors(result) == [
        f"error: round {o.round_id}: ballot 3 on the public board fails A5: its voter key is "
        "already on the board"
    ]


def test_witnesses_counted_and_a_forged_cosignature_refused(tmp_path: Path) -> None:
    keys = [WitnessKey.generate(f"witness.example/w{i}") for i in (1, 2)]
    nowhere = f"http://127.0.0.1:{free_port()}"
    policy = WitnessPolicy(tuple(PolicyWitness(k.verifier, nowhere) for k in keys), 2)
    o, codes = office(tmp_path, witnesses=policy)
    cast(o.data, o.round_id, codes[:1])
    state = tmp_path / "state"
    with server_thread(o.data) as url:
        open_round = run(url, state)
    assert open_round.exit_code == 0, open_round.output + open_round.stderr
    assert "0 witness cosignature(s) on the latest checkpoint, 2 needed" in open_round.output

    service = Service(o.data, key_bits=2048)
    try:
        engine = service.round(o.round_id)
        engine.close()
        note = engine.store.checkpoint_at(1) or ""
        engine.add_cosignatures(1, [keys[0].cosign(note, int(time.time()))])
    finally:
        service.close()
    with server_thread(o.data) as url:
        closed = run(url, state)
        assert closed.exit_code == 0, closed.output + closed.stderr
        assert closed.stderr.splitlines() == [
            f"warning: round {o.round_id}: the final checkpoint has 1 witness cosignature(s), "
            "2 needed"
        ]
        strict = run(url, state, "--require-quorum")
        assert strict.exit_code == 1
        assert errors(strict) == [f"error: round {o.round_id}: the final checkpoint has 1 "
                                  "witness cosignature(s), 2 needed"]  # fmt: skip

    service = Service(o.data)
    try:
        forged = Cosignature(keys[1].name, keys[1].verifier.key_id, 1, bytes(64)).line()
        app = create_app(service)

        async def with_forgery(scope: Scope, receive: Any, send: Any) -> None:
            async def send_more(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [
                        (k, v) for k, v in message["headers"] if k.lower() != b"content-length"
                    ]
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    message["body"] = message.get("body", b"") + forged.encode()
                await send(message)

            wanted = scope["type"] == "http" and scope["path"].endswith("/checkpoint")
            await app(scope, receive, send_more if wanted else send)

        with serve_app(with_forgery) as url:
            result = run(url, state)
    finally:
        service.close()
    assert result.exit_code == 1
    assert errors(result) == [f"error: round {o.round_id}: the cosignature of witness "
                              f"{keys[1].name} on the checkpoint does not verify"]  # fmt: skip


def test_bad_input_exits_2(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = run(nowhere, tmp_path / "state")
    assert unreachable.exit_code == 2
    (line,) = unreachable.stderr.splitlines()
    assert line.startswith("error: ")
    assert "Traceback" not in unreachable.output

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    for state in (not_a_folder, not_a_folder / "below"):
        result = run(nowhere, state)
        assert result.exit_code == 2
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: ")
        assert str(state) in line

    bad_url = run("ftp://example", tmp_path / "state")
    assert bad_url.exit_code == 2
    assert bad_url.stderr.splitlines() == [
        "error: ftp://example is not a server address (http:// or https://)"
    ]
    below = not_a_folder / "below"
    assert run(nowhere, below).stderr.startswith(f"error: the state folder {below} cannot be used")
    vi = CliRunner().invoke(cli_main, ["monitor", nowhere, "--state", str(below)],
                            env={"ANONBALLOT_LANG": "vi"})  # fmt: skip
    assert vi.exit_code == 2
    assert vi.stderr.startswith("lỗi: không dùng được thư mục trạng thái")
