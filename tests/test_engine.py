"""The round engine (anonballot.engine): states, issuance, casting, receipts, close, tally."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from _jsonview import obj
from conftest import NOW, Clock, DemoRound, RoundFactory, all_answers, seeded_codes

from anonballot.checkpoint import Checkpoint
from anonballot.codes import format_code, pseudonym
from anonballot.encoding import b64u_decode, b64u_encode, jcs, parse_json, sha256
from anonballot.engine import Round
from anonballot.errors import (
    AnonBallotError,
    Conflict,
    EncodingError,
    InputError,
    InvalidSignature,
    InvalidToken,
    ManifestError,
    NotFound,
    StateError,
)
from anonballot.hazmat.merkle import leaf_hash, verify_inclusion
from anonballot.leaf import build_leaf
from anonballot.manifest import Window
from anonballot.participant import Participant
from anonballot.receipt import Receipt, check_consistent
from anonballot.signing import SigningKey, verify_object
from anonballot.storage import MemoryStore
from anonballot.testing import demo_config
from anonballot.tokens import IssuerKey, TokenRequest
from anonballot.trustee import TrusteeKey


@pytest.fixture
def demo(make_round: RoundFactory) -> DemoRound:
    """An open round of two wards with four roster entries each."""
    return make_round(wards=2, voters=4)


def _code(error: pytest.ExceptionInfo[AnonBallotError]) -> str:
    return error.value.code


def resign(value: dict[str, Any], key: SigningKey) -> bytes:
    """The leaf ``value`` with a fresh voter_sig by ``key``, as JCS bytes."""
    unsigned = {k: v for k, v in value.items() if k != "voter_sig"}
    unsigned["voter_sig"] = b64u_encode(key.sign(jcs(unsigned)))
    return jcs(unsigned)


# --- the state machine ------------------------------------------------------------------------


def _refused(
    action: Callable[[], object], code: str, error: type[AnonBallotError] = StateError
) -> None:
    with pytest.raises(error) as info:
        action()
    assert info.value.code == code


def test_state_machine(make_round: RoundFactory) -> None:
    demo = make_round(wards=1, voters=2, open_round=False)
    engine = demo.engine
    code = demo.roster[0][0]
    release = demo.trustees[0].release("x")
    assert engine.state == "draft"
    _refused(lambda: engine.manifest, "round_not_open")
    _refused(lambda: engine.issue(code, b"\x01" * 256), "round_not_open")
    _refused(lambda: engine.cast(b"{}"), "round_not_open")
    _refused(engine.close, "round_not_open")
    _refused(lambda: engine.add_release(release), "wrong_state")
    _refused(engine.tally, "wrong_state")
    _refused(engine.record_files, "wrong_state")

    demo.open()
    assert engine.state == "open"
    _refused(engine.open, "wrong_state")
    _refused(lambda: engine.add_invitations([(seeded_codes(1, 99)[0], "bo-de")]), "wrong_state")
    _refused(lambda: engine.add_release(demo.trustees[0].release(engine.mid)), "wrong_state")
    _refused(engine.tally, "wrong_state")
    demo.cast(0)

    engine.close()
    assert engine.state == "closed"
    _refused(lambda: engine.issue(demo.roster[1][0], b"\x01" * 256), "round_not_open")
    _refused(lambda: engine.cast(b"{}"), "round_not_open")
    _refused(engine.close, "round_not_open")
    _refused(engine.open, "wrong_state")
    _refused(lambda: engine.add_invitations([]), "wrong_state")
    _refused(engine.tally, "not_enough_releases")
    _refused(engine.record_files, "wrong_state")

    demo.release()
    engine.tally()
    assert engine.state == "tallied"
    _refused(lambda: engine.add_release(demo.trustees[2].release(engine.mid)), "wrong_state")
    _refused(engine.tally, "wrong_state")
    _refused(engine.close, "round_not_open")
    _refused(lambda: engine.cast(b"{}"), "round_not_open")
    assert set(engine.record_files()) == {
        "manifest.json",
        "close.json",
        "issuance.json",
        "results.json",
        "checkpoint.txt",
        "releases/tuyen-giao.json",
        "releases/to-chuc.json",
    }


def test_create_refuses_a_used_store(demo: DemoRound, organizer: SigningKey) -> None:
    with pytest.raises(Conflict) as info:
        Round.create(demo.store, demo.config, organizer=organizer, key_bits=2048)
    assert info.value.code == "round_exists"


# --- draft and open -----------------------------------------------------------------------------


def test_add_invitations(make_round: RoundFactory) -> None:
    demo = make_round(wards=2, voters=2, open_round=False)
    engine = demo.engine
    new = seeded_codes(3, 42)
    with pytest.raises(NotFound) as nf:
        engine.add_invitations([(new[0], "nowhere")])
    assert nf.value.code == "unknown_ward"
    with pytest.raises(InputError) as bad:
        engine.add_invitations([("not-a-code", "bo-de")])
    assert bad.value.code == "bad_code"
    # The same code typed differently is the same roster entry.
    with pytest.raises(Conflict) as dup:
        engine.add_invitations([(format_code(demo.roster[0][0]).lower(), "cu-khoi")])
    assert dup.value.code == "duplicate_code"
    with pytest.raises(Conflict):
        engine.add_invitations([(new[1], "bo-de"), (new[1], "bo-de")])
    assert engine.add_invitations([(new[2], "bo-de")]) == 1
    demo.open()
    assert {w.id: w.eligible for w in engine.manifest.wards} == {"bo-de": 3, "cu-khoi": 2}


def test_open_signs_manifest_and_empty_checkpoint(demo: DemoRound, organizer: SigningKey) -> None:
    manifest = demo.engine.manifest
    assert verify_object(demo.signed, "manifest", organizer.public_key) == manifest.to_json()
    assert demo.engine.signed_manifest() == demo.signed
    assert manifest.wards[0].issuer_key == demo.issuer_keys["bo-de"].public_key
    empty = Checkpoint.parse(demo.engine.checkpoint(), manifest.origin, manifest.log_key)
    assert (empty.size, empty.root) == (0, sha256(b""))


def test_open_refuses_an_invalid_manifest(
    trustee_keys: list[TrusteeKey], organizer: SigningKey, issuer_pool: tuple[IssuerKey, ...]
) -> None:
    # Two wards given the same issuer key: open() must refuse before storing anything,
    # and the round stays a usable draft.
    config, _ = demo_config(wards=2, trustees=trustee_keys, now=NOW)
    shared = {"bo-de": issuer_pool[0], "cu-khoi": issuer_pool[0]}
    store = MemoryStore()
    engine = Round.create(store, config, organizer=organizer, issuer_keys=shared)
    with pytest.raises(ManifestError):
        engine.open()
    assert engine.state == "draft"
    assert store.get_document("manifest") is None
    assert store.latest_checkpoint() is None
    assert Round(store).state == "draft"


def test_round_reloads_from_its_store(demo: DemoRound) -> None:
    receipts = [demo.cast(i)[1] for i in range(3)]
    again = Round(demo.store, clock=demo.clock)
    assert again.mid == demo.engine.mid
    assert again.board.tree.root() == demo.engine.board.tree.root()
    # Two engines on one store take turns: each catches up with the other's appends
    # instead of answering from (or signing checkpoints over) a stale tree.
    p, receipt = demo.cast(3)
    assert again.cast(p.leaf or b"") == receipt
    assert again.board.size == 4
    receipts.append(receipt)
    for i, engine in ((4, again), (5, demo.engine), (6, again)):
        q, leaf = demo.voter(i)
        receipts.append(engine.cast(leaf))
        q.check_receipt(receipts[-1].to_json())
        assert receipts[-1].leaf_index == i
    manifest = again.manifest
    checkpoints = [r.verify(manifest) for r in receipts]
    for older, newer in itertools.pairwise(checkpoints):
        check_consistent(older, newer, again.consistency_proof(older.size, newer.size))
    assert demo.engine.close().tree_size == 7


# --- issuance -----------------------------------------------------------------------------------


def test_issuance_once_per_code(demo: DemoRound) -> None:
    engine = demo.engine
    code, ward = demo.roster[0]
    assert engine.ward_for_code(code) == ward
    p = Participant(demo.signed, ward)
    blinded = p.request_token()
    blind_sig = engine.issue(code, blinded)
    # A retry with the same blinded gets the same answer, however the code is typed.
    assert engine.issue(code, blinded) == blind_sig
    assert engine.issue(format_code(code).lower(), blinded) == blind_sig
    p.finish_token(blind_sig)
    # Another request for the same code is refused.
    other = Participant(demo.signed, ward).request_token()
    with pytest.raises(Conflict) as info:
        engine.issue(code, other)
    assert info.value.code == "code_used"
    issuances = list(demo.store.issuances())
    assert len(issuances) == 1
    assert issuances[0].pseudonym == pseudonym(engine.mid, code)
    assert (issuances[0].blinded, issuances[0].blind_sig) == (blinded, blind_sig)


def test_issuance_unknown_and_bad_codes(demo: DemoRound) -> None:
    blinded = Participant(demo.signed, "bo-de").request_token()
    unknown = seeded_codes(1, 1234)[0]
    with pytest.raises(NotFound) as nf:
        demo.engine.issue(unknown, blinded)
    assert nf.value.code == "unknown_code"
    with pytest.raises(NotFound):
        demo.engine.ward_for_code(unknown)
    with pytest.raises(InputError) as bad:
        demo.engine.issue("1234", blinded)
    assert bad.value.code == "bad_code"
    assert list(demo.store.issuances()) == []


def test_issuance_rejects_bad_blinded(demo: DemoRound) -> None:
    code = demo.roster[0][0]
    n = demo.issuer_keys["bo-de"].public_key.to_cryptography().public_numbers().n
    for blinded in (b"", b"\x01" * 255, n.to_bytes(256, "big"), b"\x00" * 256):
        with pytest.raises(InputError):
            demo.engine.issue(code, blinded)
    assert list(demo.store.issuances()) == []
    demo.participant(0)  # the code is still unused


def test_token_from_the_wrong_ward_key_does_not_finish(demo: DemoRound) -> None:
    # The booth blinds for the ward's key; an answer from another ward's key fails to verify.
    code = demo.roster[0][0]  # a bo-de code
    p = Participant(demo.signed, "cu-khoi")
    # Either the blinded value does not even fit below the other key's modulus (the issuer
    # refuses it), or it is signed and the signature does not verify: no token either way.
    with pytest.raises((InvalidToken, InputError)):
        p.finish_token(demo.engine.issue(code, p.request_token()))


# --- windows ----------------------------------------------------------------------------------


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_windows_are_half_open(make_round: RoundFactory) -> None:
    # A two-phase round: issuance [t0, t1), voting [t1, t2).
    t0, t1, t2 = NOW, NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=2)
    clock = Clock(t0 - dt.timedelta(seconds=1))
    demo = make_round(
        voters=2, clock=clock, windows=(Window(_iso(t0), _iso(t1)), Window(_iso(t1), _iso(t2)))
    )
    engine = demo.engine
    code, ward = demo.roster[0]
    p = Participant(demo.signed, ward)
    with pytest.raises(StateError) as early:
        engine.issue(code, p.request_token())
    assert early.value.code == "outside_window"
    clock.now = t0
    p.finish_token(engine.issue(code, p.request_token()))
    leaf = p.make_leaf(demo.answers(ward))
    with pytest.raises(StateError) as not_yet:
        engine.cast(leaf)
    assert not_yet.value.code == "outside_window"
    clock.now = t1
    with pytest.raises(StateError) as late:
        engine.issue(demo.roster[1][0], Participant(demo.signed, ward).request_token())
    assert late.value.code == "outside_window"
    receipt = engine.cast(leaf)
    clock.now = t2 - dt.timedelta(microseconds=1)
    assert engine.cast(leaf) == receipt
    clock.now = t2
    with pytest.raises(StateError) as closed:
        engine.cast(leaf)
    assert closed.value.code == "outside_window"
    # The organizer closes after the window; nothing was stored by the refused requests.
    engine.close()
    assert engine.close_statement().issued == {"bo-de": 1, "cu-khoi": 0}
    assert engine.close_statement().tree_size == 1


# --- casting: every check, in order -----------------------------------------------------------


def test_cast_checks_in_order(demo: DemoRound, foreign_issuer: IssuerKey) -> None:
    engine = demo.engine
    p, leaf = demo.voter(0)
    assert p.voter_key is not None
    assert p.token is not None
    value = obj(parse_json(leaf))
    key = p.voter_key

    def refused(data: bytes, error: type[AnonBallotError], code: str) -> None:
        with pytest.raises(error) as info:
            engine.cast(data)
        assert info.value.code == code, info.value.detail
        assert demo.store.leaf_count() == 0

    # 1. It parses, canonical, with the exact structure.
    refused(b"not json", EncodingError, "bad_leaf")
    refused(leaf.replace(b'"v":1', b'"v": 1'), EncodingError, "bad_leaf")
    refused(leaf + b"\n", EncodingError, "bad_leaf")
    refused(resign({**value, "v": 2}, key), EncodingError, "bad_leaf")
    refused(resign({**value, "extra": 1}, key), EncodingError, "bad_leaf")
    short = {**value["ballot"], "shares": value["ballot"]["shares"][:2]}
    refused(resign({**value, "ballot": short}, key), EncodingError, "bad_leaf")
    big_ct = {**value["ballot"], "ct": b64u_encode(b"\x00" * 65537)}
    # a ct above 64 KiB makes a leaf above the cap of 65,535 bytes (protocol section 6.3)
    refused(resign({**value, "ballot": big_ct}, key), EncodingError, "leaf_too_large")
    # 2. This round (checked before the token and the signature).
    other_mid = ("y" if value["round"][0] == "x" else "x") + value["round"][1:]  # always another
    refused(resign({**value, "round": other_mid}, key), EncodingError, "wrong_round")
    refused(jcs({**value, "round": "other"}), EncodingError, "wrong_round")
    # 3. A ward of the manifest.
    refused(resign({**value, "ward": "nowhere"}, key), EncodingError, "unknown_ward")
    # 4. The token verifies under the leaf's ward key: not for another ward, not foreign.
    refused(resign({**value, "ward": "cu-khoi"}, key), InvalidToken, "bad_token")
    forged = foreign_issuer.sign_token_directly(p.token.msg)
    refused(resign({**value, "token": forged.to_json()}, key), InvalidToken, "bad_token")
    other_token = demo.participant(4).token  # a cu-khoi token
    assert other_token is not None
    # A token that is valid, but not for the leaf's ward, and a bad signature: the token wins.
    refused(jcs({**value, "token": other_token.to_json()}), InvalidToken, "bad_token")
    # 5. voter_sig verifies under the key in the token.
    refused(resign(value, SigningKey.generate()), InvalidSignature, "bad_voter_signature")
    refused(jcs({**value, "v": 1, "voter_sig": b64u_encode(bytes(64))}), InvalidSignature,
            "bad_voter_signature")  # fmt: skip

    receipt = engine.cast(leaf)
    assert receipt.leaf_index == 0
    # 6. The identical leaf again: the same receipt; another leaf with the token: 409.
    assert engine.cast(leaf) == receipt
    sealed = p.seal(jcs(p.ballot(demo.answers("bo-de", seed=99))))
    second = build_leaf(engine.mid, "bo-de", p.token, sealed, key)
    assert second != leaf
    with pytest.raises(Conflict) as spent:
        engine.cast(second)
    assert spent.value.code == "token_spent"
    assert demo.store.leaf_count() == 1


def test_cast_stores_exactly_the_leaf(demo: DemoRound) -> None:
    p, receipt = demo.cast(0)
    assert list(demo.store.leaves(0, 1)) == [p.leaf]
    assert receipt.leaf_hash == leaf_hash(p.leaf or b"")
    assert p.token is not None
    assert demo.store.spent_index(p.token.voter_public_key.to_bytes()) == 0


# --- receipts and checkpoints -------------------------------------------------------------------


def test_receipts_stay_valid(make_round: RoundFactory) -> None:
    demo = make_round(wards=2, voters=5)
    engine = demo.engine
    manifest = engine.manifest
    seen: list[tuple[bytes, Receipt, Checkpoint]] = []
    for i in range(len(demo.roster)):
        p, receipt = demo.cast(i)
        leaf = p.leaf or b""
        checkpoint = receipt.verify(manifest, leaf)
        assert checkpoint.size == receipt.leaf_index + 1 == i + 1
        assert Receipt.from_json(parse_json(jcs(receipt.to_json()))) == receipt
        assert len(receipt.code) == 24
        assert receipt.code.replace("-", "") == receipt.leaf_hash.hex()[:20]
        seen.append((leaf, receipt, checkpoint))
        latest = Checkpoint.parse(engine.checkpoint(), manifest.origin, manifest.log_key)
        assert latest == checkpoint
        for old_leaf, old, old_cp in seen:
            # The receipt still verifies on its own, against its own checkpoint...
            assert old.verify(manifest, old_leaf) == old_cp
            # ...its checkpoint is consistent with the latest...
            check_consistent(old_cp, latest, engine.consistency_proof(old_cp.size, latest.size))
            # ...and the leaf is in the latest tree too.
            proof = engine.inclusion_proof(old.leaf_index, latest.size)
            verify_inclusion(old.leaf_hash, old.leaf_index, latest.size, proof, latest.root)
        # Every stored checkpoint is the one signed for its size.
        assert demo.store.checkpoint_at(i + 1) == receipt.checkpoint
    # Every pair of checkpoints handed out is consistent, the empty tree's included.
    empty = Checkpoint.parse(demo.store.checkpoint_at(0) or "", manifest.origin, manifest.log_key)
    checkpoints = [empty] + [cp for _, _, cp in seen]
    for i, older in enumerate(checkpoints):
        for newer in checkpoints[i:]:
            # RFC 9162 has no proof from the empty tree: every tree extends it.
            proof = engine.consistency_proof(older.size, newer.size) if older.size else []
            check_consistent(older, newer, proof)
    # A receipt does not verify for another leaf.
    with pytest.raises(AnonBallotError):
        seen[0][1].verify(manifest, seen[1][0])


# --- close ------------------------------------------------------------------------------------


def test_close(demo: DemoRound, organizer: SigningKey) -> None:
    engine = demo.engine
    demo.cast(0)
    demo.cast(5)
    demo.participant(1)  # a token that is never used
    _, late_leaf = demo.voter(2)
    closed = engine.close()
    signed = parse_json(engine.store.get_document("close") or b"")
    statement = verify_object(signed, "close", organizer.public_key)
    assert statement == closed.to_json() == engine.close_statement().to_json()
    final = Checkpoint.parse(engine.checkpoint(), engine.manifest.origin, engine.manifest.log_key)
    assert statement["tree_size"] == final.size == 2
    assert b64u_decode(statement["root"]) == final.root
    assert statement["issued"] == {"bo-de": 3, "cu-khoi": 1}
    ledger_bytes = demo.store.get_document("issuance")
    assert ledger_bytes is not None
    assert statement["issuance_ledger"] == b64u_encode(sha256(ledger_bytes))
    ledger = parse_json(ledger_bytes)
    assert ledger == {
        "round": engine.mid,
        "wards": {
            "bo-de": sorted(pseudonym(engine.mid, demo.roster[i][0]) for i in (0, 1, 2)),
            "cu-khoi": [pseudonym(engine.mid, demo.roster[5][0])],
        },
    }
    assert jcs(ledger) == ledger_bytes
    # No leaf after close, not even one with a token issued before.
    with pytest.raises(StateError):
        engine.cast(late_leaf)
    assert demo.store.leaf_count() == 2


def test_close_empty_round(demo: DemoRound) -> None:
    results = demo.finish()
    assert results["tree_size"] == 0
    assert results["root"] == b64u_encode(sha256(b""))
    assert results["district"]["ballots"] == 0
    assert all(w["issued"] == 0 and w["ballots"] == 0 for w in results["wards"].values())


# --- releases and the tally ---------------------------------------------------------------------


def test_releases(demo: DemoRound, trustee_keys: list[TrusteeKey]) -> None:
    engine = demo.engine
    demo.cast(0)
    engine.close()
    mid = engine.mid
    good = trustee_keys[0].release(mid)

    tampered = {**good, "signature": b64u_encode(bytes(64))}
    with pytest.raises(InvalidSignature):
        engine.add_release(tampered)
    signed_by_other: dict[str, Any] = trustee_keys[1].release(mid)
    signed_by_other["release"] = {**signed_by_other["release"], "trustee": "tuyen-giao"}
    with pytest.raises(InvalidSignature):
        engine.add_release(signed_by_other)
    with pytest.raises(InputError) as wrong:
        engine.add_release(trustee_keys[0].release("another-round"))
    assert wrong.value.code == "wrong_round"
    # A properly signed release of a key that does not derive the manifest's hpke_key.
    impostor = TrusteeKey(
        "tuyen-giao", TrusteeKey.generate("x").hpke_private, trustee_keys[0].signing
    )
    with pytest.raises(InvalidSignature) as key_error:
        engine.add_release(impostor.release(mid))
    assert key_error.value.code == "bad_release_key"
    unknown = TrusteeKey.generate("nobody")
    with pytest.raises(NotFound):
        engine.add_release(unknown.release(mid))
    for malformed in (None, {}, {"release": good["release"]}, {"release": {"round": mid}}):
        with pytest.raises(EncodingError):
            engine.add_release(malformed)
    assert engine.releases() == {}

    assert engine.add_release(good) == "tuyen-giao"
    assert engine.add_release(good) == "tuyen-giao"  # filing it again changes nothing
    assert engine.releases() == {"tuyen-giao": good}


def test_tally_needs_the_threshold(make_round: RoundFactory) -> None:
    demo = make_round(wards=2, voters=2)
    for i in range(4):
        demo.cast(i)
    demo.engine.close()
    demo.release(1)
    with pytest.raises(StateError) as info:
        demo.engine.tally()
    assert info.value.code == "not_enough_releases"
    demo.engine.add_release(demo.trustees[2].release(demo.engine.mid))
    results: dict[str, Any] = demo.engine.tally().to_json()
    assert results["trustees"] == ["tuyen-giao", "kiem-tra"]
    assert results["district"]["ballots"] == 4
    assert results["invalid"] == []


def test_tally_is_a_plain_count(make_round: RoundFactory, organizer: SigningKey) -> None:
    demo = make_round(wards=2, voters=3)
    manifest = demo.manifest
    expected: dict[str, dict[str, int]] = {}
    for i, (_, ward) in enumerate(demo.roster):
        p = demo.participant(i)
        answers = demo.answers(ward, seed=i)
        leaf = p.make_leaf(answers)
        demo.engine.cast(leaf)
        for answer in answers.values():
            for criterion, level in answer["ratings"].items():
                counts = expected.setdefault(
                    criterion, dict.fromkeys(manifest.questionnaire.answer_ids, 0)
                )
                counts[level] += 1
    signed = demo.engine.close()
    assert signed
    demo.release(3)
    tallied = demo.engine.tally()
    results = obj(
        verify_object(
            parse_json(demo.store.get_document("results") or b""), "results", organizer.public_key
        )
    )
    assert results == tallied.to_json() == demo.engine.results().to_json()
    assert results["district"]["criteria"] == expected
    assert results["trustees"] == ["tuyen-giao", "to-chuc", "kiem-tra"]
    assert results["wards"]["bo-de"] == {
        "eligible": 3, "issued": 3, "ballots": 3, "valid": 3, "invalid": 0
    }  # fmt: skip


def test_invalid_ballots_are_counted_as_cast(demo: DemoRound) -> None:
    p = demo.participant(0)
    assert p.token is not None
    assert p.voter_key is not None
    other_ward = jcs({"v": 1, "ward": "cu-khoi", "answers": {}})
    leaf = build_leaf(demo.engine.mid, "bo-de", p.token, p.seal(other_ward), p.voter_key)
    demo.engine.cast(leaf)
    demo.cast(1)
    results = demo.finish()
    assert results["invalid"] == [{"leaf_index": 0, "reason": "wrong_ward"}]
    assert results["wards"]["bo-de"] == {
        "eligible": 4, "issued": 2, "ballots": 2, "valid": 1, "invalid": 1
    }  # fmt: skip


# --- a store that fails ---------------------------------------------------------------------------


class FlakyStore(MemoryStore):
    """A MemoryStore whose next append fails when told to."""

    fail_next = False

    def append_leaves(self, entries: list[tuple[bytes, bytes]], checkpoint: str) -> int:
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        return super().append_leaves(entries, checkpoint)


def test_failed_append_leaves_the_engine_consistent(make_round: RoundFactory) -> None:
    store = FlakyStore()
    demo = make_round(store=store)
    engine = demo.engine
    first = demo.cast(0)[1]
    p, leaf = demo.voter(1)
    store.fail_next = True
    with pytest.raises(OSError, match="disk full"):
        engine.cast(leaf)
    # The tree was rebuilt from the store: same size and root as before the failed cast.
    assert engine.board.size == store.leaf_count() == 1
    assert engine.board.tree.root() == Round(store).board.tree.root()
    assert p.token is not None
    assert store.spent_index(p.token.voter_public_key.to_bytes()) is None
    # The same leaf can be cast again, and the next casts are fine.
    receipt = engine.cast(leaf)
    assert receipt.leaf_index == 1
    p.check_receipt(receipt.to_json())
    third = demo.cast(2)[1]
    for r in (first, receipt, third):
        r.verify(engine.manifest)
    assert third.leaf_index == 2
    results = demo.finish()
    assert results["district"]["ballots"] == 3


# --- concurrency ----------------------------------------------------------------------------------


def _race(count: int, action: Callable[[int], object]) -> list[object]:
    """Run ``action(i)`` in ``count`` threads started together; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except AnonBallotError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("threads", [2, 20])
