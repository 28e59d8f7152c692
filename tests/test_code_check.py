"""``/verify``: was my invitation code used? In Debian's Chromium, at phone width.

On a live server with two open rounds, one code of ``test-round`` takes a token. Arriving at
``/verify#code=...&round=test-round`` while the round is open, the page says that the list
is published at the close, and takes the code out of the address bar. Once the round is
closed, the code that took a token is "used", with its ward, another code of the round is
"not used", a text that is not a code is refused, and a ledger that the signed close
statement does not bind is a warning. The check ran in the browser: no request the page made
carries the code in any form, in its address, headers or body (every request is a GET).

Screenshots at phone (390x844) and desktop (1280x800) widths go to a temporary folder; with
ANONBALLOT_SCREENSHOTS=1 they are also copied to docs/booth/ (docs/booth.md).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _browser import DESKTOP, PHONE, launch_chromium, publish_shots
from _live import ROUND, demo_office, server_thread

from anonballot.codes import format_code, normalize_code
from anonballot.participant import Participant
from anonballot.server.booth import STATIC
from anonballot.server.service import Service
from anonballot.testing import demo_config

pytestmark = pytest.mark.slow

VI = json.loads((STATIC / "i18n" / "vi.json").read_text(encoding="utf-8"))
EN = json.loads((STATIC / "i18n" / "en.json").read_text(encoding="utf-8"))
OTHER_ROUND = "other-round"


def take_token(data: Path, code: str) -> str:
    """The code takes a token (on the data folder, no server running); its ward."""
    service = Service(data, key_bits=2048)
    try:
        engine = service.round(ROUND)
        ward = engine.ward_for_code(code)
        p = Participant(engine.signed_manifest(), ward)
        p.finish_token(engine.issue(code, p.request_token()))
        # a second round, still open, so that the page asks which round
        config, _ = demo_config(wards=1, round_id=OTHER_ROUND)
        title = {"vi": "Đợt lấy ý kiến thứ hai (mô phỏng)", "en": "A second round (simulation)"}
        service.create_round(dataclasses.replace(config, title=title))
        service.make_invitations(OTHER_ROUND)
        service.round(OTHER_ROUND).open()
    finally:
        service.close()
    return ward


def forms_of(code: str) -> list[str]:
    normal = normalize_code(code)
    return [normal, format_code(normal), normal.lower(), format_code(normal).lower()]


def test_a_code_is_looked_up_in_the_ledger_on_the_device(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    office = demo_office(tmp_path / "data", wards=2, voters=2)
    used, other = office.codes[0][0], office.codes[1][0]
    ward = take_token(office.data, used)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    manifest_wards = {w["id"]: w["name"] for w in _manifest(office.data)["wards"]}

    with server_thread(office.data) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(viewport=PHONE)
            context.set_default_timeout(30_000)
            sent: list[dict[str, Any]] = []
            problems: list[str] = []
            context.on(
                "request",
                lambda r: sent.append(
                    {"url": r.url, "method": r.method, "body": r.post_data_buffer or b"",
                     "headers": r.all_headers()}
                ),
            )  # fmt: skip
            context.on("weberror", lambda e: problems.append(f"page error: {e.error}"))
            context.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page = context.new_page()

            def shoot(name: str, scroll_to: str = "#code-result") -> None:
                for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
                    page.set_viewport_size(size)
                    page.evaluate(
                        "sel => document.querySelector(sel).scrollIntoView({block: 'start'})",
                        scroll_to,
                    )
                    page.screenshot(path=str(shots / f"{name}-{label}.png"))
                page.set_viewport_size(PHONE)

            def check(code: str) -> str:
                page.evaluate("() => document.getElementById('code-result').replaceChildren()")
                page.fill("#code-check-input", code)
                page.click("#code-check-form button[type=submit]")
                verdict = page.wait_for_selector("#code-result [data-verdict]")
                assert verdict is not None
                return str(verdict.get_attribute("data-verdict"))

            # -- the round is open: the list comes at the close ---------------------------------
            page.goto(f"{url}/verify#code={format_code(used).lower()}&round={ROUND}")
            page.wait_for_selector("#code-result [data-verdict=not_closed]")
            assert "#" not in page.url
            assert "code" not in page.url
            text = page.inner_text("#code-result")
            assert VI["verify.code.not_closed"].split("{")[0] in text
            assert page.is_visible("#code-rounds")  # two rounds: the page asks which
            assert page.is_checked(f"input[name=code-round][value={ROUND}]")
            shoot("verify-code-form", scroll_to="#code-check-heading")
            shoot("verify-code-open")

            closed = httpx.post(
                f"{url}/api/admin/rounds/{ROUND}/close",
                headers={"authorization": f"Bearer {office.token}"},
                json={"force": True},  # before the voting window ends
            )
            assert closed.status_code == 200, closed.text

            # -- closed: used, not used ----------------------------------------------------------
            page.goto(f"{url}/verify")
            page.wait_for_selector(f"input[name=code-round][value={OTHER_ROUND}]")
            # the closed round is chosen first: it is the one whose list can be checked
            assert page.is_checked(f"input[name=code-round][value={ROUND}]")
            assert check(format_code(used)) == "used"
            text = page.inner_text("#code-result")
            assert VI["verify.code.used"] in text
            assert VI["verify.code.used_ward"].format(ward=manifest_wards[ward]["vi"]) in text
            assert VI["verify.code.unused"] not in text
            shoot("verify-code-used")

            assert check(normalize_code(other).lower()) == "unused"
            text = page.inner_text("#code-result")
            assert VI["verify.code.unused"] in text
            assert VI["verify.code.used"] not in text
            shoot("verify-code-unused")

            page.click("[data-lang-switch]")
            page.wait_for_selector("html[lang=en]")
            assert EN["verify.code.unused"] in page.inner_text("#code-result")
            page.click("[data-lang-switch]")
            page.wait_for_selector("html[lang=vi]")

            # the other round is open: its list is not published yet
            page.check(f"input[name=code-round][value={OTHER_ROUND}]")
            assert check(used) == "not_closed"
            assert VI["verify.code.not_closed"].split("{")[0] in page.inner_text("#code-result")
            page.check(f"input[name=code-round][value={ROUND}]")

            # -- not a code ----------------------------------------------------------------------
            page.fill("#code-check-input", "not a code")
            page.click("#code-check-form button[type=submit]")
            assert page.inner_text("#code-check-error") == VI["error.bad_code"]

            # -- a ledger the close statement does not bind: a warning, no answer ----------------
            def drop_entries(route: Any) -> None:
                ledger = json.loads(route.fetch().body())
                ledger["wards"] = {w: [] for w in ledger["wards"]}
                route.fulfill(body=json.dumps(ledger), content_type="application/json")

            page.route(f"**/api/rounds/{ROUND}/issuance", drop_entries)
            assert check(used) == "failed"
            text = page.inner_text("#code-result")
            assert VI["verify.code.fail"] in text
            assert VI["verify.code.unused"] not in text
            page.unroute(f"**/api/rounds/{ROUND}/issuance")
        finally:
            browser.close()

    # -- the codes never left the browser ----------------------------------------------------
    assert sent
    assert {r["method"] for r in sent} == {"GET"}
    for request in sent:
        where = [request["url"], *request["headers"].values()]
        for form in [*forms_of(used), *forms_of(other)]:
            assert all(form not in text for text in where), request["url"]
            assert form.encode() not in request["body"]
    assert any(r["url"].endswith(f"/api/rounds/{ROUND}/issuance") for r in sent)
    assert problems == [] or all("status of 404" in m for m in problems), problems

    publish_shots(shots)


def _manifest(data: Path) -> dict[str, Any]:
    service = Service(data)
    try:
        value = service.round(ROUND).signed_manifest()["manifest"]
        assert isinstance(value, dict)
        return value
    finally:
        service.close()
