"""A two-phase round through the booth, in Debian's Chromium at phone width (issue 9).

The round's issuance window closes before its voting window opens, the recommended
configuration (threat-model.md, "Timing and network linkage"). The server's clock
(tests/_live.py's ``Clock``) walks through the round; the booth judges the windows by the
server's time (``GET .../status``), not by the browser's:

- 3 November, while codes are activated: the front page shows both windows in Hà Nội's time
  and says what can be done now. **A** (Bồ Đề) opens the slip's link: the code is activated
  and the token kept on the phone; the ballot says to come back on this phone from the
  opening of voting; A fills it in, and the review's cast button is disabled and says from
  when. Back on the review returns to the ballot. A closes the page.
- **C** (Cự Khối) reads at 200 % zoom, fills in the ballot too and leaves the phone on the
  review, whose cast button is disabled; when voting opens, the button enables itself and C
  casts.
- 7 November, activation over, voting not open: **B** (Bồ Đề) opens the slip's link for the
  first time and is told plainly that the code can no longer be activated, with no "try
  again" that cannot work.
- 9 November, voting open: A comes back on the same phone (no code in the address) and casts.

On the way, the small-screen points of the booth: the sticky name and bar take little of the
screen at 390 px and at 200 % zoom, a comment over its limit says by how much, the footer
breaks no word, and no page shows a stray "null". The invitation slips of the round show both
windows and fit their cut lines. Screenshots at phone and desktop widths go to docs/booth/ with
ANONBALLOT_SCREENSHOTS=1 (docs/booth.md). A missing browser fails the test, never skips it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _browser import PHONE, TIMEOUT, launch_chromium, no_stray_text, publish_shots, watch_pages
from _browser import shoot as screenshots
from _live import ROUND, Clock, Office, demo_office, server_thread

from anonballot.codes import generate_code, normalize_code
from anonballot.manifest import Window
from anonballot.server.booth import STATIC
from anonballot.server.slips import make_slips, render_slips
from anonballot.testing import demo_config

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover - playwright is in the test extra
    HAVE_PLAYWRIGHT = False

ZOOMED: ViewportSize = {"width": 195, "height": 422}
"""A 390 x 844 phone at 200 % zoom: half as many CSS pixels each way."""
VI = json.loads((STATIC / "i18n" / "vi.json").read_text(encoding="utf-8"))

ISSUANCE = Window("2026-11-02T08:00:00+07:00", "2026-11-06T17:00:00+07:00")
VOTING = Window("2026-11-09T08:00:00+07:00", "2026-11-13T17:00:00+07:00")
DURING_ISSUANCE = "2026-11-03T10:00:00+07:00"
BETWEEN = "2026-11-07T09:00:00+07:00"
VOTING_OPEN = "2026-11-09T08:00:05+07:00"

STICKY_SHARE = 0.2
"""The most of the screen's height that the sticky name and bar may cover together."""


@dataclass
class Live:
    url: str
    office: Office
    clock: Clock
    shots: Path
    errors: list[str] = field(default_factory=list)

    def code(self, ward: str, nth: int = 0) -> str:
        return [c for c, w in self.office.codes if w == ward][nth]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    office = demo_office(tmp_path / "data", wards=2, voters=3, windows=(ISSUANCE, VOTING))
    clock = Clock(dt.datetime.fromisoformat(DURING_ISSUANCE))
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with server_thread(office.data, clock=clock) as url:
        yield Live(url, office, clock, shots)


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not HAVE_PLAYWRIGHT:
        pytest.fail("playwright is not installed (pip install playwright); make test installs it")
    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


_EXPECTED_CONSOLE = re.compile(r"the server responded with a status of 409")
"""B's refused token request shows in the console as a failed load; anything else is a bug."""


def new_context(browser: Browser, live: Live, **options: Any) -> BrowserContext:
    # the test machine's zone is not the district's: the pages must show Hà Nội's time anyway
    options = {"viewport": PHONE, "timezone_id": "UTC", **options}
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT)
    watch_pages(context, live.errors, _EXPECTED_CONSOLE)
    return context


def shoot(live: Live, page: Page, name: str, scroll_to: str | None = None) -> None:
    """Screenshots of the page as it is, at phone and at desktop width (and no stray null)."""
    screenshots(page, live.shots, name, scroll_to)


def sticky_share(page: Page) -> float:
    """How much of the screen's height the stuck elements cover, scrolled into the ballot."""
    page.evaluate("document.querySelector('#q-0-3').scrollIntoView({block: 'center'})")
    share: float = page.evaluate(
        """() => {
          let covered = 0;
          for (const e of document.querySelectorAll('.subject-heading, .ballot-bar')) {
            const position = getComputedStyle(e).position;
            if (position !== 'sticky' && position !== 'fixed') continue;
            const r = e.getBoundingClientRect();
            covered += Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
          }
          return covered / innerHeight;
        }"""
    )
    return share


