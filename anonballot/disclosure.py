"""The ``min_group`` rule (protocol section 4.1): what a view of results may show its readers.

Every view of a round's results (the report pages, the workbook, the PDF, a leader's own
report) asks this module what it may show, so that the rule lives in one place.

A **group** is one ward's valid ballots in one round, named ``(round id, ward id)``: the
ballots that rated the ward's people. A group is **shown** when it has at least the
manifest's ``min_group`` valid ballots; otherwise the view shows its counts only (eligible,
issued, ballots, valid, invalid: public anyway) and says why. Then:

- a person rated's distribution and comments are shown only when their ward's group is;
- a summary (by role, or for the district) adds up the shown groups only, and names the
  wards left out: a summary that included a hidden ward would give that ward's distribution
  away by subtraction from the shown ones;
- a difference between two rounds is shown only between two shown values: a person's change
  only when their ward is shown in both rounds, a summary's change over the wards shown in
  **both** rounds (like for like).

Every number shown carries the set of groups it adds up (:attr:`Distribution.groups`). As no
summed group is hidden, no sum or difference of shown numbers isolates a hidden group; the
tests check exactly that. (This protects the readers of a report; who may read the results at
all is the round's access setting, not this module.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from .errors import NotFound, StatementError
from .manifest import Manifest
from .series import share_points, shares
from .statements import CriteriaCounts, Results

__all__ = ["Comparison", "Difference", "Disclosure", "Distribution", "Group"]

Group = tuple[str, str]
"""``(round id, ward id)``: the valid ballots of one ward in one round."""


@dataclass(frozen=True)
class Distribution:
    """Ratings per criterion and level that a view may show, and what they stand on."""

    criteria: CriteriaCounts
    """Criterion id to level id to a number of ratings (the abstain level included)."""
    subjects: int
    """The people rated whose ratings are added up."""
    ratings: int
    """Ratings of each criterion added up: each person rated's valid ballots."""
    ballots: int
    """The valid ballots of the groups: the people who rated, each counted once."""
    groups: frozenset[Group]
    """Every group whose ballots these numbers add up: all shown ones."""
    left_out: tuple[str, ...] = ()
    """Wards whose ballots would count here but are left out (hidden, or for a difference
    between rounds, not shown in both), in manifest order."""

    def total(self, criterion: str) -> int:
        """The ratings of ``criterion`` (every level)."""
        return sum(self.criteria.get(criterion, {}).values())

    def shares(self, criterion: str) -> dict[str, float] | None:
        """Each level's share (0 to 1) of the ratings of ``criterion``; None with none."""
        per_level = self.criteria.get(criterion)
        return shares(per_level) if per_level is not None else None


@dataclass(frozen=True)
class Difference:
    """A change between two rounds of the same person rated or of the same summary."""

    before: Distribution
    after: Distribution
    points: Mapping[str, Mapping[str, float]]
    """Criterion id to level id to the change of the level's share, in percentage points
    (after minus before): the criteria and levels of both rounds with ratings in both."""

    @property
    def groups(self) -> frozenset[Group]:
        """The groups of both rounds that the two sides add up."""
        return self.before.groups | self.after.groups


def _add(target: dict[str, dict[str, int]], source: CriteriaCounts) -> None:
    for criterion, per_level in source.items():
        row = target.setdefault(criterion, {})
        for level, n in per_level.items():
            row[level] = row.get(level, 0) + n