def test_identical_leaf_cast_concurrently(demo: DemoRound, threads: int) -> None:
    _, leaf = demo.voter(0)
    results = _race(threads, lambda i: demo.engine.cast(leaf))
    assert all(isinstance(r, Receipt) for r in results)
    assert len({jcs(r.to_json()) for r in results if isinstance(r, Receipt)}) == 1
    assert demo.store.leaf_count() == 1


@pytest.mark.parametrize("threads", [2, 20])
def test_same_token_cast_concurrently(demo: DemoRound, threads: int) -> None:
    p = demo.participant(0)
    assert p.token is not None
    assert p.voter_key is not None
    token, key = p.token, p.voter_key
    leaves = [
        build_leaf(
            demo.engine.mid, "bo-de", token, p.seal(jcs(p.ballot(demo.answers("bo-de", i)))), key
        )
        for i in range(threads)
    ]
    # Half the threads send leaf 0, the others each their own leaf with the same token.
    chosen = [leaves[0] if i % 2 == 0 else leaves[i] for i in range(threads)]
    results = _race(threads, lambda i: demo.engine.cast(chosen[i]))
    assert demo.store.leaf_count() == 1
    stored = next(demo.store.leaves(0, 1))
    for leaf, result in zip(chosen, results, strict=True):
        if leaf == stored:
            assert isinstance(result, Receipt)
            assert result.leaf_index == 0
        else:
            assert isinstance(result, Conflict)
            assert result.code == "token_spent"


