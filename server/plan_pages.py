"""The pages of the remediation plans: each person rated's own page, and the office's review.

- ``GET /leader/{round_id}``: the page a personal link opens (``/leader/{round_id}#key=...``).
  The key is in the URL's fragment, which a browser never sends; ``static/js/leader-page.js``
  moves it into the page's form, clears the fragment and submits the form (without
  JavaScript, the person pastes the key into the same form). ``POST /leader/{round_id}``
  with the key answers that person's own report and their plan, nothing about anyone else;
  the plan's forms (add, change or remove an item, submit) post back to the same address
  with the key in a hidden field, never in a URL. A wrong key: a 403 page.
  ``POST /leader/{round_id}/report``: the same report as a standalone printable page.
- ``GET /plans/{round_id}``: the office's review (the Propaganda board), behind the admin
  token in a form as the turnout page; ``POST`` lists every plan and, for one person rated,
  shows it with the forms to accept it, return it with remarks, or record progress.

Every answer to a POST is ``Cache-Control: no-store``: it holds one person's report or
needs the admin token. The texts are the report pages' catalogs (``server/messages/``).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import urllib.parse
from collections.abc import Mapping

import markupsafe
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from anonballot.engine import Round
from anonballot.errors import AnonBallotError, InputError
from anonballot.manifest import Manifest
from anonballot.plans import PROGRESS_STATUSES, PlanExport, PlanItem, ProgressUpdate
from anonballot.series import Series

from .i18n import Messages
from .plans import EDITABLE, PlanDesk, PlanView
from .reports.html import render_message, render_page
from .reports.leader import render_leader_report
from .reports.pages import PageAnswer, html_response, page_messages, round_or_404
from .service import Service

__all__ = ["plan_page_routes"]

_MAX_FORM = 64 * 1024
"""A plan item's texts (three of at most 2000 characters, percent-encoded) fit."""


async def _form(request: Request) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (first values, NFC);
    empty when the body is larger than any of these forms."""
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_FORM:
            return {}
        chunks.append(chunk)
    try:
        parsed = urllib.parse.parse_qs(
            b"".join(chunks).decode("utf-8"), keep_blank_values=True, max_num_fields=32
        )
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: unicodedata.normalize("NFC", v[0]).replace("\r\n", "\n") for k, v in parsed.items()}


def _item_from_form(form: Mapping[str, str], item_id: str) -> PlanItem:
    """A plan item from the form's fields; a field left empty is absent."""
    criterion = form.get("criterion", "").strip() or None
    shortcoming = form.get("shortcoming", "").strip() or None
    deadline = form.get("deadline", "").strip()
    try:
        day = dt.date.fromisoformat(deadline)
    except ValueError:
        raise InputError(f"deadline: {deadline!r} is not a date", code="bad_request") from None
    return PlanItem(
        id=item_id,
        criterion=criterion,
        shortcoming=shortcoming,
        actions=form.get("actions", "").strip(),
        deadline=day,
        check=form.get("check", "").strip(),
    )


def _error_text(m: Messages, exc: AnonBallotError) -> str:
    key = f"plan_error_{exc.code}"
    return m.t(key) if m.has(key) else m.t("plan_error_input", detail=exc.detail)


