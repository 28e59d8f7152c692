"""The booth's state machine (``server/static/js/booth-state.js``) on its own, in Chromium.

No page and no DOM: the harness (``tests/browser/harness.js``, ``window.boothHarness``) runs
``Booth`` machines over in-memory device storages, with the real cryptography, against the
real server application (``create_app`` through Starlette's TestClient, called from the page
through ``page.expose_function``). Each "page load" is a new machine on the same device
storage, so a reload is a new machine; a lost answer is a request the server carried out
whose answer never reaches the machine. A two-phase round runs on a server whose clock the
test moves (tests/_live.py's ``Clock``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _live import ROUND, Clock, Office, demo_office
from _static import harness_page, static_server
from starlette.testclient import TestClient

from anonballot.codes import normalize_code
from anonballot.manifest import Window
from anonballot.server.app import create_app
from anonballot.server.service import Service

pytestmark = pytest.mark.slow

DONE_KEYS = {"v", "key", "round_id", "phase", "ward", "mid", "receipt_code", "expires"}
"""What a cast leaves on the device: the receipt code, not the receipt (unless asked)."""
ISSUANCE = Window("2026-11-02T08:00:00+07:00", "2026-11-06T17:00:00+07:00")
VOTING = Window("2026-11-09T08:00:00+07:00", "2026-11-13T17:00:00+07:00")
"""A two-phase round: every token exists before the first ballot (threat-model.md)."""


@dataclass
class Server:
    """The round's API as the machines see it, with answers that can be lost."""

    client: TestClient
    office: Office
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)
    lose: dict[str, int] = field(default_factory=dict)

    def __call__(self, path: str, method: str, body: str | None) -> dict[str, Any]:
        name = path.split("?")[0]
        self.calls.append((method, name, body))
        url = f"/api/rounds/{ROUND}/{path}"
        if method == "GET":
            answer = self.client.get(url)
        else:
            content = (body or "").encode("utf-8")
            answer = self.client.post(
                url, content=content, headers={"content-type": "application/json"}
            )
        if self.lose.get(name, 0) > 0:  # carried out; the answer never arrives
            self.lose[name] -= 1
            return {"lost": True}
        return {"status": answer.status_code, "text": answer.text}

    def bodies(self, name: str) -> list[str | None]:
        return [body for method, n, body in self.calls if n == name and method == "POST"]

    def board_size(self) -> int:
        return int(self.client.get(f"/api/rounds/{ROUND}/checkpoint").text.split("\n")[1])

    def close(self) -> None:
        answer = self.client.post(
            f"/api/admin/rounds/{ROUND}/close",
            headers={"authorization": f"Bearer {self.office.token}"},
            json={"force": True},  # before the voting window ends
        )
        assert answer.status_code == 200, answer.text


@dataclass
class Harness:
    page: Any
    server: Server

    def open(self, device: str, machine: str, tab: str | None = None) -> None:
        self.page.evaluate(
            "([d, m, r, t]) => window.boothHarness.open(d, m, r, t)", [device, machine, ROUND, tab]
        )

    def ask(self, machine: str, method: str, *args: Any) -> Any:
        return self.page.evaluate(
            "([m, method, args]) => window.boothHarness.ask(m, method, ...args)",
            [machine, method, list(args)],
        )

    def step(self, machine: str, method: str, *args: Any) -> dict[str, Any]:
        outcome: dict[str, Any] = self.page.evaluate(
            "([m, method, args]) => window.boothHarness.step(m, method, ...args)",
            [machine, method, list(args)],
        )
        return outcome

    def act(self, machine: str, key: str) -> dict[str, Any]:
        outcome: dict[str, Any] = self.page.evaluate(
            "([m, key]) => window.boothHarness.act(m, key)", [machine, key]
        )
        return outcome

    def answer_all(self, machine: str) -> None:
        assert self.page.evaluate("m => window.boothHarness.answerAll(m)", machine) == 0

    def storage(self, device: str) -> dict[str, dict[str, Any]]:
        value: dict[str, dict[str, Any]] = self.page.evaluate(
            "d => window.boothHarness.storage(d)", device
        )
        return value

    def state(self, device: str) -> dict[str, Any]:
        [only] = self.storage(device).values()
        return only

    def current(self, device: str) -> str | None:
        value: str | None = self.page.evaluate(
            "([d, r]) => window.boothHarness.current(d, r)", [device, ROUND]
        )
        return value


