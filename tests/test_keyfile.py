"""Passphrase-encrypted key files (anonballot.keyfile)."""

from __future__ import annotations

import json
import stat
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from anonballot.encoding import b64u_decode, b64u_encode
from anonballot.errors import InputError
from anonballot.keyfile import (
    KeyFileError,
    WrongPassphrase,
    decrypt_key_file,
    encrypt_key_file,
    is_demo_key_file,
    write_private,
)
from anonballot.trustee import TrusteeKey

PASSPHRASE = "Mật khẩu của Ban Tuyên giáo"  # noqa: S105 (a test passphrase)


@pytest.fixture(scope="module")
def key() -> TrusteeKey:
    return TrusteeKey.generate("tuyen-giao")


@pytest.fixture(scope="module")
def sealed(key: TrusteeKey) -> dict[str, Any]:
    return encrypt_key_file(key.to_json(), PASSPHRASE)


def test_round_trip(key: TrusteeKey, sealed: dict[str, Any]) -> None:
    assert set(sealed) == {"anonballot_key_file", "kdf", "nonce", "ct"}
    assert sealed["anonballot_key_file"] == 1
    kdf = sealed["kdf"]
    assert kdf["name"] == "scrypt"
    assert (kdf["n"], kdf["r"], kdf["p"]) == (2**15, 8, 1)
    assert len(b64u_decode(kdf["salt"])) == 16
    assert len(b64u_decode(sealed["nonce"])) == 12
    # survives a trip through a file as ordinary JSON
    again = json.loads(json.dumps(sealed))
    assert TrusteeKey.from_json(decrypt_key_file(again, PASSPHRASE)) == key
    # nothing secret is visible in the file
    text = json.dumps(sealed)
    secret: dict[str, Any] = key.to_json()
    assert secret["hpke_private"] not in text
    assert secret["signing_seed"] not in text


def test_each_file_has_its_own_salt_and_nonce(key: TrusteeKey, sealed: dict[str, Any]) -> None:
    other: dict[str, Any] = encrypt_key_file(key.to_json(), PASSPHRASE)
    assert other["kdf"]["salt"] != sealed["kdf"]["salt"]
    assert other["nonce"] != sealed["nonce"]


def test_wrong_passphrase(sealed: dict[str, Any]) -> None:
    with pytest.raises(WrongPassphrase) as info:
        decrypt_key_file(sealed, PASSPHRASE + "!")
    assert info.value.detail == "wrong passphrase or damaged key file"
    assert isinstance(info.value, InputError)
    assert isinstance(info.value, InputError)


def test_the_passphrase_is_compared_in_nfc(key: TrusteeKey, sealed: dict[str, Any]) -> None:
    decomposed = unicodedata.normalize("NFD", PASSPHRASE)
    assert decomposed != PASSPHRASE
    assert TrusteeKey.from_json(decrypt_key_file(sealed, decomposed)) == key


@pytest.mark.parametrize(
    ("member", "change"),
    [
        ("ct", lambda v: v[:-2] + ("AA" if v[-2:] != "AA" else "BA")),
        ("nonce", lambda v: b64u_encode(bytes(12))),
        ("kdf", lambda v: {**v, "salt": b64u_encode(bytes(16))}),
        ("kdf", lambda v: {**v, "n": 2**14}),  # weakening the KDF breaks the aad
    ],
)
def test_a_damaged_file_does_not_open(sealed: dict[str, Any], member: str, change: Any) -> None:
    damaged = {**sealed, member: change(sealed[member])}
    with pytest.raises(WrongPassphrase):
        decrypt_key_file(damaged, PASSPHRASE)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"id": "x"}, "not an anonballot key file"),
        ([], "not an anonballot key file"),
        ({"anonballot_key_file": 2}, "version 2 is not supported"),
        ({"anonballot_key_file": 1, "kdf": {}}, "exactly anonballot_key_file"),
    ],
)
def test_not_a_key_file(obj: object, message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        decrypt_key_file(obj, PASSPHRASE)


@pytest.mark.parametrize(
    ("kdf", "message"),
    [
        ({"name": "pbkdf2"}, "only scrypt"),
        ({"n": 1000}, "power of two"),
        ({"n": 2**30}, "beyond"),
        ({"r": True}, "positive integer"),
        ({"salt": b64u_encode(bytes(8))}, "at least 16 bytes"),
    ],
)
def test_unsafe_or_absurd_kdf_parameters(
    sealed: dict[str, Any], kdf: dict[str, Any], message: str
) -> None:
    with pytest.raises(KeyFileError, match=message):
        decrypt_key_file({**sealed, "kdf": {**sealed["kdf"], **kdf}}, PASSPHRASE)


def test_a_passphrase_is_needed(sealed: dict[str, Any]) -> None:
    with pytest.raises(KeyFileError, match="needs its passphrase"):
        decrypt_key_file(sealed, None)
    with pytest.raises(KeyFileError, match="empty"):
        encrypt_key_file({"a": 1}, "")


def test_demo_key_files_open_without_a_passphrase(key: TrusteeKey) -> None:
    demo = {"demo_key_no_passphrase": True, "key": key.to_json()}
    assert is_demo_key_file(demo)
    assert TrusteeKey.from_json(decrypt_key_file(demo, None)) == key
    assert not is_demo_key_file({"demo_key_no_passphrase": "yes", "key": {}})
    with pytest.raises(KeyFileError, match="demo key file"):
        decrypt_key_file({**demo, "extra": 1}, None)


def test_write_private(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    write_private(path, "one")
    assert path.read_text() == "one"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_private(path, b"two")
    assert path.read_bytes() == b"two"
    with pytest.raises(FileExistsError):
        write_private(path, "three", exclusive=True)
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.json"]  # no temporary left
