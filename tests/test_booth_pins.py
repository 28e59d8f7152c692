"""The booth's files are pinned in the manifest when a round opens (``M.booth``, protocol
section 4.2): every path a participant's browser loads the booth and the receipt checker
from, with the SHA-256 of the bytes the server serves there; and the server says at start
when an open round's pinned files are no longer what it serves."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from _live import demo_office
from starlette.testclient import TestClient

from anonballot.encoding import b64u_encode
from anonballot.manifest import Manifest
from anonballot.server import booth
from anonballot.server.app import create_app
from anonballot.server.service import Service


def test_opening_pins_every_booth_file_as_served(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", open_round=False)
    service = Service(office.data)
    try:
        with TestClient(create_app(service)) as client:
            admin = {"authorization": f"Bearer {office.token}"}
            opened = client.post(f"/api/admin/rounds/{office.round_id}/open", headers=admin)
            assert opened.status_code == 200, opened.text
            signed = client.get(f"/api/rounds/{office.round_id}/manifest").json()
            pins = Manifest.from_signed(signed).booth
            assert pins is not None
            assert {f"/r/{office.round_id}", "/verify"} < set(pins)
            scripts = [p for p in pins if p.endswith("/js/booth.js")]
            assert len(scripts) == 1
            assert scripts[0].startswith("/static/")
            page = client.get(f"/r/{office.round_id}").text
            assert scripts[0] in page  # the address the booth page loads, as pinned
            for path, digest in pins.items():
                served = client.get(path, headers={"accept-encoding": "identity"})
                assert served.status_code == 200, path
                assert b64u_encode(hashlib.sha256(served.content).digest()) == digest, path
    finally:
        service.close()


def test_the_server_says_when_an_open_round_s_booth_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    office = demo_office(tmp_path / "data", open_round=False)
    service = Service(office.data)
    try:
        engine = service.round(office.round_id)
        pins = booth.booth_pins(office.round_id)
        swapped = next(p for p in pins if p.endswith("/js/booth.js"))
        engine.open(booth={**pins, swapped: b64u_encode(bytes(32))})
        with caplog.at_level(logging.WARNING), TestClient(create_app(service)):
            pass
        assert any(swapped in r.getMessage() for r in caplog.records)
        assert booth.unpinned(office.round_id, pins) == []
    finally:
        service.close()
