"""Concurrent requests against a real server (uvicorn on 127.0.0.1, driven by httpx).

A token is spent once and an invitation code served once, however many requests race for
it; requests that do not race with each other are committed in groups, each answer with a
receipt or signature that verifies.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _live import Office, demo_office, server_thread
from conftest import DemoRound, RoundFactory

from anonballot.codes import code_hash
from anonballot.encoding import b64u_decode, b64u_encode, jcs
from anonballot.errors import AnonBallotError
from anonballot.hazmat.merkle import verify_consistency
from anonballot.leaf import build_leaf
from anonballot.participant import Participant
from anonballot.testing import random_answers

pytestmark = pytest.mark.slow

RACERS = 50


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Office, str]]:
    office = demo_office(tmp_path_factory.mktemp("concurrency") / "data", voters=24)
    with server_thread(office.data) as url:
        yield office, url


def base(office: Office) -> str:
    return f"/api/rounds/{office.round_id}"


def participant(office: Office, url: str, ward: str) -> Participant:
    with httpx.Client(base_url=url) as http:
        return Participant(http.get(f"{base(office)}/manifest").json(), ward)


def with_token(office: Office, url: str, code: str, ward: str) -> Participant:
    p = participant(office, url, ward)
    with httpx.Client(base_url=url) as http:
        answer = http.post(
            f"{base(office)}/tokens", json={"code": code, "blinded": b64u_encode(p.request_token())}
        )
    assert answer.status_code == 200, answer.text
    p.finish_token(b64u_decode(answer.json()["blind_sig"]))
    return p


def other_leaf(p: Participant, seed: int) -> bytes:
    """Another leaf with ``p``'s token: other answers, sealed afresh, signed by its key."""
    assert p.token is not None
    assert p.voter_key is not None
    answers = random_answers(p.manifest, p.ward, random.Random(seed))
    sealed = p.seal(jcs(p.ballot(answers)))
    return build_leaf(p.manifest.mid, p.ward, p.token, sealed, p.voter_key)


