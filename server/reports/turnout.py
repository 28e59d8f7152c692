"""The turnout page: eligible, issued and cast per ward, for the organizer.

**Turnout needs the admin token.** The JSON API serves turnout only to the organizer
(``/api/admin/rounds/{id}/turnout``), and this page keeps that decision rather than becoming
a way around it: while a round runs, live counts of tokens issued per ward, watched over
time, tell who has just collected a token in a small ward. So ``GET`` shows a form; the
token travels in the body of a same-origin ``POST`` (never in the URL, so not in proxy logs,
history or ``Referer``), is checked and is forgotten: no session, no cookie, the numbers are
only in the answer to that POST (``Cache-Control: no-store``, see ``routes.py``). After the
tally the same counts are public in the results, and the results page shows them per ward.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anonballot.district import DISTRICT_TIME
from anonballot.manifest import Manifest

from ..i18n import Messages
from .html import render_page
from .model import TURNOUT_WIDTH

__all__ = [
    "TurnoutRow",
    "render_token_wrong",
    "render_turnout",
    "render_turnout_form",
    "turnout_rows",
]


@dataclass(frozen=True)
class TurnoutRow:
    """One ward's (or the total's) row: counts, shares and its bar's two widths."""

    uid: str
    name: str
    ward: str | None
    """None for the total."""
    eligible: int
    issued: int
    cast: int
    issued_share: str
    cast_share: str
    issued_width: float
    cast_width: float
    desc: str
    """The bar as a screen reader reads it."""


def turnout_row(
    m: Messages, uid: str, name: str, counts: Mapping[str, int], ward: str | None
) -> TurnoutRow:
    eligible, issued, cast = int(counts["eligible"]), int(counts["issued"]), int(counts["cast"])

    def width(n: int) -> float:
        return TURNOUT_WIDTH * min(n, eligible) / eligible if eligible > 0 else 0.0

    desc = m.t(
        "turnout_bar_desc",
        issued_label=m.t("issued"),
        issued=m.num(issued),
        eligible=m.num(eligible),
        issued_share=m.pct(issued, eligible),
        cast_label=m.t("cast"),
        cast=m.num(cast),
        cast_share=m.pct(cast, eligible),
    )
    return TurnoutRow(
        uid, name, ward, eligible, issued, cast,
        m.pct(issued, eligible), m.pct(cast, eligible), width(issued), width(cast), desc,
    )  # fmt: skip


def turnout_rows(
    manifest: Manifest, turnout: Mapping[str, Any], m: Messages
) -> tuple[list[TurnoutRow], TurnoutRow]:
    """The wards' rows in the district's order, and the total's, from :meth:`Round.turnout`."""
    rows = [
        turnout_row(m, f"t{i}", m.label(w.name), turnout["wards"][w.id], w.id)
        for i, w in enumerate(manifest.wards)
    ]
    return rows, turnout_row(m, "total", m.t("total"), turnout["total"], None)


def render_turnout(
    manifest: Manifest, turnout: Mapping[str, Any], m: Messages, *, now: dt.datetime
) -> str:
    """The turnout page (HTML) for the organizer, from :meth:`Round.turnout`."""
    rows, total = turnout_rows(manifest, turnout, m)
    return render_page(
        "turnout.html",
        m,
        m.t("turnout_title", title=m.label(manifest.title)),
        round_id=manifest.round_id,
        active="nav_turnout",
        manifest=manifest,
        state=str(turnout["state"]),
        rows=rows,
        total=total,
        stamp=now.astimezone(DISTRICT_TIME).strftime("%H:%M:%S %d/%m/%Y"),
    )


def render_turnout_form(m: Messages, round_id: str, title: str) -> str:
    """The turnout page before the token: the round's ``title`` and the form."""
    return render_page(
        "turnout_form.html",
        m,
        m.t("turnout_title", title=title),
        round_id=round_id,
        active="nav_turnout",
        wrong=False,
        page_heading=title,
    )


def render_token_wrong(m: Messages, round_id: str) -> str:
    """The form again after a wrong token (or none), with no word of the round itself."""
    heading = m.t("turnout_heading")
    return render_page(
        "turnout_form.html",
        m,
        heading,
        round_id=round_id,
        active="nav_turnout",
        wrong=True,
        page_heading=heading,
    )
