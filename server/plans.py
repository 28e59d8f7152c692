"""The remediation plans' workflow on the server (docs/plans.md): draft, review, accept, progress.

After the tally each person rated drafts a plan through their personal link (the pages of
``server/leader.py``); the district office (the Propaganda board) reviews it with the admin
token (``anonballot plan ...``, the page ``/plans/{round_id}``). The states are the server's
bookkeeping, never signed:

- ``none``: nothing drafted yet; ``draft``: the person rated edits it;
- ``submitted``: handed to the office, no longer editable; each submission adds one to the
  plan's ``version`` (1 for the first);
- ``returned``: sent back with remarks, editable again;
- ``accepted``: frozen and signed with the organizer key (:meth:`Plan.sign`); from then on
  progress updates are recorded and the signed progress (:class:`Progress`) is kept up to
  date.

Nothing here touches a ballot, a token or the board: a plan only names the round (its
``mid``), the person rated and the questionnaire's criteria.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from anonballot.encoding import JSONValue, jcs, parse_json
from anonballot.engine import Round
from anonballot.errors import Conflict, InputError, NotFound, StateError
from anonballot.manifest import Manifest
from anonballot.plans import (
    MAX_ITEMS,
    MAX_TEXT,
    Plan,
    PlanExport,
    PlanItem,
    Progress,
    ProgressUpdate,
)

from .service import Service
from .store import PlanRow

__all__ = ["EDITABLE", "STATES", "PlanDesk", "PlanView"]

STATES = ("none", "draft", "submitted", "returned", "accepted")
EDITABLE = ("none", "draft", "returned")
"""The states in which the person rated may change the plan."""


@dataclass(frozen=True)
class PlanView:
    """One person rated's plan as the office and the person rated see it."""

    subject: str
    state: str
    version: int
    """How many times the plan was submitted (0 before the first submission)."""
    remarks: str
    """The office's remarks when it returned the plan ("" when none)."""
    items: tuple[PlanItem, ...]
    signed: dict[str, JSONValue] | None
    """The signed plan, once accepted."""
    progress: Progress | None
    signed_progress: dict[str, JSONValue] | None

    def latest(self, item: str) -> ProgressUpdate | None:
        return None if self.progress is None else self.progress.latest(item)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "subject": self.subject,
            "state": self.state,
            "version": self.version,
            "remarks": self.remarks,
            "items": [i.to_json() for i in self.items],
            "plan": self.signed,
            "progress": self.signed_progress,
        }


def _remarks(value: str) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise InputError("remarks: say what to change", code="bad_request")
    if len(text) > MAX_TEXT:
        raise InputError(f"remarks: at most {MAX_TEXT} characters", code="bad_request")
    return text


