"""The participants' pages (server/booth.py, server/static/) in Debian's Chromium, end to end.

On a live server (tests/_live.py's demo office: two wards, three participants each, with the
booth's routes added), participants of the two wards vote through the booth:

- P1 (Bồ Đề) opens the slip's link ``/r/test-round#code=...``, answers half of the ballot
  with the mouse, **reloads** (after the token was issued: the answers and the token are
  still there), finishes, reviews, casts and downloads the receipt;
- P2 (Cự Khối) loses the answer to its token request and then the answer to its cast (the
  server carries each out, the browser sees a network failure), reloads after each, and the
  booth resumes with the same request and the same leaf: the board holds its leaf once and
  the receipt is the one the server first answered. P2 switches the booth to English;
- P3 (Bồ Đề) votes with the **keyboard alone**, from typing the code into the form (its
  clock is ten minutes slow and says voting has not opened yet: the booth goes by the
  server's time and casts);
- P4 (Cự Khối) loses the answer to its cast and comes back only after the round closed: the
  booth finds its leaf on the board and rebuilds the receipt.

A second use of P1's code in another browser is refused with the catalog's message, and the
same code on P1's own device shows its receipt again. The receipts verify on ``/verify``
(from this device's storage and from the downloaded file). After close, two trustees'
releases and the tally, ``/verify`` opens each ballot in the browser and shows exactly the
ratings given, and the round record passes ``anonballot.audit.audit_record``.

Each participant keeps the receipt on the device (the booth keeps only its code unless asked)
so that ``/verify`` on the device can check it. Screenshots of every step, at phone (390x844)
and desktop (1280x800) widths, go to a temporary folder (none of them shows a stray "null");
with ANONBALLOT_SCREENSHOTS=1 they are also copied to docs/booth/ (docs/booth.md).
Without Chromium or Playwright the test fails (``make test`` installs Debian's chromium).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from _browser import PHONE, TIMEOUT, launch_chromium, publish_shots, watch_pages
from _browser import shoot as screenshots
from _jsonview import obj
from _live import ROUND, Office, demo_office, server_thread
from starlette.testclient import TestClient

from anonballot.audit import audit_record, render_report
from anonballot.codes import normalize_code
from anonballot.encoding import b64u_encode, parse_json, sha256
from anonballot.manifest import Manifest
from anonballot.receipt import Receipt
from anonballot.server.app import create_app
from anonballot.server.booth import STATIC
from anonballot.server.service import Service

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        Page,
        Route,
        sync_playwright,
    )

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover - playwright is in the test extra
    HAVE_PLAYWRIGHT = False

LEVELS = ["tot", "kha", "trung-binh", "kem", "khong-danh-gia"]
"""The demo questionnaire's scale, then its "no opinion", in the order the booth shows them."""
VI = json.loads((STATIC / "i18n" / "vi.json").read_text(encoding="utf-8"))
EN = json.loads((STATIC / "i18n" / "en.json").read_text(encoding="utf-8"))


def _unavailable(reason: str) -> NoReturn:
    pytest.fail(f"{reason}; the booth tests need it (make test installs it)")


def booth_app(service: Service) -> Any:
    """The server's application: the booth's routes are among create_app's."""
    return create_app(service)


# --------------------------------------------------------------------------- the pages, no browser


def test_pages_and_static_files_are_served(tmp_path: Path) -> None:
    service = Service(tmp_path / "data", key_bits=2048)
    try:
        with TestClient(booth_app(service)) as client:
            for path in ("/", "/r/test-round", "/verify"):
                answer = client.get(path)
                assert answer.status_code == 200, path
                assert answer.headers["content-type"].startswith("text/html")
                assert "default-src 'self'" in answer.headers["content-security-policy"]
                # no inline script or style anywhere: the CSP would block it
                assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text)
                assert "<style" not in answer.text
                assert " style=" not in answer.text
            assert client.get("/r/Not_A_Round").status_code == 404
            script = client.get("/static/js/booth.js").headers["content-type"]
            assert script.startswith(("text/javascript", "application/javascript"))
            assert client.get("/static/i18n/vi.json").json()["common.brand"]
            assert client.get("/static/../app.py").status_code == 404
    finally:
        service.close()


