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
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["STATIC", "booth_routes"]

STATIC = Path(__file__).resolve().parent / "static"
"""The folder served under ``/static``."""

_ROUND_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_PAGE_HEADERS = {"cache-control": "no-cache"}


def _page(name: str) -> Response:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


async def index(request: Request) -> Response:
    """The rounds open for voting, with a link to each booth."""
    return _page("index.html")


async def booth(request: Request) -> Response:
    """The voting booth of one round (the page itself is the same for every round)."""
    if not _ROUND_ID.fullmatch(request.path_params["round_id"]):
        return JSONResponse(
            {"error": "not_found", "detail": f"there is nothing at {request.url.path}"},
            status_code=404,
        )
    return _page("booth.html")


async def verify(request: Request) -> Response:
    """The receipt checker."""
    return _page("verify.html")


def booth_routes() -> list[BaseRoute]:
    """The routes of the participants' pages, to add to the application's routes."""
    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/r/{round_id}", booth, methods=["GET", "HEAD"]),
        Route("/verify", verify, methods=["GET", "HEAD"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
