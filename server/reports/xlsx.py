"""The results of a tallied round as an XLSX workbook (``GET /results/{round_id}.xlsx``).

One sheet "Overview" (the round, the wards' counts, the invalid ballots by reason), one sheet
"Summary" (the whole district and each role), then one sheet per ward with, for each person
rated, the counts and shares per criterion and level and the comments per field. The
``min_group`` rule of the results page applies (``model.py``): a ward with fewer valid
ballots has its counts only, and the summaries add up the shown wards only.

Texts come from the catalogs of ``server/i18n.py`` and the manifest's labels. Cell values
are always text or numbers, never formulas: a comment that starts with ``=`` stays text, and
characters a workbook cannot hold (C0 controls) are replaced.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping, Sequence
from typing import Any

import openpyxl

from anonballot.manifest import Manifest

from ..i18n import Messages
from .model import COUNT_KEYS, Aggregate, ResultsView

__all__ = ["results_workbook"]

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
