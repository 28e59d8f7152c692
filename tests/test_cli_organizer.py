"""The organizer's commands, in-process (CliRunner), against a real server in a thread."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openpyxl
import pytest
import yaml
from _live import Office, demo_office, free_port, server_thread
from click.testing import CliRunner, Result
from test_slips import decode, svg_image

from anonballot.cli.main import main
from anonballot.cli.organizer import load_config_file
from anonballot.district import District, Subject
from anonballot.encoding import b64u_decode, b64u_encode
from anonballot.manifest import PreviousRound, RoundConfig
from anonballot.participant import Participant
from anonballot.testing import DEMO_TRUSTEES, long_bien_district, random_answers
from anonballot.trustee import TrusteeKey

BOOTH = "https://bau-cu.long-bien.example"
ROSTER = {"bo-de": 4, "cu-khoi": 4}
"""What demo_office puts on the roster."""


@dataclass
class Live:
    office: Office
    url: str
    tmp: Path

    def run(
        self, *args: str | Path, token: str | None = "", env: dict[str, str] | None = None
    ) -> Result:
        """The command with ANONBALLOT_SERVER set, and the office's token unless ``token``."""
        variables: dict[str, str | None] = {
            "ANONBALLOT_SERVER": self.url,
            "ANONBALLOT_TOKEN": self.office.token if token == "" else token,
            **(env or {}),
        }
        return CliRunner().invoke(main, [str(a) for a in args], env=variables)

    def admin(self, path: str) -> object:
        answer = httpx.get(
            self.url + path, headers={"authorization": f"Bearer {self.office.token}"}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """A fresh office and server, for a test that changes them."""
    office = demo_office(tmp_path / "data", open_round=False, results_access="restricted")
    with server_thread(office.data) as url:
        yield Live(office, url, tmp_path)


@pytest.fixture(scope="module")
def shared_office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Office, str]]:
    office = demo_office(tmp_path_factory.mktemp("shared") / "data", open_round=False)
    with server_thread(office.data) as url:
        yield office, url


@pytest.fixture
def ro(shared_office: tuple[Office, str], tmp_path: Path) -> Live:
    """One office and server for the tests that leave them as they were (every refusal)."""
    return Live(*shared_office, tmp_path)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def one_line_error(result: Result, status: int = 2) -> str:
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# -- district -------------------------------------------------------------------------------------


