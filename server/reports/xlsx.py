"""Report workbooks (XLSX): a tallied round's results (``GET /results/{round_id}.xlsx``) and
the standing committee's report (``anonballot report --xlsx``).

``results_workbook``: one sheet "Overview" (the round, the wards' counts, the invalid ballots
by reason), one sheet "Summary" (the whole district and each role), then one sheet per ward
with, for each person rated, the counts and shares per criterion and level and the comments
per field. The ``min_group`` rule of the results page applies (``model.py``): a ward with
fewer valid ballots has its counts only, and the summaries add up the shown wards only.

``committee_workbook``: the standing committee's report (``committee.py``) with the same
content, one sheet per part, plus a flat sheet: one row per person rated and criterion
(round, ward, role, person, criterion, each level's count and share, and its change), for
sorting and pivot tables. The view model applied the ``min_group`` rule already: a hidden
group's cells are empty, and the row says it is not shown.

Texts come from the catalogs of ``server/i18n.py`` and the manifest's labels. Cell values
are always text or numbers, never formulas: a comment that starts with ``=`` stays text (a
string with the quote prefix, ``spreadsheet.py``), and characters a workbook cannot hold
(C0 controls) are replaced.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping, Sequence
from typing import Any

import openpyxl

from anonballot.manifest import Manifest

from ..i18n import Messages
from ..spreadsheet import formula_like
from .committee import CommitteeView
from .leader import ChangeRow, PlanView
from .model import COUNT_KEYS, Aggregate, ResultsView

__all__ = ["committee_workbook", "results_workbook"]

# openpyxl has no type stubs here: reached through the top-level package (typed Any)
Workbook = openpyxl.Workbook
Font = openpyxl.styles.Font
ILLEGAL_CHARACTERS_RE = openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE
get_column_letter = openpyxl.utils.get_column_letter

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEAD_FILL = openpyxl.styles.PatternFill("solid", fgColor="F3F4F6")
_NOTE_FILL = openpyxl.styles.PatternFill("solid", fgColor="FFF6E0")
_WRAP = openpyxl.styles.Alignment(wrap_text=True, vertical="top")
_SHEET_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", " "))


class _Sheet:
    """Appends rows to one worksheet, text never read as a formula."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.row = 1

    def put(self, values: Sequence[object], *, font: Any = None, fill: Any = None) -> None:
        for col, value in enumerate(values, start=1):
            if value is None:
                continue
            cell = self.ws.cell(row=self.row, column=col)
            if isinstance(value, str):
                cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
                cell.data_type = "s"  # a text starting with "=" is not a formula
                # and stays text when someone edits the cell (spreadsheet.py)
                cell.quotePrefix = formula_like(value)
            else:
                cell.value = value
            if font is not None:
                cell.font = font
            if fill is not None:
                cell.fill = fill
        self.row += 1

    def share(self, col: int) -> None:
        """Format column ``col`` of the last row as a percentage."""
        self.ws.cell(row=self.row - 1, column=col).number_format = "0.0%"

    def skip(self, n: int = 1) -> None:
        self.row += n

    def note(self, text: str) -> None:
        self.put([text], fill=_NOTE_FILL)
        self.ws.cell(row=self.row - 1, column=1).alignment = _WRAP

    def widths(self, first: int, rest: int, count: int) -> None:
        self.ws.column_dimensions["A"].width = first
        for col in range(2, count + 2):
            self.ws.column_dimensions[get_column_letter(col)].width = rest


