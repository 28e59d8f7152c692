"""What the report pages and the workbook show of a tallied round's results.

Pure: built from the signed results (protocol section 7.5), the manifest and a language's
:class:`~server.i18n.Messages`, with no HTTP, no template and no I/O, so that the rules below
are tested on their own (``tests/test_report_model.py``). The HTML (``html.py``) and the
XLSX (``xlsx.py``) only lay it out.

**min_group.** The manifest's ``min_group`` is advice to reports: a ward with fewer valid
ballots shows its counts only (ballots, valid, invalid), never the distribution or the
comments of its people rated, and the page says why. The summaries by role and for the
district then add up the **shown wards only** (and name the wards left out): a summary that
included a hidden ward would give that ward's distribution away by subtraction, within the
printed report itself. When no ward is hidden, the summaries are the results' own ``roles``
and ``district``. (The signed results stay public through the API with every count: the rule
protects the readers of the report, it is not an access control.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from anonballot.manifest import Manifest

from ..i18n import Messages

__all__ = [
    "ABSTAIN_FILL",
    "BAR_HEIGHT",
    "BAR_WIDTH",
    "COUNT_KEYS",
    "PALETTE",
    "TURNOUT_HEIGHT",
    "TURNOUT_WIDTH",
    "Aggregate",
    "Bar",
    "Cell",
    "CommentField",
    "CriterionRow",
    "Level",
    "Reason",
    "ResultsView",
    "Segment",
    "bar",
]

PALETTE = ("#1b7f3b", "#7cbf5f", "#e8b93c", "#c8442f", "#7b2d8b", "#2f6fb0", "#8a5a2b")
"""Fallback fills of the scale levels, by position (reports.css sets the same colours)."""
ABSTAIN_FILL = "#9aa0a6"
BAR_WIDTH = 480
BAR_HEIGHT = 24
TURNOUT_WIDTH = 240
TURNOUT_HEIGHT = 16
COUNT_KEYS = ("eligible", "issued", "ballots", "valid", "invalid")
"""A ward's counts in the results, in the order the tables show them."""


@dataclass(frozen=True)
class Level:
    """One answer level of the questionnaire as the charts show it."""

    id: str
    label: str
    css: str
    fill: str
    abstain: bool


@dataclass(frozen=True)
class Aggregate:
    """A summary row group: a role or the whole district."""

    key: str
    heading: str
    subjects: int
    ballots: int
    criteria: Mapping[str, Mapping[str, int]]
    people: int
    """Valid ballots behind the summary (the people, not the ratings)."""


