"""The report pages' routes: results (HTML and XLSX) and turnout.

- ``GET /results/{round_id}``: the printable report of a tallied round, built from its signed
  results (protocol section 7.5) and its manifest. Per ward and per person rated, the
  distribution of ratings per criterion as stacked horizontal bars (inline SVG with
  ``<title>``/``<desc>``, and a data table with every count and share), the comments per
  field, then the summary by role and for the whole district. ``?ward=<id>`` keeps one ward
  (the report handed to its leaders). Before the tally: a "not tallied yet" page (409); an
  unknown round: a 404 page. A restricted round (protocol section 4.2) answers a form for
  an access token (or the admin token), and the page to its ``POST`` (``no-store``); a
  wrong token gets the form again (403).
- ``GET /results/{round_id}.xlsx``: the same report as a workbook (``xlsx.py``); for a
  restricted round, the same form, and the workbook to its ``POST``.
- ``GET /committee/{round_id}``: the standing committee's report (``committee.py``) of a
  tallied round, compared with the earlier rounds of its series that this server tallied, with
  the accepted plans; ``/committee/{round_id}.pdf`` (printed by Chromium, ``pdf.py``) and
  ``.xlsx`` the same as files. For a restricted round each is a form for an access token, as
  the results page, and the report to its ``POST``; the page's download buttons post the
  token again. The server does not audit its own records: the committee's copy made with
  ``anonballot report`` does, and the page says so.
- ``GET /turnout/{round_id}`` and ``POST`` with the admin token in a form field: eligible,
  issued and cast per ward, with percentage bars (``turnout.py``).
- ``GET /static/css/reports.css``: the pages' only stylesheet (also under the booth's
  ``/static`` mount), so the pages work with or without the booth's routes.

The page language is ``?lang=`` (then remembered in a cookie), else the cookie, else
Vietnamese (``server/i18n.py``).
"""

from __future__ import annotations

import tempfile
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from anonballot.encoding import parse_json
from anonballot.engine import Round
from anonballot.errors import InputError
from anonballot.manifest import Manifest

from ..i18n import Messages
from ..plans import PlanDesk
from ..service import Service
from .committee import committee_view, render_committee_report
from .html import query, render_message, render_page, render_results, state_label
from .pages import (
    PageAnswer,
    html_response,
    page_messages,
    round_or_404,
    shown_id,
)
from .pdf import CSS_NAME, PdfError, html_to_pdf
from .turnout import render_token_wrong, render_turnout, render_turnout_form