def _sheet_title(text: str, used: set[str]) -> str:
    """A worksheet name: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = text.translate(_SHEET_FORBIDDEN).strip().strip("'")[:31] or "Sheet"
    name = base
    i = 2
    while name.lower() in used:
        suffix = f" ({i})"
        name = base[: 31 - len(suffix)] + suffix
        i += 1
    used.add(name.lower())
    return name


def _distribution(
    sheet: _Sheet, view: ResultsView, criteria: Mapping[str, Mapping[str, int]]
) -> None:
    m = view.m
    levels = view.levels
    header = [m.t("criterion")] + [lv.label for lv in levels]
    header += [m.t("xlsx_share", level=lv.label) for lv in levels]
    sheet.put(header, font=_BOLD, fill=_HEAD_FILL)
    for cid, clabel in view.criteria:
        per_level = criteria.get(cid, {})
        counts = [int(per_level.get(lv.id, 0)) for lv in levels]
        total = sum(counts)
        shares = [n / total if total else 0.0 for n in counts]
        sheet.put([clabel, *counts, *shares])
        for col in range(len(levels) + 2, 2 * len(levels) + 2):
            sheet.share(col)


def _aggregate(sheet: _Sheet, view: ResultsView, agg: Aggregate, counts: str) -> None:
    m = view.m
    sheet.put([agg.heading], font=_BOLD)
    sheet.put([counts])
    if view.hidden(agg):
        sheet.note(m.t("group_hidden", ballots=m.num(agg.people), min_group=m.num(view.min_group)))
    else:
        _distribution(sheet, view, agg.criteria)
    sheet.skip()


def results_workbook(manifest: Manifest, results: Mapping[str, Any], m: Messages) -> bytes:
    """The workbook's bytes (.xlsx) for the results of a tallied round."""
    view = ResultsView(manifest, results, m)
    wb = Workbook()
    used: set[str] = set()
    ncols = 2 * len(view.levels)

    # overview
    ws = wb.active
    ws.title = _sheet_title(m.t("xlsx_overview"), used)
    sheet = _Sheet(ws)
    sheet.put([m.label(manifest.title)], font=_TITLE)
    sheet.put([m.t("district", district=m.label(manifest.district_name))])
    sheet.put([m.t("round", round=manifest.round_id)])
    sheet.put([m.t("mid", mid=manifest.mid)])
    sheet.put([m.t("xlsx_min_group"), manifest.min_group])
    sheet.skip()
    keys = COUNT_KEYS
    header = [m.t("ward"), *(m.t(k) for k in keys), m.t("xlsx_shown")]
    sheet.put(header, font=_BOLD, fill=_HEAD_FILL)
    for w in manifest.wards:
        c = view.ward_counts(w.id)
        shown = m.t("yes") if view.shown(w.id) else m.t("no")
        sheet.put([view.ward_name(w.id), *(c[k] for k in keys), shown])
    sheet.put([m.t("total"), *view.totals().values()], font=_BOLD)
    sheet.skip()
    sheet.note(m.t("min_group_rule", min_group=m.num(view.min_group)))
    reasons = view.reasons()
    if reasons:
        sheet.skip()
        sheet.put([m.t("invalid_reasons")], font=_BOLD)
        for reason in reasons:
            sheet.put([reason.label, reason.count])
    sheet.widths(34, 16, 6)

    # summary: the district, then each role
    sheet = _Sheet(wb.create_sheet(_sheet_title(m.t("xlsx_summary"), used)))
    roles, district = view.aggregates()
    if view.hidden_wards:
        sheet.note(m.t("summary_excludes", wards=", ".join(view.hidden_ward_names())))
        sheet.skip()
    heading = m.t("district_heading", district=district.heading)
    counts = m.t(
        "district_counts",
        ballots=m.num(district.people),
        ratings=m.num(district.ratings),
        subjects=m.num(district.subjects),
    )
    _aggregate(sheet, view, dataclasses.replace(district, heading=heading), counts)
    for agg in roles:
        text = m.t(
            "role_counts",
            subjects=m.num(agg.subjects),
            ballots=m.num(agg.people),
            ratings=m.num(agg.ratings),
        )
        _aggregate(sheet, view, agg, text)
    sheet.widths(40, 14, ncols)

    # one sheet per ward
    for w in manifest.wards:
        sheet = _Sheet(wb.create_sheet(_sheet_title(view.ward_name(w.id), used)))
        c = view.ward_counts(w.id)
        sheet.put([view.ward_name(w.id)], font=_TITLE)
        sheet.put([m.t(k) for k in keys], font=_BOLD, fill=_HEAD_FILL)
        sheet.put([c[k] for k in keys])
        sheet.skip()
        if not view.shown(w.id):
            note = m.t("ward_hidden", valid=m.num(c["valid"]), min_group=m.num(view.min_group))
            sheet.note(note)
            sheet.widths(40, 14, ncols)
            continue
        for s in manifest.subjects_of(w.id):
            entry = view.subject(s.id)
            sheet.put([m.t("xlsx_subject"), m.label(s.name)], font=_BOLD)
            sheet.put([m.t("xlsx_role"), view.role_title(s.role)])
            sheet.put([m.t("valid"), entry["ballots"]])
            _distribution(sheet, view, entry["criteria"])
            for fid, flabel in view.comment_fields:
                texts = entry["comments"].get(fid, [])
                sheet.put([m.t("xlsx_comment_field", field=flabel)], font=_BOLD)
                if not texts:
                    sheet.put([m.t("no_comments")])
                for text in texts:
                    sheet.put([text])
                    sheet.ws.cell(row=sheet.row - 1, column=1).alignment = _WRAP
            sheet.skip()
        sheet.widths(40, 14, ncols)

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# -- the standing committee's report --------------------------------------------------------