def test_district_example_set_and_show(live: Live) -> None:
    example = ok(live.run("district", "example"))
    assert example.startswith("# anonballot district")
    path = live.tmp / "district.yaml"
    # an editor on another system may write decomposed (NFD) Vietnamese: it is stored as NFC
    path.write_text(unicodedata.normalize("NFD", example), encoding="utf-8")
    assert District.from_json(load_config_file(path)) == long_bien_district()
    out = ok(live.run("district", "set", path))
    assert out == "district Quận Long Biên: 14 wards, 2 roles, 28 people rated\n"
    assert live.admin("/api/admin/district") == long_bien_district().to_json()

    shown = live.tmp / "shown.yaml"
    shown.write_text(ok(live.run("district", "show")), encoding="utf-8")
    assert District.from_json(load_config_file(shown)) == long_bien_district()
    as_json = json.loads(ok(live.run("district", "show", "--json")))
    assert as_json == long_bien_district().to_json()

    as_file = live.tmp / "district.json"
    as_file.write_text(json.dumps(as_json), encoding="utf-8")
    assert "14 wards" in ok(live.run("district", "set", as_file))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: {vi: X}\nwards: []\nroles: []\nsubjects: []\n", "wards: expected at least 1"),
        ("name: {vi: X}\nname: {vi: Y}\n", "line 2 column 1: the key 'name' appears twice"),
        ("name: [unclosed\n", "not valid YAML: line 2"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_district_set_bad_file(ro: Live, text: str, message: str) -> None:
    path = ro.tmp / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    line = one_line_error(ro.run("district", "set", path))
    assert line.startswith(f"error: {path}: ")
    assert message in line
    assert len(ro.admin("/api/admin/district")["wards"]) == 2  # type: ignore[index]


def test_yaml_keeps_times_and_words_as_text(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("opens: 2026-11-02T08:00:00+07:00\nid: no\nflag: true\n", encoding="utf-8")
    assert load_config_file(path) == {
        "opens": "2026-11-02T08:00:00+07:00",
        "id": "no",
        "flag": True,
    }


# -- roster ---------------------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


GOOD_CSV = (
    "\ufeffPhường,Họ và tên,Chức vụ\r\n"
    "Phường Bồ Đề,Nguyễn Văn An,Bí thư chi bộ\r\n"
    "cu-khoi,Trần Thị Bình,\r\n"
    "\r\n"
    'bo de,"Lê Văn Cường, Tổ 5",Tổ trưởng tổ dân phố\r\n'
)


@pytest.mark.parametrize("kind", ["csv-bom", "csv-semicolon", "xlsx"])
def test_roster_import(live: Live, kind: str) -> None:
    if kind == "csv-bom":
        path = live.tmp / "roster.csv"
        path.write_text(GOOD_CSV, encoding="utf-8")
    elif kind == "csv-semicolon":
        path = live.tmp / "roster.csv"
        path.write_text(
            GOOD_CSV.removeprefix("\ufeff").replace(",", ";").replace('"Lê Văn Cường; Tổ 5"',
                                                                       "Lê Văn Cường"),
            encoding="utf-8",
        )  # fmt: skip
    else:
        path = write_xlsx(
            live.tmp / "roster.xlsx",
            [["ward", "name", "position"], ["Bồ Đề", "Nguyễn Văn An", None],
             ["Phường Cự Khối", "Trần Thị Bình", "Cán bộ"], [None, None, None],
             ["bo-de", "Lê Văn Cường", ""]],
        )  # fmt: skip
    # the roster has people in these wards: adding to them is asked for, not assumed
    refused = one_line_error(live.run("roster", "import", path))
    assert "the roster already has people in bo-de (4), cu-khoi (4)" in refused
    assert "--append" in refused
    assert live.admin("/api/admin/roster") == {"bo-de": 4, "cu-khoi": 4}
    out = ok(live.run("roster", "import", path, "--append"))
    if kind == "xlsx":  # a workbook names the sheet it read
        assert out.startswith("reading the sheet «Sheet» of roster.xlsx\n")
        out = out.split("\n", 1)[1]
    assert out.splitlines() == [
        "imported 3 participants",
        "  Phường Bồ Đề (bo-de): 2 imported, 6 on the roster",
        "  Phường Cự Khối (cu-khoi): 1 imported, 5 on the roster",
    ]
    assert live.admin("/api/admin/roster") == {"bo-de": 6, "cu-khoi": 5}
    again = one_line_error(live.run("roster", "import", path, "--append"))
    assert "3 row(s) are already on the roster" in again
    assert "the same file imported twice?" in again
    assert live.admin("/api/admin/roster") == {"bo-de": 6, "cu-khoi": 5}
    out = ok(live.run("roster", "import", path, "--replace"))
    assert "imported 3 participants (roster replaced)\n" in out
    assert live.admin("/api/admin/roster") == {"bo-de": 2, "cu-khoi": 1}
    assert ok(live.run("roster", "show")).splitlines() == [
        "Phường Bồ Đề (bo-de): 2", "Phường Cự Khối (cu-khoi): 1", "total: 3"
    ]  # fmt: skip


BAD_ROSTERS: dict[str, tuple[str, object, list[str]]] = {
    "bad rows": (
        "roster.csv",
        "ward,name,position\n"
        "bo-de,Nguyễn Văn An,Cán bộ\n"
        "phuong-x,Trần Thị Bình,\n"
        "cu-khoi,,Tổ trưởng\n"
        ",Lê Văn Cường,\n"
        "Phường Cự Khối,Phạm Thị Dung,Bí thư chi bộ\n"
        "Long Biên,Hoàng Văn Em,\n",
        ["line 3: unknown ward 'phuong-x'", "line 4: no name", "line 5: no ward",
         "line 7: unknown ward 'Long Biên'"],
    ),
    "empty file": ("roster.csv", "", ["line 1: the file is empty"]),
    "bad header": (
        "roster.csv",
        "phường,chức vụ\nbo-de,Cán bộ\n",
        ["line 1: no header row with the columns ward, name (ward, name, position) in the "
         "first 20 rows"],
    ),
    "only a header": ("roster.csv", "\ufeffward,name\n", ["line 2: no participants in the file"]),
    "BOM and semicolons": (
        "roster.csv",
        "\ufeffPhường;Họ tên;Chức vụ\nBồ Đề;Nguyễn Văn An;\nNgọc Lâm;Trần Thị Bình;\n;;\n"
        "Cự Khối;;\n",
        ["line 3: unknown ward 'Ngọc Lâm'", "line 5: no name"],
    ),
    "not UTF-8": (
        "roster.csv",
        "ward,name\nbo-de,An\nbo-de,Hélène Côté\n".encode("latin-1"),  # an old code page
        ["line 3: not UTF-8 text (save the file as CSV UTF-8)"],
    ),
    "xlsx": (
        "roster.xlsx",
        [["Phường", "Họ tên"], ["Bồ Đề", "Nguyễn Văn An"], ["Gia Thụy", "Trần Thị Bình"],
         ["cu-khoi", None], [None, None], [None, "Lê Văn Cường"]],
        ["line 3: unknown ward 'Gia Thụy'", "line 4: no name", "line 6: no ward"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_ROSTERS)
def test_roster_with_bad_rows_imports_nothing(ro: Live, case: str) -> None:
    name, content, problems = BAD_ROSTERS[case]
    path = ro.tmp / name
    if isinstance(content, list):
        write_xlsx(path, content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        assert isinstance(content, str)
        path.write_bytes(content.encode("utf-8"))
    result = ro.run("roster", "import", path)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {path}: {p}" for p in problems] + [
        f"error: {path}: {len(problems)} bad row(s); nothing was imported"
    ]
    assert ro.admin("/api/admin/roster") == ROSTER


def test_roster_that_is_not_a_spreadsheet(ro: Live) -> None:
    path = ro.tmp / "roster.txt"
    path.write_text("ward,name\nbo-de,An\n", encoding="utf-8")
    assert "a roster is a .csv or .xlsx file" in one_line_error(ro.run("roster", "import", path))
    broken = ro.tmp / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    assert "not a readable .xlsx file" in one_line_error(ro.run("roster", "import", broken))
    missing = one_line_error(ro.run("roster", "import", ro.tmp / "nowhere.csv"))
    assert "nowhere.csv" in missing
    assert ro.admin("/api/admin/roster") == ROSTER


# -- rounds ---------------------------------------------------------------------------------------


def trustee_files(tmp: Path) -> list[Path]:
    files = []
    for tid, name in DEMO_TRUSTEES:
        path = tmp / f"{tid}.key.pub.json"
        path.write_text(json.dumps(TrusteeKey.generate(tid).public(name).to_json()), "utf-8")
        files.append(path)
    return files


def test_example_config_with_trustees_then_create(live: Live) -> None:
    district = live.tmp / "district.yaml"
    district.write_text(ok(live.run("district", "show")), encoding="utf-8")
    args: list[str | Path] = ["round", "example-config", "--district", district, "--id", "may-2026",
                              "--start", "2026-05-04T07:00:00+07:00", "--days", "5"]  # fmt: skip
    for path in trustee_files(live.tmp):
        args += ["--trustee", path]
    result = live.run(*args)
    text = ok(result)
    assert result.stderr == ""
    assert "# The trustees: each one's PUBLIC keys" in text
    config_file = live.tmp / "may.yaml"
    config_file.write_text(text, encoding="utf-8")
    config = RoundConfig.from_json(load_config_file(config_file))
    # two-phase unless told otherwise: the codes the first half, then voting
    assert (config.issuance.opens, config.issuance.closes) == (
        "2026-05-04T07:00:00+07:00", "2026-05-06T07:00:00+07:00",
    )  # fmt: skip
    assert config.voting.opens == "2026-05-06T07:00:00+07:00"
    assert config.voting.closes == "2026-05-09T07:00:00+07:00"
    assert config.title["en"] == "Rating the heads of the wards, May 2026"
    assert [w.id for w in config.district.wards] == ["bo-de", "cu-khoi"]
    assert config.threshold == 2
    assert len(config.trustees) == 3

    out = ok(live.run("round", "create", "--config", config_file))
    assert out.startswith("round may-2026 created (draft): 2 wards, 3 trustees, 2 needed")
    assert "may-2026\tdraft\t-" in ok(live.run("round", "list")).splitlines()
    shown = live.tmp / "shown.yaml"
    shown.write_text(ok(live.run("round", "show", "may-2026")), encoding="utf-8")
    assert RoundConfig.from_json(load_config_file(shown)) == config
    as_json = json.loads(ok(live.run("round", "show", "may-2026", "--json")))
    assert RoundConfig.from_json(as_json) == config

    # the same configuration as JSON, under another id
    json_file = live.tmp / "june.json"
    json_file.write_text(json.dumps({**as_json, "round_id": "june-2026"}), encoding="utf-8")
    assert "round june-2026 created" in ok(live.run("round", "create", "--config", json_file))
    # the same id again: the server's refusal, one line
    line = one_line_error(live.run("round", "create", "--config", config_file))
    assert line == "error: round 'may-2026' already exists"


def test_example_config_without_trustees_has_placeholders(live: Live) -> None:
    result = live.run("round", "example-config", "--id", "nov-2026")
    text = ok(result)
    assert "warning: the trustees' keys are placeholders" in result.stderr
    config = load_config_file_text(live.tmp / "nov.yaml", text)
    assert len(config["wards"]) == 14
    assert config["trustees"][0]["hpke_key"].startswith("REPLACE")
    line = one_line_error(live.run("round", "create", "--config", live.tmp / "nov.yaml"))
    assert line.startswith(f"error: {live.tmp / 'nov.yaml'}: trustees[0].hpke_key")
    assert [r["round_id"] for r in json.loads(httpx.get(live.url + "/api/rounds").text)] == [
        live.office.round_id
    ]


def load_config_file_text(path: Path, text: str) -> dict[str, list[dict[str, str]]]:
    path.write_text(text, encoding="utf-8")
    value = load_config_file(path)
    assert isinstance(value, dict)
    return value


NOV_TITLE = ("--title", "Lấy ý kiến tháng 11/2026")


def test_clone_the_may_round_into_november(live: Live) -> None:
    r = live.office.round_id
    out = ok(live.run(
        "round", "clone", r, "--id", "nov-2026", "--title", "Lấy ý kiến tháng 11/2026",
        "--title-en", "Rating, November 2026",
        "--issuance", "2026-11-02T07:00:00+07:00/2026-11-06T17:00:00+07:00",
        "--voting", "2026-11-02T07:00:00+07:00/2026-11-09T17:00:00+07:00",
    ))  # fmt: skip
    assert out.startswith("round nov-2026 created (draft) from test-round")
    # a draft has no mid: the clone is a copy, not the next round of a series
    assert "note: test-round has not closed, so nov-2026 does not follow it" in out
    old = RoundConfig.from_json(live.admin(f"/api/admin/rounds/{r}/config"))
    new = RoundConfig.from_json(live.admin("/api/admin/rounds/nov-2026/config"))
    assert new.round_id == "nov-2026"
    assert new.title == {"vi": "Lấy ý kiến tháng 11/2026", "en": "Rating, November 2026"}
    assert new.origin == "district.example/log/nov-2026"
    assert new.issuance.closes == "2026-11-06T17:00:00+07:00"
    assert new.voting.closes == "2026-11-09T17:00:00+07:00"
    assert new.previous is None
    assert (new.questionnaire, new.district, new.trustees, new.threshold, new.results_access) == (
        old.questionnaire, old.district, old.trustees, old.threshold, old.results_access,
    )  # fmt: skip

    ok(live.run("round", "clone", "nov-2026", "--id", "may-2027", *NOV_TITLE, "--start",
                "2027-05-03T07:00:00Z", "--days", "3"))  # fmt: skip
    may = RoundConfig.from_json(live.admin("/api/admin/rounds/may-2027/config"))
    assert may.issuance == may.voting
    assert (may.voting.opens, may.voting.closes) == ("2027-05-03T07:00:00Z", "2027-05-06T07:00:00Z")


def test_the_next_round_of_a_series(live: Live) -> None:
    """Clone a closed round after the district changed: a new office holder in one ward."""
    r = live.office.round_id
    ok(live.run("round", "open", r))
    ok(live.run("round", "close", r, "--force"))
    mid = httpx.get(f"{live.url}/api/rounds").json()[0]["mid"]
    district = District.from_json(live.admin("/api/admin/district"))
    subjects = []
    for s in district.subjects:
        if s.id == "bo-de-secretary":  # a new secretary: a new id
            s = Subject("bo-de-secretary-2", s.ward, s.role, {"vi": "Trần Thị Lan"})
        elif s.id == "cu-khoi-chairman":  # the same id under another name: a likely mistake
            s = Subject(s.id, s.ward, s.role, {"vi": "Lê Văn Hòa"})
        subjects.append(s)
    changed = dataclasses.replace(district, subjects=tuple(subjects))
    district_file = live.tmp / "district.json"
    district_file.write_text(json.dumps(changed.to_json(), ensure_ascii=False), "utf-8")
    ok(live.run("district", "set", district_file))

    result = live.run("round", "clone", r, "--id", "nov-2026", *NOV_TITLE,
                      "--start", "2026-11-02T07:00:00+07:00")  # fmt: skip
    out = ok(result)
    assert f"follows round test-round (mid {mid})" in out.splitlines()
    assert (
        "new in this post: Bí thư Đảng ủy phường, Phường Bồ Đề: Trần Thị Lan "
        "(bo-de-secretary-2) after Bí thư Đảng ủy phường Bồ Đề (tên mẫu) (bo-de-secretary)"
    ) in out.splitlines()
    assert result.stderr.splitlines() == [
        "warning: cu-khoi-chairman keeps its id but changed (name 'Chủ tịch UBND phường Cự "
        "Khối (tên mẫu)' -> 'Lê Văn Hòa'): reports compare it with the previous round; a new "
        "office holder needs a new id",
        "warning: the windows for activating the codes and for voting overlap: a participant "
        "who activates the code and votes at once can be matched by the time; a two-phase "
        "round (codes first, voting after) protects them: see "
        "docs/operations.md#the-two-phase-round",
    ]
    new = RoundConfig.from_json(live.admin("/api/admin/rounds/nov-2026/config"))
    assert new.district == changed  # the district as it is now, not as it was in May
    assert new.previous == PreviousRound("test-round", mid)
    assert new.results_access == "restricted"
    ok(live.run("round", "open", "nov-2026"))
    manifest = live.admin("/api/rounds/nov-2026/manifest")
    assert isinstance(manifest, dict)
    assert manifest["manifest"]["previous"] == {"round_id": "test-round", "mid": mid}
    assert manifest["manifest"]["results_access"] == "restricted"


def test_create_with_previous(live: Live) -> None:
    r = live.office.round_id
    config = json.loads(ok(live.run("round", "show", r, "--json")))
    config_file = live.tmp / "next.json"
    config_file.write_text(json.dumps({**config, "round_id": "next"}), encoding="utf-8")
    line = one_line_error(live.run("round", "create", "--config", config_file, "--previous", "x"))
    assert line == "error: --previous: there is no round 'x' on the server"
    line = one_line_error(live.run("round", "create", "--config", config_file, "--previous", r))
    assert line == (
        "error: --previous: round test-round is draft; a round follows one that has closed "
        "(its mid and final board are what reports compare against)"
    )
    ok(live.run("round", "open", r))
    line = one_line_error(live.run("round", "create", "--config", config_file, "--previous", r))
    assert "round test-round is open" in line
    ok(live.run("round", "close", r, "--force"))
    mid = httpx.get(f"{live.url}/api/rounds").json()[0]["mid"]
    out = ok(live.run("round", "create", "--config", config_file, "--previous", r))
    lines = out.splitlines()
    assert lines[0] == (
        "round next created (draft): 2 wards, 3 trustees, 2 needed to open the ballots; "
        "results restricted"
    )
    assert lines[1].startswith("activating the codes: ")
    assert lines[2] == f"follows round test-round (mid {mid})"
    made = RoundConfig.from_json(live.admin("/api/admin/rounds/next/config"))
    assert made.previous == PreviousRound(r, mid)
    # a round of this server named with another mid: the server refuses it
    wrong = {**config, "round_id": "other", "previous": {"round_id": r, "mid": "A" * 43}}
    config_file.write_text(json.dumps(wrong), encoding="utf-8")
    line = one_line_error(live.run("round", "create", "--config", config_file))
    assert line == f"error: previous: round test-round on this server has mid {mid}, not {'A' * 43}"
    # a round cannot follow itself
    config_file.write_text(json.dumps({**config, "round_id": r}), encoding="utf-8")
    line = one_line_error(live.run("round", "create", "--config", config_file, "--previous", r))
    itself = "previous.round_id: the round test-round cannot follow itself"
    assert line == f"error: --previous test-round: {itself}"


def test_clone_needs_a_title(ro: Live) -> None:
    result = ro.run("round", "clone", ro.office.round_id, "--id", "nov", "--start",
                    "2026-11-02T07:00:00Z")  # fmt: skip
    assert result.exit_code == 2
    assert "Missing option '--title'" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--issuance", "2026-11-02T07:00:00Z/2026-11-03T07:00:00Z"], "give both --issuance"),
        (["--issuance", "2026-11-02T07:00:00Z", "--voting", "x/y"], "expected OPENS/CLOSES"),
        (["--start", "2 November 2026"], "is not an RFC 3339 time such as"),
        (["--start", "2026-11-02T07:00:00"], "is not an RFC 3339 time"),  # no offset
        ([], "give the windows"),
        (["--issuance", "2026-11-03T07:00:00Z/2026-11-02T07:00:00Z",
          "--voting", "2026-11-02T07:00:00Z/2026-11-09T07:00:00Z"], "opens must be before"),
    ],
)  # fmt: skip
def test_clone_with_bad_windows(ro: Live, args: list[str], message: str) -> None:
    line = one_line_error(
        ro.run("round", "clone", ro.office.round_id, "--id", "nov", *NOV_TITLE, *args)
    )
    assert message in line


def test_clone_errors_from_the_server(ro: Live) -> None:
    win = ["--start", "2026-11-02T07:00:00Z", *NOV_TITLE]
    line = one_line_error(ro.run("round", "clone", "no-such-round", "--id", "nov", *win))
    assert line == "error: there is no round 'no-such-round'"
    line = one_line_error(ro.run("round", "clone", ro.office.round_id, "--id", "test-round",
                                   *win))  # fmt: skip
    assert line == "error: round 'test-round' already exists"


# -- invitations ----------------------------------------------------------------------------------


def test_invitations_write_slips_and_csv(live: Live) -> None:
    ok(live.run("round", "clone", live.office.round_id, "--id", "nov-2026", *NOV_TITLE,
                "--start", "2026-11-02T07:00:00+07:00"))  # fmt: skip
    out = live.tmp / "slips.html"
    out.write_text("an older file", encoding="utf-8")
    line = one_line_error(live.run("invitations", "nov-2026", "--out", out))
    assert line == f"error: {out} exists; use --force to replace it"
    bad = one_line_error(live.run("invitations", "nov-2026", "--out", live.tmp / "s.pdf"))
    assert "ends in .html" in bad
    bad = one_line_error(
        live.run("invitations", "nov-2026", "--out", live.tmp / "a.html", "--booth-url", "x?y")
    )
    assert "is not an http(s) URL" in bad

    # nothing was made by the refusals above: the codes are made now, once
    result = live.run("invitations", "nov-2026", "--out", out, "--booth-url", BOOTH, "--force")
    stdout = ok(result)
    assert stdout.splitlines() == [
        f"8 slips on 2 A4 sheets: {out}",
        f"codes per participant (ward,participant,code): {live.tmp / 'slips.csv'}",
        "  Phường Bồ Đề (bo-de): 4",
        "  Phường Cự Khối (cu-khoi): 4",
        "activating the codes: 07:00 02/11/2026 to 07:00 09/11/2026; voting: 07:00 02/11/2026 "
        "to 07:00 09/11/2026 (Hà Nội time)",
    ]
    assert "the codes are shown only once" in result.stderr
    assert "cannot reach" not in result.stderr
    for path in (out, live.tmp / "slips.csv"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    text = (live.tmp / "slips.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["participant"] for r in rows) == sorted(
        f"Người {w} {i}" for w, n in ROSTER.items() for i in range(n)
    )
    page = out.read_text(encoding="utf-8")
    assert "Người" not in page  # no participant's name on a slip
    codes = {r["code"] for r in rows}
    assert len(codes) == 8
    decoded = []
    for chunk in page.split('<div class="slip">')[1:]:
        printed = chunk.split('<div class="code">', 1)[1].split("<", 1)[0]
        svg = "<svg" + chunk.split("<svg", 1)[1].split("</svg>", 1)[0] + "</svg>"
        url = decode(svg_image(svg))
        assert url == f"{BOOTH}/r/nov-2026#code={printed.replace('-', '')}"
        decoded.append(printed)
    assert sorted(decoded) == sorted(codes)

    # the codes are shown only once
    again = live.run("invitations", "nov-2026", "--out", live.tmp / "again.html")
    assert "already has invitation codes" in one_line_error(again)
    assert not (live.tmp / "again.html").exists()


def test_invitations_default_to_the_server_url(live: Live) -> None:
    ok(live.run("round", "clone", live.office.round_id, "--id", "nov-2026", *NOV_TITLE,
                "--start", "2026-11-02T07:00:00+07:00"))  # fmt: skip
    result = live.run("invitations", "nov-2026", "--out", live.tmp / "slips.html")
    ok(result)
    assert "which participants' phones cannot reach" in result.stderr
    page = (live.tmp / "slips.html").read_text(encoding="utf-8")
    assert f"{live.url}/r/nov-2026" in page
    # an open round takes no more invitations
    ok(live.run("round", "open", "nov-2026"))
    line = one_line_error(live.run("invitations", "nov-2026", "--out", live.tmp / "b.html"))
    assert line == "error: invitations are made while the round is a draft"


# -- a round from open to export ------------------------------------------------------------------


def cast_one(url: str, office: Office) -> None:
    code, ward = office.codes[0]
    with httpx.Client(base_url=f"{url}/api/rounds/{office.round_id}") as http:
        participant = Participant(http.get("/manifest").json(), ward)
        blinded = b64u_encode(participant.request_token())
        answer = http.post("/tokens", json={"code": code, "blinded": blinded})
        participant.finish_token(b64u_decode(answer.json()["blind_sig"]))
        rng = random.Random(3)
        leaf = participant.make_leaf(random_answers(participant.manifest, ward, rng))
        assert http.post("/ballots", content=leaf).status_code == 200
        # a second participant takes a token and does not cast
        code2, ward2 = office.codes[-1]
        other = Participant(http.get("/manifest").json(), ward2)
        blinded = b64u_encode(other.request_token())
        assert http.post("/tokens", json={"code": code2, "blinded": blinded}).status_code == 200


def test_open_turnout_close_tally_export(live: Live) -> None:
    r = live.office.round_id
    assert ok(live.run("round", "open", r)).splitlines() == [
        f"round {r}: open",
        f"watch it: anonballot turnout {r}",
    ]
    assert f"{r}\topen\t" in ok(live.run("round", "list"))
    cast_one(live.url, live.office)

    table = ok(live.run("turnout", r))
    assert "Rating the heads of the wards" in table
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines()]
    assert [row for row in cells if row] == [
        ["Phường Bồ Đề", "4", "1", "1", "25.0 %"],
        ["Phường Cự Khối", "4", "1", "0", "0.0 %"],
        ["Total", "8", "2", "1", "12.5 %"],
    ]
    assert "┃ Ward           ┃ Eligible ┃ Issued ┃ Cast ┃ Turnout ┃" in table
    assert "(Hà Nội time)" in table
    counts = json.loads(ok(live.run("turnout", r, "--json")))
    assert counts["total"] == {"eligible": 8, "issued": 2, "cast": 1}

    # before the voting window ends: refused, with how many tokens wait to be cast
    early = one_line_error(live.run("round", "close", r))
    assert "1 participant(s) took a token and have not cast their ballot yet" in early
    assert "--force" in early
    assert ok(live.run("round", "close", r, "--force")).startswith(f"round {r}: closed\n")
    line = one_line_error(live.run("round", "tally", r))
    assert "release" in line
    mid = httpx.get(f"{live.url}/api/rounds").json()[0]["mid"]
    for key in live.office.trustees[:2]:
        answer = httpx.post(f"{live.url}/api/rounds/{r}/releases", json=key.release(mid))
        assert answer.status_code == 200, answer.text
    assert ok(live.run("round", "tally", r)).startswith(f"round {r}: tallied\n")

    record = live.tmp / "record.zip"
    out = ok(live.run("round", "export", r, "--out", record))
    assert out.startswith(f"round record written to {record} (")
    assert ok(live.run("audit", record, "--workers", "1")).splitlines()[-1] == (
        "RESULT: all checks pass"
    )
    line = one_line_error(live.run("round", "export", r, "--out", record))
    assert line == f"error: {record} exists; use --force to replace it"
    ok(live.run("round", "export", r, "--out", record, "--force"))


def test_export_before_the_tally(ro: Live) -> None:
    line = one_line_error(ro.run("round", "export", ro.office.round_id, "--out",
                                   ro.tmp / "r.zip"))  # fmt: skip
    assert line == "error: the record exists once the round is tallied"
    assert not (ro.tmp / "r.zip").exists()


def test_unknown_round(ro: Live) -> None:
    for command in (["round", "open", "nope"], ["turnout", "nope"], ["round", "show", "nope"]):
        assert one_line_error(ro.run(*command)) == "error: there is no round 'nope'"


# -- the admin token and the server ---------------------------------------------------------------


def test_missing_token(ro: Live) -> None:
    for command in (["round", "open", "test-round"], ["district", "show"], ["turnout", "x"],
                    ["invitations", "test-round", "--out", ro.tmp / "s.html"]):  # fmt: skip
        line = one_line_error(ro.run(*command, token=None))
        assert line == "error: this needs the admin token: --token-file FILE or ANONBALLOT_TOKEN"
    assert "draft" in ok(ro.run("round", "list", token=None))  # public


def test_wrong_token(ro: Live) -> None:
    line = one_line_error(ro.run("round", "open", "test-round", token="not-the-token"))  # noqa: S106
    assert line == "error: the admin token is wrong"
    assert ro.admin("/api/rounds") == [{"round_id": "test-round", "mid": None, "state": "draft"}]


def test_token_file_and_server_option(ro: Live) -> None:
    runner = CliRunner()
    args = ["roster", "show", "--server", ro.url, "--token-file", str(ro.office.token_file)]
    result = runner.invoke(main, args, env={"ANONBALLOT_TOKEN": None, "ANONBALLOT_SERVER": None})
    assert ok(result).splitlines()[-1] == "total: 8"
    args[-1] = str(ro.tmp / "no.token")
    line = one_line_error(runner.invoke(main, args, env={"ANONBALLOT_TOKEN": None}))
    assert "no.token" in line


def test_server_not_running(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["round", "list", "--server", f"http://127.0.0.1:{free_port()}"],
        env={"ANONBALLOT_TOKEN": "x"},
    )
    line = one_line_error(result)
    assert line.startswith("error: cannot reach the server at http://127.0.0.1:")
    assert "--server URL or ANONBALLOT_SERVER" in line


def test_example_config_of_a_two_phase_round(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["round", "example-config", "--start", "2027-05-03T07:00:00+07:00", "--days", "7"]
    result = runner.invoke(main, [*args, "--issuance-days", "2"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "round.yaml"
    path.write_text(result.stdout, encoding="utf-8")
    value = load_config_file(path)
    assert value["issuance"] == {
        "opens": "2027-05-03T07:00:00+07:00",
        "closes": "2027-05-05T07:00:00+07:00",
    }
    assert value["voting"] == {
        "opens": "2027-05-05T07:00:00+07:00",
        "closes": "2027-05-10T07:00:00+07:00",
    }
    refused = runner.invoke(main, [*args, "--issuance-days", "7"])
    assert refused.exit_code == 2
    assert "--issuance-days: expected 1..6" in refused.output


def test_the_organizer_s_commands_speak_vietnamese_by_default(ro: Live) -> None:
    """Without --lang or ANONBALLOT_LANG: Vietnamese, errors included; --lang en switches."""
    vietnamese = {"ANONBALLOT_LANG": ""}
    shown = ro.run("roster", "show", env=vietnamese)
    assert ok(shown).splitlines()[-1] == "tổng: 8"
    refused = ro.run("round", "close", "no-such-round", env=vietnamese)
    assert refused.exit_code == 2
    assert refused.stderr.startswith("lỗi: ")
    assert ok(ro.run("--lang", "en", "roster", "show", env=vietnamese)).endswith("total: 8\n")
    config = ok(ro.run("round", "example-config", env=vietnamese))
    assert "# Các bên giữ khóa: khóa CÔNG KHAI của từng bên" in config
    assert "# Hạn kích hoạt mã mời" in config
    missing = CliRunner().invoke(
        main, ["round", "list", "--server", f"http://127.0.0.1:{free_port()}"],
        env={"ANONBALLOT_LANG": ""},
    )  # fmt: skip
    assert missing.stderr.startswith("lỗi: không kết nối được máy chủ http://127.0.0.1:")
    assert "ANONBALLOT_SERVER" in missing.stderr


def test_a_name_cut_at_a_comma_gets_a_hint(ro: Live) -> None:
    district = ro.tmp / "district.yaml"
    district.write_text(
        "name: {vi: Quận Long Biên}\nwards:\n- {id: bo-de, name: {vi: Phường Bồ Đề}}\n"
        "roles:\n- {id: secretary, title: {vi: Bí thư}}\nsubjects:\n"
        "- {id: bo-de-secretary, ward: bo-de, role: secretary, "
        "name: {vi: Nguyễn Văn A, Bí thư Đảng ủy}}\n",
        encoding="utf-8",
    )
    line = one_line_error(ro.run("district", "set", district))
    assert "is not a language tag" in line
    assert 'must be in quotes, e.g. name: {vi: "Nguyễn Văn A, Bí thư Đảng ủy"}' in line


def test_example_config_single_phase_is_said_to_be_weaker(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["round", "example-config", "--start", "2026-05-04T07:00:00+07:00",
               "--single-phase"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the windows for activating the codes and for voting overlap" in result.stderr
    config = yaml.safe_load(result.stdout)
    assert config["issuance"] == config["voting"]
