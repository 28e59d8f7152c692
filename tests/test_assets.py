"""The participants' static files and pages as the server answers them (server/assets.py).

Gzip when the request takes it (``Content-Encoding``, ``Vary: Accept-Encoding``), a strong
ETag per encoding and 304 to ``If-None-Match``, immutable caching under the static folder's
version and ``no-cache`` everywhere else, the pages' static addresses under that version with
``modulepreload`` links for their whole module graph, and the server's security headers on
every answer. The last test loads the booth in Debian's Chromium twice: the first time every
file arrives gzipped, each once (the preloads, the round's manifest's too, are the requests
the page uses), the second time only the page is asked again.
"""

from __future__ import annotations

import gzip
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _browser import launch_chromium
from _live import ROUND, demo_office, server_thread
from starlette.testclient import TestClient

from anonballot.server.app import SECURITY_HEADERS, create_app
from anonballot.server.assets import (
    IMMUTABLE,
    REVALIDATE,
    StaticFolder,
    accepts_gzip,
    etag_matches,
)
from anonballot.server.booth import STATIC
from anonballot.server.service import Service

PAGES = {"/": "index.html", "/r/test-round": "booth.html", "/verify": "verify.html"}
GZIP = {"accept-encoding": "gzip"}
IDENTITY = {"accept-encoding": "identity"}
FOLDER = StaticFolder(STATIC)
VERSION = FOLDER.version
STATIC_REF = re.compile(r'\s(?:src|href)="((?:\.\./)*static/[^"]*)"')
IMPORT = re.compile(r'from "\./([\w-]+\.js)"')


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    service = Service(tmp_path_factory.mktemp("assets") / "data", key_bits=2048)
    try:
        with TestClient(create_app(service)) as c:
            yield c
    finally:
        service.close()


