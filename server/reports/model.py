"""What the report pages and the workbook show of a tallied round's results.

Pure: built from the signed results (protocol section 7.5), the manifest and a language's
:class:`~server.i18n.Messages`, with no HTTP, no template and no I/O, so that the rules below
are tested on their own (``tests/test_report_model.py``). The HTML (``html.py``) and the
XLSX (``xlsx.py``) only lay it out.

**min_group.** The rule is :mod:`anonballot.disclosure`'s, the same for every view: a ward
with fewer valid ballots than the manifest's ``min_group`` shows its counts only (ballots,
valid, invalid), never the distribution or the comments of its people rated, and the page
says why. The summaries by role and for the district add up the **shown wards only** (and
name the wards left out), so that no subtraction within the report gives a hidden ward's
distribution away. When no ward is hidden, the summaries are the results' own ``roles`` and
``district``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from anonballot.disclosure import Disclosure
from anonballot.manifest import Manifest
from anonballot.statements import (
    DistrictResult,
    Results,
    RoleResult,
    SubjectResult,
    WardCounts,
)

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
    ratings: int
    """Ratings of each criterion: each person rated's valid ballots, added up. A ballot rates
    every person rated of its ward, so this is not a number of ballots."""
    criteria: Mapping[str, Mapping[str, int]]
    people: int
    """Valid ballots behind the summary (the people who rated, each once)."""
    shown: bool
    """Whether the summary stands on enough ballots to show its distribution."""


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
        self.disclosure = Disclosure(manifest, _typed(manifest, results))
        self.hidden_wards = list(self.disclosure.hidden_wards)

    def ward_counts(self, ward: str) -> dict[str, int]:
        counts: dict[str, int] = self.results["wards"][ward]
        return counts

    def shown(self, ward: str) -> bool:
        return self.disclosure.shown(ward)

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

    def aggregates(self) -> tuple[list[Aggregate], Aggregate]:
        """The summaries by role and for the district, over the shown wards only.

        When no ward is hidden these are the results' own ``roles`` and ``district``.
        """
        m = self.m
        d = self.disclosure
        roles = []
        for r in self.manifest.roles:
            summary = d.role(r.id)
            roles.append(
                Aggregate(
                    f"role-{r.id}",
                    m.label(r.title),
                    summary.subjects,
                    summary.ratings,
                    summary.criteria,
                    summary.ballots,
                    not d.hidden(summary),
                )
            )
        summary = d.district()
        # Ratings and ballots are two counts, each shown under its own name: the results'
        # district "ballots" (section 7.5) are valid ballots, never the ratings of the bars.
        district = Aggregate(
            "district",
            m.label(self.manifest.district_name),
            summary.subjects,
            summary.ratings,
            summary.criteria,
            summary.ballots,
            not d.hidden(summary),
        )
        return roles, district

    def hidden(self, agg: Aggregate) -> bool:
        """Whether a summary stands on too few people to show its distribution."""
        return not agg.shown


def _typed(manifest: Manifest, results: Mapping[str, Any]) -> Results:
    """The members of the results value (protocol section 7.5) that the ``min_group`` rule
    reads, typed; the pages receive the value the engine signed."""
    return Results(
        round=manifest.mid,
        tree_size=int(results.get("tree_size", 0)),
        root=b"",
        trustees=tuple(results.get("trustees", ())),
        wards={w: WardCounts(**c) for w, c in results["wards"].items()},
        subjects={
            s.id: SubjectResult(
                s.ward,
                s.role,
                results["subjects"][s.id]["ballots"],
                results["subjects"][s.id]["criteria"],
                {f: tuple(t) for f, t in results["subjects"][s.id]["comments"].items()},
            )
            for s in manifest.subjects
        },
        roles={
            r: RoleResult(v["subjects"], v["ballots"], v["criteria"])
            for r, v in results["roles"].items()
        },
        district=DistrictResult(results["district"]["ballots"], results["district"]["criteria"]),
        invalid=(),
    )
