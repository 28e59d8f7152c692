"""The standing committee's report: a round's results for the whole district, compared with
the rounds before it, laid out for print (A4) and as a workbook.

Built from a :class:`~anonballot.series.Series` (the rounds oldest first, the current one
last), the audit report of each round's record, and the ``plans.json`` exports
(``docs/plans.md``). In the order a committee reads it:

- a cover: the round, its dates, each record's fingerprints (``mid`` and the board's final
  root) and its audit verdict, and how to read the counts;
- the district summary: turnout per ward, the distribution per criterion for the district and
  by role, each with its change since the previous round;
- one line per person rated: ward, role, the share of each level per criterion and its
  change (the table a committee scans first);
- one page per ward, then the leader's own report of each of its people
  (:mod:`~anonballot.server.reports.leader`);
- the trend over every round given, per criterion, for the district and for each person.

**Ballots and ratings.** A ballot ("phiếu") is one participant's; it rates every person rated
of its ward once per criterion, so a criterion's ratings ("lượt đánh giá") of a summary are
the valid ballots times the people rated of each ward. The report prints both, each under
its own name, and never a count of ballots as a number of ratings.

**min_group.** Every number goes through :mod:`anonballot.disclosure`: a ward below
``min_group`` shows its counts only; summaries add up the shown wards (naming those left
out); a change is shown only between two shown values, and a summary's change over the wards
shown in both rounds. The trend shows each round's summary over that round's shown wards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from anonballot.audit import AuditReport
from anonballot.disclosure import Comparison, Difference, Disclosure, Distribution
from anonballot.encoding import b64u_encode
from anonballot.plans import PlanExport
from anonballot.series import Series

from ..i18n import Messages
from .html import CSS_HREF, TEMPLATES
from .leader import (
    ChangeRow,
    LeaderView,
    change_rows,
    dates_text,
    leader_view,
    points_text,
    results_view,
)
from .model import COUNT_KEYS, Bar, ResultsView, bar

__all__ = [
    "CommitteeView",
    "PersonLine",
    "RecordLine",
    "Summary",
    "TrendBlock",
    "WardPage",
    "WardTurnout",
    "committee_view",
    "render_committee_report",
]


@dataclass(frozen=True)
class RecordLine:
    """One round of the series on the cover: its fingerprints and its audit verdict."""

    round_id: str
    title: str
    dates: str
    mid: str
    root: str
    """The board's final root (b64u), as the results and the close statement state it."""
    verdict: str
    passed: bool | None
    """None when no audit report was given for the round."""
    current: bool


@dataclass(frozen=True)
class WardTurnout:
    ward: str
    name: str
    counts: Mapping[str, int]
    turnout: str
    """Ballots cast as a share of the eligible."""
    shown: bool


@dataclass(frozen=True)
class Summary:
    """The district's or a role's distribution, its counts and its change."""

    key: str
    heading: str
    counts: str
    """Ballots and ratings, each under its own name."""
    distribution: Distribution
    hidden: bool
    left_out: str | None
    """The wards left out, in words, or None."""
    changes: tuple[ChangeRow, ...] | None
    change_note: str


@dataclass(frozen=True)
class PersonCell:
    criterion: str
    shares: tuple[str, ...]
    """Each level's share in whole percents (the number only), in the levels' order."""
    changes: tuple[str, ...] | None
    desc: str
    """The cell as a sentence, for screen readers and the workbook."""


@dataclass(frozen=True)
class PersonLine:
    subject: str
    name: str
    ward: str
    ward_name: str
    role: str
    new_in_post: bool
    shown: bool
    valid: int
    cells: tuple[PersonCell, ...] | None
    """None when the ward is below ``min_group``."""
    note: str | None
    """Why no change is shown, when none is."""
    counts: Mapping[str, Mapping[str, int]] | None
    """The distribution (criterion, level, ratings), None when the ward is hidden."""
    points: Mapping[str, Mapping[str, float]] | None
    """The change of each level's share since the previous round, None when not shown."""


@dataclass(frozen=True)
class WardPage:
    ward: str
    name: str
    counts: str
    shown: bool
    hidden_note: str | None
    people: tuple[PersonLine, ...]
    leaders: tuple[LeaderView, ...]


@dataclass(frozen=True)
class TrendRow:
    criterion: str
    label: str
    bars: tuple[Bar | None, ...]
    """One bar per round; None where nothing may be shown (not rated, or hidden)."""


@dataclass(frozen=True)
class TrendBlock:
    key: str
    heading: str
    rows: tuple[TrendRow, ...]
    note: str | None


@dataclass(frozen=True)
class CommitteeView:
    """Everything the standing committee's report shows, in one language."""

    m: Messages
    view: ResultsView
    series: Series
    title: str
    district: str
    round_id: str
    dates: str
    mid: str
    root: str
    records: tuple[RecordLine, ...]
    turnout: tuple[WardTurnout, ...]
    totals: Mapping[str, int]
    total_turnout: str
    summaries: tuple[Summary, ...]
    """The district first, then each role."""
    people: tuple[PersonLine, ...]
    wards: tuple[WardPage, ...]
    trend: tuple[TrendBlock, ...]
    """The district first, then each person rated of the current round."""
    previous_round: str | None


