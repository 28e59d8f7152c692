"""Server-rendered report pages: the results of a tallied round and the turnout.

- ``GET /results/{round_id}``: the printable report of a tallied round, built from its signed
  results (protocol section 7.5) and its manifest. Per ward and per person rated, the
  distribution of ratings per criterion as stacked horizontal bars (inline SVG with
  ``<title>``/``<desc>``, and a data table with every count and share), the comments per
  field, then the summary by role and for the whole district. ``?ward=<id>`` keeps one ward
  (the report handed to its leaders). Before the tally: a "not tallied yet" page (409); an
  unknown round: a 404 page.
- ``GET /results/{round_id}.xlsx``: the same report as a workbook (``report_xlsx.py``).
- ``GET /turnout/{round_id}`` and ``POST`` with the admin token in a form field: eligible,
  issued and cast per ward, with percentage bars.
- ``GET /static/css/reports.css``: the pages' only stylesheet (also under the booth's
  ``/static`` mount), so the pages work with or without the booth's routes.

**min_group.** The manifest's ``min_group`` is advice to reports: a ward with fewer valid
ballots shows its counts only (ballots, valid, invalid), never the distribution or the
comments of its people rated, and the page says why. The summaries by role and for the
district then add up the **shown wards only** (and name the wards left out): a summary that
included a hidden ward would give that ward's distribution away by subtraction, within the
printed report itself. When no ward is hidden, the summaries are the results' own ``roles``
and ``district``. (The signed results stay public through the API with every count: the rule
protects the readers of the report, it is not an access control.)

**Turnout needs the admin token.** The JSON API serves turnout only to the organizer
(``/api/admin/rounds/{id}/turnout``), and this page keeps that decision rather than becoming
a way around it: while a round runs, live counts of tokens issued per ward, watched over
time, tell who has just collected a token in a small ward. So ``GET`` shows a form; the
token travels in the body of a same-origin ``POST`` (never in the URL, so not in proxy logs,
history or ``Referer``), is checked with :meth:`Service.check_admin` and is forgotten: no
session, no cookie, the numbers are only in the answer to that POST (``Cache-Control:
no-store``). After the tally the same counts are public in the results, and the results page
shows them per ward.

Every text comes from the catalogs of ``server/i18n.py`` or the manifest's labels; every
value inserted in the HTML is escaped; the pages have no script and no inline style (the
server's CSP is ``default-src 'self'``).
"""

from __future__ import annotations

import datetime as dt
import html
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from anonballot.encoding import parse_json
from anonballot.engine import Round
from anonballot.errors import NotFound
from anonballot.manifest import Manifest

from .i18n import COOKIE, LANGS, Messages, choose_lang
from .service import Service

__all__ = [
    "ABSTAIN_FILL",
    "CSS_PATH",
    "PALETTE",
    "ResultsView",
    "render_results",
    "report_routes",
]

CSS_PATH = Path(__file__).resolve().parent / "static" / "css" / "reports.css"
CSS_HREF = "../static/css/reports.css"
"""Relative to ``/results/x`` and ``/turnout/x``, so the pages work under a path prefix."""

PALETTE = ("#1b7f3b", "#7cbf5f", "#e8b93c", "#c8442f", "#7b2d8b", "#2f6fb0", "#8a5a2b")
"""Fallback fills of the scale levels, by position (reports.css sets the same colours)."""
ABSTAIN_FILL = "#9aa0a6"

_ROUND_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_MAX_FORM = 8 * 1024
BAR_WIDTH = 480
BAR_HEIGHT = 24
TURNOUT_WIDTH = 240
TURNOUT_HEIGHT = 16


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


# -- the view of a round's results ------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One answer level of the questionnaire as the charts show it."""

    id: str
    label: str
    css: str
    fill: str
    abstain: bool


@dataclass(frozen=True)
class Aggregate:
    """A summary row group: a role or the whole district."""

    key: str
    heading: str
    subjects: int
    ballots: int
    criteria: dict[str, dict[str, int]]
    people: int
    """Valid ballots behind the summary (the people, not the ratings)."""


