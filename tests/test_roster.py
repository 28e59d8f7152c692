"""Reading rosters: ward names matched with and without diacritics, never ambiguously."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from anonballot.district import Ward
from anonballot.server.roster import RosterEntry, RosterError, parse_roster, read_roster
from anonballot.testing import long_bien_district

WARDS = long_bien_district().wards


def test_ward_by_id_name_prefix_or_without_diacritics() -> None:
    rows = [["phường", "họ tên", "chức vụ"]] + [
        [ward, f"Người {i}", "Tổ trưởng"]
        for i, ward in enumerate(["bo-de", "Bồ Đề", "Phường Bồ Đề", "bo de", "BO DE"])
    ]
    entries = parse_roster(rows, WARDS)
    assert {e.ward for e in entries} == {"bo-de"}
    assert entries[0].position == "Tổ trưởng"


def test_two_wards_that_fold_alike_need_the_exact_name() -> None:
    wards = [Ward("a", {"vi": "Long Biên"}), Ward("b", {"vi": "Long Biện"})]
    assert parse_roster([["ward", "name"], ["Long Biện", "x"]], wards)[0].ward == "b"
    with pytest.raises(RosterError) as caught:
        parse_roster([["ward", "name"], ["Long Bien", "x"], ["nowhere", "y"]], wards)
    assert [line for line, _ in caught.value.problems] == [2, 3]
    assert "could be several wards" in caught.value.problems[0][1]


def test_a_ward_s_own_spreadsheet_with_a_title_and_stt() -> None:
    rows: list[list[object]] = [
        ["DANH SÁCH NGƯỜI THAM GIA LẤY Ý KIẾN", None, None],
        ["Phường Bồ Đề, tháng 5/2026", None, None],
        [None, None, None],
        ["STT", "Họ và tên", "Chức vụ"],
        [1, "Nguyễn Văn An", "Tổ trưởng tổ dân phố"],
        [2, "Trần Thị Bình", "Bí thư chi bộ"],
    ]
    entries = parse_roster(rows, WARDS, ward="Bồ Đề")
    assert entries == [
        RosterEntry("bo-de", "Nguyễn Văn An", "Tổ trưởng tổ dân phố"),
        RosterEntry("bo-de", "Trần Thị Bình", "Bí thư chi bộ"),
    ]
    with pytest.raises(RosterError) as caught:  # without --ward: it needs a ward column
        parse_roster(rows, WARDS)
    assert "no header row with the columns ward, name" in caught.value.problems[0][1]


def test_the_same_row_twice_is_refused_with_both_lines() -> None:
    rows = [["ward", "name", "position"], ["bo-de", "An", "x"], ["bo-de", "Bình", ""],
            ["bo-de", "An", "x"], ["bo-de", "An", "y"]]  # fmt: skip
    with pytest.raises(RosterError) as caught:
        parse_roster(rows, WARDS)
    assert caught.value.problems == [
        (4, "the same row as line 2 (ward, name and position): the same person twice? If they "
            "are two people, tell them apart in the position column")
    ]  # fmt: skip
    assert caught.value.lines("vi")[0][1].startswith("trùng hệt dòng 2")


def test_a_workbook_is_read_from_its_first_sheet_with_a_header(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    cover = book.active
    cover.title = "Hướng dẫn"
    cover.append(["Điền danh sách ở trang sau"])
    sheet = book.create_sheet("Danh sách")
    sheet.append(["Phường", "Họ và tên"])
    sheet.append(["Cự Khối", "Lê Văn Cường"])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    found = read_roster(path, WARDS)
    assert found.sheet == "Danh sách"
    assert found.entries == [RosterEntry("cu-khoi", "Lê Văn Cường")]
