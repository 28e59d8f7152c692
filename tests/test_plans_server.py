"""The remediation plans on the server (issue 8 section 4): drafted, reviewed, signed, tracked.

A person rated drafts a plan through the page of their personal link (the key in a POST
field), submits it; the office returns it with remarks; the person edits and resubmits; the
office accepts it (signed: ``PlanExport.from_json`` verifies it) and records progress. The
refusals are 409s with their codes. The ``plan`` commands run in ``CliRunner`` against a
server in a thread (slow). Nothing here touches a ballot or the board: the board's size and
the results are the same before and after.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _live import Office, demo_office, server_thread, vote_and_tally
from click.testing import CliRunner
from starlette.testclient import TestClient

from anonballot.cli.main import main
from anonballot.manifest import Manifest
from anonballot.plans import Plan, PlanExport, Progress
from anonballot.server.app import create_app
from anonballot.server.service import Service

SUBJECT = "bo-de-secretary"
OTHER = "bo-de-chairman"


@dataclass
class Desk:
    office: Office
    service: Service
    client: TestClient
    keys: dict[str, str]

    @property
    def rid(self) -> str:
        return self.office.round_id

    @property
    def admin(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.office.token}"}

    def leader(self, subject: str, **form: str) -> tuple[int, str]:
        answer = self.client.post(f"/leader/{self.rid}", data={"key": self.keys[subject], **form})
        return answer.status_code, answer.text

    def api(self, method: str, path: str, json: dict[str, str] | None = None) -> tuple[int, Any]:
        answer = self.client.request(
            method, f"/api/admin/rounds/{self.rid}/plans{path}", headers=self.admin, json=json
        )
        return answer.status_code, answer.json()

    def manifest(self) -> Manifest:
        return Manifest.from_signed(self.client.get(f"/api/rounds/{self.rid}/manifest").json())


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], str | None]
) -> Iterator[Desk]:
    """A tallied round's plans desk, on each back end."""
    data = tmp_path_factory.mktemp("plans") / "data"
    database = new_database()
    office = demo_office(data, wards=2, voters=5, results_access="restricted", database=database)
    vote_and_tally(office)
    service = Service(data, database=database)
    client = TestClient(create_app(service))
    keys = client.post(
        f"/api/admin/rounds/{office.round_id}/leaders",
        headers={"authorization": f"Bearer {office.token}"},
    ).json()
    try:
        yield Desk(office, service, client, {k["subject"]: k["key"] for k in keys})
    finally:
        client.close()
        service.close()


ITEM = {
    "criterion": "tac-phong-lam-viec",
    "shortcoming": "",
    "actions": "Tiếp dân mỗi sáng thứ Năm tại trụ sở phường.",
    "deadline": "2026-09-30",
    "check": "Sổ tiếp dân, có chữ ký của người dân.",
}


