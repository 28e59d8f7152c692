"""The report pages (``server/reports/``): results, turnout, their languages and the XLSX.

A small round of two demo wards runs through the engine (tokens, ballots, one invalid
ballot, close, two releases, tally): ``bo-de`` has 6 valid ballots, ``cu-khoi`` has 2 valid
and 1 invalid, below the manifest's ``min_group`` of 5, so its distributions and comments
must not appear anywhere. The pages are read through Starlette's TestClient with the report
routes added to the application, and once in Debian's Chromium (Playwright) to check that
they render under the server's Content-Security-Policy and print to A4.

With ``ANONBALLOT_SCREENSHOTS=1`` the browser test also saves screenshots of the pages to
``docs/booth/results-*.png`` for the documentation.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import openpyxl
import pytest
from _browser import launch_chromium
from _live import ROUND, demo_office, serve_app
from starlette.applications import Starlette
from starlette.testclient import TestClient

from anonballot.engine import Round
from anonballot.leaf import build_leaf
from anonballot.participant import Participant
from anonballot.server.app import create_app
from anonballot.server.i18n import (
    CATALOGS,
    COOKIE,
    LANGS,
    MESSAGES_DIR,
    Messages,
    choose_lang,
    fill,
    load_catalog,
)
from anonballot.server.reports import render_results
from anonballot.server.service import Service
from anonballot.testing import COMMENTS, demo_config, random_answers

ROOT = Path(__file__).resolve().parent.parent
SHOWN, HIDDEN = "bo-de", "cu-khoi"
TRICKY = "<b>\"Tốt\" & 'ok'</b>"
FORMULA = "=1+1"
PRIVATE = "BÍ MẬT cu-khoi"
"""A comment of the ward below min_group: it must never be shown."""


def make_app(service: Service) -> Starlette:
    return create_app(service)  # the report pages are among its routes


def vote(engine: Round, code: str, answers: dict[str, Any] | None = None, seed: int = 0) -> None:
    """One participant: token, ballot (random answers unless given), cast."""
    p = Participant(engine.signed_manifest(), engine.ward_for_code(code))
    p.finish_token(engine.issue(code, p.request_token()))
    if answers is None:
        answers = random_answers(p.manifest, p.ward, random.Random(seed))
    engine.cast(p.make_leaf(answers))


def vote_invalid(engine: Round, code: str) -> None:
    """A well-formed leaf whose sealed ballot is not a valid ballot (``invalid_content``)."""
    p = Participant(engine.signed_manifest(), engine.ward_for_code(code))
    p.finish_token(engine.issue(code, p.request_token()))
    assert p.token is not None
    assert p.voter_key is not None
    sealed = p.seal(b'{"v":2}')
    engine.cast(build_leaf(p.manifest.mid, p.ward, p.token, sealed, p.voter_key))


def with_comments(
    engine: Round, ward: str, seed: int, comments: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """Random ratings; ``comments`` maps a role to that person's comments (field -> text)."""
    answers = random_answers(engine.manifest, ward, random.Random(seed))
    for subject, answer in answers.items():
        answer["comments"] = dict(comments.get(subject.removeprefix(f"{ward}-"), {}))
    return answers


@dataclass
class Tallied:
    service: Service
    client: TestClient
    results: dict[str, Any]
    data: Path


