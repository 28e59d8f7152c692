"""Rounds as a series (``anonballot/series.py``): counts across rounds, shares, changes, and
people rated compared only with themselves."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from _hypothesis import examples
from _jsonview import obj
from _series_data import CRITERIA, LEVELS, Posts, make_manifest, make_results
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.errors import InputError, NotFound, StatementError
from anonballot.manifest import Manifest
from anonballot.series import Series, share_points, shares
from anonballot.statements import Results, SubjectResult

ROLE_SETS = (("secretary",), ("chairman",), ("secretary", "chairman"))


@st.composite
def rounds(draw: st.DrawFn) -> list[tuple[Manifest, Results]]:
    """One to three rounds of one to three wards; posts come and go, holders change."""
    wards = ["a", "b", "c"][: draw(st.integers(1, 3))]
    holders: dict[tuple[str, str], str] = {}
    out = []
    for i in range(draw(st.integers(1, 3))):
        posts: dict[str, list[tuple[str, str]]] = {}
        for w in wards:
            posts[w] = []
            for role in draw(st.sampled_from(ROLE_SETS)):
                if (w, role) not in holders or draw(st.booleans()):
                    holders[w, role] = f"{w}-{role}-{i}"  # a new office holder: a new id
                posts[w].append((holders[w, role], role))
        manifest = make_manifest(f"round-{i}", posts)
        valid = {w: draw(st.integers(0, 12)) for w in wards}
        out.append((manifest, make_results(manifest, valid, draw(st.integers(0, 2**16)))))
    return out


@given(rounds())
@settings(max_examples=examples(60))
def test_the_summary_counts_are_each_rounds_results(pairs: list[tuple[Manifest, Results]]) -> None:
    series = Series(pairs)
    summary: dict[str, Any] = series.to_summary_json()
    assert summary["rounds"] == [m.round_id for m, _ in pairs]
    every = {s.id for m, _ in pairs for s in m.subjects}
    assert set(summary["subjects"]) == every
    for sid, entry in summary["subjects"].items():
        assert set(entry) == {"criteria"}
        assert set(entry["criteria"]) == set(CRITERIA)
        for cid, per_level in entry["criteria"].items():
            assert set(per_level) == set(LEVELS)
            for lv, by_round in per_level.items():
                assert len(by_round) == len(pairs)
                for (_, results), n in zip(pairs, by_round, strict=True):
                    published = obj(results.to_json()["subjects"])
                    if sid in published:
                        assert n == published[sid]["criteria"][cid][lv]
                    else:
                        assert n is None  # not rated in that round: null, never 0


@given(rounds())
@settings(max_examples=examples(60))
def test_people_are_compared_with_themselves_only(pairs: list[tuple[Manifest, Results]]) -> None:
    series = Series(pairs)
    for i in range(1, len(pairs)):
        before, now = pairs[i - 1][0], pairs[i][0]
        earlier = {s.id for s in before.subjects}
        posts_before = {(s.ward, s.role) for s in before.subjects}
        for s in now.subjects:
            changes = series.changes(s.id, at=i)
            if s.id not in earlier:
                # a new office holder or a new post: nothing to compare with
                assert all(v is None for per in changes.values() for v in per.values())
                assert series.new_in_post(s.id, at=i) == ((s.ward, s.role) in posts_before)
            else:
                assert not series.new_in_post(s.id, at=i)
                for cid in CRITERIA:
                    for lv in LEVELS:
                        a, b = series.shares(s.id, cid, lv)[i - 1 : i + 1]
                        assert changes[cid][lv] == share_points(a, b)


def test_shares_and_changes_in_percentage_points() -> None:
    posts: Posts = {"a": [("a-secretary", "secretary")]}
    m1, m2 = make_manifest("may", posts), make_manifest("november", posts)
    r1, r2 = make_results(m1, {"a": 8}), make_results(m2, {"a": 10})
    cid = CRITERIA[0]
    counts1 = dict.fromkeys(LEVELS, 0) | {"tot": 2, "kha": 6}
    counts2 = dict.fromkeys(LEVELS, 0) | {"tot": 5, "kha": 4, "khong-danh-gia": 1}
    r1 = _with_counts(r1, "a-secretary", cid, counts1)
    r2 = _with_counts(r2, "a-secretary", cid, counts2)
    series = Series([(m1, r1), (m2, r2)])
    assert series.counts("a-secretary", cid, "tot") == (2, 5)
    assert series.ballots("a-secretary") == (8, 10)
    assert series.shares("a-secretary", cid, "tot") == (0.25, 0.5)
    assert series.shares("a-secretary", cid, "khong-danh-gia") == (0.0, 0.1)
    assert series.change("a-secretary", cid, "tot") == pytest.approx(25.0)
    assert series.change("a-secretary", cid, "kha") == pytest.approx(-35.0)
    assert series.change("a-secretary", cid, "tot", at=0) is None  # no round before the first
    assert series.rated("a-secretary") == (True, True)
    assert shares(dict.fromkeys(LEVELS, 0)) is None  # no rating: no share


def _with_counts(results: Results, sid: str, cid: str, counts: dict[str, int]) -> Results:
    old = results.subjects[sid]
    entry = SubjectResult(
        old.ward, old.role, sum(counts.values()), {**old.criteria, cid: counts}, old.comments
    )
    return dataclasses.replace(results, subjects={**results.subjects, sid: entry})


def test_a_new_office_holder_is_new_in_the_post_and_never_compared() -> None:
    may = make_manifest(
        "may",
        {"a": [("a-sec-1", "secretary"), ("a-chair", "chairman")], "b": [("b-sec", "secretary")]},
    )
    november = make_manifest(
        "november",
        {
            "a": [("a-sec-2", "secretary"), ("a-chair", "chairman")],  # a new secretary
            "b": [("b-sec", "secretary"), ("b-chair", "chairman")],  # a new post
        },
    )
    pairs = [
        (may, make_results(may, {"a": 7, "b": 6}, 1)),
        (november, make_results(november, {"a": 9, "b": 5}, 2)),
    ]
    series = Series(pairs)
    assert series.new_in_post("a-sec-2")
    assert not series.new_in_post("b-chair")  # the post itself is new
    assert not series.new_in_post("a-chair")
    assert not series.new_in_post("a-sec-1", at=0)
    cid, lv = CRITERIA[0], LEVELS[0]
    assert series.change("a-sec-2", cid, lv) is None
    assert series.counts("a-sec-1", cid, lv)[1] is None  # the predecessor: not rated now
    assert series.counts("a-sec-2", cid, lv)[0] is None
    assert series.change("a-chair", cid, lv) is not None
    summary: dict[str, Any] = series.to_summary_json()
    assert summary["subjects"]["a-sec-1"]["criteria"][cid][lv][1] is None
    assert summary["subjects"]["a-sec-2"]["criteria"][cid][lv][0] is None
    assert series.subjects[:4] == ("a-sec-2", "a-chair", "b-sec", "b-chair")  # current first
    assert series.current is november
    with pytest.raises(NotFound):
        series.new_in_post("a-sec-1")  # not rated in the current round


def test_a_series_refuses_mismatched_rounds() -> None:
    posts: Posts = {"a": [("a-secretary", "secretary")]}
    may, november = make_manifest("may", posts), make_manifest("november", posts)
    r_may = make_results(may, {"a": 5})
    with pytest.raises(InputError, match="at least one round"):
        Series([])
    with pytest.raises(StatementError, match="another manifest"):
        Series([(may, r_may), (november, r_may)])
    with pytest.raises(InputError, match="twice"):
        Series([(may, r_may), (may, r_may)])
    series = Series([(may, r_may)])
    with pytest.raises(NotFound):
        series.counts("nobody", CRITERIA[0], LEVELS[0])
    with pytest.raises(NotFound):
        series.counts("a-secretary", "no-such-criterion", LEVELS[0])
    with pytest.raises(NotFound):
        series.change("a-secretary", CRITERIA[0], LEVELS[0], at=1)