__all__ = ["ReportPages", "report_routes"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"
COMMITTEE_FORMATS = ("html", "pdf", "xlsx")

_MAX_FORM = 8 * 1024


class ReportPages:
    """The handlers of the report pages, bound to one service."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def _engine(self, round_id: str, m: Messages) -> Round:
        return round_or_404(self.service, round_id, m)

    def _tallied(self, round_id: str, m: Messages) -> tuple[Manifest, Mapping[str, Any]]:
        """The round's manifest and results; :class:`PageAnswer` when there are none."""
        engine = self._engine(round_id, m)
        state = engine.state
        data = engine.store.get_document("results") if state == "tallied" else None
        if data is None:
            text = m.t("not_tallied_body", round=round_id, state=state_label(m, state))
            heading = m.t("not_tallied_heading")
            raise PageAnswer(409, render_message(m, heading, text, round_id=round_id))
        signed = cast("dict[str, Any]", parse_json(data))  # the engine stored a signed object
        return engine.manifest, signed["results"]

    @staticmethod
    def _not_open(m: Messages, round_id: str, state: str) -> PageAnswer:
        text = m.t("not_open_body", round=round_id, state=state_label(m, state))
        return PageAnswer(409, render_message(m, m.t("not_open_heading"), text, round_id=round_id))

    def _reader(self, manifest: Manifest, m: Messages, token: str | None, action: str) -> None:
        """A restricted round's results need an access token or the admin token (protocol
        section 4.2), sent in the body of a POST form as the turnout page's admin token:
        :class:`PageAnswer` with the form (GET) or the form again (a wrong token, 403)."""
        if not manifest.restricted:
            return
        if token is not None and self.service.check_reader(token):
            return
        page = render_page(
            "token_page.html",
            m,
            m.t("restricted_title", title=m.label(manifest.title)),
            round_id=manifest.round_id,
            active="nav_results",
            kicker=m.t("restricted_kicker"),
            page_heading=m.label(manifest.title),
            action=action,
            wrong=token is not None,
            intro=m.t("restricted_intro"),
            wrong_text=m.t("restricted_wrong"),
            label=m.t("restricted_label"),
        )
        raise PageAnswer(200 if token is None else 403, page)

    def results_page(
        self, round_id: str, m: Messages, ward: str | None, token: str | None = None
    ) -> tuple[int, str]:
        """``token`` None: a GET (a restricted round shows the form); else the form's token."""
        try:
            manifest, results = self._tallied(round_id, m)
            params = {"lang": m.lang} if ward is None else {"ward": ward, "lang": m.lang}
            self._reader(manifest, m, token, round_id + query(**params))
        except PageAnswer as answer:
            return answer.status, answer.page
        if ward is not None and not manifest.has_ward(ward):
            text = m.t("unknown_ward_body", round=round_id, ward=shown_id(ward))
            return 404, render_message(m, m.t("unknown_ward_heading"), text, round_id=round_id)
        return 200, render_results(manifest, results, m, ward=ward, token=token)

    def xlsx(self, round_id: str, m: Messages, token: str | None = None) -> tuple[int, str] | bytes:
        try:
            manifest, results = self._tallied(round_id, m)
            self._reader(manifest, m, token, f"{round_id}.xlsx" + query(lang=m.lang))
        except PageAnswer as answer:
            return answer.status, answer.page
        from .xlsx import results_workbook

        return results_workbook(manifest, results, m)

    def committee(
        self, round_id: str, m: Messages, fmt: str, token: str | None = None
    ) -> tuple[int, str] | bytes:
        """The standing committee's report as ``fmt`` (html, pdf or xlsx): the page (status,
        HTML) or the file's bytes."""
        suffix = "" if fmt == "html" else "." + fmt
        try:
            if fmt not in COMMITTEE_FORMATS:
                text = m.t("unknown_round_body", round=shown_id(round_id + suffix))
                heading = m.t("unknown_round_heading")
                raise PageAnswer(404, render_message(m, heading, text, round_id=None))
            manifest, _ = self._tallied(round_id, m)
            self._reader(manifest, m, token, f"{round_id}{suffix}" + query(lang=m.lang))
        except PageAnswer as answer:
            return answer.status, answer.page
        series = self.service.series(round_id)
        desk = PlanDesk(self.service)
        plans = [desk.export(mf.round_id) for mf in series.manifests]
        if fmt == "xlsx":
            from .xlsx import committee_workbook

            return committee_workbook(committee_view(series, m, plans))
        if fmt == "pdf":
            html = render_committee_report(
                series=series, lang=m.lang, plans=plans, css_href=CSS_NAME
            )
            with tempfile.TemporaryDirectory(prefix="anonballot-report-") as tmp:
                out = Path(tmp) / "report.pdf"
                try:
                    html_to_pdf(html, out)
                except (InputError, PdfError):  # no Chromium here, or it failed to print
                    heading, body = m.t("pdf_unavailable_heading"), m.t("pdf_unavailable_body")
                    return 503, render_message(m, heading, body, round_id=round_id)
                return out.read_bytes()
        here = query(lang=m.lang)
        downloads = [
            (m.t("download_committee_pdf"), f"{round_id}.pdf{here}"),
            (m.t("download_committee_xlsx"), f"{round_id}.xlsx{here}"),
        ]
        page = render_committee_report(
            series=series, lang=m.lang, plans=plans, downloads=downloads,
            token=token or None, note=m.t("committee_audit_note"),
        )  # fmt: skip
        return 200, page

    def turnout_page(self, round_id: str, m: Messages, token: str | None) -> tuple[int, str]:
        """``token`` None: the form (GET); else the numbers if it is the admin token."""
        try:
            engine = self._engine(round_id, m)
            state = engine.state
            if token is None:
                if state == "draft":
                    raise self._not_open(m, round_id, state)
                return 200, render_turnout_form(m, round_id, m.label(engine.manifest.title))
            if not self.service.check_admin(token):
                return 401, render_token_wrong(m, round_id)
            if state == "draft":
                raise self._not_open(m, round_id, state)
            turnout = engine.turnout()
            return 200, render_turnout(engine.manifest, turnout, m, now=self.service.clock())
        except PageAnswer as answer:
            return answer.status, answer.page

    # -- ASGI handlers ------------------------------------------------------------------------

    async def results(self, request: Request) -> Response:
        m, remember = page_messages(request)
        ward = request.query_params.get("ward")
        token = await _posted_token(request)
        status, text = await run_in_threadpool(
            self.results_page, request.path_params["round_id"], m, ward, token
        )
        # a page answered to a token is nobody else's: never kept by a cache
        return html_response(text, status, remember, no_store=request.method == "POST")

    async def results_xlsx(self, request: Request) -> Response:
        m, remember = page_messages(request)
        round_id = request.path_params["round_id"]
        token = await _posted_token(request)
        out = await run_in_threadpool(self.xlsx, round_id, m, token)
        if isinstance(out, tuple):
            return html_response(out[1], out[0], remember, no_store=request.method == "POST")
        return Response(
            out,
            media_type=XLSX_TYPE,
            headers={
                "content-disposition": f'attachment; filename="{round_id}-{m.lang}.xlsx"',
                "cache-control": "no-store" if request.method == "POST" else "no-cache",
            },
        )

    async def committee_page(self, request: Request) -> Response:
        m, remember = page_messages(request)
        round_id = request.path_params["round_id"]
        fmt = request.path_params.get("fmt", "html")
        token = await _posted_token(request)
        out = await run_in_threadpool(self.committee, round_id, m, fmt, token)
        no_store = request.method == "POST"
        if isinstance(out, tuple):
            return html_response(out[1], out[0], remember, no_store=no_store)
        media = PDF_TYPE if fmt == "pdf" else XLSX_TYPE
        return Response(
            out,
            media_type=media,
            headers={
                "content-disposition": (
                    f'attachment; filename="{round_id}-committee-{m.lang}.{fmt}"'
                ),
                "cache-control": "no-store" if no_store else "no-cache",
            },
        )

    async def turnout(self, request: Request) -> Response:
        m, remember = page_messages(request)
        round_id = request.path_params["round_id"]
        token: str | None = None
        if request.method == "POST":
            token = _form_field(await _read_form(request), "token") or ""
        status, text = await run_in_threadpool(self.turnout_page, round_id, m, token)
        return html_response(text, status, remember, no_store=True)


async def _posted_token(request: Request) -> str | None:
    """The ``token`` field of a POST form ("" when absent); None for a GET."""
    if request.method != "POST":
        return None
    return _form_field(await _read_form(request), "token") or ""


async def _read_form(request: Request) -> bytes:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_FORM:
            return b""  # far more than a token: treated as no token
        chunks.append(chunk)
    return b"".join(chunks)


def _form_field(body: bytes, name: str) -> str | None:
    """One field of an ``application/x-www-form-urlencoded`` body (its first value)."""
    try:
        fields = urllib.parse.parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=16
        )
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get(name)
    return values[0].strip() if values else None


def report_routes(service: Service) -> list[BaseRoute]:
    """The report pages' routes, to add to the application's routes."""
    pages = ReportPages(service)
    return [
        Route("/results/{round_id}.xlsx", pages.results_xlsx, methods=["GET", "POST"]),
        Route("/results/{round_id}", pages.results, methods=["GET", "POST"]),
        Route("/committee/{round_id}.{fmt:str}", pages.committee_page, methods=["GET", "POST"]),
        Route("/committee/{round_id}", pages.committee_page, methods=["GET", "POST"]),
        Route("/turnout/{round_id}", pages.turnout, methods=["GET", "POST"]),
    ]
