"""The leader's own report: one person rated, one round, on one or two printable A4 pages.

What the person rated receives after a round (issue cycle: each person rated builds a plan
from their results): the round and their post; per criterion the distribution of the ratings
and the share of each level (the stacked bars and data table of the results pages); the
comments; the change of each level's share since the previous round; and the remediation
plans (``docs/plans.md``): the plan made after the previous round, each item beside its
latest progress and the change in its criterion, and the plan made after this round. Each
plan shows its digest, ``b64u(SHA-256(JCS(P)))``, so that a holder of the report checks it
against ``plans.json``.

Every number and comment goes through :mod:`anonballot.disclosure` (protocol section 4.1,
``min_group``): a ward below ``min_group`` shows no distribution and no comments, and a
change is shown only between two shown values of the same person (a new office holder has a
new id and is never compared with the predecessor: the report says "new in this post").

:func:`leader_view` builds the view model (pure); :func:`render_leader_report` lays it out
with ``templates/reports/leader.html`` (a page) or ``_leader.html`` (an ``<article>`` that the
standing committee's report and the server's pages embed). Autoescaping is on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from anonballot.disclosure import Comparison, Difference, Disclosure
from anonballot.district import DISTRICT_TIME
from anonballot.encoding import b64u_encode, parse_time
from anonballot.errors import NotFound
from anonballot.manifest import Manifest, Window
from anonballot.plans import Plan, PlanExport, Progress
from anonballot.series import Series

from ..i18n import Messages
from .html import CSS_HREF, TEMPLATES
from .model import CommentField, Level, ResultsView

__all__ = [
    "ChangeRow",
    "ItemView",
    "LeaderView",
    "LevelChange",
    "PlanView",
    "change_rows",
    "date_text",
    "dates_text",
    "export_for",
    "leader_view",
    "points_text",
    "render_leader_report",
    "results_view",
]


# -- formats ---------------------------------------------------------------------------------


def points_text(m: Messages, points: float | None, digits: int = 1) -> str:
    """A change of a share in percentage points, signed, one decimal: "+5,0", "−2,5", "0,0";
    "—" when there is none to show."""
    if points is None:
        return "—"
    rounded = round(points, digits)
    text = f"{abs(rounded):.{digits}f}"
    if m.lang == "vi":
        text = text.replace(".", ",")
    if rounded > 0:
        return "+" + text
    if rounded < 0:
        return "\u2212" + text  # the minus sign, not a hyphen
    return text


def date_text(m: Messages, when: dt.date) -> str:
    """A date as the language writes it: 16/05/2026 in Vietnamese, 2026-05-16 in English."""
    return when.strftime("%d/%m/%Y") if m.lang == "vi" else when.isoformat()


def dates_text(m: Messages, window: Window) -> str:
    """A window's dates, in the district's time (a window opening at 06:00 in Hà Nội opens
    on that day, though it is still the day before in UTC)."""
    opens = parse_time(window.opens).astimezone(DISTRICT_TIME).date()
    closes = parse_time(window.closes).astimezone(DISTRICT_TIME).date()
    return m.t("dates", opens=date_text(m, opens), closes=date_text(m, closes))


def results_view(series: Series, at: int, m: Messages) -> ResultsView:
    """The results pages' view model of round ``at`` of the series (its levels, bars, labels
    and the ``min_group`` rule)."""
    return ResultsView(series.manifests[at], series.results[at].to_json(), m)


def export_for(plans: Sequence[PlanExport], manifest: Manifest) -> PlanExport | None:
    """The plans of ``manifest``'s round among ``plans`` (matched by ``mid``)."""
    for export in plans:
        if export.round == manifest.mid:
            return export
    return None


# -- the view model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelChange:
    level: Level
    points: float | None
    text: str


@dataclass(frozen=True)
class ChangeRow:
    """One criterion's change since the previous round: each level's share, in points."""

    id: str
    label: str
    cells: tuple[LevelChange, ...]
    summary: str
    """Every level's change on one line ("Tốt +5,0 · Khá −2,5 · ..."), for a plan item."""


