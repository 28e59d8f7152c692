"""What every HTML page of the server shares: the language, the answer, the round asked for.

The report pages (:mod:`.routes`) and the plan pages (``server/plan_pages.py``) answer with
whole HTML pages, never JSON: a page that cannot be shown as asked (an unknown round, a
wrong token) raises :class:`PageAnswer` with the page to show instead.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from anonballot.engine import Round
from anonballot.errors import NotFound

from ..i18n import COOKIE, Messages, choose_lang
from ..service import Service
from .html import render_message

__all__ = ["ROUND_ID", "PageAnswer", "html_response", "page_messages", "round_or_404", "shown_id"]

ROUND_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
"""A round id (protocol section 2.3), the only text of a request a page echoes."""


class PageAnswer(Exception):
    """A page to answer instead of the one asked for (unknown round, not tallied, wrong key)."""

    def __init__(self, status: int, page: str) -> None:
        super().__init__(status)
        self.status = status
        self.page = page


def shown_id(value: str) -> str:
    """An id as a page may echo it: only when it is a round id, never arbitrary text."""
    return value if ROUND_ID.fullmatch(value) else "…"


def page_messages(request: Request) -> tuple[Messages, str | None]:
    """The page's language, and the value to remember in the cookie (None: leave it)."""
    lang, remember = choose_lang(request.query_params.get("lang"), request.cookies.get(COOKIE))
    return Messages(lang), lang if remember else None


def html_response(text: str, status: int, remember: str | None, *, no_store: bool) -> Response:
    """The page; ``no_store`` for one that holds what a token or a key opened."""
    response = HTMLResponse(
        text, status_code=status, headers={"cache-control": "no-store" if no_store else "no-cache"}
    )
    if remember is not None:
        response.set_cookie(COOKIE, remember, max_age=365 * 24 * 3600, samesite="lax")
    return response


def round_or_404(service: Service, round_id: str, m: Messages) -> Round:
    """The round; :class:`PageAnswer` (a 404 page) when there is none."""
    if ROUND_ID.fullmatch(round_id):
        try:
            return service.round(round_id)
        except NotFound:
            pass
    text = m.t("unknown_round_body", round=shown_id(round_id))
    raise PageAnswer(404, render_message(m, m.t("unknown_round_heading"), text, round_id=None))
