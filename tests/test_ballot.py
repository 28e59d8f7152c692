"""Plaintext ballots (anonballot.ballot; protocol sections 6.1 and 7.3, steps 5 to 7)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from conftest import RoundFactory, all_answers

from anonballot.ballot import make_ballot, validate_ballot
from anonballot.encoding import jcs
from anonballot.errors import BallotContentError, OpenError
from anonballot.manifest import Manifest
from anonballot.opening import classify_plaintext

WARD = "bo-de"
OTHER = "cu-khoi"
SUBJECT = "bo-de-secretary"
CRITERION = "dao-duc-loi-song"


@pytest.fixture(scope="module")
def manifest(make_round: RoundFactory) -> Manifest:
    return make_round(wards=2, voters=1).manifest


@pytest.fixture
def ballot(manifest: Manifest) -> dict[str, Any]:
    """A valid ballot of WARD with one comment."""
    b: dict[str, Any] = make_ballot(WARD, all_answers(manifest, WARD, "kha"))
    b["answers"][SUBJECT]["comments"]["uu-diem"] = "Gần dân, giải quyết công việc kịp thời."
    b["answers"][SUBJECT]["ratings"][CRITERION] = "khong-danh-gia"
    return b


Edit = Callable[[dict[str, Any]], object]


def _answer(b: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = b["answers"][SUBJECT]
    return answer


INVALID: dict[str, Edit] = {
    "missing-v": lambda b: b.pop("v"),
    "extra-key": lambda b: b.update(extra=1),
    "v-2": lambda b: b.update(v=2),
    "v-true": lambda b: b.update(v=True),
    "v-string": lambda b: b.update(v="1"),
    "answers-not-object": lambda b: b.update(answers=[]),
    "missing-subject": lambda b: b["answers"].pop(SUBJECT),
    "subject-of-another-ward": lambda b: b["answers"].update({"cu-khoi-chairman": {}}),
    "unknown-subject": lambda b: b["answers"].update({"nobody": _answer(b)}),
    "answer-not-object": lambda b: b["answers"].update({SUBJECT: "tot"}),
    "answer-extra-key": lambda b: _answer(b).update(note="x"),
    "answer-without-comments": lambda b: _answer(b).pop("comments"),
    "ratings-not-object": lambda b: _answer(b).update(ratings=["tot"]),
    "missing-criterion": lambda b: _answer(b)["ratings"].pop(CRITERION),
    "extra-criterion": lambda b: _answer(b)["ratings"].update(khac="tot"),
    "bad-level": lambda b: _answer(b)["ratings"].update({CRITERION: "xuat-sac"}),
    "level-not-text": lambda b: _answer(b)["ratings"].update({CRITERION: 1}),
    "level-null": lambda b: _answer(b)["ratings"].update({CRITERION: None}),
    "comments-not-object": lambda b: _answer(b).update(comments="text"),
    "unknown-comment-field": lambda b: _answer(b)["comments"].update(khac="x"),
    "comment-not-text": lambda b: _answer(b)["comments"].update({"uu-diem": 5}),
    "comment-not-nfc": lambda b: _answer(b)["comments"].update({"uu-diem": "To\u0302\u0301t"}),
    "comment-too-long": lambda b: _answer(b)["comments"].update({"uu-diem": "ố" * 2001}),
}


def test_valid_ballot(manifest: Manifest, ballot: dict[str, Any]) -> None:
    assert validate_ballot(ballot, manifest, WARD) is ballot
    # Comments may be empty, and may be exactly max_chars code points (not bytes) long.
    for answer in ballot["answers"].values():
        answer["comments"] = {}
    validate_ballot(ballot, manifest, WARD)
    _answer(ballot)["comments"] = {f.id: "ố" * f.max_chars for f in manifest.questionnaire.comments}
    validate_ballot(ballot, manifest, WARD)


@pytest.mark.parametrize("edit", INVALID.values(), ids=INVALID.keys())
def test_validate_rejects(manifest: Manifest, ballot: dict[str, Any], edit: Edit) -> None:
    edit(ballot)
    with pytest.raises(BallotContentError):
        validate_ballot(ballot, manifest, WARD)


def test_validate_rejects_other_ward_and_non_objects(
    manifest: Manifest, ballot: dict[str, Any]
) -> None:
    with pytest.raises(BallotContentError):
        validate_ballot(ballot, manifest, OTHER)
    values: list[object] = [None, [], "ballot", 1]
    for value in values:
        with pytest.raises(BallotContentError):
            validate_ballot(value, manifest, WARD)


def test_abstain_only_when_the_questionnaire_has_one(
    manifest: Manifest, ballot: dict[str, Any]
) -> None:
    m: dict[str, Any] = manifest.to_json()
    m["questionnaire"]["abstain"] = None
    without = Manifest.from_json(m)
    with pytest.raises(BallotContentError):
        validate_ballot(ballot, without, WARD)
    _answer(ballot)["ratings"][CRITERION] = "tot"
    validate_ballot(ballot, without, WARD)


def test_make_ballot_drops_blank_comments(manifest: Manifest) -> None:
    answers = all_answers(manifest, WARD, "tot")
    answers[SUBJECT]["comments"] = {"uu-diem": "  \n", "de-xuat-kien-nghi": " Có "}
    b = make_ballot(WARD, answers)
    assert _answer(b)["comments"] == {"de-xuat-kien-nghi": " Có "}
    assert b["v"] == 1
    assert b["ward"] == WARD
    validate_ballot(b, manifest, WARD)


def test_make_ballot_passes_malformed_answers_to_validation(manifest: Manifest) -> None:
    broken_answers: list[object] = [
        {"ratings": {}},  # no comments: filled in as {}, but ratings miss every criterion
        {"comments": {}},  # no ratings
        {"ratings": "tot", "comments": {}},
        {"ratings": {}, "comments": {"uu-diem": 5}},
        "tot",
    ]
    for broken in broken_answers:
        answers: dict[str, Any] = all_answers(manifest, WARD, "tot")
        answers[SUBJECT] = broken
        with pytest.raises(BallotContentError):
            validate_ballot(make_ballot(WARD, answers), manifest, WARD)


# --- classify_plaintext: protocol 7.3 steps 5, 6, 7 -----------------------------------------


def test_classify_valid(manifest: Manifest, ballot: dict[str, Any]) -> None:
    assert classify_plaintext(jcs(ballot), manifest, WARD) == ballot


def _reason(plaintext: bytes, manifest: Manifest, ward: str = WARD) -> str:
    with pytest.raises(OpenError) as info:
        classify_plaintext(plaintext, manifest, ward)
    return info.value.code


def test_not_canonical(manifest: Manifest, ballot: dict[str, Any]) -> None:
    good = jcs(ballot)
    cases = {
        "not-json": b"not json",
        "empty": b"",
        "not-utf8": b"\xff" + good,
        "float": good.replace(b'"v":1', b'"v":1.0'),
        "exponent": good.replace(b'"v":1', b'"v":1e0'),
        "duplicate-key": good.replace(b'{"answers"', b'{"v":1,"answers"', 1),
        "spacing": good.replace(b'"v":1', b'"v": 1'),
        "trailing-newline": good + b"\n",
        "member-order": good.replace(b'"v":1,"ward":"bo-de"', b'"ward":"bo-de","v":1'),
        "escaped-ascii": good.replace(b'"ward":"bo-de"', b'"ward":"\\u0062o-de"'),
        "not-nfc": good.replace("Gần".encode(), "Ga\u0302\u0300n".encode()),
        "big-int": good.replace(b'"v":1', b'"v":9007199254740992'),
        "huge-int": good.replace(b'"v":1', b'"v":' + b"1" * 5000),
        "lone-surrogate": good.replace(b'"ward":"bo-de"', b'"ward":"\\ud800"'),
    }
    for name, plaintext in cases.items():
        assert plaintext != good, name
        assert _reason(plaintext, manifest) == "not_canonical", name


def test_wrong_ward(manifest: Manifest, ballot: dict[str, Any]) -> None:
    # A valid ballot of another ward, opened as a leaf of WARD.
    other = make_ballot(OTHER, all_answers(manifest, OTHER, "tot"))
    assert _reason(jcs(other), manifest) == "wrong_ward"
    assert _reason(jcs(ballot), manifest, OTHER) == "wrong_ward"
    # Any object whose "ward" member differs, whatever else it holds.
    assert _reason(jcs({"ward": OTHER}), manifest) == "wrong_ward"
    assert _reason(jcs({"ward": 5, "x": []}), manifest) == "wrong_ward"


@pytest.mark.parametrize(
    "edit",
    [
        INVALID["missing-criterion"],
        INVALID["bad-level"],
        INVALID["extra-key"],
        INVALID["answer-extra-key"],
        INVALID["comment-too-long"],
        INVALID["unknown-comment-field"],
        INVALID["missing-subject"],
        INVALID["v-2"],
        INVALID["missing-v"],
    ],
    ids=[
        "missing-criterion",
        "bad-level",
        "extra-key",
        "answer-extra-key",
        "comment-too-long",
        "unknown-comment-field",
        "missing-subject",
        "v-2",
        "missing-v",
    ],
)
def test_invalid_content(manifest: Manifest, ballot: dict[str, Any], edit: Edit) -> None:
    changed = copy.deepcopy(ballot)
    edit(changed)
    assert _reason(jcs(changed), manifest) == "invalid_content"


def test_invalid_content_without_ward_or_object(manifest: Manifest) -> None:
    values: list[object] = [[], "ballot", 1, None, {}, {"v": 1, "answers": {}}]
    for value in values:
        assert _reason(jcs(value), manifest) == "invalid_content"
