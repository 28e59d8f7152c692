"""Printable invitation slips: A4 sheets of cut-out slips, one code and QR code each.

Each slip shows the round's title, the ward, the code as printed (``XXXX-XXXX-XXXX-XXXX``),
a QR code of the booth URL, both windows (when to activate the code, when to vote) in the
district's time, and short instructions in Vietnamese and English. It never shows a
participant's name: slips are handed out in person, and a lost slip names nobody.

The QR code holds ``{booth}/r/{round_id}#code={CODE}`` where ``CODE`` is the code's
16-character normal form, **without dashes** (a smaller QR code; the booth accepts a code
with or without dashes, see :func:`anonballot.codes.normalize_code`). The code travels only
in the URL's fragment, which a browser never sends to a server, so it appears in no request
line, access log or ``Referer`` header. There is no query string.

The page (``server/templates/slips.html``) is self-contained (inline CSS and SVG, no external
asset): it can be opened and printed offline. Print at 100 % scale on A4; each ward starts on
a new sheet.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
import markupsafe

from anonballot.codes import format_code, normalize_code
from anonballot.district import DISTRICT_TIME
from anonballot.encoding import parse_time
from anonballot.errors import InputError
from anonballot.manifest import RoundConfig, Window

from .spreadsheet import csv_cell
from .templating import make_environment

__all__ = [
    "LEADER_SLIPS_PER_SHEET",
    "SLIPS_PER_SHEET",
    "LeaderSlip",
    "Slip",
    "booth_url",
    "leader_url",
    "make_leader_slips",
    "make_slips",
    "qr_png",
    "qr_svg",
    "render_leader_slips",
    "render_slips",
    "slip_time",
    "slip_window",
    "slips_csv",
]

COLUMNS, ROWS = 2, 4
SLIPS_PER_SHEET = COLUMNS * ROWS
"""Eight slips of 95 mm x 69 mm on each A4 sheet (2 columns, 4 rows)."""


def slip_time(text: str, *, year: bool = True) -> str:
    """A manifest time as a slip prints it, in the district's time: ``08:00 02/11/2026``."""
    return (
        parse_time(text)
        .astimezone(DISTRICT_TIME)
        .strftime("%H:%M %d/%m/%Y" if year else "%H:%M %d/%m")
    )


def slip_window(window: Window) -> str:
    """``08:00 02/11 – 17:00 06/11/2026``: the year once when both ends share it (a slip has
    room for one line per window)."""
    opens, closes = (parse_time(t).astimezone(DISTRICT_TIME) for t in (window.opens, window.closes))
    return f"{slip_time(window.opens, year=opens.year != closes.year)} – {slip_time(window.closes)}"


@dataclass(frozen=True)
class Slip:
    """One printed slip: the ward's id and name, the code (printed form) and the QR's URL."""

    ward: str
    ward_name: str
    code: str
    url: str


def booth_url(booth: str, round_id: str, code: str) -> str:
    """The URL a slip's QR code holds: the code (no dashes) only in the fragment."""
    parts = urlsplit(booth.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"the booth URL {booth!r} is not an http(s) URL", code="bad_url")
    if parts.query or parts.fragment:
        raise InputError(
            f"the booth URL {booth!r} must have no query string or fragment", code="bad_url"
        )
    base = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
    return f"{base}/r/{quote(round_id, safe='')}#code={normalize_code(code)}"


def _qr(url: str) -> Any:
    import segno

    # Level M at least; segno raises it when that fits in the same size (boost_error).
    return segno.make_qr(url, error="m", boost_error=True)


def qr_svg(url: str) -> str:
    """The QR code of ``url`` as an inline ``<svg>`` element (sized by CSS, 4-module border)."""
    return str(_qr(url).svg_inline(scale=1, border=4, omitsize=True, svgclass="qr"))


