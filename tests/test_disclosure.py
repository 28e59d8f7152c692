"""The ``min_group`` rule of every view (``anonballot/disclosure.py``).

The property test plays the reader who subtracts: for generated rounds (ward sizes around
``min_group``, one or two rounds), it collects every distribution a view may show (people
rated, summaries by role and for the district, differences between rounds) and checks, with
an oracle that adds the results up itself, that each one is exactly the sum over the groups
it names, and that every named group is shown. Then no sum or difference of shown numbers
can isolate a hidden group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from _hypothesis import examples
from _series_data import CRITERIA, LEVELS, Posts, make_manifest, make_results
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.disclosure import Comparison, Difference, Disclosure, Distribution, Group
from anonballot.errors import NotFound, StatementError
from anonballot.manifest import Manifest
from anonballot.series import Series
from anonballot.statements import Results

ROLE_SETS = (("secretary",), ("chairman",), ("secretary", "chairman"))


@dataclass(frozen=True)
class Shown:
    """A distribution a view shows, and what it claims to be: the people rated it adds up
    (a subject id, a role id, or None for every person) in the groups it names."""

    who: str | None
    kind: str
    """"subject", "role" or "district"."""
    dist: Distribution


@st.composite
def series(draw: st.DrawFn) -> tuple[int, list[tuple[Manifest, Results]]]:
    min_group = draw(st.integers(2, 6))
    wards = ["a", "b", "c", "d"][: draw(st.integers(1, 4))]
    holders: dict[tuple[str, str], str] = {}
    rounds = []
    for i in range(draw(st.integers(1, 2))):
        posts: dict[str, list[tuple[str, str]]] = {}
        for w in wards:
            posts[w] = []
            for role in draw(st.sampled_from(ROLE_SETS)):
                if (w, role) not in holders or draw(st.booleans()):
                    holders[w, role] = f"{w}-{role}-{i}"
                posts[w].append((holders[w, role], role))
        manifest = make_manifest(f"round-{i}", posts, min_group=min_group)
        # sizes around min_group, so that wards fall on both sides of the rule
        valid = {w: draw(st.integers(max(0, min_group - 3), min_group + 2)) for w in wards}
        rounds.append((manifest, make_results(manifest, valid, draw(st.integers(0, 2**16)))))
    return min_group, rounds


def views(d: Disclosure) -> list[Shown]:
    """Every distribution one round's views may show."""
    out = []
    for s in d.manifest.subjects:
        dist = d.subject(s.id)
        if dist is not None:
            out.append(Shown(s.id, "subject", dist))
    out += [Shown(r.id, "role", d.role(r.id)) for r in d.manifest.roles]
    out.append(Shown(None, "district", d.district()))
    return out


def differences(c: Comparison) -> list[Shown]:
    """Both sides of every difference between two rounds that a view may show."""
    out = []
    pairs: list[tuple[str | None, str, Difference | None]]
    pairs = [(s.id, "subject", c.subject(s.id)) for s in c.current.manifest.subjects]
    pairs += [(r.id, "role", c.role(r.id)) for r in c.current.manifest.roles]
    pairs.append((None, "district", c.district()))
    for who, kind, diff in pairs:
        if diff is not None:
            out += [Shown(who, kind, diff.before), Shown(who, kind, diff.after)]
    return out


def oracle(rounds: dict[str, tuple[Manifest, Results]], shown: Shown) -> dict[str, dict[str, int]]:
    """The sum, computed here, of the ratings of ``shown.who`` over ``shown.dist.groups``."""
    total = {c: dict.fromkeys(LEVELS, 0) for c in CRITERIA}
    for round_id, ward in shown.dist.groups:
        manifest, results = rounds[round_id]
        for s in manifest.subjects_of(ward):
            if shown.kind == "district" or shown.who in (s.id, s.role):
                for c, per_level in results.subjects[s.id].criteria.items():
                    for lv, n in per_level.items():
                        total[c][lv] += n
    return total


