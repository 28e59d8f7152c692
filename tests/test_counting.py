"""Counting properties: ballots <= issued <= eligible, one spend per token, order-free tally."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
from _hypothesis import examples
from _jsonview import obj
from conftest import DemoRound, RoundFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.encoding import jcs, parse_json
from anonballot.errors import AnonBallotError, Conflict, InvalidToken
from anonballot.leaf import build_leaf, parse_leaf
from anonballot.manifest import Manifest
from anonballot.opening import LeafOpener
from anonballot.participant import Participant
from anonballot.receipt import Receipt
from anonballot.tally import TallyBuilder
from anonballot.tokens import IssuerKey
from anonballot.trustee import verify_release

WARDS = 2
VOTERS = 3

Action = tuple[str, int]
actions = st.lists(
    st.tuples(
        st.sampled_from(["issue", "cast", "other-leaf", "forged"]),
        st.integers(min_value=0, max_value=WARDS * VOTERS - 1),
    ),
    max_size=14,
)


def _per_ward_counts(demo: DemoRound) -> dict[str, tuple[int, int, int]]:
    """ward -> (ballots on the board, issued, eligible), read from the store."""
    store = demo.store
    ballots: dict[str, int] = {}
    for data in store.leaves(0, store.leaf_count()):
        ward = obj(parse_json(data))["ward"]
        ballots[ward] = ballots.get(ward, 0) + 1
    issued: dict[str, int] = {}
    for issuance in store.issuances():
        issued[issuance.ward] = issued.get(issuance.ward, 0) + 1
    return {
        w.id: (ballots.get(w.id, 0), issued.get(w.id, 0), w.eligible) for w in demo.manifest.wards
    }


def _check_invariant(demo: DemoRound) -> None:
    for ward, (ballots, issued, eligible) in _per_ward_counts(demo).items():
        assert ballots <= issued <= eligible, ward


@settings(deadline=None, max_examples=examples(25))
@given(steps=actions)
def test_ballots_never_exceed_issued_or_eligible(
    make_round: RoundFactory, foreign_issuer: IssuerKey, steps: list[Action]
) -> None:
    demo = make_round(wards=WARDS, voters=VOTERS)
    engine = demo.engine
    people: dict[int, Participant] = {}
    cast: set[int] = set()
    spent_elsewhere: set[int] = set()
    _check_invariant(demo)
    for action, i in steps:
        code, ward = demo.roster[i]
        p = people.get(i)
        if action == "issue":
            if p is None:
                people[i] = demo.participant(i)
            else:  # a retry: the same answer (so the same token), no new issuance
                assert p.request is not None
                assert p.request.finalize(engine.issue(code, p.request_token())) == p.token
        elif action == "cast" and p is not None:
            leaf = p.make_leaf(demo.answers(ward, i))
            if i in spent_elsewhere:  # the token went into another ballot first
                with pytest.raises(Conflict):
                    engine.cast(leaf)
                continue
            receipt = engine.cast(leaf)
            p.check_receipt(receipt.to_json())
            cast.add(i)
        elif action == "other-leaf" and p is not None:
            # Another ballot with the same token: accepted only if the token is unspent.
            assert p.token is not None
            assert p.voter_key is not None
            sealed = p.seal(jcs(p.ballot(demo.answers(ward, 100 + len(cast)))))
            leaf = build_leaf(engine.mid, ward, p.token, sealed, p.voter_key)
            if i in cast:
                with pytest.raises(Conflict):
                    engine.cast(leaf)
            else:
                engine.cast(leaf)
                cast.add(i)
                spent_elsewhere.add(i)
        elif action == "forged":
            # A token the ward's issuer never signed does not count.
            q = Participant(demo.signed, ward)
            q.request_token()
            assert q.request is not None
            assert q.voter_key is not None
            token = foreign_issuer.sign_token_directly(q.request.prepared)
            sealed = q.seal(jcs(q.ballot(demo.answers(ward))))
            with pytest.raises(InvalidToken):
                engine.cast(build_leaf(engine.mid, ward, token, sealed, q.voter_key))
        _check_invariant(demo)
    counts = _per_ward_counts(demo)
    assert sum(c[0] for c in counts.values()) == len(cast)
    assert sum(c[1] for c in counts.values()) == len(people)
    results = demo.finish()
    close = demo.engine.close_statement()
    ledger = obj(parse_json(demo.store.get_document("issuance") or b""))
    for ward, row in results["wards"].items():
        assert row["ballots"] <= row["issued"] <= row["eligible"]
        assert row["issued"] == close.issued[ward] == len(ledger["wards"][ward])
        assert (row["ballots"], row["issued"], row["eligible"]) == counts[ward]


@settings(deadline=None, max_examples=examples(10))
@given(
    threads=st.integers(min_value=2, max_value=8),
    same=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_a_token_is_spent_once_when_casts_race(
    make_round: RoundFactory, threads: int, same: list[bool]
) -> None:
    demo = make_round(wards=1, voters=1)
    p = demo.participant(0)
    assert p.token is not None
    assert p.voter_key is not None
    first = p.make_leaf(demo.answers("bo-de", 0))
    leaves = [
        first
        if same[i]
        else build_leaf(
            demo.engine.mid,
            "bo-de",
            p.token,
            p.seal(jcs(p.ballot(demo.answers("bo-de", i + 1)))),
            p.voter_key,
        )
        for i in range(threads)
    ]
    barrier = threading.Barrier(threads)
    results: list[object] = [None] * threads

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = demo.engine.cast(leaves[i])
        except AnonBallotError as exc:
            results[i] = exc

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert demo.store.leaf_count() == 1
    stored = next(demo.store.leaves(0, 1))
    receipts = {jcs(r.to_json()) for r in results if isinstance(r, Receipt)}
    assert len(receipts) == 1
    for leaf, result in zip(leaves, results, strict=True):
        if leaf == stored:
            assert isinstance(result, Receipt)
        else:
            assert isinstance(result, Conflict)
            assert result.code == "token_spent"


# --- the tally does not depend on board order -----------------------------------------------------


@dataclass(frozen=True)
class Tallied:
    manifest: Manifest
    mid: str
    board: list[bytes]
    results: dict[str, Any]
    opener: LeafOpener
    issued: dict[str, int]


@pytest.fixture(scope="module")
def tallied(make_round: RoundFactory) -> Tallied:
    demo = make_round(wards=WARDS, voters=4, seed=3)
    engine = demo.engine
    for i, (_, ward) in enumerate(demo.roster):
        p = demo.participant(i)
        assert p.token is not None
        assert p.voter_key is not None
        if i in (2, 6):  # not canonical / for another ward: invalid ballots
            bad = b'{"v": 1}' if i == 2 else jcs({"v": 1, "ward": "zz", "answers": {}})
            engine.cast(build_leaf(engine.mid, ward, p.token, p.seal(bad), p.voter_key))
            continue
        answers = demo.answers(ward, i)
        for n, answer in enumerate(answers.values()):
            answer["comments"]["ton-tai-han-che"] = f"\u3000Góp ý {(i * 7 + n) % 5}\n"
        engine.cast(p.make_leaf(answers))
    results = demo.finish(releases=3)
    secrets = [verify_release(r, engine.manifest) for r in engine.releases().values()]
    return Tallied(
        engine.manifest,
        engine.mid,
        list(engine.board_leaves()),
        results,
        LeafOpener(engine.manifest, secrets, engine.mid),
        dict(engine.close_statement().issued),
    )


def _recount(t: Tallied, leaves: list[bytes], builder: TallyBuilder, start: int = 0) -> None:
    for index, data in enumerate(leaves, start=start):
        builder.add(index, parse_leaf(data, t.manifest, t.mid), t.opener)


def _order_free(results: dict[str, Any], board: list[bytes]) -> dict[str, Any]:
    out = {k: v for k, v in results.items() if k not in ("root", "invalid")}
    out["invalid_leaves"] = sorted(
        (board[e["leaf_index"]], e["reason"]) for e in results["invalid"]
    )
    return out


@settings(deadline=None, max_examples=examples(30))
@given(data=st.data())
def test_tally_does_not_depend_on_board_order(tallied: Tallied, data: st.DataObject) -> None:
    permuted = data.draw(st.permutations(tallied.board))
    split = data.draw(st.integers(min_value=0, max_value=len(permuted)))
    builder = TallyBuilder(tallied.manifest)
    _recount(tallied, permuted, builder)
    recount = builder.results(
        mid=tallied.mid,
        tree_size=len(permuted),
        root=b"\x00" * 32,
        trustees=tallied.results["trustees"],
        issued=tallied.issued,
    )
    expected = _order_free(tallied.results, tallied.board)
    assert _order_free(recount.to_json(), permuted) == expected
    # Counting in two parts and merging them (as the audit's workers do) gives the same.
    first, second = TallyBuilder(tallied.manifest), TallyBuilder(tallied.manifest)
    _recount(tallied, permuted[:split], first)
    _recount(tallied, permuted[split:], second, start=split)
    second.merge(first)
    merged = second.results(
        mid=tallied.mid,
        tree_size=len(permuted),
        root=b"\x00" * 32,
        trustees=tallied.results["trustees"],
        issued=tallied.issued,
    )
    assert merged == recount


def test_tallied_round_has_what_the_order_test_needs(tallied: Tallied) -> None:
    results = tallied.results
    assert sorted(e["reason"] for e in results["invalid"]) == ["not_canonical", "wrong_ward"]
    comments = results["subjects"]["bo-de-chairman"]["comments"]["ton-tai-han-che"]
    assert len(comments) == 3
    assert comments == sorted(comments)
    assert all(c == c.strip() and c.startswith("Góp ý") for c in comments)
    assert results["district"]["ballots"] == len(tallied.board) - 2