class ResultsView:
    """What the pages show of ``results``, in one language, with the ``min_group`` rule."""

    def __init__(self, manifest: Manifest, results: Mapping[str, Any], m: Messages) -> None:
        self.manifest = manifest
        self.results = results
        self.m = m
        q = manifest.questionnaire
        n = len(PALETTE)
        levels = [
            Level(s.id, m.label(s.label), f"lvl-{i % n}", PALETTE[i % n], False)
            for i, s in enumerate(q.scale)
        ]
        if q.abstain is not None:
            a = q.abstain
            levels.append(Level(a.id, m.label(a.label), "lvl-abstain", ABSTAIN_FILL, True))
        self.levels = levels
        self.criteria = [(c.id, m.label(c.label)) for c in q.criteria]
        self.comment_fields = [(c.id, m.label(c.label)) for c in q.comments]
        self.min_group = manifest.min_group
        self.hidden_wards = [
            w.id for w in manifest.wards if self.ward_counts(w.id)["valid"] < manifest.min_group
        ]

    def ward_counts(self, ward: str) -> dict[str, int]:
        counts: dict[str, int] = self.results["wards"][ward]
        return counts

    def shown(self, ward: str) -> bool:
        return ward not in self.hidden_wards

    def ward_name(self, ward: str) -> str:
        return self.m.label(self.manifest.ward(ward).name)

    def role_title(self, role: str) -> str:
        for r in self.manifest.roles:
            if r.id == role:
                return self.m.label(r.title)
        return role

    def subject(self, subject: str) -> Mapping[str, Any]:
        value: Mapping[str, Any] = self.results["subjects"][subject]
        return value

    def _zero(self) -> dict[str, dict[str, int]]:
        return {c: {lv.id: 0 for lv in self.levels} for c, _ in self.criteria}

    def _people(self, role: str | None) -> int:
        """Valid ballots of the shown wards (with a subject of ``role``, unless None)."""
        return sum(
            self.ward_counts(w.id)["valid"]
            for w in self.manifest.wards
            if self.shown(w.id)
            and (role is None or any(s.role == role for s in self.manifest.subjects_of(w.id)))
        )

    def aggregates(self) -> tuple[list[Aggregate], Aggregate]:
        """The summaries by role and for the district, over the shown wards only.

        When no ward is hidden these are the results' own ``roles`` and ``district``.
        """
        m = self.m
        district_name = m.label(self.manifest.district_name)
        roles: list[Aggregate] = []
        if not self.hidden_wards:
            for r in self.manifest.roles:
                entry = self.results["roles"][r.id]
                roles.append(
                    Aggregate(
                        f"role-{r.id}",
                        m.label(r.title),
                        entry["subjects"],
                        entry["ballots"],
                        entry["criteria"],
                        self._people(r.id),
                    )
                )
            d = self.results["district"]
            district = Aggregate(
                "district",
                district_name,
                len(self.manifest.subjects),
                d["ballots"],
                d["criteria"],
                self._people(None),
            )
            return roles, district
        d_criteria = self._zero()
        d_subjects = d_ratings = 0
        for r in self.manifest.roles:
            criteria = self._zero()
            subjects = ratings = 0
            for s in self.manifest.subjects:
                if s.role != r.id or not self.shown(s.ward):
                    continue
                entry = self.subject(s.id)
                _add_into(criteria, entry["criteria"])
                subjects += 1
                ratings += entry["ballots"]
            _add_into(d_criteria, criteria)
            d_subjects += subjects
            d_ratings += ratings
            roles.append(
                Aggregate(
                    f"role-{r.id}",
                    m.label(r.title),
                    subjects,
                    ratings,
                    criteria,
                    self._people(r.id),
                )
            )
        district = Aggregate(
            "district", district_name, d_subjects, d_ratings, d_criteria, self._people(None)
        )
        return roles, district


def _add_into(target: dict[str, dict[str, int]], source: Mapping[str, Mapping[str, int]]) -> None:
    for criterion, per_level in source.items():
        row = target.setdefault(criterion, {})
        for level, n in per_level.items():
            row[level] = row.get(level, 0) + n


# -- HTML pieces ----------------------------------------------------------------------------------


