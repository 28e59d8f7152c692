"""The participants' pages: the list of open rounds, the voting booth and the receipt checker.

Every page is a static HTML file of ``server/static/`` with external styles and ES modules
only, because the server's Content-Security-Policy (``default-src 'self'``) forbids inline
scripts and styles. All the cryptography runs in the participant's browser
(``server/static/js/``): the server never sees a voter key, an unblinded token or a ballot in
clear, exactly as with the command-line client. See docs/booth.md.

- ``GET /`` lists the rounds open for voting (``static/index.html``).
- ``GET /r/{round_id}`` is the booth (``static/booth.html``). The invitation code arrives in
  the URL's fragment (``#code=...``, never sent to a server) or is typed into a form.
- ``GET /verify`` checks a receipt (``static/verify.html``).
- ``/static`` serves ``server/static/``: styles, scripts and the message catalogs.

The pages use relative addresses, so the booth also works behind a reverse proxy that serves
it under a path prefix.

Every file, the pages included, is read and gzipped once, when the routes are made
(``server/assets.py``): edit a file, restart the server. The pages are served with their
static addresses under the folder's version, cached as immutable, and with preloads of their
modules (and the booth of its round's manifest); the pages themselves are ``no-cache``, each
with a strong ETag.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..encoding import b64u_encode
from .assets import REVALIDATE, Asset, StaticFolder, media_type

__all__ = ["STATIC", "booth_pins", "booth_routes", "unpinned"]

STATIC = Path(__file__).resolve().parent / "static"
"""The folder served under ``/static``."""

_ROUND_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_HTML = media_type("page.html")


class Pages:
    """The three pages, pinned to the static folder's version (:meth:`StaticFolder.pin`)."""

    def __init__(self, static: StaticFolder) -> None:
        self.static = static

        def pinned(name: str) -> str:
            return static.pin(static.files[name].plain.body.decode("utf-8"))

        self.index_page = Asset.of(pinned("index.html").encode("utf-8"), _HTML)
        self.verify_page = Asset.of(pinned("verify.html").encode("utf-8"), _HTML)
        self.booth_html = pinned("booth.html")

    async def index(self, request: Request) -> Response:
        """The rounds open for voting, with a link to each booth."""
        return self.index_page.answer(request, REVALIDATE)

    async def booth(self, request: Request) -> Response:
        """The voting booth of one round: the same page for every round, but for a preload of
        the round's manifest."""
        round_id = request.path_params["round_id"]
        if not _ROUND_ID.fullmatch(round_id):
            return JSONResponse(
                {"error": "not_found", "detail": f"there is nothing at {request.url.path}"},
                status_code=404,
            )
        return self.booth_page(round_id).answer(request, REVALIDATE)

    def booth_page(self, round_id: str) -> Asset:
        """The booth's page for ``round_id`` (checked against :data:`_ROUND_ID`, so safe in an
        attribute). The booth asks for the manifest first thing, but only once its modules
        and catalog are in: the preload asks with the page, a round trip of a phone network
        earlier (the same URL, mode and credentials as api.js's fetch, so that it is used).
        Made for each request (some microseconds): nothing is kept per round id, made up or not."""
        manifest = f"../api/rounds/{round_id}/manifest"
        link = f'<link rel="preload" href="{manifest}" as="fetch" crossorigin>\n'
        html = self.booth_html.replace("</head>", f"{link}</head>", 1)
        return Asset.of(html.encode("utf-8"), _HTML)

    async def verify(self, request: Request) -> Response:
        """The receipt checker."""
        return self.verify_page.answer(request, REVALIDATE)

    def pins(self, round_id: str) -> dict[str, str]:
        """What a monitor compares (``M.booth``, protocol section 4.2): each path a
        participant's browser loads the booth or the receipt checker from, to b64u(SHA-256)
        of its bytes as served (uncompressed): ``/r/{round_id}``, ``/verify`` and every file
        of the static folder under its current version."""
        served = {
            f"/r/{round_id}": self.booth_page(round_id).plain.body,
            "/verify": self.verify_page.plain.body,
        }
        version = self.static.version
        for name, asset in self.static.files.items():
            served[f"/static/{version}/{name}"] = asset.plain.body
        return {path: b64u_encode(hashlib.sha256(body).digest()) for path, body in served.items()}


@functools.cache
def _pages(static: Path) -> Pages:
    return Pages(StaticFolder(static))


def booth_pins(round_id: str, static: Path = STATIC) -> dict[str, str]:
    """:meth:`Pages.pins` of the pages this server serves from ``static``."""
    return _pages(static).pins(round_id)


def unpinned(round_id: str, pinned: Mapping[str, str], static: Path = STATIC) -> list[str]:
    """The paths whose bytes this server serves differently from ``pinned`` (a round's
    ``M.booth``), or no longer serves: what a monitor of the round will report."""
    now = booth_pins(round_id, static)
    return sorted(path for path, digest in pinned.items() if now.get(path) != digest)


def booth_routes(static: Path = STATIC) -> list[BaseRoute]:
    """The routes of the participants' pages, to add to the application's routes."""
    pages = _pages(static)
    folder = pages.static
    return [
        Route("/", pages.index, methods=["GET", "HEAD"]),
        Route("/r/{round_id}", pages.booth, methods=["GET", "HEAD"]),
        Route("/verify", pages.verify, methods=["GET", "HEAD"]),
        Route("/static/{path:path}", folder.serve, methods=["GET", "HEAD"], name="static"),
    ]
