"""A report page printed to PDF by headless Chromium (``anonballot report --out report.pdf``).

**Why Chromium rather than WeasyPrint.** The PDF is the same HTML, the same templates and the
same stylesheet (``server/static/css/reports.css``, its ``@media print`` and ``@page`` rules)
as the pages a browser prints, laid out by a browser engine: what the committee reads on
paper is what the pages show. Debian's ``chromium`` is already installed by ``make test``
(the browser tests run on it). WeasyPrint would be a second layout engine to keep in step
with the pages, with its own CSS support, and a Python dependency with native libraries
(Pango, HarfBuzz) of its own.

The page is written into a fresh temporary folder beside its stylesheet and printed from a
``file://`` URL with the network off; the folder is removed on every exit, and Chromium runs
with a timeout and its own throw-away profile in that folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from anonballot.errors import AnonBallotError, InputError

__all__ = ["CHROMIUM", "PRINT_TIMEOUT", "PdfError", "find_chromium", "html_to_pdf"]

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
"""The programs tried, in order (``ANONBALLOT_CHROMIUM`` names another)."""
PRINT_TIMEOUT = 180.0
CSS_PATH = Path(__file__).resolve().parent.parent / "static" / "css" / "reports.css"
CSS_NAME = "reports.css"
"""Where a page printed by :func:`html_to_pdf` finds its stylesheet (``css_href``)."""


class PdfError(AnonBallotError):
    """Chromium did not print the page."""

    code = "pdf_failed"


def find_chromium() -> str:
    """The Chromium program; :class:`InputError` (exit 2) with what to install when none."""
    named = os.environ.get("ANONBALLOT_CHROMIUM")
    for program in (named,) if named else CHROMIUM:
        found = shutil.which(program)
        if found:
            return found
    raise InputError(
        "the PDF needs Chromium: install it (Debian: apt-get install chromium), "
        "or set ANONBALLOT_CHROMIUM",
        code="no_chromium",
    )


def html_to_pdf(html: str, out: Path, *, timeout: float = PRINT_TIMEOUT) -> None:
    """Print ``html`` (a page whose stylesheet is :data:`CSS_NAME`) to the PDF ``out``."""
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="anonballot-pdf-") as tmp:
        folder = Path(tmp)
        page = folder / "report.html"
        page.write_text(html, encoding="utf-8")
        shutil.copyfile(CSS_PATH, folder / CSS_NAME)
        pdf = folder / "report.pdf"
        argv = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={folder / 'profile'}",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        try:
            result = subprocess.run(  # noqa: S603 (our own argv, no shell)
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
                env={**os.environ, "HOME": str(folder)},
            )
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not print the report within {timeout:.0f} s") from None
        if result.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            last = result.stderr.decode("utf-8", "replace").strip().splitlines()
            why = last[-1] if last else f"exit status {result.returncode}"
            raise PdfError(f"Chromium did not print the report: {why}")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(pdf, out)
