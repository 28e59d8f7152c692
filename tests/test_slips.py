"""Invitation slips: the booth URL, the QR codes (decoded back with zxing-cpp), the A4 page."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from anonballot.codes import format_code, generate_code
from anonballot.errors import InputError
from anonballot.manifest import RoundConfig, Window
from anonballot.server.slips import (
    SLIPS_PER_SHEET,
    booth_url,
    make_slips,
    qr_png,
    qr_svg,
    render_slips,
    slip_time,
    slips_csv,
)
from anonballot.testing import demo_config

BOOTH = "https://bau-cu.long-bien.example"


def decode(image: Image.Image) -> str:
    """The text of the one QR code in ``image``."""
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, found
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def svg_image(svg: str, scale: int = 8) -> Image.Image:
    """Rasterize segno's inline SVG (one path of horizontal strokes, one module high)."""
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    path = re.search(r' d="([^"]+)"', svg)
    assert view is not None, svg[:200]
    assert path is not None, svg[:200]
    width, height = int(view.group(1)), int(view.group(2))
    image = Image.new("L", (width, height), 255)
    x = y = 0.0
    for command, args in re.findall(r"([A-Za-z])([^A-Za-z]*)", path.group(1)):
        numbers = [float(n) for n in args.replace(",", " ").split()]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif command in "hH":
            end = x + numbers[0] if command == "h" else numbers[0]
            for column in range(round(x), round(end)):
                image.putpixel((column, int(y)), 0)
            x = end
        else:
            raise AssertionError(f"unexpected SVG path command {command!r}")
    return image.resize((width * scale, height * scale), Image.Resampling.NEAREST)


def config(wards: int = 3) -> RoundConfig:
    return demo_config(wards=wards, round_id="long-bien-2026-11")[0]


def test_booth_url_has_the_code_only_in_the_fragment() -> None:
    code = generate_code()
    url = booth_url(BOOTH + "/", "long-bien-2026-11", format_code(code).lower())
    assert url == f"{BOOTH}/r/long-bien-2026-11#code={code}"
    parts = urlsplit(url)
    assert parts.query == ""
    assert code not in parts.path
    assert parts.fragment == f"code={code}"
    assert booth_url("http://10.0.0.5:8000/bau-cu", "r1", code) == (
        f"http://10.0.0.5:8000/bau-cu/r/r1#code={code}"
    )


@pytest.mark.parametrize(
    "booth", ["ftp://x.example", "x.example", "https://", f"{BOOTH}/?a=1", f"{BOOTH}/#top"]
)
def test_bad_booth_urls_are_refused(booth: str) -> None:
    with pytest.raises(InputError):
        booth_url(booth, "r1", generate_code())


def test_bad_code_is_refused() -> None:
    with pytest.raises(InputError):
        booth_url(BOOTH, "r1", "not-a-code")


@pytest.mark.parametrize("seed", range(4))
def test_png_qr_decodes_to_the_url(seed: int) -> None:
    url = booth_url(BOOTH, f"round-{seed}", generate_code())
    assert decode(Image.open(io.BytesIO(qr_png(url)))) == url


def test_svg_and_png_are_the_same_qr_code() -> None:
    url = booth_url(BOOTH, "long-bien-2026-11", generate_code())
    svg = qr_svg(url)
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "width=" not in svg.split(">", 1)[0]  # sized by the page's CSS
    png = Image.open(io.BytesIO(qr_png(url, scale=8))).convert("L")
    assert svg_image(svg, 8).tobytes() == png.tobytes()
    assert decode(svg_image(svg)) == url


def parse_slips(page: str) -> list[tuple[str, str, str]]:
    """(ward name, printed code, decoded QR text) of every slip, in page order."""
    slips = []
    for chunk in page.split('<div class="slip">')[1:]:
        ward = re.search(r'<div class="ward">(.*?)</div>', chunk)
        code = re.search(r'<div class="code">(.*?)</div>', chunk)
        svg = re.search(r"<svg.*?</svg>", chunk, re.S)
        assert ward
        assert code
        assert svg
        slips.append((ward.group(1), code.group(1), decode(svg_image(svg.group(0)))))
    return slips


