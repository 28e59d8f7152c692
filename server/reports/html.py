"""The report pages as HTML, from the templates in ``server/templates/reports/``.

The templates go through Starlette's :class:`~starlette.templating.Jinja2Templates` with
autoescaping on (``server/templating.py``): every value inserted in a page is escaped where
the template inserts it. The pages have no script and no inline style (the server's CSP is
``default-src 'self'``); their one stylesheet is ``server/static/css/reports.css``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.templating import Jinja2Templates

from anonballot.manifest import Manifest

from ..i18n import LANGS, Messages
from ..templating import make_environment
from .model import BAR_HEIGHT, BAR_WIDTH, COUNT_KEYS, TURNOUT_HEIGHT, TURNOUT_WIDTH, ResultsView

__all__ = ["CSS_HREF", "TEMPLATES", "render_message", "render_page", "render_results"]

CSS_HREF = "../static/css/reports.css"
"""Relative to ``/results/x`` and ``/turnout/x``, so the pages work under a path prefix."""


@dataclass(frozen=True)
class LangLink:
    """A link of the language switch: the same page in another language."""

    lang: str
    label: str
    href: str
    current: bool


def query(**params: str) -> str:
    """A link to this page with the query ``params`` (``?ward=...&lang=...``)."""
    return "?" + urllib.parse.urlencode(params)


def lang_links(m: Messages, params: Mapping[str, str]) -> list[LangLink]:
    """The language switch; ``params`` (the ward filter) are kept."""
    return [
        LangLink(lang, Messages(lang).t("lang_name"), query(**params, lang=lang), lang == m.lang)
        for lang in LANGS
    ]


def state_label(m: Messages, state: str) -> str:
    """A round's state in words (the state's name when the catalog has no words for it)."""
    return m.t(f"state_{state}") if m.has(f"state_{state}") else state


TEMPLATES = Jinja2Templates(
    env=make_environment(
        BAR_WIDTH=BAR_WIDTH,
        BAR_HEIGHT=BAR_HEIGHT,
        COUNT_KEYS=COUNT_KEYS,
        TURNOUT_WIDTH=TURNOUT_WIDTH,
        TURNOUT_HEIGHT=TURNOUT_HEIGHT,
        lang_links=lang_links,
        query=query,
        state_label=state_label,
    )
)


def render_page(
    name: str,
    m: Messages,
    title: str,
    *,
    round_id: str | None,
    params: Mapping[str, str] | None = None,
    active: str = "",
    **context: object,
) -> str:
    """A report page: template ``reports/{name}`` in ``reports/base.html``'s frame.

    ``round_id`` (when known) gives the navigation links to the round's pages; ``active`` is
    the navigation key of this page; ``params`` is the query the language links keep.
    """
    return TEMPLATES.get_template(f"reports/{name}").render(
        m=m,
        title=title,
        round_id=round_id,
        params=params or {},
        active=active,
        css_href=CSS_HREF,
        **context,
    )


def render_message(m: Messages, heading: str, text: str, *, round_id: str | None) -> str:
    """A page answered instead of the one asked for (unknown round, not tallied yet...)."""
    return render_page("message.html", m, heading, round_id=round_id, heading=heading, text=text)


def render_results(
    manifest: Manifest,
    results: Mapping[str, Any],
    m: Messages,
    *,
    state: str = "tallied",
    ward: str | None = None,
    token: str | None = None,
) -> str:
    """The results page (HTML) of a tallied round; ``ward`` keeps that ward only; ``token``
    the access token a restricted round's page was answered to, which its download forms
    post again."""
    view = ResultsView(manifest, results, m)
    return render_page(
        "results.html",
        m,
        m.t("results_title", title=m.label(manifest.title)),
        round_id=manifest.round_id,
        params={} if ward is None else {"ward": ward},
        active="nav_results",
        view=view,
        ward=ward,
        state=state,
        token=token,
    )
