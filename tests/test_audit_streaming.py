"""The auditor's bounded-memory paths: comments and invalid ballots spilled to temporary files
(anonballot.spill, anonballot.tally.RecomputedResults), A5 by partitioned prefixes, and A12
compared and verified as results.json streams by. Each must judge exactly as the in-memory
check did: the same verdicts and the same error details."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from _records import RoundRun, audit, copy_record, read_json, resign, run_round, write_json
from click.testing import CliRunner

from anonballot import audit as audit_module
from anonballot import spill
from anonballot.audit import _first_difference
from anonballot.checkpoint import Checkpoint
from anonballot.cli.main import main
from anonballot.encoding import b64u_encode, jcs, parse_json
from anonballot.errors import AnonBallotError, InputError
from anonballot.hazmat.merkle import CompactRange
from anonballot.signing import SigningKey, sign_object
from anonballot.spill import DuplicateFinder, SortedSpill
from anonballot.statements import IssuanceLedger, LedgerScan, Results, _LedgerScanner
from anonballot.tally import TallyBuilder


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RoundRun:
    return run_round(tmp_path_factory.mktemp("streaming") / "record", wards=2, voters=8, seed=3)


@pytest.fixture
def record(run: RoundRun, tmp_path: Path) -> Path:
    return copy_record(run.path, tmp_path / "record")


@pytest.fixture
def fast_path(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What the streamed comparison of A12 answered, in order (True: it passed A12 alone)."""
    answers: list[bool] = []
    original = audit_module._Audit._results_file_matches

    def spy(self: Any, manifest: Any, recomputed: Any) -> bool:
        answer: bool = original(self, manifest, recomputed)
        answers.append(answer)
        return answer

    monkeypatch.setattr(audit_module._Audit, "_results_file_matches", spy)
    return answers