def _bar_svg(
    uid: str, title: str, counts: Sequence[tuple[Level, int]], m: Messages
) -> tuple[str, str]:
    """One stacked bar (an SVG string) and its text description."""
    total = sum(n for _, n in counts)
    desc = "; ".join(
        m.t("bar_desc_item", level=lv.label, count=m.num(n), share=m.pct(n, total))
        for lv, n in counts
    )
    parts = [
        f'<svg class="bar" viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT}" role="img"'
        f' aria-labelledby="{esc(uid)}-t {esc(uid)}-d" data-total="{total}">',
        f'<title id="{esc(uid)}-t">{esc(title)}</title>',
        f'<desc id="{esc(uid)}-d">{esc(desc if total else m.t("no_data"))}</desc>',
    ]
    if total == 0:
        parts.append(
            f'<rect class="track" x="0" y="0" width="{BAR_WIDTH}" height="{BAR_HEIGHT}"'
            ' fill="#e6e6e6"/>'
        )
        parts.append(
            f'<text class="seg-text t-empty" x="6" y="16" font-size="12" fill="#333">'
            f"{esc(m.t('no_data'))}</text>"
        )
    cum = 0
    for lv, n in counts:
        if n <= 0 or total == 0:
            continue
        x0 = BAR_WIDTH * cum / total
        cum += n
        x1 = BAR_WIDTH * cum / total
        width = x1 - x0
        item = m.t("bar_desc_item", level=lv.label, count=m.num(n), share=m.pct(n, total))
        parts.append(
            f'<rect class="seg {lv.css}" data-level="{esc(lv.id)}" data-count="{n}"'
            f' x="{x0:.2f}" y="0" width="{width:.2f}" height="{BAR_HEIGHT}" fill="{lv.fill}">'
            f"<title>{esc(item)}</title></rect>"
        )
        full = f"{m.num(n)} ({m.pct(n, total, 0)})"
        short = m.num(n)
        text = (
            full if width >= len(full) * 6.8 + 6 else short if width >= len(short) * 7 + 6 else ""
        )
        if text:
            parts.append(
                f'<text class="seg-text t-{lv.css}" x="{(x0 + x1) / 2:.2f}" y="16"'
                f' font-size="12" text-anchor="middle" aria-hidden="true">{esc(text)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts), desc


def _swatch(css: str, fill: str) -> str:
    return (
        '<svg class="swatch" viewBox="0 0 12 12" aria-hidden="true">'
        f'<rect class="{css}" x="0" y="0" width="12" height="12" fill="{fill}"/></svg>'
    )


def _distribution(
    view: ResultsView,
    uid: str,
    who: str,
    criteria: Mapping[str, Mapping[str, int]],
    heading: str = "",
) -> str:
    """The chart (one bar per criterion) and the data table of one distribution.

    ``heading`` (HTML) goes with the chart, so that printing never leaves it alone at the
    bottom of a page.
    """
    m = view.m
    legend = "".join(
        f'<li>{_swatch(lv.css, lv.fill)}<span class="legend-label">{esc(lv.label)}</span></li>'
        for lv in view.levels
    )
    rows = []
    table_rows = []
    for i, (cid, clabel) in enumerate(view.criteria):
        per_level = criteria.get(cid, {})
        counts = [(lv, int(per_level.get(lv.id, 0))) for lv in view.levels]
        total = sum(n for _, n in counts)
        svg, _ = _bar_svg(f"{uid}-c{i}", m.t("bar_title", who=who, criterion=clabel), counts, m)
        rows.append(
            f'<div class="bar-row" data-criterion="{esc(cid)}">'
            f'<div class="bar-label">{esc(clabel)}</div><div class="bar-box">{svg}</div></div>'
        )
        cells = "".join(
            f'<td class="num" data-level="{esc(lv.id)}" data-count="{n}">'
            f'<span class="n">{esc(m.num(n))}</span> '
            f'<span class="p">({esc(m.pct(n, total))})</span></td>'
            for lv, n in counts
        )
        table_rows.append(
            f'<tr data-criterion="{esc(cid)}"><th scope="row">{esc(clabel)}</th>{cells}</tr>'
        )
    head = "".join(
        f'<th scope="col" class="num">{_swatch(lv.css, lv.fill)} {esc(lv.label)}</th>'
        for lv in view.levels
    )
    return (
        f'<div class="keep">{heading}<div class="chart" id="{esc(uid)}-chart">'
        f'<ul class="legend" aria-label="{esc(m.t("legend"))}">{legend}</ul>'
        f"{''.join(rows)}</div></div>"
        f'<div class="table-wrap"><table class="data" id="{esc(uid)}-table">'
        f"<caption>{esc(m.t('data_table'))}: {esc(who)}</caption>"
        f'<thead><tr><th scope="col">{esc(m.t("criterion"))}</th>{head}</tr></thead>'
        f"<tbody>{''.join(table_rows)}</tbody></table></div>"
    )


def _comments(view: ResultsView, comments: Mapping[str, Sequence[str]]) -> str:
    m = view.m
    parts = [f'<div class="comments"><h4>{esc(m.t("comments"))}</h4>']
    for fid, flabel in view.comment_fields:
        texts = comments.get(fid, [])
        parts.append(f'<section class="comment-field" data-field="{esc(fid)}">')
        parts.append(f"<h5>{esc(flabel)}</h5>")
        if texts:
            items = "".join(f'<li class="comment">{esc(t)}</li>' for t in texts)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append(f'<p class="none">{esc(m.t("no_comments"))}</p>')
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def _ward_section(view: ResultsView, ward: str, *, filtered: bool) -> str:
    m = view.m
    c = view.ward_counts(ward)
    name = view.ward_name(ward)
    counts_line = m.t(
        "ward_counts",
        eligible=m.num(c["eligible"]),
        issued=m.num(c["issued"]),
        ballots=m.num(c["ballots"]),
        valid=m.num(c["valid"]),
        invalid=m.num(c["invalid"]),
    )
    shown = view.shown(ward)
    parts = [
        f'<section class="ward{" only" if filtered else ""}" id="w-{esc(ward)}"'
        f' data-ward="{esc(ward)}"'
        f' data-shown="{"yes" if shown else "no"}">',
        f"<h2>{esc(name)}</h2>",
        f'<p class="counts">{esc(counts_line)}</p>',
    ]
    if not filtered:
        link = "?" + urllib.parse.urlencode({"ward": ward, "lang": m.lang})
        parts.append(
            f'<p class="no-print"><a href="{esc(link)}">{esc(m.t("ward_print_link"))}</a></p>'
        )
    if not shown:
        note = m.t("ward_hidden", valid=m.num(c["valid"]), min_group=m.num(view.min_group))
        parts.append(f'<p class="hidden-note" role="note">{esc(note)}</p></section>')
        return "".join(parts)
    for s in view.manifest.subjects_of(ward):
        entry = view.subject(s.id)
        who = m.label(s.name)
        role = view.role_title(s.role)
        parts.append(f'<section class="subject" id="s-{esc(s.id)}" data-subject="{esc(s.id)}">')
        sub = m.t("subject_ballots", role=role, ballots=m.num(entry["ballots"]))
        heading = (
            f'<h3>{esc(who)}</h3><p class="subject-meta">{esc(sub)}</p>'
            f'<h4 class="visually-hidden">{esc(m.t("distribution"))}</h4>'
        )
        parts.append(_distribution(view, f"s-{s.id}", who, entry["criteria"], heading))
        parts.append(_comments(view, entry["comments"]))
        parts.append("</section>")
    parts.append("</section>")
    return "".join(parts)


def _aggregate_section(view: ResultsView, agg: Aggregate, counts_text: str, level: int) -> str:
    m = view.m
    tag = f"h{level}"
    parts = [
        f'<section class="aggregate" id="{esc(agg.key)}" data-ballots="{agg.ballots}">',
        f"<{tag}>{esc(agg.heading)}</{tag}>",
        f'<p class="counts">{esc(counts_text)}</p>',
    ]
    if agg.people < view.min_group:
        note = m.t("group_hidden", ballots=m.num(agg.people), min_group=m.num(view.min_group))
        parts.append(f'<p class="hidden-note" role="note">{esc(note)}</p>')
    else:
        parts.append(_distribution(view, agg.key, agg.heading, agg.criteria))
    parts.append("</section>")
    return "".join(parts)


def _overview(view: ResultsView) -> str:
    m = view.m
    r = view.results
    head = "".join(
        f'<th scope="col" class="num">{esc(m.t(k))}</th>'
        for k in ("eligible", "issued", "ballots", "valid", "invalid")
    )
    rows = []
    totals = dict.fromkeys(("eligible", "issued", "ballots", "valid", "invalid"), 0)
    for w in view.manifest.wards:
        c = view.ward_counts(w.id)
        for k in totals:
            totals[k] += c[k]
        mark = (
            ""
            if view.shown(w.id)
            else f' <span class="mark">({esc(m.t("counts_only_mark"))})</span>'
        )
        cells = "".join(f'<td class="num" data-key="{k}">{esc(m.num(c[k]))}</td>' for k in totals)
        rows.append(
            f'<tr data-ward="{esc(w.id)}"><th scope="row"><a href="#w-{esc(w.id)}">'
            f"{esc(view.ward_name(w.id))}</a>{mark}</th>{cells}</tr>"
        )
    total_cells = "".join(f'<td class="num">{esc(m.num(v))}</td>' for v in totals.values())
    parts = [
        '<section class="overview" id="overview">',
        f"<h2>{esc(m.t('overview'))}</h2>",
        '<div class="table-wrap"><table class="counts-table"><thead><tr>'
        f'<th scope="col">{esc(m.t("ward"))}</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody>"
        f'<tfoot><tr><th scope="row">{esc(m.t("total"))}</th>{total_cells}</tr></tfoot>'
        "</table></div>",
        f'<p class="rule">{esc(m.t("min_group_rule", min_group=m.num(view.min_group)))}</p>',
    ]
    invalid = r.get("invalid", [])
    if invalid:
        by_reason: dict[str, int] = {}
        for item in invalid:
            by_reason[item["reason"]] = by_reason.get(item["reason"], 0) + 1
        reason_rows = "".join(
            f'<tr data-reason="{esc(code)}"><th scope="row">'
            f"{esc(m.t('reason_' + code) if m.has('reason_' + code) else code)}</th>"
            f'<td class="num">{esc(m.num(n))}</td></tr>'
            for code, n in sorted(by_reason.items())
        )
        parts.append(
            f'<table class="reasons"><caption>{esc(m.t("invalid_reasons"))}</caption>'
            f'<thead><tr><th scope="col">{esc(m.t("reason"))}</th>'
            f'<th scope="col" class="num">{esc(m.t("count"))}</th></tr></thead>'
            f"<tbody>{reason_rows}</tbody></table>"
        )
    parts.append("</section>")
    return "".join(parts)


def _summary(view: ResultsView) -> str:
    m = view.m
    roles, district = view.aggregates()
    parts = ['<section class="summary" id="summary">', f"<h2>{esc(m.t('summary_heading'))}</h2>"]
    if view.hidden_wards:
        names = ", ".join(view.ward_name(w) for w in view.hidden_wards)
        note = m.t("summary_excludes", wards=names)
        parts.append(f'<p class="hidden-note" role="note">{esc(note)}</p>')
    dcounts = m.t(
        "district_counts", ballots=m.num(district.ballots), subjects=m.num(district.subjects)
    )
    heading = m.t("district_heading", district=district.heading)
    parts.append(_aggregate_section(view, _retitle(district, heading), dcounts, 3))
    parts.append(f'<h3 class="roles-heading">{esc(m.t("roles_heading"))}</h3>')
    for agg in roles:
        text = m.t("role_counts", subjects=m.num(agg.subjects), ballots=m.num(agg.ballots))
        parts.append(_aggregate_section(view, agg, text, 4))
    parts.append("</section>")
    return "".join(parts)


def _retitle(agg: Aggregate, heading: str) -> Aggregate:
    return Aggregate(agg.key, heading, agg.subjects, agg.ballots, agg.criteria, agg.people)


def _lang_nav(m: Messages, params: Mapping[str, str]) -> str:
    links = []
    for lang in LANGS:
        query = "?" + urllib.parse.urlencode({**params, "lang": lang})
        label = Messages(lang).t("lang_name")
        current = ' aria-current="true"' if lang == m.lang else ""
        links.append(
            f'<a href="{esc(query)}" hreflang="{lang}" lang="{lang}"{current}>{esc(label)}</a>'
        )
    return (
        f'<span class="lang-switch" aria-label="{esc(m.t("lang_switch"))}">{" ".join(links)}</span>'
    )


def _document(
    m: Messages,
    title: str,
    body: str,
    *,
    round_id: str | None,
    params: Mapping[str, str] | None = None,
    active: str = "",
) -> str:
    nav_links = ""
    if round_id is not None:
        suffix = f"?lang={m.lang}"
        items = []
        for key, href in (
            ("nav_results", f"../results/{round_id}{suffix}"),
            ("nav_turnout", f"../turnout/{round_id}{suffix}"),
        ):
            current = ' aria-current="page"' if key == active else ""
            items.append(f'<a href="{esc(href)}"{current}>{esc(m.t(key))}</a>')
        nav_links = " ".join(items)
    nav = (
        f'<nav class="site-nav no-print" aria-label="{esc(m.t("nav"))}">'
        f"{nav_links}{_lang_nav(m, params or {})}</nav>"
    )
    return (
        "<!doctype html>\n"
        f'<html lang="{esc(m.lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>"
        f'<link rel="stylesheet" href="{CSS_HREF}"></head>'
        f'<body class="report">{nav}<main>{body}</main></body></html>\n'
    )


def _message_page(
    m: Messages, heading: str, text: str, *, round_id: str | None, extra: str = ""
) -> str:
    body = f'<h1>{esc(heading)}</h1><p class="message">{esc(text)}</p>{extra}'
    return _document(m, heading, body, round_id=round_id)


def _round_header(m: Messages, manifest: Manifest, state: str, heading_key: str) -> str:
    lines = [
        m.t("district", district=m.label(manifest.district_name)),
        m.t("round", round=manifest.round_id),
        m.t("round_state", state=m.t(f"state_{state}") if m.has(f"state_{state}") else state),
    ]
    return (
        '<header class="page-head">'
        f'<p class="kicker">{esc(m.t(heading_key))}</p>'
        f"<h1>{esc(m.label(manifest.title))}</h1>"
        f'<p class="meta">{" · ".join(esc(x) for x in lines)}</p>'
        f'<p class="meta mid">{esc(m.t("mid", mid=manifest.mid))}</p>'
        "</header>"
    )


def render_results(
    manifest: Manifest,
    results: Mapping[str, Any],
    m: Messages,
    *,
    state: str = "tallied",
    ward: str | None = None,
) -> str:
    """The results page (HTML) of a tallied round; ``ward`` keeps that ward only."""
    view = ResultsView(manifest, results, m)
    rid = manifest.round_id
    parts = [_round_header(m, manifest, state, "report_heading")]
    trustee_names = {t.id: m.label(t.name) for t in manifest.trustees}
    released = ", ".join(trustee_names.get(t, t) for t in results.get("trustees", []))
    parts.append(
        f'<p class="meta">{esc(m.t("trustees", trustees=released))} · '
        f"{esc(m.t('board', size=m.num(int(results.get('tree_size', 0)))))}</p>"
    )
    params: dict[str, str] = {}
    if ward is None:
        toc = "".join(
            f'<li><a href="#w-{esc(w.id)}">{esc(view.ward_name(w.id))}</a></li>'
            for w in manifest.wards
        )
        parts.append(
            f'<nav class="toc no-print" aria-label="{esc(m.t("nav_contents"))}">'
            f'<ul><li><a href="#overview">{esc(m.t("overview"))}</a></li>'
            f'<li><a href="#summary">{esc(m.t("summary_heading"))}</a></li>{toc}</ul></nav>'
        )
        parts.append(_overview(view))
        parts.append(_summary(view))
        parts.append(f'<h2 class="wards-heading">{esc(m.t("wards_heading"))}</h2>')
        for w in manifest.wards:
            parts.append(_ward_section(view, w.id, filtered=False))
    else:
        params["ward"] = ward
        parts.append(_ward_section(view, ward, filtered=True))
    xlsx = f"{rid}.xlsx?lang={m.lang}"
    parts.append(
        f'<footer class="page-foot"><h2>{esc(m.t("downloads"))}</h2><ul>'
        f'<li><a href="../api/rounds/{esc(rid)}/results">{esc(m.t("download_results"))}</a></li>'
        f'<li><a href="../api/rounds/{esc(rid)}/record">{esc(m.t("download_record"))}</a></li>'
        f'<li><a href="{esc(xlsx)}">{esc(m.t("download_xlsx"))}</a></li></ul>'
        f"<p>{esc(m.t('verify_note'))}</p>"
        f'<p class="no-print">{esc(m.t("print_note"))}</p></footer>'
    )
    title = m.t("results_title", title=m.label(manifest.title))
    return _document(m, title, "".join(parts), round_id=rid, params=params, active="nav_results")


def _turnout_bar(m: Messages, uid: str, title: str, eligible: int, issued: int, cast: int) -> str:
    def width(n: int) -> float:
        return TURNOUT_WIDTH * min(n, eligible) / eligible if eligible > 0 else 0.0

    desc = m.t(
        "turnout_bar_desc",
        issued_label=m.t("issued"),
        issued=m.num(issued),
        eligible=m.num(eligible),
        issued_share=m.pct(issued, eligible),
        cast_label=m.t("cast"),
        cast=m.num(cast),
        cast_share=m.pct(cast, eligible),
    )
    return (
        f'<svg class="tbar" viewBox="0 0 {TURNOUT_WIDTH} {TURNOUT_HEIGHT}" role="img"'
        f' aria-labelledby="{uid}-t {uid}-d">'
        f'<title id="{uid}-t">{esc(title)}</title><desc id="{uid}-d">{esc(desc)}</desc>'
        f'<rect class="track" x="0" y="0" width="{TURNOUT_WIDTH}" height="{TURNOUT_HEIGHT}"'
        ' fill="#e6e6e6"/>'
        f'<rect class="issued" data-value="{issued}" x="0" y="0" width="{width(issued):.2f}"'
        f' height="{TURNOUT_HEIGHT}" fill="#9cc3e6"/>'
        f'<rect class="cast" data-value="{cast}" x="0" y="3" width="{width(cast):.2f}"'
        f' height="{TURNOUT_HEIGHT - 6}" fill="#1f5f99"/></svg>'
    )


def _token_form(m: Messages, round_id: str, *, again: bool = False, wrong: bool = False) -> str:
    action = f"{round_id}?lang={m.lang}"
    error = f'<p class="error" role="alert">{esc(m.t("token_wrong"))}</p>' if wrong else ""
    intro = "" if again else f"<p>{esc(m.t('turnout_intro'))}</p>"
    submit = m.t("token_again") if again else m.t("token_submit")
    return (
        f'<form class="token-form no-print" method="post" action="{esc(action)}">{intro}{error}'
        f'<label for="token">{esc(m.t("token_label"))}</label>'
        '<input id="token" name="token" type="password" autocomplete="off" spellcheck="false"'
        " required>"
        f'<button type="submit">{esc(submit)}</button></form>'
    )


def render_turnout(
    manifest: Manifest, turnout: Mapping[str, Any], m: Messages, *, now: dt.datetime
) -> str:
    """The turnout page (HTML) for the organizer, from :meth:`Round.turnout`."""
    rid = manifest.round_id
    rows = []
    for i, w in enumerate(manifest.wards):
        c = turnout["wards"][w.id]
        name = m.label(w.name)
        rows.append(_turnout_row(m, f"t{i}", name, c, w.id))
    total = turnout["total"]
    legend = "".join(
        f"<li>{_swatch(css, fill)}<span>{esc(m.t(key))}</span></li>"
        for css, fill, key in (
            ("track", "#e6e6e6", "turnout_legend_track"),
            ("issued", "#9cc3e6", "issued"),
            ("cast", "#1f5f99", "cast"),
        )
    )
    head = "".join(
        f'<th scope="col" class="num">{esc(m.t(k))}</th>'
        for k in ("eligible", "issued", "issued_share", "cast", "cast_share")
    )
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    body = (
        _round_header(m, manifest, str(turnout["state"]), "turnout_heading")
        + f'<p class="meta">{esc(m.t("as_of", time=stamp))}</p>'
        + f'<ul class="legend" aria-label="{esc(m.t("turnout_legend"))}">{legend}</ul>'
        + '<div class="table-wrap"><table class="turnout"><thead><tr>'
        + f'<th scope="col">{esc(m.t("ward"))}</th>{head}'
        + f'<th scope="col">{esc(m.t("chart"))}</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody><tfoot>"
        + _turnout_row(m, "total", m.t("total"), total, None)
        + "</tfoot></table></div>"
        + _token_form(m, rid, again=True)
    )
    title = m.t("turnout_title", title=m.label(manifest.title))
    return _document(m, title, body, round_id=rid, active="nav_turnout")


def _turnout_row(m: Messages, uid: str, name: str, c: Mapping[str, int], ward: str | None) -> str:
    eligible, issued, cast = int(c["eligible"]), int(c["issued"]), int(c["cast"])
    attr = f' data-ward="{esc(ward)}"' if ward is not None else ' class="total"'
    cells = (
        f'<td class="num" data-key="eligible">{esc(m.num(eligible))}</td>'
        f'<td class="num" data-key="issued">{esc(m.num(issued))}</td>'
        f'<td class="num" data-key="issued_share">{esc(m.pct(issued, eligible))}</td>'
        f'<td class="num" data-key="cast">{esc(m.num(cast))}</td>'
        f'<td class="num" data-key="cast_share">{esc(m.pct(cast, eligible))}</td>'
    )
    bar = _turnout_bar(m, uid, name, eligible, issued, cast)
    return f'<tr{attr}><th scope="row">{esc(name)}</th>{cells}<td class="chart">{bar}</td></tr>'


# -- the routes ---------------------------------------------------------------------------------


def _messages(request: Request) -> tuple[Messages, str | None]:
    """The page language, and the value to remember in the cookie (None: leave it)."""
    lang, remember = choose_lang(request.query_params.get("lang"), request.cookies.get(COOKIE))
    return Messages(lang), lang if remember else None


def _html(text: str, status: int, remember: str | None, *, no_store: bool = False) -> Response:
    response = HTMLResponse(
        text,
        status_code=status,
        headers={"cache-control": "no-store" if no_store else "no-cache"},
    )
    if remember is not None:
        response.set_cookie(COOKIE, remember, max_age=365 * 24 * 3600, samesite="lax")
    return response


class _Answer(Exception):
    """A page to answer instead of the one asked for (unknown round, not tallied yet)."""

    def __init__(self, status: int, page: str) -> None:
        super().__init__(status)
        self.status = status
        self.page = page


class ReportPages:
    """The handlers of the report pages, bound to one service."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def _engine(self, round_id: str) -> Round | None:
        if not _ROUND_ID.fullmatch(round_id):
            return None
        try:
            return self.service.round(round_id)
        except NotFound:
            return None

    @staticmethod
    def _unknown(m: Messages, round_id: str) -> tuple[int, str]:
        # the address is echoed only when it is a round id: no arbitrary text on the page
        text = m.t("unknown_round_body", round=_shown_id(round_id))
        return 404, _message_page(m, m.t("unknown_round_heading"), text, round_id=None)

    @staticmethod
    def _state_label(m: Messages, state: str) -> str:
        return m.t(f"state_{state}") if m.has(f"state_{state}") else state

    def _tallied(self, round_id: str, m: Messages) -> tuple[Manifest, dict[str, Any]]:
        """The round's manifest and results; :class:`_Answer` when there are none."""
        engine = self._engine(round_id)
        if engine is None:
            raise _Answer(*self._unknown(m, round_id))
        state = engine.state
        data = engine.store.get_document("results") if state == "tallied" else None
        if data is None:
            text = m.t("not_tallied_body", round=round_id, state=self._state_label(m, state))
            heading = m.t("not_tallied_heading")
            raise _Answer(409, _message_page(m, heading, text, round_id=round_id))
        signed: dict[str, Any] = parse_json(data)
        return engine.manifest, signed["results"]

    def results_page(self, round_id: str, m: Messages, ward: str | None) -> tuple[int, str]:
        try:
            manifest, results = self._tallied(round_id, m)
        except _Answer as answer:
            return answer.status, answer.page
        if ward is not None and not manifest.has_ward(ward):
            text = m.t("unknown_ward_body", round=round_id, ward=_shown_id(ward))
            return 404, _message_page(m, m.t("unknown_ward_heading"), text, round_id=round_id)
        return 200, render_results(manifest, results, m, ward=ward)

    def xlsx(self, round_id: str, m: Messages) -> tuple[int, str] | bytes:
        try:
            manifest, results = self._tallied(round_id, m)
        except _Answer as answer:
            return answer.status, answer.page
        from .report_xlsx import results_workbook

        return results_workbook(manifest, results, m)

    def turnout_page(self, round_id: str, m: Messages, token: str | None) -> tuple[int, str]:
        engine = self._engine(round_id)
        if engine is None:
            return self._unknown(m, round_id)
        state = engine.state
        if token is None:  # GET: the form
            if state == "draft":
                return self._not_open(m, round_id, state)
            title = m.label(engine.manifest.title)
            body = (
                f'<header class="page-head"><p class="kicker">{esc(m.t("turnout_heading"))}</p>'
                f"<h1>{esc(title)}</h1></header>{_token_form(m, round_id)}"
            )
            page_title = m.t("turnout_title", title=title)
            return 200, _document(m, page_title, body, round_id=round_id, active="nav_turnout")
        if not self.service.check_admin(token):
            title = m.t("turnout_heading")
            body = f"<h1>{esc(title)}</h1>{_token_form(m, round_id, wrong=True)}"
            return 401, _document(m, title, body, round_id=round_id, active="nav_turnout")
        if state == "draft":
            return self._not_open(m, round_id, state)
        turnout = engine.turnout()
        now = dt.datetime.now(dt.UTC)
        return 200, render_turnout(engine.manifest, turnout, m, now=now)

    def _not_open(self, m: Messages, round_id: str, state: str) -> tuple[int, str]:
        text = m.t("not_open_body", round=round_id, state=self._state_label(m, state))
        return 409, _message_page(m, m.t("not_open_heading"), text, round_id=round_id)

    # -- ASGI handlers ------------------------------------------------------------------------

    async def results(self, request: Request) -> Response:
        m, remember = _messages(request)
        ward = request.query_params.get("ward")
        status, text = await run_in_threadpool(
            self.results_page, request.path_params["round_id"], m, ward
        )
        return _html(text, status, remember)

    async def results_xlsx(self, request: Request) -> Response:
        m, remember = _messages(request)
        round_id = request.path_params["round_id"]
        out = await run_in_threadpool(self.xlsx, round_id, m)
        if isinstance(out, tuple):
            return _html(out[1], out[0], remember)
        return Response(
            out,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={
                "content-disposition": f'attachment; filename="{round_id}-{m.lang}.xlsx"',
                "cache-control": "no-cache",
            },
        )

    async def turnout(self, request: Request) -> Response:
        m, remember = _messages(request)
        round_id = request.path_params["round_id"]
        token: str | None = None
        if request.method == "POST":
            token = _form_field(await _read_form(request), "token") or ""
        status, text = await run_in_threadpool(self.turnout_page, round_id, m, token)
        return _html(text, status, remember, no_store=True)

    async def css(self, request: Request) -> Response:
        return FileResponse(CSS_PATH, media_type="text/css; charset=utf-8")


def _shown_id(value: str) -> str:
    return value if _ROUND_ID.fullmatch(value) else "…"


async def _read_form(request: Request) -> bytes:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_FORM:
            return b""  # far more than a token: treated as no token
        chunks.append(chunk)
    return b"".join(chunks)


def _form_field(body: bytes, name: str) -> str | None:
    """One field of an ``application/x-www-form-urlencoded`` body (its first value)."""
    try:
        fields = urllib.parse.parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=16
        )
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get(name)
    return values[0].strip() if values else None


def report_routes(service: Service) -> list[BaseRoute]:
    """The report pages' routes, to add to the application's routes."""
    pages = ReportPages(service)
    return [
        Route("/results/{round_id}.xlsx", pages.results_xlsx, methods=["GET"]),
        Route("/results/{round_id}", pages.results, methods=["GET"]),
        Route("/turnout/{round_id}", pages.turnout, methods=["GET", "POST"]),
        Route("/static/css/reports.css", pages.css, methods=["GET"]),
    ]