def test_issuance_concurrently_same_blinded(demo: DemoRound) -> None:
    code, ward = demo.roster[0]
    p = Participant(demo.signed, ward)
    blinded = p.request_token()
    results = _race(20, lambda i: demo.engine.issue(code, blinded))
    assert all(isinstance(r, bytes) for r in results)
    assert len(set(results)) == 1
    assert len(list(demo.store.issuances())) == 1
    p.finish_token(results[0])  # type: ignore[arg-type]


def test_issuance_concurrently_different_blinded(demo: DemoRound) -> None:
    code, ward = demo.roster[0]
    key = demo.manifest.issuer_key(ward)
    requests = [TokenRequest.create(key, SigningKey.generate().public_key) for _ in range(20)]
    results = _race(20, lambda i: demo.engine.issue(code, requests[i].blinded))
    winners = [i for i, r in enumerate(results) if isinstance(r, bytes)]
    assert len(winners) == 1
    for r in results:
        if not isinstance(r, bytes):
            assert isinstance(r, Conflict)
            assert r.code == "code_used"
    (issuance,) = demo.store.issuances()
    assert issuance.blinded == requests[winners[0]].blinded
    blind_sig = results[winners[0]]
    assert isinstance(blind_sig, bytes)
    requests[winners[0]].finalize(blind_sig)


