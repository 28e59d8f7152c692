"""Trustee keys and releases (anonballot.trustee; protocol section 7.2)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import RoundFactory

from anonballot.encoding import b64u_decode, b64u_encode, jcs, parse_json
from anonballot.errors import (
    AnonBallotError,
    EncodingError,
    InputError,
    InvalidSignature,
    NotFound,
)
from anonballot.manifest import Manifest
from anonballot.signing import SigningKey, verify_object
from anonballot.trustee import HpkePrivateKey, TrusteeKey, verify_release


@pytest.fixture(scope="module")
def manifest(make_round: RoundFactory) -> Manifest:
    return make_round(wards=1, voters=1).manifest


def test_release_verifies(manifest: Manifest, trustee_keys: list[TrusteeKey]) -> None:
    for index, key in enumerate(trustee_keys, start=1):
        release = key.release(manifest.mid)
        value = verify_object(release, "release", key.signing.public_key)
        assert value == {
            "round": manifest.mid,
            "trustee": key.id,
            "private_key": b64u_encode(key.hpke_private.to_bytes()),
        }
        secret = verify_release(release, manifest)
        assert (secret.index, secret.id, secret.private_key) == (index, key.id, key.hpke_private)
        assert verify_release(parse_json(jcs(release)), manifest, manifest.mid) == secret


def _bad(release: Any, manifest: Manifest) -> AnonBallotError:
    with pytest.raises(AnonBallotError) as info:
        verify_release(release, manifest)
    return info.value


def test_release_rejections(manifest: Manifest, trustee_keys: list[TrusteeKey]) -> None:
    key = trustee_keys[1]
    good: dict[str, Any] = key.release(manifest.mid)

    wrong_round = _bad(key.release("another-round"), manifest)
    assert isinstance(wrong_round, InputError)
    assert wrong_round.code == "wrong_round"

    changed = copy.deepcopy(good)
    changed["release"]["private_key"] = b64u_encode(trustee_keys[0].hpke_private.to_bytes())
    assert isinstance(_bad(changed, manifest), InvalidSignature)

    other = copy.deepcopy(good)
    other["release"]["trustee"] = trustee_keys[0].id  # signed by to-chuc, filed as tuyen-giao
    assert isinstance(_bad(other, manifest), InvalidSignature)

    impostor = TrusteeKey(key.id, TrusteeKey.generate("x").hpke_private, key.signing)
    derived = _bad(impostor.release(manifest.mid), manifest)
    assert isinstance(derived, InvalidSignature)
    assert derived.code == "bad_release_key"

    assert isinstance(_bad(TrusteeKey.generate("nobody").release(manifest.mid), manifest), NotFound)

    extra = copy.deepcopy(good)
    extra["release"]["note"] = "x"
    assert _bad(extra, manifest).code == "bad_release"
    malformed_releases: list[object] = [None, [], {}, {"release": "x"}, {**good, "extra": 1}]
    for malformed in malformed_releases:
        assert isinstance(_bad(malformed, manifest), EncodingError)
    short = copy.deepcopy(good)
    short["release"]["private_key"] = b64u_encode(b"\x01" * 31)
    # Validly signed, but not a key.
    short["signature"] = b64u_encode(key.signing.sign(jcs(short["release"])))
    assert isinstance(_bad(short, manifest), EncodingError)


def test_key_file_round_trip(trustee_keys: list[TrusteeKey]) -> None:
    for key in trustee_keys:
        data = jcs(key.to_json())
        again = TrusteeKey.from_json(parse_json(data))
        assert again == key
        assert again.hpke_public == key.hpke_public == key.hpke_private.public_key
        assert again.signing.public_key == key.signing.public_key
        assert b64u_decode(key.to_json()["signing_seed"]) == key.signing.seed


def test_key_file_rejections(trustee_keys: list[TrusteeKey]) -> None:
    good = trustee_keys[0].to_json()
    for bad in (
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "id"},
        {**good, "id": "Not An Id"},
        {**good, "hpke_private": b64u_encode(b"\x01" * 31)},
        {**good, "signing_seed": "not b64u!"},
        None,
    ):
        with pytest.raises(EncodingError):
            TrusteeKey.from_json(bad)


def test_key_repr_hides_secrets(trustee_keys: list[TrusteeKey]) -> None:
    text = repr(trustee_keys[0])
    assert trustee_keys[0].hpke_private.to_bytes().hex() not in text
    assert b64u_encode(trustee_keys[0].hpke_private.to_bytes()) not in text


def test_public_entry(trustee_keys: list[TrusteeKey]) -> None:
    key = trustee_keys[2]
    entry = key.public({"vi": "Ủy ban Kiểm tra"})
    assert entry.id == key.id
    assert entry.hpke_key == key.hpke_public
    assert entry.signing_key == key.signing.public_key
    assert entry.to_json()["hpke_key"] == b64u_encode(key.hpke_public.to_bytes())
    assert entry.to_json()["signing_key"] == b64u_encode(key.signing.public_key.to_bytes())


def test_generate_and_validation() -> None:
    key = TrusteeKey.generate("mat-tran")
    assert len(key.hpke_private.to_bytes()) == 32
    assert key.generate("mat-tran") != key
    with pytest.raises(EncodingError):
        TrusteeKey("Bad Id", key.hpke_private, key.signing)
    with pytest.raises(EncodingError):
        TrusteeKey("mat-tran", b"\x00" * 32, SigningKey.generate())  # type: ignore[arg-type]
    with pytest.raises(EncodingError):
        HpkePrivateKey(b"\x00" * 16)