def test_rendered_slips_decode_back_to_their_urls() -> None:
    cfg = dataclasses.replace(config(), title={"vi": "Góp ý <thử> & kiểm tra", "en": "Test"})
    sizes = {"bo-de": 10, "cu-khoi": 3, "duc-giang": 8}
    invitations = [
        {"ward": ward, "participant": f"Nguyễn Văn Bí Mật {ward} {i}", "code": generate_code()}
        for ward in ("cu-khoi", "bo-de", "duc-giang")  # not the district's order
        for i in range(sizes[ward])
    ]
    page = render_slips(cfg, make_slips(cfg, invitations, BOOTH))

    # A self-contained A4 page, with no participant's name and the title escaped
    assert "@page { size: A4" in page
    for outside in ("<script", "<link", "<img", "src=", "href=", "url(", "@import"):
        assert outside not in page
    assert "Bí Mật" not in page
    assert "Góp ý &lt;thử&gt; &amp; kiểm tra" in page
    assert "<thử>" not in page

    slips = parse_slips(page)
    assert len(slips) == len(invitations)
    expected = {format_code(i["code"]): i["ward"] for i in invitations}
    names = {w.id: w.name["vi"] for w in cfg.district.wards}
    for ward_name, printed, url in slips:
        assert names[expected.pop(printed)] == ward_name
        assert url == f"{BOOTH}/r/long-bien-2026-11#code={printed.replace('-', '')}"
        assert "?" not in url
    assert expected == {}
    # grouped in the district's order, each ward on its own sheets of at most 8 slips
    assert [s[0] for s in slips] == (
        [names["bo-de"]] * 10 + [names["cu-khoi"]] * 3 + [names["duc-giang"]] * 8
    )
    sheets = page.split('<section class="sheet">')[1:]
    assert [s.count('<div class="slip">') for s in sheets] == [8, 2, 3, 8]
    assert SLIPS_PER_SHEET == 8
    for sheet in sheets:
        assert len(set(re.findall(r'<div class="ward">(.*?)</div>', sheet))) == 1


def test_an_invitation_for_a_ward_outside_the_round_is_refused() -> None:
    cfg = config(wards=2)
    with pytest.raises(InputError, match="viet-hung"):
        make_slips(cfg, [{"ward": "viet-hung", "participant": "x", "code": generate_code()}], BOOTH)


def test_csv_has_every_participant_and_code() -> None:
    rows = [
        {"ward": "bo-de", "participant": 'Nguyễn Thị Ánh, "Tổ 3"', "code": generate_code()},
        {"ward": "cu-khoi", "participant": "Trần Văn Bình", "code": generate_code()},
    ]
    text = slips_csv(rows)
    assert text.startswith("\ufeffward,participant,code\r\n")
    read = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert read == [{**r, "code": format_code(r["code"])} for r in rows]


def test_slips_print_both_windows_in_the_districts_time() -> None:
    """The two-phase round: when to activate the code, when to vote, in Viet Nam's time
    (UTC+7) whatever offset the manifest was written with; the same words as the booth."""
    cfg = dataclasses.replace(
        config(),
        issuance=Window("2026-11-02T01:00:00Z", "2026-11-06T17:00:00+07:00"),
        voting=Window("2026-11-09T08:00:00+07:00", "2027-01-02T03:00:00Z"),
    )
    invitations = [{"ward": "bo-de", "participant": "x", "code": generate_code()}]
    page = render_slips(cfg, make_slips(cfg, invitations, BOOTH))
    assert "Hạn kích hoạt mã mời" in page
    assert "08:00 02/11 – 17:00 06/11/2026" in page  # 01:00Z is 08:00 in Hà Nội
    assert "Thời gian bỏ phiếu" in page
    assert "08:00 09/11/2026 – 10:00 02/01/2027" in page  # the year twice when they differ
    assert "Mã mời / Invitation code" in page
    for old in ("Mã tham gia", "nhận phiếu", "phiếu mời"):  # the words the booth no longer uses
        assert old not in page
    assert slip_time("2026-05-31T17:30:00Z") == "00:30 01/06/2026"


def test_csv_cells_are_never_formulas() -> None:
    # names and positions are typed by people: any of them may start like a formula
    names = ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR",
             "Lê Văn An", "An = Bình", "'quoted"]  # fmt: skip
    rows = [{"ward": "bo-de", "participant": name, "code": generate_code()} for name in names]
    read = list(csv.DictReader(io.StringIO(slips_csv(rows).removeprefix("\ufeff"))))
    assert [r["participant"] for r in read] == [
        "'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tTab", "'\rCR",
        "Lê Văn An", "An = Bình", "'quoted",
    ]  # fmt: skip
    assert [r["code"] for r in read] == [format_code(r["code"]) for r in rows]
