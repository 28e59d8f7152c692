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

__all__ = [
    "RosterEntry",
    "RosterError",
    "RosterFile",
    "parse_roster",
    "read_roster",
    "read_roster_file",
]

MAX_ROWS = 100_000


@dataclass(frozen=True)
class RosterEntry:
    ward: str
    name: str
    position: str = ""


PROBLEMS = {
    "empty": ("the file is empty", "tệp trống"),
    "no_header": (
        "no header row with the columns {missing} (ward, name, position) in the first {rows} rows",
        "không thấy dòng tiêu đề có cột {missing} (phường, họ và tên, chức vụ) trong {rows} "
        "dòng đầu",
    ),
    "too_many": ("more than {n} rows", "quá {n} dòng"),
    "no_ward": ("no ward", "thiếu phường"),
    "unknown_ward": ("unknown ward {ward!r}", "không có phường {ward!r} trong đơn vị"),
    "ambiguous_ward": (
        "ward {ward!r} could be several wards: write its id or exact name",
        "{ward!r} có thể là nhiều phường: ghi mã phường hoặc tên đúng dấu",
    ),
    "no_name": ("no name", "thiếu họ tên"),
    "too_long": ("a cell is longer than 200 characters", "có ô dài quá 200 ký tự"),
    "repeated": (
        "the same row as line {first} (ward, name and position): the same person twice? "
        "If they are two people, tell them apart in the position column",
        "trùng hệt dòng {first} (phường, họ tên, chức vụ): một người nhập hai lần? Nếu là hai "
        "người khác nhau, ghi thêm vào cột chức vụ để phân biệt",
    ),
    "nobody": ("no participants in the file", "tệp không có người tham gia nào"),
    "not_utf8": (
        "not UTF-8 text (save the file as CSV UTF-8)",
        "không phải văn bản UTF-8 (lưu tệp dạng CSV UTF-8)",
    ),
}
"""Each problem a roster row can have: (English, Vietnamese), with ``{fields}``."""


class RosterError(InputError):
    """A roster file with bad rows: one (line, problem, fields) per bad row, in the order of
    the file; :meth:`lines` words them in English or Vietnamese."""

    code = "bad_roster"

    def __init__(self, problems: Sequence[tuple[int, str, dict[str, object]]]) -> None:
        self.found = list(problems)
        lines = "; ".join(f"line {n}: {reason}" for n, reason in self.problems[:20])
        more = f" (and {len(self.found) - 20} more)" if len(self.found) > 20 else ""
        super().__init__(f"{len(self.found)} bad row(s), nothing imported: {lines}{more}")

    def lines(self, lang: str = "en") -> list[tuple[int, str]]:
        """(line, reason) for each bad row, the reason in ``lang`` (``vi`` or ``en``)."""
        which = 1 if lang == "vi" else 0
        return [(n, PROBLEMS[key][which].format(**fields)) for n, key, fields in self.found]

    @property
    def problems(self) -> list[tuple[int, str]]:
        return self.lines("en")


def _problem(line: int, key: str, **fields: object) -> tuple[int, str, dict[str, object]]:
    return line, key, fields


