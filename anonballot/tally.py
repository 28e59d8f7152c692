"""The tally (protocol sections 7.4 and 7.5): counting opened ballots into the results.

:class:`TallyBuilder` counts the ballots that :class:`~anonballot.opening.LeafOpener` opens;
partial builders from several workers :meth:`merge` into one, so the audit can spread the
work over processes. The result does not depend on board order: counts are sums and
comments are sorted by code point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from .ballot import WHITE_SPACE, strip_comment
from .encoding import JSONValue
from .errors import OpenError
from .leaf import Leaf
from .manifest import Manifest
from .opening import LeafOpener
from .statements import (
    CriteriaCounts,
    DistrictResult,
    InvalidBallot,
    Results,
    RoleResult,
    SubjectResult,
    WardCounts,
)

__all__ = ["WHITE_SPACE", "TallyBuilder", "strip_comment"]


class TallyBuilder:
    """Counts of ballots, valid and invalid, per ward, subject, role and the district."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.cast: dict[str, int] = {}
        self.valid: dict[str, int] = {}
        self.counts: dict[str, dict[str, dict[str, int]]] = {}
        self.comments: dict[str, dict[str, list[str]]] = {}
        self.invalid: list[tuple[int, str]] = []

    def add(self, index: int, leaf: Leaf, opener: LeafOpener) -> str | None:
        """Open and count one leaf; return the reason code when it is an invalid ballot."""
        self.cast[leaf.ward] = self.cast.get(leaf.ward, 0) + 1
        try:
            ballot = opener.open(leaf)
        except OpenError as exc:
            self.invalid.append((index, exc.code))
            return exc.code
        self.add_valid(leaf.ward, ballot)
        return None

    def add_all(self, leaves: Sequence[tuple[int, Leaf]], opener: LeafOpener) -> None:
        """:meth:`add` for many ``(index, leaf)``: every ballot decrypted first, then each one
        classified and counted (two tight loops run faster than one that alternates)."""
        opened: list[tuple[int, Leaf, bytes | OpenError]] = []
        for index, leaf in leaves:
            try:
                opened.append((index, leaf, opener.decrypt(leaf)))
            except OpenError as exc:
                opened.append((index, leaf, exc))
        for index, leaf, plaintext in opened:
            self.cast[leaf.ward] = self.cast.get(leaf.ward, 0) + 1
            try:
                if isinstance(plaintext, OpenError):
                    raise plaintext
                ballot = opener.classify(plaintext, leaf)
            except OpenError as exc:
                self.invalid.append((index, exc.code))
                continue
            self.add_valid(leaf.ward, ballot)

    def add_valid(self, ward: str, ballot: Mapping[str, JSONValue]) -> None:
        self.valid[ward] = self.valid.get(ward, 0) + 1
        # A valid ballot (validate_ballot): each answer's ratings and comments map ids to text.
        answers = cast("dict[str, dict[str, dict[str, str]]]", ballot["answers"])
        for subject, answer in answers.items():
            per_criterion = self.counts.setdefault(subject, {})
            for criterion, level in answer["ratings"].items():
                levels = per_criterion.setdefault(criterion, {})
                levels[level] = levels.get(level, 0) + 1
            texts = self.comments.setdefault(subject, {})
            for name, text in answer["comments"].items():
                stripped = strip_comment(text)
                if stripped:
                    texts.setdefault(name, []).append(stripped)

    def merge(self, other: TallyBuilder) -> None:
        for ward, n in other.cast.items():
            self.cast[ward] = self.cast.get(ward, 0) + n
        for ward, n in other.valid.items():
            self.valid[ward] = self.valid.get(ward, 0) + n
        for subject, per_criterion in other.counts.items():
            mine = self.counts.setdefault(subject, {})
            for criterion, levels in per_criterion.items():
                target = mine.setdefault(criterion, {})
                for level, n in levels.items():
                    target[level] = target.get(level, 0) + n
        for subject, fields in other.comments.items():
            mine_c = self.comments.setdefault(subject, {})
            for name, texts in fields.items():
                mine_c.setdefault(name, []).extend(texts)
        self.invalid.extend(other.invalid)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["manifest"] = None  # the receiver has its own; keeps pickles small
        return state

    def results(
        self,
        *,
        mid: str,
        tree_size: int,
        root: bytes,
        trustees: Iterable[str],
        issued: Mapping[str, int],
    ) -> Results:
        """The results of section 7.5 (unsigned)."""
        m = self.manifest
        q = m.questionnaire
        levels = q.answer_ids

        def zero() -> dict[str, dict[str, int]]:
            return {c.id: dict.fromkeys(levels, 0) for c in q.criteria}

        def add_into(target: dict[str, dict[str, int]], source: CriteriaCounts) -> None:
            for criterion, per_level in source.items():
                for level, n in per_level.items():
                    target[criterion][level] += n

        wards: dict[str, WardCounts] = {}
        for w in m.wards:
            ballots = self.cast.get(w.id, 0)
            valid = self.valid.get(w.id, 0)
            wards[w.id] = WardCounts(
                w.eligible, issued.get(w.id, 0), ballots, valid, ballots - valid
            )
        subjects: dict[str, SubjectResult] = {}
        role_subjects = dict.fromkeys((r.id for r in m.roles), 0)
        role_ballots = dict.fromkeys((r.id for r in m.roles), 0)
        role_criteria = {r.id: zero() for r in m.roles}
        district = zero()
        for s in m.subjects:
            criteria = zero()
            add_into(criteria, self.counts.get(s.id, {}))
            texts = self.comments.get(s.id, {})
            valid = self.valid.get(s.ward, 0)
            subjects[s.id] = SubjectResult(
                s.ward,
                s.role,
                valid,
                criteria,
                {c.id: tuple(sorted(texts.get(c.id, []))) for c in q.comments},
            )
            role_subjects[s.role] += 1
            role_ballots[s.role] += valid
            add_into(role_criteria[s.role], criteria)
            add_into(district, criteria)
        return Results(
            round=mid,
            tree_size=tree_size,
            root=root,
            trustees=tuple(trustees),
            wards=wards,
            subjects=subjects,
            roles={
                r: RoleResult(role_subjects[r], role_ballots[r], role_criteria[r])
                for r in role_subjects
            },
            district=DistrictResult(sum(self.valid.values()), district),
            invalid=tuple(InvalidBallot(i, r) for i, r in sorted(self.invalid)),
        )
