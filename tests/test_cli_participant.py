"""``anonballot vote``, ``receipt verify`` and ``audit URL``, in-process against a live server."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _live import Office, demo_office, server_thread
from click.testing import CliRunner, Result

from anonballot.cli.main import main
from anonballot.cli.participant import load_state, participant_state, save_state
from anonballot.codes import normalize_code
from anonballot.encoding import b64u_decode, b64u_encode, jcs
from anonballot.keyfile import encrypt_key_file, write_private
from anonballot.manifest import Manifest
from anonballot.participant import Participant
from anonballot.receipt import Receipt

PASSPHRASE = "mật khẩu của người giữ khóa"  # noqa: S105 (a test passphrase)


def invoke(*args: str | Path, input: str | None = None, **env: str) -> Result:
    env = {"ANONBALLOT_PASSPHRASE": "", "ANONBALLOT_SERVER": "", "ANONBALLOT_LANG": "", **env}
    return CliRunner().invoke(main, [str(a) for a in args], env=env, input=input)


def one_line_error(result: Result, status: int = 2) -> str:
    assert result.exit_code == status, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("error: ", "lỗi: "))
    assert "Traceback" not in result.output
    return lines[0]


def get_manifest(url: str, office: Office) -> Manifest:
    return Manifest.from_signed(httpx.get(f"{url}/api/rounds/{office.round_id}/manifest").json())


def answers_for(manifest: Manifest, ward: str, level: int, comment: str = "") -> dict[str, Any]:
    """Every criterion rated the ``level``-th answer; the first comment field filled in."""
    q = manifest.questionnaire
    ids = q.answer_ids
    out: dict[str, Any] = {}
    for subject in manifest.subjects_of(ward):
        comments = {q.comments[0].id: comment} if comment else {}
        out[subject.id] = {"ratings": {c.id: ids[level] for c in q.criteria}, "comments": comments}
    return out


def board_size(url: str, office: Office) -> int:
    note = httpx.get(f"{url}/api/rounds/{office.round_id}/checkpoint").text
    return int(note.split("\n")[1])


def vote(
    url: str,
    office: Office,
    code: str,
    tmp: Path,
    answers: dict[str, Any] | None,
    *extra: str | Path,
    input: str | None = None,
) -> tuple[Result, Path, Path]:
    """``vote`` with explicit state and receipt files; returns them too."""
    tag = code.replace("-", "")[:6]
    state, receipt = tmp / f"state-{tag}.json", tmp / f"receipt-{tag}.json"
    args: list[str | Path] = [
        "vote", "--server", url, "--round", office.round_id, "--code", code,
        "--state", state, "--receipt", receipt, *extra,
    ]  # fmt: skip
    if answers is not None:
        answers_file = tmp / f"answers-{tag}.json"
        answers_file.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
        args += ["--answers", answers_file]
    return invoke(*args, input=input), state, receipt


def admin(url: str, office: Office, action: str) -> None:
    answer = httpx.post(
        f"{url}/api/admin/rounds/{office.round_id}/{action}",
        headers={"authorization": f"Bearer {office.token}"},
        json={"force": True} if action == "close" else None,  # before voting ends
        timeout=60,
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Office, str]]:
    """An open round that stays open: for the tests that do not close it."""
    office = demo_office(tmp_path_factory.mktemp("open") / "data", wards=2, voters=4)
    with server_thread(office.data) as url:
        yield office, url


# -- the whole flow ------------------------------------------------------------------------------


def interactive_input(manifest: Manifest, ward: str) -> str:
    """Every prompt of the terminal ballot answered, twice: a first pass that is rejected at
    the review, and a second one that keeps those choices (Enter) but the very first rating
    and adds one comment."""
    q = manifest.questionnaire
    subjects = manifest.subjects_of(ward)
    first = []
    for _ in subjects:
        first += ["2"] * len(q.criteria) + [""] * len(q.comments)
    second = list(first)
    second[0] = "1"
    second = ["" if a == "2" else a for a in second]  # Enter keeps "2"
    second[len(q.criteria)] = "Gần dân, giải quyết công việc nhanh."
    return "\n".join([*first, "n", *second, "y"]) + "\n"


def test_vote_verify_release_tally_record_and_audit(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", wards=2, voters=2)
    (code_a, ward_a), (code_c, ward_c), (code_b, ward_b), _ = office.codes
    assert ward_a == ward_c != ward_b
    with server_thread(office.data) as url:
        manifest = get_manifest(url, office)
        q = manifest.questionnaire

        # two votes from answer files, one in the terminal (English)
        answers_a = answers_for(manifest, ward_a, 0, "Gương mẫu, gần dân.")
        result, state_a, receipt_a = vote(url, office, code_a, tmp_path, answers_a)
        assert result.exit_code == 0, result.output
        rc_a = Receipt.from_json(json.loads(receipt_a.read_text()))
        assert rc_a.leaf_index == 0
        assert rc_a.code in result.stdout
        assert "Phiếu của bạn đã được ghi nhận." in result.stdout
        assert stat.S_IMODE(state_a.stat().st_mode) == 0o600
        assert set(load_state(state_a)) == {
            "anonballot_vote_state", "round_id", "mid", "done", "receipt",
        }  # fmt: skip
        result, _, receipt_b = vote(url, office, code_b, tmp_path, answers_for(manifest, ward_b, 3))
        assert result.exit_code == 0, result.output
        result = invoke(
            "vote", "--server", url, "--round", office.round_id, "--code", code_c.lower(),
            "--lang", "en", "--state", tmp_path / "state-c.json",
            "--receipt", tmp_path / "receipt-c.json",
            input=interactive_input(manifest, ward_c),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "Review your ballot" in result.stdout
        assert "Your ballot has been recorded." in result.stdout
        assert board_size(url, office) == 3

        # before close: inclusion and consistency with the latest checkpoint
        result = invoke("receipt", "verify", receipt_a, "--server", url, "--lang", "en")
        assert result.exit_code == 0, result.output
        assert (
            "[ok] checkpoint signature, and the ballot is on the board (board of 1)"
            in result.stdout
        )
        assert "[ok] the latest checkpoint (board of 3) extends" in result.stdout
        assert "Not tallied yet" in result.stdout

        # close, two trustees release with the command, the organizer tallies
        admin(url, office, "close")
        pass_file = tmp_path / "pass.txt"
        pass_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
        for n, key in enumerate(office.trustees[:2]):
            key_file = tmp_path / f"{key.id}.key"
            write_private(key_file, json.dumps(encrypt_key_file(key.to_json(), PASSPHRASE)))
            secret: dict[str, str] = {}
            args: tuple[str | Path, ...] = ("--passphrase-file", pass_file)
            if n == 1:  # the other trustee has the passphrase in the environment
                secret, args = {"ANONBALLOT_PASSPHRASE": PASSPHRASE}, ()
            result = invoke(
                "trustee", "release", "--key", key_file, "--round", office.round_id,
                "--server", url, *args, **secret,
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            assert f"đã nhận khóa công bố của {key.id} cho đợt {office.round_id}" in result.stdout
        admin(url, office, "tally")

        # after the tally: how each ballot was counted
        result = invoke("receipt", "verify", receipt_a, "--server", url)
        assert result.exit_code == 0, result.output
        assert "[đạt] bảng công khai cuối cùng (3 phiếu)" in result.stdout
        assert "phiếu được tính là HỢP LỆ" in result.stdout
        assert "Gương mẫu, gần dân." in result.stdout
        assert result.stdout.count(manifest.questionnaire.scale[0].label["vi"]) >= len(q.criteria)
        assert result.stdout.splitlines()[-1] == "Mọi kiểm tra đều đạt."

        receipt_c = tmp_path / "receipt-c.json"
        result = invoke("receipt", "verify", receipt_c, "--server", url, "--lang", "en")
        assert result.exit_code == 0, result.output
        assert "counted as VALID" in result.stdout
        assert "Gần dân, giải quyết công việc nhanh." in result.stdout
        first_label = q.scale[0].label["en"]
        second_label = q.scale[1].label["en"]
        assert first_label in result.stdout
        assert second_label in result.stdout

        # the record: receipt verify offline, then the audit from the URL
        record = tmp_path / "record.zip"
        record.write_bytes(httpx.get(f"{url}/api/rounds/{office.round_id}/record").content)
        result = invoke("receipt", "verify", receipt_b, "--record", record, "--lang", "en")
        assert result.exit_code == 0, result.output
        assert "[ok] the final checkpoint (board of 3)" in result.stdout
        assert "counted as VALID" in result.stdout

        saved = tmp_path / "downloaded.zip"
        result = invoke("audit", url, "--round", office.round_id, "--workers", "1", "--save", saved)
        assert result.exit_code == 0, result.output
        # in Vietnamese by default: each check in plain words, the results, the verdict last
        lines = result.stdout.splitlines()
        assert lines[-1] == "KẾT LUẬN: mọi kiểm tra đều đạt"
        assert any(
            line.startswith("  A5 ĐẠT  không thẻ bỏ phiếu nào được dùng hai lần") for line in lines
        )
        assert "Kết quả kiểm lại từ các phiếu:" in lines
        assert any(line.startswith("  Phường Bồ Đề: ") and "phiếu hợp lệ" in line for line in lines)
        assert saved.read_bytes() == record.read_bytes()
        result = invoke(
            "audit", f"{url}/api/rounds/{office.round_id}/record", "--json", "--workers", "1"
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["passed"] is True

        # a receipt that was altered fails a check (exit 1), one line saying which
        forged = rc_a.to_json()
        forged["leaf_index"] = 1
        forged_file = tmp_path / "forged.json"
        forged_file.write_text(json.dumps(forged))
        for where in (("--server", url), ("--record", record)):
            line = one_line_error(invoke("receipt", "verify", forged_file, *where), status=1)
            assert line.startswith("lỗi: inclusion: ")


def test_audit_url_errors(live: tuple[Office, str], tmp_path: Path) -> None:
    office, url = live
    result = invoke("audit", url)
    assert "--round ROUND" in one_line_error(result)
    result = invoke("audit", f"{url}/api/rounds/{office.round_id}", "--round", "other")
    assert "names round test-round" in one_line_error(result)
    # the round is open: no record yet (the server's own words)
    result = invoke("audit", f"{url}/api/rounds/{office.round_id}/")
    assert one_line_error(result) == (
        "lỗi: Hồ sơ của đợt chỉ có sau khi kiểm phiếu. (the record exists once the round is "
        "tallied)"
    )
    result = invoke("audit", tmp_path / "missing", "--round", "x")
    assert "--round and --save go with a URL" in one_line_error(result)


# -- resuming, the second use of a code, Vietnamese in the terminal ------------------------------


def test_a_lost_token_answer_resumes_with_the_same_request(
    live: tuple[Office, str], tmp_path: Path
) -> None:
    office, url = live
    code, ward = office.codes[0]
    base = f"{url}/api/rounds/{office.round_id}"
    p = Participant(httpx.get(f"{base}/manifest").json(), ward)
    blinded = p.request_token()
    state = tmp_path / "state.json"
    save_state(state, participant_state(office.round_id, normalize_code(code), p))
    # the token request reaches the server, but its answer is lost
    lost = httpx.post(f"{base}/tokens", json={"code": code, "blinded": b64u_encode(blinded)})
    assert lost.status_code == 200
    before = board_size(url, office)

    manifest = p.manifest
    result, _, receipt = vote(
        url, office, code, tmp_path, answers_for(manifest, ward, 1), "--state", state
    )
    assert result.exit_code == 0, result.output
    assert "Tiếp tục từ lần trước" in result.stdout
    assert board_size(url, office) == before + 1
    first = json.loads(receipt.read_text())

    # running it again casts nothing and shows the same receipt
    result, _, _ = vote(url, office, code, tmp_path, None, "--state", state)
    assert result.exit_code == 0, result.output
    assert "Bạn đã bỏ phiếu trong đợt này." in result.stdout
    assert Receipt.from_json(first).code in result.stdout
    assert board_size(url, office) == before + 1
    assert json.loads(receipt.read_text()) == first


def test_a_lost_cast_answer_resumes_with_the_same_leaf(
    live: tuple[Office, str], tmp_path: Path
) -> None:
    office, url = live
    code, ward = office.codes[1]
    base = f"{url}/api/rounds/{office.round_id}"
    p = Participant(httpx.get(f"{base}/manifest").json(), ward)
    issued = httpx.post(
        f"{base}/tokens", json={"code": code, "blinded": b64u_encode(p.request_token())}
    )
    p.finish_token(b64u_decode(issued.json()["blind_sig"]))
    leaf = p.make_leaf(answers_for(p.manifest, ward, 2))
    state = tmp_path / "state.json"
    save_state(state, participant_state(office.round_id, normalize_code(code), p))
    cast = httpx.post(f"{base}/ballots", content=leaf)  # the answer is lost
    assert cast.status_code == 200
    before = board_size(url, office)

    # --answers is ignored now: the sealed ballot in the state file is sent again
    result, _, receipt = vote(
        url, office, code, tmp_path, answers_for(p.manifest, ward, 0), "--state", state
    )
    assert result.exit_code == 0, result.output
    assert "đang gửi lại đúng phiếu đó" in result.stdout
    assert board_size(url, office) == before
    assert json.loads(receipt.read_text())["leaf_index"] == cast.json()["leaf_index"]


def test_a_second_use_of_a_code_is_refused(
    live: tuple[Office, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    office, url = live
    code, ward = office.codes[2]
    manifest = get_manifest(url, office)
    monkeypatch.chdir(tmp_path)  # the default state and receipt files land here
    args = ("vote", "--server", url, "--round", office.round_id, "--code", code)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(answers_for(manifest, ward, 0)))
    result = invoke(*args, "--answers", answers)
    assert result.exit_code == 0, result.output
    [receipt] = tmp_path.glob(f"receipt-{office.round_id}-*.json")
    receipt_code = Receipt.from_json(json.loads(receipt.read_text())).code
    assert receipt.name == f"receipt-{office.round_id}-{receipt_code}.json"
    [state] = tmp_path.glob(f"anonballot-vote-{office.round_id}-*.json")

    before = board_size(url, office)
    other = tmp_path / "another-device.json"
    result = invoke(*args, "--answers", answers, "--state", other)
    line = one_line_error(result, status=2)
    assert line.startswith("lỗi: Mã mời này đã được dùng để nhận thẻ bỏ phiếu")
    assert line.endswith("(this invitation code already received a token for another request)")
    assert not other.exists()  # nothing to resume
    assert board_size(url, office) == before

    # an unfinished state file belongs to its code
    p = Participant(httpx.get(f"{url}/api/rounds/{office.round_id}/manifest").json(), ward)
    p.request_token()
    save_state(other, participant_state(office.round_id, normalize_code(code), p))
    code2, _ = office.codes[3]
    result = invoke(
        "vote", "--server", url, "--round", office.round_id, "--code", code2, "--state", other
    )
    assert "is the state of another invitation code" in one_line_error(result)
    # a finished one only shows its receipt again
    other.write_text(state.read_text())
    result = invoke(*args, "--state", other)
    assert result.exit_code == 0, result.output
    assert "Bạn đã bỏ phiếu trong đợt này." in result.stdout
    assert board_size(url, office) == before


def test_bad_vote_input_uses_no_code(live: tuple[Office, str], tmp_path: Path) -> None:
    office, url = live
    code, ward = office.codes[4]
    manifest = get_manifest(url, office)
    bad = answers_for(manifest, ward, 0)
    del bad[next(iter(bad))]
    result, state, _ = vote(url, office, code, tmp_path, bad)
    assert "answers must cover exactly the ward's subjects" in one_line_error(result)
    assert not state.exists()
    result, _, _ = vote(url, office, "0000-0000-0000-000", tmp_path, bad)
    assert "16 characters" in one_line_error(result)
    result, _, _ = vote(url, office, "0000-0000-0000-0000", tmp_path, bad)
    assert one_line_error(result).endswith("(this invitation code is not on the roster)")
    # the code is still good
    result, _, _ = vote(url, office, code, tmp_path, answers_for(manifest, ward, 0))
    assert result.exit_code == 0, result.output


def test_interactive_vote_in_vietnamese(live: tuple[Office, str], tmp_path: Path) -> None:
    office, url = live
    code, ward = office.codes[5]
    manifest = get_manifest(url, office)
    q = manifest.questionnaire
    lines: list[str] = []
    for _ in manifest.subjects_of(ward):
        lines += ["9", "x", str(len(q.answer_ids))]  # two bad answers, then abstain
        lines += ["1"] * (len(q.criteria) - 1)
        lines += ["Ý kiến " * 400] + [""] * len(q.comments)  # too long, asked again
    lines += ["có lẽ", "c"]
    result, _, receipt = vote(url, office, code, tmp_path, None, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert "Xin nhập một số từ 1 đến 5." in result.stdout
    assert "Tối đa 1000 ký tự" in result.stdout
    assert "Xin gõ c (có) hoặc k (không)." in result.stdout
    assert "Xem lại phiếu" in result.stdout
    assert "MÃ BIÊN NHẬN" in result.stdout
    assert receipt.exists()


def test_receipt_verify_input_errors(live: tuple[Office, str], tmp_path: Path) -> None:
    _, url = live
    bad = tmp_path / "receipt.json"
    bad.write_text('{"round": "x"}')
    result = invoke("receipt", "verify", bad, "--server", url)
    assert "a receipt has exactly" in one_line_error(result)
    result = invoke("receipt", "verify", bad)
    assert "cần đúng một trong --server URL, --record HỒ-SƠ và --manifest TỆP" in one_line_error(
        result
    )
    foreign = {
        "round": b64u_encode(bytes(32)),
        "leaf_index": 0,
        "leaf_hash": b64u_encode(bytes(32)),
        "checkpoint": "x",
        "inclusion": [],
    }
    bad.write_text(json.dumps(foreign))
    result = invoke("receipt", "verify", bad, "--server", url)
    assert "has no round" in one_line_error(result)
    result = invoke("receipt", "verify", bad, "--record", tmp_path / "nothing")
    assert "no such file or folder" in one_line_error(result)


def test_a_two_phase_round_says_when_to_come_back(tmp_path: Path) -> None:
    """During issuance the token is taken and the ballot sealed, then the command says when
    voting opens (exit 1); after issuance, a code without a token hears it is too late."""
    import dataclasses
    import datetime as dt

    from _live import serve_app
    from conftest import all_answers

    from anonballot.manifest import Window
    from anonballot.server.app import create_app
    from anonballot.server.roster import RosterEntry
    from anonballot.server.service import Service
    from anonballot.testing import demo_config

    start = dt.datetime(2026, 5, 4, 0, 0, tzinfo=dt.UTC)  # 07:00 in Hà Nội
    now = [start + dt.timedelta(hours=1)]
    service = Service(tmp_path / "data", key_bits=2048, clock=lambda: now[0])
    config, _ = demo_config(wards=1, round_id="two-phase")
    config = dataclasses.replace(
        config,
        issuance=Window("2026-05-04T00:00:00Z", "2026-05-09T00:00:00Z"),
        voting=Window("2026-05-11T00:00:00Z", "2026-05-16T00:00:00Z"),
    )
    service.set_district(config.district)
    ward = config.district.wards[0].id
    service.import_roster([RosterEntry(ward, f"Người {i}") for i in range(2)])
    service.create_round(config)
    early, late = (i.code for i in service.make_invitations("two-phase"))
    service.round("two-phase").open()
    manifest = service.round("two-phase").manifest
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(all_answers(manifest, ward, "tot")), encoding="utf-8")
    try:
        seen: list[str] = []  # every request the server got: path, query and body
        app = create_app(service)

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                body = b""

                async def tee() -> Any:
                    nonlocal body
                    message = await receive()
                    body += message.get("body", b"")
                    return message

                await app(scope, tee, send)
                seen.append(f"{scope['path']}?{scope['query_string'].decode()} {body.decode()}")
                return
            await app(scope, receive, send)

        with serve_app(recording) as url:

            def vote(code: str, state: str) -> Result:
                return invoke(
                    "vote", "--server", url, "--round", "two-phase", "--code", code,
                    "--answers", answers, "--state", tmp_path / state,
                    "--receipt", tmp_path / f"{state}.receipt", "--lang", "en",
                )  # fmt: skip

            result = vote(early, "early.json")
            assert result.exit_code == 1, result.output
            assert "Voting token received." in result.stdout
            assert result.stderr.strip().startswith(
                "error: the voting token is taken and the ballot sealed, but voting has not "
                "started: from 07:00 11/05/2026 to 07:00 16/05/2026 (Hà Nội time)"
            )
            now[0] = dt.datetime(2026, 5, 12, 3, 0, tzinfo=dt.UTC)
            result = vote(early, "early.json")
            assert result.exit_code == 0, result.output
            assert "Your ballot has been recorded." in result.stdout
            # the receipt also as a c2sp.org/tlog-proof, checked offline with the manifest
            proof = tmp_path / "early.json.tlog-proof"  # beside early.json.receipt
            assert proof.read_text(encoding="utf-8").startswith("c2sp.org/tlog-proof@v1\n")
            signed = tmp_path / "manifest.json"
            signed.write_bytes(jcs(service.round("two-phase").signed_manifest()))
            offline = invoke("receipt", "verify", proof, "--manifest", signed, "--lang", "en")
            assert offline.exit_code == 0, offline.output
            assert "Checked offline" in offline.stdout
            assert offline.stdout.splitlines()[-1] == "All checks pass."
            # a written-down receipt code, looked up in the tiles: no request names it
            code = Receipt.from_json(json.loads((tmp_path / "early.json.receipt").read_text())).code
            seen.clear()
            found = invoke("receipt", "verify", "--code", code.upper().replace("-", " "),
                           "--server", url, "--round", "two-phase", "--lang", "en")  # fmt: skip
            assert found.exit_code == 0, found.output
            assert code in found.stdout
            assert "the server does not learn which ballot" in found.stdout
            assert seen
            assert all(code.replace("-", "") not in r.replace("-", "") for r in seen)
            assert any("/log/two-phase/tile/0/" in r for r in seen)
            absent = invoke("receipt", "verify", "--code", "0000-0000-0000-0000-0000",
                            "--server", url, "--round", "two-phase", "--lang", "en")  # fmt: skip
            assert absent.exit_code == 1, absent.output
            assert "no ballot on the board of 1 has the receipt code" in absent.stderr
            forged = tmp_path / "forged.tlog-proof"
            text = proof.read_text(encoding="utf-8").replace("index 0", "index 1")
            forged.write_text(text, encoding="utf-8")
            refused = invoke("receipt", "verify", forged, "--manifest", signed, "--lang", "en")
            assert refused.exit_code == 1, refused.output
            result = vote(late, "late.json")
            assert result.exit_code == 1, result.output
            assert "this code can no longer get a voting token" in result.stderr
            assert "contact the ward's organizers" in result.stderr
            assert not (tmp_path / "late.json").exists()  # nothing to resume
    finally:
        service.close()


@pytest.mark.parametrize("typed", ["²", "١", "３"])
def test_a_choice_is_ascii_digits(typed: str) -> None:
    # "²".isdigit() is true and int("²") fails: such a choice is asked again, no traceback
    from anonballot.cli.participant import Lang, _ask_number

    with CliRunner().isolation(input=f"{typed}\n2\n") as (out, _, _):
        assert _ask_number(Lang("en"), 4, None) == 2
    assert "Traceback" not in out.getvalue().decode()
