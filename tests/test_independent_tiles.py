"""The independent tiles reader (tests/independent/tiles_reader.py, issue 10) against a live
server: real ballots and their receipts, the board grown past 256 leaves (level-1 tiles),
and tampered tiles, keys and receipts refused."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _live import demo_office, grow_board, server_thread
from independent.tiles_reader import (
    Fetch,
    LogView,
    TilesError,
    http_fetcher,
    log_parameters,
    read_log,
    verify_receipt,
)

from anonballot.encoding import b64u_encode
from anonballot.hazmat.merkle import leaf_hash
from anonballot.participant import Participant
from anonballot.server.service import Service
from anonballot.testing import random_answers

pytestmark = pytest.mark.slow

SIZE = 300  # more than 256 leaves: a full level-0 tile, a partial one, a level-1 tile


def _cast_and_grow(data: Path, round_id: str, codes: list[str]) -> list[dict[str, Any]]:
    """Cast a real ballot per code (their receipts kept), then append made-up leaves up to
    ``SIZE`` with a signed checkpoint at a few sizes, as the engine's group commits do."""
    service = Service(data, key_bits=2048)
    try:
        engine = service.round(round_id)
        receipts = []
        for i, code in enumerate(codes):
            p = Participant(engine.signed_manifest(), engine.ward_for_code(code))
            p.finish_token(engine.issue(code, p.request_token()))
            answers = random_answers(p.manifest, p.ward, random.Random(i))
            receipts.append(engine.cast(p.make_leaf(answers)).to_json())
    finally:
        service.close()
    grow_board(data, round_id, [100, 256, 257, SIZE], pad=50)
    return receipts


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[Any]]]:
    office = demo_office(tmp_path_factory.mktemp("tiles") / "data", wards=2, voters=3)
    receipts = _cast_and_grow(office.data, office.round_id, [c for c, _ in office.codes])
    with server_thread(office.data) as url:
        yield url, office.round_id, receipts


def _params(url: str, round_id: str) -> tuple[str, bytes, str]:
    signed = httpx.get(f"{url}/api/rounds/{round_id}/manifest").json()
    params = log_parameters(signed["manifest"])
    return params.origin, params.public_key, params.mid


def _api_receipt(url: str, round_id: str, mid: str, index: int) -> dict[str, Any]:
    """A receipt for any public leaf, built from the API: the latest checkpoint and the
    inclusion proof of the leaf in its tree."""
    note = httpx.get(f"{url}/api/rounds/{round_id}/checkpoint").text
    size = int(note.split("\n")[1])
    api = f"{url}/api/rounds/{round_id}"
    proof = httpx.get(f"{api}/proof/inclusion", params={"index": index, "size": size})
    assert proof.status_code == 200, proof.text
    leaf = httpx.get(f"{api}/leaves", params={"start": index, "end": index + 1}).content
    return {
        "round": mid,
        "leaf_index": index,
        "leaf_hash": b64u_encode(leaf_hash(leaf.rstrip(b"\n"))),
        "checkpoint": note,
        "inclusion": proof.json()["proof"],
    }


def _flipping(fetch: Fetch, path: str, at: int = 0) -> Fetch:
    def tampered(p: str) -> bytes:
        data = fetch(p)
        if p != path:
            return data
        byte = min(at, len(data) - 1)
        return data[:byte] + bytes([data[byte] ^ 1]) + data[byte + 1 :]

    return tampered


def test_the_reader_verifies_the_live_log_and_the_receipts(
    live: tuple[str, str, list[Any]],
) -> None:
    url, round_id, receipts = live
    origin, key, mid = _params(url, round_id)
    fetch = http_fetcher(f"{url}/log/{round_id}")
    view: LogView = read_log(fetch, origin, key)
    assert view.checkpoint.size == SIZE
    assert [len(level) for level in view.levels] == [SIZE, 1]  # tile/1/000.p/1
    leaves = httpx.get(f"{url}/api/rounds/{round_id}/leaves?start=0&end={SIZE}").content
    assert view.entries == leaves.split(b"\n")[:-1]
    # Real receipts: each with the checkpoint of size i + 1 (partial tile .p/<i+1>).
    assert len(receipts) == 6
    for i, receipt in enumerate(receipts):
        assert receipt["leaf_index"] == i
        assert verify_receipt(receipt, fetch, origin, key, mid, view).size == i + 1
    # Receipts built from the API, in the full tile, the partial one, the last leaf.
    for index in (3, 255, 256, 270, SIZE - 1):
        receipt = _api_receipt(url, round_id, mid, index)
        assert verify_receipt(receipt, fetch, origin, key, mid, view).size == SIZE


@pytest.mark.parametrize(
    "path",
    ["checkpoint", "tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1", "tile/entries/001.p/44"],
)
def test_a_flipped_bit_is_refused(live: tuple[str, str, list[Any]], path: str) -> None:
    url, round_id, _ = live
    origin, key, _ = _params(url, round_id)
    fetch = _flipping(http_fetcher(f"{url}/log/{round_id}"), path, at=40)
    with pytest.raises(TilesError):
        read_log(fetch, origin, key)


def test_a_wrong_key_or_origin_is_refused(live: tuple[str, str, list[Any]]) -> None:
    url, round_id, receipts = live
    origin, key, mid = _params(url, round_id)
    fetch = http_fetcher(f"{url}/log/{round_id}")
    other = bytes([key[0] ^ 1]) + key[1:]
    with pytest.raises(TilesError, match="no signature by the log"):
        read_log(fetch, origin, other)
    with pytest.raises(TilesError, match="no signature by the log"):
        read_log(fetch, origin + "x", key)
    with pytest.raises(TilesError, match="no signature by the log"):
        verify_receipt(receipts[0], fetch, origin, other, mid)


def test_tampered_receipts_are_refused(live: tuple[str, str, list[Any]]) -> None:
    url, round_id, receipts = live
    origin, key, mid = _params(url, round_id)
    fetch = http_fetcher(f"{url}/log/{round_id}")
    good = _api_receipt(url, round_id, mid, 270)
    verify_receipt(good, fetch, origin, key, mid)
    other_leaf = {**good, "leaf_hash": _api_receipt(url, round_id, mid, 271)["leaf_hash"]}
    with pytest.raises(TilesError, match="is not the receipt's"):
        verify_receipt(other_leaf, fetch, origin, key, mid)
    bad_proof = {**good, "inclusion": list(reversed(good["inclusion"]))}
    with pytest.raises(TilesError, match="inclusion proof"):
        verify_receipt(bad_proof, fetch, origin, key, mid)
    short = {**good, "inclusion": good["inclusion"][:-1]}
    with pytest.raises(TilesError, match="too short"):
        verify_receipt(short, fetch, origin, key, mid)
    with pytest.raises(TilesError, match="another round"):
        verify_receipt({**good, "round": round_id}, fetch, origin, key, mid)
    # The leaf's tile flipped: the leaf hash read from the tiles is not the receipt's.
    flipped = _flipping(fetch, "tile/0/001.p/44", at=(270 - 256) * 32)
    with pytest.raises(TilesError, match="is not the receipt's"):
        verify_receipt(good, flipped, origin, key, mid)
    # A receipt's checkpoint edited (another size) no longer carries the log's signature.
    note = receipts[2]["checkpoint"].replace("\n3\n", "\n4\n", 1)
    with pytest.raises(TilesError, match="does not verify"):
        verify_receipt({**receipts[2], "checkpoint": note}, fetch, origin, key, mid)
