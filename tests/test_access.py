"""Who sees what (issue 8 section 2): restricted rounds, access tokens, personal links.

A restricted round and a public round, each of two demo wards, voted and tallied, are read
through Starlette's TestClient: every restricted route with no token, a wrong token, an
access token and the admin token; the routes that stay public; the public part of the record
audited with A10 to A12 not checked; a revoked token refused; a personal link's key giving
that person's page only. The commands (``access``, ``audit URL``, ``round export``) run in
``CliRunner`` against a server in a thread (slow).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _live import Office, demo_office, server_thread, vote_and_tally
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from anonballot.audit import audit_record
from anonballot.cli.main import main
from anonballot.server.app import create_app
from anonballot.server.service import Service


@dataclass
class Served:
    office: Office
    service: Service
    client: TestClient

    @property
    def rid(self) -> str:
        return self.office.round_id

    @property
    def admin(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.office.token}"}

    def grant(self, name: str = "Thường trực Quận ủy") -> tuple[int, str]:
        answer = self.client.post("/api/admin/access", json={"name": name}, headers=self.admin)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"], answer.json()["token"]


def _served(data: Path, results_access: str, database: str | None) -> Iterator[Served]:
    office = demo_office(data, wards=2, voters=5, results_access=results_access, database=database)
    vote_and_tally(office)
    service = Service(data, database=database)
    client = TestClient(create_app(service))
    try:
        yield Served(office, service, client)
    finally:
        client.close()
        service.close()


@pytest.fixture(scope="module")
def restricted(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], str | None]
) -> Iterator[Served]:
    """A tallied restricted round, on each back end."""
    yield from _served(tmp_path_factory.mktemp("restricted") / "data", "restricted", new_database())


@pytest.fixture(scope="module")
def public(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], str | None]
) -> Iterator[Served]:
    yield from _served(tmp_path_factory.mktemp("public") / "data", "public", new_database())


RESTRICTED_API = ["results", "releases", "record", "record?part=full", "plans"]
ALWAYS_PUBLIC = [
    "manifest", "checkpoint", "leaves?start=0&end=2", "proof/consistency?old=1&new=2", "close",
    "issuance", "turnout", "record?part=public",
]  # fmt: skip


@pytest.mark.parametrize("path", RESTRICTED_API)
def test_a_restricted_round_s_confidential_part_needs_a_reader(
    restricted: Served, path: str
) -> None:
    url = f"/api/rounds/{restricted.rid}/{path}"
    c = restricted.client
    for headers in ({}, {"authorization": "Bearer not-a-token"}, {"authorization": "Basic x"}):
        answer = c.get(url, headers=headers)
        assert answer.status_code == 403, (headers, answer.text)
        assert answer.json()["error"] == "restricted"
    _, token = restricted.grant()
    assert c.get(url, headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert c.get(url, headers=restricted.admin).status_code == 200


@pytest.mark.parametrize("path", RESTRICTED_API)
def test_a_public_round_s_results_are_everyone_s(public: Served, path: str) -> None:
    assert public.client.get(f"/api/rounds/{public.rid}/{path}").status_code == 200


@pytest.mark.parametrize("path", ALWAYS_PUBLIC)
def test_what_stays_public_in_a_restricted_round(restricted: Served, path: str) -> None:
    answer = restricted.client.get(f"/api/rounds/{restricted.rid}/{path}")
    assert answer.status_code == 200, answer.text


def test_public_turnout_counts(restricted: Served) -> None:
    turnout = restricted.client.get(f"/api/rounds/{restricted.rid}/turnout").json()
    assert turnout["total"] == {"eligible": 10, "issued": 10, "cast": 10}
    assert set(turnout["wards"]) == {"bo-de", "cu-khoi"}


def test_a_bad_part_is_refused(restricted: Served) -> None:
    answer = restricted.client.get(f"/api/rounds/{restricted.rid}/record?part=secret")
    assert (answer.status_code, answer.json()["error"]) == (400, "bad_request")


def test_the_public_part_audits_with_a10_to_a12_not_checked(
    restricted: Served, tmp_path: Path
) -> None:
    answer = restricted.client.get(f"/api/rounds/{restricted.rid}/record?part=public")
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert not [n for n in names if "releases/" in n or n.endswith("results.json")]
    assert 'filename="test-round-public.zip"' in answer.headers["content-disposition"]
    path = tmp_path / "public.zip"
    path.write_bytes(answer.content)
    report = audit_record(path, workers=1)
    assert report.passed
    assert not report.complete
    statuses = {cid: c.status for cid, c in report.checks.items()}
    assert {statuses[c] for c in ("A10", "A11", "A12")} == {"not_checked"}
    assert {statuses[f"A{i}"] for i in range(1, 10)} == {"passed"}
    full = tmp_path / "full.zip"
    full.write_bytes(
        restricted.client.get(f"/api/rounds/{restricted.rid}/record", headers=restricted.admin)
        .content
    )  # fmt: skip
    report = audit_record(full, workers=1)
    assert report.passed
    assert report.complete


def test_access_tokens_listed_and_revoked(restricted: Served) -> None:
    c = restricted.client
    token_id, token = restricted.grant("Ủy ban Kiểm tra Quận ủy")
    listed = c.get("/api/admin/access", headers=restricted.admin).json()
    assert {"id": token_id, "name": "Ủy ban Kiểm tra Quận ủy"} in listed
    assert token not in str(listed)
    reader = {"authorization": f"Bearer {token}"}
    assert c.get(f"/api/rounds/{restricted.rid}/results", headers=reader).status_code == 200
    answer = c.delete(f"/api/admin/access/{token_id}", headers=restricted.admin)
    assert answer.json() == {"id": token_id, "revoked": True}
    assert c.get(f"/api/rounds/{restricted.rid}/results", headers=reader).status_code == 403
    again = c.delete(f"/api/admin/access/{token_id}", headers=restricted.admin)
    assert (again.status_code, again.json()["error"]) == (404, "unknown_access_token")
    # an access token is no admin token
    assert c.get("/api/admin/access", headers=reader).status_code == 401
    assert (
        c.post("/api/admin/access", json={"name": " "}, headers=restricted.admin).status_code == 400
    )


# -- pages ----------------------------------------------------------------------------------


def test_the_results_page_asks_for_a_token(restricted: Served) -> None:
    c, rid = restricted.client, restricted.rid
    form = c.get(f"/results/{rid}")
    assert form.status_code == 200
    assert 'name="token"' in form.text
    assert "data-count" not in form.text
    _, token = restricted.grant()
    page = c.post(f"/results/{rid}", data={"token": token})
    assert page.status_code == 200
    assert "data-count" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert c.post(f"/results/{rid}", data={"token": restricted.office.token}).status_code == 200
    wrong = c.post(f"/results/{rid}", data={"token": "nope"})
    assert wrong.status_code == 403
    assert "data-count" not in wrong.text
    one = c.post(f"/results/{rid}?ward=bo-de", data={"token": token})
    assert 'data-ward="bo-de"' in one.text
    assert 'data-ward="cu-khoi"' not in one.text
    assert "text/html" in c.get(f"/results/{rid}.xlsx").headers["content-type"]
    xlsx = c.post(f"/results/{rid}.xlsx", data={"token": token})
    assert xlsx.status_code == 200
    assert xlsx.content.startswith(b"PK")
    assert c.post(f"/results/{rid}.xlsx", data={"token": "nope"}).status_code == 403


def test_a_public_round_s_pages_are_unchanged(public: Served) -> None:
    page = public.client.get(f"/results/{public.rid}")
    assert page.status_code == 200
    assert "data-count" in page.text
    assert public.client.get(f"/results/{public.rid}.xlsx").content.startswith(b"PK")


def test_the_committee_report_is_for_readers(
    restricted: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, rid = restricted.client, restricted.rid
    names = [s.name["vi"] for s in restricted.service.round(rid).manifest.subjects]
    form = c.get(f"/committee/{rid}")
    assert form.status_code == 200
    assert 'name="token"' in form.text
    assert not any(name in form.text for name in names)
    assert c.post(f"/committee/{rid}", data={"token": "nope"}).status_code == 403
    _, token = restricted.grant("Ủy ban Kiểm tra")
    page = c.post(f"/committee/{rid}", data={"token": token})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert all(name in page.text for name in names)
    # the page's download buttons post the token again, never put it in a URL
    assert f'action="{rid}.pdf?lang=vi"' in page.text
    assert f'name="token" value="{token}"' in page.text
    assert token not in page.text.split("<main>")[0]
    assert "anonballot report" in page.text  # the server does not audit its own record
    xlsx = c.post(f"/committee/{rid}.xlsx", data={"token": token})
    assert xlsx.status_code == 200
    assert xlsx.content.startswith(b"PK")
    assert "committee" in xlsx.headers["content-disposition"]
    assert "text/html" in c.get(f"/committee/{rid}.xlsx").headers["content-type"]
    assert c.post(f"/committee/{rid}.odt", data={"token": token}).status_code == 404
    assert c.get("/committee/no-such-round").status_code == 404
    monkeypatch.setenv("ANONBALLOT_CHROMIUM", "no-such-chromium")
    missing = c.post(f"/committee/{rid}.pdf", data={"token": token})
    assert missing.status_code == 503
    assert "Chromium" in missing.text


@pytest.mark.slow
def test_the_committee_report_as_pdf(restricted: Served) -> None:
    c, rid = restricted.client, restricted.rid
    _, token = restricted.grant()
    pdf = c.post(f"/committee/{rid}.pdf?lang=en", data={"token": token})
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["cache-control"] == "no-store"


def test_the_results_page_offers_the_committee_report(restricted: Served, public: Served) -> None:
    _, token = restricted.grant()
    page = restricted.client.post(f"/results/{restricted.rid}", data={"token": token})
    assert f'action="../committee/{restricted.rid}?lang=vi"' in page.text
    assert f'value="{token}"' in page.text
    assert "part=public" in page.text
    open_page = public.client.get(f"/results/{public.rid}")
    assert f'href="../committee/{public.rid}?lang=vi"' in open_page.text
    committee = public.client.get(f"/committee/{public.rid}")
    assert committee.status_code == 200
    assert 'name="token" value' not in committee.text


# -- personal links -------------------------------------------------------------------------


def test_a_leader_key_gives_that_person_s_page_only(restricted: Served) -> None:
    c, rid = restricted.client, restricted.rid
    keys = c.post(f"/api/admin/rounds/{rid}/leaders", headers=restricted.admin).json()
    manifest = restricted.service.round(rid).manifest
    names = {s.id: s.name["vi"] for s in manifest.subjects}
    assert {k["subject"] for k in keys} == set(names)
    page = c.get(f"/leader/{rid}")
    assert page.status_code == 200
    assert 'src="../static/js/leader-page.js"' in page.text
    assert "<script>" not in page.text
    for entry in keys:
        answer = c.post(f"/leader/{rid}", data={"key": entry["key"]})
        assert answer.status_code == 200
        assert "text/html" in answer.headers["content-type"]
        assert answer.headers["cache-control"] == "no-store"
        assert names[entry["subject"]] in answer.text
        others = [n for s, n in names.items() if s != entry["subject"]]
        assert not [n for n in others if n in answer.text]
        printable = c.post(f"/leader/{rid}/report", data={"key": entry["key"]})
        assert printable.status_code == 200
        assert names[entry["subject"]] in printable.text
        assert not [n for n in others if n in printable.text]
    wrong = c.post(f"/leader/{rid}", data={"key": "A" * 22})
    assert wrong.status_code == 403
    assert "Mã không đúng" in wrong.text
    assert not [n for n in names.values() if n in wrong.text]
    # new keys void the old ones
    old = keys[0]["key"]
    c.post(f"/api/admin/rounds/{rid}/leaders", headers=restricted.admin)
    assert c.post(f"/leader/{rid}", data={"key": old}).status_code == 403
    assert c.post(f"/leader/{rid}/report", data={"key": old}).status_code == 403


def test_leader_keys_need_the_admin_token_and_a_tally(restricted: Served) -> None:
    c = restricted.client
    assert c.post(f"/api/admin/rounds/{restricted.rid}/leaders").status_code == 401
    _, token = restricted.grant()
    reader = {"authorization": f"Bearer {token}"}
    assert c.post(f"/api/admin/rounds/{restricted.rid}/leaders", headers=reader).status_code == 401


# -- the commands (a server in a thread) ----------------------------------------------------


@pytest.mark.slow
def test_access_commands_audit_and_export(restricted: Served, tmp_path: Path) -> None:
    office = restricted.office
    with server_thread(office.data, database=office.database) as url:
        env = {"ANONBALLOT_SERVER": url, "ANONBALLOT_TOKEN": office.token}
        runner = CliRunner()

        def run(*args: str, **extra: str) -> Result:
            return runner.invoke(main, list(args), env={**env, **extra})

        granted = run("access", "grant", "--name", "Ủy ban Kiểm tra Quận ủy")
        assert granted.exit_code == 0, granted.output
        token = granted.stdout.strip()
        assert len(token.splitlines()) == 1
        assert "Ủy ban Kiểm tra" in granted.stderr
        token_file = tmp_path / "kiem-tra.token"
        token_file.write_text(token + "\n", encoding="utf-8")
        listed = run("access", "list")
        assert "Ủy ban Kiểm tra Quận ủy" in listed.stdout
        assert token not in listed.stdout

        no_token = {"ANONBALLOT_TOKEN": ""}
        public_audit = run("audit", url, "--round", office.round_id, "--workers", "1", **no_token)
        assert public_audit.exit_code == 0, public_audit.output
        assert "A10 to A12 not checked" in public_audit.stdout
        assert "restricted" in public_audit.stderr
        full = run(
            "audit", url, "--round", office.round_id, "--workers", "1",
            "--access-token-file", str(token_file), **no_token,
        )  # fmt: skip
        assert full.exit_code == 0
        assert "RESULT: all checks pass" in full.stdout
        wrong = tmp_path / "wrong.token"
        wrong.write_text("nope", encoding="utf-8")
        refused = run(
            "audit", url, "--round", office.round_id, "--access-token-file", str(wrong), **no_token
        )
        assert refused.exit_code == 2
        assert "error:" in refused.stderr

        out = tmp_path / "record.zip"
        exported = run("round", "export", office.round_id, "--out", str(out), **no_token)
        assert exported.exit_code == 2
        assert "restricted" in exported.stderr
        exported = run(
            "round", "export", office.round_id, "--out", str(out),
            "--access-token-file", str(token_file), **no_token,
        )  # fmt: skip
        assert exported.exit_code == 0
        assert audit_record(out, workers=1).complete
        public_part = tmp_path / "public.zip"
        run("round", "export", office.round_id, "--out", str(public_part), "--public-part")
        assert not audit_record(public_part, workers=1).complete

        said = re.search(r"access token (\d+) for «Ủy ban Kiểm tra Quận ủy»", granted.stderr)
        assert said is not None
        token_id = said.group(1)
        assert f"{token_id}\tỦy ban Kiểm tra Quận ủy" in listed.stdout.splitlines()
        assert run("access", "revoke", token_id).exit_code == 0
        revoked = run(
            "audit", url, "--round", office.round_id, "--access-token-file", str(token_file),
            **no_token,
        )  # fmt: skip
        assert revoked.exit_code == 2


@pytest.mark.slow
def test_leaders_slips(restricted: Served, tmp_path: Path) -> None:
    from test_slips import decode, svg_image

    office = restricted.office
    with server_thread(office.data, database=office.database) as url:
        out = tmp_path / "leaders.html"
        result = CliRunner().invoke(
            main,
            ["leaders", "slips", office.round_id, "--out", str(out), "--server-url",
             "https://bau-cu.long-bien.example"],
            env={"ANONBALLOT_SERVER": url, "ANONBALLOT_TOKEN": office.token},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "slips printed before no longer work" in result.stderr
        page = out.read_text(encoding="utf-8")
        assert (out.stat().st_mode & 0o777) == 0o600
        assert page.count('class="slip"') == 4
        links = sorted(set(re.findall(r"https://[^<\"]+#key=[\w-]{22}", page)))
        assert len(links) == 4
        svg = page[page.index("<svg") : page.index("</svg>") + 6]
        assert decode(svg_image(svg)) in links
        key = links[0].split("#key=")[1]
        client = restricted.client
        assert client.post(f"/leader/{office.round_id}", data={"key": key}).status_code == 200
