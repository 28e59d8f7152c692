"""Rounds of one district as a series: counts per person rated across rounds, and changes.

A district rates its leaders every six months; each round's manifest and results (protocol
sections 4 and 7.5) are an island. A :class:`Series` lines rounds up, oldest first and the
current round last, and answers per person rated, per criterion and per level: the count in
each round (``None`` where the person was not rated in that round), the share of the level
among the criterion's ratings, and the change of that share since the previous round.

People rated are compared by subject id only. A subject id stays the same while the same
person holds the post; a new office holder gets a new id, so a current subject whose id the
previous round lacks is never compared with the predecessor: :meth:`Series.new_in_post` tells
the reports to say "new in this post" instead.

These are the raw counts of the results, for holders of the confidential part of a round.
What a report may show of them to its readers is :mod:`anonballot.disclosure`'s rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .encoding import JSONValue
from .errors import InputError, NotFound, StatementError
from .manifest import Manifest
from .statements import Results

__all__ = ["Series", "share_points", "shares"]


def shares(per_level: Mapping[str, int]) -> dict[str, float] | None:
    """Each level's share (0 to 1) of one criterion's ratings, the abstain level included in
    the total as the report pages count it; ``None`` when there is no rating at all."""
    total = sum(per_level.values())
    if total == 0:
        return None
    return {level: n / total for level, n in per_level.items()}


def share_points(before: float | None, after: float | None) -> float | None:
    """The change of a share in percentage points (``after - before``), ``None`` unless both
    shares are known."""
    if before is None or after is None:
        return None
    return 100 * (after - before)


def _union(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """Every id of ``groups``, each once, in order of first appearance."""
    return tuple(dict.fromkeys(i for group in groups for i in group))


class Series:
    """Rounds of one district, oldest first, the current round last.

    ``rounds`` are ``(manifest, results)`` pairs; each round's results must be for its
    manifest (their ``round`` is its ``mid``) and round ids must differ. Raises
    :class:`~anonballot.errors.InputError` otherwise.
    """

    def __init__(self, rounds: Iterable[tuple[Manifest, Results]]) -> None:
        pairs = tuple(rounds)
        if not pairs:
            raise InputError("a series needs at least one round")
        seen: set[str] = set()
        for manifest, results in pairs:
            if results.round != manifest.mid:
                raise StatementError(
                    f"round {manifest.round_id}: the results are for another manifest"
                )
            if set(results.subjects) != {s.id for s in manifest.subjects}:
                raise StatementError(
                    f"round {manifest.round_id}: the results do not rate exactly the "
                    "manifest's people"
                )
            if manifest.round_id in seen:
                raise InputError(f"round {manifest.round_id} appears twice in the series")
            seen.add(manifest.round_id)
        self.manifests: tuple[Manifest, ...] = tuple(m for m, _ in pairs)
        self.results: tuple[Results, ...] = tuple(r for _, r in pairs)
        self.round_ids: tuple[str, ...] = tuple(m.round_id for m in self.manifests)
        newest_first = self.manifests[::-1]
        self.subjects: tuple[str, ...] = _union([s.id for s in m.subjects] for m in newest_first)
        """Every person rated in any round: the current round's in manifest order, then the
        people of earlier rounds only, newest round first."""
        self.criteria: tuple[str, ...] = _union(
            [c.id for c in m.questionnaire.criteria] for m in newest_first
        )
        """Every criterion of any round's questionnaire, the current round's first."""
        self.levels: tuple[str, ...] = _union(m.questionnaire.answer_ids for m in newest_first)
        """Every scale level and abstain id of any round, the current round's first."""

    @property
    def current(self) -> Manifest:
        """The manifest of the last (current) round."""
        return self.manifests[-1]

    def _index(self, at: int) -> int:
        n = len(self.manifests)
        if not -n <= at < n:
            raise NotFound(f"round index {at}: the series has {n} rounds")
        return at % n

    def _check_subject(self, subject: str) -> None:
        if subject not in self.subjects:
            raise NotFound(
                f"subject {subject!r} is not rated in any round of the series",
                code="unknown_subject",
            )

    def rated(self, subject: str) -> tuple[bool, ...]:
        """Whether ``subject`` was rated in each round."""
        self._check_subject(subject)
        return tuple(subject in r.subjects for r in self.results)

    def ballots(self, subject: str) -> tuple[int | None, ...]:
        """The valid ballots that rated ``subject`` in each round (``None``: not rated)."""
        self._check_subject(subject)
        return tuple(
            r.subjects[subject].ballots if subject in r.subjects else None for r in self.results
        )

    def counts(self, subject: str, criterion: str, level: str) -> tuple[int | None, ...]:
        """How many ratings of ``criterion`` gave ``level`` to ``subject``, in each round.

        ``None`` where the subject was not rated, or the round's questionnaire has no such
        criterion or level.
        """
        self._check_subject(subject)
        if criterion not in self.criteria or level not in self.levels:
            raise NotFound(f"criterion {criterion!r} or level {level!r} is in no round")
        out: list[int | None] = []
        for r in self.results:
            entry = r.subjects.get(subject)
            per_level = entry.criteria.get(criterion) if entry is not None else None
            out.append(per_level.get(level) if per_level is not None else None)
        return tuple(out)

    def shares(self, subject: str, criterion: str, level: str) -> tuple[float | None, ...]:
        """The share (0 to 1) of ``level`` among the ratings of ``criterion`` for ``subject``
        in each round; ``None`` where it was not rated or had no rating of the criterion."""
        self.counts(subject, criterion, level)  # raises on unknown names
        out: list[float | None] = []
        for r in self.results:
            entry = r.subjects.get(subject)
            per_level = entry.criteria.get(criterion) if entry is not None else None
            s = shares(per_level) if per_level is not None else None
            out.append(s.get(level) if s is not None else None)
        return tuple(out)

    def change(self, subject: str, criterion: str, level: str, *, at: int = -1) -> float | None:
        """The change of the share of ``level`` in ``criterion`` for ``subject`` since the
        round before round ``at`` (the current one by default), in percentage points.

        ``None`` for the first round, or when the subject was not rated in either round (a
        new office holder has a new id: never compared with the predecessor).
        """
        i = self._index(at)
        if i == 0:
            self.counts(subject, criterion, level)
            return None
        by_round = self.shares(subject, criterion, level)
        return share_points(by_round[i - 1], by_round[i])

    def changes(self, subject: str, *, at: int = -1) -> dict[str, dict[str, float | None]]:
        """:meth:`change` of every criterion and level of round ``at``'s questionnaire."""
        q = self.manifests[self._index(at)].questionnaire
        return {
            c.id: {level: self.change(subject, c.id, level, at=at) for level in q.answer_ids}
            for c in q.criteria
        }

    def new_in_post(self, subject: str, *, at: int = -1) -> bool:
        """Whether ``subject`` is new in an existing post in round ``at`` (the current one).

        True when the round before lacks the subject's id but had someone rated in the same
        (ward, role): the reports say "new in this post" instead of comparing two people.
        False for the first round, for someone rated before, and for a post that is new
        itself (no one in that ward and role in the round before).
        """
        i = self._index(at)
        manifest = self.manifests[i]
        mine = [s for s in manifest.subjects if s.id == subject]
        if not mine:
            raise NotFound(
                f"subject {subject!r} is not rated in round {manifest.round_id}",
                code="unknown_subject",
            )
        if i == 0:
            return False
        before = self.manifests[i - 1]
        if any(s.id == subject for s in before.subjects):
            return False
        post = (mine[0].ward, mine[0].role)
        return any((s.ward, s.role) == post for s in before.subjects)

    def to_summary_json(self) -> dict[str, JSONValue]:
        """The series' counts: ``{"rounds": [round ids, oldest first], "subjects": {subject:
        {"criteria": {criterion: {level: [count in each round, or null]}}}}}``.

        Every person rated in any round, with every criterion and level of any round:
        ``null`` where the person was not rated in that round (or its questionnaire lacks
        the criterion or level). Raw counts, for holders of the confidential part.
        """
        subjects: dict[str, JSONValue] = {}
        for sid in self.subjects:
            criteria: dict[str, JSONValue] = {}
            for cid in self.criteria:
                criteria[cid] = {lv: list(self.counts(sid, cid, lv)) for lv in self.levels}
            subjects[sid] = {"criteria": criteria}
        return {"rounds": list(self.round_ids), "subjects": subjects}
