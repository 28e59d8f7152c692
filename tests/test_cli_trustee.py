"""``anonballot trustee keygen`` and ``trustee release`` (in-process, against a live server)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _jsonview import obj
from _live import Office, demo_office, server_thread
from click.testing import CliRunner, Result

from anonballot.cli.main import main
from anonballot.encoding import b64u_encode
from anonballot.keyfile import decrypt_key_file, encrypt_key_file, write_private
from anonballot.manifest import Manifest
from anonballot.trustee import Trustee, TrusteeKey, verify_release

PASSPHRASE = "một mật khẩu đủ dài"  # noqa: S105 (a test passphrase)


def invoke(
    *args: str | Path, env: dict[str, str] | None = None, input: str | None = None
) -> Result:
    env = {"ANONBALLOT_PASSPHRASE": "", "ANONBALLOT_SERVER": "", **(env or {})}
    return CliRunner().invoke(main, [str(a) for a in args], env=env, input=input)


def one_line_error(result: Result, status: int = 2) -> str:
    assert result.exit_code == status, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def write_key_file(key: TrusteeKey, path: Path, passphrase: str = PASSPHRASE) -> Path:
    write_private(path, json.dumps(encrypt_key_file(key.to_json(), passphrase)))
    return path


@pytest.fixture
def pass_file(tmp_path: Path) -> Path:
    path = tmp_path / "pass.txt"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Office, str]]:
    office = demo_office(tmp_path_factory.mktemp("trustee") / "data", wards=1, voters=2)
    with server_thread(office.data) as url:
        yield office, url


# -- keygen --------------------------------------------------------------------------------------


def test_keygen_writes_an_encrypted_key_and_prints_the_public_part(
    tmp_path: Path, pass_file: Path
) -> None:
    out = tmp_path / "tuyen-giao.key"
    result = invoke(
        "trustee", "keygen", "--id", "tuyen-giao", "--name", "Ban Tuyên giáo",
        "--name-en", "Propaganda board", "--out", out, "--passphrase-file", pass_file,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    public = json.loads(result.stdout)
    assert set(public) == {"id", "name", "hpke_key", "signing_key"}
    assert public["id"] == "tuyen-giao"
    assert public["name"] == {"vi": "Ban Tuyên giáo", "en": "Propaganda board"}
    trustee = Trustee.from_json(public)  # a valid manifest entry
    pub_path = tmp_path / "tuyen-giao.key.pub.json"
    assert json.loads(pub_path.read_text(encoding="utf-8")) == public
    assert "give it to the organizer" in result.stderr

    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    obj = json.loads(out.read_text())
    assert set(obj) == {"anonballot_key_file", "kdf", "nonce", "ct"}
    key = TrusteeKey.from_json(decrypt_key_file(obj, PASSPHRASE))
    assert key.public(public["name"]) == trustee

    # never overwrites a key by accident
    again = invoke(
        "trustee", "keygen", "--id", "tuyen-giao", "--name", "X", "--out", out,
        "--passphrase-file", pass_file,
    )  # fmt: skip
    assert "exists" in one_line_error(again)
    assert TrusteeKey.from_json(decrypt_key_file(json.loads(out.read_text()), PASSPHRASE)) == key


def test_keygen_asks_twice_for_the_passphrase(tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    result = invoke(
        "trustee", "keygen", "--id", "to-chuc", "--name", "Ban Tổ chức", "--out", out,
        input=f"{PASSPHRASE}\n{PASSPHRASE}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PASSPHRASE not in result.output  # hidden input
    TrusteeKey.from_json(decrypt_key_file(json.loads(out.read_text()), PASSPHRASE))

    mismatch = invoke(
        "trustee", "keygen", "--id", "to-chuc", "--name", "Ban Tổ chức",
        "--out", tmp_path / "k2.json", input=f"{PASSPHRASE}\nsomething else\n",
    )  # fmt: skip
    assert mismatch.exit_code != 0
    assert not (tmp_path / "k2.json").exists()


def test_keygen_refuses_bad_input(tmp_path: Path) -> None:
    env = {"ANONBALLOT_PASSPHRASE": "short"}
    result = invoke(
        "trustee", "keygen", "--id", "kiem-tra", "--name", "UBKT", "--out", tmp_path / "k",
        env=env,
    )  # fmt: skip
    assert "too short" in one_line_error(result)
    assert not (tmp_path / "k").exists()
    env = {"ANONBALLOT_PASSPHRASE": PASSPHRASE}
    result = invoke(
        "trustee", "keygen", "--id", "Kiểm Tra", "--name", "UBKT", "--out", tmp_path / "k",
        env=env,
    )  # fmt: skip
    assert "not an identifier" in one_line_error(result)
    result = invoke(
        "trustee", "keygen", "--id", "kiem-tra", "--name", " ", "--out", tmp_path / "k", env=env
    )
    assert "--name" in one_line_error(result)


# -- release -------------------------------------------------------------------------------------


def signed_manifest(url: str, office: Office) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{url}/api/rounds/{office.round_id}/manifest").json()
    return answer


def test_release_wrong_passphrase_and_open_round(
    live: tuple[Office, str], tmp_path: Path, pass_file: Path
) -> None:
    office, url = live
    key_file = write_key_file(office.trustees[0], tmp_path / "k0.json")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase\n")
    result = invoke(
        "trustee", "release", "--key", key_file, "--round", office.round_id,
        "--server", url, "--passphrase-file", wrong,
    )  # fmt: skip
    # the round is still open: refused before the key file is even opened
    assert "not closed yet" in one_line_error(result)

    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(json.dumps(signed_manifest(url, office)))
    offline = (
        "trustee", "release", "--key", key_file, "--round", office.round_id,
        "--manifest", manifest_file, "--out", tmp_path / "release.json",
    )  # fmt: skip
    result = invoke(*offline, "--passphrase-file", wrong)
    assert one_line_error(result) == "error: wrong passphrase or damaged key file"
    assert not (tmp_path / "release.json").exists()


def test_release_offline_to_a_file(
    live: tuple[Office, str], tmp_path: Path, pass_file: Path
) -> None:
    office, url = live
    signed = signed_manifest(url, office)
    manifest = Manifest.from_signed(signed)
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(json.dumps(signed))
    key = office.trustees[1]
    key_file = write_key_file(key, tmp_path / "k1.json")
    out = tmp_path / "usb" / "release-to-chuc.json"
    out.parent.mkdir()
    result = invoke(
        "trustee", "release", "--key", key_file, "--round", manifest.mid,
        "--manifest", manifest_file, "--out", out, env={"ANONBALLOT_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "cannot see whether the round is closed" in result.stderr
    release = json.loads(out.read_bytes())
    assert verify_release(release, manifest).id == key.id
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    # a key of the right id that is not the round's key
    stranger = write_key_file(TrusteeKey.generate(key.id), tmp_path / "stranger.json")
    result = invoke(
        "trustee", "release", "--key", stranger, "--round", office.round_id,
        "--manifest", manifest_file, "--out", tmp_path / "r2.json", "--passphrase-file",
        pass_file,
    )  # fmt: skip
    assert "is not the key of trustee to-chuc" in one_line_error(result)
    # a trustee that is not in the round
    outsider = write_key_file(TrusteeKey.generate("ban-dan-van"), tmp_path / "outsider.json")
    result = invoke(
        "trustee", "release", "--key", outsider, "--round", office.round_id,
        "--manifest", manifest_file, "--out", tmp_path / "r3.json", "--passphrase-file",
        pass_file,
    )  # fmt: skip
    assert "'ban-dan-van' is not in this round" in one_line_error(result)
    # the manifest of another round
    result = invoke(
        "trustee", "release", "--key", key_file, "--round", "another-round",
        "--manifest", manifest_file, "--out", tmp_path / "r4.json", "--passphrase-file",
        pass_file,
    )  # fmt: skip
    assert "not another-round" in one_line_error(result)


def test_release_a_demo_key_file_with_a_warning(live: tuple[Office, str], tmp_path: Path) -> None:
    office, url = live
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(json.dumps(signed_manifest(url, office)))
    demo = tmp_path / "tuyen-giao.json"
    demo.write_text(
        json.dumps({"demo_key_no_passphrase": True, "key": office.trustees[0].to_json()})
    )
    result = invoke(
        "trustee", "release", "--key", demo, "--round", office.round_id,
        "--manifest", manifest_file, "--out", tmp_path / "release.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "DEMO key file WITHOUT a passphrase" in result.stderr


def test_release_needs_a_destination(live: tuple[Office, str], tmp_path: Path) -> None:
    office, url = live
    key_file = write_key_file(office.trustees[0], tmp_path / "k0.json")
    result = invoke("trustee", "release", "--key", key_file, "--round", office.round_id)
    assert "--server URL, or --out FILE with --manifest FILE" in one_line_error(result)
    result = invoke(
        "trustee", "release", "--key", key_file, "--round", "no-such-round", "--server", url
    )
    assert "has no round no-such-round" in one_line_error(result)


def test_submit_carries_an_offline_release_to_the_server(tmp_path: Path) -> None:
    office = demo_office(tmp_path / "data", wards=1, voters=2)
    with server_thread(office.data) as url:
        admin = {"authorization": f"Bearer {office.token}"}
        closed = httpx.post(
            f"{url}/api/admin/rounds/{office.round_id}/close", headers=admin, json={"force": True}
        )
        assert closed.status_code == 200
        manifest = Manifest.from_signed(signed_manifest(url, office))
        release = office.trustees[2].release(manifest.mid)
        good = tmp_path / "release.json"
        good.write_text(json.dumps(release), encoding="utf-8")
        forged = tmp_path / "forged.json"
        value = dict(obj(release["release"]))
        value["private_key"] = b64u_encode(bytes(32))
        forged.write_text(json.dumps({**release, "release": value}), encoding="utf-8")

        refused = invoke("trustee", "submit", forged, "--round", office.round_id, "--server", url)
        assert one_line_error(refused, 1).startswith("error: ")
        result = invoke("trustee", "submit", good, "--round", office.round_id, "--server", url)
        assert result.exit_code == 0, result.output
        assert "release of trustee kiem-tra" in result.output
        releases = httpx.get(f"{url}/api/rounds/{office.round_id}/releases").json()
        assert set(releases) == {"kiem-tra"}