@pytest.fixture(scope="module")
def tallied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tallied]:
    data = tmp_path_factory.mktemp("reports") / "data"
    office = demo_office(data, wards=2, voters=6)
    service = Service(data, key_bits=2048)
    engine = service.round(ROUND)
    shown = [code for code, ward in office.codes if ward == SHOWN]
    hidden = [code for code, ward in office.codes if ward == HIDDEN]
    fields = ("uu-diem", "ton-tai-han-che", "de-xuat-kien-nghi")
    for i, code in enumerate(shown):
        comments = {"secretary": {fields[i % 3]: COMMENTS[i]}}
        if i == 0:
            comments["chairman"] = {"uu-diem": TRICKY, "de-xuat-kien-nghi": FORMULA}
        vote(engine, code, with_comments(engine, SHOWN, i, comments))
    private = {"secretary": {"ton-tai-han-che": PRIVATE}, "chairman": {"uu-diem": PRIVATE}}
    vote(engine, hidden[0], with_comments(engine, HIDDEN, 10, private))
    vote(engine, hidden[1], seed=11)
    vote_invalid(engine, hidden[2])
    p = Participant(engine.signed_manifest(), HIDDEN)  # a token issued, never cast
    p.finish_token(engine.issue(hidden[3], p.request_token()))
    engine.close()
    for trustee in office.trustees[:2]:
        engine.add_release(trustee.release(engine.mid))
    engine.tally()
    client = TestClient(make_app(service))
    results = client.get(f"/api/rounds/{ROUND}/results").json()["results"]
    assert results["wards"][SHOWN]["valid"] == 6
    assert results["wards"][HIDDEN] == {
        "eligible": 6,
        "issued": 4,
        "ballots": 3,
        "valid": 2,
        "invalid": 1,
    }
    yield Tallied(service, client, results, data)
    client.close()
    service.close()


class Counts(HTMLParser):
    """Every element with ``data-count``, with the nearest subject/aggregate and criterion."""

    VOID: ClassVar[set[str]] = {"meta", "link", "input", "br", "img", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[dict[str, str]] = []
        self.found: list[dict[str, str]] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self._record(tag, a)
        if tag not in self.VOID:
            self.stack.append({"tag": tag, **a})

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, {k: v or "" for k, v in attrs})

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def _record(self, tag: str, a: dict[str, str]) -> None:
        if "id" in a:
            self.ids.append(a["id"])
        if "data-count" not in a:
            return
        owner = criterion = ""
        for el in reversed(self.stack):
            criterion = criterion or el.get("data-criterion", "")
            if not owner and el.get("tag") == "section" and "id" in el:
                owner = el["id"]
        self.found.append(
            {
                "tag": tag,
                "owner": owner,
                "criterion": criterion,
                "level": a.get("data-level", ""),
                "count": a["data-count"],
                "class": a.get("class", ""),
            }
        )


def parse_counts(page: str) -> Counts:
    parser = Counts()
    parser.feed(page)
    return parser


def distribution(parsed: Counts, owner: str, tag: str) -> dict[str, dict[str, int]]:
    """``{criterion: {level: count}}`` of the table cells (``td``) or bar segments (``rect``)."""
    out: dict[str, dict[str, int]] = {}
    for item in parsed.found:
        if item["owner"] == owner and item["tag"] == tag:
            out.setdefault(item["criterion"], {})[item["level"]] = int(item["count"])
    return out


