"""Debian's chromium driven by Playwright for Python, as every browser test launches it.

Playwright's own browser download does not work here; ``make test`` installs Debian's
chromium. A missing browser or Playwright fails the test, never skips it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-background-networking",  # the closed network refuses its connections
    "--disable-component-update",
    "--no-first-run",
]


def launch_chromium(playwright: Any) -> Any:
    """A headless Debian chromium; fails the test when it is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need it (make test installs it)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