def check_every_shown_number(pairs: list[tuple[Manifest, Results]]) -> None:
    disclosures = [Disclosure(m, r) for m, r in pairs]
    shown_groups: set[Group] = {d.group(w) for d in disclosures for w in d.shown_wards}
    hidden_groups = {d.group(w) for d in disclosures for w in d.hidden_wards}
    collected = [x for d in disclosures for x in views(d)]
    if len(disclosures) == 2:
        collected += differences(Comparison(disclosures[1], disclosures[0]))
    by_round = {m.round_id: (m, r) for m, r in pairs}
    for x in collected:
        assert x.dist.groups <= shown_groups, (x.who, x.kind, x.dist.groups & hidden_groups)
        assert {c: dict(v) for c, v in x.dist.criteria.items()} == oracle(by_round, x)
        ballots = sum(by_round[r][1].wards[w].valid for r, w in x.dist.groups)
        assert x.dist.ballots == ballots
    # The reader's subtractions: any difference of two shown numbers adds up groups of
    # X.groups - Y.groups and Y.groups - X.groups, none of them hidden.
    for x in collected:
        for y in collected:
            assert not (x.dist.groups ^ y.dist.groups) & hidden_groups


@given(series())
@settings(max_examples=examples(100))
def test_no_shown_number_includes_a_hidden_group(
    generated: tuple[int, list[tuple[Manifest, Results]]],
) -> None:
    min_group, pairs = generated
    check_every_shown_number(pairs)
    for manifest, results in pairs:
        d = Disclosure(manifest, results)
        for w in manifest.wards:
            assert d.shown(w.id) == (results.wards[w.id].valid >= min_group)
        for s in manifest.subjects:
            assert (d.comments(s.id) is None) == (not d.shown(s.ward))
        district = d.district()
        assert district.left_out == d.hidden_wards
        assert d.hidden(district) == (not d.shown_wards)


# -- explicit cases ---------------------------------------------------------------------------

POSTS: Posts = {
    "a": [("a-sec", "secretary"), ("a-chair", "chairman")],
    "b": [("b-sec", "secretary"), ("b-chair", "chairman")],
    "c": [("c-sec", "secretary"), ("c-chair", "chairman")],
}


def added(results: Results, subjects: Iterable[str]) -> dict[str, dict[str, int]]:
    total = {c: dict.fromkeys(LEVELS, 0) for c in CRITERIA}
    for sid in subjects:
        for c, per_level in results.subjects[sid].criteria.items():
            for lv, n in per_level.items():
                total[c][lv] += n
    return total


def test_one_hidden_ward_is_left_out_of_the_district_total() -> None:
    manifest = make_manifest("may", POSTS)
    results = make_results(manifest, {"a": 7, "b": 2, "c": 9}, seed=4)
    d = Disclosure(manifest, results)
    assert d.hidden_wards == ("b",)
    assert d.subject("b-sec") is None
    assert d.comments("b-chair") is None
    district = d.district()
    assert district.left_out == ("b",)
    assert district.groups == {("may", "a"), ("may", "c")}
    assert district.criteria == added(results, ["a-sec", "a-chair", "c-sec", "c-chair"])
    assert (district.subjects, district.ratings, district.ballots) == (4, 32, 16)
    # The results' own total includes ward b: the view's total must not, or the reader
    # would subtract the shown wards from it and get ward b's distribution.
    assert district.criteria != {c: dict(v) for c, v in results.district.criteria.items()}
    for role, short in (("secretary", "sec"), ("chairman", "chair")):
        summary = d.role(role)
        assert summary.left_out == ("b",)
        assert summary.criteria == added(results, [f"a-{short}", f"c-{short}"])


def test_without_a_hidden_ward_the_summaries_are_the_results_own() -> None:
    manifest = make_manifest("may", POSTS)
    results = make_results(manifest, {"a": 7, "b": 5, "c": 9}, seed=5)
    d = Disclosure(manifest, results)
    assert d.hidden_wards == ()
    assert d.district().criteria is results.district.criteria
    assert d.role("chairman").criteria is results.roles["chairman"].criteria
    assert d.district().groups == {("may", w) for w in "abc"}


