"""Signed checkpoints (C2SP tlog-checkpoint) of the ballot board."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from _hypothesis import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.checkpoint import MAX_TREE_SIZE, Checkpoint
from anonballot.errors import EncodingError, InvalidSignature
from anonballot.hazmat.merkle import EMPTY_ROOT, MerkleTree, leaf_hash
from anonballot.hazmat.note import b64std_encode, sign_note
from anonballot.signing import SigningKey

VECTOR: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "signed-note" / "checkpoint_example.json").read_text()
)
KEY = SigningKey(bytes.fromhex(VECTOR["ed25519_seed_hex"]))
ORIGIN: str = VECTOR["key_name"]
PUB = KEY.public_key
ROOT = bytes.fromhex(VECTOR["leaf_hash_hex"])  # the root of a one-leaf tree is its leaf hash
ROOT_B64 = b64std_encode(ROOT)


def test_vector_checkpoint() -> None:
    cp = Checkpoint.parse(VECTOR["signed_note"], ORIGIN, PUB)
    leaf = leaf_hash(VECTOR["leaf_utf8"].encode("utf-8"))
    assert cp == Checkpoint(ORIGIN, 1, MerkleTree([leaf]).root())
    assert cp.text() == VECTOR["note_text"]
    assert cp.sign(KEY) == VECTOR["signed_note"]


def test_round_trip_sizes() -> None:
    for size, root in ((0, EMPTY_ROOT), (1, ROOT), (10**9, ROOT), (MAX_TREE_SIZE, ROOT)):
        cp = Checkpoint(ORIGIN, size, root)
        assert Checkpoint.parse(cp.sign(KEY), ORIGIN, PUB) == cp
        assert Checkpoint.parse(cp.sign(KEY).encode("utf-8"), ORIGIN, PUB) == cp


@settings(max_examples=examples(40), deadline=None)
@given(
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    origin=st.from_regex(r"[a-z0-9.-]{1,20}(/[a-z0-9._-]{1,20}){0,2}", fullmatch=True),
)
def test_round_trip_property(size: int, root: bytes, origin: str) -> None:
    cp = Checkpoint(origin, size, root)
    assert Checkpoint.parse(cp.sign(KEY), origin, PUB) == cp


def test_wrong_key_or_origin() -> None:
    note = Checkpoint(ORIGIN, 5, ROOT).sign(KEY)
    other = SigningKey(bytes(32))
    with pytest.raises(InvalidSignature):
        Checkpoint.parse(note, ORIGIN, other.public_key)
    with pytest.raises(InvalidSignature):
        Checkpoint.parse(note, "district.example/other", PUB)
    # a note signed under another key name, even with our key, is not our log's checkpoint
    with pytest.raises(InvalidSignature):
        Checkpoint.parse(sign_note(f"{ORIGIN}\n5\n{ROOT_B64}\n", "other.example", KEY), ORIGIN, PUB)


def test_witness_cosignatures_are_ignored() -> None:
    note = Checkpoint(ORIGIN, 5, ROOT).sign(KEY)
    witness = SigningKey(bytes(range(1, 33)))
    text = Checkpoint(ORIGIN, 5, ROOT).text()
    cosig = sign_note(text, "witness.example/w", witness)[len(text) + 1 :]
    assert Checkpoint.parse(note + cosig, ORIGIN, PUB) == Checkpoint(ORIGIN, 5, ROOT)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"{ORIGIN}\n01\n{ROOT_B64}\n", id="leading-zero"),
        pytest.param(f"{ORIGIN}\n00\n{ROOT_B64}\n", id="double-zero"),
        pytest.param(f"{ORIGIN}\n+1\n{ROOT_B64}\n", id="plus-sign"),
        pytest.param(f"{ORIGIN}\n-1\n{ROOT_B64}\n", id="negative"),
        pytest.param(f"{ORIGIN}\n1_000\n{ROOT_B64}\n", id="underscore"),
        pytest.param(f"{ORIGIN}\n\u0661\n{ROOT_B64}\n", id="arabic-digit"),
        pytest.param(f"{ORIGIN}\n 1\n{ROOT_B64}\n", id="space-in-size"),
        pytest.param(f"{ORIGIN}\n\n{ROOT_B64}\n", id="empty-size"),
        pytest.param(f"{ORIGIN}\n{MAX_TREE_SIZE + 1}\n{ROOT_B64}\n", id="size-over-uint64"),
        pytest.param(f"{ORIGIN}\n{'9' * 30}\n{ROOT_B64}\n", id="huge-size"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT_B64.rstrip('=')}\n", id="root-unpadded"),
        pytest.param(f"{ORIGIN}\n1\n{b64std_encode(ROOT[:31])}\n", id="root-31-bytes"),
        pytest.param(f"{ORIGIN}\n1\n{b64std_encode(ROOT + b'x')}\n", id="root-33-bytes"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT.hex()}\n", id="root-hex"),
        pytest.param(
            f"{ORIGIN}\n1\n{ROOT_B64.replace('+', '-').replace('/', '_')}\n", id="root-urlsafe"
        ),
        pytest.param(f"{ORIGIN}\n1\n{ROOT_B64[:-2]}B=\n", id="root-non-canonical"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT_B64}\nextension\n", id="extension-line"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT_B64}\n\n", id="trailing-empty-line"),
        pytest.param(f"{ORIGIN}\n1\n", id="missing-root"),
        pytest.param(f"{ORIGIN}\n", id="origin-only"),
        pytest.param(f"\n{ORIGIN}\n1\n{ROOT_B64}\n", id="leading-empty-line"),
        pytest.param(f"{ORIGIN} \n1\n{ROOT_B64}\n", id="origin-trailing-space"),
        pytest.param(f"{ORIGIN}x\n1\n{ROOT_B64}\n", id="wrong-origin"),
        pytest.param(f"{ORIGIN.upper()}\n1\n{ROOT_B64}\n", id="origin-case"),
    ],
)
def test_bad_bodies_rejected(body: str) -> None:
    # Signed with the right key and name, so only the body parser can reject it.
    note = sign_note(body, ORIGIN, KEY)
    with pytest.raises(EncodingError):
        Checkpoint.parse(note, ORIGIN, PUB)


def test_root_non_canonical_case_is_really_non_canonical() -> None:
    # guards the "root-non-canonical" case above: it decodes to 32 bytes but is not
    # the canonical encoding of them
    text = f"{ROOT_B64[:-2]}B="
    assert len(base64.b64decode(text)) == 32
    assert base64.b64encode(base64.b64decode(text)).decode() != text


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 1, ROOT),
        (" lead", 1, ROOT),
        ("trail ", 1, ROOT),
        ("two\nlines", 1, ROOT),
        ("in side", 1, ROOT),
        ("a+b", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, MAX_TREE_SIZE + 1, ROOT),
        (ORIGIN, True, ROOT),
        (ORIGIN, 1.0, ROOT),
        (ORIGIN, 1, ROOT[:31]),
        (ORIGIN, 1, ROOT.hex()),
    ],
)
def test_constructor_validates(origin: Any, size: Any, root: Any) -> None:
    with pytest.raises(EncodingError):
        Checkpoint(origin, size, root)


def test_frozen() -> None:
    cp = Checkpoint(ORIGIN, 1, ROOT)
    with pytest.raises(AttributeError):
        cp.size = 2  # type: ignore[misc]