def test_a_plan_from_draft_to_progress(desk: Desk) -> None:
    board = desk.client.get(f"/api/rounds/{desk.rid}/checkpoint").text
    results = desk.client.get(f"/api/rounds/{desk.rid}/results", headers=desk.admin).content

    status, page = desk.leader(SUBJECT)
    assert status == 200
    assert 'data-state="none"' in page
    status, page = desk.leader(SUBJECT, action="add", **ITEM)
    assert status == 200
    assert 'data-item="item-1"' in page
    assert "Tiếp dân mỗi sáng thứ Năm" in page
    shortcoming = {**ITEM, "criterion": "", "shortcoming": "«Chậm trả lời đơn thư» (ý kiến)"}
    status, page = desk.leader(SUBJECT, action="add", **shortcoming)
    assert 'data-item="item-2"' in page
    assert "«Chậm trả lời đơn thư» (ý kiến)" in page
    # a bad item is refused with the page and a plain message, nothing saved
    status, page = desk.leader(SUBJECT, action="add", **{**ITEM, "actions": ""})
    assert status == 400
    assert 'data-item="item-3"' not in page
    status, page = desk.leader(SUBJECT, action="add", **{**ITEM, "criterion": "khong-co"})
    assert status == 400
    status, _ = desk.leader(SUBJECT, action="remove", item="item-2")
    assert status == 200
    assert desk.api("GET", f"/{SUBJECT}")[1]["state"] == "draft"

    # the office cannot accept or return a draft
    status, body = desk.api("POST", f"/{SUBJECT}/accept")
    assert (status, body["error"]) == (409, "plan_not_submitted")
    status, body = desk.api("POST", f"/{SUBJECT}/return", json={"remarks": "x"})
    assert (status, body["error"]) == (409, "plan_not_submitted")
    status, body = desk.api(
        "POST", f"/{SUBJECT}/progress",
        json={"item": "item-1", "status": "done", "note": "x", "date": "2026-07-01"},
    )  # fmt: skip
    assert (status, body["error"]) == (409, "plan_not_accepted")

    status, page = desk.leader(SUBJECT, action="submit")
    assert status == 200
    assert 'data-state="submitted"' in page
    status, page = desk.leader(SUBJECT, action="add", **ITEM)
    assert status == 409
    assert 'data-item="item-2"' not in page
    status, body = desk.api("POST", f"/{SUBJECT}/return", json={"remarks": "  "})
    assert (status, body["error"]) == (400, "bad_request")
    status, body = desk.api(
        "POST", f"/{SUBJECT}/return", json={"remarks": "Nêu rõ ai kiểm tra sổ tiếp dân."}
    )
    assert (status, body["state"], body["version"]) == (200, "returned", 1)

    status, page = desk.leader(SUBJECT)
    assert "Nêu rõ ai kiểm tra sổ tiếp dân." in page
    edited = {**ITEM, "item": "item-1", "check": "Ủy ban Kiểm tra phường xem sổ tiếp dân."}
    status, page = desk.leader(SUBJECT, action="save", **edited)
    assert status == 200
    assert "Ủy ban Kiểm tra phường xem sổ tiếp dân." in page
    status, page = desk.leader(SUBJECT, action="submit")
    assert 'data-state="submitted"' in page

    status, body = desk.api("POST", f"/{SUBJECT}/accept")
    assert (status, body["state"], body["version"]) == (200, "accepted", 2)
    manifest = desk.manifest()
    plan = Plan.from_signed(body["plan"], manifest)
    assert plan.version == 2
    assert [i.check for i in plan.items] == ["Ủy ban Kiểm tra phường xem sổ tiếp dân."]
    status, body = desk.api("POST", f"/{SUBJECT}/accept")
    assert (status, body["error"]) == (409, "plan_accepted")
    status, page = desk.leader(SUBJECT, action="remove", item="item-1")
    assert status == 409
    assert 'data-item="item-1"' in page

    update = {"item": "item-1", "status": "partly", "note": "6 trên 8 tuần.", "date": "2026-08-01"}
    status, body = desk.api("POST", f"/{SUBJECT}/progress", json=update)
    assert status == 200
    earlier = {**update, "status": "not_done", "note": "Chưa bắt đầu.", "date": "2026-07-01"}
    desk.api("POST", f"/{SUBJECT}/progress", json=earlier)
    status, body = desk.api("POST", f"/{SUBJECT}/progress", json={**update, "item": "item-9"})
    assert (status, body["error"]) == (404, "unknown_item")
    progress = Progress.from_signed(desk.api("GET", f"/{SUBJECT}")[1]["progress"], manifest)
    assert [u.date.isoformat() for u in progress.updates] == ["2026-07-01", "2026-08-01"]
    assert progress.latest("item-1").status == "partly"  # type: ignore[union-attr]

    export = desk.client.get(f"/api/rounds/{desk.rid}/plans", headers=desk.admin)
    parsed = PlanExport.from_json(export.json(), manifest)
    assert parsed.plan(SUBJECT) == plan
    assert parsed.progress_of(SUBJECT) == progress
    assert desk.client.get(f"/api/rounds/{desk.rid}/plans").status_code == 403

    status, page = desk.leader(SUBJECT)
    assert 'data-status="partly"' in page
    # nothing about a plan touched the board or the results
    assert desk.client.get(f"/api/rounds/{desk.rid}/checkpoint").text == board
    after = desk.client.get(f"/api/rounds/{desk.rid}/results", headers=desk.admin).content
    assert after == results