class Disclosure:
    """The ``min_group`` rule applied to one round's ``results``."""

    def __init__(self, manifest: Manifest, results: Results) -> None:
        if results.round != manifest.mid:
            raise StatementError(f"round {manifest.round_id}: the results are for another round")
        self.manifest = manifest
        self.results = results
        self.min_group = manifest.min_group
        self.round_id = manifest.round_id

    @cached_property
    def hidden_wards(self) -> tuple[str, ...]:
        """The wards with fewer than ``min_group`` valid ballots, in manifest order."""
        return tuple(
            w.id for w in self.manifest.wards if self.results.wards[w.id].valid < self.min_group
        )

    @cached_property
    def shown_wards(self) -> tuple[str, ...]:
        """The wards whose distributions and comments are shown, in manifest order."""
        hidden = set(self.hidden_wards)
        return tuple(w.id for w in self.manifest.wards if w.id not in hidden)

    def shown(self, ward: str) -> bool:
        """Whether the view shows the distributions and comments of ``ward``'s people."""
        self.manifest.ward(ward)  # NotFound for another round's ward
        return ward in self._shown_set

    @cached_property
    def _shown_set(self) -> frozenset[str]:
        # a set, not the tuple: a national report asks this of 10,000 wards
        return frozenset(self.shown_wards)

    @cached_property
    def _entries(self) -> dict[str, tuple[str, str]]:
        return {s.id: (s.ward, s.role) for s in self.manifest.subjects}

    def group(self, ward: str) -> Group:
        return (self.round_id, ward)

    def _entry(self, subject: str) -> tuple[str, str]:
        entry = self._entries.get(subject)
        if entry is not None:
            return entry
        raise NotFound(f"subject {subject!r} is not in this round", code="unknown_subject")

    def subject(self, subject: str) -> Distribution | None:
        """A person rated's distribution, or None when their ward is hidden."""
        ward, _ = self._entry(subject)
        if not self.shown(ward):
            return None
        entry = self.results.subjects[subject]
        valid = self.results.wards[ward].valid
        return Distribution(entry.criteria, 1, entry.ballots, valid, frozenset({self.group(ward)}))

    def comments(self, subject: str) -> Mapping[str, tuple[str, ...]] | None:
        """A person rated's comments by comment field, or None when their ward is hidden."""
        ward, _ = self._entry(subject)
        return self.results.subjects[subject].comments if self.shown(ward) else None

    def role(self, role: str, *, wards: Iterable[str] | None = None) -> Distribution:
        """The summary of the people rated of ``role``, over the shown wards (of ``wards``
        only, when given)."""
        if role not in {r.id for r in self.manifest.roles}:
            raise NotFound(f"role {role!r} is not in this round", code="unknown_role")
        return self._summary(role, wards)

    def district(self, *, wards: Iterable[str] | None = None) -> Distribution:
        """The summary of every person rated, over the shown wards (of ``wards`` only)."""
        return self._summary(None, wards)

    def hidden(self, summary: Distribution) -> bool:
        """Whether a summary stands on too few ballots to show its distribution: when no
        group counts in it (every shown group has ``min_group`` ballots or more)."""
        return summary.ballots < self.min_group

    def _summary(self, role: str | None, wards: Iterable[str] | None) -> Distribution:
        allowed = set(self.shown_wards if wards is None else wards) & set(self.shown_wards)
        people = [s for s in self.manifest.subjects if role is None or s.role == role]
        rated = {s.ward for s in people}
        relevant = [w.id for w in self.manifest.wards if w.id in rated]
        counted = [w for w in relevant if w in allowed]
        left_out = tuple(w for w in relevant if w not in allowed)
        groups = frozenset(self.group(w) for w in counted)
        ballots = sum(self.results.wards[w].valid for w in counted)
        summed = [s for s in people if s.ward in allowed]
        ratings = sum(self.results.subjects[s.id].ballots for s in summed)
        if not left_out:
            # Nothing left out: the results' own summary (section 7.5), the same sums.
            if role is None:
                own = self.results.district
                return Distribution(own.criteria, len(summed), ratings, ballots, groups)
            mine = self.results.roles[role]
            return Distribution(mine.criteria, mine.subjects, mine.ballots, ballots, groups)
        criteria: dict[str, dict[str, int]] = {
            c.id: dict.fromkeys(self.manifest.questionnaire.answer_ids, 0)
            for c in self.manifest.questionnaire.criteria
        }
        for s in summed:
            _add(criteria, self.results.subjects[s.id].criteria)
        return Distribution(criteria, len(summed), ratings, ballots, groups, left_out)


def _difference(before: Distribution, after: Distribution) -> Difference:
    points: dict[str, dict[str, float]] = {}
    for criterion in after.criteria:
        a, b = before.shares(criterion), after.shares(criterion)
        if a is None or b is None:
            continue
        points[criterion] = {
            level: p
            for level in b
            if level in a and (p := share_points(a[level], b[level])) is not None
        }
    return Difference(before, after, points)


class Comparison:
    """Differences between a round (``current``) and the round before it (``previous``)."""

    def __init__(self, current: Disclosure, previous: Disclosure) -> None:
        self.current = current
        self.previous = previous

    @cached_property
    def common_wards(self) -> tuple[str, ...]:
        """The wards shown in both rounds, in the current manifest's order."""
        before = set(self.previous.shown_wards)
        return tuple(w for w in self.current.shown_wards if w in before)

    def subject(self, subject: str) -> Difference | None:
        """The change of a person rated, or None: when the id is absent from one round (a new
        office holder is never compared with the predecessor) or the ward is hidden in one."""
        after = self.current.subject(subject)
        if after is None or subject not in {s.id for s in self.previous.manifest.subjects}:
            return None
        before = self.previous.subject(subject)
        return None if before is None else _difference(before, after)

    def role(self, role: str) -> Difference | None:
        """The change of a role's summary over the wards shown in both rounds with someone of
        that role in both (like for like), or None when there is no such ward."""
        if role not in {r.id for r in self.previous.manifest.roles}:
            return None
        both = [w for w in self.common_wards if self._has(self.current, w, role)]
        wards = [w for w in both if self._has(self.previous, w, role)]
        after = self.current.role(role, wards=wards)
        before = self.previous.role(role, wards=wards)
        return self._pair(before, after)

    @staticmethod
    def _has(side: Disclosure, ward: str, role: str) -> bool:
        return any(s.role == role for s in side.manifest.subjects_of(ward))

    def district(self) -> Difference | None:
        """The change of the district's summary over the wards shown in both rounds, or None
        when no ward is shown in both."""
        after = self.current.district(wards=self.common_wards)
        before = self.previous.district(wards=self.common_wards)
        return self._pair(before, after)

    def _pair(self, before: Distribution, after: Distribution) -> Difference | None:
        if self.current.hidden(after) or self.previous.hidden(before):
            return None
        return _difference(before, after)
