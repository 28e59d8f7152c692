"""The public log as tiles on a live server (docs/server.md, protocol section 6.8): the
checkpoint and the tiles a client fetches rebuild the checkpoint's root, the entries are the
board's leaves, and ``--tiles-dir`` holds exactly what the routes answer, rebuilt at start."""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest
from _live import Office, demo_office, grow_board, server_thread, vote_and_tally

from anonballot.checkpoint import Checkpoint
from anonballot.encoding import b64u_decode, b64u_encode, parse_json
from anonballot.hazmat.merkle import leaf_hash, node_hash
from anonballot.hazmat.tiles import decode_entry_bundle, tiles_for_size
from anonballot.manifest import Manifest
from anonballot.participant import Participant
from anonballot.signing import SigningKey
from anonballot.testing import random_answers

IMMUTABLE = "public, max-age=31536000, immutable"

pytestmark = pytest.mark.slow  # live servers on sockets


def _root(hashes: list[bytes]) -> bytes:
    """RFC 9162 MTH by its recursion, as a client written from the spec computes it."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(_root(hashes[:k]), _root(hashes[k:]))


def _manifest(url: str, round_id: str) -> Manifest:
    return Manifest.from_signed(
        parse_json(httpx.get(f"{url}/api/rounds/{round_id}/manifest").content)
    )


def _fetch(url: str, path: str) -> bytes:
    answer = httpx.get(f"{url}/{path}")
    assert answer.status_code == 200, (path, answer.text)
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["cache-control"] == IMMUTABLE
    assert answer.headers["access-control-allow-origin"] == "*"  # any page may read the log
    return answer.content


def check_log(url: str, round_id: str) -> Checkpoint:
    """What a tlog-tiles client does: verify the checkpoint, fetch the level-0 tiles and the
    entry bundles its size needs, and rebuild the root from them."""
    manifest = _manifest(url, round_id)
    log = f"{url}/log/{round_id}"
    answer = httpx.get(f"{log}/checkpoint")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.text == httpx.get(f"{url}/api/rounds/{round_id}/checkpoint").text
    checkpoint = Checkpoint.parse(answer.text, manifest.origin, manifest.log_key)
    size = checkpoint.size
    hashes: list[bytes] = []
    entries: list[bytes] = []
    for tile in tiles_for_size(size):
        if tile.level == 0:
            data = _fetch(log, tile.path())
            hashes += [data[i : i + 32] for i in range(0, len(data), 32)]
        elif tile.level is None:
            entries += decode_entry_bundle(_fetch(log, tile.path()))
    assert len(hashes) == len(entries) == size
    assert [leaf_hash(e) for e in entries] == hashes
    if size:
        assert _root(hashes) == checkpoint.root
        leaves = b"".join(
            httpx.get(
                f"{url}/api/rounds/{round_id}/leaves?start={lo}&end={min(size, lo + 10_000)}"
            ).content
            for lo in range(0, size, 10_000)
        )
        assert b"".join(e + b"\n" for e in entries) == leaves
    # Each level-1 hash is the root of a full level-0 tile.
    for tile in tiles_for_size(size):
        if tile.level == 1:
            data = _fetch(log, tile.path())
            for i in range(tile.count):
                n = tile.index * 256 + i
                assert data[32 * i : 32 * i + 32] == _root(hashes[256 * n : 256 * n + 256])
    return checkpoint


def wait_for_folder(folder: Path, note: str, timeout: float = 30) -> None:
    path = folder / "checkpoint"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8") == note:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach the checkpoint {note.splitlines()[:2]}")


def check_folder(url: str, round_id: str, folder: Path) -> set[str]:
    """Every file of the round's folder is what the route answers at its path, and the
    folder holds every full tile and the partial tiles of the latest size."""
    note = httpx.get(f"{url}/log/{round_id}/checkpoint").text
    wait_for_folder(folder, note)
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert not [f for f in files if ".tmp-" in f]
    for name in files - {"checkpoint"}:
        assert (folder / name).read_bytes() == _fetch(f"{url}/log/{round_id}", name), name
        assert (folder / name).stat().st_mode & 0o777 == 0o644
    size = int(note.split("\n")[1])
    expected = {t.path() for t in tiles_for_size(size)}
    assert expected <= files
    # No partial tile is left where the full tile is.
    for name in files:
        if ".p/" in name:
            full = name.split(".p/")[0]
            assert full not in files, name
    return files


# -- a real round --------------------------------------------------------------------------


def _cast_over_http(url: str, office: Office, index: int) -> None:
    code, _ = office.codes[index]
    signed = parse_json(httpx.get(f"{url}/api/rounds/{office.round_id}/manifest").content)
    assert isinstance(signed, dict)
    ward = httpx.post(f"{url}/api/rounds/{office.round_id}/ward", json={"code": code})
    p = Participant(signed, ward.json()["ward"])
    body = {"code": code, "blinded": b64u_encode(p.request_token())}
    answer = httpx.post(f"{url}/api/rounds/{office.round_id}/tokens", json=body, timeout=30)
    p.finish_token(b64u_decode(answer.json()["blind_sig"]))
    leaf = p.make_leaf(random_answers(p.manifest, p.ward, random.Random(index)))
    cast = httpx.post(f"{url}/api/rounds/{office.round_id}/ballots", content=leaf, timeout=30)
    assert cast.status_code == 200, cast.text


def test_live_round_tiles_match_the_checkpoint(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", wards=2, voters=3)
    tiles = tmp_path / "log"
    folder = tiles / office.round_id
    with server_thread(office.data, tiles_dir=tiles) as url:
        assert check_log(url, office.round_id).size == 0
        assert check_folder(url, office.round_id, folder) == {"checkpoint"}
        for i in range(3):  # through the API: each commit wakes the folder's writer
            _cast_over_http(url, office, i)
            assert check_log(url, office.round_id).size == i + 1
            check_folder(url, office.round_id, folder)
        # A receipt's older checkpoint still finds its (partial) tiles on the server.
        assert len(_fetch(f"{url}/log/{office.round_id}", "tile/0/000.p/1")) == 32
    # The rest votes with no server running; the next start catches the folder up.
    rest = Office(office.data, office.token, office.token_file, office.round_id,
                  office.trustees, office.codes[3:])  # fmt: skip
    vote_and_tally(rest)
    with server_thread(office.data, tiles_dir=tiles) as url:
        checkpoint = check_log(url, office.round_id)
        assert checkpoint.size == 6
        files = check_folder(url, office.round_id, folder)
        # The partial hash tiles of every checkpointed size; the entry bundles of the sizes
        # the folder published (one pass per cast while serving, one at start for 4 to 6).
        assert files == {"checkpoint"} | {f"tile/0/000.p/{w}" for w in range(1, 7)} | {
            f"tile/entries/000.p/{w}" for w in (1, 2, 3, 6)
        }


def test_bad_paths_are_clear_json_refusals(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", wards=1, voters=2)
    vote_and_tally(office)
    log = f"/log/{office.round_id}"
    with server_thread(office.data) as url:
        for path, status, code in [
            (f"{log}/tile/0/1", 400, "bad_tile_path"),
            (f"{log}/tile/0/x000/000.p/1", 400, "bad_tile_path"),
            (f"{log}/tile/0/000.p/0", 400, "bad_tile_path"),
            (f"{log}/tile/0/000.p/256", 400, "bad_tile_path"),
            (f"{log}/tile/64/000.p/1", 400, "bad_tile_path"),
            (f"{log}/tile/00/000.p/1", 400, "bad_tile_path"),
            (f"{log}/tile/entries/000.p/", 400, "bad_tile_path"),
            (f"{log}/tile/0/000", 404, "tile_not_found"),  # 2 leaves: no full tile
            (f"{log}/tile/0/000.p/3", 404, "tile_not_found"),  # wider than what exists
            (f"{log}/tile/entries/000.p/3", 404, "tile_not_found"),
            (f"{log}/tile/0/001.p/1", 404, "tile_not_found"),
            (f"{log}/tile/1/000.p/1", 404, "tile_not_found"),
            ("/log/no-such-round/checkpoint", 404, "unknown_round"),
            ("/log/no-such-round/tile/0/000.p/1", 404, "unknown_round"),
            (f"{log}/nothing", 404, "not_found"),
        ]:
            answer = httpx.get(url + path)
            assert answer.status_code == status, path
            assert answer.json()["error"] == code, path
            assert answer.json()["detail"], path
            if path.startswith(log + "/tile"):
                assert answer.headers["cache-control"] == "no-store", path
        assert httpx.post(f"{url}{log}/checkpoint").status_code == 405
        assert _fetch(f"{url}{log}", "tile/entries/000.p/2")


def test_a_draft_round_has_no_log(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", wards=1, voters=1, open_round=False)
    with server_thread(office.data, tiles_dir=tmp_path / "log") as url:
        answer = httpx.get(f"{url}/log/{office.round_id}/checkpoint")
        assert (answer.status_code, answer.json()["error"]) == (409, "round_not_open")
    assert not (tmp_path / "log" / office.round_id).exists()


# -- a large board: full tiles, level 1, the folder rebuilt -------------------------------------


@pytest.mark.slow
def test_a_large_board_and_its_folder_rebuilt(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", wards=1, voters=1)
    round_id = office.round_id
    tiles = tmp_path / "log"
    folder = tiles / round_id
    grow_board(office.data, round_id, [1, 200, 255, 256, 300, 511, 700])
    with server_thread(office.data, tiles_dir=tiles) as url:
        assert check_log(url, round_id).size == 700
        files = check_folder(url, round_id, folder)
        assert {"tile/0/000", "tile/0/001", "tile/entries/001", "tile/1/000.p/2"} <= files
        # The partial tiles of every checkpointed size at a place not full yet.
        assert {"tile/0/002.p/188", "tile/1/000.p/1", "tile/1/000.p/2"} <= files
        # removed once tile/0/000 and tile/0/001 were written
        assert not {"tile/0/000.p/200", "tile/0/001.p/44", "tile/0/001.p/255"} & files
        assert "tile/entries/002.p/188" in files  # the latest size's entry bundle
        assert len(_fetch(f"{url}/log/{round_id}", "tile/0/000.p/200")) == 200 * 32
    # A crash lost a full tile and the checkpoint is old; the board grew past 65,536.
    (folder / "tile/0/001").unlink()
    (folder / "tile/entries/000").unlink()
    grow_board(office.data, round_id, [65_536, 65_600])
    with server_thread(office.data, tiles_dir=tiles) as url:
        assert check_log(url, round_id).size == 65_600
        files = check_folder(url, round_id, folder)
        assert {"tile/0/001", "tile/entries/000", "tile/1/000", "tile/2/000.p/1"} <= files
        level2 = _fetch(f"{url}/log/{round_id}", "tile/2/000.p/1")
        level1 = _fetch(f"{url}/log/{round_id}", "tile/1/000")
        assert level2 == _root([level1[i : i + 32] for i in range(0, len(level1), 32)])


def test_a_folder_of_another_log_is_left_alone(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", wards=1, voters=1)
    grow_board(office.data, office.round_id, [3])
    folder = tmp_path / "log" / office.round_id
    folder.mkdir(parents=True)
    foreign = Checkpoint("elsewhere.example/log/x", 5, bytes(32)).sign(SigningKey.generate())
    (folder / "checkpoint").write_text(foreign, encoding="utf-8")
    with server_thread(office.data, tiles_dir=tmp_path / "log") as url:
        assert check_log(url, office.round_id).size == 3  # the routes serve the database
        time.sleep(0.5)
    assert (folder / "checkpoint").read_text(encoding="utf-8") == foreign
    assert not (folder / "tile").exists()