@pytest.fixture(scope="module")
def static_url() -> Iterator[str]:
    with static_server() as url:
        yield url


@pytest.fixture
def booth(tmp_path: Path, static_url: str) -> Iterator[Harness]:
    yield from harness(tmp_path, static_url)


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime.fromisoformat("2026-11-03T09:00:00+07:00"))  # issuance, day 2


@pytest.fixture
def two_phase(tmp_path: Path, static_url: str, clock: Clock) -> Iterator[Harness]:
    yield from harness(tmp_path, static_url, clock, windows=(ISSUANCE, VOTING))


def harness(
    tmp_path: Path,
    static_url: str,
    clock: Clock | None = None,
    windows: tuple[Window, Window] | None = None,
) -> Iterator[Harness]:
    office = demo_office(tmp_path / "data", wards=1, voters=4, windows=windows)
    service = Service(office.data) if clock is None else Service(office.data, clock=clock)
    try:
        with TestClient(create_app(service)) as client:
            server = Server(client, office)
            with harness_page(
                static_url, lambda page: page.expose_function("boothServer", server)
            ) as page:
                yield Harness(page, server)
    finally:
        service.close()


def code(booth: Harness, i: int) -> str:
    return booth.server.office.codes[i][0]


def test_resume_after_reload_review_cast_and_receipt_again(booth: Harness) -> None:
    booth.open("phone", "load1")
    assert booth.step("load1", "begin", code(booth, 0)) == {"kind": "ballot"}
    state = booth.state("phone")
    assert state["phase"] == "voting"
    assert state["code"] == normalize_code(code(booth, 0))
    assert set(state) >= {"voter_seed", "token", "ward", "mid"}
    assert not {"prepared", "inv", "blinded"} & set(state)  # the request secrets are gone
    assert len(booth.server.bodies("tokens")) == 1

    booth.open("phone", "load2")  # a reload: the device's state, no code in the address
    assert booth.step("load2", "begin", None) == {"kind": "ballot"}
    assert booth.state("phone")["token"] == state["token"]
    assert len(booth.server.bodies("tokens")) == 1  # no second token was asked for
    assert len(booth.server.bodies("ward")) == 1
    booth.answer_all("load2")
    assert booth.step("load2", "goTo", "review") == {"kind": "review"}

    booth.open("phone", "load3")  # a reload at the review comes back to the review
    assert booth.step("load3", "begin", None) == {"kind": "review"}
    assert booth.step("load3", "castBallot") == {"kind": "receipt", "again": False}
    done = booth.state("phone")
    assert set(done) == DONE_KEYS  # only the receipt stays on the device
    assert done["phase"] == "done"
    assert booth.server.board_size() == 1

    booth.open("phone", "load4")  # the same code again on this device: the receipt again
    assert booth.step("load4", "begin", code(booth, 0)) == {"kind": "receipt", "again": True}
    assert len(booth.server.bodies("ballots")) == 1
    assert booth.state("phone") == done


def test_a_lost_token_answer_asks_again_with_the_same_request(booth: Harness) -> None:
    booth.server.lose["tokens"] = 1
    booth.open("phone", "load1")
    lost = booth.step("load1", "begin", code(booth, 1))
    assert lost["kind"] == "error"
    assert (lost["code"], lost["stage"]) == ("network", "token")
    assert lost["actions"] == ["action.retry", "action.other_code"]
    requesting = booth.state("phone")
    assert requesting["phase"] == "requesting"
    assert booth.step("load1", "resume", requesting) == {"kind": "ballot"}
    first, second = booth.server.bodies("tokens")
    assert first == second  # the same blinded request: the server answers the same
    assert booth.state("phone")["voter_seed"] == requesting["voter_seed"]


