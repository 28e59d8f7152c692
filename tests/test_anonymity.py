"""Anonymity: what the engine keeps and publishes cannot link a ballot to its caster.

(a) Blindness: every issuance transcript (blinded, blind_sig) of a ward is explained by every
    token of that ward on the board, by some blinding factor. The issuer's records therefore
    say nothing about which token came from which issuance.
(b) Nothing stored about a cast depends on who cast it or when: the same casts under
    different clocks leave byte-identical stores, and leaves reference no issuance data.
(c) Everything published but the board order (and what depends on it: roots, checkpoints,
    invalid ballots' indices) is the same whatever order participants issued and cast in.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import math
from dataclasses import dataclass
from typing import Any

import pytest
from _hypothesis import examples
from _jsonview import obj
from conftest import NOW, Clock, DemoRound, RoundFactory, seeded_codes
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.codes import code_hash
from anonballot.encoding import b64u_encode, jcs, parse_json
from anonballot.engine import Round
from anonballot.leaf import build_leaf, parse_leaf
from anonballot.participant import Participant
from anonballot.storage import Issuance, MemoryStore

WARDS = 2
VOTERS = 4  # per ward


def _int(data: bytes) -> int:
    return int.from_bytes(data, "big")


# --- (a) every transcript is explained by every token -------------------------------------------


@dataclass(frozen=True)
class Board:
    demo: DemoRound
    transcripts: dict[str, list[Issuance]]
    tokens: dict[str, list[tuple[bytes, bytes, bytes]]]
    """ward -> [(prepared, sig, the holder's own inv)] in board order."""


@pytest.fixture(scope="module")
def board(make_round: RoundFactory) -> Board:
    demo = make_round(wards=WARDS, voters=VOTERS, seed=11)
    participants = [demo.participant(i) for i in range(len(demo.roster))]
    for p in reversed(participants):  # cast in another order than issued
        demo.engine.cast(p.make_leaf(demo.answers(p.ward)))
    transcripts: dict[str, list[Issuance]] = {}
    for issuance in demo.store.issuances():
        transcripts.setdefault(issuance.ward, []).append(issuance)
    inv_of = {p.token.msg: p.request.inv for p in participants if p.token is not None and p.request}
    tokens: dict[str, list[tuple[bytes, bytes, bytes]]] = {}
    for data in demo.store.leaves(0, demo.store.leaf_count()):
        leaf = parse_leaf(data, demo.manifest)
        tokens.setdefault(leaf.ward, []).append(
            (leaf.token.msg, leaf.token.sig, inv_of[leaf.token.msg])
        )
    return Board(demo, transcripts, tokens)


def _explaining_factor(board: Board, ward: str, issuance: Issuance, sig: bytes) -> int:
    """The blinding factor r* that turns the token with ``sig`` into ``issuance``.

    If the token came from this issuance, blind_sig = blinded^d and sig = blind_sig * inv, so
    inv = sig * blind_sig^-1 and r = inv^-1. For ANY pair define inv* the same way; then
    r* = inv*^-1 satisfies blinded = m_token * r*^e (mod n), where m_token = sig^e mod n is
    the token's EMSA-PSS encoded message. Check it, and return r*.
    """
    numbers = board.demo.issuer_keys[ward].public_key.to_cryptography().public_numbers()
    n, e = numbers.n, numbers.e
    blinded, blind_sig, s = _int(issuance.blinded), _int(issuance.blind_sig), _int(sig)
    assert pow(blind_sig, e, n) == blinded  # the issuer answered honestly
    m_token = pow(s, e, n)
    inv_star = s * pow(blind_sig, -1, n) % n
    r_star = pow(inv_star, -1, n)
    assert 1 <= r_star < n
    assert math.gcd(r_star, n) == 1
    assert blinded == m_token * pow(r_star, e, n) % n
    return r_star


@settings(deadline=None, max_examples=examples(40))
@given(data=st.data())
def test_every_transcript_is_explained_by_every_token(board: Board, data: st.DataObject) -> None:
    ward = data.draw(st.sampled_from(sorted(board.transcripts)))
    issuance = data.draw(st.sampled_from(board.transcripts[ward]))
    _, sig, _ = data.draw(st.sampled_from(board.tokens[ward]))
    _explaining_factor(board, ward, issuance, sig)


def test_all_pairs_are_explained_equally(board: Board) -> None:
    for ward, transcripts in board.transcripts.items():
        assert len(transcripts) == len(board.tokens[ward]) == VOTERS
        for issuance in transcripts:
            factors = set()
            matches = 0
            for _, sig, inv in board.tokens[ward]:
                r_star = _explaining_factor(board, ward, issuance, sig)
                factors.add(r_star)
                # For the token that really came from this issuance, r* is the holder's own
                # blinding factor; for every other token it is another, equally valid one.
                if pow(r_star, -1, _n(board, ward)) == _int(inv):
                    matches += 1
            assert len(factors) == VOTERS
            assert matches == 1


def _n(board: Board, ward: str) -> int:
    n: int = board.demo.issuer_keys[ward].public_key.to_cryptography().public_numbers().n
    return n


def test_transcripts_and_leaves_share_no_bytes(board: Board) -> None:
    store = board.demo.store
    leaves = list(store.leaves(0, store.leaf_count()))
    for transcripts in board.transcripts.values():
        for issuance in transcripts:
            for needle in (issuance.blinded, issuance.blind_sig):
                for leaf in leaves:
                    assert b64u_encode(needle).encode() not in leaf
                    assert b64u_encode(needle[:16]).encode() not in leaf
            for leaf in leaves:
                assert issuance.pseudonym.encode() not in leaf


# --- (b) nothing stored about a cast depends on who or when -------------------------------------


def _store_contents(store: MemoryStore) -> dict[str, Any]:
    """A copy of everything a MemoryStore holds (its lock aside)."""
    return copy.deepcopy({k: v for k, v in vars(store).items() if k != "_lock"})


def test_cast_takes_nothing_but_the_leaf() -> None:
    assert list(inspect.signature(Round.cast).parameters) == ["self", "leaf"]


def test_stored_casts_do_not_depend_on_time(make_round: RoundFactory) -> None:
    codes = seeded_codes(WARDS * VOTERS, 5)
    early = make_round(wards=WARDS, voters=VOTERS, codes=codes, clock=Clock(NOW))
    late = make_round(
        wards=WARDS, voters=VOTERS, codes=codes, clock=Clock(NOW + dt.timedelta(days=3))
    )
    assert early.engine.mid == late.engine.mid
    participants: list[Participant] = []
    for i, (code, _) in enumerate(early.roster):
        p = early.participant(i)
        # The issuer's answer is a function of the request only: the same in both rounds.
        assert late.engine.issue(code, p.request_token()) == early.engine.issue(
            code, p.request_token()
        )
        participants.append(p)
    assert _store_contents(early.store) == _store_contents(late.store)
    before = _store_contents(early.store)

    leaves = [p.make_leaf(early.answers(p.ward, seed=i)) for i, p in enumerate(participants)]
    for i, leaf in enumerate(leaves):
        a = early.engine.cast(leaf)
        late.clock.now += dt.timedelta(hours=i + 1, seconds=17 * i)
        b = late.engine.cast(leaf)
        assert a == b
    after = _store_contents(early.store)
    assert after == _store_contents(late.store)

    # A cast changed the leaves, the spent-token index and the checkpoints; nothing else.
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"_leaves", "_spent", "_checkpoints"}
    assert after["_leaves"] == leaves
    assert after["_spent"] == {
        parse_leaf(leaf, early.manifest).voter_key.to_bytes(): i for i, leaf in enumerate(leaves)
    }
    assert set(after["_checkpoints"]) == set(range(len(leaves) + 1))

    # No issuance data is referenced from what a cast stored.
    cast_data = (
        b"".join(leaves)
        + b"".join(after["_spent"])
        + "".join(after["_checkpoints"].values()).encode()
    )
    for code, _ in early.roster:
        h = code_hash(code)
        assert h not in cast_data
        assert b64u_encode(h).encode() not in cast_data
        assert h not in after["_spent"]
    for issuance in after["_issuances"].values():
        for needle in (issuance.blinded, issuance.blind_sig):
            assert needle not in cast_data
            assert b64u_encode(needle).encode() not in cast_data
        assert issuance.pseudonym.encode() not in cast_data


# --- (c) results do not depend on the order of issuing and casting ------------------------------


@dataclass(frozen=True)
class Prepared:
    """One roster entry's request, its answer and (unless it abstains) its leaf."""

    code: str
    blinded: bytes
    blind_sig: bytes
    leaf: bytes | None


@dataclass(frozen=True)
class Cohort:
    codes: list[str]
    people: list[Prepared]
    baseline: dict[str, bytes]
    board: list[bytes]


def _play(
    make_round: RoundFactory,
    cohort_codes: list[str],
    people: list[Prepared],
    issue_order: list[int],
    cast_order: list[int],
) -> tuple[dict[str, bytes], list[bytes]]:
    demo = make_round(wards=WARDS, voters=VOTERS, codes=cohort_codes)
    for i in issue_order:
        assert demo.engine.issue(people[i].code, people[i].blinded) == people[i].blind_sig
    for i in cast_order:
        leaf = people[i].leaf
        if leaf is not None:
            demo.engine.cast(leaf)
    demo.finish()
    return demo.engine.record_files(), list(demo.engine.board_leaves())


@pytest.fixture(scope="module")
def cohort(make_round: RoundFactory) -> Cohort:
    codes = seeded_codes(WARDS * VOTERS, 21)
    template = make_round(wards=WARDS, voters=VOTERS, codes=codes)
    people: list[Prepared] = []
    for i, (code, ward) in enumerate(template.roster):
        p = template.participant(i)
        assert p.request is not None
        assert p.token is not None
        assert p.voter_key is not None
        blind_sig = template.engine.issue(code, p.request.blinded)
        if i in (3, 7):  # collects a token, never casts
            leaf = None
        elif i == 1:  # an invalid ballot: plaintext for another ward
            other = "cu-khoi" if ward == "bo-de" else "bo-de"
            bad = jcs({"v": 1, "ward": other, "answers": {}})
            leaf = build_leaf(template.engine.mid, ward, p.token, p.seal(bad), p.voter_key)
        elif i == 5:  # an invalid ballot: a rating off the scale
            answers = template.answers(ward, i)
            next(iter(answers.values()))["ratings"]["dao-duc-loi-song"] = "xuat-sac"
            bad = jcs({"v": 1, "ward": ward, "answers": answers})
            leaf = build_leaf(template.engine.mid, ward, p.token, p.seal(bad), p.voter_key)
        else:
            answers = template.answers(ward, i)
            for answer in answers.values():
                answer["comments"]["uu-diem"] = f"  Ý kiến số {i}  "
            leaf = p.make_leaf(answers)
        people.append(Prepared(code, p.request.blinded, blind_sig, leaf))
    order = list(range(len(people)))
    baseline, board = _play(make_round, codes, people, order, order)
    return Cohort(codes, people, baseline, board)


def _results_without_order(files: dict[str, bytes], board: list[bytes]) -> dict[str, Any]:
    results: dict[str, Any] = obj(parse_json(files["results.json"]))["results"]
    # The root depends on the order; the invalid indices too, but not which leaves they are.
    results.pop("root")
    invalid = results.pop("invalid")
    results["invalid_leaves"] = sorted((board[e["leaf_index"]], e["reason"]) for e in invalid)
    return results


def _close_without_root(files: dict[str, bytes]) -> dict[str, Any]:
    close: dict[str, Any] = obj(parse_json(files["close.json"]))["close"]
    close.pop("root")
    return close


@settings(deadline=None, max_examples=examples(12))
@given(
    issue_order=st.permutations(range(WARDS * VOTERS)),
    cast_order=st.permutations(range(WARDS * VOTERS)),
)
def test_published_data_does_not_depend_on_order(
    make_round: RoundFactory, cohort: Cohort, issue_order: list[int], cast_order: list[int]
) -> None:
    files, board = _play(make_round, cohort.codes, cohort.people, issue_order, cast_order)
    base = cohort.baseline
    assert set(files) == set(base)
    for name in files:
        if name.startswith("releases/") or name in ("manifest.json", "issuance.json"):
            assert files[name] == base[name], name
    assert _close_without_root(files) == _close_without_root(base)
    assert _results_without_order(files, board) == _results_without_order(base, cohort.board)
    assert sorted(board) == sorted(cohort.board)
    assert [line.split(b"\n")[1] for line in (files["checkpoint.txt"], base["checkpoint.txt"])] == [
        b"6",
        b"6",
    ]
    results = obj(parse_json(files["results.json"]))["results"]
    assert sorted(e["reason"] for e in results["invalid"]) == ["invalid_content", "wrong_ward"]
    comments = results["subjects"]["bo-de-secretary"]["comments"]["uu-diem"]
    assert comments == sorted(comments)