def raw(client: TestClient, path: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """The answer and its body exactly as sent (httpx would gunzip it)."""
    with client.stream("GET", path, headers=headers) as answer:
        return answer, b"".join(answer.iter_raw())


def assert_security_headers(answer: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value, name


# --------------------------------------------------------------------------- the files


@pytest.mark.parametrize("name", sorted(FOLDER.files))
def test_every_file_is_gzipped_pinned_and_has_a_strong_etag(client: TestClient, name: str) -> None:
    data = (STATIC / name).read_bytes()
    answer, body = raw(client, f"/static/{VERSION}/{name}", GZIP)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == IMMUTABLE
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == data
    assert int(answer.headers["content-length"]) == len(body) < len(data)
    etag = answer.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}-gzip"', etag)  # strong: no W/
    assert_security_headers(answer)

    plain, plain_body = raw(client, f"/static/{VERSION}/{name}", IDENTITY)
    assert plain_body == data
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"  # the answer depends on the header
    assert re.fullmatch(r'"[0-9a-f]{32}"', plain.headers["etag"])
    assert plain.headers["etag"] != etag  # one ETag per encoding


def test_media_types(client: TestClient) -> None:
    expected = {
        "js/booth.js": "text/javascript; charset=utf-8",
        "css/booth.css": "text/css; charset=utf-8",
        "i18n/vi.json": "application/json",
        "favicon.svg": "image/svg+xml",
        "booth.html": "text/html; charset=utf-8",
    }
    for name, media in expected.items():
        assert client.get(f"/static/{VERSION}/{name}").headers["content-type"] == media


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("br;q=1, *;q=0.1", True),
        ("identity", False),
        ("", False),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("*;q=0", False),
        ("gzip;q=0, *", False),  # gzip named and refused: the * does not bring it back
        ("br, deflate", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding(client: TestClient, header: str, gzipped: bool) -> None:
    assert accepts_gzip(header) is gzipped
    answer, _ = raw(client, f"/static/{VERSION}/js/codes.js", {"accept-encoding": header})
    assert (answer.headers.get("content-encoding") == "gzip") is gzipped


def test_conditional_requests(client: TestClient) -> None:
    path = f"/static/{VERSION}/js/booth-state.js"
    etag = client.get(path, headers=GZIP).headers["etag"]
    plain_etag = client.get(path, headers=IDENTITY).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        answer, body = raw(client, path, {**GZIP, "if-none-match": header})
        assert answer.status_code == 304, header
        assert body == b""
        assert answer.headers["etag"] == etag
        assert answer.headers["cache-control"] == IMMUTABLE
        assert answer.headers["vary"] == "Accept-Encoding"
        assert "content-length" not in answer.headers
        assert_security_headers(answer)
    for header in ('"other"', plain_etag):  # the ETag of the other encoding is not this one
        assert client.get(path, headers={**GZIP, "if-none-match": header}).status_code == 200
    assert client.get(path, headers={**IDENTITY, "if-none-match": plain_etag}).status_code == 304
    assert etag_matches(None, etag) is False


def test_head_answers_the_headers_only(client: TestClient) -> None:
    path = f"/static/{VERSION}/i18n/vi.json"
    get, body = raw(client, path, GZIP)
    head = client.head(path, headers=GZIP)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(body))
    assert head.headers["etag"] == get.headers["etag"]


def test_without_the_current_version_files_are_revalidated(client: TestClient) -> None:
    data = (STATIC / "js" / "booth.js").read_bytes()
    for path in ("/static/js/booth.js", "/static/0123456789abcdef/js/booth.js"):
        answer = client.get(path, headers=GZIP)
        assert answer.status_code == 200, path
        assert answer.content == data
        assert answer.headers["cache-control"] == REVALIDATE
        assert answer.headers["etag"]
        assert (
            client.get(path, headers={**GZIP, "if-none-match": answer.headers["etag"]}).status_code
            == 304
        )


@pytest.mark.parametrize(
    "path",
    [
        "/static/nothing.js",
        f"/static/{VERSION}/nothing.js",
        f"/static/{VERSION}",
        f"/static/{VERSION}/",
        "/static/",
        "/static/js",
        "/static/js/",
        f"/static/{VERSION}/{VERSION}/js/booth.js",
        "/static/%2e%2e/app.py",
        f"/static/{VERSION}/%2e%2e/%2e%2e/app.py",
        "/static/js/../../app.py",
    ],
)
def test_nothing_else_is_served(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404, path
    assert answer.json()["error"] == "not_found"


def test_only_get_and_head(client: TestClient) -> None:
    assert client.post(f"/static/{VERSION}/js/booth.js").status_code == 405


def test_the_version_follows_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "static"
    shutil.copytree(STATIC, folder)
    before = StaticFolder(folder)
    assert before.version == VERSION  # a hash of the files, not of where they are
    catalog = folder / "i18n" / "en.json"
    catalog.write_bytes(catalog.read_bytes().replace(b"Check", b"Verify", 1))
    after = StaticFolder(folder)
    assert after.version != before.version
    assert after.files["i18n/en.json"].plain.etag != before.files["i18n/en.json"].plain.etag
    assert after.files["js/booth.js"].plain.etag == before.files["js/booth.js"].plain.etag
    (folder / "js" / "new.js").write_text("// @ts-check\n", encoding="utf-8")
    assert StaticFolder(folder).version not in (before.version, after.version)
    (folder / ".editor-swap").write_text("not served", encoding="utf-8")
    assert ".editor-swap" not in StaticFolder(folder).files


def test_the_module_graph() -> None:
    modules = {p.name for p in (STATIC / "js").glob("*.js")}
    for name in modules:
        graph = FOLDER.imports(f"js/{name}")
        assert f"js/{name}" not in graph
        assert len(graph) == len(set(graph))
        # closed: whatever a module of the graph imports is in it too
        for member in [f"js/{name}", *graph]:
            text = (STATIC / member).read_text(encoding="utf-8")
            for imported in IMPORT.findall(text):
                assert f"js/{imported}" in graph or f"js/{imported}" == f"js/{name}", (
                    member,
                    imported,
                )
    assert FOLDER.imports("js/errors.js") == []
    assert {"js/booth-state.js", "js/rsa-blind.js", "js/errors.js", "js/i18n.js"} <= set(
        FOLDER.imports("js/booth.js")
    )


# --------------------------------------------------------------------------- the pages


@pytest.mark.parametrize("path", sorted(PAGES))
def test_pages_are_pinned_gzipped_and_revalidated(client: TestClient, path: str) -> None:
    answer, body = raw(client, path, GZIP)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == REVALIDATE
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert_security_headers(answer)
    etag = answer.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}-gzip"', etag)
    again, again_body = raw(client, path, {**GZIP, "if-none-match": etag})
    assert again.status_code == 304
    assert again_body == b""
    assert again.headers["cache-control"] == REVALIDATE

    html = gzip.decompress(body).decode("utf-8")
    source = (STATIC / PAGES[path]).read_text(encoding="utf-8")
    refs = STATIC_REF.findall(html)
    assert len(refs) > len(STATIC_REF.findall(source))  # the preloads came in addition
    base = httpx.URL(f"http://testserver{path}")
    for ref in refs:
        assert ref.split("static/", 1)[1].startswith(f"{VERSION}/"), ref
        target = base.join(ref)
        assert target.path.startswith(f"/static/{VERSION}/")
        fetched = client.get(target.path)
        assert fetched.status_code == 200, ref
        assert fetched.headers["cache-control"] == IMMUTABLE
    # what the page links to, it still links to, only under the version
    assert [r.replace(f"static/{VERSION}/", "static/") for r in STATIC_REF.findall(html)][
        : len(STATIC_REF.findall(source))
    ] == STATIC_REF.findall(source)
    [entry] = re.findall(r'<script type="module" src="[./]*static/[0-9a-f]{16}/([^"]+)"', html)
    preloads = re.findall(
        r'<link rel="modulepreload" href="[./]*static/[0-9a-f]{16}/([^"]+)">', html
    )
    assert preloads == FOLDER.imports(entry)
    catalog = (
        r'<link rel="preload" href="[./]*static/[0-9a-f]{16}/i18n/vi\.json" as="fetch" crossorigin>'
    )
    assert re.search(catalog, html)
    manifest = (
        '<link rel="preload" href="../api/rounds/test-round/manifest" as="fetch" crossorigin>'
    )
    assert (manifest in html) is (path == "/r/test-round")
    assert html.index("modulepreload") < html.index("</head>")
    # still no inline script or style: the Content-Security-Policy would block it
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html
    assert " style=" not in html


# --------------------------------------------------------------------------- in the browser


def _responses(page: Any) -> list[dict[str, Any]]:
    """What the page's loads cost: each resource's address and bytes from the network."""
    entries: list[dict[str, Any]] = page.evaluate(
        """() => [performance.getEntriesByType("navigation")[0],
                  ...performance.getEntriesByType("resource")].map((e) => ({
            name: e.name, transfer: e.transferSize, encoded: e.encodedBodySize,
            decoded: e.decodedBodySize, type: e.initiatorType,
        }))"""
    )
    return entries


@pytest.mark.slow
def test_the_booth_loads_gzipped_and_then_from_the_cache(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    office = demo_office(tmp_path / "data", wards=1, voters=1)
    with server_thread(office.data) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context()
            messages: list[str] = []
            encodings: dict[str, str | None] = {}
            context.on(
                "console",
                lambda m: (
                    messages.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            context.on("weberror", lambda e: messages.append(f"page error: {e.error}"))
            context.on(
                "response",
                lambda r: encodings.__setitem__(r.url, r.headers.get("content-encoding")),
            )
            first = context.new_page()
            first.goto(f"{url}/r/{ROUND}")
            first.wait_for_selector("#code-heading")
            loaded = _responses(first)
            static = [e for e in loaded if "/static/" in e["name"]]
            names = [e["name"] for e in static]
            assert len(names) == len(set(names))  # each once: the preloads are what the page used
            assert {n.rsplit("/static/", 1)[1].split("/", 1)[0] for n in names} == {VERSION}
            js = {n.rsplit("/", 1)[1] for n in names if n.endswith(".js")}
            assert js == {"booth.js"} | {m.rsplit("/", 1)[1] for m in FOLDER.imports("js/booth.js")}
            assert any(n.endswith("/i18n/vi.json") for n in names)
            # the booth's own request for the manifest is the page's preload
            assert [e["name"] for e in loaded].count(f"{url}/api/rounds/{ROUND}/manifest") == 1
            for entry in [loaded[0], *static]:
                assert entry["transfer"] > 0
                assert entry["encoded"] < entry["decoded"], entry["name"]  # gzipped on the wire
                assert encodings[entry["name"]] == "gzip", entry["name"]
            first.wait_for_timeout(3500)  # Chromium warns of an unused preload after 3 s
            assert messages == []

            second = context.new_page()
            second.goto(f"{url}/r/{ROUND}")
            second.wait_for_selector("#code-heading")
            again = _responses(second)
            assert again[0]["transfer"] > 0  # the page was asked again ...
            assert again[0]["transfer"] < loaded[0]["transfer"]  # ... and answered 304, no body
            cached = [e for e in again if "/static/" in e["name"]]
            assert sorted(e["name"] for e in cached) == sorted(names)
            assert [e["name"] for e in cached if e["transfer"] != 0] == []  # no request at all
            assert messages == []
        finally:
            browser.close()
