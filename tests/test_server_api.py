"""The reference server's JSON API, in-process (Starlette's TestClient over httpx)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from anonballot import errors
from anonballot.audit import audit_record
from anonballot.encoding import b64u_decode, b64u_encode, parse_time
from anonballot.hazmat.merkle import verify_consistency
from anonballot.participant import Participant
from anonballot.receipt import Receipt
from anonballot.server.app import create_app
from anonballot.server.errors import AuthError, TooLarge, http_status
from anonballot.server.service import Service
from anonballot.testing import demo_config, random_answers
from anonballot.trustee import TrusteeKey


@dataclass
class Office:
    client: TestClient
    service: Service
    token: str
    round_id: str
    trustees: list[TrusteeKey]
    codes: list[tuple[str, str]]

    @property
    def admin(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def url(self, tail: str) -> str:
        return f"/api/rounds/{self.round_id}/{tail}"


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    service = Service(tmp_path / "data", key_bits=2048)
    token = service.new_admin_token()
    config, trustees = demo_config(
        wards=2, threshold=2, round_id="test-round", results_access="public"
    )
    client = TestClient(create_app(service))
    admin = {"authorization": f"Bearer {token}"}
    r = client.put("/api/admin/district", json=config.district.to_json(), headers=admin)
    assert r.status_code == 200, r.text
    rows = [{"ward": w.id, "name": f"Người {i}"} for w in config.district.wards for i in range(3)]
    r = client.post("/api/admin/roster", json={"rows": rows, "replace": False}, headers=admin)
    assert r.json()["imported"] == 6
    r = client.post("/api/admin/rounds", json=config.to_json(), headers=admin)
    assert r.status_code == 201, r.text
    r = client.post("/api/admin/rounds/test-round/invitations", headers=admin)
    codes = [(i["code"], i["ward"]) for i in r.json()]
    assert len(codes) == 6
    r = client.post("/api/admin/rounds/test-round/open", headers=admin)
    assert r.json()["state"] == "open"
    yield Office(client, service, token, "test-round", trustees, codes)
    client.close()
    service.close()


def vote(office: Office, code: str, seed: int = 0) -> tuple[Participant, bytes, dict[str, Any]]:
    import random

    c = office.client
    ward = c.post(office.url("ward"), json={"code": code}).json()["ward"]
    signed = c.get(office.url("manifest")).json()
    p = Participant(signed, ward)
    blinded = b64u_encode(p.request_token())
    answer = c.post(office.url("tokens"), json={"code": code, "blinded": blinded})
    assert answer.status_code == 200, answer.text
    p.finish_token(b64u_decode(answer.json()["blind_sig"]))
    leaf = p.make_leaf(random_answers(p.manifest, ward, random.Random(seed)))
    receipt = c.post(office.url("ballots"), content=leaf)
    assert receipt.status_code == 200, receipt.text
    p.check_receipt(receipt.json())
    return p, leaf, receipt.json()


def test_a_whole_round_through_the_api(office: Office, tmp_path: Path) -> None:
    c = office.client
    assert c.get("/api/rounds").json() == [
        {"round_id": "test-round", "mid": office.service.round("test-round").mid, "state": "open"}
    ]
    receipts = [vote(office, code, i)[2] for i, (code, _) in enumerate(office.codes[:5])]
    # the log: checkpoint, leaves, proofs
    note = c.get(office.url("checkpoint"))
    assert note.headers["content-type"].startswith("text/plain")
    lines = c.get(office.url("leaves"), params={"start": 0, "end": 5}).content.split(b"\n")
    assert len(lines) == 6
    assert lines[-1] == b""
    manifest = office.service.round("test-round").manifest
    last = Receipt.from_json(receipts[-1]).verify(manifest)
    first = Receipt.from_json(receipts[0]).verify(manifest)
    proof = c.get(office.url("proof/consistency"), params={"old": first.size, "new": last.size})
    verify_consistency(
        first.size,
        last.size,
        [b64u_decode(p) for p in proof.json()["proof"]],
        first.root,
        last.root,
    )
    inclusion = c.get(office.url("proof/inclusion"), params={"index": 0, "size": 5}).json()
    assert len(inclusion["proof"]) == 3
    assert c.get(office.url("close")).json()["error"] == "no_close"
    # turnout, close, releases, tally, record
    turnout = c.get("/api/admin/rounds/test-round/turnout", headers=office.admin).json()
    assert turnout["total"] == {"eligible": 6, "issued": 5, "cast": 5}
    assert (
        c.post(
            "/api/admin/rounds/test-round/close", headers=office.admin, json={"force": True}
        ).status_code
        == 200
    )
    mid = manifest.mid
    for trustee in office.trustees[:2]:
        r = c.post(office.url("releases"), json=trustee.release(mid))
        assert r.json() == {"trustee": trustee.id, "accepted": True}
    assert c.post("/api/admin/rounds/test-round/tally", headers=office.admin).status_code == 200
    results = c.get(office.url("results")).json()["results"]
    assert results["district"]["ballots"] == 5
    record = c.get(office.url("record"))
    assert record.headers["content-type"] == "application/zip"
    path = tmp_path / "record.zip"
    path.write_bytes(record.content)
    report = audit_record(path, workers=1)
    assert report.passed


def test_retries_answer_the_same_and_conflicts_are_409(office: Office) -> None:
    c = office.client
    code = office.codes[0][0]
    p, leaf, receipt = vote(office, code)
    assert p.request is not None
    again = c.post(
        office.url("tokens"), json={"code": code, "blinded": b64u_encode(p.request.blinded)}
    )
    assert again.status_code == 200
    other = Participant(c.get(office.url("manifest")).json(), p.ward)
    r = c.post(
        office.url("tokens"), json={"code": code, "blinded": b64u_encode(other.request_token())}
    )
    assert (r.status_code, r.json()["error"]) == (409, "code_used")
    assert c.post(office.url("ballots"), content=leaf).json() == receipt


ERROR_CASES = [
    ("post", "ward", {"content": b"{not json"}, 400, "bad_json"),
    ("post", "ward", {"json": {"code": 5}}, 400, "bad_request"),
    ("post", "ward", {"json": {"code": "x", "extra": 1}}, 400, "bad_request"),
    ("post", "ward", {"json": {"code": "AAAA"}}, 400, "bad_code"),
    ("post", "ward", {"json": {"code": "0000-0000-0000-0000"}}, 404, "unknown_code"),
    ("post", "ballots", {"content": b"x" * 300_000}, 413, "too_large"),
    ("post", "ballots", {"content": b"{}"}, 400, "bad_leaf"),
    ("get", "leaves?start=a&end=1", {}, 400, "bad_request"),
    ("get", "leaves?start=%C2%B2&end=1", {}, 400, "bad_request"),  # a digit, not ASCII
    ("get", "leaves?start=%D9%A1&end=1", {}, 400, "bad_request"),
    ("get", "leaves?start=0", {}, 400, "bad_request"),
    ("get", "leaves?start=1&end=0", {}, 400, "bad_range"),
    ("get", "leaves?start=0&end=99", {}, 400, "bad_range"),
    ("get", "proof/inclusion?index=3&size=1", {}, 400, "bad_range"),
    ("get", "proof/inclusion?index=0&size=1000000000000000000", {}, 400, "bad_request"),
    ("get", "proof/consistency?old=1&new=0", {}, 400, "bad_range"),
    ("get", "results", {}, 404, "no_results"),
    ("get", "record", {}, 409, "not_tallied"),
    ("post", "releases", {"json": {"release": {}}}, 409, "wrong_state"),
]


@pytest.mark.parametrize(("method", "tail", "kwargs", "status", "code"), ERROR_CASES)
def test_bad_input_gets_its_documented_error(
    office: Office, method: str, tail: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    r = getattr(office.client, method)(office.url(tail), **kwargs)
    assert (r.status_code, r.json()["error"]) == (status, code), r.text
    assert set(r.json()) == {"error", "detail"}


def test_unknown_round_path_and_admin_token(office: Office) -> None:
    c = office.client
    r = c.get("/api/rounds/nope/manifest")
    assert (r.status_code, r.json()["error"]) == (404, "unknown_round")
    assert c.get("/nothing-here").json()["error"] == "not_found"
    assert c.post("/api/admin/rounds/test-round/close").status_code == 401
    wrong = {"authorization": "Bearer wrong"}
    assert (
        c.post("/api/admin/rounds/test-round/close", headers=wrong).json()["error"]
        == "unauthorized"
    )
    r = c.get("/api/rounds")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"


def test_each_admin_step_is_its_own_route(office: Office) -> None:
    c = office.client
    for path, status, code in (
        ("/api/admin/rounds/test-round/reopen", 404, "not_found"),
        ("/api/admin/rounds/test-round/turnout", 405, "method_not_allowed"),
        ("/api/admin/rounds/test-round/open", 409, "wrong_state"),  # open already
        ("/api/admin/rounds/test-round/tally", 409, "wrong_state"),  # not closed
    ):
        r = c.post(path, headers=office.admin)
        assert (r.status_code, r.json()["error"]) == (status, code), path
        assert set(r.json()) == {"error", "detail"}
    assert c.delete("/api/admin/district", headers=office.admin).status_code == 405
    r = c.post("/api/admin/rounds/test-round/close", headers=office.admin, json={"force": True})
    assert r.json() == {"round_id": "test-round", "state": "closed"}


def test_the_service_clock_decides_the_windows(office: Office) -> None:
    """A service whose clock is past the round's windows refuses tokens and ballots."""
    config = office.service.round(office.round_id).config
    late = parse_time(config.voting.closes) + dt.timedelta(days=1)
    later = Service(office.service.data_dir, key_bits=2048, clock=lambda: late)
    try:
        with TestClient(create_app(later)) as c:
            code, ward = office.codes[0]
            p = Participant(c.get(office.url("manifest")).json(), ward)
            body = {"code": code, "blinded": b64u_encode(p.request_token())}
            r = c.post(office.url("tokens"), json=body)
            assert (r.status_code, r.json()["error"]) == (409, "outside_window")
            # the booth reads the server's time, not the device's, to judge the windows
            status = c.get(office.url("status")).json()
            assert status == {
                "round_id": office.round_id,
                "mid": office.service.round(office.round_id).mid,
                "state": "open",
                "now": late.isoformat().replace("+00:00", "Z"),
            }
            assert c.get("/api/rounds/nope/status").json()["error"] == "unknown_round"
        # the office's own service (the real time) still issues
        assert office.client.post(office.url("tokens"), json=body).status_code == 200
    finally:
        later.close()


def test_every_library_error_has_its_status_in_the_servers_table() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert 400 <= http_status(cls("x")) < 500, name
    expected = {
        errors.EncodingError: 400,
        errors.InvalidToken: 400,
        errors.OpenError: 400,
        AuthError: 401,
        errors.NotFound: 404,
        errors.Conflict: 409,
        errors.StateError: 409,
        TooLarge: 413,
    }
    assert {cls: http_status(cls("x")) for cls in expected} == expected


def test_openapi_lists_every_route(office: Office) -> None:
    doc = office.client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    for path in ("/api/rounds/{round_id}/tokens", "/api/rounds/{round_id}/proof/consistency"):
        assert path in doc["paths"]