def _fold(text: str) -> str:
    """Lower case, no diacritics (đ -> d), single spaces: for matching headers and names."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return re.sub(r"[\s_-]+", " ", text).strip().lower()


HEADERS = {
    "ward": "ward", "phuong": "ward", "ward id": "ward", "ma phuong": "ward",
    "ten phuong": "ward", "don vi": "ward",
    "name": "name", "ho ten": "name", "ho va ten": "name", "full name": "name",
    "ten": "name", "ho va ten nguoi tham gia": "name",
    "position": "position", "chuc vu": "position", "role": "position",
    "chuc danh": "position",
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


HEADER_SEARCH = 20
"""How many rows from the top may come before the header row (a title, a date, a blank)."""


def _header(rows: Sequence[Sequence[object]], need: Sequence[str]) -> tuple[int, dict[str, int]]:
    """The index of the header row among the first rows and its known columns (an ``STT``
    column or any other is ignored); RosterError when no row has the columns ``need``."""
    for index, row in enumerate(rows[:HEADER_SEARCH]):
        columns: dict[str, int] = {}
        for i, cell in enumerate(row):
            key = HEADERS.get(_fold(str(cell or "")))
            if key is not None and key not in columns:
                columns[key] = i
        if all(c in columns for c in need):
            return index, columns
    missing = ", ".join(need)
    raise RosterError([_problem(1, "no_header", missing=missing, rows=HEADER_SEARCH)])


def parse_roster(
    rows: Sequence[Sequence[object]], wards: Iterable[Ward], *, ward: str | None = None
) -> list[RosterEntry]:
    """Check every row of a table and return the entries.

    The header row is the first of the top rows that names the columns (a ward's own
    spreadsheet often has a title row above it, and an ``STT`` column). ``ward``: every row
    is of this ward (an id of ``wards``), for a file without a ward column. Two rows that
    are the same (ward, name and position) are refused: the same person twice.
    """
    if not rows:
        raise RosterError([_problem(1, "empty")])
    header_at, columns = _header(rows, ["name"] if ward is not None else ["ward", "name"])
    if len(rows) - header_at - 1 > MAX_ROWS:
        raise RosterError([_problem(1, "too_many", n=MAX_ROWS)])
    match = _ward_matcher(wards)
    if ward is not None and _match_ward(match, ward) in (None, AMBIGUOUS):
        raise InputError(f"--ward: no ward {ward!r} in the district", code="unknown_ward")
    width = len(rows[header_at])
    problems: list[tuple[int, str, dict[str, object]]] = []
    entries: list[RosterEntry] = []
    seen: dict[RosterEntry, int] = {}
    for line, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        cells = ["" if c is None else str(c).strip() for c in row]
        if not any(cells):
            continue  # blank lines are not rows
        padded = cells + [""] * (width - len(cells))
        ward_text = ward if ward is not None else padded[columns["ward"]]
        name = padded[columns["name"]]
        position = padded[columns["position"]] if "position" in columns else ""
        if not ward_text:
            problems.append(_problem(line, "no_ward"))
            continue
        found = _match_ward(match, ward_text)
        if found is None:
            problems.append(_problem(line, "unknown_ward", ward=ward_text))
            continue
        if found == AMBIGUOUS:
            problems.append(_problem(line, "ambiguous_ward", ward=ward_text))
            continue
        if not name:
            problems.append(_problem(line, "no_name"))
            continue
        if len(name) > 200 or len(position) > 200:
            problems.append(_problem(line, "too_long"))
            continue
        entry = RosterEntry(
            found, unicodedata.normalize("NFC", name), unicodedata.normalize("NFC", position)
        )
        if entry in seen:
            problems.append(_problem(line, "repeated", first=seen[entry]))
            continue
        seen[entry] = line
        entries.append(entry)
    if problems:
        raise RosterError(problems)
    if not entries:
        raise RosterError([_problem(header_at + 2, "nobody")])
    return entries


@dataclass(frozen=True)
class RosterFile:
    """A roster read from a file: its entries, and the sheet they came from (XLSX)."""

    entries: list[RosterEntry]
    sheet: str | None = None


def read_roster_file(
    path: str | Path, wards: Iterable[Ward], *, ward: str | None = None
) -> list[RosterEntry]:
    """Read a ``.csv`` (UTF-8, with or without BOM, comma or semicolon) or ``.xlsx`` roster."""
    return read_roster(path, wards, ward=ward).entries


def read_roster(path: str | Path, wards: Iterable[Ward], *, ward: str | None = None) -> RosterFile:
    """:func:`read_roster_file`, saying which sheet of a workbook it read: the first one
    with a header row."""
    path = Path(path)
    wards = list(wards)
    if path.suffix.lower() == ".xlsx":
        sheets = _xlsx_sheets(path)
        first_error: RosterError | None = None
        for name, table in sheets:
            try:
                _header(table, ["name"] if ward is not None else ["ward", "name"])
            except RosterError as exc:
                first_error = first_error or exc
                continue
            return RosterFile(parse_roster(table, wards, ward=ward), name)
        raise first_error or RosterError([_problem(1, "empty")])
    if path.suffix.lower() != ".csv":
        raise InputError(f"{path.name}: a roster is a .csv or .xlsx file", code="bad_roster")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RosterError([_problem(line, "not_utf8")]) from exc
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    rows: list[Sequence[object]] = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return RosterFile(parse_roster(rows, wards, ward=ward))


def _xlsx_sheets(path: Path) -> list[tuple[str, list[list[object]]]]:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - openpyxl is a server dependency
        raise InputError("reading .xlsx needs openpyxl (pip install anonballot[server])") from exc
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(f"{path.name}: not a readable .xlsx file", code="bad_roster") from exc
    try:
        return [
            (sheet.title, [list(row) for row in sheet.iter_rows(values_only=True)])
            for sheet in workbook.worksheets
        ]
    finally:
        workbook.close()
