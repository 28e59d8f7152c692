"""Reading rosters: ward names matched with and without diacritics, never ambiguously."""

from __future__ import annotations

import pytest

from anonballot.district import Ward
from anonballot.server.roster import RosterError, parse_roster
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