def test_a_lost_cast_answer_casts_the_same_leaf_once(booth: Harness) -> None:
    booth.open("phone", "load1")
    assert booth.step("load1", "begin", code(booth, 2)) == {"kind": "ballot"}
    booth.answer_all("load1")
    booth.server.lose["ballots"] = 1
    lost = booth.step("load1", "castBallot")
    assert lost["kind"] == "error"
    assert lost["code"] == "network"
    assert lost["notes"] == ["cast.saved_note"]  # the ballot is kept; it may be on the board
    casting = booth.state("phone")
    assert casting["phase"] == "casting"
    assert booth.server.board_size() == 1

    booth.open("phone", "load2")
    assert booth.step("load2", "begin", None) == {"kind": "receipt", "again": False}
    first, second = booth.server.bodies("ballots")
    assert first == second == casting["leaf"]
    assert booth.server.board_size() == 1  # cast once
    assert booth.ask("load2", "receipt")["leaf_index"] == 0


def test_a_lost_cast_answer_after_close_finds_the_leaf_on_the_board(booth: Harness) -> None:
    booth.open("phone", "load1")
    booth.step("load1", "begin", code(booth, 3))
    booth.answer_all("load1")
    booth.server.lose["ballots"] = 1
    assert booth.step("load1", "castBallot")["code"] == "network"
    booth.server.close()
    booth.open("phone", "load2")
    assert booth.step("load2", "begin", None) == {"kind": "receipt", "again": False}
    receipt = booth.ask("load2", "receipt")
    assert receipt["leaf_index"] == 0
    assert "leaves" in {name for _, name, _ in booth.server.calls}


def test_a_refused_cast_lets_the_answers_change(booth: Harness) -> None:
    booth.open("phone", "load1")
    booth.step("load1", "begin", code(booth, 0))
    booth.answer_all("load1")
    booth.server.close()  # the ballot is refused and kept nowhere
    refused = booth.step("load1", "castBallot")
    assert (refused["kind"], refused["code"]) == ("error", "round_not_open")
    assert refused["actions"] == ["action.retry", "action.change_answers"]
    assert booth.act("load1", "action.change_answers") == {"kind": "ballot"}
    state = booth.state("phone")
    assert (state["phase"], state["step"]) == ("voting", "ballot")
    assert "leaf" not in state


def test_a_code_used_on_another_device_is_refused(booth: Harness) -> None:
    booth.open("phone", "load1")
    assert booth.step("load1", "begin", code(booth, 0)) == {"kind": "ballot"}
    booth.open("laptop", "load2")
    used = booth.step("load2", "begin", code(booth, 0))
    assert (used["kind"], used["code"], used["stage"]) == ("error", "code_used", "token")
    assert used["actions"] == ["action.other_code"]  # trying again cannot help
    assert booth.current("laptop") is not None
    assert booth.act("load2", "action.other_code") == {
        "kind": "code",
        "errorKey": None,
        "value": "",
    }
    assert booth.current("laptop") is None


def test_unknown_and_malformed_codes_go_back_to_the_form(booth: Harness) -> None:
    booth.open("phone", "load1")
    unknown = booth.step("load1", "begin", "0000 0000 0000 000o")
    assert unknown == {
        "kind": "code",
        "errorKey": "error.unknown_code",
        "value": "0000-0000-0000-0000",
    }
    assert booth.storage("phone") == {}  # nothing kept of a code on nobody's slip
    assert booth.current("phone") is None
    malformed = {"kind": "code", "errorKey": "error.bad_code", "value": "7KQ2-M9XD"}
    assert booth.step("load1", "enterCode", "7KQ2-M9XD") == malformed
    assert booth.step("load1", "begin", "7KQ2-M9XD") == malformed
    assert booth.server.bodies("ward") == [f'{{"code":"{normalize_code("0000 0000 0000 000o")}"}}']


def test_a_device_that_keeps_nothing_cannot_vote(booth: Harness) -> None:
    booth.page.evaluate("d => window.boothHarness.breakStorage(d, true)", "phone")
    booth.open("phone", "load1")
    refused = booth.step("load1", "begin", code(booth, 1))
    assert (refused["kind"], refused["error"]) == ("error", "StorageUnavailable")
    assert refused["actions"] == ["action.retry"]
    assert booth.server.bodies("tokens") == []  # nothing asked before it could be kept