def test_catalogs_have_the_same_keys_and_every_key_the_pages_use() -> None:
    def base(key: str) -> str:
        return re.sub(r"\.(one|other)$", "", key)

    assert {base(k) for k in VI} == {base(k) for k in EN}
    used: set[str] = set()
    sources = [*(STATIC / "js").glob("*.js"), *STATIC.glob("*.html")]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'data-i18n="([\w.]+)"', text))
        used |= set(re.findall(r'\b(?:tr|ht|attr)\([^,]+,\s*"([\w.]+)"', text))
        used |= set(re.findall(r'\bkey: "([\w.]+)"', text))
        used |= set(re.findall(r'"((?:error|status|verify|receipt|reason)\.[\w.]+)"', text))
    assert used, "no catalog key found in the pages"
    missing = sorted(k for k in used if not ({k, f"{k}.other"} & VI.keys()))
    assert not missing, missing
    for code in ("code_used", "token_spent", "unknown_code", "bad_code", "outside_window"):
        assert f"error.{code}" in VI  # the refusals a participant meets get their own text


def test_the_unicode_14_table_is_python_s() -> None:
    text = (STATIC / "js" / "unicode14.js").read_text(encoding="utf-8")
    block = text[text.index("const RANGES = [") : text.index("].join")]
    items = ",".join(re.findall(r'"([0-9a-f,-]+)"', block)).split(",")
    ranges = [tuple(int(x, 16) for x in (item.split("-") * 2)[:2]) for item in items]
    assert all(a <= b < c for (a, b), (c, _) in itertools.pairwise(ranges))
    if unicodedata.unidata_version == "14.0.0":  # the Python the reference auditor runs on
        assigned = [cp for cp in range(0x110000) if unicodedata.category(chr(cp)) != "Cn"]
        assert [cp for a, b in ranges for cp in range(a, b + 1)] == assigned


# --------------------------------------------------------------------------- the live server


@dataclass
class Live:
    url: str
    office: Office
    shots: Path
    errors: list[str] = field(default_factory=list)

    def api(self, path: str) -> str:
        return f"{self.url}/api/rounds/{ROUND}/{path}"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    office = demo_office(tmp_path / "data", wards=2, voters=3)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with server_thread(office.data) as url:
        yield Live(url, office, shots)


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not HAVE_PLAYWRIGHT:
        _unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


# Expected refusals (and the answers the test loses on purpose) show up in the console as
# failed loads; anything else is a bug.
_EXPECTED_CONSOLE = re.compile(
    r"Failed to load resource: the server responded with a status of (404|409)|"
    r"Failed to load resource: net::ERR_CONNECTION_RESET"
)


def new_context(browser: Browser, live: Live) -> BrowserContext:
    context = browser.new_context(viewport=PHONE, accept_downloads=True)
    context.set_default_timeout(TIMEOUT)
    watch_pages(context, live.errors, _EXPECTED_CONSOLE)
    return context


def shoot(live: Live, page: Page, name: str, scroll_to: str | None = None) -> None:
    """Screenshots of the page as it is, at phone and at desktop width (and no stray null)."""
    screenshots(page, live.shots, name, scroll_to)


def storage(page: Page) -> dict[str, Any]:
    """This device's booth states, by key."""
    raw: dict[str, str] = page.evaluate(
        "() => Object.fromEntries(Object.entries(localStorage)"
        ".filter(([k]) => k.startsWith('anonballot:booth:') && !k.endsWith(':current')))"
    )
    return {k: json.loads(v) for k, v in raw.items()}


def board(live: Live) -> list[bytes]:
    size = int(httpx.get(live.api("checkpoint")).text.split("\n")[1])
    answer = httpx.get(live.api("leaves"), params={"start": 0, "end": size})
    return [line for line in answer.content.split(b"\n") if line]


def leaf_hash(leaf: bytes) -> str:
    return b64u_encode(sha256(b"\x00" + leaf))


# --------------------------------------------------------------------------- voting


Answers = dict[str, dict[str, str]]
"""subject id -> criterion id -> level id."""


def choose(subject_index: int, criterion_index: int) -> int:
    """The level each participant picks for a question: a spread over the whole scale."""
    return (subject_index * 3 + criterion_index * 2) % len(LEVELS)


def click_answers(page: Page, *, stop_after: int | None = None) -> int:
    """Click an answer to every unanswered question (or the first `stop_after` of them)."""
    done = 0
    for fieldset in page.locator("fieldset.question").all():
        if fieldset.locator("input:checked").count():
            continue
        if stop_after is not None and done >= stop_after:
            break
        si, ci = (int(x) for x in (fieldset.get_attribute("id") or "").split("-")[1:3])
        fieldset.locator("label.option").nth(choose(si, ci)).click()
        done += 1
    return done


