"""Remediation plans of the people rated, and their progress, as signed documents.

After a round, each person rated drafts a plan to fix the shortcomings their results point
out; the district office reviews it and, once accepted, freezes it by signing it with the
round's organizer key; progress updates are signed the same way until the next round. The
formats are in ``docs/plans.md``. Nothing here touches ballots or the board: a plan is not
part of the ballot protocol, it only names the round (its ``mid``), the person rated and the
questionnaire's criteria of the round's manifest (protocol section 4.1).

- :class:`PlanItem`, :class:`Plan`: the plan ``P``, signed as ``{"plan": P, "signature"}``
  (a signed object, protocol section 2.4); :attr:`Plan.digest` is ``SHA-256(JCS(P))``.
- :class:`ProgressUpdate`, :class:`Progress`: the updates recorded against one accepted plan
  (named by its digest), signed as ``{"progress": ..., "signature"}``.
- :class:`PlanExport`: ``plans.json``, every accepted plan and its progress, written beside
  the reports so that anyone holding a report can check the plan it shows.

Every object is validated when it is built (texts are Unicode NFC, non-empty and bounded;
Vietnamese is welcome) and raises :class:`~anonballot.errors.InputError` (or its subclass
:class:`~anonballot.errors.EncodingError` for text that is not NFC or an identifier that is
not one); ``from_signed`` raises :class:`~anonballot.errors.InvalidSignature` first when the
signature does not verify.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cached_property

from .encoding import JSONValue, b64u_decode, b64u_encode, check_id, is_nfc, jcs, sha256
from .errors import EncodingError, InputError
from .manifest import Manifest
from .signing import SigningKey, sign_object, verify_object

__all__ = [
    "MAX_ITEMS",
    "MAX_TEXT",
    "MAX_UPDATES",
    "PROGRESS_STATUSES",
    "Plan",
    "PlanExport",
    "PlanItem",
    "Progress",
    "ProgressUpdate",
    "SignedPlan",
    "SignedProgress",
]

MAX_ITEMS = 20
"""Most items a plan may have."""
MAX_TEXT = 2000
"""Most code points of a text (actions, check, shortcoming, progress note)."""
MAX_UPDATES = 500
"""Most progress updates recorded against one plan."""
PROGRESS_STATUSES = ("done", "partly", "not_done")
"""How far an item got: done, partly done, not done."""

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# -- field checks ---------------------------------------------------------------------------


def _text(value: object, what: str) -> str:
    """Non-empty NFC text of at most :data:`MAX_TEXT` code points, without control
    characters other than line feed and tab."""
    if not isinstance(value, str):
        raise InputError(f"{what}: expected text")
    if not is_nfc(value):
        raise EncodingError(f"{what}: the text is not Unicode NFC")
    if not value.strip():
        raise InputError(f"{what}: the text is empty")
    if len(value) > MAX_TEXT:
        raise InputError(f"{what}: at most {MAX_TEXT} characters, found {len(value)}")
    for ch in value:
        if ch not in "\n\t" and unicodedata.category(ch) == "Cc":
            raise InputError(f"{what}: control character U+{ord(ch):04X} is not allowed")
    return value


def _date(value: object, what: str) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InputError(f"{what}: expected a date")
    return value


def _parse_date(value: object, what: str) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InputError(f"{what}: expected a date YYYY-MM-DD, found {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{what}: {value} is not a date") from None


def _integer(value: object, what: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{what}: expected an integer >= {low}")
    return value


def _mid(value: object, what: str) -> str:
    b64u_decode(value, length=32, what=what)
    return str(value)


def _object(
    value: object, keys: set[str], what: str, optional: Collection[str] = ()
) -> dict[str, object]:
    if not isinstance(value, dict):
        raise InputError(f"{what}: expected an object")
    missing, extra = keys - set(value), set(value) - keys - set(optional)
    if missing:
        raise InputError(f"{what}: missing {', '.join(sorted(missing))}")
    if extra:
        raise InputError(f"{what}: unexpected {', '.join(sorted(extra))}")
    return value


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise InputError(f"{what}: expected a list")
    return value


def _check_round(manifest: Manifest, round_mid: str, subject: str, what: str) -> None:
    if round_mid != manifest.mid:
        raise InputError(f"{what} is for another round (its mid is not the manifest's)")
    if subject not in {s.id for s in manifest.subjects}:
        raise InputError(f"{what}: subject {subject!r} is not rated in round {manifest.round_id}")


# -- plans ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanItem:
    """One shortcoming to fix: what will be done, by when, and how it will be checked."""

    id: str
    """An identifier, unique within the plan."""
    criterion: str | None
    """The questionnaire criterion the item answers, if any."""
    shortcoming: str | None
    """The shortcoming named in the comments that the item answers, if any (at least one of
    ``criterion`` and ``shortcoming``)."""
    actions: str
    deadline: dt.date
    check: str
    """How the district office will check that it was done."""

    def __post_init__(self) -> None:
        what = f"plan item {self.id!r}"
        check_id(self.id, "plan item id")
        if self.criterion is None and self.shortcoming is None:
            raise InputError(f"{what}: name a criterion, a shortcoming, or both")
        if self.criterion is not None:
            check_id(self.criterion, f"{what}: criterion")
        if self.shortcoming is not None:
            _text(self.shortcoming, f"{what}: shortcoming")
        _text(self.actions, f"{what}: actions")
        _date(self.deadline, f"{what}: deadline")
        _text(self.check, f"{what}: check")

    def to_json(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {"id": self.id}
        if self.criterion is not None:
            out["criterion"] = self.criterion
        if self.shortcoming is not None:
            out["shortcoming"] = self.shortcoming
        out |= {"actions": self.actions, "deadline": self.deadline.isoformat(), "check": self.check}
        return out

    @classmethod
    def from_json(cls, value: object, what: str = "item") -> PlanItem:
        keys = {"id", "actions", "deadline", "check"}
        o = _object(value, keys, what, optional=("criterion", "shortcoming"))
        criterion, shortcoming = o.get("criterion"), o.get("shortcoming")
        return cls(
            id=check_id(o["id"], f"{what}.id"),
            criterion=None if "criterion" not in o else check_id(criterion, f"{what}.criterion"),
            shortcoming=None
            if "shortcoming" not in o
            else _text(shortcoming, f"{what}.shortcoming"),
            actions=_text(o["actions"], f"{what}.actions"),
            deadline=_parse_date(o["deadline"], f"{what}.deadline"),
            check=_text(o["check"], f"{what}.check"),
        )


@dataclass(frozen=True)
class Plan:
    """``P``: a person rated's remediation plan after one round."""

    round: str
    """The round's ``mid``."""
    round_id: str
    subject: str
    items: tuple[PlanItem, ...]
    version: int
    """1 for the first draft; each revision after the office returns it adds one."""

    def __post_init__(self) -> None:
        _mid(self.round, "plan.round")
        check_id(self.round_id, "plan.round_id")
        check_id(self.subject, "plan.subject")
        _integer(self.version, "plan.version", low=1)
        if not isinstance(self.items, tuple) or not all(
            isinstance(i, PlanItem) for i in self.items
        ):
            raise InputError("plan.items: expected a tuple of PlanItem")
        if len(self.items) > MAX_ITEMS:
            raise InputError(f"plan.items: at most {MAX_ITEMS} items, found {len(self.items)}")
        ids = [i.id for i in self.items]
        if len(set(ids)) != len(ids):
            raise InputError("plan.items: two items have the same id")

    def item(self, item_id: str) -> PlanItem:
        for i in self.items:
            if i.id == item_id:
                return i
        raise InputError(f"the plan has no item {item_id!r}")

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "round": self.round,
            "round_id": self.round_id,
            "subject": self.subject,
            "version": self.version,
            "items": [i.to_json() for i in self.items],
        }

    @cached_property
    def digest(self) -> bytes:
        """``SHA-256(JCS(P))``: what progress updates and reports name the plan by."""
        return sha256(jcs(self.to_json()))

    @classmethod
    def from_json(cls, value: object) -> Plan:
        """Parse ``P`` (a draft, or the value of a signed plan), without a manifest."""
        o = _object(value, {"round", "round_id", "subject", "version", "items"}, "plan")
        items = _list(o["items"], "plan.items")
        if len(items) > MAX_ITEMS:
            raise InputError(f"plan.items: at most {MAX_ITEMS} items, found {len(items)}")
        return cls(
            round=_mid(o["round"], "plan.round"),
            round_id=check_id(o["round_id"], "plan.round_id"),
            subject=check_id(o["subject"], "plan.subject"),
            items=tuple(PlanItem.from_json(v, f"plan.items[{n}]") for n, v in enumerate(items)),
            version=_integer(o["version"], "plan.version", low=1),
        )

    def check(self, manifest: Manifest) -> None:
        """Raise :class:`InputError` unless the plan is for ``manifest``'s round, rates one
        of its people and ties its items to criteria of its questionnaire."""
        _check_round(manifest, self.round, self.subject, "the plan")
        if self.round_id != manifest.round_id:
            raise InputError(f"the plan names round {self.round_id}, not {manifest.round_id}")
        criteria = {c.id for c in manifest.questionnaire.criteria}
        for i in self.items:
            if i.criterion is not None and i.criterion not in criteria:
                raise InputError(
                    f"plan item {i.id}: criterion {i.criterion!r} is not in the questionnaire"
                )

    def sign(self, organizer: SigningKey) -> dict[str, JSONValue]:
        """``{"plan": P, "signature": ...}``: the accepted plan, frozen."""
        if not self.items:
            raise InputError("a plan without items cannot be accepted")
        return sign_object("plan", self.to_json(), organizer)

    @classmethod
    def from_signed(cls, obj: object, manifest: Manifest) -> Plan:
        """Verify the organizer's signature, parse the plan and :meth:`check` it."""
        return _signed_plan(obj, manifest).plan