def _changes(sheet: _Sheet, view: ResultsView, rows: Sequence[ChangeRow], caption: str) -> None:
    m = view.m
    sheet.put([caption], font=_BOLD)
    sheet.put([m.t("criterion"), *(lv.label for lv in view.levels)], font=_BOLD, fill=_HEAD_FILL)
    for row in rows:
        sheet.put([row.label, *(c.points for c in row.cells)])
        for col in range(2, len(row.cells) + 2):
            sheet.ws.cell(row=sheet.row - 1, column=col).number_format = "+0.0;-0.0;0.0"


def _plan(sheet: _Sheet, m: Messages, plan: PlanView) -> None:
    sheet.put([plan.heading], font=_BOLD)
    sheet.put([m.t("plan_version", version=plan.version), m.t("plan_digest", digest=plan.digest)])
    if plan.progress_note:
        sheet.put([plan.progress_note])
    header = [
        m.t("plan_criterion"), m.t("plan_shortcoming"), m.t("plan_actions"),
        m.t("plan_deadline"), m.t("plan_check"), m.t("plan_progress"), m.t("plan_change"),
    ]  # fmt: skip
    sheet.put(header, font=_BOLD, fill=_HEAD_FILL)
    for item in plan.items:
        progress = f"{item.status} ({item.date}): {item.note}" if item.status else None
        sheet.put(
            [item.criterion, item.shortcoming, item.actions, item.deadline, item.check,
             progress, item.change]
        )  # fmt: skip
        for col in range(1, 8):
            sheet.ws.cell(row=sheet.row - 1, column=col).alignment = _WRAP