def test_a_ward_hidden_in_one_round_is_compared_in_neither() -> None:
    may, november = make_manifest("may", POSTS), make_manifest("november", POSTS)
    r_may = make_results(may, {"a": 7, "b": 8, "c": 6}, seed=6)
    r_nov = make_results(november, {"a": 9, "b": 3, "c": 6}, seed=7)  # b below 5
    c = Comparison(Disclosure(november, r_nov), Disclosure(may, r_may))
    assert c.common_wards == ("a", "c")
    assert c.subject("b-sec") is None  # shown in May, hidden in November
    district = c.district()
    assert district is not None
    assert district.before.groups == {("may", "a"), ("may", "c")}
    assert district.after.groups == {("november", "a"), ("november", "c")}
    assert district.before.left_out == ("b",)  # shown in May, yet left out: like for like
    assert district.before.criteria == added(r_may, ["a-sec", "a-chair", "c-sec", "c-chair"])
    series = Series([(may, r_may), (november, r_nov)])
    diff = c.subject("a-sec")
    assert diff is not None
    for cid in CRITERIA:
        for lv in LEVELS:
            assert diff.points[cid][lv] == pytest.approx(series.change("a-sec", cid, lv))
    check_every_shown_number([(may, r_may), (november, r_nov)])


def test_a_new_office_holder_is_not_compared() -> None:
    may = make_manifest("may", POSTS)
    posts = {**POSTS, "a": [("a-sec-2", "secretary"), ("a-chair", "chairman")]}
    november = make_manifest("november", posts)
    c = Comparison(
        Disclosure(november, make_results(november, {"a": 9, "b": 9, "c": 9})),
        Disclosure(may, make_results(may, {"a": 9, "b": 9, "c": 9})),
    )
    assert c.subject("a-sec-2") is None
    assert c.subject("a-chair") is not None


def test_a_role_whose_only_person_is_in_a_hidden_ward() -> None:
    posts: Posts = {
        "a": [("a-sec", "secretary")],
        "b": [("b-sec", "secretary"), ("b-chair", "chairman")],  # the only chairman
    }
    manifest = make_manifest("may", posts)
    results = make_results(manifest, {"a": 8, "b": 3}, seed=8)
    d = Disclosure(manifest, results)
    chairman = d.role("chairman")
    assert d.hidden(chairman)
    assert chairman.groups == frozenset()
    assert chairman.left_out == ("b",)
    assert all(n == 0 for per_level in chairman.criteria.values() for n in per_level.values())
    # district minus the secretaries: nothing of b's chairman is left to find
    district, secretary = d.district(), d.role("secretary")
    assert district.criteria == secretary.criteria == added(results, ["a-sec"])
    check_every_shown_number([(manifest, results)])


def test_a_role_with_one_person_in_a_hidden_ward_and_others_shown() -> None:
    posts: Posts = {
        "a": [("a-sec", "secretary"), ("a-chair", "chairman")],
        "b": [("b-sec", "secretary"), ("b-chair", "chairman")],
    }
    manifest = make_manifest("may", posts)
    results = make_results(manifest, {"a": 6, "b": 1}, seed=9)
    d = Disclosure(manifest, results)
    district, sec, chair = d.district(), d.role("secretary"), d.role("chairman")
    assert chair.criteria == added(results, ["a-chair"])
    for cid in CRITERIA:
        for lv in LEVELS:
            assert district.criteria[cid][lv] - sec.criteria[cid][lv] == chair.criteria[cid][lv]


def test_unknown_names_and_mismatched_results() -> None:
    may, november = make_manifest("may", POSTS), make_manifest("november", POSTS)
    d = Disclosure(may, make_results(may, {"a": 7, "b": 5, "c": 9}))
    with pytest.raises(NotFound):
        d.subject("nobody")
    with pytest.raises(NotFound):
        d.role("mayor")
    with pytest.raises(NotFound):
        d.shown("z")
    with pytest.raises(StatementError):
        Disclosure(november, make_results(may, {"a": 7, "b": 5, "c": 9}))
