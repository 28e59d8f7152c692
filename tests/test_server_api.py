"""The reference server's JSON API, in-process (Starlette's TestClient over httpx)."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import tempfile
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
from anonballot.server.store import Database
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
def office(tmp_path: Path, database: str | None) -> Iterator[Office]:
    """The API's office on each back end (SQLite, PostgreSQL)."""
    service = Service(tmp_path / "data", key_bits=2048, database=database)
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


def test_a_whole_round_through_the_api(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = office.client
    spool = tmp_path / "spool"  # where the server writes the records it sends
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
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
    assert not list(spool.iterdir())  # the record's temporary file is gone once sent


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
    later = Service(
        office.service.data_dir, key_bits=2048, clock=lambda: late, database=office.service.database
    )
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
        if cls is errors.SigningFault:  # the server's own fault: nothing done, try again
            continue
        assert 400 <= http_status(cls("x")) < 500, name
    expected = {
        errors.SigningFault: 503,
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


# -- bounded and uniform answers (issue 9, "bounded clients and inputs") ----------------------

NOT_ASCII_INTEGERS = ["²", "١", "１", "1_0", "+1", " 1", "1 ", "-0", "0x1", ""]


@pytest.mark.parametrize("raw", NOT_ASCII_INTEGERS)
@pytest.mark.parametrize(
    ("tail", "names"),
    [("leaves", ("start", "end")), ("proof/inclusion", ("index", "size")),
     ("proof/consistency", ("old", "new"))],
)  # fmt: skip
def test_integer_parameters_take_ascii_digits_only(
    office: Office, tail: str, names: tuple[str, str], raw: str
) -> None:
    for bad in names:
        params = {name: raw if name == bad else "0" for name in names}
        r = office.client.get(office.url(tail), params=params)
        assert (r.status_code, r.json()["error"]) == (400, "bad_request"), r.text


def _asgi(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """The status of one request made straight to the ASGI app, headers as given (an
    HTTP client would refuse to send some of them)."""
    import asyncio

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


@pytest.mark.parametrize("raw", ["²", "١", "1_0", "+5"])
def test_content_length_takes_ascii_digits_only(office: Office, raw: str) -> None:
    headers = [(b"content-length", raw.encode("latin-1", "replace")),
               (b"content-type", b"application/json")]  # fmt: skip
    status = _asgi(office.client.app, "POST", office.url("ward"), headers, b'{"code": "x"}')
    assert status == 400


def _assert_security_headers(r: Any) -> None:
    from anonballot.server.app import SECURITY_HEADERS

    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (r.status_code, name)
    if r.request.url.path.startswith("/api/"):
        assert r.headers.get("cache-control") == "no-store"


def test_error_answers_carry_the_security_headers(office: Office, monkeypatch: Any) -> None:
    c = office.client
    answers = [
        c.get("/no/such/page"),  # Starlette's own 404
        c.get("/api/nothing"),
        c.put("/api/rounds"),  # Starlette's own 405
        c.post(office.url("ward"), content=b"{"),  # 400
        c.post(office.url("ward"), content=b" " * (300 * 1024)),  # 413
        c.get("/api/rounds/no-such-round/manifest"),  # 404 of the library
    ]
    for r in answers:
        assert 400 <= r.status_code < 500, r.text
        assert set(r.json()) == {"error", "detail"}
        _assert_security_headers(r)
    # the last resort: an unexpected failure's 500, made outside every middleware
    monkeypatch.setattr(office.service, "round_ids", _raise(PermissionError(13, "denied")))
    failing = TestClient(office.client.app, raise_server_exceptions=False)
    r = failing.get("/api/rounds")
    assert (r.status_code, r.json()["error"]) == (500, "internal_error")
    _assert_security_headers(r)


def _raise(exc: BaseException) -> Any:
    def fail(*args: object, **kwargs: object) -> None:
        raise exc

    return fail


def test_method_not_allowed_says_which_are(office: Office) -> None:
    c = office.client
    r = c.delete(office.url("releases"))  # two routes at this path: GET and POST
    assert (r.status_code, r.json()["error"]) == (405, "method_not_allowed")
    assert r.headers["allow"] == "GET, HEAD, POST"
    assert c.put("/api/rounds").headers["allow"] == "GET, HEAD"
    assert c.get(office.url("ballots")).headers["allow"] == "POST"
    static = c.post("/static/booth.css")  # a mount: its files are read with GET and HEAD
    assert (static.status_code, static.json()["error"]) == (405, "method_not_allowed")
    assert static.headers["allow"] == "GET, HEAD"


def test_trailing_slash_is_not_redirected_to_the_host_asked_for(office: Office) -> None:
    for path in ("/api/rounds/", "/verify/", f"{office.url('manifest')}/"):
        r = office.client.get(path, headers={"host": "evil.example"}, follow_redirects=False)
        assert (r.status_code, r.json()["error"]) == (404, "not_found"), path
        assert "location" not in r.headers
        _assert_security_headers(r)


@pytest.mark.parametrize("database", [None])  # SQLite's own full disk, made on purpose
def test_full_disk_is_503_storage_full_and_loses_nothing(
    office: Office, caplog: pytest.LogCaptureFixture
) -> None:
    import random

    c = office.client
    code, ward = office.codes[0]
    p = Participant(c.get(office.url("manifest")).json(), ward)
    blinded = b64u_encode(p.request_token())
    answer = c.post(office.url("tokens"), json={"code": code, "blinded": blinded})
    p.finish_token(b64u_decode(answer.json()["blind_sig"]))
    answers = random_answers(p.manifest, ward, random.Random(0))
    for answer in answers.values():  # every comment at its longest: a leaf of several pages
        answer["comments"] = {f.id: "x" * f.max_chars for f in p.manifest.questionnaire.comments}
    leaf = p.make_leaf(answers)
    # SQLite's own "database or disk is full": the database may not grow by a page, and a
    # filler takes the free pages it has
    assert isinstance(office.service.db, Database)  # not PostgreSQL's
    conn = office.service.db.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages + 16}")
    conn.execute("CREATE TABLE filler(x BLOB)")
    with contextlib.suppress(sqlite3.OperationalError):
        for _ in range(1000):
            conn.execute("INSERT INTO filler VALUES(zeroblob(4096))")
    with caplog.at_level("WARNING"):
        full = c.post(office.url("ballots"), content=leaf)
    assert (full.status_code, full.json()["error"]) == (503, "storage_full"), full.text
    _assert_security_headers(full)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert any("disk is full" in r.getMessage() for r in caplog.records)
    conn.execute(f"PRAGMA max_page_count={1 << 30}")
    cast = c.post(office.url("ballots"), content=leaf)  # room again: the same leaf is taken
    assert cast.status_code == 200, cast.text
    assert cast.json()["leaf_index"] == 0


def test_no_space_left_is_503_and_another_os_error_500(office: Office, monkeypatch: Any) -> None:
    import errno

    client = TestClient(office.client.app, raise_server_exceptions=False)
    monkeypatch.setattr(office.service, "round_ids", _raise(OSError(errno.ENOSPC, "No space")))
    r = client.get("/api/rounds")
    assert (r.status_code, r.json()["error"]) == (503, "storage_full")
    monkeypatch.setattr(office.service, "round_ids", _raise(OSError(errno.EIO, "I/O error")))
    assert client.get("/api/rounds").status_code == 500


def test_trivial_blinded_values_are_refused_and_spend_nothing(office: Office) -> None:
    c = office.client
    code, ward = office.codes[0]
    key = office.service.round("test-round").manifest.issuer_key(ward)
    k, n = key.modulus_bytes, key.to_cryptography().public_numbers().n
    for value in (0, 1, n - 1, n):
        blinded = b64u_encode(value.to_bytes(k, "big"))
        r = c.post(office.url("tokens"), json={"code": code, "blinded": blinded})
        assert (r.status_code, r.json()["error"]) == (400, "bad_blinded"), (value, r.text)
    short = b64u_encode(b"\x05" * (k - 1))
    r = c.post(office.url("tokens"), json={"code": code, "blinded": short})
    assert (r.status_code, r.json()["error"]) == (400, "bad_blinded")
    # the code was not spent: a real request gets its token
    p = Participant(c.get(office.url("manifest")).json(), ward)
    r = c.post(office.url("tokens"), json={"code": code, "blinded": b64u_encode(p.request_token())})
    assert r.status_code == 200, r.text
    p.finish_token(b64u_decode(r.json()["blind_sig"]))


def test_identical_leaf_again_gets_the_same_receipt(office: Office) -> None:
    import random

    c = office.client
    engine = office.service.round("test-round")
    leaves: list[bytes] = []
    for code, ward in office.codes[:3]:
        p = Participant(c.get(office.url("manifest")).json(), ward)
        blinded = b64u_encode(p.request_token())
        answer = c.post(office.url("tokens"), json={"code": code, "blinded": blinded})
        p.finish_token(b64u_decode(answer.json()["blind_sig"]))
        leaves.append(p.make_leaf(random_answers(p.manifest, ward, random.Random(len(leaves)))))
    # two ballots in one group commit (one checkpoint of size 2), one more after them
    group = engine.cast_many(leaves[:2])
    assert c.post(office.url("ballots"), content=leaves[2]).status_code == 200
    for leaf, receipt in zip(leaves[:2], group, strict=True):
        again = c.post(office.url("ballots"), content=leaf)
        assert again.status_code == 200, again.text
        assert isinstance(receipt, Receipt)
        assert again.json() == receipt.to_json()


def test_a_signing_fault_is_the_server_s_and_nothing_is_issued(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blind signature that fails the server's own check (a computation fault, RFC 9474
    section 7) answers 503 signing_fault: nothing was issued, and the same request again is
    served once the fault is gone."""
    from anonballot.errors import SigningFault
    from anonballot.server import batcher
    from anonballot.tokens import IssuerKey

    monkeypatch.setattr(batcher, "_default_signers", batcher.BlindSigners(0))  # in this process
    real = IssuerKey.sign_blinded

    def faulty(self: IssuerKey, blinded: bytes) -> bytes:
        raise SigningFault("blind signing fault: the signature does not verify")

    monkeypatch.setattr(IssuerKey, "sign_blinded", faulty)
    c = office.client
    code, ward = office.codes[0]
    signed = c.get(office.url("manifest")).json()
    p = Participant(signed, ward)
    body = {"code": code, "blinded": b64u_encode(p.request_token())}
    answer = c.post(office.url("tokens"), json=body)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "signing_fault"
    monkeypatch.setattr(IssuerKey, "sign_blinded", real)
    again = c.post(office.url("tokens"), json=body)
    assert again.status_code == 200, again.text
    p.finish_token(b64u_decode(again.json()["blind_sig"]))
