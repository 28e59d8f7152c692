"""The district (protocol section 4.1): its wards, the roles and the people rated.

The organizer sets a :class:`District` up once; a round's manifest copies it, adding each
ward's roster count and issuer key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from ._shape import Label, list_of, obj, unique, wrap
from .encoding import JSONValue, check_id, check_label
from .errors import ManifestError
from .tokens import IssuerPublicKey

__all__ = [
    "DISTRICT_TIME",
    "District",
    "Role",
    "Subject",
    "SubjectChange",
    "Ward",
    "compare_subjects",
]

DISTRICT_TIME = dt.timezone(dt.timedelta(hours=7), "UTC+7")
"""The district's time, in which every time is shown to people: Viet Nam keeps UTC+7 all
year (no summer time). The booth shows the same times (server/static/js/i18n.js,
Asia/Ho_Chi_Minh), whatever offset the manifest's RFC 3339 strings were written with."""


@dataclass(frozen=True)
class Role:
    id: str
    title: Label

    def to_json(self) -> dict[str, JSONValue]:
        return {"id": self.id, "title": dict(self.title)}

    @classmethod
    def from_json(cls, value: object, what: str = "role") -> Role:
        o = obj(value, {"id", "title"}, what)
        return cls(
            wrap(check_id, o["id"], f"{what}.id"), wrap(check_label, o["title"], f"{what}.title")
        )


@dataclass(frozen=True)
class Ward:
    """A ward; in a round's manifest it also has its roster count and issuer key."""

    id: str
    name: Label
    eligible: int = 0
    """How many roster entries the ward has (fixed when the round opens)."""
    issuer_key: IssuerPublicKey | None = None
    """The ward's RSA issuer key for the round; None in a district, which is in no round."""

    def __post_init__(self) -> None:
        if self.issuer_key is not None and not isinstance(self.issuer_key, IssuerPublicKey):
            raise ManifestError(f"ward {self.id}: issuer_key is an IssuerPublicKey")

    def to_json(self) -> dict[str, JSONValue]:
        """The ward as a manifest lists it (protocol section 4.1)."""
        if self.issuer_key is None:
            raise ManifestError(f"ward {self.id}: no issuer key (the ward is in no round)")
        return {
            "id": self.id,
            "name": dict(self.name),
            "eligible": self.eligible,
            "issuer_key": self.issuer_key.to_b64u(),
        }


@dataclass(frozen=True)
class Subject:
    """A person rated: one role in one ward."""

    id: str
    ward: str
    role: str
    name: Label

    def to_json(self) -> dict[str, JSONValue]:
        return {"id": self.id, "ward": self.ward, "role": self.role, "name": dict(self.name)}

    @classmethod
    def from_json(cls, value: object, what: str = "subject") -> Subject:
        o = obj(value, {"id", "ward", "role", "name"}, what)
        return cls(
            wrap(check_id, o["id"], f"{what}.id"),
            wrap(check_id, o["ward"], f"{what}.ward"),
            wrap(check_id, o["role"], f"{what}.role"),
            wrap(check_label, o["name"], f"{what}.name"),
        )


@dataclass(frozen=True)
class District:
    """What the organizer sets up once: wards, roles and the people rated."""

    name: Label
    wards: tuple[Ward, ...]
    roles: tuple[Role, ...]
    subjects: tuple[Subject, ...]

    def __post_init__(self) -> None:
        unique([w.id for w in self.wards], "wards")
        unique([r.id for r in self.roles], "roles")
        unique([s.id for s in self.subjects], "subjects")
        ward_ids = {w.id for w in self.wards}
        role_ids = {r.id for r in self.roles}
        for s in self.subjects:
            if s.ward not in ward_ids:
                raise ManifestError(f"subject {s.id}: ward {s.ward!r} is not in wards")
            if s.role not in role_ids:
                raise ManifestError(f"subject {s.id}: role {s.role!r} is not in roles")
        rated = {s.ward for s in self.subjects}
        for w in self.wards:
            if w.id not in rated:
                raise ManifestError(f"ward {w.id}: nobody to rate (no subject in this ward)")

    def to_json(self) -> dict[str, JSONValue]:
        """The district configuration file: name, wards, roles and the people rated."""
        return {
            "name": dict(self.name),
            "wards": [{"id": w.id, "name": dict(w.name)} for w in self.wards],
            "roles": [r.to_json() for r in self.roles],
            "subjects": [s.to_json() for s in self.subjects],
        }

    @classmethod
    def from_json(cls, value: object) -> District:
        """Parse a district configuration file (the format of :meth:`to_json`)."""
        d = obj(value, {"name", "wards", "roles", "subjects"}, "district")
        wards = []
        for i, v in enumerate(list_of(d["wards"], "wards", min_len=1)):
            o = obj(v, {"id", "name"}, f"wards[{i}]")
            wards.append(
                Ward(wrap(check_id, o["id"], f"wards[{i}].id"),
                     wrap(check_label, o["name"], f"wards[{i}].name"))
            )  # fmt: skip
        roles = tuple(
            Role.from_json(v, f"roles[{i}]")
            for i, v in enumerate(list_of(d["roles"], "roles", min_len=1))
        )
        subjects = tuple(
            Subject.from_json(v, f"subjects[{i}]")
            for i, v in enumerate(list_of(d["subjects"], "subjects", min_len=1))
        )
        return cls(wrap(check_label, d["name"], "district.name"), tuple(wards), roles, subjects)


@dataclass(frozen=True)
class SubjectChange:
    """How one person rated, or one post, differs between two rounds of a series.

    ``kind`` is one of:

    - ``"changed"``: the same id with another name, ward or role. Reports compare a subject
      with the previous round's subject of the same id, so a new office holder must get a
      new id; a changed name under an old id is worth a look.
    - ``"new_in_post"``: a new id in a (ward, role) that the previous round rated under
      another id: a new office holder, whom reports do not compare with the predecessor.
    - ``"new_post"``: a new id in a (ward, role) the previous round did not rate.
    - ``"gone"``: an id of the previous round that is no longer rated, and whose (ward, role)
      nobody holds now.
    """

    kind: str
    old: Subject | None
    new: Subject | None


def compare_subjects(old: Sequence[Subject], new: Sequence[Subject]) -> list[SubjectChange]:
    """The differences between the people rated in a round (``old``) and in the round that
    follows it (``new``), in the order of ``new`` then of ``old``."""
    old_by_id = {s.id: s for s in old}
    new_ids = {s.id for s in new}
    old_posts: dict[tuple[str, str], list[Subject]] = {}
    for s in old:
        old_posts.setdefault((s.ward, s.role), []).append(s)
    new_posts = {(s.ward, s.role) for s in new}
    changes: list[SubjectChange] = []
    for s in new:
        before = old_by_id.get(s.id)
        if before is not None:
            if (before.name, before.ward, before.role) != (s.name, s.ward, s.role):
                changes.append(SubjectChange("changed", before, s))
            continue
        holders = old_posts.get((s.ward, s.role))
        if holders:
            changes.append(SubjectChange("new_in_post", holders[0], s))
        else:
            changes.append(SubjectChange("new_post", None, s))
    for s in old:
        if s.id not in new_ids and (s.ward, s.role) not in new_posts:
            changes.append(SubjectChange("gone", s, None))
    return changes