@dataclass(frozen=True)
class Segment:
    """One level's part of a stacked bar, in the bar's coordinates."""

    level: Level
    count: int
    x: float
    width: float
    title: str
    text: str
    """The label drawn on the segment: count and share, the count only, or none (too narrow)."""

    @property
    def middle(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Bar:
    """One stacked bar: a criterion's counts per level, with its text description."""

    uid: str
    title: str
    desc: str
    """Every level's count and share, as a screen reader reads the chart."""
    total: int
    segments: tuple[Segment, ...]
    """The levels with a non-zero count, in the scale's order."""


@dataclass(frozen=True)
class Cell:
    """One level's count and share in a data table row."""

    level: Level
    count: int
    share: str


@dataclass(frozen=True)
class CriterionRow:
    """One criterion of a distribution: its bar and its data table row."""

    id: str
    label: str
    bar: Bar
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class CommentField:
    """The comments of one comment field, in the results' order."""

    id: str
    label: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Reason:
    """Invalid ballots with one reason (protocol section 7.3's outcomes)."""

    code: str
    label: str
    count: int


def bar(uid: str, title: str, counts: Sequence[tuple[Level, int]], m: Messages) -> Bar:
    """The stacked bar of ``counts`` (each level with its count), ``BAR_WIDTH`` wide."""
    total = sum(n for _, n in counts)
    items = [
        m.t("bar_desc_item", level=lv.label, count=m.num(n), share=m.pct(n, total))
        for lv, n in counts
    ]
    segments: list[Segment] = []
    cum = 0
    for (lv, n), item in zip(counts, items, strict=True):
        if n <= 0 or total == 0:
            continue
        x0 = BAR_WIDTH * cum / total
        cum += n
        width = BAR_WIDTH * cum / total - x0
        full = f"{m.num(n)} ({m.pct(n, total, 0)})"
        short = m.num(n)
        # about 7 px per character of the 12 px label, with 3 px of room on each side
        text = (
            full if width >= len(full) * 6.8 + 6 else short if width >= len(short) * 7 + 6 else ""
        )
        segments.append(Segment(lv, n, x0, width, item, text))
    desc = "; ".join(items) if total else m.t("no_data")
    return Bar(uid, title, desc, total, tuple(segments))


class ResultsView:
    """What the pages show of ``results``, in one language, with the ``min_group`` rule."""

    def __init__(self, manifest: Manifest, results: Mapping[str, Any], m: Messages) -> None:
        self.manifest = manifest
        self.results = results
        self.m = m
        q = manifest.questionnaire
        n = len(PALETTE)
        levels = [
            Level(s.id, m.label(s.label), f"lvl-{i % n}", PALETTE[i % n], False)
            for i, s in enumerate(q.scale)
        ]
        if q.abstain is not None:
            a = q.abstain
            levels.append(Level(a.id, m.label(a.label), "lvl-abstain", ABSTAIN_FILL, True))
        self.levels = levels
        self.criteria = [(c.id, m.label(c.label)) for c in q.criteria]
        self.comment_fields = [(c.id, m.label(c.label)) for c in q.comments]
        self.min_group = manifest.min_group
        self.hidden_wards = [
            w.id for w in manifest.wards if self.ward_counts(w.id)["valid"] < manifest.min_group
        ]

    def ward_counts(self, ward: str) -> dict[str, int]:
        counts: dict[str, int] = self.results["wards"][ward]
        return counts

    def shown(self, ward: str) -> bool:
        return ward not in self.hidden_wards

    def ward_name(self, ward: str) -> str:
        return self.m.label(self.manifest.ward(ward).name)

    def role_title(self, role: str) -> str:
        for r in self.manifest.roles:
            if r.id == role:
                return self.m.label(r.title)
        return role

    def subject(self, subject: str) -> Mapping[str, Any]:
        value: Mapping[str, Any] = self.results["subjects"][subject]
        return value

    def released_by(self) -> list[str]:
        """The names of the trustees whose releases opened the ballots."""
        names = {t.id: self.m.label(t.name) for t in self.manifest.trustees}
        return [names.get(t, t) for t in self.results.get("trustees", [])]

    def hidden_ward_names(self) -> list[str]:
        return [self.ward_name(w) for w in self.hidden_wards]

    def totals(self) -> dict[str, int]:
        """The wards' counts added up (every ward: counts are never hidden)."""
        totals = dict.fromkeys(COUNT_KEYS, 0)
        for w in self.manifest.wards:
            c = self.ward_counts(w.id)
            for k in COUNT_KEYS:
                totals[k] += c[k]
        return totals

    def reasons(self) -> list[Reason]:
        """The invalid ballots counted by reason, in the reasons' code order."""
        by_reason: dict[str, int] = {}
        for item in self.results.get("invalid", []):
            by_reason[item["reason"]] = by_reason.get(item["reason"], 0) + 1
        m = self.m
        return [
            Reason(code, m.t(f"reason_{code}") if m.has(f"reason_{code}") else code, n)
            for code, n in sorted(by_reason.items())
        ]

    def distribution(
        self, uid: str, who: str, criteria: Mapping[str, Mapping[str, int]]
    ) -> list[CriterionRow]:
        """One bar and one table row per criterion; ``uid`` prefixes the bars' element ids."""
        m = self.m
        rows = []
        for i, (cid, clabel) in enumerate(self.criteria):
            per_level = criteria.get(cid, {})
            counts = [(lv, int(per_level.get(lv.id, 0))) for lv in self.levels]
            total = sum(n for _, n in counts)
            title = m.t("bar_title", who=who, criterion=clabel)
            cells = tuple(Cell(lv, n, m.pct(n, total)) for lv, n in counts)
            rows.append(CriterionRow(cid, clabel, bar(f"{uid}-c{i}", title, counts, m), cells))
        return rows

    def comments(self, comments: Mapping[str, Sequence[str]]) -> list[CommentField]:
        return [
            CommentField(fid, flabel, tuple(comments.get(fid, [])))
            for fid, flabel in self.comment_fields
        ]

    def _zero(self) -> dict[str, dict[str, int]]:
        return {c: {lv.id: 0 for lv in self.levels} for c, _ in self.criteria}

    def _people(self, role: str | None) -> int:
        """Valid ballots of the shown wards (with a subject of ``role``, unless None)."""
        return sum(
            self.ward_counts(w.id)["valid"]
            for w in self.manifest.wards
            if self.shown(w.id)
            and (role is None or any(s.role == role for s in self.manifest.subjects_of(w.id)))
        )

    def aggregates(self) -> tuple[list[Aggregate], Aggregate]:
        """The summaries by role and for the district, over the shown wards only.

        When no ward is hidden these are the results' own ``roles`` and ``district``.
        """
        m = self.m
        district_name = m.label(self.manifest.district_name)
        roles: list[Aggregate] = []
        if not self.hidden_wards:
            for r in self.manifest.roles:
                entry = self.results["roles"][r.id]
                roles.append(
                    Aggregate(
                        f"role-{r.id}",
                        m.label(r.title),
                        entry["subjects"],
                        entry["ballots"],
                        entry["criteria"],
                        self._people(r.id),
                    )
                )
            d = self.results["district"]
            district = Aggregate(
                "district",
                district_name,
                len(self.manifest.subjects),
                d["ballots"],
                d["criteria"],
                self._people(None),
            )
            return roles, district
        d_criteria = self._zero()
        d_subjects = d_ratings = 0
        for r in self.manifest.roles:
            criteria = self._zero()
            subjects = ratings = 0
            for s in self.manifest.subjects:
                if s.role != r.id or not self.shown(s.ward):
                    continue
                entry = self.subject(s.id)
                _add_into(criteria, entry["criteria"])
                subjects += 1
                ratings += entry["ballots"]
            _add_into(d_criteria, criteria)
            d_subjects += subjects
            d_ratings += ratings
            roles.append(
                Aggregate(
                    f"role-{r.id}",
                    m.label(r.title),
                    subjects,
                    ratings,
                    criteria,
                    self._people(r.id),
                )
            )
        district = Aggregate(
            "district", district_name, d_subjects, d_ratings, d_criteria, self._people(None)
        )
        return roles, district

    def hidden(self, agg: Aggregate) -> bool:
        """Whether a summary stands on too few people to show its distribution."""
        return agg.people < self.min_group


def _add_into(target: dict[str, dict[str, int]], source: Mapping[str, Mapping[str, int]]) -> None:
    for criterion, per_level in source.items():
        row = target.setdefault(criterion, {})
        for level, n in per_level.items():
            row[level] = row.get(level, 0) + n
