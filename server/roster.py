"""Reading a ward roster from the spreadsheet the district already has (CSV or XLSX).

The first row names the columns: ``ward``, ``name`` and optionally ``position`` (Vietnamese
headers ``phường``, ``họ tên``, ``chức vụ`` work too, with or without diacritics). A ward is
given by its id (``bo-de``) or its name (``Bồ Đề``, ``Phường Bồ Đề``, ``bo de``). Every
row is checked first; if any row is bad, :class:`RosterError` lists every bad row with its
line number and reason, and nothing is imported.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from anonballot.district import Ward
from anonballot.errors import InputError

__all__ = ["RosterEntry", "RosterError", "parse_roster", "read_roster_file"]

MAX_ROWS = 100_000


@dataclass(frozen=True)
class RosterEntry:
    ward: str
    name: str
    position: str = ""


class RosterError(InputError):
    """A roster file with bad rows; ``problems`` has one (line, reason) per bad row."""

    code = "bad_roster"

    def __init__(self, problems: Sequence[tuple[int, str]]) -> None:
        self.problems = list(problems)
        lines = "; ".join(f"line {n}: {reason}" for n, reason in self.problems[:20])
        more = f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} bad row(s), nothing imported: {lines}{more}")


def _fold(text: str) -> str:
    """Lower case, no diacritics (đ -> d), single spaces: for matching headers and names."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return re.sub(r"[\s_-]+", " ", text).strip().lower()


HEADERS = {
    "ward": "ward", "phuong": "ward", "ward id": "ward", "ma phuong": "ward",
    "name": "name", "ho ten": "name", "ho va ten": "name", "full name": "name",
    "position": "position", "chuc vu": "position", "role": "position",
}  # fmt: skip


AMBIGUOUS = ""


def _ward_matcher(wards: Iterable[Ward]) -> dict[str, str]:
    """Ward id by exact id or name, then by folded text (no case, no diacritics).

    A folded text that two wards share maps to :data:`AMBIGUOUS`: such a row must name the
    ward exactly (its id, or its name with the right diacritics).
    """
    exact: dict[str, str] = {}
    folded: dict[str, str] = {}

    def add_folded(key: str, ward: str) -> None:
        if folded.get(key, ward) != ward:
            folded[key] = AMBIGUOUS
        else:
            folded[key] = ward

    for w in wards:
        exact[w.id] = w.id
        add_folded(_fold(w.id), w.id)
        for label in w.name.values():
            exact[unicodedata.normalize("NFC", label.strip())] = w.id
            text = _fold(label)
            add_folded(text, w.id)
            for prefix in ("phuong ", "ward "):
                if text.startswith(prefix):
                    add_folded(text[len(prefix) :], w.id)
            if text.endswith(" ward"):
                add_folded(text[: -len(" ward")], w.id)
    return {**{f"~{k}": v for k, v in folded.items()}, **exact}


def _match_ward(index: dict[str, str], text: str) -> str | None:
    """The ward of a cell: exact first, then folded; AMBIGUOUS if two wards fold alike."""
    ward = index.get(unicodedata.normalize("NFC", text))
    if ward is not None:
        return ward
    return index.get("~" + _fold(text))


def parse_roster(rows: Sequence[Sequence[object]], wards: Iterable[Ward]) -> list[RosterEntry]:
    """Check every row of a table (the first row is the header) and return the entries."""
    if not rows:
        raise RosterError([(1, "the file is empty")])
    header = [_fold(str(c or "")) for c in rows[0]]
    columns: dict[str, int] = {}
    for i, title in enumerate(header):
        key = HEADERS.get(title)
        if key is not None and key not in columns:
            columns[key] = i
    missing = [c for c in ("ward", "name") if c not in columns]
    if missing:
        raise RosterError(
            [(1, f"the header row needs the column(s) {', '.join(missing)} (ward, name, position)")]
        )
    if len(rows) - 1 > MAX_ROWS:
        raise RosterError([(1, f"more than {MAX_ROWS} rows")])
    match = _ward_matcher(wards)
    problems: list[tuple[int, str]] = []
    entries: list[RosterEntry] = []
    for line, row in enumerate(rows[1:], start=2):
        cells = ["" if c is None else str(c).strip() for c in row]
        if not any(cells):
            continue  # blank lines are not rows
        padded = cells + [""] * (len(header) - len(cells))
        ward_text, name = padded[columns["ward"]], padded[columns["name"]]
        position = padded[columns["position"]] if "position" in columns else ""
        if not ward_text:
            problems.append((line, "no ward"))
            continue
        ward = _match_ward(match, ward_text)
        if ward is None:
            problems.append((line, f"unknown ward {ward_text!r}"))
            continue
        if ward == AMBIGUOUS:
            problems.append(
                (line, f"ward {ward_text!r} could be several wards: write its id or exact name")
            )
            continue
        if not name:
            problems.append((line, "no name"))
            continue
        if len(name) > 200 or len(position) > 200:
            problems.append((line, "a cell is longer than 200 characters"))
            continue
        entries.append(
            RosterEntry(
                ward, unicodedata.normalize("NFC", name), unicodedata.normalize("NFC", position)
            )
        )
    if problems:
        raise RosterError(problems)
    if not entries:
        raise RosterError([(2, "no participants in the file")])
    return entries


def read_roster_file(path: str | Path, wards: Iterable[Ward]) -> list[RosterEntry]:
    """Read a ``.csv`` (UTF-8, with or without BOM, comma or semicolon) or ``.xlsx`` roster."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        return parse_roster(_xlsx_rows(path), wards)
    if path.suffix.lower() != ".csv":
        raise InputError(f"{path.name}: a roster is a .csv or .xlsx file", code="bad_roster")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(
            [(raw[: exc.start].count(b"\n") + 1, "not UTF-8 text (save the file as CSV UTF-8)")]
        ) from exc
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    return parse_roster(list(csv.reader(io.StringIO(text), delimiter=delimiter)), wards)


def _xlsx_rows(path: Path) -> list[list[object]]:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - openpyxl is a server dependency
        raise InputError("reading .xlsx needs openpyxl (pip install anonballot[server])") from exc
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(f"{path.name}: not a readable .xlsx file", code="bad_roster") from exc
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