class PlanDesk:
    """The plans of a service's rounds: every change is one store transaction that first
    checks the state it started from (``409 plan_changed`` when another change won)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    # -- reading -------------------------------------------------------------------------------

    def _tallied(self, round_id: str) -> Round:
        engine = self.service.round(round_id)
        if engine.state != "tallied":
            raise StateError("plans are made once the round is tallied", code="not_tallied")
        return engine

    def manifest(self, round_id: str) -> Manifest:
        return self._tallied(round_id).manifest

    @staticmethod
    def _check_subject(manifest: Manifest, subject: str) -> None:
        if subject not in {s.id for s in manifest.subjects}:
            raise NotFound(
                f"subject {subject!r} is not rated in round {manifest.round_id}",
                code="unknown_subject",
            )

    def _row(self, round_id: str, subject: str) -> tuple[Manifest, PlanRow | None]:
        manifest = self.manifest(round_id)
        self._check_subject(manifest, subject)
        return manifest, self.service.db.plan_row(round_id, subject)

    @staticmethod
    def _view(subject: str, row: PlanRow | None) -> PlanView:
        if row is None:
            return PlanView(subject, "none", 0, "", (), None, None, None)
        # the rows hold what this module wrote: a list of items and signed objects
        items = tuple(PlanItem.from_json(v) for v in cast("list[JSONValue]", parse_json(row.items)))
        signed = None if row.signed is None else _stored_object(row.signed)
        signed_progress = None if row.progress is None else _stored_object(row.progress)
        progress = (
            None if signed_progress is None else Progress.from_json(signed_progress["progress"])
        )
        return PlanView(
            row.subject, row.state, row.version, row.remarks, items, signed, progress,
            signed_progress,
        )  # fmt: skip

    def view(self, round_id: str, subject: str) -> PlanView:
        _, row = self._row(round_id, subject)
        return self._view(subject, row)

    def views(self, round_id: str) -> list[PlanView]:
        """Every person rated's plan (state ``none`` where there is none), in the manifest's
        order of the people rated."""
        manifest = self.manifest(round_id)
        rows = {r.subject: r for r in self.service.db.plan_rows(round_id)}
        return [self._view(s.id, rows.get(s.id)) for s in manifest.subjects]

    def export(self, round_id: str, subject: str | None = None) -> PlanExport:
        """``plans.json``: every accepted plan with its progress (or ``subject``'s only)."""
        manifest = self.manifest(round_id)
        plans: list[object] = []
        progress: list[object] = []
        for row in self.service.db.plan_rows(round_id):
            if row.state != "accepted" or (subject is not None and row.subject != subject):
                continue
            view = self._view(row.subject, row)
            plans.append(view.signed)
            if view.signed_progress is not None:
                progress.append(view.signed_progress)
        return PlanExport.build(manifest, plans, progress)

    # -- the person rated: drafting ------------------------------------------------------------

    def _write(self, round_id: str, before: PlanView, after: PlanView) -> PlanView:
        row = PlanRow(
            after.subject,
            after.state,
            after.version,
            jcs([i.to_json() for i in after.items]),
            after.remarks,
            None if after.signed is None else jcs(after.signed),
            None if after.signed_progress is None else jcs(after.signed_progress),
        )
        expect = None if before.state == "none" else before.state
        self.service.db.put_plan_row(round_id, row, expect=expect)
        return after

    def _editable(self, round_id: str, subject: str) -> tuple[Manifest, PlanView]:
        manifest, row = self._row(round_id, subject)
        view = self._view(subject, row)
        if view.state == "submitted":
            raise Conflict(
                "the plan is with the district office for review; it cannot be changed now",
                code="plan_submitted",
            )
        if view.state == "accepted":
            raise Conflict("the plan is accepted: it is frozen", code="plan_accepted")
        return manifest, view

    @staticmethod
    def _checked(
        manifest: Manifest, view: PlanView, items: Sequence[PlanItem]
    ) -> tuple[PlanItem, ...]:
        plan = Plan(manifest.mid, manifest.round_id, view.subject, tuple(items), view.version + 1)
        plan.check(manifest)
        return plan.items

    def add_item(self, round_id: str, subject: str, item: PlanItem) -> PlanView:
        """Add ``item`` under the next free id (``item-N``; the id given is ignored)."""
        manifest, view = self._editable(round_id, subject)
        if len(view.items) >= MAX_ITEMS:
            raise InputError(f"a plan has at most {MAX_ITEMS} items", code="bad_request")
        used = {i.id for i in view.items}
        n = len(view.items) + 1
        while f"item-{n}" in used:
            n += 1
        new = dataclasses.replace(item, id=f"item-{n}")
        items = self._checked(manifest, view, [*view.items, new])
        state = "returned" if view.state == "returned" else "draft"
        return self._write(round_id, view, dataclasses.replace(view, state=state, items=items))

    def replace_item(self, round_id: str, subject: str, item: PlanItem) -> PlanView:
        """Replace the item with ``item``'s id."""
        manifest, view = self._editable(round_id, subject)
        if item.id not in {i.id for i in view.items}:
            raise NotFound(f"the plan has no item {item.id!r}", code="unknown_item")
        items = self._checked(manifest, view, [item if i.id == item.id else i for i in view.items])
        return self._write(round_id, view, dataclasses.replace(view, items=items))

    def remove_item(self, round_id: str, subject: str, item_id: str) -> PlanView:
        _, view = self._editable(round_id, subject)
        if item_id not in {i.id for i in view.items}:
            raise NotFound(f"the plan has no item {item_id!r}", code="unknown_item")
        items = tuple(i for i in view.items if i.id != item_id)
        return self._write(round_id, view, dataclasses.replace(view, items=items))

    def submit(self, round_id: str, subject: str) -> PlanView:
        """Hand the plan to the office: no longer editable; its version adds one."""
        _, view = self._editable(round_id, subject)
        if not view.items:
            raise InputError("a plan needs at least one item", code="empty_plan")
        after = dataclasses.replace(view, state="submitted", version=view.version + 1)
        return self._write(round_id, view, after)

    # -- the office: review and progress -------------------------------------------------------

    def _submitted(self, round_id: str, subject: str) -> tuple[Manifest, PlanView]:
        manifest, row = self._row(round_id, subject)
        view = self._view(subject, row)
        if view.state == "accepted":
            raise Conflict("the plan is already accepted", code="plan_accepted")
        if view.state != "submitted":
            raise Conflict(
                f"the plan is not submitted (it is {view.state}): the person rated submits it "
                "first",
                code="plan_not_submitted",
            )
        return manifest, view

    def accept(self, round_id: str, subject: str) -> PlanView:
        """Freeze the submitted plan and sign it with the organizer key."""
        manifest, view = self._submitted(round_id, subject)
        plan = Plan(manifest.mid, manifest.round_id, subject, view.items, view.version)
        plan.check(manifest)
        signed = plan.sign(self.service.organizer_key())
        return self._write(
            round_id, view, dataclasses.replace(view, state="accepted", remarks="", signed=signed)
        )

    def return_plan(self, round_id: str, subject: str, remarks: str) -> PlanView:
        """Send the submitted plan back to the person rated, editable, with ``remarks``."""
        _, view = self._submitted(round_id, subject)
        after = dataclasses.replace(view, state="returned", remarks=_remarks(remarks))
        return self._write(round_id, view, after)

    def record_progress(self, round_id: str, subject: str, update: ProgressUpdate) -> PlanView:
        """Add ``update`` (kept in date order) to an accepted plan's signed progress."""
        manifest, row = self._row(round_id, subject)
        view = self._view(subject, row)
        if view.state != "accepted" or view.signed is None:
            raise Conflict(
                f"progress is recorded on an accepted plan; this one is {view.state}",
                code="plan_not_accepted",
            )
        plan = Plan.from_signed(view.signed, manifest)
        if update.item not in {i.id for i in plan.items}:
            raise NotFound(f"the plan has no item {update.item!r}", code="unknown_item")
        old = view.progress.updates if view.progress is not None else ()
        at = len([u for u in old if u.date <= update.date])
        updates = (*old[:at], update, *old[at:])
        progress = Progress(manifest.mid, subject, plan.digest, updates)
        progress.check_plan(plan)
        signed = progress.sign(self.service.organizer_key())
        after = dataclasses.replace(view, progress=progress, signed_progress=signed)
        return self._write(round_id, view, after)


def _stored_object(data: bytes) -> dict[str, JSONValue]:
    """A signed plan or progress as this module stored it (an object)."""
    return cast("dict[str, JSONValue]", parse_json(data))