def broken_words(page: Page, selector: str) -> list[str]:
    """The words under `selector` (outside code) that a line break cuts in two."""
    words: list[str] = page.evaluate(
        """sel => {
          const broken = [];
          for (const root of document.querySelectorAll(sel)) {
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              if (node.parentElement.closest('code') || !node.parentElement.offsetParent) continue;
              for (const m of node.textContent.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, m.index);
                range.setEnd(node, m.index + m[0].length);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                if (lines.size > 1) broken.push(m[0]);
              }
            }
          }
          return broken;
        }""",
        selector,
    )
    return words


def answer_all(page: Page) -> None:
    for fieldset in page.locator("fieldset.question").all():
        if not fieldset.locator("input:checked").count():
            fieldset.locator("label.option").first.click()


def board_size(live: Live) -> int:
    import httpx

    note = httpx.get(f"{live.url}/api/rounds/{ROUND}/checkpoint").text
    return int(note.split("\n")[1])


def vi_number(n: int) -> str:
    return f"{n:,}".replace(",", ".")  # as the booth writes numbers in Vietnamese


# --------------------------------------------------------------------------- the walk


def test_a_two_phase_round_in_the_booth(live: Live, browser: Browser) -> None:
    bo_de, cu_khoi = dict.fromkeys(w for _, w in live.office.codes)  # the two wards, in order

    # -- 3 November: the front page says what can be done now -----------------------------
    front = new_context(browser, live)
    page = front.new_page()
    page.goto(live.url + "/")
    item = page.locator(f".round[data-round='{ROUND}']")
    item.locator(".now").wait_for()
    text = item.inner_text()
    assert "Hạn kích hoạt mã mời: từ lúc 08:00" in text  # both windows, in Hà Nội's time
    assert "Thời gian bỏ phiếu: từ lúc 08:00" in text
    assert item.locator(".now").inner_text() == VI["index.now.issuance"]
    assert item.locator("a.button").inner_text() == VI["index.activate"]
    shoot(live, page, "two-phase-index")

    # -- A: the code activated, the token kept, "come back on this phone" -------------------
    phone_a = new_context(browser, live)
    a = phone_a.new_page()
    a.goto(f"{live.url}/r/{ROUND}#code={normalize_code(live.code(bo_de))}")
    a.wait_for_selector("#ballot-heading")
    notice = a.inner_text(".come-back")
    assert "Hãy quay lại gửi phiếu từ lúc 08:00 Thứ Hai, 9 tháng 11, 2026" in notice
    assert "trên chính điện thoại và trình duyệt này" in notice
    shoot(live, a, "two-phase-come-back")

    # the sticky name of the person rated and the bar leave the questions most of the screen
    assert sticky_share(a) <= STICKY_SHARE
    # a comment over its limit says by how much, in words
    limit = int(a.get_attribute("#c-0-0", "data-max") or 0)
    a.fill("#c-0-0", "Gần dân. " * (limit // 9) + "x" * 12)
    used = len("Gần dân. " * (limit // 9)) + 12
    over = VI["ballot.counter_over"].format(
        n=used - limit, used=vi_number(used), max=vi_number(limit)
    )
    assert a.inner_text("#c-0-0-count") == over
    shoot(live, a, "comment-too-long", scroll_to="label[for='c-0-0']")
    a.fill("#c-0-0", "Gần dân, lắng nghe.")
    assert a.inner_text("#c-0-0-count") == VI["ballot.counter"].format(n=19, max=vi_number(limit))
    answer_all(a)
    a.click("#to-review")
    a.wait_for_selector("#review-heading")
    cast = a.locator("#cast-ballot")
    assert cast.is_disabled()
    assert cast.inner_text() == "Gửi được từ lúc 08:00 Thứ Hai, 9 tháng 11, 2026"
    shoot(live, a, "two-phase-cast-later", scroll_to="#cast-ballot")
    # the footer breaks between words only (the round's fingerprint apart)
    assert broken_words(a, "footer") == []
    # the phone's Back button on the review returns to the ballot, answers kept
    a.go_back()
    a.wait_for_selector("#ballot-heading")
    assert a.locator("#view-review").is_hidden()
    assert a.locator("fieldset.question input:checked").count() == 14
    assert f"/r/{ROUND}" in a.url
    a.click("#to-review")
    a.wait_for_selector("#review-heading")
    a.close()  # A puts the phone away; the token stays on it

    # -- C: 200 % zoom, the phone left on the review until voting opens --------------------
    phone_c = new_context(browser, live, viewport=ZOOMED, device_scale_factor=2)
    c = phone_c.new_page()
    c.clock.install()  # the phone's timers, so that the test can let six days pass
    c.goto(f"{live.url}/r/{ROUND}#code={normalize_code(live.code(cu_khoi))}")
    c.wait_for_selector("#ballot-heading")
    assert sticky_share(c) <= STICKY_SHARE  # at 200 %, nothing stays stuck over the questions
    assert c.evaluate("document.scrollingElement.scrollWidth <= innerWidth")  # no sideways scroll
    no_stray_text(c)
    c.evaluate("document.querySelector('#q-0-3').scrollIntoView({block: 'start'})")
    c.screenshot(path=str(live.shots / "ballot-zoom-200.png"))
    answer_all(c)
    c.click("#to-review")
    c.wait_for_selector("#review-heading")
    assert c.locator("#cast-ballot").is_disabled()

    # -- 7 November: activation is over; B comes for the first time -------------------------
    live.clock.set(BETWEEN)
    phone_b = new_context(browser, live)
    b = phone_b.new_page()
    b.goto(f"{live.url}/r/{ROUND}#code={normalize_code(live.code(bo_de, 1))}")
    b.wait_for_selector("#error-heading")
    said = b.inner_text("#error-text")
    assert said == VI["error.issuance_closed"].format(closes="lúc 17:00 Thứ Sáu, 6 tháng 11, 2026")
    buttons = b.locator("#view-error .actions button").all_inner_texts()
    assert buttons == [VI["action.other_code"]]  # no "try again" that cannot work
    shoot(live, b, "two-phase-late")
    phone_b.close()

    # -- 9 November: voting opens --------------------------------------------------------
    live.clock.set(VOTING_OPEN)
    waited = dt.datetime.fromisoformat(VOTING_OPEN) - dt.datetime.fromisoformat(DURING_ISSUANCE)
    c.clock.fast_forward(int(waited.total_seconds() * 1000) + 2000)
    c.wait_for_selector("#cast-ballot:enabled")  # by itself: the page was left open
    assert c.locator(".come-back").count() == 0
    c.click("#cast-ballot")
    c.wait_for_selector("#receipt-heading")
    assert board_size(live) == 1

    a = phone_a.new_page()  # the same phone and browser, the link without the code
    a.goto(f"{live.url}/r/{ROUND}")
    a.wait_for_selector("#review-heading")
    assert a.locator(".come-back").count() == 0
    a.click("#cast-ballot")
    a.wait_for_selector("#receipt-heading")
    assert board_size(live) == 2
    assert a.locator("#keep-receipt").is_checked() is False  # the code only, unless asked
    no_stray_text(a)

    page.reload()
    item.locator(".now").wait_for()
    assert item.locator(".now").inner_text() == VI["index.now.voting_only"]
    assert item.locator("a.button").inner_text() == VI["index.enter"]

    for context in (front, phone_a, phone_c):
        context.close()
    assert not live.errors, live.errors
    assert len(list(live.shots.glob("*.png"))) == 11
    publish_shots(live.shots)


def test_the_slips_of_a_two_phase_round_fit_their_cut_lines(
    browser: Browser, tmp_path: Path
) -> None:
    """Both windows on every slip, and nothing cut off by the slip's edge (overflow hidden)."""
    config = dataclasses.replace(
        demo_config(round_id="long-bien-2026-11")[0], issuance=ISSUANCE, voting=VOTING
    )
    longest = max(config.district.wards, key=lambda w: len(w.name["vi"]))  # all 14 wards
    invitations = [{"ward": longest.id, "participant": "x", "code": generate_code()}] * 2
    page_file = tmp_path / "slips.html"
    booth = "https://bau-cu.long-bien.example"
    page_file.write_text(render_slips(config, make_slips(config, invitations, booth)))
    context = browser.new_context()
    page = context.new_page()
    page.goto(page_file.as_uri())
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.slip')].map((slip) => {
          const edge = slip.getBoundingClientRect().bottom;
          const bottoms = [...slip.children].map((e) => e.getBoundingClientRect().bottom);
          return Math.max(...bottoms) - edge;
        })"""
    )
    assert all(px <= 0 for px in overflow), overflow
    text = page.inner_text(".slip")
    assert "Hạn kích hoạt mã mời / Activation\t08:00 02/11 – 17:00 06/11/2026" in text
    assert "Thời gian bỏ phiếu / Voting\t08:00 09/11 – 17:00 13/11/2026" in text
    context.close()