def expected_answers(page: Page) -> Answers:
    """What the ballot on the page says now: subject -> criterion -> level (answered only)."""
    value: Answers = page.evaluate(
        """() => {
          const out = {};
          for (const f of document.querySelectorAll("fieldset.question")) {
            const checked = f.querySelector("input:checked");
            if (checked) (out[f.dataset.subject] ??= {})[f.dataset.criterion] = checked.value;
          }
          return out;
        }"""
    )
    return value


def lose_answer(served: dict[str, Any], name: str) -> Callable[[Route], None]:
    """A route handler: the server carries the first request out, its answer never arrives."""

    def handler(route: Route) -> None:
        if name in served:
            route.continue_()
            return
        response = route.fetch()
        served[name] = response.json()
        route.abort("connectionreset")

    return handler


def active(page: Page) -> dict[str, str]:
    value: dict[str, str] = page.evaluate(
        "() => { const e = document.activeElement;"
        " return {id: e.id, tag: e.tagName, type: e.type || '',"
        " fieldset: e.closest('fieldset') ? e.closest('fieldset').id : ''}; }"
    )
    return value


def tab_until(page: Page, wanted: Callable[[dict[str, str]], bool], limit: int = 12) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if wanted(active(page)):
            return
    pytest.fail(f"the keyboard never reached the wanted control (last: {active(page)})")


def in_group(fieldset_id: str, focused: dict[str, str]) -> bool:
    return focused["fieldset"] == fieldset_id and focused["type"] == "radio"


def keep_receipt(page: Page) -> dict[str, Any]:
    """Tick "keep the receipt on this device"; the device's state of that receipt."""
    page.check("#keep-receipt")
    page.wait_for_function(
        "() => Object.entries(localStorage).some(([k, v]) =>"
        " k.startsWith('anonballot:booth:') && v.includes('leaf_index'))"
    )
    [state] = [s for s in storage(page).values() if s["phase"] == "done"]
    kept: dict[str, Any] = state
    return kept


def vote_with_keyboard(page: Page, code: str, *, expect_come_back: bool = False) -> Answers:
    """Type the code, answer every question, review and cast: keys only, no mouse."""
    page.wait_for_selector("#code-input")
    tab_until(page, lambda a: a["id"] == "code-input")
    page.keyboard.type(code.lower())  # as typed on a phone: case does not matter
    page.keyboard.press("Enter")
    page.wait_for_selector("#ballot-heading:focus")
    assert page.locator(".come-back").count() == int(expect_come_back)
    chosen: Answers = {}
    for fieldset in page.locator("fieldset.question").all():
        fid = fieldset.get_attribute("id") or ""
        tab_until(page, partial(in_group, fid))
        si, ci = (int(x) for x in fid.split("-")[1:3])
        level = choose(si, ci)
        if level == 0:
            page.keyboard.press("Space")
        elif level == len(LEVELS) - 1:
            page.keyboard.press("ArrowUp")  # from the first option, wraps to "no opinion"
        else:
            for _ in range(level):
                page.keyboard.press("ArrowDown")
        subject = fieldset.get_attribute("data-subject") or ""
        criterion = fieldset.get_attribute("data-criterion") or ""
        chosen.setdefault(subject, {})[criterion] = LEVELS[level]
        if fid == "q-0-6":  # the first comment box of the first person, on the way
            tab_until(page, lambda a: a["id"] == "c-0-0", limit=20)
            page.keyboard.type("Gần dân, lắng nghe.")
    assert expected_answers(page) == chosen
    tab_until(page, lambda a: a["id"] == "to-review", limit=20)
    page.keyboard.press("Enter")
    page.wait_for_selector("#review-heading:focus")
    tab_until(page, lambda a: a["id"] == "cast-ballot")
    page.keyboard.press("Enter")
    page.wait_for_selector("#receipt-heading")
    return chosen


def check_counted(page: Page, live: Live, answers: Answers, comment: str | None = None) -> None:
    """/verify on this device, after the tally: the ballot opened in the browser."""
    page.goto(f"{live.url}/verify")
    page.locator("#device-list button").first.click()
    page.wait_for_selector("#result .summary:not(:empty)")
    summary = page.inner_text("#result .summary")
    assert summary in (VI["verify.summary_ok"], EN["verify.summary_ok"]), page.inner_text("#result")
    shown: Answers = {}
    for row in page.locator(".counted-subject tr[data-criterion]").all():
        subject = row.locator("xpath=ancestor::section[1]").get_attribute("data-subject") or ""
        shown.setdefault(subject, {})[row.get_attribute("data-criterion") or ""] = (
            row.get_attribute("data-level") or ""
        )
    assert shown == answers
    if comment is not None:
        assert comment in page.inner_text(".counted")