async def race(url: str, requests: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    """Send every request at once, each on its own connection."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        return await asyncio.gather(*(http.post(path, **kw) for path, kw in requests))


def errors(answers: list[httpx.Response]) -> list[tuple[int, str]]:
    return sorted((r.status_code, r.json()["error"]) for r in answers if r.status_code != 200)


def test_fifty_different_leaves_with_one_token_one_is_accepted(live: tuple[Office, str]) -> None:
    office, url = live
    code, ward = office.codes[0]
    p = with_token(office, url, code, ward)
    leaves = [other_leaf(p, seed) for seed in range(RACERS)]
    assert len(set(leaves)) == RACERS
    answers = asyncio.run(race(url, [(f"{base(office)}/ballots", {"content": x}) for x in leaves]))
    accepted = [(leaf, r) for leaf, r in zip(leaves, answers, strict=True) if r.status_code == 200]
    assert len(accepted) == 1, [r.text for r in answers if r.status_code == 200]
    assert errors(answers) == [(409, "token_spent")] * (RACERS - 1)
    leaf, answer = accepted[0]
    p.leaf = leaf
    receipt = p.check_receipt(answer.json())
    with httpx.Client(base_url=url) as http:
        index = receipt.leaf_index
        stored = http.get(f"{base(office)}/leaves", params={"start": index, "end": index + 1})
        assert stored.content == leaf + b"\n"
        # the accepted leaf again: the same leaf index and leaf, a receipt that verifies
        again = http.post(f"{base(office)}/ballots", content=leaf)
        assert again.status_code == 200
        assert p.check_receipt(again.json()).leaf_index == index
        # a losing leaf again: still refused
        loser = next(x for x in leaves if x != leaf)
        r = http.post(f"{base(office)}/ballots", content=loser)
        assert (r.status_code, r.json()["error"]) == (409, "token_spent")


def test_fifty_copies_of_one_leaf_get_one_place_on_the_board(live: tuple[Office, str]) -> None:
    office, url = live
    code, ward = office.codes[1]
    p = with_token(office, url, code, ward)
    leaf = p.make_leaf(random_answers(p.manifest, ward, random.Random(7)))
    with httpx.Client(base_url=url) as http:
        before = int(http.get(f"{base(office)}/checkpoint").text.split("\n")[1])
    answers = asyncio.run(race(url, [(f"{base(office)}/ballots", {"content": leaf})] * RACERS))
    assert [r.status_code for r in answers] == [200] * RACERS
    receipts = [p.check_receipt(r.json()) for r in answers]
    assert {r.leaf_index for r in receipts} == {before}
    with httpx.Client(base_url=url) as http:
        after = int(http.get(f"{base(office)}/checkpoint").text.split("\n")[1])
    assert after == before + 1


def test_fifty_issuances_for_one_code(live: tuple[Office, str]) -> None:
    office, url = live
    tokens = f"{base(office)}/tokens"
    # the same request fifty times at once: one signature, the same answer for all
    code, ward = office.codes[2]
    p = participant(office, url, ward)
    same = {"code": code, "blinded": b64u_encode(p.request_token())}
    answers = asyncio.run(race(url, [(tokens, {"json": same})] * RACERS))
    assert [r.status_code for r in answers] == [200] * RACERS
    assert len({r.json()["blind_sig"] for r in answers}) == 1
    p.finish_token(b64u_decode(answers[0].json()["blind_sig"]))  # it verifies
    # fifty different requests for one code at once: one is served, 49 get code_used
    code, ward = office.codes[3]
    racers = [participant(office, url, ward) for _ in range(RACERS)]
    bodies = [{"code": code, "blinded": b64u_encode(r.request_token())} for r in racers]
    answers = asyncio.run(race(url, [(tokens, {"json": body}) for body in bodies]))
    served = [(r, a) for r, a in zip(racers, answers, strict=True) if a.status_code == 200]
    assert len(served) == 1
    assert errors(answers) == [(409, "code_used")] * (RACERS - 1)
    winner, answer = served[0]
    winner.finish_token(b64u_decode(answer.json()["blind_sig"]))
    # what was recorded is the winner's request: it again gets its answer, the others not
    with httpx.Client(base_url=url) as http:
        for racer, body in zip(racers, bodies, strict=True):
            again = http.post(tokens, json=body)
            if racer is winner:
                assert again.json() == answer.json()
            else:
                assert (again.status_code, again.json()["error"]) == (409, "code_used")


def test_many_voters_at_once_are_committed_in_groups(live: tuple[Office, str]) -> None:
    office, url = live
    voters = office.codes[8:40]
    people = [participant(office, url, ward) for _, ward in voters]
    tokens = f"{base(office)}/tokens"
    requests = [
        (tokens, {"json": {"code": code, "blinded": b64u_encode(p.request_token())}})
        for (code, _), p in zip(voters, people, strict=True)
    ]
    answers = asyncio.run(race(url, requests))
    assert [r.status_code for r in answers] == [200] * len(voters), errors(answers)
    for p, answer in zip(people, answers, strict=True):
        p.finish_token(b64u_decode(answer.json()["blind_sig"]))
    leaves = [
        p.make_leaf(random_answers(p.manifest, p.ward, random.Random(i)))
        for i, p in enumerate(people)
    ]
    answers = asyncio.run(race(url, [(f"{base(office)}/ballots", {"content": x}) for x in leaves]))
    assert [r.status_code for r in answers] == [200] * len(voters), errors(answers)
    receipts = [p.check_receipt(a.json()) for p, a in zip(people, answers, strict=True)]
    assert len({r.leaf_index for r in receipts}) == len(voters)
    # fewer checkpoints than casts (group commit), all of one log: each is consistent
    # with the latest
    manifest = people[0].manifest
    checkpoints = {r.verify(manifest) for r in receipts}
    latest = max(checkpoints, key=lambda c: c.size)
    with httpx.Client(base_url=url) as http:
        for older in checkpoints - {latest}:
            proof = http.get(
                f"{base(office)}/proof/consistency",
                params={"old": older.size, "new": latest.size},
            ).json()["proof"]
            verify_consistency(
                older.size, latest.size, [b64u_decode(x) for x in proof], older.root, latest.root
            )


def test_store_reads_do_not_wait_for_the_writer(tmp_path: Path) -> None:
    """A reader answers while a write transaction (a group commit's fsync) holds the lock."""
    import threading

    from anonballot.server.store import Database

    db = Database(tmp_path / "x.db")
    try:
        db.put_meta("k", b"v1")
        entered, release = threading.Event(), threading.Event()

        def writer() -> None:
            with db.transaction() as conn:
                conn.execute("UPDATE meta SET value=? WHERE key='k'", (b"v2",))
                entered.set()
                release.wait(10)

        thread = threading.Thread(target=writer)
        thread.start()
        assert entered.wait(10)
        seen: list[bytes | None] = []
        reader = threading.Thread(target=lambda: seen.append(db.get_meta("k")))
        reader.start()
        reader.join(5)
        assert seen == [b"v1"]  # not blocked, and nothing uncommitted is visible
        release.set()
        thread.join(10)
        assert db.get_meta("k") == b"v2"
    finally:
        db.close()


def test_groups_answer_a_request_sent_right_after_an_answer() -> None:
    """A drainer that found the queue empty is gone although its done callbacks have not
    run yet: an item queued in that moment once waited forever (with one lane)."""
    from anonballot.errors import InputError
    from anonballot.server.batcher import Groups

    seen: list[list[int]] = []

    async def run(items: list[int]) -> list[int | AnonBallotError]:
        seen.append(items)
        return [InputError("odd") if i % 2 else i * 10 for i in items]

    async def client(groups: Groups[int, int], first: int) -> list[int]:
        out = [await groups.submit(first)]
        out.append(await groups.submit(first + 2))  # queued as the drainer returns
        return out

    async def main() -> None:
        for lanes in (1, 2):
            groups: Groups[int, int] = Groups(run, lanes=lanes)
            answers = await asyncio.wait_for(
                asyncio.gather(*(client(groups, i) for i in (0, 2, 4))), 5
            )
            assert answers == [[0, 20], [20, 40], [40, 60]]
            with pytest.raises(InputError):
                await asyncio.wait_for(groups.submit(1), 5)
        assert max(len(group) for group in seen) > 1  # grouped

    asyncio.run(main())


def test_the_server_benchmark_runs(tmp_path: Path) -> None:
    """bench/server.py end to end at a tiny size: its own server, load generator and table."""
    import re
    import subprocess
    import sys

    bench = Path(__file__).resolve().parent.parent / "bench" / "server.py"
    result = subprocess.run(  # noqa: S603 (our own script, with the test's interpreter)
        [sys.executable, str(bench), "--out", str(tmp_path / "out"), "--key-bits", "2048",
         "--wards", "1", "--clients", "1", "4", "--issuances", "12", "--casts", "24",
         "--seconds", "20"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tokens signed directly" in result.stderr
    rows = re.findall(r"^(issuance|cast)\s+(\d+)\s+(\d+)\s+(\d+)\s", result.stdout, re.MULTILINE)
    assert [(kind, int(n), int(ops)) for kind, n, ops, _ in rows] == [
        ("issuance", 1, 12), ("issuance", 4, 12), ("cast", 1, 24), ("cast", 4, 24)
    ]  # fmt: skip
    assert all(int(rate) > 0 for *_, rate in rows)


def test_a_group_of_issuances_is_one_commit_with_one_answer_per_code(
    make_round: RoundFactory, tmp_path: Path, database: str | None
) -> None:
    """Round.commit_issuances, on the memory store and on each SQL back end: duplicates in
    one group get the first one's answer (or code_used), errors pass through, a closed round
    refuses all."""
    from anonballot.engine import Round
    from anonballot.errors import Conflict, InputError, StateError
    from anonballot.server.service import open_database

    demo = make_round(voters=2)
    db = open_database(tmp_path, database)
    try:
        sqlite = db.add_round("r")
        for name in demo.store.document_names(""):
            data = demo.store.get_document(name)
            assert data is not None
            sqlite.put_document(name, data)
        for name in ("organizer", "log", *(f"issuer/{w}" for w in demo.issuer_keys)):
            secret = demo.store.get_secret(name)
            assert secret is not None
            sqlite.put_secret(name, secret)
        sqlite.add_invitations([(code_hash(c), w) for c, w in demo.roster])
        sqlite.put_checkpoint(0, demo.engine.checkpoint())
        sqlite.set_state("open")
        for engine in (demo.engine, Round(sqlite, clock=demo.clock)):
            (code, ward), (other, _) = demo.roster[0], demo.roster[1]
            x, y, z = (participant_of(demo, ward).request_token() for _ in range(3))
            a = engine.check_issue(code, x)
            c = engine.check_issue(code, y)
            d = engine.check_issue(other, z)
            assert not isinstance(a, bytes)
            assert not isinstance(c, bytes)
            assert not isinstance(d, bytes)
            key = engine.issuer_key(ward)
            sig_x, sig_y, sig_z = (key.sign_blinded(b) for b in (x, y, z))
            refused = InputError("bad")
            answers = engine.commit_issuances(
                [(a, sig_x), (a, sig_x), (c, sig_y), (d, sig_z), refused]
            )
            assert answers[:2] == [sig_x, sig_x]
            assert isinstance(answers[2], Conflict)
            assert answers[2].code == "code_used"
            assert answers[3:] == [sig_z, refused]
            assert engine.check_issue(code, x) == sig_x  # recorded: the same answer again
            with pytest.raises(Conflict):
                engine.check_issue(code, y)
            assert len(list(engine.store.issuances())) == 2
            engine.close()
            closed = engine.commit_issuances([(a, sig_x)])
            assert isinstance(closed[0], StateError)
    finally:
        db.close()


def participant_of(demo: DemoRound, ward: str) -> Participant:
    return Participant(demo.signed, ward)


@pytest.mark.slow
def test_the_server_benchmark_runs_two_instances_on_postgresql(
    tmp_path: Path, pg_cluster: object
) -> None:
    """bench/server.py --database auto --instances 2: its own cluster, two servers, both
    taking casts (each client talks to one of them), every answer a 200."""
    import re
    import subprocess
    import sys

    bench = Path(__file__).resolve().parent.parent / "bench" / "server.py"
    result = subprocess.run(  # noqa: S603 (our own script, with the test's interpreter)
        [sys.executable, str(bench), "--out", str(tmp_path / "out"), "--key-bits", "2048",
         "--wards", "1", "--clients", "4", "--issuances", "12", "--casts", "40",
         "--seconds", "20", "--database", "auto", "--instances", "2"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PostgreSQL, 2 instance(s)" in result.stdout
    rows = re.findall(r"^(issuance|cast)\s+(\d+)\s+(\d+)\s", result.stdout, re.MULTILINE)
    assert [(kind, int(ops)) for kind, _, ops in rows] == [("issuance", 12), ("cast", 40)]
