"""The browser harness page (``tests/browser/``) and the pages' modules, served locally.

A static server on 127.0.0.1 (a secure context, so WebCrypto works) that maps
``/static/js/`` to ``server/static/js/`` and ``/browser/`` to ``tests/browser/``, and a page
of Debian's Chromium with ``tests/browser/index.html`` loaded (``window.harness``,
``window.ab``, ``window.boothHarness``).
"""

from __future__ import annotations

import contextlib
import posixpath
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _browser import launch_chromium

ROOT = Path(__file__).resolve().parent.parent
MOUNTS = {
    "/static/js/": ROOT / "server" / "static" / "js",
    "/browser/": Path(__file__).parent / "browser",
}


class StaticHandler(SimpleHTTPRequestHandler):
    """Serves MOUNTS only, with JavaScript modules as text/javascript."""

    extensions_map = {  # noqa: RUF012 - the base class declares it as a plain dict
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".html": "text/html",
    }

    def translate_path(self, path: str) -> str:
        path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        for prefix, folder in MOUNTS.items():
            if path.startswith(prefix):
                relative = posixpath.normpath(path[len(prefix) :])
                if relative.startswith(("..", "/")):
                    break
                return str(folder / relative)
        return str(ROOT / "tests" / "browser" / "__not_found__")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is pytest's."""


@contextlib.contextmanager
def static_server() -> Iterator[str]:
    """The static server in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StaticHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def harness_page(base_url: str, setup: Callable[[Any], None] = lambda page: None) -> Iterator[Any]:
    """A Chromium page with the harness loaded; `setup(page)` runs before it loads."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is in the test extra
        pytest.fail("playwright is not installed; the browser tests need it")
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            setup(page)
            page.goto(f"{base_url}/browser/index.html")
            try:
                page.wait_for_function("window.harnessReady === true", timeout=15_000)
            except PlaywrightError:
                pytest.fail(f"the browser harness did not load: {errors}")
            yield page
        finally:
            browser.close()
