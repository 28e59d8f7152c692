"""``/verify``: find a ballot by its receipt code alone. In Debian's Chromium, at phone width.

On a live server with two rounds: ``test-round``, whose four real ballots were cast and
tallied, and a second round still open, results restricted, whose board was grown with
made-up leaves to 300 (``_live.grow_board``) before one real ballot was cast (leaf 300: a
full tile and a partial tile of the log). The participant types a receipt code (as written
down: any case, spaces or dashes); the page reads the round's C2SP tlog-tiles log
(``/log/{round_id}/``: the signed checkpoint, then every level-0 tile), rebuilds the signed
root, finds the ballot's position and checks the receipt it builds as a receipt file is
checked: after the tally, how the ballot was counted. Arriving at
``/verify#receipt=...&round=...`` does the same, and the fragment is taken out of the
address bar. A code that is not on the board is "not found"; a text that is not a code is
refused; a tile that does not rebuild the root is an alarm. No request the page made
carries a code in any form, in its address, headers or body.

Screenshots at phone (390x844) and desktop (1280x800) widths go to a temporary folder; with
ANONBALLOT_SCREENSHOTS=1 they are also copied to docs/booth/ (docs/booth.md).
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from _browser import PHONE, TIMEOUT, launch_chromium, publish_shots, shoot, watch_pages
from _live import ROUND, demo_office, grow_board, server_thread, vote_and_tally

from anonballot.hazmat.merkle import leaf_hash
from anonballot.participant import Participant
from anonballot.receipt import receipt_code
from anonballot.server.booth import STATIC
from anonballot.server.service import Service
from anonballot.testing import demo_config, random_answers

pytestmark = pytest.mark.slow

VI = json.loads((STATIC / "i18n" / "vi.json").read_text(encoding="utf-8"))
EN = json.loads((STATIC / "i18n" / "en.json").read_text(encoding="utf-8"))
OTHER_ROUND = "other-round"
GROWN = 300  # made-up leaves before the second round's real ballot


def codes_on_board(data: Path, round_id: str) -> list[str]:
    """The receipt code of every leaf of a round's board, in order."""
    service = Service(data)
    try:
        store = service.round(round_id).store
        return [receipt_code(leaf_hash(leaf)) for leaf in store.leaves(0, store.leaf_count())]
    finally:
        service.close()


def open_second_round(data: Path) -> str:
    """A second round, open, its board grown to GROWN made-up leaves, then one real ballot
    cast; the ballot's receipt code."""
    service = Service(data, key_bits=2048)
    try:
        config, _ = demo_config(wards=1, round_id=OTHER_ROUND)
        title = {"vi": "Đợt lấy ý kiến thứ hai (mô phỏng)", "en": "A second round (simulation)"}
        service.create_round(dataclasses.replace(config, title=title))
        invitation = service.make_invitations(OTHER_ROUND)[0]
        service.round(OTHER_ROUND).open()
    finally:
        service.close()
    grow_board(data, OTHER_ROUND, [GROWN])
    service = Service(data, key_bits=2048)
    try:
        engine = service.round(OTHER_ROUND)
        p = Participant(engine.signed_manifest(), engine.ward_for_code(invitation.printed))
        p.finish_token(engine.issue(invitation.printed, p.request_token()))
        receipt = engine.cast(p.make_leaf(random_answers(p.manifest, p.ward, random.Random(7))))
        assert receipt.leaf_index == GROWN
        return receipt.code
    finally:
        service.close()


def forms_of(code: str) -> list[str]:
    """A receipt code as it could travel: with or without dashes, lower or upper case."""
    bare = code.replace("-", "")
    return [code, code.upper(), bare, bare.upper()]


def wrong_code(code: str) -> str:
    """The code with its last digit changed: on no board."""
    last = "0" if code[-1] != "0" else "1"
    return code[:-1] + last


