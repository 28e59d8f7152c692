"""The cap on a leaf's size, 65,535 bytes (protocol sections 4.2, 6.3 and 6.4): exact sizes
before sealing, the worst case of a manifest, refusals by the library, the engine and the
command line, and records made before the cap, which still audit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _live import demo_office, server_thread
from click.testing import CliRunner
from conftest import RoundFactory

from anonballot import engine as engine_module
from anonballot import questionnaire as questionnaire_module
from anonballot.audit import audit_record
from anonballot.cli.main import main as cli_main
from anonballot.encoding import JSONValue, b64u_encode, jcs
from anonballot.errors import BallotContentError, EncodingError, ManifestError
from anonballot.leaf import (
    MAX_LEAF_SIZE,
    WORST_BYTES_PER_CHARACTER,
    check_leaves_fit,
    leaf_size,
    parse_leaf,
    worst_case_ballot_size,
    worst_case_leaf_size,
)
from anonballot.participant import Participant
from anonballot.questionnaire import default_questionnaire
from anonballot.record import write_record
from anonballot.testing import demo_config, long_bien_district

LARGEST = ["thuong-thanh-secretary", "thuong-thanh-chairman"]
"""The people rated of the demo ward with the longest ids: the largest demo ward's ballot."""


@pytest.fixture
def before_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rounds made as before the cap: the default form's 2,000 characters a field, and no
    check of the worst case when a round is created and opened."""
    monkeypatch.setattr(questionnaire_module, "MAX_COMMENT", 2000)
    monkeypatch.setattr(engine_module, "_check_leaves_fit", lambda *args: None)


def _answers(p: Participant, text: str) -> dict[str, Any]:
    """Every rating the first level, every comment field ``text``."""
    q = p.manifest.questionnaire
    return {
        s.id: {
            "ratings": {c.id: q.answer_ids[0] for c in q.criteria},
            "comments": {c.id: text for c in q.comments},
        }
        for s in p.manifest.subjects_of(p.ward)
    }


def _unchecked_leaf(p: Participant, answers: dict[str, Any]) -> bytes:
    """The leaf of ``answers`` as a client from before the cap made it (no size check)."""
    assert p.token is not None
    assert p.voter_key is not None
    plaintext = jcs({"v": 1, "ward": p.ward, "answers": answers})  # valid: the tally says
    sealed = p.seal(plaintext)
    unsigned: dict[str, JSONValue] = {
        "v": 1, "round": p.manifest.mid, "ward": p.ward, "token": p.token.to_json(),
        "ballot": sealed.to_json(),
    }  # fmt: skip
    unsigned["voter_sig"] = b64u_encode(p.voter_key.sign(jcs(unsigned)))
    return jcs(unsigned)


# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "Gần dân.", "ệ" * 700, "😀" * 300, '\u0001\n"\\' * 90])
def test_leaf_size_is_exact_before_sealing(make_round: RoundFactory, text: str) -> None:
    demo = make_round(wards=1, voters=1)
    p = demo.participant(0)
    answers = _answers(p, text)
    plaintext = jcs(p.ballot(answers))
    expected = leaf_size(
        ward=p.ward,
        trustees=len(p.manifest.trustees),
        plaintext_size=len(plaintext),
        sig_size=p.manifest.issuer_key(p.ward).modulus_bytes,
    )
    assert len(p.make_leaf(answers)) == expected


def test_the_worst_case_is_reached_by_control_characters() -> None:
    config, _ = demo_config(wards=1)
    q = config.questionnaire
    ward = config.district.wards[0].id
    subjects = [s.id for s in config.district.subjects if s.ward == ward]
    longest = max(q.answer_ids, key=len)
    worst = {
        "v": 1,
        "ward": ward,
        "answers": {
            s: {
                "ratings": {c.id: longest for c in q.criteria},
                "comments": {c.id: "\u0001" * c.max_chars for c in q.comments},
            }
            for s in subjects
        },
    }
    assert len(jcs(worst)) == worst_case_ballot_size(q, ward, subjects)  # the bound is exact
    assert len(jcs("\u0001")) - 2 == WORST_BYTES_PER_CHARACTER


def test_the_default_form_fits_the_largest_demo_ward_with_room() -> None:
    q = default_questionnaire()
    assert [c.max_chars for c in q.comments] == [1000, 1000, 1000]
    for trustees in (3, 7):
        size = worst_case_leaf_size(q, "thuong-thanh", LARGEST, trustees=trustees, sig_size=512)
        assert size <= MAX_LEAF_SIZE - 10_000, size
    district = long_bien_district()
    wards = {w.id: [s.id for s in district.subjects if s.ward == w.id] for w in district.wards}
    check_leaves_fit(q, wards, trustees=3, sig_sizes=dict.fromkeys(wards, 512))


def test_a_form_too_long_for_a_leaf_is_refused_with_what_fits() -> None:
    q = default_questionnaire()
    fields = tuple(dataclasses.replace(c, max_chars=2000) for c in q.comments)
    long_form = dataclasses.replace(q, comments=fields)
    with pytest.raises(ManifestError) as caught:
        check_leaves_fit(
            long_form, {"thuong-thanh": LARGEST}, trustees=3, sig_sizes={"thuong-thanh": 512}
        )
    detail = caught.value.detail
    assert detail.startswith("ward thuong-thanh: a ballot with every comment at its longest")
    fits = int(detail.rsplit("at most ", 1)[1].split()[0].replace(",", ""))
    for n, ok in ((fits, True), (fits + 1, False)):
        capped = dataclasses.replace(
            q, comments=tuple(dataclasses.replace(c, max_chars=n) for c in q.comments)
        )
        size = worst_case_leaf_size(capped, "thuong-thanh", LARGEST, trustees=3, sig_size=512)
        assert (size <= MAX_LEAF_SIZE) is ok


def test_the_engine_refuses_to_create_a_round_whose_ballots_may_not_fit(
    make_round: RoundFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(questionnaire_module, "MAX_COMMENT", 2000)
    with pytest.raises(ManifestError) as caught:
        make_round(wards=1, voters=1)
    assert caught.value.code == "bad_manifest"
    assert "lower the comment fields' max_chars to at most" in caught.value.detail


# -- refusals and old records -----------------------------------------------------------------


def test_a_ballot_too_long_is_refused_before_sealing(
    make_round: RoundFactory, before_the_cap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = make_round(wards=1, voters=1)
    p = demo.participant(0)
    sealed: list[bytes] = []
    monkeypatch.setattr(p, "seal", lambda plaintext, **kw: sealed.append(plaintext))
    with pytest.raises(BallotContentError) as caught:
        p.make_leaf(_answers(p, "😀" * 2000))  # valid for the form, too long for a leaf
    assert caught.value.code == "ballot_too_large"
    assert "shorten the comments" in caught.value.detail
    assert sealed == []
    assert p.leaf is None


def test_an_old_leaf_above_the_cap_is_refused_by_a_cast_but_audits(
    make_round: RoundFactory, before_the_cap: None, tmp_path: Path
) -> None:
    demo = make_round(wards=1, voters=2)
    p = demo.participant(0)
    big = _unchecked_leaf(p, _answers(p, "😀" * 2000))
    assert len(big) > MAX_LEAF_SIZE
    with pytest.raises(EncodingError) as caught:
        demo.engine.cast(big)
    assert caught.value.code == "leaf_too_large"
    # A board from before the cap: the engine then appended it after its checks.
    parsed = parse_leaf(big, demo.manifest)  # reading a board applies no cap
    parsed.verify_token(demo.manifest)
    parsed.verify_voter_sig()
    demo.engine.commit([parsed])
    demo.cast(1)
    results = demo.finish()
    assert results["wards"][p.ward]["valid"] == 2  # the large ballot is valid and counted
    record = tmp_path / "record"
    engine = demo.engine
    write_record(record, demo.config.round_id, engine.record_files(), engine.board_leaves())
    report = audit_record(record, workers=1)
    assert report.passed, report.checks


def test_a_cast_above_the_cap_is_a_clear_400(tmp_path: Path, before_the_cap: None) -> None:
    office = demo_office(tmp_path / "data", wards=1, voters=1)
    with server_thread(office.data) as url:
        base = f"{url}/api/rounds/{office.round_id}"
        answer = httpx.post(f"{base}/ballots", content=b"{" + b" " * MAX_LEAF_SIZE + b"}")
        assert answer.status_code == 400
        assert answer.json()["error"] == "leaf_too_large"


def test_the_cli_refuses_a_ballot_too_long_before_using_the_code(
    tmp_path: Path, before_the_cap: None
) -> None:
    office = demo_office(tmp_path / "data", wards=1, voters=1)
    code, ward = office.codes[0]
    with server_thread(office.data) as url:
        signed = httpx.get(f"{url}/api/rounds/{office.round_id}/manifest").json()
        p = Participant(signed, ward)
        answers = tmp_path / "answers.json"
        answers.write_text(json.dumps(_answers(p, "😀" * 2000), ensure_ascii=False), "utf-8")
        result = CliRunner().invoke(
            cli_main,
            ["vote", "--server", url, "--round", office.round_id, "--code", code,
             "--answers", str(answers), "--state", str(tmp_path / "state.json"),
             "--receipt", str(tmp_path / "receipt.json")],
            env={"ANONBALLOT_LANG": "", "ANONBALLOT_SERVER": "", "ANONBALLOT_PASSPHRASE": ""},
        )  # fmt: skip
        assert result.exit_code == 2, result.output  # bad input, as any bad answers file
        [line] = result.stderr.splitlines()
        assert line.startswith("lỗi: Phiếu quá dài, không gửi được")  # Vietnamese by default
        assert "shorten the comments" in line
        # Refused before the code was used: no token was asked for, nothing was cast.
        issued = httpx.get(
            f"{url}/api/admin/rounds/{office.round_id}/turnout",
            headers={"authorization": f"Bearer {office.token}"},
        ).json()
        assert issued["total"]["issued"] == 0
        assert issued["total"]["cast"] == 0


def test_the_cli_asks_again_for_a_ballot_too_long(tmp_path: Path, before_the_cap: None) -> None:
    office = demo_office(tmp_path / "data", wards=1, voters=1)
    code, ward = office.codes[0]
    with server_thread(office.data) as url:
        signed = httpx.get(f"{url}/api/rounds/{office.round_id}/manifest").json()
        p = Participant(signed, ward)
        q = p.manifest.questionnaire
        subjects = p.manifest.subjects_of(ward)
        long_text = "😀" * 2000  # each field within its 2,000 characters; together too long
        first: list[str] = []
        for _ in subjects:
            first += ["1"] * len(q.criteria) + [long_text] * len(q.comments)
        # Asked again with the answers given: Enter keeps the ratings, the comments shortened.
        second: list[str] = []
        for _ in subjects:
            second += [""] * len(q.criteria) + ["Gần dân."] * len(q.comments)
        typed = "\n".join([*first, "c", *second, "c"]) + "\n"
        result = CliRunner().invoke(
            cli_main,
            ["vote", "--server", url, "--round", office.round_id, "--code", code,
             "--state", str(tmp_path / "state.json"), "--receipt", str(tmp_path / "r.json")],
            input=typed,
            env={"ANONBALLOT_LANG": "", "ANONBALLOT_SERVER": "", "ANONBALLOT_PASSPHRASE": ""},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "lỗi: Phiếu quá dài, không gửi được" in result.stdout
        assert "MÃ BIÊN NHẬN" in result.stdout
        leaf = httpx.get(f"{url}/api/rounds/{office.round_id}/leaves?start=0&end=1").content
        assert 0 < len(leaf) <= MAX_LEAF_SIZE + 1  # the shortened ballot, cast once
