"""Printable invitation slips: A4 sheets of cut-out slips, one code and QR code each.

Each slip shows the round's title, the ward, the code as printed (``XXXX-XXXX-XXXX-XXXX``),
a QR code of the booth URL and short instructions in Vietnamese and English. It never shows
a participant's name: slips are handed out in person, and a lost slip names nobody.

The QR code holds ``{booth}/r/{round_id}#code={CODE}`` where ``CODE`` is the code's
16-character normal form, **without dashes** (a smaller QR code; the booth accepts a code
with or without dashes, see :func:`anonballot.codes.normalize_code`). The code travels only
in the URL's fragment, which a browser never sends to a server, so it appears in no request
line, access log or ``Referer`` header. There is no query string.

The page is self-contained (inline CSS and SVG, no external asset): it can be opened and
printed offline. Print at 100 % scale on A4; each ward starts on a new sheet.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from anonballot.codes import format_code, normalize_code
from anonballot.errors import InputError
from anonballot.manifest import RoundConfig

__all__ = [
    "SLIPS_PER_SHEET",
    "Slip",
    "booth_url",
    "make_slips",
    "qr_png",
    "qr_svg",
    "render_slips",
    "slips_csv",
]

COLUMNS, ROWS = 2, 4
SLIPS_PER_SHEET = COLUMNS * ROWS
"""Eight slips of 95 mm x 69 mm on each A4 sheet (2 columns, 4 rows)."""


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
    """``ward,participant,code``, one row per invitation (with a BOM, for spreadsheets)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["ward", "participant", "code"])
    for row in rows:
        writer.writerow([row["ward"], row["participant"], format_code(row["code"])])
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


HELP_VI = (
    "Quét mã QR bằng điện thoại, hoặc mở địa chỉ bên dưới và nhập mã. "
    "Phiếu kín: không ai biết bạn đánh giá thế nào. Không cho người khác xem mã này."
)
HELP_EN = (
    "Scan the QR code with your phone, or open the address below and type the code. "
    "Secret ballot: nobody can see how you rated. Show this code to nobody."
)

CSS = """
@page { size: A4 portrait; margin: 10mm; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { font-family: "Noto Sans", "DejaVu Sans", Arial, sans-serif; color: #000;
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.sheet { width: 190mm; height: 276mm; display: grid; overflow: hidden;
         grid-template-columns: repeat(2, 95mm); grid-template-rows: repeat(4, 69mm);
         break-after: page; page-break-after: always; }
.sheet:last-of-type { break-after: auto; page-break-after: auto; }
.slip { border: 0.3mm dashed #666; padding: 3mm 3.5mm; overflow: hidden;
        display: flex; flex-direction: column; break-inside: avoid; }
.title { font-size: 7.5pt; font-weight: bold; line-height: 1.2; max-height: 10mm;
         overflow: hidden; }
.title .en { font-weight: normal; }
.middle { display: flex; gap: 3mm; margin-top: 1.5mm; }
.middle svg.qr { flex: 0 0 35mm; width: 35mm; height: 35mm; display: block; }
.side { flex: 1; min-width: 0; }
.ward { font-size: 11.5pt; font-weight: bold; line-height: 1.2; }
.help { font-size: 7.2pt; line-height: 1.25; margin-top: 1mm; }
.help .en { color: #333; margin-top: 0.8mm; }
.label { font-size: 7.2pt; margin-top: 2mm; }
.code { font-family: "DejaVu Sans Mono", "Liberation Mono", "Courier New", monospace;
        font-size: 17pt; font-weight: bold; white-space: nowrap; letter-spacing: 0.2mm; }
.url { font-family: "DejaVu Sans Mono", "Liberation Mono", "Courier New", monospace;
       font-size: 6.5pt; overflow-wrap: anywhere; color: #333; }
.note { font-size: 10pt; padding: 4mm; margin: 0 0 6mm; border: 0.5mm solid #b00;
        max-width: 190mm; }
@media screen {
  body { background: #ddd; padding: 10mm 0; }
  .sheet { background: #fff; margin: 0 auto 10mm; outline: 10mm solid #fff; }
  .note { background: #fff; margin: 0 auto 16mm; }
}
@media print { .note { display: none; } }
"""


def _label(label: dict[str, str], lang: str) -> str:
    return label.get(lang) or ""


def _slip_html(slip: Slip, title_vi: str, title_en: str) -> str:
    e = html.escape
    shown_url = slip.url.split("#", 1)[0]
    title = e(title_vi) + (f'<div class="en">{e(title_en)}</div>' if title_en else "")
    return (
        '<div class="slip">'
        f'<div class="title">{title}</div>'
        '<div class="middle">'
        f"{qr_svg(slip.url)}"
        '<div class="side">'
        f'<div class="ward">{e(slip.ward_name)}</div>'
        f'<div class="help"><div class="vi">{e(HELP_VI)}</div>'
        f'<div class="en">{e(HELP_EN)}</div></div>'
        "</div></div>"
        '<div class="label">Mã tham gia / Code:</div>'
        f'<div class="code">{e(slip.code)}</div>'
        f'<div class="url">{e(shown_url)}</div>'
        "</div>"
    )


def render_slips(config: RoundConfig, slips: Sequence[Slip]) -> str:
    """The whole HTML page: A4 sheets of 8 slips; each ward starts a new sheet."""
    title_vi, title_en = _label(config.title, "vi"), _label(config.title, "en")
    sheets: list[list[Slip]] = []
    ward = None
    for slip in slips:
        if slip.ward != ward or len(sheets[-1]) == SLIPS_PER_SHEET:
            sheets.append([])
            ward = slip.ward
        sheets[-1].append(slip)
    body = "\n".join(
        '<section class="sheet">'
        + "".join(_slip_html(s, title_vi, title_en) for s in sheet)
        + "</section>"
        for sheet in sheets
    )
    e = html.escape
    return (
        "<!DOCTYPE html>\n"
        '<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{e(title_vi)}: phiếu mời / invitation slips ({e(config.round_id)})</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        '<div class="note"><b>In trên khổ A4, tỉ lệ 100 %, rồi cắt theo đường nét đứt. '
        "Mã chỉ được cấp một lần: giữ tệp này cẩn thận và xóa sau khi in.</b><br>"
        "Print on A4 at 100 % scale and cut along the dashed lines. The codes are issued "
        f"only once: keep this file safe and delete it after printing. {len(slips)} slips, "
        f"{len(sheets)} sheets.</div>\n"
        f"{body}\n</body>\n</html>\n"
    )