@pytest.fixture
def tiny_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every few comments make a run, and runs are merged in cascades."""
    monkeypatch.setattr(spill, "RUN_BYTES", 200)
    monkeypatch.setattr(spill, "MAX_RUNS", 3)


def _comment_fields(results: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (sid, name)
        for sid, subject in results["subjects"].items()
        for name, texts in subject["comments"].items()
        if len(set(texts)) >= 2
    ]


def test_record_passes_on_the_streamed_path(
    run: RoundRun, fast_path: list[bool], tiny_runs: None
) -> None:
    published = read_json(run.path, "results.json")["results"]
    assert _comment_fields(published), "the record needs a field with two different comments"
    for workers in (1, 2):
        report = audit(run.path, workers=workers)
        assert report.passed
        assert report.recomputed is not None
        assert report.results == published
        assert b"".join(report.recomputed.iter_jcs()) == jcs(published)
        assert report.recomputed.comment_count == sum(
            len(t) for s in published["subjects"].values() for t in s["comments"].values()
        )
        sid, name = _comment_fields(published)[0]
        assert (
            list(report.recomputed.comments(sid, name))
            == published["subjects"][sid]["comments"][name]
        )
    assert fast_path == [True, True]


def _change_results(record: Path, run: RoundRun, change: Any) -> dict[str, Any]:
    resign(record, "results.json", "results", run.organizer, change)
    value: dict[str, Any] = read_json(record, "results.json")["results"]
    return value


def _a12_detail(record: Path) -> str:
    report = audit(record)
    assert report.failed() == ["A12"]
    failures = report.checks["A12"].failures
    assert len(failures) == 1
    assert failures[0]["file"] == "results.json"
    return str(failures[0]["detail"])


def test_one_comment_changed_fails_a12_precisely(
    run: RoundRun, record: Path, fast_path: list[bool], tiny_runs: None
) -> None:
    original = read_json(run.path, "results.json")["results"]
    sid, name = _comment_fields(original)[0]

    def change(v: Any) -> None:
        v["subjects"][sid]["comments"][name][1] += "!"

    published = _change_results(record, run, change)
    detail = _a12_detail(record)
    assert detail == "results.json differs from the recomputed results" + _first_difference(
        published, original
    )
    assert f".subjects.{sid}.comments.{name}[1]" in detail
    assert fast_path == [False]


def test_comments_reordered_fail_a12(run: RoundRun, record: Path, tiny_runs: None) -> None:
    original = read_json(run.path, "results.json")["results"]
    sid, name = _comment_fields(original)[0]

    def change(v: Any) -> None:
        texts = v["subjects"][sid]["comments"][name]
        texts.reverse()

    _change_results(record, run, change)
    assert f".subjects.{sid}.comments.{name}[0]" in _a12_detail(record)


def test_a_comment_left_out_or_added_fails_a12(run: RoundRun, record: Path) -> None:
    original = read_json(run.path, "results.json")["results"]
    sid, name = _comment_fields(original)[0]
    _change_results(record, run, lambda v: v["subjects"][sid]["comments"][name].pop())
    assert f"at .subjects.{sid}.comments.{name}: " in _a12_detail(record)
    fresh = copy_record(run.path, record.parent / "again")
    _change_results(fresh, run, lambda v: v["subjects"][sid]["comments"][name].append("zzz"))
    assert f"at .subjects.{sid}.comments.{name}: " in _a12_detail(fresh)


def test_results_in_another_form_still_pass(
    run: RoundRun, record: Path, fast_path: list[bool]
) -> None:
    """Not the canonical bytes, but the same value, validly signed: the full check passes."""
    signed = read_json(run.path, "results.json")
    (record / "results.json").write_text(json.dumps(signed, indent=1, ensure_ascii=False))
    report = audit(record)
    assert report.passed
    assert fast_path == [False]


def test_a_bad_signature_over_the_right_bytes_fails_a12(run: RoundRun, record: Path) -> None:
    value = read_json(run.path, "results.json")["results"]
    write_json(record, "results.json", sign_object("results", value, SigningKey.generate()))
    assert _a12_detail(record) == "the results signature does not verify"


@pytest.mark.parametrize("extra", [b"\n", b" ", b"x"])
def test_bytes_after_the_results_take_the_full_check(
    run: RoundRun, record: Path, fast_path: list[bool], extra: bytes
) -> None:
    with (record / "results.json").open("ab") as f:
        f.write(extra)
    report = audit(record)
    assert fast_path == [False]
    assert report.passed == (extra != b"x")


def test_recomputed_results_of_a_spilled_tally_equal_the_in_memory_ones(
    run: RoundRun, tiny_runs: None
) -> None:
    manifest = run.engine.manifest
    rng = random.Random(7)
    plain, spilled = TallyBuilder(manifest), TallyBuilder(manifest, spill=True)
    texts = ["b", "a", "ă", "Ả", 'a\n"q"\\', "😀", "\u00e9", "z" * 300]
    for start in range(0, 400, 40):
        part = TallyBuilder(manifest)
        for index in range(start, start + 40):
            if rng.random() < 0.2:
                part.invalid.append((index, rng.choice(["not_canonical", "invalid_content"])))
                continue
            ward = rng.choice(manifest.wards).id
            answers: dict[str, Any] = {
                s.id: {
                    "ratings": {},
                    "comments": {
                        c.id: rng.choice(texts)
                        for c in manifest.questionnaire.comments
                        if rng.random() < 0.5
                    },
                }
                for s in manifest.subjects_of(ward)
            }
            part.add_valid(ward, {"answers": answers})
        plain.merge(part)
        spilled.merge(part)
    args: dict[str, Any] = {
        "mid": run.mid,
        "tree_size": 400,
        "root": bytes(32),
        "trustees": ["t"],
        "issued": {},
    }
    expected: Results = plain.results(**args)
    assert spilled.invalid_count == len(plain.invalid)
    assert spilled.first_invalid(5) == sorted(plain.invalid)[:5]
    got = spilled.recomputed(**args)
    assert got.to_results() == expected
    assert b"".join(got.iter_jcs()) == jcs(expected.to_json())
    assert b"".join(got.iter_jcs()) == jcs(expected.to_json())  # read again
    assert [i.leaf_index for i in got.invalid()] == sorted(i for i, _ in plain.invalid)


def test_sorted_spill_sorts_across_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "MAX_RUNS", 4)
    rng = random.Random(1)
    items = [rng.randbytes(rng.randrange(0, 40)) for _ in range(3000)]
    items += [b"", b"", items[5]]
    store = SortedSpill(run_bytes=500)
    store.extend(items)
    assert store.count == len(items)
    assert list(store) == sorted(items)
    assert list(store) == sorted(items)
    big = SortedSpill(run_bytes=10)
    big.extend([b"x" * 700_000, b"a" * 300_000])  # items longer than a read block
    assert [len(x) for x in big] == [300_000, 700_000]


@pytest.mark.parametrize(("width", "partitions"), [(8, 1), (8, 16), (5, 4)])
def test_duplicate_finder(width: int, partitions: int) -> None:
    rng = random.Random(width)
    records = [rng.randbytes(width) for _ in range(5000)]
    records += [records[10], records[20], records[20]]
    rng.shuffle(records)
    finder = DuplicateFinder(width, partitions)
    for r in records:
        finder.add(finder.partition(r), r)
    distinct, repeated = finder.finish()
    assert distinct == len(set(records))
    assert repeated == {r for r in records if records.count(r) > 1}


def test_verify_chunks_agrees_with_verify() -> None:
    key = SigningKey.generate()
    rng = random.Random(5)
    for n in (0, 1, 100, 70_000):
        message = rng.randbytes(n)
        signature = key.sign(message)
        pieces = [message[i : i + 777] for i in range(0, len(message), 777)]
        public = key.public_key
        assert public.verify_chunks(pieces, signature)
        assert not public.verify_chunks([message, b"x"], signature)
        bad = bytearray(signature)
        bad[rng.randrange(64)] ^= 1 << rng.randrange(8)
        assert not public.verify_chunks(pieces, bytes(bad))
        assert not SigningKey.generate().public_key.verify_chunks(pieces, signature)
    # S not reduced below the group order: libsodium refuses it, and so does this check
    s = int.from_bytes(signature[32:], "little") + 2**252 + 27742317777372353535851937790883648493
    if s < 2**256:
        assert not public.verify_chunks([message], signature[:32] + s.to_bytes(32, "little"))


# -- the issuance ledger, read a block at a time ---------------------------------------------


def _ledger_bytes(run: RoundRun) -> bytes:
    return (run.path / "issuance.json").read_bytes()


def _scan(data: bytes, run: RoundRun, block: int) -> LedgerScan | None:
    scanner_block = _LedgerScanner.BLOCK
    _LedgerScanner.BLOCK = block
    try:
        return IssuanceLedger.scan(io.BytesIO(data), run.engine.manifest)
    finally:
        _LedgerScanner.BLOCK = scanner_block


def _full(data: bytes, run: RoundRun) -> tuple[IssuanceLedger | None, list[str]]:
    problems: list[str] = []
    try:
        value = parse_json(data)
        return IssuanceLedger.from_json(value, run.engine.manifest, problems=problems), problems
    except AnonBallotError as exc:
        return None, [exc.detail]


def _ledgers(run: RoundRun, rng: random.Random) -> list[bytes]:
    """The record's ledger, other valid ones, and broken ones of every kind."""
    value = json.loads(_ledger_bytes(run))
    wards = list(value["wards"])

    def pseudonym() -> str:
        return b64u_encode(rng.randbytes(32))

    out = [jcs(value)]
    for sizes in ([0, 0], [1, 0], [0, 3], [40, 7]):
        v = {"round": value["round"], "wards": {}}
        for ward, n in zip(wards, sizes, strict=True):
            v["wards"][ward] = sorted(pseudonym() for _ in range(n))
        out.append(jcs(v))
    good = json.loads(out[-1])
    a, b = wards
    broken: list[Any] = []
    v = json.loads(json.dumps(good))
    v["wards"][a][3], v["wards"][a][4] = v["wards"][a][4], v["wards"][a][3]
    broken.append(v)  # unsorted
    v = json.loads(json.dumps(good))
    v["wards"][a].insert(5, v["wards"][a][5])
    broken.append(v)  # repeated within a ward
    v = json.loads(json.dumps(good))
    v["wards"][b] = sorted([*v["wards"][b], v["wards"][a][0]])
    broken.append(v)  # repeated in another ward
    v = json.loads(json.dumps(good))
    v["wards"][a][2] = v["wards"][a][2][:-1] + "B"
    broken.append(v)  # stray bits in the last character
    v = json.loads(json.dumps(good))
    v["round"] = "x" + v["round"][1:]
    broken.append(v)  # another round
    v = json.loads(json.dumps(good))
    del v["wards"][b]
    broken.append(v)  # a ward missing
    out += [jcs(v) for v in broken]
    text = out[-len(broken) - 1]
    out += [
        text + b"\n",
        text[:-1],
        json.dumps(good, indent=1).encode(),
        text.replace(b'",', b'", ', 1),
        text.replace(b"]", b",]", 1),
        text[: len(text) // 2],
    ]
    return out


@pytest.mark.parametrize("block", [1, 7, 45, 46, 47, 1000, 1 << 20])
def test_ledger_scan_accepts_exactly_the_canonical_valid_ledgers(run: RoundRun, block: int) -> None:
    for data in _ledgers(run, random.Random(block)):
        ledger, problems = _full(data, run)
        scan = _scan(data, run, block)
        canonical_and_valid = ledger is not None and not problems and jcs(parse_json(data)) == data
        if not canonical_and_valid:
            assert scan is None, data[:80]
            continue
        assert ledger is not None
        assert scan is not None, data[:80]
        assert scan.digest == ledger.digest
        assert scan.counts == ledger.counts
        assert scan.entries == sum(ledger.counts.values())


def test_audit_reads_a_ledger_in_another_form_whole(run: RoundRun, record: Path) -> None:
    value = read_json(run.path, "issuance.json")
    (record / "issuance.json").write_text(json.dumps(value, indent=2))
    report = audit(record)
    assert report.passed  # the same value, so the same hash
    assert (
        report.checks["A8"].counts["ledger_entries"]
        == audit(run.path).checks["A8"].counts["ledger_entries"]
    )


# -- the Merkle tree from the workers' subtree roots -----------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_earlier_checkpoints_inside_and_at_the_end_of_chunks(
    run: RoundRun, record: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Chunks of 4 leaves: a chunk with a checkpoint inside is appended leaf by leaf, the
    others by the root of their subtree; every checkpoint is compared at its size."""
    monkeypatch.setattr(audit_module, "CHUNK", 4)
    size = len((record / "board.jsonl").read_bytes().splitlines())
    assert size == 16
    (record / "checkpoints").mkdir()
    sizes = [0, 3, 4, 8, 13, 16]
    for n in sizes:
        (record / "checkpoints" / f"{n}.txt").write_text(run.checkpoints[n])
    report = audit(record, workers=workers)
    assert report.passed
    assert report.checks["A7"].counts["checkpoints"] == len(sizes)
    origin = run.engine.manifest.origin
    for bad in (3, 8, 12):
        (record / "checkpoints" / f"{bad}.txt").write_text(
            Checkpoint(origin, bad, bytes(32)).sign(run.log)
        )
        report = audit(record, workers=workers)
        assert report.failed() == ["A7"]
        assert [f["file"] for f in report.checks["A7"].failures] == [f"checkpoints/{bad}.txt"]
        (record / "checkpoints" / f"{bad}.txt").unlink()


def test_compact_range_takes_subtrees() -> None:
    rng = random.Random(2)
    hashes = [rng.randbytes(32) for _ in range(64)]
    one = CompactRange()
    for h in hashes:
        one.append(h)
    for chunk in (1, 2, 4, 8):
        other = CompactRange()
        for i in range(0, 64, chunk):
            sub = CompactRange()
            for h in hashes[i : i + chunk]:
                sub.append(h)
            other.append_subtree(sub.root(), chunk.bit_length() - 1)
            assert other.size == i + chunk
        assert other.root() == one.root()
    with pytest.raises(InputError):
        CompactRange.resume(1, [bytes(32)]).append_subtree(bytes(32), 2)


def test_streamed_json_writes_the_same_value(run: RoundRun, tiny_runs: None) -> None:
    report = audit(run.path)
    expected: Any = report.to_json()
    encoder = json.JSONEncoder(ensure_ascii=False, indent=2)
    text = "".join(encoder.iterencode(report.to_json(streamed=True)))
    assert json.loads(text) == expected
    assert expected["results"]["invalid"] == []
    streamed: Any = report.to_json(streamed=True)["results"]
    subject = next(iter(streamed["subjects"].values()))
    "".join(encoder.iterencode(streamed["subjects"]))
    with pytest.raises(RuntimeError):  # one pass, in order
        "".join(encoder.iterencode(subject))


def test_cli_json_report_has_every_comment(run: RoundRun) -> None:
    result = CliRunner().invoke(main, ["audit", "--json", "--workers", "1", str(run.path)])
    assert result.exit_code == 0, result.output
    value = json.loads(result.stdout)
    assert value["results"] == read_json(run.path, "results.json")["results"]


def test_ledger_scan_stops_past_the_eligible(run: RoundRun) -> None:
    """More entries than the round's eligible fail A9 anyway: the scan does not read on."""
    value = json.loads(_ledger_bytes(run))
    rng = random.Random(9)
    ward = next(iter(value["wards"]))
    eligible = sum(w.eligible for w in run.engine.manifest.wards)
    value["wards"][ward] = sorted(b64u_encode(rng.randbytes(32)) for _ in range(eligible + 200))
    data = jcs(value)
    ledger, problems = _full(data, run)
    assert ledger is not None
    assert not problems
    assert _scan(data, run, 1000) is None
