"""The participant's side (anonballot.participant): token, leaf, receipt, saved state."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from _jsonview import obj
from conftest import DemoRound, RoundFactory

from anonballot.encoding import jcs, parse_json
from anonballot.errors import (
    AnonBallotError,
    BallotContentError,
    EncodingError,
    InvalidProof,
    InvalidSignature,
    InvalidToken,
    NotFound,
    StateError,
)
from anonballot.leaf import parse_leaf
from anonballot.participant import Participant


@pytest.fixture
def demo(make_round: RoundFactory) -> DemoRound:
    return make_round(wards=2, voters=3)


def _saved(p: Participant) -> dict[str, Any]:
    """The participant's state as it would be written to and read back from the device."""
    return obj(parse_json(jcs(p.to_json())))


def test_state_round_trip_mid_protocol(demo: DemoRound) -> None:
    engine = demo.engine
    code, ward = demo.roster[0]
    p = Participant(demo.signed, engine.ward_for_code(code))
    blinded = p.request_token()
    saved = _saved(p)  # persisted before sending
    assert saved["token"] is None
    assert saved["leaf"] is None
    first_answer = engine.issue(code, blinded)  # ...and the answer is lost on the way
    assert first_answer

    restored = Participant.from_json(saved)
    assert restored.to_json() == p.to_json()
    # The retry sends the same request and gets the same answer, which still finishes.
    assert restored.request_token() == blinded
    blind_sig = engine.issue(code, restored.request_token())
    assert blind_sig == first_answer
    token = restored.finish_token(blind_sig)
    assert restored.voter_key is not None
    assert token.voter_public_key == restored.voter_key.public_key

    # Every later state survives a save and restore too.
    leaf = restored.make_leaf(demo.answers(ward))
    restored = Participant.from_json(_saved(restored))
    assert restored.leaf == leaf
    receipt = engine.cast(leaf)
    restored.check_receipt(receipt.to_json())
    again = Participant.from_json(_saved(restored))
    assert again.receipt == receipt
    assert again.to_json() == restored.to_json()
    assert parse_leaf(leaf, again.manifest).voter_key == token.voter_public_key


def test_request_token_is_idempotent(demo: DemoRound) -> None:
    p = Participant(demo.signed, "bo-de")
    blinded = p.request_token()
    key = p.voter_key
    assert p.request_token() == blinded
    assert p.voter_key is key
    assert Participant(demo.signed, "bo-de").request_token() != blinded


def test_make_leaf_is_idempotent(demo: DemoRound) -> None:
    p = demo.participant(0)
    leaf = p.make_leaf(demo.answers("bo-de", seed=1))
    assert p.make_leaf(demo.answers("bo-de", seed=1)) == leaf
    assert p.make_leaf(demo.answers("bo-de", seed=2)) == leaf  # a second call never re-votes
    parsed = parse_leaf(leaf, p.manifest)
    parsed.verify_token(p.manifest)
    parsed.verify_voter_sig()
    assert parsed.ward == "bo-de"


def test_check_receipt(demo: DemoRound) -> None:
    p, receipt = demo.cast(0)
    q, other = demo.cast(1)
    assert p.check_receipt(receipt.to_json()) == receipt
    assert p.receipt == receipt
    # The receipt of another leaf does not pass for this participant's leaf.
    with pytest.raises(InvalidProof):
        p.check_receipt(other.to_json())
    # Tampered receipts fail.
    value: dict[str, Any] = receipt.to_json()
    for key, changed in (
        ("round", ("y" if value["round"][0] == "x" else "x") + value["round"][1:]),
        ("leaf_index", 1),
        ("checkpoint", value["checkpoint"].replace("\n1\n", "\n2\n")),
        ("inclusion", []),
    ):
        with pytest.raises(AnonBallotError):
            q.check_receipt({**value, key: changed})
    with pytest.raises(EncodingError):
        p.check_receipt({**value, "extra": 1})


def test_check_receipt_with_a_longer_checkpoint(demo: DemoRound) -> None:
    p, receipt = demo.cast(0)
    demo.cast(1)
    demo.cast(2)
    # The engine can prove the leaf against any later checkpoint; the client accepts that.
    engine = demo.engine
    size = engine.board.size
    later = engine.board.receipt(0, engine.checkpoint(), size).to_json()
    assert later["checkpoint"] != receipt.checkpoint
    assert p.check_receipt(later).leaf_index == 0


def test_steps_out_of_order(demo: DemoRound) -> None:
    p = Participant(demo.signed, "bo-de")
    with pytest.raises(StateError) as no_request:
        p.finish_token(b"\x00" * 256)
    assert no_request.value.code == "no_token_request"
    with pytest.raises(StateError) as no_token:
        p.make_leaf(demo.answers("bo-de"))
    assert no_token.value.code == "no_token"
    with pytest.raises(StateError) as no_leaf:
        p.check_receipt({})
    assert no_leaf.value.code == "no_leaf"


def test_bad_blind_signature(demo: DemoRound) -> None:
    p = Participant(demo.signed, "bo-de")
    blinded = p.request_token()
    with pytest.raises(InvalidToken):
        p.finish_token(blinded)  # not a signature
    assert p.token is None


def test_invalid_answers_make_no_leaf(demo: DemoRound) -> None:
    p = demo.participant(0)
    answers = demo.answers("bo-de")
    answers.pop("bo-de-chairman")
    with pytest.raises(BallotContentError):
        p.make_leaf(answers)
    assert p.leaf is None
    wrong_level = demo.answers("bo-de")
    wrong_level["bo-de-chairman"]["ratings"]["dao-duc-loi-song"] = "xuat-sac"
    with pytest.raises(BallotContentError):
        p.make_leaf(wrong_level)
    assert p.leaf is None


def test_manifest_and_ward_are_checked(demo: DemoRound) -> None:
    with pytest.raises(NotFound):
        Participant(demo.signed, "nowhere")
    tampered = copy.deepcopy(demo.signed)
    tampered["manifest"]["threshold"] = 1
    with pytest.raises(InvalidSignature):
        Participant(tampered, "bo-de")


def test_from_json_missing_key(demo: DemoRound) -> None:
    state = Participant(demo.signed, "bo-de").to_json()
    del state["ward"]
    with pytest.raises(EncodingError):
        Participant.from_json(state)