def test_a_changed_manifest_stops_the_booth(booth: Harness) -> None:
    booth.open("phone", "load1")
    booth.step("load1", "begin", code(booth, 1))
    [key] = booth.storage("phone")
    booth.page.evaluate(
        "([d, k]) => window.boothHarness.patch(d, k, {mid: 'A'.repeat(43)})", ["phone", key]
    )
    booth.open("phone", "load2")
    changed = booth.step("load2", "begin", None)
    assert (changed["kind"], changed["code"]) == ("error", "manifest_changed")
    assert changed["actions"] == ["action.other_code"]


# --------------------------------------------------------------------------- the two-phase round


def test_a_token_taken_early_is_cast_once_voting_opens(two_phase: Harness, clock: Clock) -> None:
    """During issuance the code is activated (the token kept on the device), the ballot can be
    filled in but not cast; from the voting opening, by the server's clock, it casts."""
    booth = two_phase
    booth.open("phone", "load1")
    assert booth.step("load1", "begin", code(booth, 0)) == {"kind": "ballot"}
    assert booth.state("phone")["phase"] == "voting"
    assert booth.ask("load1", "votingOpensLater") is True  # the page shows "come back at"
    booth.answer_all("load1")
    early = booth.step("load1", "castBallot")  # had the page let it: the server refuses
    assert (early["kind"], early["code"], early["say"]) == (
        "error",
        "outside_window",
        "error.voting_not_open",
    )
    assert "action.change_answers" in early["actions"]
    assert booth.server.board_size() == 0

    clock.set("2026-11-09T08:00:00+07:00")  # voting opens; the participant comes back
    booth.open("phone", "load2")
    assert booth.step("load2", "begin", None) == {"kind": "receipt", "again": False}
    assert booth.server.board_size() == 1
    assert len(booth.server.bodies("tokens")) == 1  # the token of the first visit


def test_the_server_clock_not_the_device_clock_decides(two_phase: Harness, clock: Clock) -> None:
    booth = two_phase
    booth.open("phone", "load1")
    booth.step("load1", "begin", code(booth, 1))
    # the machine's time is the server's (2026), whatever this browser's clock says
    now = booth.ask("load1", "now")
    assert abs(now / 1000 - clock.now.timestamp()) < 60
    clock.set("2026-11-09T07:59:00+07:00")
    booth.open("phone", "load2")
    booth.step("load2", "begin", None)
    assert booth.ask("load2", "votingOpensLater") is True
    assert 59_000 <= booth.ask("load2", "untilVotingOpens") <= 61_000


def test_a_code_without_token_after_issuance_is_told_plainly(
    two_phase: Harness, clock: Clock
) -> None:
    booth = two_phase
    clock.set("2026-11-07T10:00:00+07:00")  # issuance closed, voting not open yet
    booth.open("laptop", "load1")
    late = booth.step("load1", "begin", code(booth, 2))
    assert (late["kind"], late["code"], late["say"]) == (
        "error",
        "outside_window",
        "error.issuance_closed",
    )
    assert late["actions"] == ["action.other_code"]  # no "try again" that cannot work
    clock.set("2026-11-01T10:00:00+07:00")  # before issuance: trying again later works
    booth.open("laptop", "load2")
    soon = booth.step("load2", "begin", code(booth, 3))
    assert soon["say"] == "error.issuance_not_open"
    assert soon["actions"] == ["action.retry", "action.other_code"]
    clock.set("2026-11-14T10:00:00+07:00")  # after voting: said so
    booth.open("laptop", "load3")
    assert booth.step("load3", "begin", code(booth, 3))["say"] == "error.voting_closed"