@dataclass(frozen=True)
class ItemView:
    """One plan item as the report shows it."""

    id: str
    criterion: str | None
    """The criterion's label, if the item names one."""
    shortcoming: str | None
    actions: str
    deadline: str
    check: str
    status: str | None
    """The latest progress in words (done, partly, not done), None without any."""
    status_key: str | None
    note: str | None
    date: str | None
    change: str | None
    """The change in the item's criterion since the plan was made (next round's report)."""


@dataclass(frozen=True)
class PlanView:
    heading: str
    round_id: str
    version: int
    digest: str
    """``b64u(SHA-256(JCS(P)))``: what ``plans.json`` names the plan by."""
    items: tuple[ItemView, ...]
    progress_note: str | None
    """Where the progress stands (no progress recorded yet), or None."""


@dataclass(frozen=True)
class LeaderView:
    """What the leader's own report shows, every number through the ``min_group`` rule."""

    uid: str
    subject: str
    name: str
    ward: str
    role: str
    view: ResultsView
    """The results pages' view model of the current round (levels, bars, labels)."""
    title: str
    round_id: str
    mid: str
    dates: str
    new_in_post: bool
    shown: bool
    valid: int
    """The valid ballots of the ward: each rated this person once per criterion."""
    criteria: Mapping[str, Mapping[str, int]] | None
    """The distribution, None when the ward is below ``min_group``."""
    comments: tuple[CommentField, ...] | None
    previous_round: str | None
    changes: tuple[ChangeRow, ...] | None
    """The change per criterion since the previous round, None when not shown."""
    change_note: str | None
    """Why no change is shown (first round, new in this post, a group too small)."""
    previous_plan: PlanView | None
    plan: PlanView | None


def change_rows(view: ResultsView, diff: Difference) -> tuple[ChangeRow, ...]:
    """The rows of a change between two rounds: the criteria with ratings in both."""
    m = view.m
    rows = []
    for cid, clabel in view.criteria:
        per_level = diff.points.get(cid)
        if per_level is None:
            continue
        cells = tuple(
            LevelChange(lv, per_level.get(lv.id), points_text(m, per_level.get(lv.id)))
            for lv in view.levels
        )
        summary = " · ".join(f"{c.level.label} {c.text}" for c in cells)
        rows.append(ChangeRow(cid, clabel, cells, summary))
    return tuple(rows)


def _plan_view(
    m: Messages,
    heading: str,
    plan: Plan,
    progress: Progress | None,
    manifest: Manifest,
    changes: Mapping[str, ChangeRow] | None,
    *,
    with_progress: bool,
) -> PlanView:
    labels = {c.id: m.label(c.label) for c in manifest.questionnaire.criteria}
    items = []
    for item in plan.items:
        latest = progress.latest(item.id) if progress is not None else None
        change = None
        if changes is not None and item.criterion is not None and item.criterion in changes:
            change = changes[item.criterion].summary
        items.append(
            ItemView(
                item.id,
                labels.get(item.criterion, item.criterion) if item.criterion else None,
                item.shortcoming,
                item.actions,
                date_text(m, item.deadline),
                item.check,
                m.t(f"progress_{latest.status}") if latest else None,
                latest.status if latest else None,
                latest.note if latest else None,
                date_text(m, latest.date) if latest else None,
                change,
            )
        )
    note = m.t("progress_none") if with_progress and progress is None else None
    return PlanView(
        heading,
        plan.round_id,
        plan.version,
        b64u_encode(plan.digest),
        tuple(items),
        note,
    )