@dataclass(frozen=True)
class SignedPlan:
    """An accepted plan with the organizer's signature, as ``plans.json`` lists it."""

    plan: Plan
    signature: bytes

    def to_json(self) -> dict[str, JSONValue]:
        return {"plan": self.plan.to_json(), "signature": b64u_encode(self.signature)}


def _verified(obj: object, kind: str, manifest: Manifest) -> tuple[JSONValue, bytes]:
    """The value of a signed object whose organizer signature verifies, and the signature."""
    value = verify_object(obj, kind, manifest.organizer_key)
    signature = obj.get("signature") if isinstance(obj, dict) else None
    return value, b64u_decode(signature, length=64, what="signature")


def _signed_plan(obj: object, manifest: Manifest) -> SignedPlan:
    value, signature = _verified(obj, "plan", manifest)
    plan = Plan.from_json(value)
    if not plan.items:
        raise InputError("a signed plan without items")
    plan.check(manifest)
    return SignedPlan(plan, signature)


# -- progress -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressUpdate:
    """How far one plan item got, on a date, in a sentence."""

    item: str
    status: str
    """One of :data:`PROGRESS_STATUSES`."""
    note: str
    date: dt.date

    def __post_init__(self) -> None:
        check_id(self.item, "update.item")
        if self.status not in PROGRESS_STATUSES:
            raise InputError(
                f"update.status: expected one of {', '.join(PROGRESS_STATUSES)}, "
                f"found {self.status!r}"
            )
        _text(self.note, "update.note")
        _date(self.date, "update.date")

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "item": self.item,
            "status": self.status,
            "note": self.note,
            "date": self.date.isoformat(),
        }

    @classmethod
    def from_json(cls, value: object, what: str = "update") -> ProgressUpdate:
        o = _object(value, {"item", "status", "note", "date"}, what)
        if not isinstance(o["status"], str):
            raise InputError(f"{what}.status: expected text")
        return cls(
            check_id(o["item"], f"{what}.item"),
            o["status"],
            _text(o["note"], f"{what}.note"),
            _parse_date(o["date"], f"{what}.date"),
        )


