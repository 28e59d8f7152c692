"""Text that goes into a spreadsheet's cells, never run as a formula.

Spreadsheets (Excel, LibreOffice, Google Sheets) run a cell that starts with ``=``, ``+``,
``-`` or ``@`` as a formula, and some take a leading tab or carriage return the same way
(OWASP, "CSV Injection"). A roster name, a position or a comment is typed by people, so
any of them may start so: ``=HYPERLINK(...)`` in a name would become a link in the office's
spreadsheet. Every cell the server writes is text: :func:`formula_like` is the one rule,
:func:`csv_cell` applies it to a CSV cell (a leading apostrophe, which spreadsheets show
as text and do not run), and the workbooks (``reports/xlsx.py``) store such a text as a
string with Excel's "quote prefix", the same apostrophe typed by hand.
"""

from __future__ import annotations

__all__ = ["FORMULA_STARTS", "csv_cell", "formula_like"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a cell a spreadsheet may run as a formula starts with."""


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` for a formula."""
    return text.startswith(FORMULA_STARTS)


def csv_cell(text: str) -> str:
    """``text`` for a CSV cell: with a leading apostrophe when it is :func:`formula_like`."""
    return "'" + text if formula_like(text) else text
