"""Debian's chromium driven by Playwright for Python, as every browser test launches it.

Playwright's own browser download does not work here; ``make test`` installs Debian's
chromium. A missing browser or Playwright fails the test, never skips it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

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


PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
TIMEOUT = 30_000
"""Milliseconds a page step may take on a loaded two-core machine."""
DOC_SHOTS = Path(__file__).resolve().parent.parent / "docs" / "booth"
"""Where the documentation's screenshots live (docs/booth.md, docs/operations.md)."""


def publish_shots(folder: Path) -> None:
    """With ANONBALLOT_SCREENSHOTS=1, copy the screenshots a test took into the docs."""
    if os.environ.get("ANONBALLOT_SCREENSHOTS") == "1":
        DOC_SHOTS.mkdir(exist_ok=True)
        for png in sorted(folder.glob("*.png")):
            shutil.copyfile(png, DOC_SHOTS / png.name)


def watch_pages(context: Any, errors: list[str], expected: re.Pattern[str]) -> None:
    """Every page of ``context`` adds its uncaught errors and its console errors to
    ``errors``, but those ``expected`` (the refusals a test provokes show as failed loads)."""

    def watch(page: Any) -> None:
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda m: (
                errors.append(f"console: {m.text}")
                if m.type == "error" and not expected.search(m.text)
                else None
            ),
        )

    context.on("page", watch)


def no_stray_text(page: Any) -> None:
    """A null or undefined handed to append() or replaceChildren() shows as its name."""
    text = page.inner_text("main")
    assert not re.search(r"\b(null|undefined)\b", text), text


def shoot(page: Any, folder: Path, name: str, scroll_to: str | None = None) -> None:
    """Screenshots of the page as it is, at phone and at desktop width, into ``folder``
    (``{name}-phone.png``, ``{name}-desktop.png``); the page is left at phone width."""
    no_stray_text(page)
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        if scroll_to:
            page.locator(scroll_to).first.scroll_into_view_if_needed()
            page.evaluate(
                "sel => document.querySelector(sel).scrollIntoView({block: 'start'})", scroll_to
            )
        page.screenshot(path=str(folder / f"{name}-{label}.png"))
    page.set_viewport_size(PHONE)