class _SlowIssuer:
    """Wraps an IssuerKey: signing waits until told to go (to race issue() with close())."""

    def __init__(self, key: IssuerKey) -> None:
        self.key = key
        self.signing = threading.Event()
        self.go = threading.Event()

    def sign_blinded(self, blinded: bytes) -> bytes:
        self.signing.set()
        self.go.wait(10)
        return self.key.sign_blinded(blinded)


def test_issuance_racing_close_is_refused(demo: DemoRound) -> None:
    engine = demo.engine
    code, ward = demo.roster[0]
    slow = _SlowIssuer(demo.issuer_keys[ward])
    engine._issuers[ward] = slow  # type: ignore[assignment]
    blinded = Participant(demo.signed, ward).request_token()
    outcome: list[object] = []

    def issue() -> None:
        try:
            outcome.append(engine.issue(code, blinded))
        except AnonBallotError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=issue)
    thread.start()
    assert slow.signing.wait(10)
    engine.close()  # while the issuer is signing
    slow.go.set()
    thread.join()
    # The token is not handed out, and the ledger signed at close stays complete.
    assert isinstance(outcome[0], StateError)
    assert list(demo.store.issuances()) == []
    assert engine.close_statement().issued == {"bo-de": 0, "cu-khoi": 0}


def test_all_answers_helper_is_valid(demo: DemoRound) -> None:
    p = demo.participant(0)
    p.make_leaf(all_answers(demo.manifest, "bo-de", "tot"))
    demo.engine.cast(p.leaf or b"")