def _verdict(m: Messages, report: AuditReport | None) -> tuple[str, bool | None]:
    if report is None:
        return m.t("audit_not_run"), None
    if not report.passed:
        return m.t("audit_failed", checks=", ".join(report.failed())), False
    if not report.complete:
        return m.t("audit_partial", checks=", ".join(report.not_checked())), True
    return m.t("audit_passed"), True


def _counts(m: Messages, dist: Distribution) -> str:
    """A summary's ballots and ratings, each named: never one shown as the other."""
    return m.t(
        "summary_counts",
        ballots=m.num(dist.ballots),
        ratings=m.num(dist.ratings),
        subjects=m.num(dist.subjects),
    )


def _summary(
    view: ResultsView,
    key: str,
    heading: str,
    dist: Distribution,
    diff: Difference | None,
    previous: str | None,
) -> Summary:
    m = view.m
    names = [view.ward_name(w) for w in dist.left_out]
    left_out = m.t("left_out", wards=", ".join(names)) if names else None
    if previous is None:
        note = m.t("change_first_round")
    elif diff is None:
        note = m.t("summary_change_none", round=previous)
    else:
        common = {w for _, w in diff.after.groups}
        wards = ", ".join(view.ward_name(w.id) for w in view.manifest.wards if w.id in common)
        note = m.t("summary_change_over", round=previous, wards=wards)
    return Summary(
        key,
        heading,
        _counts(m, dist),
        dist,
        view.disclosure.hidden(dist),
        left_out,
        change_rows(view, diff) if diff is not None else None,
        note,
    )


def _person(
    series: Series, view: ResultsView, comparison: Comparison | None, subject: str
) -> PersonLine:
    m = view.m
    d = view.disclosure
    entry = next(s for s in series.current.subjects if s.id == subject)
    dist = d.subject(subject)
    diff = comparison.subject(subject) if comparison is not None else None
    new = series.new_in_post(subject)
    cells: tuple[PersonCell, ...] | None = None
    if dist is not None:
        out = []
        for cid, clabel in view.criteria:
            per_level = dist.criteria.get(cid, {})
            total = sum(per_level.values())
            shares = tuple(m.pct(per_level.get(lv.id, 0), total, 0) for lv in view.levels)
            numbers = tuple(share.removesuffix("%") for share in shares)
            points = diff.points.get(cid) if diff is not None else None
            changes = (
                tuple(points_text(m, points.get(lv.id), 0) for lv in view.levels)
                if points is not None
                else None
            )
            parts = [
                f"{lv.label} {share}" + (f" ({changes[i]})" if changes else "")
                for i, (lv, share) in enumerate(zip(view.levels, shares, strict=True))
            ]
            out.append(PersonCell(cid, numbers, changes, f"{clabel}: " + "; ".join(parts)))
        cells = tuple(out)
    note = None
    if diff is None and dist is not None:
        if comparison is None:
            note = None
        elif new:
            note = m.t("new_in_post")
        elif subject not in {s.id for s in comparison.previous.manifest.subjects}:
            note = m.t("person_not_rated_before")
        else:
            note = m.t("person_change_hidden")
    return PersonLine(
        subject,
        m.label(entry.name),
        entry.ward,
        view.ward_name(entry.ward),
        view.role_title(entry.role),
        new,
        dist is not None,
        series.results[-1].wards[entry.ward].valid,
        cells,
        note,
        dist.criteria if dist is not None else None,
        diff.points if diff is not None else None,
    )


def _trend_bar(view: ResultsView, uid: str, who: str, cid: str, clabel: str,
               dist: Distribution | None, round_id: str) -> Bar | None:  # fmt: skip
    if dist is None:
        return None
    m = view.m
    per_level = dist.criteria.get(cid)
    if per_level is None:
        return None
    counts = [(lv, int(per_level.get(lv.id, 0))) for lv in view.levels]
    title = m.t("trend_bar_title", who=who, criterion=clabel, round=round_id)
    return bar(uid, title, counts, m)