def test_a_ballot_is_found_by_its_receipt_code_on_the_device(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    office = demo_office(tmp_path / "data", wards=2, voters=2)
    vote_and_tally(office)
    tallied = codes_on_board(office.data, ROUND)
    assert len(tallied) == 4
    grown = open_second_round(office.data)
    assert codes_on_board(office.data, OTHER_ROUND).index(grown) == GROWN
    wrong = wrong_code(grown)
    assert wrong not in codes_on_board(office.data, OTHER_ROUND)
    shots = tmp_path / "screenshots"
    shots.mkdir()

    with server_thread(office.data) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(viewport=PHONE)
            context.set_default_timeout(TIMEOUT)
            sent: list[dict[str, Any]] = []
            problems: list[str] = []
            context.on(
                "request",
                lambda r: sent.append(
                    {"url": r.url, "method": r.method, "body": r.post_data_buffer or b"",
                     "headers": r.all_headers()}
                ),
            )  # fmt: skip
            # an open round's close statement (404) and restricted results (403) show as failed
            # loads; nothing else may
            watch_pages(context, problems, re.compile(r"status of (403|404)"))
            page = context.new_page()

            def look_up(code: str) -> str:
                page.evaluate("() => document.getElementById('lookup-result').replaceChildren()")
                page.fill("#lookup-input", code)
                page.click("#lookup-form button[type=submit]")
                verdict = page.wait_for_selector("#lookup-result [data-verdict]")
                assert verdict is not None
                return str(verdict.get_attribute("data-verdict"))

            def checked() -> str:
                """The summary of the receipt check the lookup handed its receipt to."""
                page.wait_for_selector("#lookup-check .summary:not(:empty)")
                return str(page.inner_text("#lookup-check .summary"))

            # -- arriving with the code in the fragment: a tallied round -------------------------
            index = 2
            code = tallied[index]
            page.goto(f"{url}/verify#receipt={code.replace('-', '').upper()}&round={ROUND}")
            verdict = page.wait_for_selector("#lookup-result [data-verdict]")
            assert verdict is not None
            assert verdict.get_attribute("data-verdict") == "found"
            assert "#" not in page.url
            assert "receipt" not in page.url
            assert page.is_visible("#lookup-rounds")  # two rounds: the page asks which
            assert page.is_checked(f"input[name=lookup-round][value={ROUND}]")
            text = page.inner_text("#lookup-result")
            assert VI["verify.lookup.found"].format(n=index + 1, size=4) in text
            assert VI["verify.lookup.ok.root"] in text
            assert checked() == VI["verify.summary_ok"], page.inner_text("#lookup-check")
            text = page.inner_text("#lookup-check")
            assert page.inner_text("#lookup-check-code") == code
            assert VI["verify.ok.inclusion"].format(n=index + 1, size=4) in text
            assert VI["verify.ok.final"].format(size=4) in text
            assert VI["verify.ok.counted_valid"] in text  # how it was counted, after the tally
            assert page.locator("#lookup-check .counted .review-subject").count() >= 1
            shoot(page, shots, "verify-lookup-counted", scroll_to="#lookup-heading")

            # -- typed: the open round, the ballot after a full tile -----------------------------
            page.check(f"input[name=lookup-round][value={OTHER_ROUND}]")
            typed = " ".join(grown.replace("-", "").upper()[i : i + 5] for i in range(0, 20, 5))
            assert look_up(typed) == "found"
            text = page.inner_text("#lookup-result")
            assert VI["verify.lookup.found"].format(n=GROWN + 1, size=GROWN + 1) in text
            assert VI["verify.lookup.ok.tiles"].format(size=GROWN + 1, total=2) in text
            assert checked() == VI["verify.summary_ok"], page.inner_text("#lookup-check")
            assert VI["verify.ok.inclusion"].format(n=GROWN + 1, size=GROWN + 1) in text
            # the second round's results are restricted (a new round's default): the board's
            # checks stand alone
            assert VI["verify.restricted"] in page.inner_text("#lookup-check")
            shoot(page, shots, "verify-lookup-found", scroll_to="#lookup-result")

            # -- not on the board ----------------------------------------------------------------
            assert look_up(wrong) == "not_found"
            text = page.inner_text("#lookup-result")
            assert VI["verify.lookup.not_found"].format(size=GROWN + 1) in text
            assert VI["verify.lookup.not_found_help"] in text
            assert page.is_hidden("#lookup-check")
            shoot(page, shots, "verify-lookup-not-found", scroll_to="#lookup-result")
            page.click("[data-lang-switch]")
            page.wait_for_selector("html[lang=en]")
            assert EN["verify.lookup.not_found"].format(size=GROWN + 1) in page.inner_text(
                "#lookup-result"
            )
            page.click("[data-lang-switch]")
            page.wait_for_selector("html[lang=vi]")

            # the tallied round's code is not on the open round's board
            assert look_up(tallied[0]) == "not_found"

            # -- not a code ----------------------------------------------------------------------
            page.fill("#lookup-input", grown[:-2])
            page.click("#lookup-form button[type=submit]")
            assert page.inner_text("#lookup-error") == VI["verify.lookup.bad_code"]
            assert page.get_attribute("#lookup-input", "aria-invalid") is not None

            # -- a tile that does not rebuild the signed root: an alarm, no answer --------------
            def flip(route: Any) -> None:
                body = bytearray(route.fetch().body())
                body[5] ^= 1
                route.fulfill(body=bytes(body), content_type="application/octet-stream")

            page.route(f"**/log/{OTHER_ROUND}/tile/0/000", flip)
            assert look_up(grown) == "failed"
            text = page.inner_text("#lookup-result")
            assert VI["verify.lookup.fail.root"] in text
            assert VI["verify.lookup.found"].split("{")[0] not in text
            page.unroute(f"**/log/{OTHER_ROUND}/tile/0/000")
        finally:
            browser.close()

    # -- the codes never left the browser ----------------------------------------------------
    assert sent
    assert {r["method"] for r in sent} == {"GET"}
    for request in sent:
        where = [request["url"], *request["headers"].values()]
        for form in [f for c in [*tallied, grown, wrong] for f in forms_of(c)]:
            assert all(form not in text for text in where), request["url"]
            assert form.encode() not in request["body"]
    # the page read the logs' tiles: a full one and the partial one after it
    urls = {r["url"].removeprefix(url) for r in sent}
    assert f"/log/{ROUND}/checkpoint" in urls
    assert f"/log/{ROUND}/tile/0/000.p/4" in urls
    assert f"/log/{OTHER_ROUND}/checkpoint" in urls
    assert f"/log/{OTHER_ROUND}/tile/0/000" in urls
    assert f"/log/{OTHER_ROUND}/tile/0/001.p/{GROWN + 1 - 256}" in urls
    # the ballot shown as counted was read with its whole entry bundle: no request names
    # its position on the board either
    assert f"/log/{ROUND}/tile/entries/000.p/4" in urls
    assert not [u for u in urls if "/leaves" in u or "/proof/inclusion" in u], urls
    assert problems == [], problems

    publish_shots(shots)
