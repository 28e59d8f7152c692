"""Server-rendered reports of a round: the results page and workbook, and the turnout page.

- ``model.py``: what the reports show of the signed results, with the ``min_group`` rule
  (pure, tested on its own);
- ``html.py``: the pages from the autoescaped templates in ``server/templates/reports/``;
- ``xlsx.py``: the results as a workbook;
- ``turnout.py``: the organizer's turnout page;
- ``routes.py``: the HTTP routes (``/results/{round_id}``, ``/results/{round_id}.xlsx``,
  ``/turnout/{round_id}``).

Every text comes from the catalogs of ``server/i18n.py`` or the manifest's labels.
"""

from __future__ import annotations

from .html import render_results
from .model import ABSTAIN_FILL, PALETTE, ResultsView
from .pdf import CSS_PATH
from .routes import report_routes
from .turnout import render_turnout

__all__ = [
    "ABSTAIN_FILL",
    "CSS_PATH",
    "PALETTE",
    "ResultsView",
    "render_results",
    "render_turnout",
    "report_routes",
]
