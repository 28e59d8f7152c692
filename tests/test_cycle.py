"""A whole six-month cycle through a real server, as the district office runs it (issue 8).

The May round of two wards (six participants each, so every group reaches ``min_group``)
is tallied; then, against the server in a thread, with the commands and pages a new user
has: access tokens, the record in its two parts, the standing committee's report, the
personal slips, two leaders drafting their plans on their own pages in Chromium (phone
width), one plan returned with remarks, edited and accepted, the other accepted, progress
recorded, the plans exported; the committee's page read with a token. Then the district
changes (a new chairman in Bồ Đề, with a new id), the November round is cloned from May,
voted and tallied, and its reports show the change since May beside each plan item, and
"new in this post" for the new chairman, never compared with his predecessor.

With ``ANONBALLOT_SCREENSHOTS=1`` the pages' screenshots (phone and desktop) are also copied
to ``docs/booth/`` for docs/operations.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _browser import DESKTOP, PHONE, TIMEOUT, launch_chromium, publish_shots
from _live import Office, demo_office, leader_links, server_thread, vote_and_tally
from _records import pdf_text
from click.testing import CliRunner, Result
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import ConsoleMessage, Page, Playwright, sync_playwright

from anonballot.cli.main import main
from anonballot.district import District, Subject
from anonballot.encoding import jcs
from anonballot.record import Record

pytestmark = pytest.mark.slow


NOV = "nov-2026"
NEW_CHAIRMAN = "bo-de-chairman-2026-09"
SECRETARY = "bo-de-secretary"
CHAIRMAN = "cu-khoi-chairman"
SECRETARY_ITEM = {
    "criterion": "tac-phong-lam-viec",
    "actions": "Tiếp dân mỗi sáng thứ Năm tại trụ sở phường.",
    "deadline": "2026-09-30",
    "check": "Sổ tiếp dân, có chữ ký của người dân.",
}
CHAIRMAN_ITEM = {
    "shortcoming": "Thủ tục hành chính chưa được công khai đầy đủ.",
    "actions": "Niêm yết mọi thủ tục tại trụ sở và trên trang của phường.",
    "deadline": "2026-07-31",
    "check": "Đoàn của Ban Tuyên giáo đến xem bảng niêm yết.",
}
REMARKS = "Nêu rõ ai kiểm tra sổ tiếp dân và khi nào."
NEW_CHECK = "Ủy ban Kiểm tra phường xem sổ tiếp dân cuối mỗi tháng."


@dataclasses.dataclass
class Desk:
    """The district office's laptop: a folder, the server's address, the admin token."""

    office: Office
    url: str
    folder: Path

    def run(self, *args: str | Path) -> str:
        env = {"ANONBALLOT_SERVER": self.url, "ANONBALLOT_TOKEN": self.office.token}
        result: Result = CliRunner().invoke(main, [str(a) for a in args], env=env)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.stdout

    def file(self, name: str) -> Path:
        return self.folder / name


class Browser:
    """Debian's Chromium at phone width, failing the test on any page or console error."""

    def __init__(self, playwright: Playwright, shots: Path) -> None:
        self.chromium: PlaywrightBrowser = launch_chromium(playwright)
        context = self.chromium.new_context(viewport=PHONE)
        context.set_default_timeout(TIMEOUT)
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("console", self._console)
        self.shots = shots

    def _console(self, message: ConsoleMessage) -> None:
        # the browser's own request for /favicon.ico (the pages name no icon) is not theirs
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.errors.append(f"console: {message.text}")

    def shoot(self, name: str, at: str | None = None) -> None:
        """The page at phone and at desktop width: its top, or the element ``at`` on top."""
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(size)
            self.page.evaluate(
                "at => at ? document.querySelector(at).scrollIntoView({block: 'start'})"
                " : window.scrollTo(0, 0)",
                at,
            )
            self.page.screenshot(path=str(self.shots / f"{name}-{label}.png"))
        self.page.set_viewport_size(PHONE)

    def close(self) -> None:
        self.chromium.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        b = Browser(playwright, shots)
        try:
            yield b
        finally:
            b.close()
    assert b.errors == []
    publish_shots(shots)


# -- what a leader does on their page -----------------------------------------------------------


def open_link(b: Browser, desk: Desk, slips: str, subject: str) -> None:
    """The leader scans the QR code of their slip: the page opens on their report."""
    round_id, key = leader_links(desk.file(slips))[subject]
    b.page.goto(f"{desk.url}/leader/{round_id}#key={key}")
    b.page.wait_for_selector("section#plan")
    assert "#" not in b.page.url  # the key left the address bar and the history
    assert key not in b.page.url