@dataclass(frozen=True)
class Progress:
    """The updates recorded against one accepted plan, oldest first."""

    round: str
    """The round's ``mid``."""
    subject: str
    plan: bytes
    """The plan's :attr:`Plan.digest`."""
    updates: tuple[ProgressUpdate, ...]

    def __post_init__(self) -> None:
        _mid(self.round, "progress.round")
        check_id(self.subject, "progress.subject")
        if not isinstance(self.plan, bytes) or len(self.plan) != 32:
            raise InputError("progress.plan: expected the plan's 32-byte digest")
        if not isinstance(self.updates, tuple) or not all(
            isinstance(u, ProgressUpdate) for u in self.updates
        ):
            raise InputError("progress.updates: expected a tuple of ProgressUpdate")
        if len(self.updates) > MAX_UPDATES:
            raise InputError(f"progress.updates: at most {MAX_UPDATES} updates")
        dates = [u.date for u in self.updates]
        if dates != sorted(dates):
            raise InputError("progress.updates: expected oldest first")

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "round": self.round,
            "subject": self.subject,
            "plan": b64u_encode(self.plan),
            "updates": [u.to_json() for u in self.updates],
        }

    @classmethod
    def from_json(cls, value: object) -> Progress:
        o = _object(value, {"round", "subject", "plan", "updates"}, "progress")
        updates = _list(o["updates"], "progress.updates")
        if len(updates) > MAX_UPDATES:
            raise InputError(f"progress.updates: at most {MAX_UPDATES} updates")
        return cls(
            _mid(o["round"], "progress.round"),
            check_id(o["subject"], "progress.subject"),
            b64u_decode(o["plan"], length=32, what="progress.plan"),
            tuple(
                ProgressUpdate.from_json(v, f"progress.updates[{n}]") for n, v in enumerate(updates)
            ),
        )

    def latest(self, item: str) -> ProgressUpdate | None:
        """The last update of ``item``, None when there is none yet."""
        mine = [u for u in self.updates if u.item == item]
        return mine[-1] if mine else None

    def check(self, manifest: Manifest) -> None:
        """Raise :class:`InputError` unless the progress is for one of ``manifest``'s
        people in its round."""
        _check_round(manifest, self.round, self.subject, "the progress")

    def check_plan(self, plan: Plan) -> None:
        """Raise :class:`InputError` unless these updates are recorded against ``plan``:
        its digest, round and person rated, and only its items."""
        if plan.digest != self.plan or plan.round != self.round or plan.subject != self.subject:
            raise InputError(f"the progress of {self.subject} is not recorded against this plan")
        for u in self.updates:
            plan.item(u.item)

    def sign(self, organizer: SigningKey) -> dict[str, JSONValue]:
        """``{"progress": ..., "signature": ...}``."""
        return sign_object("progress", self.to_json(), organizer)

    @classmethod
    def from_signed(cls, obj: object, manifest: Manifest) -> Progress:
        """Verify the organizer's signature, parse the progress and :meth:`check` it."""
        return _signed_progress(obj, manifest).progress


