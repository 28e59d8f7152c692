"""Acceptance: an independent verifier and producer, written from the protocol texts only
(tests/independent/), agree with the project's simulation and auditor in both directions.

- the independent verifier accepts the project's simulated records (folder and .zip);
- the project's auditor accepts records made by the independent producer, including every
  reason code of protocol 7.3 and the comment edge cases of 7.4;
- on tampered records both sides fail, with the same check ids;
- the independent verifier passes the v1 conformance suite (tests/vectors/anonballot-v1/): it
  accepts its record, opens every ballot of it to the suite's outcome, and agrees on the JCS
  and checkpoint vectors.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _witnessed import CASES as WITNESS_CASES
from _witnessed import Witnessed, witnessed_round
from cryptography.hazmat.primitives.asymmetric import x25519
from independent.producer import Produced, checkpoint, produce, produce_record, signed
from independent.verifier import (
    CHECKS,
    NOT_CHECKED,
    Invalid,
    b64u,
    b64u_decode,
    failed_checks,
    jcs,
    note_key_id,
    open_leaf,
    parse_checkpoint,
    parse_json,
    parse_leaf,
    parse_manifest,
    verify_record,
)

from anonballot.audit import audit_record, render_report
from anonballot.testing import simulate
from anonballot.witness import WitnessKey


def _describe(report: dict[str, bool | str]) -> str:
    return "\n".join(f"{k}: {'pass' if v is True else v}" for k, v in report.items())


def _project_failures(path: Path) -> set[str]:
    report = audit_record(path, workers=1)
    return {check for check, result in report.checks.items() if not result.passed}


# --------------------------------------------------------------------------- direction 1


@pytest.mark.parametrize("name", ["rec", "rec.zip"])
def test_independent_verifier_accepts_the_simulation(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    simulate(out, wards=3, voters=8, key_bits=2048, seed=7)
    report = verify_record(out)
    assert list(report) == list(CHECKS)
    assert all(v is True for v in report.values()), _describe(report)


# --------------------------------------------------------------------------- direction 2


@dataclass(frozen=True)
class Config:
    name: str
    wards: int
    voters: int
    released: tuple[int, ...] = (0, 2)
    edge_cases: bool = False
    suffix: str = ""


CONFIGS = [
    # 2 of 3 trustees; invalid ballots: wrong_ward, not_canonical, invalid_content
    Config("basic", wards=3, voters=8),
    # every reason of protocol 7.3, plaintext corner cases of 2.1, comment rules of 7.4
    Config("edge", wards=2, voters=16, edge_cases=True),
    # all three trustees released, so shares_inconsistent is reachable
    Config("edge-all-trustees", wards=2, voters=16, released=(0, 1, 2), edge_cases=True),
    Config("zip", wards=2, voters=3, suffix=".zip"),
    Config("one-voter", wards=1, voters=1),
]


@pytest.fixture(scope="module", params=CONFIGS, ids=[c.name for c in CONFIGS])
def produced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config: Config = request.param
    out = tmp_path_factory.mktemp(config.name) / f"record{config.suffix}"
    produce_record(
        out,
        wards=config.wards,
        voters=config.voters,
        seed=7,
        released=config.released,
        edge_cases=config.edge_cases,
    )
    return out


def test_project_auditor_accepts_an_independent_record(produced: Path) -> None:
    report = audit_record(produced, workers=1)
    assert report.passed, render_report(report)


def test_independent_verifier_accepts_its_own_record(produced: Path) -> None:
    report = verify_record(produced)
    assert all(v is True for v in report.values()), _describe(report)


def test_the_edge_record_exercises_every_reason(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    produce(out, wards=2, voters=16, seed=7, released=(0, 1, 2), edge_cases=True)
    results = json.loads((out / "results.json").read_bytes())["results"]
    reasons = {entry["reason"] for entry in results["invalid"]}
    assert reasons == {
        "share_undecryptable",
        "shares_inconsistent",
        "bad_key",
        "undecryptable",
        "not_canonical",
        "wrong_ward",
        "invalid_content",
    }
    comments = [
        text
        for subject in results["subjects"].values()
        for texts in subject["comments"].values()
        for text in texts
    ]
    assert any(text.startswith("\x1f") for text in comments)  # not White_Space: kept
    assert "" not in comments
    assert _project_failures(out) == set()


# --------------------------------------------------------------------------- tampering


def _lines(path: Path) -> list[bytes]:
    return (path / "board.jsonl").read_bytes().split(b"\n")[:-1]


def _write_lines(path: Path, lines: list[bytes]) -> None:
    (path / "board.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def _load(path: Path, name: str) -> Any:
    return json.loads((path / name).read_bytes())


def _dump(path: Path, name: str, value: Any) -> None:
    (path / name).write_bytes(jcs(value))


def flip_ct_byte(path: Path, info: Produced | None) -> None:
    lines = _lines(path)
    leaf = json.loads(lines[1])
    ct = bytearray(b64u_decode(leaf["ballot"]["ct"]))
    ct[len(ct) // 2] ^= 0x01
    leaf["ballot"]["ct"] = b64u(bytes(ct))
    lines[1] = jcs(leaf)
    _write_lines(path, lines)


def drop_last_leaf(path: Path, info: Produced | None) -> None:
    _write_lines(path, _lines(path)[:-1])


def duplicate_a_leaf(path: Path, info: Produced | None) -> None:
    lines = _lines(path)
    _write_lines(path, [*lines, lines[2]])


def non_canonical_leaf(path: Path, info: Produced | None) -> None:
    lines = _lines(path)
    lines[2] = lines[2].replace(b'{"ballot"', b'{ "ballot"', 1)
    _write_lines(path, lines)


def remove_a_release(path: Path, info: Produced | None) -> None:
    sorted((path / "releases").iterdir())[0].unlink()


def corrupt_release_signature(path: Path, info: Produced | None) -> None:
    name = sorted((path / "releases").iterdir())[0].relative_to(path).as_posix()
    value = _load(path, name)
    sig = bytearray(b64u_decode(value["signature"]))
    sig[0] ^= 0x01
    value["signature"] = b64u(bytes(sig))
    _dump(path, name, value)


def results_unsigned_edit(path: Path, info: Produced | None) -> None:
    value = _load(path, "results.json")
    value["results"]["district"]["ballots"] += 1
    _dump(path, "results.json", value)


def results_resigned_order(path: Path, info: Produced | None) -> None:
    assert info is not None
    value = _load(path, "results.json")["results"]
    value["invalid"].reverse()  # protocol 7.5: sorted by leaf_index
    _dump(path, "results.json", signed("results", value, info.organizer))


def results_resigned_count(path: Path, info: Produced | None) -> None:
    assert info is not None
    value = _load(path, "results.json")["results"]
    ward = next(iter(value["wards"]))
    value["wards"][ward]["eligible"] += 1
    _dump(path, "results.json", signed("results", value, info.organizer))


def inconsistent_mid_checkpoint(path: Path, info: Produced | None) -> None:
    assert info is not None
    note = sorted((path / "checkpoints").iterdir())[1]
    origin, size = note.read_text().split("\n")[:2]
    lines = _lines(path)[: int(size)]
    lines[-1] = lines[-1] + b" "
    note.write_bytes(checkpoint(origin, info.log, lines))


def drop_ledger_entry(path: Path, info: Produced | None) -> None:
    ledger = _load(path, "issuance.json")
    next(iter(ledger["wards"].values())).pop()
    _dump(path, "issuance.json", ledger)


def bad_signature_line_from_log_key(path: Path, info: Produced | None) -> None:
    assert info is not None
    text = (path / "checkpoint.txt").read_text()
    origin = text.split("\n")[0]
    key_id = note_key_id(origin, bytes(info.log.verify_key))
    bad = f"\u2014 {origin} {base64.b64encode(key_id + bytes(64)).decode()}\n"
    (path / "checkpoint.txt").write_text(text + bad)


def foreign_signature_line(path: Path, info: Produced | None) -> None:
    text = (path / "checkpoint.txt").read_text()
    other = f"\u2014 witness.example {base64.b64encode(b'wxyz' + bytes(64)).decode()}\n"
    (path / "checkpoint.txt").write_text(text + other)


def whitespace_in_json_files(path: Path, info: Produced | None) -> None:
    for name in ("manifest.json", "close.json", "results.json", "issuance.json"):
        (path / name).write_text(json.dumps(_load(path, name), indent=2, ensure_ascii=False))


def manifest_edit(path: Path, info: Produced | None) -> None:
    value = _load(path, "manifest.json")
    value["manifest"]["title"]["vi"] += "!"
    _dump(path, "manifest.json", value)


Tamper = Callable[[Path, Produced | None], None]
# (tamper, checks that must fail on both sides; None = the record stays valid)
TAMPERS: list[tuple[Tamper, set[str] | None]] = [
    (flip_ct_byte, {"A4", "A6", "A8", "A12"}),
    (drop_last_leaf, {"A6", "A8", "A12"}),
    (duplicate_a_leaf, {"A5", "A6", "A8", "A12"}),
    (non_canonical_leaf, {"A2", "A6", "A8", "A12"}),
    (remove_a_release, {"A10", "A11", "A12"}),
    (corrupt_release_signature, {"A10", "A11", "A12"}),
    (results_unsigned_edit, {"A12"}),
    (results_resigned_order, {"A12"}),
    (results_resigned_count, {"A12"}),
    (inconsistent_mid_checkpoint, {"A7"}),
    (drop_ledger_entry, {"A8", "A9"}),
    (bad_signature_line_from_log_key, {"A6"}),
    (foreign_signature_line, None),
    (whitespace_in_json_files, None),
    (manifest_edit, set(CHECKS)),
]


@pytest.fixture(scope="module")
def base_record(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Produced]:
    out = tmp_path_factory.mktemp("base") / "record"
    info = produce(out, wards=2, voters=6, seed=11)
    return out, info


@pytest.mark.parametrize(("tamper", "expected"), TAMPERS, ids=[t.__name__ for t, _ in TAMPERS])
def test_tampered_independent_record_fails_alike(
    tmp_path: Path,
    base_record: tuple[Path, Produced],
    tamper: Tamper,
    expected: set[str] | None,
) -> None:
    base, info = base_record
    record = tmp_path / "record"
    shutil.copytree(base, record)
    tamper(record, info)
    mine = verify_record(record)
    report = audit_record(record, workers=1)
    theirs = {check for check, result in report.checks.items() if not result.passed}
    assert failed_checks(mine) == theirs, f"{_describe(mine)}\n---\n{render_report(report)}"
    if expected is None:
        assert theirs == set(), render_report(report)
    else:
        assert expected <= theirs, render_report(report)


@pytest.mark.parametrize(
    "tamper", [flip_ct_byte, drop_last_leaf, results_unsigned_edit, remove_a_release]
)
def test_tampered_simulation_fails_alike(tmp_path: Path, tamper: Tamper) -> None:
    record = tmp_path / "rec"
    simulate(record, wards=2, voters=4, key_bits=2048, seed=3)
    tamper(record, None)
    mine = verify_record(record)
    report = audit_record(record, workers=1)
    theirs = {check for check, result in report.checks.items() if not result.passed}
    assert theirs, render_report(report)
    assert failed_checks(mine) == theirs, f"{_describe(mine)}\n---\n{render_report(report)}"


# ------------------------------------------------------------ the optional members of section 4.1

PREVIOUS = {"round_id": "doc-lap-2026-05", "mid": b64u(bytes(range(32)))}


def _restricted(m: dict[str, Any]) -> None:
    m["results_access"] = "restricted"
    m["previous"] = dict(PREVIOUS)


@pytest.fixture(scope="module")
def restricted_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("restricted") / "record"
    produce(out, wards=2, voters=3, seed=12, manifest_hook=_restricted)
    return out


def test_both_accept_a_manifest_with_the_optional_members(restricted_record: Path) -> None:
    assert _load(restricted_record, "manifest.json")["manifest"]["previous"] == PREVIOUS
    report = verify_record(restricted_record)
    assert all(v is True for v in report.values()), _describe(report)
    assert _project_failures(restricted_record) == set()


def test_both_audit_the_public_part_alike(restricted_record: Path, tmp_path: Path) -> None:
    record = tmp_path / "record"
    shutil.copytree(restricted_record, record)
    shutil.rmtree(record / "releases")
    (record / "results.json").unlink()
    mine = verify_record(record)
    report = audit_record(record, workers=1)
    assert {c for c, v in mine.items() if v == NOT_CHECKED} == {"A10", "A11", "A12"}
    assert report.not_checked() == ["A10", "A11", "A12"]
    assert failed_checks(mine) == set(report.failed()) == set()
    # tampering shows in the public part too, on both sides
    drop_last_leaf(record, None)
    mine = verify_record(record)
    report = audit_record(record, workers=1)
    assert failed_checks(mine) == set(report.failed()) == {"A6", "A8"}


def _previous_itself(m: dict[str, Any]) -> None:
    m["previous"] = {"round_id": m["round_id"], "mid": PREVIOUS["mid"]}


@pytest.mark.parametrize(
    "hook",
    [
        lambda m: m.update(results_access="secret"),
        lambda m: m.update(results_access=None),
        lambda m: m.update(previous=None),
        lambda m: m.update(previous={"round_id": "may", "mid": PREVIOUS["mid"][:42]}),
        lambda m: m.update(previous={"round_id": "may", "mid": PREVIOUS["mid"], "x": 1}),
        _previous_itself,
    ],
    ids=["access-word", "access-null", "previous-null", "previous-mid", "previous-extra", "itself"],
)
def test_both_refuse_bad_optional_members(
    tmp_path: Path, hook: Callable[[dict[str, Any]], None]
) -> None:
    _both_refuse_the_manifest(tmp_path, hook, seed=13)


def _both_refuse_the_manifest(
    tmp_path: Path, hook: Callable[[dict[str, Any]], None], *, seed: int
) -> None:
    """A record whose manifest ``hook`` spoiled fails every check, here and in the project."""
    out = tmp_path / "record"
    produce(out, wards=1, voters=1, seed=seed, manifest_hook=hook)
    mine = verify_record(out)
    assert failed_checks(mine) == set(CHECKS), _describe(mine)
    assert _project_failures(out) == set(CHECKS)


# --------------------------------------------------------------------------- witnesses (A13)


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Witnessed:
    return witnessed_round(tmp_path_factory.mktemp("witnessed") / "record")


@pytest.mark.parametrize("name", list(WITNESS_CASES))
def test_both_check_the_cosignatures_alike(witnessed: Witnessed, tmp_path: Path, name: str) -> None:
    case = WITNESS_CASES[name]
    record = tmp_path / "record"
    shutil.copytree(witnessed.run.path, record)
    if case.change is not None:
        case.change(record, witnessed)
    mine = verify_record(record)
    report = audit_record(record, workers=1)
    assert failed_checks(mine) == set(report.failed()) == set(case.failing), (
        f"{_describe(mine)}\n---\n{render_report(report)}"
    )
    assert (mine["A13"] is True) is case.passes


def _witnesses(quorum: object, *names: str) -> Callable[[dict[str, Any]], None]:
    def hook(m: dict[str, Any]) -> None:
        keys = [WitnessKey.generate(n).vkey() for n in names]
        m["witnesses"] = {
            "quorum": quorum,
            "list": [{"vkey": k, "url": f"https://w{i}.example"} for i, k in enumerate(keys)],
        }

    return hook


def test_both_fail_a13_without_cosignatures(tmp_path: Path) -> None:
    """The independent producer's checkpoint carries no cosignature: a manifest that names
    witnesses then fails A13 alone, on both sides."""
    out = tmp_path / "record"
    produce(out, wards=1, voters=2, seed=14, manifest_hook=_witnesses(1, "w.example/a"))
    mine = verify_record(out)
    assert failed_checks(mine) == _project_failures(out) == {"A13"}, _describe(mine)


def _bad_key_id(m: dict[str, Any]) -> None:
    _witnesses(1, "w.example/a")(m)
    vkey = m["witnesses"]["list"][0]["vkey"]
    name, kid, key = vkey.split("+", 2)
    m["witnesses"]["list"][0]["vkey"] = f"{name}+{'0' * 8 if kid != '0' * 8 else '1' * 8}+{key}"


@pytest.mark.parametrize(
    "hook",
    [
        _witnesses(0, "w.example/a"),
        _witnesses(2, "w.example/a"),
        _witnesses(1, "w.example/a", "w.example/a"),
        _witnesses(1),
        _bad_key_id,
    ],
    ids=["quorum-0", "quorum-above", "same-name", "empty", "key-id"],
)
def test_both_refuse_a_bad_witness_policy(
    tmp_path: Path, hook: Callable[[dict[str, Any]], None]
) -> None:
    _both_refuse_the_manifest(tmp_path, hook, seed=15)


# --------------------------------------------------------------------------- conformance suite

CONFORMANCE = Path(__file__).parent / "vectors" / "anonballot-v1"


def _suite(name: str) -> Any:
    return json.loads((CONFORMANCE / name).read_text(encoding="utf-8"))


def test_independent_verifier_accepts_the_conformance_record() -> None:
    report = verify_record(CONFORMANCE / "record")
    assert all(v is True for v in report.values()), _describe(report)
    expected = _suite("record.audit.json")
    assert [c["id"] for c in expected["checks"] if c["passed"]] == list(CHECKS)


def test_independent_opening_of_every_conformance_ballot() -> None:
    m = parse_manifest(json.loads((CONFORMANCE / "record" / "manifest.json").read_bytes()))
    openings = _suite("openings.json")
    assert openings["round"] == m.mid
    board = (CONFORMANCE / "record" / "board.jsonl").read_bytes().split(b"\n")[:-1]
    seen = set()
    for case in openings["cases"]:
        leaf = parse_leaf(case["leaf_index"], case["leaf"].encode("utf-8"), m)
        released = {
            r["id"]: x25519.X25519PrivateKey.from_private_bytes(b64u_decode(r["private_key"]))
            for r in case["released"]
        }
        outcome = open_leaf(leaf, m, released)
        expected = case["ballot"] if case["outcome"] == "valid" else case["outcome"]
        assert outcome == expected, case["name"]
        seen.add(case["leaf_index"])
    assert seen == set(range(len(board)))


def test_independent_jcs_agrees_with_the_suite() -> None:
    for case in _suite("jcs.json")["cases"]:
        data = bytes.fromhex(case["input_hex"])
        try:
            out: str | None = jcs(parse_json(data)).decode("utf-8")
        except Invalid:
            out = None
        assert out == case["jcs"], case["note"]


def test_independent_checkpoints_agree_with_the_suite() -> None:
    v = _suite("checkpoint.json")
    log_key = b64u_decode(v["log_key"])
    for case in v["cases"]:
        try:
            size, root = parse_checkpoint(case["note"].encode("utf-8"), v["origin"], log_key)
        except Invalid:
            assert not case["valid"], case["why"]
            continue
        assert case["valid"], case["why"]
        assert (size, root.hex()) == (case["size"], case["root_hex"])