# --- group commit -------------------------------------------------------------------------


def test_cast_many_commits_a_group_under_one_checkpoint(make_round: RoundFactory) -> None:
    demo = make_round()
    engine = demo.engine
    voters = [demo.voter(i) for i in range(3)]
    other_p, _ = voters[0]
    assert other_p.token is not None
    assert other_p.voter_key is not None
    sealed = other_p.seal(jcs(other_p.ballot(demo.answers(other_p.ward, 99))))
    double_spend = build_leaf(engine.mid, other_p.ward, other_p.token, sealed, other_p.voter_key)
    leaves = [leaf for _, leaf in voters]
    answers = engine.cast_many([*leaves, leaves[1], double_spend, b"not a leaf"])
    receipts = answers[:3]
    assert all(isinstance(r, Receipt) for r in receipts)
    # one checkpoint covers the whole group, and every receipt verifies against it
    notes = {r.checkpoint for r in receipts if isinstance(r, Receipt)}
    assert len(notes) == 1
    for (p, leaf), receipt in zip(voters, receipts, strict=True):
        assert isinstance(receipt, Receipt)
        assert receipt.verify(engine.manifest, leaf).size == 3
        p.check_receipt(receipt.to_json())
    assert answers[3] == receipts[1]  # the identical leaf twice in one group: one receipt
    assert isinstance(answers[4], Conflict)
    assert answers[4].code == "token_spent"
    assert isinstance(answers[5], EncodingError)
    assert answers[5].code == "bad_leaf"
    assert engine.store.leaf_count() == 3


def test_resubmission_gets_the_very_same_receipt(make_round: RoundFactory) -> None:
    # Protocol section 6.4: the identical leaf again gets the same receipt, byte for byte,
    # also when it was not the last of its group and ballots came after it.
    demo = make_round()
    engine = demo.engine
    (_, first), (_, second), (_, later) = (demo.voter(i) for i in range(3))
    receipts = engine.cast_many([first, second])
    engine.cast(later)
    for leaf, receipt in zip((first, second), receipts, strict=True):
        assert isinstance(receipt, Receipt)
        assert engine.cast(leaf) == receipt
        assert engine.cast_many([leaf])[0] == receipt