@dataclass(frozen=True)
class SignedProgress:
    """Progress with the organizer's signature, as ``plans.json`` lists it."""

    progress: Progress
    signature: bytes

    def to_json(self) -> dict[str, JSONValue]:
        return {"progress": self.progress.to_json(), "signature": b64u_encode(self.signature)}


def _signed_progress(obj: object, manifest: Manifest) -> SignedProgress:
    value, signature = _verified(obj, "progress", manifest)
    progress = Progress.from_json(value)
    progress.check(manifest)
    return SignedProgress(progress, signature)


# -- plans.json -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanExport:
    """``plans.json``: a round's accepted plans and their progress, every one signed.

    At most one plan per person rated (the accepted version), at most one progress per plan,
    and each progress recorded against a plan of the export.
    """

    round: str
    """The round's ``mid``."""
    plans: tuple[SignedPlan, ...]
    progress: tuple[SignedProgress, ...]

    def __post_init__(self) -> None:
        subjects = [p.plan.subject for p in self.plans]
        if len(set(subjects)) != len(subjects):
            raise InputError("plans.json: two plans for the same person rated")
        by_digest = {p.plan.digest: p.plan for p in self.plans}
        seen: set[bytes] = set()
        for p in self.plans:
            if p.plan.round != self.round:
                raise InputError(f"plans.json: the plan of {p.plan.subject} is for another round")
        for entry in self.progress:
            plan = by_digest.get(entry.progress.plan)
            if plan is None:
                raise InputError(
                    f"plans.json: progress of {entry.progress.subject} names no plan of the file"
                )
            if entry.progress.plan in seen:
                raise InputError(f"plans.json: two progress entries for one plan of {plan.subject}")
            seen.add(entry.progress.plan)
            entry.progress.check_plan(plan)

    def plan(self, subject: str) -> Plan | None:
        """The accepted plan of ``subject``, None when there is none."""
        for p in self.plans:
            if p.plan.subject == subject:
                return p.plan
        return None

    def progress_of(self, subject: str) -> Progress | None:
        """The progress recorded against ``subject``'s plan, None when there is none."""
        for p in self.progress:
            if p.progress.subject == subject:
                return p.progress
        return None

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "round": self.round,
            "plans": [p.to_json() for p in self.plans],
            "progress": [p.to_json() for p in self.progress],
        }

    @classmethod
    def build(
        cls, manifest: Manifest, plans: Iterable[object], progress: Iterable[object] = ()
    ) -> PlanExport:
        """The export of signed ``plans`` and ``progress`` objects, each verified, in the
        manifest's order of the people rated."""
        order = {s.id: n for n, s in enumerate(manifest.subjects)}
        signed = sorted(
            (_signed_plan(p, manifest) for p in plans), key=lambda p: order[p.plan.subject]
        )
        updates = sorted(
            (_signed_progress(p, manifest) for p in progress),
            key=lambda p: order[p.progress.subject],
        )
        return cls(manifest.mid, tuple(signed), tuple(updates))

    @classmethod
    def from_json(cls, value: object, manifest: Manifest) -> PlanExport:
        """Parse ``plans.json`` for ``manifest``'s round, verifying every signature."""
        o = _object(value, {"round", "plans", "progress"}, "plans.json")
        if o["round"] != manifest.mid:
            raise InputError("plans.json is for another round (its mid is not the manifest's)")
        return cls(
            manifest.mid,
            tuple(_signed_plan(p, manifest) for p in _list(o["plans"], "plans.json plans")),
            tuple(
                _signed_progress(p, manifest) for p in _list(o["progress"], "plans.json progress")
            ),
        )