def no_zero(criteria: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {c: {lv: n for lv, n in levels.items() if n} for c, levels in criteria.items()}


# -- results ----------------------------------------------------------------------------------


def test_results_page_shows_the_counts_of_results_json(tallied: Tallied) -> None:
    r = tallied.client.get(f"/results/{ROUND}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    for forbidden in ("<script", "<style", " style=", "javascript:"):
        assert forbidden not in page
    parsed = parse_counts(page)
    assert len(parsed.ids) == len(set(parsed.ids)), "duplicate element ids"
    for subject in (f"{SHOWN}-secretary", f"{SHOWN}-chairman"):
        expected = tallied.results["subjects"][subject]["criteria"]
        owner = f"s-{subject}"
        assert distribution(parsed, owner, "td") == expected
        # one SVG segment per level with a non-zero count, in the right number
        assert distribution(parsed, owner, "rect") == no_zero(expected)
        segments = [i for i in parsed.found if i["owner"] == owner and i["tag"] == "rect"]
        assert len(segments) == sum(1 for c in expected.values() for n in c.values() if n)
        assert all("seg" in s["class"].split() for s in segments)
    # one bar per criterion, each an accessible SVG with title and desc
    bars = re.findall(r'<svg class="bar"[^>]*aria-labelledby="([^"]+)"', page)
    criteria = len(tallied.results["subjects"][f"{SHOWN}-secretary"]["criteria"])
    assert len(bars) >= 2 * criteria
    for ref in bars[:3]:
        t, d = ref.split()
        assert f'<title id="{t}">' in page
        assert f'<desc id="{d}">' in page
    # the ward table: the counts of results.json
    row = re.search(rf'<tr data-ward="{HIDDEN}">(.*?)</tr>', page)
    assert row is not None
    cells = dict(re.findall(r'data-key="(\w+)">([^<]+)<', row.group(1)))
    assert cells == {"eligible": "6", "issued": "4", "ballots": "3", "valid": "2", "invalid": "1"}
    assert "Nội dung phiếu không hợp lệ" in page  # the invalid ballot's reason


def test_comments_are_shown_escaped_and_in_results_order(tallied: Tallied) -> None:
    page = tallied.client.get(f"/results/{ROUND}").text
    assert TRICKY not in page
    escaped = "&lt;b&gt;&#34;Tốt&#34; &amp; &#39;ok&#39;&lt;/b&gt;"  # markupsafe's escapes
    assert page.count(escaped) == 1
    assert tallied.results["subjects"][f"{SHOWN}-chairman"]["comments"]["uu-diem"] == [TRICKY]
    assert FORMULA in page
    # every comment of the results, in the results' order (sorted), per field
    for subject in (f"{SHOWN}-secretary", f"{SHOWN}-chairman"):
        section = page.split(f'id="s-{subject}"', 1)[1].split('<section class="subject"', 1)[0]
        for field, texts in tallied.results["subjects"][subject]["comments"].items():
            block = section.split(f'data-field="{field}">', 1)[1].split("</section>", 1)[0]
            shown = [html.unescape(t) for t in re.findall(r'<li class="comment">(.*?)</li>', block)]
            assert shown == texts, (subject, field)
            assert texts == sorted(texts)
    secretary = tallied.results["subjects"][f"{SHOWN}-secretary"]["comments"]
    assert sum(len(texts) for texts in secretary.values()) == 6


def test_a_ward_below_min_group_shows_counts_only(tallied: Tallied) -> None:
    page = tallied.client.get(f"/results/{ROUND}").text
    assert tallied.results["subjects"][f"{HIDDEN}-secretary"]["comments"]["ton-tai-han-che"]
    assert PRIVATE not in page
    section = re.search(
        rf'<section class="ward" id="w-{HIDDEN}"[^>]*>(.*?)</section>', page, re.DOTALL
    )
    assert section is not None
    assert 'data-shown="no"' in page
    assert "ít hơn ngưỡng 5 phiếu" in section.group(1)
    assert "hợp lệ: 2, không hợp lệ: 1" in section.group(1)
    assert f'data-subject="{HIDDEN}-' not in page
    assert f"s-{HIDDEN}-" not in page
    # the summaries leave the hidden ward out (it would be found by subtraction)
    parsed = parse_counts(page)
    subjects = tallied.results["subjects"]
    shown = [subjects[f"{SHOWN}-{r}"]["criteria"] for r in ("secretary", "chairman")]
    total = {c: {lv: shown[0][c][lv] + shown[1][c][lv] for lv in shown[0][c]} for c in shown[0]}
    assert distribution(parsed, "district", "td") == total
    assert distribution(parsed, "role-secretary", "td") == shown[0]
    assert "không tính các phường chỉ nêu số phiếu (Phường Cự Khối)" in page


def test_without_hidden_wards_the_summaries_are_the_results_own(tallied: Tallied) -> None:
    engine = tallied.service.round(ROUND)
    manifest = dataclasses.replace(engine.manifest, min_group=1)
    page = render_results(manifest, tallied.results, Messages("vi"))
    parsed = parse_counts(page)
    assert distribution(parsed, "district", "td") == tallied.results["district"]["criteria"]
    for role in ("secretary", "chairman"):
        expected = tallied.results["roles"][role]["criteria"]
        assert distribution(parsed, f"role-{role}", "td") == expected
    assert PRIVATE in page  # with min_group 1 nothing is hidden
    assert "hidden-note" not in page


def test_vietnamese_by_default_english_with_the_switch(tallied: Tallied) -> None:
    c = TestClient(make_app(tallied.service))
    vi = c.get(f"/results/{ROUND}")
    assert '<html lang="vi">' in vi.text
    assert "Tiêu chí" in vi.text
    assert "Bản lĩnh chính trị, tư tưởng" in vi.text
    assert "Phường Bồ Đề" in vi.text
    assert "Bí thư Đảng ủy phường" in vi.text
    assert "Không đánh giá" in vi.text
    assert "Criterion" not in vi.text
    assert COOKIE not in vi.headers.get("set-cookie", "")
    en = c.get(f"/results/{ROUND}", params={"lang": "en"})
    assert '<html lang="en">' in en.text
    assert "Criterion" in en.text
    assert "Political steadfastness and ideology" in en.text
    assert "Bồ Đề ward" in en.text
    assert "Ward Party committee secretary" in en.text
    assert "No opinion" in en.text
    assert "Tiêu chí" not in en.text
    assert f"{COOKIE}=en" in en.headers["set-cookie"]
    # the cookie remembers the choice; ?lang=vi switches back
    assert '<html lang="en">' in c.get(f"/results/{ROUND}").text
    assert '<html lang="vi">' in c.get(f"/results/{ROUND}", params={"lang": "vi"}).text
    # the language links keep the ward filter
    one = c.get(f"/results/{ROUND}", params={"ward": SHOWN, "lang": "en"}).text
    assert 'href="?ward=bo-de&amp;lang=vi"' in one
    assert f"w-{HIDDEN}" not in one
    assert f"s-{SHOWN}-secretary" in one
    # an unknown language falls back to Vietnamese
    assert '<html lang="vi">' in c.get(f"/results/{ROUND}", params={"lang": "fr"}).text
    c.close()


def test_unknown_round_ward_and_not_tallied_pages(tallied: Tallied, tmp_path: Path) -> None:
    c = tallied.client
    for path in ("/results/nope", "/results/Bad_Id", "/turnout/nope", "/results/%3Cb%3Ex"):
        r = c.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert "Không tìm thấy đợt" in r.text
        assert "Bad_Id" not in r.text
        assert "<b>x" not in r.text
    assert "không có đợt nào mang mã nope." in c.get("/results/nope").text
    r = c.get(f"/results/{ROUND}", params={"ward": "nope"})
    assert r.status_code == 404
    assert "Không tìm thấy phường" in r.text
    assert c.get("/results/nope.xlsx").status_code == 404
    # a draft round: no results, no turnout
    config, _ = demo_config(wards=1, round_id="draft-round")
    tallied.service.create_round(config)
    r = c.get("/results/draft-round")
    assert r.status_code == 409
    assert "Chưa có kết quả" in r.text
    assert "đang soạn" in r.text
    r = c.get("/turnout/draft-round", params={"lang": "en"})
    assert r.status_code == 409
    assert "not open yet" in r.text


def test_results_xlsx(tallied: Tallied) -> None:
    with TestClient(make_app(tallied.service)) as c:  # its own cookies: ?lang= sets one
        r = c.get(f"/results/{ROUND}.xlsx", params={"lang": "en"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["Overview", "Summary", "Bồ Đề ward", "Cự Khối ward"]
    values = [[c.value for c in row] for row in wb["Bồ Đề ward"].iter_rows()]
    flat = [v for row in values for v in row if v is not None]
    assert "Party secretary of Bồ Đề ward (placeholder)" in flat
    expected = tallied.results["subjects"][f"{SHOWN}-secretary"]["criteria"]
    first = next(row for row in values if row[0] == "Political steadfastness and ideology")
    levels = tallied.service.round(ROUND).manifest.questionnaire.answer_ids  # scale order
    assert first[1 : 1 + len(levels)] == [expected["ban-linh-chinh-tri"][lv] for lv in levels]
    formula_cells = [c for row in wb["Bồ Đề ward"].iter_rows() for c in row if c.value == FORMULA]
    assert formula_cells
    assert all(c.data_type == "s" for c in formula_cells)
    # with the quote prefix, as if typed '=1+1: editing the cell keeps it text
    assert all(c.quotePrefix for c in formula_cells)
    assert not any(c.quotePrefix for row in wb["Overview"].iter_rows() for c in row)
    hidden = [v for row in wb["Cự Khối ward"].iter_rows() for c in row if (v := c.value)]
    assert not any(PRIVATE in str(v) for v in hidden)
    assert any("fewer than the round's minimum" in str(v) for v in hidden)


def test_catalogs_have_the_same_keys_and_fields() -> None:
    fields = re.compile(r"\{(\w+)\}")
    # the catalogs are the JSON files, in the booth's format: one flat object of texts
    for lang in LANGS:
        path = MESSAGES_DIR / f"{lang}.json"
        assert CATALOGS[lang] == load_catalog(path)
        assert all(isinstance(v, str) for v in json.loads(path.read_text("utf-8")).values())
    booth = json.loads((ROOT / "server" / "static" / "i18n" / "vi.json").read_text("utf-8"))
    assert all(isinstance(v, str) for v in booth.values())  # the format both follow
    assert fill("{a} and {b}", {"a": 1}) == "1 and {b}"  # as the booth's t() fills a text
    assert set(CATALOGS["vi"]) == set(CATALOGS["en"])
    for key, text in CATALOGS["vi"].items():
        assert set(fields.findall(text)) == set(fields.findall(CATALOGS["en"][key])), key
    assert choose_lang(None, None) == ("vi", False)
    assert choose_lang("EN", None) == ("en", True)
    assert choose_lang(None, "en") == ("en", False)
    assert choose_lang(None, "xx") == ("vi", False)
    vi, en = Messages("vi"), Messages("en")
    assert (vi.num(1234567), en.num(1234567)) == ("1.234.567", "1,234,567")
    assert (vi.pct(1, 3), en.pct(1, 3), vi.pct(0, 0), en.pct(1, 10_000)) == (
        "33,3%",
        "33.3%",
        "0%",
        "<0.1%",
    )
    assert vi.label({"vi": "Tốt", "en": "Good"}) == "Tốt"
    assert Messages("en").label({"vi": "Tốt"}) == "Tốt"


# -- turnout ----------------------------------------------------------------------------------


@pytest.fixture
def open_round(tmp_path: Path) -> Iterator[tuple[TestClient, Service, str, list[str]]]:
    office = demo_office(tmp_path / "data", wards=2, voters=2)
    service = Service(tmp_path / "data", key_bits=2048)
    client = TestClient(make_app(service))
    yield client, service, office.token, [code for code, _ in office.codes]
    client.close()
    service.close()


def turnout_cells(page: str, ward: str) -> dict[str, str]:
    row = re.search(rf'<tr data-ward="{ward}">(.*?)</tr>', page)
    assert row is not None, ward
    return dict(re.findall(r'data-key="(\w+)">([^<]+)<', row.group(1)))


def test_turnout_needs_the_admin_token_and_counts_casts(
    open_round: tuple[TestClient, Service, str, list[str]],
) -> None:
    c, service, token, codes = open_round
    form = c.get(f"/turnout/{ROUND}")
    assert form.status_code == 200
    assert '<form class="token-form no-print" method="post"' in form.text
    assert 'name="token" type="password"' in form.text
    assert "data-ward" not in form.text  # no number before the token
    # the token in the URL, a wrong token, or none: refused, and no numbers
    refused: list[dict[str, Any]] = [
        {"params": {"token": token}},
        {"data": {"token": "wrong"}},
        {"data": {}},
        {"content": b"\xff\xfe", "headers": {"content-type": "text/plain"}},
    ]
    for kwargs in refused:
        r = c.post(f"/turnout/{ROUND}", **kwargs)
        assert r.status_code == 401, kwargs
        assert "Mã quản trị không đúng." in r.text
        assert "data-ward" not in r.text
        assert r.headers["cache-control"] == "no-store"
    before = c.post(f"/turnout/{ROUND}", data={"token": token})
    assert before.status_code == 200
    assert before.headers["cache-control"] == "no-store"
    assert "set-cookie" not in before.headers  # no session
    assert turnout_cells(before.text, SHOWN) == {
        "eligible": "2",
        "issued": "0",
        "issued_share": "0%",
        "cast": "0",
        "cast_share": "0%",
    }
    assert before.text.count('<svg class="tbar"') == 3  # two wards and the total
    assert 'class="issued" data-value="0"' in before.text
    # the not-tallied results page of an open round
    r = c.get(f"/results/{ROUND}")
    assert r.status_code == 409
    assert "chưa được kiểm phiếu" in r.text
    assert "đang mở" in r.text
    engine = service.round(ROUND)
    vote(engine, codes[0])
    p = Participant(engine.signed_manifest(), engine.ward_for_code(codes[1]))
    p.finish_token(engine.issue(codes[1], p.request_token()))  # issued, not cast
    after = c.post(f"/turnout/{ROUND}", params={"lang": "en"}, data={"token": f" {token} "})
    assert after.status_code == 200
    assert '<html lang="en">' in after.text
    assert turnout_cells(after.text, SHOWN) == {
        "eligible": "2",
        "issued": "2",
        "issued_share": "100.0%",
        "cast": "1",
        "cast_share": "50.0%",
    }
    total = re.search(r'<tr class="total">(.*?)</tr>', after.text)
    assert total is not None
    assert 'data-key="cast">1<' in total.group(1)
    assert 'data-key="eligible">4<' in total.group(1)
    assert engine.turnout()["total"] == {"eligible": 4, "issued": 2, "cast": 1}


# -- in the browser ---------------------------------------------------------------------------


@pytest.mark.slow
def test_pages_render_in_chromium_under_the_csp_and_print_to_a4(
    tallied: Tallied, tmp_path: Path
) -> None:
    """Fails (never skips) without Playwright or Debian's chromium."""
    from playwright.sync_api import ConsoleMessage, Response, sync_playwright

    docs = ROOT / "docs" / "booth" if os.environ.get("ANONBALLOT_SCREENSHOTS") == "1" else None
    token = (tallied.data / "admin.token").read_text().strip()
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        # the browser's own request for /favicon.ico (the pages name no icon) is not theirs
        if msg.location.get("url", "").endswith("/favicon.ico"):
            return
        if msg.type in ("error", "warning"):
            problems.append(f"console {msg.type}: {msg.text} at {msg.location}")

    def on_response(response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/turnout/" + ROUND):
            problems.append(f"{response.status} {response.url}")

    with serve_app(make_app(tallied.service)) as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", on_console)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("response", on_response)
            for lang in ("vi", "en"):
                page.goto(f"{url}/results/{ROUND}?lang={lang}")
                page.wait_for_load_state("load")
                # the stylesheet applied (only reports.css sets these)
                assert page.evaluate("getComputedStyle(document.body).maxWidth") == "960px"
                fill = page.eval_on_selector("rect.seg.lvl-0", "e => getComputedStyle(e).fill")
                assert fill == "rgb(27, 127, 59)"
                assert page.locator("svg.bar").count() >= 14
                page.screenshot(path=str(tmp_path / f"results-{lang}.png"), full_page=True)
                if docs is not None:
                    docs.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(docs / f"results-overview-{lang}.png"))
                    person = page.locator(f"#s-{SHOWN}-secretary")
                    person.screenshot(path=str(docs / f"results-person-{lang}.png"))
            page.emulate_media(media="print")
            assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == (
                "none"
            )
            pdf = tmp_path / "results.pdf"
            page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
            data = pdf.read_bytes()
            assert data.startswith(b"%PDF")
            assert len(data) > 20_000
            page.emulate_media(media="screen")
            # the turnout form, posted in the browser
            page.goto(f"{url}/turnout/{ROUND}?lang=vi")
            page.fill("#token", token)
            page.click("button[type=submit]")
            page.wait_for_selector("table.turnout")
            assert page.url == f"{url}/turnout/{ROUND}?lang=vi"
            assert "token" not in page.url.split("?", 1)[1]
            page.screenshot(path=str(tmp_path / "turnout.png"), full_page=True)
            if docs is not None:
                page.screenshot(path=str(docs / "results-turnout.png"))
        finally:
            browser.close()
    assert problems == []