def committee_view(
    series: Series,
    m: Messages,
    plans: Sequence[PlanExport] = (),
    audits: Sequence[AuditReport] = (),
) -> CommitteeView:
    """The standing committee's report of the series' current round (pure)."""
    manifest = series.current
    current = series.results[-1]
    view = results_view(series, -1, m)
    d = view.disclosure
    rounds = [Disclosure(mf, r) for mf, r in zip(series.manifests, series.results, strict=True)]
    previous = rounds[-2] if len(rounds) >= 2 else None
    comparison = Comparison(d, previous) if previous is not None else None
    previous_round = previous.round_id if previous is not None else None

    by_mid = {a.mid: a for a in audits}
    records = []
    for i, (mf, r) in enumerate(zip(series.manifests, series.results, strict=True)):
        verdict, passed = _verdict(m, by_mid.get(mf.mid))
        records.append(
            RecordLine(
                mf.round_id, m.label(mf.title), dates_text(m, mf.voting), mf.mid,
                b64u_encode(r.root), verdict, passed, i == len(series.manifests) - 1,
            )
        )  # fmt: skip

    turnout = []
    for w in manifest.wards:
        counts = {k: int(getattr(current.wards[w.id], k)) for k in COUNT_KEYS}
        turnout.append(
            WardTurnout(w.id, view.ward_name(w.id), counts,
                        m.pct(counts["ballots"], counts["eligible"]), d.shown(w.id))
        )  # fmt: skip
    totals = view.totals()

    summaries = [
        _summary(
            view, "district", m.t("district_heading", district=m.label(manifest.district_name)),
            d.district(), comparison.district() if comparison else None, previous_round,
        )
    ]  # fmt: skip
    for role in manifest.roles:
        summaries.append(
            _summary(
                view, f"role-{role.id}", m.label(role.title), d.role(role.id),
                comparison.role(role.id) if comparison else None, previous_round,
            )
        )  # fmt: skip

    people = tuple(_person(series, view, comparison, s.id) for s in manifest.subjects)
    wards = []
    for w in manifest.wards:
        c = current.wards[w.id]
        shown = d.shown(w.id)
        wards.append(
            WardPage(
                w.id,
                view.ward_name(w.id),
                m.t("ward_counts", eligible=m.num(c.eligible), issued=m.num(c.issued),
                    ballots=m.num(c.ballots), valid=m.num(c.valid), invalid=m.num(c.invalid)),
                shown,
                None if shown else m.t("ward_hidden", valid=m.num(c.valid),
                                       min_group=m.num(d.min_group)),
                tuple(p for p in people if p.ward == w.id),
                tuple(leader_view(series, s.id, m, plans, view=view)
                      for s in manifest.subjects_of(w.id)),
            )
        )  # fmt: skip

    trend = []
    district_rows = []
    for ci, (cid, clabel) in enumerate(view.criteria):
        bars = tuple(
            _trend_bar(view, f"tr-d-c{ci}-r{ri}", m.label(manifest.district_name), cid, clabel,
                       None if rd.hidden(whole := rd.district()) else whole, rd.round_id)
            for ri, rd in enumerate(rounds)
        )  # fmt: skip
        district_rows.append(TrendRow(cid, clabel, bars))
    trend.append(
        TrendBlock("district", m.t("district_heading", district=m.label(manifest.district_name)),
                   tuple(district_rows), m.t("trend_district_note"))
    )  # fmt: skip
    for person in manifest.subjects:
        rows = []
        who = m.label(person.name)
        for ci, (cid, clabel) in enumerate(view.criteria):
            bars = tuple(
                _trend_bar(view, f"tr-{person.id}-c{ci}-r{ri}", who, cid, clabel,
                           rd.subject(person.id) if person.id in rd.results.subjects else None,
                           rd.round_id)
                for ri, rd in enumerate(rounds)
            )  # fmt: skip
            rows.append(TrendRow(cid, clabel, bars))
        note = m.t("new_in_post") if series.new_in_post(person.id) else None
        heading = f"{who} · {view.ward_name(person.ward)}"
        trend.append(TrendBlock(person.id, heading, tuple(rows), note))

    return CommitteeView(
        m=m,
        view=view,
        series=series,
        title=m.label(manifest.title),
        district=m.label(manifest.district_name),
        round_id=manifest.round_id,
        dates=dates_text(m, manifest.voting),
        mid=manifest.mid,
        root=b64u_encode(current.root),
        records=tuple(records),
        turnout=tuple(turnout),
        totals=totals,
        total_turnout=m.pct(totals["ballots"], totals["eligible"]),
        summaries=tuple(summaries),
        people=people,
        wards=tuple(wards),
        trend=tuple(trend),
        previous_round=previous_round,
    )


def render_committee_report(
    *,
    series: Series,
    lang: str,
    plans: Sequence[PlanExport] = (),
    audits: Sequence[AuditReport] = (),
    css_href: str = CSS_HREF,
    downloads: Sequence[tuple[str, str]] = (),
    token: str | None = None,
    note: str | None = None,
) -> str:
    """The standing committee's report of the series' current (last) round, a whole HTML
    page for print (A4): ``audits`` are the audit reports of the rounds' records (matched by
    ``mid``), ``plans`` the ``plans.json`` exports of any round (matched by ``round``),
    ``css_href`` where the page finds the report pages' stylesheet. The server's page adds
    ``downloads``, (label, form action) pairs that post ``token`` again, and a ``note``;
    neither is printed."""
    m = Messages(lang)
    report = committee_view(series, m, plans, audits)
    return TEMPLATES.get_template("reports/committee.html").render(
        m=m,
        report=report,
        title=m.t("committee_title", title=report.title, round=report.round_id),
        css_href=css_href,
        downloads=downloads,
        token=token,
        note=note,
    )