def committee_workbook(report: CommitteeView) -> bytes:
    """The workbook's bytes (.xlsx) of the standing committee's report."""
    m, view = report.m, report.view
    levels = view.levels
    wb = Workbook()
    used: set[str] = set()

    # cover: the round, the records and their audit
    sheet = _Sheet(wb.active)
    sheet.ws.title = _sheet_title(m.t("xlsx_overview"), used)
    sheet.put([report.title], font=_TITLE)
    sheet.put([m.t("district", district=report.district)])
    sheet.put([m.t("round", round=report.round_id), report.dates])
    sheet.put([m.t("xlsx_min_group"), view.min_group])
    sheet.skip()
    sheet.put([m.t("records_heading")], font=_BOLD)
    header = [m.t("records_round"), "mid", m.t("records_root"), m.t("records_audit")]
    sheet.put(header, font=_BOLD, fill=_HEAD_FILL)
    for r in report.records:
        sheet.put([r.round_id, r.mid, r.root, r.verdict])
    sheet.skip()
    for key in ("reading_ballots", "reading_ratings", "reading_changes"):
        sheet.note(m.t(key))
    sheet.note(m.t("min_group_rule", min_group=m.num(view.min_group)))
    sheet.widths(30, 48, 3)

    # turnout per ward
    sheet = _Sheet(wb.create_sheet(_sheet_title(m.t("turnout_by_ward"), used)))
    header = [m.t("ward"), *(m.t(k) for k in COUNT_KEYS), m.t("turnout_share"), m.t("xlsx_shown")]
    sheet.put(header, font=_BOLD, fill=_HEAD_FILL)
    for t in report.turnout:
        eligible = t.counts["eligible"]
        share = t.counts["ballots"] / eligible if eligible else 0.0
        shown = m.t("yes") if t.shown else m.t("no")
        sheet.put([t.name, *(t.counts[k] for k in COUNT_KEYS), share, shown])
        sheet.share(len(COUNT_KEYS) + 2)
    sheet.put([m.t("total"), *(report.totals[k] for k in COUNT_KEYS)], font=_BOLD)
    sheet.widths(30, 16, len(COUNT_KEYS) + 2)

    # the district and each role, with the change
    sheet = _Sheet(wb.create_sheet(_sheet_title(m.t("xlsx_summary"), used)))
    for summary in report.summaries:
        sheet.put([summary.heading], font=_BOLD)
        sheet.put([summary.counts])
        if summary.left_out:
            sheet.note(summary.left_out)
        if summary.hidden:
            ballots = m.num(summary.distribution.ballots)
            sheet.note(m.t("group_hidden", ballots=ballots, min_group=m.num(view.min_group)))
        else:
            _distribution(sheet, view, summary.distribution.criteria)
        if summary.changes is not None:
            _changes(sheet, view, summary.changes, summary.change_note)
        else:
            sheet.put([summary.change_note])
        sheet.skip()
    sheet.widths(40, 14, 2 * len(levels))

    # one line per person rated: the share of each level per criterion, and the change
    sheet = _Sheet(wb.create_sheet(_sheet_title(m.t("people_heading"), used)))
    fixed = [m.t("people_person"), m.t("ward"), m.t("xlsx_role"), m.t("new_in_post"), m.t("valid")]
    share_heads = [
        m.t("xlsx_share", level=f"{clabel}: {lv.label}") for _, clabel in view.criteria
        for lv in levels
    ]  # fmt: skip
    change_heads = [
        m.t("xlsx_change", level=f"{clabel}: {lv.label}") for _, clabel in view.criteria
        for lv in levels
    ]  # fmt: skip
    sheet.put([*fixed, *share_heads, *change_heads], font=_BOLD, fill=_HEAD_FILL)
    for p in report.people:
        shares: list[object] = []
        changes: list[object] = []
        for cid, _ in view.criteria:
            per_level = p.counts.get(cid, {}) if p.counts is not None else {}
            total = sum(per_level.values())
            points = p.points.get(cid) if p.points is not None else None
            for lv in levels:
                shares.append(per_level.get(lv.id, 0) / total if p.counts and total else None)
                changes.append(points.get(lv.id) if points is not None else None)
        new = m.t("yes") if p.new_in_post else m.t("no")
        sheet.put([p.name, p.ward_name, p.role, new, p.valid, *shares, *changes])
        for col in range(len(fixed) + 1, len(fixed) + len(share_heads) + 1):
            sheet.share(col)
        if not p.shown:
            sheet.note(m.t("person_hidden", valid=m.num(p.valid), min_group=m.num(view.min_group)))
    sheet.widths(36, 14, len(fixed) + len(share_heads) + len(change_heads))

    # one sheet per ward: each person's distribution, change, comments and plans
    for w in report.wards:
        sheet = _Sheet(wb.create_sheet(_sheet_title(w.name, used)))
        sheet.put([w.name], font=_TITLE)
        sheet.put([w.counts])
        if w.hidden_note:
            sheet.note(w.hidden_note)
        sheet.skip()
        for leader in w.leaders:
            sheet.put([m.t("xlsx_subject"), leader.name], font=_BOLD)
            sheet.put([m.t("xlsx_role"), leader.role])
            if leader.new_in_post:
                sheet.put([m.t("new_in_post")])
            if leader.criteria is not None:
                sheet.put([m.t("valid"), leader.valid])
                _distribution(sheet, view, leader.criteria)
            if leader.changes is not None:
                _changes(sheet, view, leader.changes,
                         m.t("change_caption", round=leader.previous_round))  # fmt: skip
            elif leader.change_note:
                sheet.put([leader.change_note])
            for field in leader.comments or ():
                sheet.put([m.t("xlsx_comment_field", field=field.label)], font=_BOLD)
                if not field.texts:
                    sheet.put([m.t("no_comments")])
                for text in field.texts:
                    sheet.put([text])
                    sheet.ws.cell(row=sheet.row - 1, column=1).alignment = _WRAP
            for plan in (leader.previous_plan, leader.plan):
                if plan is not None:
                    _plan(sheet, m, plan)
            sheet.skip()
        sheet.widths(40, 14, 2 * len(levels))

    # the trend: each level's share per criterion in each round
    sheet = _Sheet(wb.create_sheet(_sheet_title(m.t("trend_heading"), used)))
    header = [m.t("people_person"), m.t("criterion"), m.t("records_round")]
    sheet.put([*header, *(lv.label for lv in levels)], font=_BOLD, fill=_HEAD_FILL)
    for block in report.trend:
        for row in block.rows:
            for round_id, b in zip(report.series.round_ids, row.bars, strict=True):
                counts = {seg.level.id: seg.count for seg in b.segments} if b else {}
                total = b.total if b else 0
                values = [counts.get(lv.id, 0) / total if total else None for lv in levels]
                sheet.put([block.heading, row.label, round_id, *values])
                for col in range(4, len(levels) + 4):
                    sheet.share(col)
    sheet.widths(36, 14, len(levels) + 2)

    # flat: one row per person rated and criterion
    sheet = _Sheet(wb.create_sheet(_sheet_title(m.t("xlsx_flat"), used)))
    header = [
        m.t("records_round"), m.t("ward"), m.t("xlsx_role"), m.t("xlsx_subject_id"),
        m.t("xlsx_subject"), m.t("criterion"), m.t("xlsx_shown"),
        *(lv.label for lv in levels),
        *(m.t("xlsx_share", level=lv.label) for lv in levels),
        *(m.t("xlsx_change", level=lv.label) for lv in levels),
    ]  # fmt: skip
    sheet.put(header, font=_BOLD, fill=_HEAD_FILL)
    for p in report.people:
        for cid, clabel in view.criteria:
            row_counts = p.counts.get(cid) if p.counts is not None else None
            row_points = p.points.get(cid) if p.points is not None else None
            row_total = sum(row_counts.values()) if row_counts else 0
            flat_counts = [row_counts.get(lv.id, 0) if row_counts else None for lv in levels]
            shares_ = [
                row_counts.get(lv.id, 0) / row_total if row_counts and row_total else None
                for lv in levels
            ]
            changes_ = [row_points.get(lv.id) if row_points is not None else None for lv in levels]
            shown = m.t("yes") if p.shown else m.t("no")
            sheet.put(
                [report.round_id, p.ward_name, p.role, p.subject, p.name, clabel, shown,
                 *flat_counts, *shares_, *changes_]
            )  # fmt: skip
            first = 8 + len(levels)
            for col in range(first, first + len(levels)):
                sheet.share(col)
    sheet.ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{sheet.row - 1}"
    sheet.ws.freeze_panes = "A2"
    sheet.widths(20, 16, len(header))

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