# --------------------------------------------------------------------------- the story


@pytest.mark.slow
def test_three_participants_vote_verify_and_audit(live: Live, browser: Browser) -> None:
    codes = live.office.codes
    p1_code, p1_ward = codes[0]
    p3_code, p3_ward = codes[1]
    p2_code, p2_ward = next((c, w) for c, w in codes if w != p1_ward)
    assert p1_ward == p3_ward != p2_ward

    # -- the front page lists the open round ---------------------------------------------------
    front = new_context(browser, live)
    page = front.new_page()
    page.goto(live.url + "/")
    page.wait_for_selector(f".round[data-round='{ROUND}'] a.button")
    shoot(live, page, "index")
    front.close()

    # -- P1: the slip's link, half the ballot, a reload, the rest, the receipt -------------------
    c1 = new_context(browser, live)
    p1 = c1.new_page()
    p1.goto(f"{live.url}/r/{ROUND}#code={normalize_code(p1_code)}")
    p1.wait_for_selector("#ballot-heading")
    assert "#" not in p1.url
    assert "code" not in p1.url
    assert p1.inner_text("#round-ward")  # the ward, learned from the code
    remaining = p1.inner_text("#remaining")
    assert remaining == VI["ballot.remaining"].format(n=14, total=14)
    shoot(live, p1, "ballot")
    click_answers(p1, stop_after=9)
    nfd = unicodedata.normalize("NFD", "Gương mẫu, gần dân")  # typed decomposed, sealed NFC
    p1.fill("#c-0-0", nfd)
    p1.wait_for_timeout(600)  # the comment is saved shortly after typing
    assert p1.inner_text("#remaining") == VI["ballot.remaining"].format(n=5, total=14)
    shoot(live, p1, "ballot-progress", scroll_to="#q-0-5")
    before = expected_answers(p1)
    [state] = storage(p1).values()
    assert state["phase"] == "voting"
    assert state["token"]["sig"]
    p1.reload()
    p1.wait_for_selector("#ballot-heading")
    assert expected_answers(p1) == before  # nothing lost by the reload
    assert p1.input_value("#c-0-0") == nfd
    [again] = storage(p1).values()
    assert again["token"] == state["token"]  # and no second token was asked for
    p1.fill("#c-1-0", "Rất tốt \U0001fae8")  # a Unicode 15 character: refused (protocol 10.27)
    p1.locator("#c-1-0-error", has_text="\U0001fae8").wait_for()
    p1.fill("#c-1-0", "")
    p1.locator("#c-1-0-error").wait_for(state="hidden")
    click_answers(p1)
    p1_answers = expected_answers(p1)
    assert p1.inner_text("#remaining") == VI["ballot.all_answered"]
    p1.click("#to-review")
    p1.wait_for_selector("#review-heading")
    assert unicodedata.normalize("NFC", nfd) in p1.inner_text("#view-review")
    shoot(live, p1, "review")
    p1.click("#cast-ballot")
    p1.wait_for_selector("#receipt-heading")
    p1_code_shown = p1.inner_text("#receipt-code")
    assert re.fullmatch(r"[0-9a-f]{4}(-[0-9a-f]{4}){4}", p1_code_shown)
    shoot(live, p1, "receipt")
    p1.emulate_media(media="print")  # the printable receipt: the receipt alone
    assert p1.locator(".print-only").is_visible()
    assert not p1.locator("#download-receipt").is_visible()
    assert not p1.locator("#steps").is_visible()
    p1.emulate_media(media="screen")
    with p1.expect_download() as download:
        p1.click("#download-receipt")
    receipt_file = live.shots.parent / "receipt-p1.json"
    download.value.save_as(receipt_file)
    assert download.value.suggested_filename == f"receipt-{ROUND}-{p1_code_shown}.json"
    p1_receipt = parse_json(receipt_file.read_bytes())
    [done] = storage(p1).values()
    assert done["receipt_code"] == p1_code_shown
    # the token secrets are gone, and the receipt is not kept unless asked: only its code
    assert set(done) == {"v", "key", "round_id", "phase", "ward", "mid", "receipt_code", "expires"}
    done = keep_receipt(p1)
    assert done["receipt"] == p1_receipt
    manifest = Manifest.from_signed(httpx.get(live.api("manifest")).json())
    assert Receipt.from_json(p1_receipt).verify(manifest)
    assert Receipt.from_json(p1_receipt).code == p1_code_shown
    with p1.expect_download() as download:  # the same receipt as a c2sp.org/tlog-proof
        p1.click("#download-proof")
    assert download.value.suggested_filename == f"receipt-{ROUND}-{p1_code_shown}.tlog-proof"
    proof_file = live.shots.parent / "receipt-p1.tlog-proof"
    download.value.save_as(proof_file)
    # the round names no witnesses: the checkpoint is the one of the JSON receipt
    assert proof_file.read_text(encoding="utf-8") == Receipt.from_json(p1_receipt).to_tlog_proof()

    # the same code on the same device: the receipt again, no second ballot
    p1.goto(f"{live.url}/r/{ROUND}#code={p1_code}")
    p1.locator("#receipt-heading", has_text=VI["receipt.heading_again"]).wait_for()
    assert p1.inner_text("#receipt-code") == p1_code_shown

    # -- a second use of P1's code elsewhere is refused, in the participant's language -----------
    c9 = new_context(browser, live)
    other = c9.new_page()
    other.goto(f"{live.url}/r/{ROUND}")
    other.wait_for_selector("#code-input")
    shoot(live, other, "code")
    other.fill("#code-input", "0000-0000-0000-0000")  # well formed, on nobody's slip
    other.click("#view-code button[type=submit]")
    other.wait_for_selector("#code-error:not([hidden])")
    assert other.inner_text("#code-error") == VI["error.unknown_code"]
    other.goto(f"{live.url}/r/{ROUND}#code={p1_code}")
    other.wait_for_selector("#error-heading")
    assert VI["error.code_used"] in other.inner_text("#view-error")
    shoot(live, other, "code-used")
    c9.close()

    # -- P2: both answers lost once, a reload after each; English ---------------------------------
    c2 = new_context(browser, live)
    p2 = c2.new_page()
    served: dict[str, Any] = {}
    p2.route(f"**/api/rounds/{ROUND}/tokens", lose_answer(served, "tokens"))
    p2.goto(f"{live.url}/r/{ROUND}#code={p2_code}")
    p2.wait_for_selector("#error-heading")
    assert VI["error.network"] in p2.inner_text("#view-error")
    assert "blind_sig" in served["tokens"]
    [requesting] = storage(p2).values()
    assert requesting["phase"] == "requesting"
    p2.click("[data-lang-switch]")
    p2.locator("html[lang=en]").wait_for(state="attached")
    assert EN["error.network"] in p2.inner_text("#view-error")
    p2.reload()  # no fragment any more: the booth resumes from this device's state
    p2.wait_for_selector("#ballot-heading")
    assert p2.inner_text("#ballot-heading") == EN["ballot.heading"]  # English was remembered
    [voting] = storage(p2).values()
    assert voting["phase"] == "voting"
    assert voting["voter_seed"] == requesting["voter_seed"]
    click_answers(p2)
    p2_answers = expected_answers(p2)
    p2.route(f"**/api/rounds/{ROUND}/ballots", lose_answer(served, "ballots"))
    p2.click("#to-review")
    p2.wait_for_selector("#review-heading")
    p2.click("#cast-ballot")
    p2.wait_for_selector("#error-heading")
    assert EN["cast.saved_note"] in p2.inner_text("#view-error")
    shoot(live, p2, "lost-answer")
    [casting] = storage(p2).values()
    assert casting["phase"] == "casting"
    p2_leaf = casting["leaf"].encode()
    assert served["ballots"]["leaf_hash"] == leaf_hash(p2_leaf)  # it is on the board already
    p2.reload()  # the same leaf is sent again; the server answers the same receipt
    p2.wait_for_selector("#receipt-heading")
    p2_done = keep_receipt(p2)
    assert p2_done["receipt"] == served["ballots"]
    assert p2.inner_text("#receipt-code") == Receipt.from_json(served["ballots"]).code
    leaves = board(live)
    assert leaves.count(p2_leaf) == 1
    assert len(leaves) == 2

    # -- P3: the keyboard alone ----------------------------------------------------------------
    c3 = new_context(browser, live)
    p3 = c3.new_page()
    # P3's clock is ten minutes slow: it says voting has not opened yet. The server's clock
    # decides, and the booth goes by it (GET .../status): no "come back", the ballot is cast.
    opens = dt.datetime.fromisoformat(manifest.voting.opens)
    p3.clock.install(time=opens - dt.timedelta(minutes=10))
    p3.goto(f"{live.url}/r/{ROUND}")
    p3_answers = vote_with_keyboard(p3, p3_code, expect_come_back=False)
    assert len(board(live)) == 3
    keep_receipt(p3)

    # -- the receipts verify on /verify, before the tally ------------------------------------------
    p1.goto(f"{live.url}/verify")
    p1.locator("#device-list button").first.click()
    p1.wait_for_selector("#result .summary:not(:empty)")
    assert p1.inner_text("#result .summary") == VI["verify.summary_ok"]
    assert VI["verify.not_tallied"] in p1.inner_text("#result")
    shoot(live, p1, "verify")
    c8 = new_context(browser, live)
    checker = c8.new_page()  # another device: the downloaded file
    checker.goto(f"{live.url}/verify")
    checker.set_input_files("#receipt-file", str(receipt_file))
    checker.locator("#file-name", has_text="receipt").wait_for()
    checker.click("#verify-form button[type=submit]")
    checker.wait_for_selector("#result .summary:not(:empty)")
    assert checker.inner_text("#result .summary") == VI["verify.summary_ok"]
    assert checker.inner_text("#checked-code") == p1_code_shown
    c8.close()

    # -- P4 loses the answer to its cast and comes back only after the round closed ------------
    p4_code = next(c for c, w in codes if w == p2_ward and c != p2_code)
    c4 = new_context(browser, live)
    p4 = c4.new_page()
    lost: dict[str, Any] = {}
    p4.route(f"**/api/rounds/{ROUND}/ballots", lose_answer(lost, "ballots"))
    p4.goto(f"{live.url}/r/{ROUND}#code={p4_code}")
    p4.wait_for_selector("#ballot-heading")
    click_answers(p4)
    p4_answers = expected_answers(p4)
    p4.click("#to-review")
    p4.click("#cast-ballot")
    p4.wait_for_selector("#error-heading")
    assert len(board(live)) == 4

    # -- close, two trustees' releases, the tally ----------------------------------------------
    admin = {"authorization": f"Bearer {live.office.token}"}
    admin_round = f"{live.url}/api/admin/rounds/{ROUND}"
    with httpx.Client(timeout=60) as http:
        closed = http.post(f"{admin_round}/close", headers=admin, json={"force": True})
        assert closed.status_code == 200
        # the cast is refused now (round_not_open), but the booth finds its leaf on the board
        p4.unroute(f"**/api/rounds/{ROUND}/ballots")
        p4.reload()
        p4.wait_for_selector("#receipt-heading")
        p4_done = keep_receipt(p4)
        assert p4_done["receipt"]["leaf_index"] == lost["ballots"]["leaf_index"]
        assert p4_done["receipt"]["leaf_hash"] == lost["ballots"]["leaf_hash"]
        assert Receipt.from_json(p4_done["receipt"]).verify(manifest)
        for trustee in live.office.trustees[:2]:
            answer = http.post(live.api("releases"), json=trustee.release(manifest.mid))
            assert answer.status_code == 200, answer.text
        assert http.post(f"{admin_round}/tally", headers=admin).status_code == 200
        record = live.shots.parent / "record.zip"
        record.write_bytes(http.get(live.api("record")).content)
    report = audit_record(record, workers=1)
    assert report.passed, render_report(report)
    assert report.results is not None
    results = obj(report.results)
    assert results["district"]["ballots"] == 4

    # -- the results page shows the counts of the results -----------------------------------------
    shown = httpx.get(f"{live.url}/results/{ROUND}", timeout=30)
    assert shown.status_code == 200
    for ward, counts in results["wards"].items():
        row = re.search(rf'<tr data-ward="{ward}">(.*?)</tr>', shown.text)
        assert row is not None, ward
        cells = dict(re.findall(r'data-key="(\w+)">([^<]+)<', row.group(1)))
        assert cells == {key: str(value) for key, value in counts.items()}, ward

    # -- /verify shows how each ballot was counted, opened in the browser ----------------------
    check_counted(p1, live, p1_answers, comment=unicodedata.normalize("NFC", nfd))
    shoot(live, p1, "verify-counted", scroll_to="#result .checks")
    check_counted(p2, live, p2_answers)
    check_counted(p3, live, p3_answers, comment="Gần dân, lắng nghe.")
    check_counted(p4, live, p4_answers)

    for context in (c1, c2, c3, c4):
        context.close()
    assert not live.errors, live.errors
    assert len(list(live.shots.glob("*.png"))) == 20
    publish_shots(live.shots)