def qr_png(url: str, *, scale: int = 8) -> bytes:
    """The same QR code as a PNG image (what the tests decode)."""
    out = io.BytesIO()
    _qr(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def slips_csv(rows: Iterable[dict[str, str]]) -> str:
    """``ward,participant,code``, one row per invitation (with a BOM, for spreadsheets);
    a cell a spreadsheet would run as a formula (a name typed as ``=...``) starts with an
    apostrophe (:func:`~anonballot.server.spreadsheet.csv_cell`)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["ward", "participant", "code"])
    for row in rows:
        cells = [row["ward"], row["participant"], format_code(row["code"])]
        writer.writerow([csv_cell(cell) for cell in cells])
    return out.getvalue()


def make_slips(
    config: RoundConfig, invitations: Iterable[dict[str, str]], booth: str
) -> list[Slip]:
    """The slips of a round's invitations, grouped by ward in the district's order."""
    names = {w.id: w.name.get("vi") or next(iter(w.name.values())) for w in config.district.wards}
    order = {w.id: i for i, w in enumerate(config.district.wards)}
    by_ward: dict[str, list[Slip]] = {}
    for inv in invitations:
        ward = inv["ward"]
        if ward not in names:
            raise InputError(f"invitation for ward {ward!r}, which is not in the round")
        slip = Slip(
            ward, names[ward], format_code(inv["code"]),
            booth_url(booth, config.round_id, inv["code"]),
        )  # fmt: skip
        by_ward.setdefault(ward, []).append(slip)
    return [s for ward in sorted(by_ward, key=order.__getitem__) for s in by_ward[ward]]


@functools.cache
def _template() -> jinja2.Template:
    return make_environment().get_template("slips.html")


def render_slips(config: RoundConfig, slips: Sequence[Slip]) -> str:
    """The whole HTML page: A4 sheets of 8 slips; each ward starts a new sheet."""
    sheets: list[list[Slip]] = []
    ward = None
    for slip in slips:
        if slip.ward != ward or len(sheets[-1]) == SLIPS_PER_SHEET:
            sheets.append([])
            ward = slip.ward
        sheets[-1].append(slip)
    return _template().render(
        round_id=config.round_id,
        title_vi=config.title.get("vi") or "",
        title_en=config.title.get("en") or "",
        issuance=slip_window(config.issuance),
        voting=slip_window(config.voting),
        sheets=sheets,
        count=len(slips),
        # segno's SVG is markup segno made, with no text of ours in it
        qr_svg=lambda url: markupsafe.Markup(qr_svg(url)),  # noqa: S704
    )


# -- the personal slips of the people rated ------------------------------------------------------

LEADER_SLIPS_PER_SHEET = 3
"""Three personal slips of 190 mm x 90 mm on each A4 sheet."""


@dataclass(frozen=True)
class LeaderSlip:
    """One person rated's slip: who, and the personal link to their own report and plan."""

    subject: str
    name: str
    ward_name: str
    role: str
    url: str


def leader_url(base: str, round_id: str, key: str) -> str:
    """The personal link: ``{base}/leader/{round_id}#key={key}``, the key only in the fragment
    (never sent to a server, as the invitation codes)."""
    booth = booth_url(base, round_id, "0" * 16)  # the same checks of the address
    return booth.rsplit("/r/", 1)[0] + f"/leader/{quote(round_id, safe='')}#key={key}"


def make_leader_slips(
    config: RoundConfig, keys: Iterable[dict[str, str]], base: str
) -> list[LeaderSlip]:
    """The slips of ``keys`` (``{"subject", "key"}`` each), in the district's order."""
    district = config.district
    wards = {w.id: w.name.get("vi") or w.id for w in district.wards}
    roles = {r.id: r.title.get("vi") or r.id for r in district.roles}
    by_subject = {k["subject"]: k["key"] for k in keys}
    slips = []
    for s in district.subjects:
        if s.id in by_subject:
            url = leader_url(base, config.round_id, by_subject[s.id])
            name = s.name.get("vi") or s.id
            role = roles.get(s.role, s.role)
            slips.append(LeaderSlip(s.id, name, wards.get(s.ward, s.ward), role, url))
    unknown = sorted(set(by_subject) - {s.id for s in district.subjects})
    if unknown:
        raise InputError(f"keys for people not rated in the round: {', '.join(unknown)}")
    return slips


@functools.cache
def _leader_template() -> jinja2.Template:
    return make_environment().get_template("leader_slips.html")


def render_leader_slips(config: RoundConfig, slips: Sequence[LeaderSlip]) -> str:
    """The whole HTML page: A4 sheets of three personal slips."""
    sheets = [
        list(slips[i : i + LEADER_SLIPS_PER_SHEET])
        for i in range(0, len(slips), LEADER_SLIPS_PER_SHEET)
    ]
    return _leader_template().render(
        round_id=config.round_id,
        title_vi=config.title.get("vi") or "",
        sheets=sheets,
        count=len(slips),
        qr_svg=lambda url: markupsafe.Markup(qr_svg(url)),  # noqa: S704
    )