def leader_view(
    series: Series,
    subject: str,
    m: Messages,
    plans: Sequence[PlanExport] = (),
    *,
    view: ResultsView | None = None,
) -> LeaderView:
    """The leader's report of ``subject`` in the series' current round.

    ``view`` is the current round's :func:`results_view` when the caller has one already.
    Raises :class:`~anonballot.errors.NotFound` when the current round does not rate
    ``subject``.
    """
    manifest = series.current
    entry = next((s for s in manifest.subjects if s.id == subject), None)
    if entry is None:
        raise NotFound(
            f"subject {subject!r} is not rated in round {manifest.round_id}",
            code="unknown_subject",
        )
    if view is None:
        view = results_view(series, -1, m)
    d = view.disclosure
    dist = d.subject(subject)
    comments = d.comments(subject)
    previous_round: str | None = None
    changes: tuple[ChangeRow, ...] | None = None
    new_in_post = series.new_in_post(subject)
    if len(series.manifests) < 2:
        note = m.t("change_first_round")
    else:
        before = series.manifests[-2]
        previous_round = before.round_id
        diff = Comparison(d, Disclosure(before, series.results[-2])).subject(subject)
        if diff is not None:
            changes = change_rows(view, diff)
            note = None
        elif new_in_post:
            note = m.t("change_new_in_post")
        elif subject not in {s.id for s in before.subjects}:
            note = m.t("change_not_rated_before", round=before.round_id)
        else:
            note = m.t("change_hidden", round=before.round_id)
    by_criterion = {row.id: row for row in changes} if changes is not None else None

    previous_plan: PlanView | None = None
    if len(series.manifests) >= 2:
        before = series.manifests[-2]
        export = export_for(plans, before)
        found = export.plan(subject) if export is not None else None
        if export is not None and found is not None:
            previous_plan = _plan_view(
                m,
                m.t("plan_previous", round=before.round_id),
                found,
                export.progress_of(subject),
                before,
                by_criterion,
                with_progress=True,
            )
    plan: PlanView | None = None
    export = export_for(plans, manifest)
    found = export.plan(subject) if export is not None else None
    if export is not None and found is not None:
        plan = _plan_view(
            m,
            m.t("plan_current", round=manifest.round_id),
            found,
            export.progress_of(subject),
            manifest,
            None,
            with_progress=False,
        )
    return LeaderView(
        uid=f"l-{subject}",
        subject=subject,
        name=m.label(entry.name),
        ward=view.ward_name(entry.ward),
        role=view.role_title(entry.role),
        view=view,
        title=m.label(manifest.title),
        round_id=manifest.round_id,
        mid=manifest.mid,
        dates=dates_text(m, manifest.voting),
        new_in_post=new_in_post,
        shown=dist is not None,
        valid=series.results[-1].wards[entry.ward].valid,
        criteria=dist.criteria if dist is not None else None,
        comments=tuple(view.comments(comments)) if comments is not None else None,
        previous_round=previous_round,
        changes=changes,
        change_note=note,
        previous_plan=previous_plan,
        plan=plan,
    )


def render_leader_report(
    *,
    series: Series,
    subject: str,
    lang: str,
    plans: Sequence[PlanExport] = (),
    standalone: bool = True,
) -> str:
    """The leader's own report of ``subject`` in the series' current (last) round.

    ``series`` ends with the current round (one round when there is no previous one);
    ``plans`` are the ``plans.json`` exports of any of its rounds, matched by their
    ``round`` (``mid``): the previous round's plan is shown with its progress beside the
    change in each item's criterion, the current round's plan as it stands. ``standalone``:
    a whole HTML page (A4 print CSS, the report pages' stylesheet at ``../static/css/``);
    otherwise an ``<article>`` fragment to embed. Raises
    :class:`~anonballot.errors.NotFound` for a subject the current round does not rate.
    """
    m = Messages(lang)
    leader = leader_view(series, subject, m, plans)
    name = "reports/leader.html" if standalone else "reports/_leader.html"
    return TEMPLATES.get_template(name).render(
        m=m,
        leader=leader,
        title=m.t("leader_title", name=leader.name, round=leader.round_id),
        css_href=CSS_HREF,
    )
