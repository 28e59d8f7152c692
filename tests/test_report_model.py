"""The reports' view model (``server/reports/model.py``) on its own: no server, no HTML.

The results below are made up (they are not the tally of any ballots) so that every sum is
known: three demo wards, ``bo-de`` and ``duc-giang`` with enough valid ballots to be shown,
``cu-khoi`` with fewer than ``min_group`` (5).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from anonballot.manifest import Manifest
from anonballot.server.i18n import Messages
from anonballot.server.reports.model import (
    BAR_WIDTH,
    TURNOUT_WIDTH,
    ResultsView,
    bar,
)
from anonballot.server.reports.turnout import turnout_rows
from anonballot.signing import VerifyKey
from anonballot.testing import demo_config
from anonballot.tokens import IssuerPublicKey

LEVELS = ("tot", "kha", "trung-binh", "kem", "khong-danh-gia")
VALID = {"bo-de": 6, "cu-khoi": 2, "duc-giang": 9}


UNUSED_RSA = rsa.RSAPublicNumbers(65537, (1 << 2047) | 1).public_key()


def make_manifest(min_group: int = 5) -> Manifest:
    config, _ = demo_config(wards=3, round_id="model-test")
    config = dataclasses.replace(config, min_group=min_group)
    wards = [w.id for w in config.district.wards]
    return Manifest.build(
        config,
        eligible=dict.fromkeys(wards, 10),
        # Keys of the right shape that sign nothing: the view never reads them.
        issuer_keys=dict.fromkeys(wards, IssuerPublicKey.from_cryptography(UNUSED_RSA)),
        organizer_key=VerifyKey(bytes(32)),
        log_key=VerifyKey(bytes(32)),
    )


def criteria(manifest: Manifest, seed: int) -> dict[str, dict[str, int]]:
    """Distinct counts per criterion and level, derived from ``seed``."""
    return {
        c.id: {lv: (seed * 7 + i * 3 + j) % 5 for j, lv in enumerate(LEVELS)}
        for i, c in enumerate(manifest.questionnaire.criteria)
    }


def make_results(manifest: Manifest) -> dict[str, Any]:
    subjects = {
        s.id: {
            "ballots": VALID[s.ward],
            "criteria": criteria(manifest, n),
            "comments": {"uu-diem": [f"comment of {s.id}"]},
        }
        for n, s in enumerate(manifest.subjects)
    }
    # The results' own summaries: numbers that no sum of the subjects gives, so that a test
    # tells whether the view used them or added up the subjects itself.
    marker = {c.id: dict.fromkeys(LEVELS, 1000) for c in manifest.questionnaire.criteria}
    return {
        "wards": {
            w: {"eligible": 10, "issued": v + 1, "ballots": v + 1, "valid": v, "invalid": 1}
            for w, v in VALID.items()
        },
        "subjects": subjects,
        "roles": {
            r.id: {"subjects": 3, "ballots": 4242, "criteria": marker} for r in manifest.roles
        },
        "district": {"ballots": 8484, "criteria": marker},
        "invalid": [
            {"reason": "wrong_ward"},
            {"reason": "bad_key"},
            {"reason": "wrong_ward"},
            {"reason": "from_the_future"},
        ],
        "trustees": ["to-chuc", "tuyen-giao", "unknown"],
        "tree_size": 20,
    }


def added(manifest: Manifest, results: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    out = {c.id: dict.fromkeys(LEVELS, 0) for c in manifest.questionnaire.criteria}
    for s in manifest.subjects:
        if s.id in keep:
            for c, per_level in results["subjects"][s.id]["criteria"].items():
                for lv, n in per_level.items():
                    out[c][lv] += n
    return out


def test_a_ward_below_min_group_is_hidden_and_left_out_of_every_summary() -> None:
    manifest = make_manifest()
    results = make_results(manifest)
    view = ResultsView(manifest, results, Messages("en"))
    assert view.hidden_wards == ["cu-khoi"]
    assert [view.shown(w) for w in VALID] == [True, False, True]
    assert view.hidden_ward_names() == ["Cự Khối ward"]
    roles, district = view.aggregates()
    shown = {s.id for s in manifest.subjects if s.ward != "cu-khoi"}
    assert district.criteria == added(manifest, results, shown)
    assert district.subjects == 4
    assert district.ratings == 2 * (6 + 9)  # two people rated in each shown ward
    assert district.people == 6 + 9  # the valid ballots of the shown wards only
    for agg in roles:
        role = agg.key.removeprefix("role-")
        mine = {s for s in shown if s.endswith(f"-{role}")}
        assert agg.criteria == added(manifest, results, mine)
        assert (agg.subjects, agg.ratings, agg.people) == (2, 15, 15)
        assert not view.hidden(agg)


def test_without_a_hidden_ward_the_summaries_are_the_results_own() -> None:
    manifest = make_manifest(min_group=2)
    results = make_results(manifest)
    view = ResultsView(manifest, results, Messages("vi"))
    assert view.hidden_wards == []
    roles, district = view.aggregates()
    assert district.criteria is results["district"]["criteria"]
    # the district's ratings are its people's (2 per ward), never the results' count of
    # ballots (8484, made up here) printed as ratings
    assert (district.ratings, district.subjects, district.people) == (2 * 17, 6, 17)
    assert [a.ratings for a in roles] == [4242, 4242]
    assert [a.heading for a in roles] == ["Bí thư Đảng ủy phường", "Chủ tịch UBND phường"]


def test_a_summary_of_too_few_people_is_hidden_too() -> None:
    manifest = make_manifest(min_group=10)  # 9 valid ballots at most: every ward is hidden
    view = ResultsView(manifest, make_results(manifest), Messages("en"))
    assert view.hidden_wards == list(VALID)
    roles, district = view.aggregates()
    assert district.people == 0
    assert view.hidden(district)
    assert all(view.hidden(a) for a in roles)
    assert all(n == 0 for per_level in district.criteria.values() for n in per_level.values())


def test_counts_reasons_and_trustees() -> None:
    manifest = make_manifest()
    view = ResultsView(manifest, make_results(manifest), Messages("en"))
    assert view.totals() == {"eligible": 30, "issued": 20, "ballots": 20, "valid": 17, "invalid": 3}
    reasons = [(r.code, r.count) for r in view.reasons()]
    assert reasons == [("bad_key", 1), ("from_the_future", 1), ("wrong_ward", 2)]
    labels = {r.code: r.label for r in view.reasons()}
    assert labels["from_the_future"] == "from_the_future"  # no words for it: the code itself
    assert labels["wrong_ward"] != "wrong_ward"
    assert view.released_by() == [
        "District Organization board",
        "District Propaganda board",
        "unknown",  # not in the manifest: its id
    ]


def test_a_distribution_has_one_bar_and_one_row_per_criterion() -> None:
    manifest = make_manifest()
    results = make_results(manifest)
    view = ResultsView(manifest, results, Messages("vi"))
    subject = "bo-de-secretary"
    rows = view.distribution("s-x", "Người", results["subjects"][subject]["criteria"])
    assert [r.id for r in rows] == [c.id for c in manifest.questionnaire.criteria]
    for i, row in enumerate(rows):
        expected = results["subjects"][subject]["criteria"][row.id]
        assert [(c.level.id, c.count) for c in row.cells] == list(expected.items())
        assert row.bar.uid == f"s-x-c{i}"
        assert row.bar.total == sum(expected.values())
        assert [s.level.id for s in row.bar.segments] == [lv for lv, n in expected.items() if n]
    assert [lv.abstain for lv in view.levels] == [False] * 4 + [True]
    fields = view.comments({"uu-diem": ["a", "b"]})
    assert [(f.id, f.texts) for f in fields] == [
        ("uu-diem", ("a", "b")),
        ("ton-tai-han-che", ()),
        ("de-xuat-kien-nghi", ()),
    ]


def test_a_bar_fills_its_width_and_labels_what_fits() -> None:
    view = ResultsView(make_manifest(), make_results(make_manifest()), Messages("en"))
    levels = view.levels
    b = bar("b", "title", [(levels[0], 97), (levels[1], 0), (levels[2], 2), (levels[3], 1)], view.m)
    assert [s.count for s in b.segments] == [97, 2, 1]
    assert b.segments[0].x == 0
    for left, right in zip(b.segments, b.segments[1:], strict=False):
        assert right.x == pytest.approx(left.x + left.width)
    assert sum(s.width for s in b.segments) == pytest.approx(BAR_WIDTH)
    assert b.segments[0].text == "97 (97%)"  # wide: count and share
    assert b.segments[1].text == ""  # 9.6 px: too narrow for "2"
    assert b.desc == "Good: 97 (97.0%); Fairly good: 0 (0%); Average: 2 (2.0%); Weak: 1 (1.0%)"
    empty = bar("e", "title", [(lv, 0) for lv in levels], view.m)
    assert (empty.total, empty.segments, empty.desc) == (0, (), "No data yet")


def test_turnout_bars_are_shares_of_the_eligible() -> None:
    manifest = make_manifest()
    turnout = {
        "wards": {
            "bo-de": {"eligible": 10, "issued": 5, "cast": 2},
            "cu-khoi": {"eligible": 0, "issued": 0, "cast": 0},
            "duc-giang": {"eligible": 4, "issued": 9, "cast": 4},  # more than eligible: capped
        },
        "total": {"eligible": 14, "issued": 14, "cast": 6},
    }
    rows, total = turnout_rows(manifest, turnout, Messages("vi"))
    assert [(r.ward, r.issued_width, r.cast_width) for r in rows] == [
        ("bo-de", TURNOUT_WIDTH / 2, TURNOUT_WIDTH / 5),
        ("cu-khoi", 0.0, 0.0),
        ("duc-giang", TURNOUT_WIDTH, TURNOUT_WIDTH),
    ]
    assert (rows[0].issued_share, rows[0].cast_share) == ("50,0%", "20,0%")
    assert (total.ward, total.name, total.issued_width) == (None, "Tổng cộng", TURNOUT_WIDTH)


@pytest.mark.parametrize("min_group", [2, 5])
def test_the_page_names_ballots_and_ratings_apart(min_group: int) -> None:
    """The district's line gives its valid ballots as ballots and its ratings as ratings,
    with or without a hidden ward: never one count under the other's name."""
    from anonballot.server.reports.html import render_results

    manifest = make_manifest(min_group=min_group)
    results = make_results(manifest)
    page = render_results(manifest, results, Messages("en"))
    section = page[page.index('id="district"') :]
    section = section[: section.index("</section>")]
    shown = [w for w, n in VALID.items() if n >= min_group]
    ballots = sum(VALID[w] for w in shown)
    ratings = 2 * ballots  # two people rated in each ward, each rated on every ballot
    assert f"{ballots} valid ballots · {ratings} ratings per criterion" in section
    assert f'data-ballots="{ballots}" data-ratings="{ratings}"' in section