class PlanPages:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.desk = PlanDesk(service)

    # -- shared ---------------------------------------------------------------------------------

    def _engine(self, round_id: str, m: Messages) -> Round:
        return round_or_404(self.service, round_id, m)

    def _tallied(self, round_id: str, m: Messages) -> Round:
        engine = self._engine(round_id, m)
        if engine.state != "tallied":
            text = m.t("leader_not_tallied")
            raise PageAnswer(
                409, render_message(m, m.t("not_tallied_heading"), text, round_id=None)
            )
        return engine

    @staticmethod
    def _subject_info(m: Messages, manifest: Manifest, subject: str) -> dict[str, str]:
        s = next(x for x in manifest.subjects if x.id == subject)
        role = next((m.label(r.title) for r in manifest.roles if r.id == s.role), s.role)
        return {"id": s.id, "name": m.label(s.name), "ward": m.label(manifest.ward(s.ward).name),
                "role": role}  # fmt: skip

    def _series(self, engine: Round) -> Series:
        return self.service.series(engine.manifest.round_id)

    def _plans(self, series: Series, subject: str) -> list[PlanExport]:
        """The person rated's own accepted plans in each round of the series, nobody else's."""
        out = []
        for manifest in series.manifests:
            export = self.desk.export(manifest.round_id, subject)
            if export.plans:
                out.append(export)
        return out

    # -- the person rated's page ----------------------------------------------------------------

    def leader_key_page(self, round_id: str, m: Messages) -> tuple[int, str]:
        try:
            engine = self._engine(round_id, m)
        except PageAnswer as answer:
            return answer.status, answer.page
        title = m.label(engine.config.title)
        return 200, render_page(
            "leader_key.html", m, m.t("leader_key_title", title=title), round_id=None,
            page_heading=title, rid=round_id, wrong=False, lang_links_off=True,
        )  # fmt: skip

    def _wrong_key(self, round_id: str, m: Messages) -> PageAnswer:
        page = render_page(
            "leader_key.html", m, m.t("leader_wrong_heading"), round_id=None,
            page_heading=m.t("leader_wrong_heading"), rid=round_id, wrong=True,
            lang_links_off=True,
        )  # fmt: skip
        return PageAnswer(403, page)

    def leader_post(
        self, round_id: str, m: Messages, form: Mapping[str, str], *, printable: bool = False
    ) -> tuple[int, str]:
        """The key's person rated's page, after the form's ``action`` on their plan."""
        try:
            engine = self._tallied(round_id, m)
            key = form.get("key", "")
            subject = self.service.leader_subject(round_id, key)
            if subject is None:
                raise self._wrong_key(round_id, m)
            series = self._series(engine)
            if printable:
                return 200, render_leader_report(
                    series=series, subject=subject, lang=m.lang,
                    plans=self._plans(series, subject), standalone=True,
                )  # fmt: skip
            status, error = 200, None
            action = form.get("action", "open")
            try:
                self._leader_action(round_id, subject, action, form)
            except AnonBallotError as exc:
                status, error = (409 if exc.code.startswith("plan_") else 400), _error_text(m, exc)
            view = self.desk.view(round_id, subject)
            report = render_leader_report(
                series=series, subject=subject, lang=m.lang, plans=self._plans(series, subject),
                standalone=False,
            )  # fmt: skip
            manifest = engine.manifest
            info = self._subject_info(m, manifest, subject)
            return status, render_page(
                "leader_page.html", m, m.t("leader_page_title", name=info["name"]), round_id=None,
                lang_links_off=True, rid=round_id, key=key, manifest=manifest, person=info,
                # the fragment comes from render_leader_report's autoescaped templates
                report=markupsafe.Markup(report),  # noqa: S704
                plan=view, editable=view.state in EDITABLE, error=error,
                criteria=[(c.id, m.label(c.label)) for c in manifest.questionnaire.criteria],
                criterion_label={c.id: m.label(c.label) for c in manifest.questionnaire.criteria},
                edit=form.get("edit", "") if action == "edit_form" else "",
                today=self.service.clock().date().isoformat(),
            )  # fmt: skip
        except PageAnswer as answer:
            return answer.status, answer.page

    def _leader_action(
        self, round_id: str, subject: str, action: str, form: Mapping[str, str]
    ) -> None:
        desk = self.desk
        if action == "add":
            desk.add_item(round_id, subject, _item_from_form(form, "new"))
        elif action == "save":
            desk.replace_item(round_id, subject, _item_from_form(form, form.get("item", "")))
        elif action == "remove":
            desk.remove_item(round_id, subject, form.get("item", ""))
        elif action == "submit":
            desk.submit(round_id, subject)

    # -- the office's review --------------------------------------------------------------------

    def office_form(self, round_id: str, m: Messages, *, wrong: bool) -> str:
        return render_page(
            "token_page.html", m, m.t("plans_title", round=round_id), round_id=round_id,
            active="nav_plans", kicker=m.t("plans_review_heading"), page_heading=round_id,
            action=f"{round_id}?lang={m.lang}", wrong=wrong, intro=m.t("plans_intro"),
            wrong_text=m.t("token_wrong"), label=m.t("token_label"),
        )  # fmt: skip

    def office_get(self, round_id: str, m: Messages) -> tuple[int, str]:
        try:
            self._engine(round_id, m)
        except PageAnswer as answer:
            return answer.status, answer.page
        return 200, self.office_form(round_id, m, wrong=False)

    def office_post(self, round_id: str, m: Messages, form: Mapping[str, str]) -> tuple[int, str]:
        try:
            engine = self._engine(round_id, m)
            token = form.get("token", "")
            if not self.service.check_admin(token):
                return 401, self.office_form(round_id, m, wrong=True)
            engine = self._tallied(round_id, m)
            manifest = engine.manifest
            subject = form.get("subject", "")
            status, error, done = 200, None, None
            if subject and subject not in {s.id for s in manifest.subjects}:
                subject = ""
            try:
                done = self._office_action(round_id, subject, form.get("action", ""), form, m)
            except AnonBallotError as exc:
                status, error = (409 if exc.code.startswith("plan_") else 400), _error_text(m, exc)
            views = self.desk.views(round_id)
            people = {s.id: self._subject_info(m, manifest, s.id) for s in manifest.subjects}
            chosen: PlanView | None = self.desk.view(round_id, subject) if subject else None
            return status, render_page(
                "plans.html", m, m.t("plans_title", round=round_id), round_id=round_id,
                token=token, rid=round_id, views=views, people=people, chosen=chosen,
                error=error, done=done, statuses=PROGRESS_STATUSES,
                criterion_label={c.id: m.label(c.label) for c in manifest.questionnaire.criteria},
                today=self.service.clock().date().isoformat(),
                page_heading=m.label(manifest.title),
            )  # fmt: skip
        except PageAnswer as answer:
            return answer.status, answer.page

    def _office_action(
        self, round_id: str, subject: str, action: str, form: Mapping[str, str], m: Messages
    ) -> str | None:
        if not subject or action in ("", "show"):
            return None
        if action == "accept":
            self.desk.accept(round_id, subject)
            return m.t("plans_done_accept")
        if action == "return":
            self.desk.return_plan(round_id, subject, form.get("remarks", ""))
            return m.t("plans_done_return")
        if action == "progress":
            try:
                day = dt.date.fromisoformat(form.get("date", "").strip())
            except ValueError:
                raise InputError("date: expected YYYY-MM-DD", code="bad_request") from None
            update = ProgressUpdate(
                form.get("item", ""), form.get("status", ""), form.get("note", "").strip(), day
            )
            self.desk.record_progress(round_id, subject, update)
            return m.t("plans_done_progress")
        return None

    # -- ASGI handlers --------------------------------------------------------------------------

    async def leader(self, request: Request) -> Response:
        m, remember = page_messages(request)
        round_id = request.path_params["round_id"]
        if request.method == "POST":
            form = await _form(request)
            status, text = await run_in_threadpool(self.leader_post, round_id, m, form)
            return html_response(text, status, remember, no_store=True)
        status, text = await run_in_threadpool(self.leader_key_page, round_id, m)
        return html_response(text, status, remember, no_store=False)

    async def leader_report(self, request: Request) -> Response:
        m, remember = page_messages(request)
        form = await _form(request)
        status, text = await run_in_threadpool(
            lambda: self.leader_post(request.path_params["round_id"], m, form, printable=True)
        )
        return html_response(text, status, remember, no_store=True)

    async def office(self, request: Request) -> Response:
        m, remember = page_messages(request)
        round_id = request.path_params["round_id"]
        if request.method == "POST":
            form = await _form(request)
            status, text = await run_in_threadpool(self.office_post, round_id, m, form)
            return html_response(text, status, remember, no_store=True)
        status, text = await run_in_threadpool(self.office_get, round_id, m)
        return html_response(text, status, remember, no_store=False)


def plan_page_routes(service: Service) -> list[BaseRoute]:
    """The plans' pages, to add to the application's routes."""
    pages = PlanPages(service)
    return [
        Route("/leader/{round_id}", pages.leader, methods=["GET", "POST"]),
        Route("/leader/{round_id}/report", pages.leader_report, methods=["POST"]),
        Route("/plans/{round_id}", pages.office, methods=["GET", "POST"]),
    ]