def test_a_receipt_stays_as_its_code_unless_kept(two_phase: Harness, clock: Clock) -> None:
    """A shared phone: the next person finds neither the receipt nor, in another tab, the
    receipt code; the one who asks keeps the receipt; everything expires after voting."""
    booth = two_phase
    first, second = normalize_code(code(booth, 0)), normalize_code(code(booth, 1))

    def kept(which: str) -> dict[str, Any]:
        [state] = [
            s for s in booth.storage("phone").values() if s.get("code") == which or (
                which == "done" and s["phase"] == "done"
            )
        ]  # fmt: skip
        return state

    booth.open("phone", "load1", tab="tab1")
    booth.step("load1", "begin", first)
    booth.answer_all("load1")
    # another participant leaves an unfinished ballot on the same phone
    booth.open("phone", "other", tab="tab2")
    booth.step("other", "begin", second)
    booth.answer_all("other")
    assert kept(second)["expires"] == "2026-11-13T10:00:00.000Z"  # when voting closes

    clock.set("2026-11-10T09:00:00+07:00")
    booth.open("phone", "load2", tab="tab1")
    assert booth.step("load2", "begin", first) == {"kind": "ballot"}
    assert booth.step("load2", "castBallot") == {"kind": "receipt", "again": False}
    done = kept("done")
    assert set(done) == DONE_KEYS  # the code, not the receipt
    assert done["expires"] == "2027-01-12T10:00:00.000Z"  # 60 days after voting closes
    assert booth.ask("load2", "receipt")["leaf_index"] == 0  # in memory, for this visit
    assert booth.current("phone") is None  # the device points at no receipt...
    booth.open("phone", "reload", tab="tab1")  # ...but a reload of the same tab does
    assert booth.step("reload", "begin", None) == {"kind": "receipt", "again": True}
    assert booth.ask("reload", "receipt") is None  # only the code is on the device
    booth.open("phone", "next-person", tab="tab3")
    assert booth.step("next-person", "begin", None)["kind"] == "code"

    assert booth.step("load2", "keepReceipt", True)["kind"] == "receipt"
    assert kept("done")["receipt"] == booth.ask("load2", "receipt")
    assert booth.step("load2", "keepReceipt", False)["kind"] == "receipt"
    assert set(kept("done")) == DONE_KEYS

    clock.set("2026-11-14T09:00:00+07:00")  # voting closed: the unfinished answers go
    booth.open("phone", "after-voting", tab="tab4")
    assert booth.step("after-voting", "begin", None)["kind"] == "code"
    assert [s["phase"] for s in booth.storage("phone").values()] == ["done"]
    clock.set("2027-01-12T10:00:01Z")  # and the receipt code 60 days later
    booth.open("phone", "much-later", tab="tab4")
    booth.step("much-later", "begin", None)
    assert booth.storage("phone") == {}


def test_a_ballot_too_long_for_a_leaf_is_refused_before_sealing(
    tmp_path: Path, static_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round made before the cap on leaves (protocol section 6.3) lets the form's comments
    add up to more than a leaf may hold: the booth says so and goes back to the ballot,
    nothing sealed or sent."""
    from anonballot import engine, questionnaire

    monkeypatch.setattr(questionnaire, "MAX_COMMENT", 2000)
    monkeypatch.setattr(engine, "_check_leaves_fit", lambda *args: None)
    for booth in harness(tmp_path, static_url):
        booth.open("phone", "load1")
        assert booth.step("load1", "begin", code(booth, 0)) == {"kind": "ballot"}
        booth.answer_all("load1")
        booth.page.evaluate(
            """m => {
                const booth = window.boothHarness.machine(m);
                const fields = booth.requireRound().manifest.questionnaire.comments;
                for (const s of booth.wardSubjects())
                    for (const f of fields) booth.setComment(s.id, f.id, "😀".repeat(f.max_chars));
                booth.saveAnswers();
            }""",
            "load1",
        )
        refused = booth.step("load1", "castBallot")
        assert refused["kind"] == "error"
        assert (refused["code"], refused["say"]) == ("ballot_too_large", "error.ballot_too_large")
        assert refused["actions"] == ["action.change_answers"]
        assert booth.server.bodies("ballots") == []  # nothing was sent
        assert booth.state("phone")["phase"] == "voting"
        assert booth.act("load1", "action.change_answers") == {"kind": "ballot"}