def add_item(b: Browser, item: dict[str, str]) -> None:
    page = b.page
    before = page.locator("li.plan-item").count()
    page.select_option("#n-criterion", item.get("criterion", ""))
    page.fill("#n-shortcoming", item.get("shortcoming", ""))
    page.fill("#n-actions", item["actions"])
    page.fill("#n-deadline", item["deadline"])
    page.fill("#n-check", item["check"])
    page.click("form.plan-add button[type=submit]")
    page.wait_for_function(f"document.querySelectorAll('li.plan-item').length === {before + 1}")


def submit(b: Browser) -> None:
    b.page.click("form.plan-submit button[type=submit]")
    b.page.wait_for_selector('section#plan[data-state="submitted"]')


def results_of(record: Path) -> dict[str, object]:
    with Record(record) as r:
        value: dict[str, object] = json.loads(r.read("results.json"))["results"]
    return value


# -- the cycle ---------------------------------------------------------------------------------


def test_a_whole_cycle(tmp_path: Path, browser: Browser) -> None:
    office = demo_office(tmp_path / "data", wards=2, voters=6, results_access="restricted")
    vote_and_tally(office, seed=11)
    may = office.round_id
    folder = tmp_path / "office"
    folder.mkdir()
    page = browser.page

    with server_thread(office.data) as url:
        desk = Desk(office, url, folder)
        # the committees' access tokens; the record in its two parts
        committee = desk.run("access", "grant", "--name", "Thường trực Quận ủy").strip()
        desk.run("round", "export", may, "--out", desk.file("may.zip"))
        desk.run("round", "export", may, "--public-part", "--out", desk.file("may-public.zip"))
        with zipfile.ZipFile(desk.file("may-public.zip")) as z:
            assert "results.json" not in z.namelist()

        # the standing committee's report of May, from the record alone
        desk.run("report", desk.file("may.zip"), "--out", desk.file("may.pdf"), "--workers", "1")
        may_text = pdf_text(desk.file("may.pdf"))
        district = District.from_json(
            httpx.get(f"{url}/api/admin/district", headers=auth(office)).json()
        )
        for subject in district.subjects:
            assert subject.name["vi"] in may_text

        # the personal slips; two leaders draft and submit their plans on their phones
        desk.run("leaders", "slips", may, "--out", desk.file("leaders-may.html"),
                 "--server-url", url)  # fmt: skip
        open_link(browser, desk, "leaders-may.html", SECRETARY)
        assert page.locator('section#plan[data-state="none"]').count() == 1
        browser.shoot("leader-page")
        add_item(browser, SECRETARY_ITEM)
        submit(browser)
        open_link(browser, desk, "leaders-may.html", CHAIRMAN)
        add_item(browser, CHAIRMAN_ITEM)
        submit(browser)

        listed = desk.run("plan", "list", may).splitlines()
        assert f"{SECRETARY}\tsubmitted\t1" in "\n".join(listed)
        assert f"{CHAIRMAN}\tsubmitted\t1" in "\n".join(listed)

        # one returned with remarks: the leader sees them, edits the item, submits again
        desk.run("plan", "return", may, SECRETARY, "--remarks", REMARKS)
        open_link(browser, desk, "leaders-may.html", SECRETARY)
        assert page.locator("div.remarks").inner_text().endswith(REMARKS)
        browser.shoot("leader-plan-returned", at="section#plan")
        page.click('li.plan-item[data-item="item-1"] input[value="edit_form"] ~ button')
        page.fill("#e-item-1-check", NEW_CHECK)
        page.click('li.plan-item[data-item="item-1"] input[value="save"] ~ button')
        page.wait_for_selector(f'li.plan-item[data-item="item-1"]:has-text("{NEW_CHECK}")')
        submit(browser)

        # both accepted (signed), progress recorded, the plans exported
        desk.run("plan", "accept", may, SECRETARY)
        desk.run("plan", "accept", may, CHAIRMAN)
        desk.run("plan", "progress", may, SECRETARY, "item-1", "--status", "partly",
                 "--note", "Đã tiếp dân 10 trên 12 tuần.", "--date", "2026-08-03")  # fmt: skip
        desk.run("plan", "progress", may, CHAIRMAN, "item-1", "--status", "done",
                 "--note", "Đã niêm yết tại trụ sở.", "--date", "2026-07-20")  # fmt: skip
        desk.run("plan", "export", may, "--out", desk.file("may-plans.json"))
        shown = desk.run("plan", "show", may, SECRETARY)
        assert NEW_CHECK in shown

        open_link(browser, desk, "leaders-may.html", SECRETARY)
        assert page.locator('section#plan[data-state="accepted"]').count() == 1
        assert page.locator('p.progress[data-status="partly"]').count() == 1
        assert page.locator("form.plan-add").count() == 0  # frozen
        browser.shoot("leader-plan-accepted", at="section#plan")

        # the committee's page, with the access token typed in its form
        page.goto(f"{url}/committee/{may}")
        page.fill("#token", committee)
        page.click("form.token-form button[type=submit]")
        page.wait_for_selector("table.people")
        assert "token" not in page.url
        rows = page.locator("table.people tr[data-subject]")
        assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.subject)")) == {
            s.id for s in district.subjects
        }
        assert page.locator(f'section.plan:has(li.plan-item) >> text="{NEW_CHECK}"').count() >= 1

        # November: Bồ Đề has a new chairman (a new id); the round is cloned from May
        changed = dataclasses.replace(
            district,
            subjects=tuple(
                Subject(NEW_CHAIRMAN, s.ward, s.role, {"vi": "Nguyễn Văn Minh"})
                if s.id == "bo-de-chairman" else s
                for s in district.subjects
            ),
        )  # fmt: skip
        desk.file("district.json").write_bytes(jcs(changed.to_json()))
        desk.run("district", "set", desk.file("district.json"))
        start = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).replace(microsecond=0)
        cloned = desk.run("round", "clone", may, "--id", NOV, "--title",
                          "Lấy ý kiến góp ý người đứng đầu các phường, tháng 11/2026",
                          "--start", start.isoformat().replace("+00:00", "Z"))  # fmt: skip
        assert f"follows round {may}" in cloned
        assert NEW_CHAIRMAN in cloned
        desk.run("invitations", NOV, "--out", desk.file("slips-nov.html"), "--booth-url", url)
        desk.run("round", "open", NOV)

    codes = [
        (row.split(",")[2], row.split(",")[0])
        for row in desk.file("slips-nov.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    ]
    assert len(codes) == 12
    vote_and_tally(dataclasses.replace(office, round_id=NOV, codes=codes), seed=29)

    with server_thread(office.data) as url:
        desk = Desk(office, url, folder)
        desk.run("round", "export", NOV, "--out", desk.file("nov.zip"))
        desk.run("report", desk.file("nov.zip"), "--previous", desk.file("may.zip"),
                 "--plans", desk.file("may-plans.json"), "--out", desk.file("nov.pdf"),
                 "--xlsx", desk.file("nov.xlsx"), "--json", desk.file("nov.json"),
                 "--workers", "1")  # fmt: skip

        # the counts of both rounds, per person rated; None where a person was not rated
        summary = json.loads(desk.file("nov.json").read_text(encoding="utf-8"))
        assert summary["rounds"] == [may, NOV]
        for index, record in enumerate((desk.file("may.zip"), desk.file("nov.zip"))):
            subjects = results_of(record)["subjects"]
            assert isinstance(subjects, dict)
            for sid, counts in subjects.items():
                for cid, levels in counts["criteria"].items():
                    for level, n in levels.items():
                        assert summary["subjects"][sid]["criteria"][cid][level][index] == n
        assert all(v[1] is None for v in summary["subjects"]["bo-de-chairman"]["criteria"]
                   ["tac-phong-lam-viec"].values())  # fmt: skip
        assert all(v[0] is None for v in summary["subjects"][NEW_CHAIRMAN]["criteria"]
                   ["tac-phong-lam-viec"].values())  # fmt: skip

        nov_text = pdf_text(desk.file("nov.pdf"))
        assert "Nguyễn Văn Minh" in nov_text
        assert "Mới nhận chức vụ" in nov_text
        assert NEW_CHECK in nov_text  # May's plan beside November's results
        assert "Đã tiếp dân 10 trên 12 tuần." in nov_text

        # each leader's November page: the change since May beside last round's plan
        desk.run("leaders", "slips", NOV, "--out", desk.file("leaders-nov.html"),
                 "--server-url", url)  # fmt: skip
        open_link(browser, desk, "leaders-nov.html", SECRETARY)
        assert page.locator("table.change").count() == 1
        assert page.locator(f'section.plan[data-round="{may}"] li.plan-item').count() == 1
        assert page.locator("p.item-change").count() == 1
        assert page.locator('section#plan[data-state="none"]').count() == 1  # a new plan
        browser.shoot("leader-november", at="table.change")
        open_link(browser, desk, "leaders-nov.html", NEW_CHAIRMAN)
        assert page.locator("strong.new-in-post").count() >= 1
        assert page.locator("table.change").count() == 0  # never compared with his predecessor

        page.goto(f"{url}/committee/{NOV}")
        page.fill("#token", committee)
        page.click("form.token-form button[type=submit]")
        page.wait_for_selector("table.people")
        new_row = page.locator(f'table.people tr[data-subject="{NEW_CHAIRMAN}"]')
        assert new_row.locator("strong.new-in-post").count() >= 1
        assert page.locator(f'tr[data-round="{may}"]').count() >= 1
        browser.shoot("committee-november")
        browser.shoot("committee-november-people", at="table.people")


def auth(office: Office) -> dict[str, str]:
    return {"authorization": f"Bearer {office.token}"}