def test_another_person_s_key_sees_only_their_own_plan(desk: Desk) -> None:
    status, page = desk.leader(OTHER)
    assert status == 200
    assert "Tiếp dân mỗi sáng thứ Năm" not in page
    status, body = desk.api("GET", "")
    assert status == 200
    assert {"subject": OTHER, "state": "none", "version": 0} in body
    status, body = desk.api("GET", "/nobody")
    assert (status, body["error"]) == (404, "unknown_subject")
    assert desk.client.get(f"/api/admin/rounds/{desk.rid}/plans").status_code == 401


def test_the_office_page(desk: Desk) -> None:
    c, rid = desk.client, desk.rid
    form = c.get(f"/plans/{rid}")
    assert form.status_code == 200
    assert 'name="token"' in form.text
    assert c.post(f"/plans/{rid}", data={"token": "nope"}).status_code == 401
    token = desk.office.token
    desk.leader(OTHER, action="add", **ITEM)
    desk.leader(OTHER, action="submit")
    page = c.post(f"/plans/{rid}", data={"token": token, "action": "show", "subject": OTHER})
    assert page.status_code == 200
    assert f'data-subject="{OTHER}" data-state="submitted"' in page.text
    assert page.headers["cache-control"] == "no-store"
    returned = c.post(
        f"/plans/{rid}",
        data={"token": token, "action": "return", "subject": OTHER, "remarks": "Cụ thể hơn."},
    )
    assert 'data-state="returned"' in returned.text
    desk.leader(OTHER, action="submit")
    accepted = c.post(f"/plans/{rid}", data={"token": token, "action": "accept", "subject": OTHER})
    assert 'data-state="accepted"' in accepted.text
    again = c.post(f"/plans/{rid}", data={"token": token, "action": "accept", "subject": OTHER})
    assert again.status_code == 409
    progress = c.post(
        f"/plans/{rid}",
        data={"token": token, "action": "progress", "subject": OTHER, "item": "item-1",
              "status": "done", "note": "Xong.", "date": "2026-10-01"},
    )  # fmt: skip
    assert 'data-status="done"' in progress.text


@pytest.mark.slow
def test_the_plan_commands(desk: Desk, tmp_path: Path) -> None:
    office = desk.office
    subject = "cu-khoi-secretary"
    desk.leader(subject, action="add", **ITEM)
    desk.leader(subject, action="submit")
    with server_thread(office.data, database=office.database) as url:
        env = {"ANONBALLOT_SERVER": url, "ANONBALLOT_TOKEN": office.token}

        def run(*args: str) -> tuple[int, str, str]:
            result = CliRunner().invoke(main, list(args), env=env)
            return result.exit_code, result.stdout, result.stderr

        code, out, _ = run("plan", "list", office.round_id)
        assert code == 0
        assert f"{subject}\tsubmitted\t1\t" in out
        code, out, _ = run("plan", "show", office.round_id, subject)
        assert "submitted, to review" in out
        assert "Tiếp dân mỗi sáng thứ Năm" in out
        code, _, err = run("plan", "return", office.round_id, subject, "--remarks", "Rõ hơn.")
        assert code == 0
        code, _, err = run("plan", "accept", office.round_id, subject)
        assert code == 2
        assert err.startswith("error: the plan is not submitted")
        desk.leader(subject, action="submit")
        code, out, _ = run("plan", "accept", office.round_id, subject)
        assert code == 0
        assert "(version 2)" in out
        code, _, err = run("plan", "accept", office.round_id, subject)
        assert code == 2
        assert "already accepted" in err
        code, out, _ = run(
            "plan", "progress", office.round_id, subject, "item-1", "--status", "done",
            "--note", "Đã làm.", "--date", "2026-09-01",
        )  # fmt: skip
        assert code == 0
        code, _, err = run(
            "plan", "progress", office.round_id, subject, "item-1", "--status", "done",
            "--note", "x", "--date", "2026-13-01",
        )  # fmt: skip
        assert code == 2
        out_file = tmp_path / "plans.json"
        code, out, _ = run("plan", "export", office.round_id, "--out", str(out_file))
        assert code == 0
        export = PlanExport.from_json(json.loads(out_file.read_text("utf-8")), desk.manifest())
        assert export.plan(subject) is not None
        assert export.progress_of(subject).latest("item-1").status == "done"  # type: ignore[union-attr]
        code, out, _ = run("plan", "show", office.round_id, subject, "--json")
        assert json.loads(out)["state"] == "accepted"
