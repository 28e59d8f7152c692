"""C2SP signed notes (Ed25519): the vector, strict parsing, tampering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _hypothesis import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.errors import EncodingError, InvalidSignature, VerificationError
from anonballot.hazmat.merkle import MerkleTree, leaf_hash
from anonballot.hazmat.note import (
    MAX_NOTE_SIZE,
    b64std_decode,
    b64std_encode,
    key_id,
    open_note,
    parse_verifier_key,
    sign_note,
    verifier_key,
)
from anonballot.signing import SigningKey, VerifyKey

VECTOR: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "signed-note" / "checkpoint_example.json").read_text()
)
KEY = SigningKey(bytes.fromhex(VECTOR["ed25519_seed_hex"]))
NAME: str = VECTOR["key_name"]
PUB = KEY.public_key
SIGNED: str = VECTOR["signed_note"]
TEXT: str = VECTOR["note_text"]
OTHER = SigningKey(bytes(range(100, 132)))


# --- the vector ----------------------------------------------------------------------


def test_vector_key() -> None:
    assert PUB.to_bytes().hex() == VECTOR["ed25519_public_key_hex"]
    assert key_id(NAME, PUB).hex() == VECTOR["key_id_hex"]
    assert verifier_key(NAME, PUB) == VECTOR["verifier_key"]
    assert parse_verifier_key(VECTOR["verifier_key"]) == (NAME, PUB)


def test_vector_note_text_is_the_one_leaf_checkpoint() -> None:
    leaf = leaf_hash(VECTOR["leaf_utf8"].encode("utf-8"))
    assert leaf.hex() == VECTOR["leaf_hash_hex"]
    tree = MerkleTree([leaf])
    assert f"{NAME}\n1\n{b64std_encode(tree.root())}\n" == TEXT


def test_vector_signed_note_reproduced() -> None:
    assert sign_note(TEXT, NAME, KEY) == SIGNED


def test_vector_opens() -> None:
    assert open_note(SIGNED, NAME, PUB) == TEXT
    assert open_note(SIGNED.encode("utf-8"), NAME, PUB) == TEXT


# --- signature rules -----------------------------------------------------------------


def _sig_line(text: str, name: str, key: SigningKey) -> str:
    return sign_note(text, name, key)[len(text) + 1 :]


def test_extra_signatures_from_other_keys_are_ignored() -> None:
    # another key with another name, before and after ours
    other = _sig_line(TEXT, "witness.example/w1", OTHER)
    assert open_note(TEXT + "\n" + other + SIGNED[len(TEXT) + 1 :], NAME, PUB) == TEXT
    assert open_note(SIGNED + other, NAME, PUB) == TEXT
    # same name, different key (so a different key ID): ignored, not an error
    same_name = _sig_line(TEXT, NAME, OTHER)
    assert open_note(SIGNED + same_name, NAME, PUB) == TEXT
    # a line from an unknown key with a garbage (but well-formed) signature is ignored
    assert open_note(SIGNED + f"\u2014 someone {b64std_encode(b'abcdefgh')}\n", NAME, PUB)


def test_only_other_keys_fails() -> None:
    other = sign_note(TEXT, "witness.example/w1", OTHER)
    with pytest.raises(InvalidSignature):
        open_note(other, NAME, PUB)
    with pytest.raises(InvalidSignature):
        open_note(other, "witness.example/w1", PUB)


def test_wrong_name_or_key_fails() -> None:
    with pytest.raises(InvalidSignature):
        open_note(SIGNED, "district.example/other", PUB)
    with pytest.raises(InvalidSignature):
        open_note(SIGNED, NAME, OTHER.public_key)


def test_bad_signature_from_known_key_rejects_whole_note() -> None:
    good = SIGNED
    other_text = "district.example/long-bien-2026-11\n2\n" + TEXT.split("\n")[2] + "\n"
    bad_line = _sig_line(other_text, NAME, KEY)  # right key ID, signature over other text
    with pytest.raises(InvalidSignature):
        open_note(good + bad_line, NAME, PUB)
    with pytest.raises(InvalidSignature):
        open_note(TEXT + "\n" + bad_line, NAME, PUB)


def test_text_may_contain_blank_lines() -> None:
    text = "first\n\nthird\n\n"
    note = sign_note(text, NAME, KEY)
    assert open_note(note, NAME, PUB) == text
    assert open_note(sign_note("\n", NAME, KEY), NAME, PUB) == "\n"


# --- tampering -----------------------------------------------------------------------


@pytest.mark.parametrize("position", range(len(SIGNED.encode("utf-8"))))
def test_every_byte_change_rejected(position: int) -> None:
    raw = bytearray(SIGNED.encode("utf-8"))
    for delta in (1, 0x80):
        changed = bytearray(raw)
        changed[position] = (changed[position] + delta) % 256
        with pytest.raises((InvalidSignature, EncodingError)):
            open_note(bytes(changed), NAME, PUB)


@settings(max_examples=examples(150), deadline=None)
@given(data=st.data())
def test_random_edits_rejected(data: st.DataObject) -> None:
    raw = SIGNED.encode("utf-8")
    kind = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    pos = data.draw(st.integers(0, len(raw) - 1))
    if kind == "replace":
        byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[pos]))
        changed = raw[:pos] + bytes([byte]) + raw[pos + 1 :]
    elif kind == "insert":
        changed = raw[:pos] + data.draw(st.binary(min_size=1, max_size=3)) + raw[pos:]
    else:
        changed = raw[:pos] + raw[pos + 1 :]
    try:
        text = open_note(changed, NAME, PUB)
    except (InvalidSignature, EncodingError):
        return
    # The only edits that can survive are outside the signed text and the signature
    # (none exist in a note with a single signature line).
    raise AssertionError(f"edited note opened: {changed!r} -> {text!r}")


# --- malformed notes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "note",
    [
        pytest.param("", id="empty"),
        pytest.param(TEXT, id="no-signatures"),
        pytest.param(TEXT + "\n", id="blank-line-only"),
        pytest.param(SIGNED[:-1], id="no-final-newline"),
        pytest.param(SIGNED + "\n", id="trailing-blank-line"),
        pytest.param(SIGNED.replace("\n\n", "\n"), id="no-blank-line"),
        pytest.param(SIGNED.replace("\u2014 ", "- "), id="hyphen-not-em-dash"),
        pytest.param(SIGNED.replace("\u2014 ", "\u2014"), id="no-space-after-dash"),
        pytest.param(SIGNED.replace("\u2014 ", "\u2014  "), id="two-spaces-after-dash"),
        pytest.param(SIGNED.replace("2026-11 Rsi", "2026-11Rsi"), id="no-space-before-sig"),
        pytest.param(SIGNED.replace("2026-11 Rsi", "2026-11  Rsi"), id="two-spaces-before-sig"),
        pytest.param(SIGNED.replace("AAM=\n", "AAM\n"), id="unpadded"),
        pytest.param(SIGNED.replace("AAM=", "AAN="), id="non-canonical-base64"),
        pytest.param(SIGNED.replace("RsiS", "Rs-S"), id="urlsafe-alphabet"),
        pytest.param(SIGNED.replace("RsiS", "Rs S"), id="space-in-base64"),
        pytest.param(SIGNED.replace("\n", "\r\n"), id="crlf"),
        pytest.param(SIGNED.replace("\n1\n", "\n1\t\n"), id="control-char-in-text"),
        pytest.param(SIGNED + "\u2014 x+y AAAAAAA=\n", id="plus-in-other-name"),
        pytest.param(SIGNED + "\u2014 x AAAA\n", id="other-sig-too-short"),
        pytest.param(SIGNED + "\u2014  AAAAAAA=\n", id="empty-other-name"),
        pytest.param(SIGNED + "\u2014 x \n", id="empty-other-sig"),
        pytest.param(SIGNED + "garbage\n", id="garbage-line"),
        pytest.param(SIGNED + "\ud800\n", id="lone-surrogate"),
    ],
)
def test_malformed_notes_rejected(note: str) -> None:
    with pytest.raises(EncodingError):
        open_note(note, NAME, PUB)


def test_invalid_utf8_rejected() -> None:
    raw = SIGNED.encode("utf-8").replace(b"\n1\n", b"\n\xff\n")
    with pytest.raises(EncodingError):
        open_note(raw, NAME, PUB)
    raw = SIGNED.encode("utf-8").replace("\u2014".encode(), b"\xe2\x80")
    with pytest.raises(EncodingError):
        open_note(raw, NAME, PUB)


def test_size_limit() -> None:
    text = "x" * (MAX_NOTE_SIZE - 200) + "\n"
    note = sign_note(text, NAME, KEY)
    assert open_note(note, NAME, PUB) == text
    too_big = "x" * MAX_NOTE_SIZE + "\n"
    with pytest.raises(EncodingError):
        sign_note(too_big, NAME, KEY)
    with pytest.raises(EncodingError):
        open_note(too_big + "\n" + note.rsplit("\n\n", 1)[1], NAME, PUB)
    # multi-byte characters count as their UTF-8 size
    wide = "\u1ec7" * (MAX_NOTE_SIZE // 3) + "\n"
    with pytest.raises(EncodingError):
        open_note(wide + "\n" + note.rsplit("\n\n", 1)[1], NAME, PUB)


def test_too_many_signature_lines() -> None:
    line = _sig_line(TEXT, "witness.example/w1", OTHER)
    with pytest.raises(EncodingError):
        open_note(SIGNED + line * 100, NAME, PUB)
    assert open_note(SIGNED + line * 20, NAME, PUB) == TEXT


@pytest.mark.parametrize(
    "text",
    ["", "no newline", "a\x00b\n", "tab\there\n", "cr\r\n", "\ud800\n"],
)
def test_sign_rejects_bad_text(text: str) -> None:
    with pytest.raises(EncodingError):
        sign_note(text, NAME, KEY)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\u2003b", "a\nb", "a\tb"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(EncodingError):
        key_id(name, PUB)
    with pytest.raises(EncodingError):
        sign_note(TEXT, name, KEY)
    with pytest.raises(EncodingError):
        open_note(SIGNED, name, PUB)


def test_bad_public_key() -> None:
    raw = PUB.to_bytes()
    with pytest.raises(EncodingError):
        key_id(NAME, raw)  # type: ignore[arg-type]
    with pytest.raises(EncodingError):
        open_note(SIGNED, NAME, raw)  # type: ignore[arg-type]
    for bad in (raw[:31], raw + b"\x00"):
        with pytest.raises(EncodingError):
            VerifyKey(bad)


def test_verification_errors_are_verification_errors() -> None:
    with pytest.raises(VerificationError):
        open_note(SIGNED, NAME, OTHER.public_key)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        NAME,
        VECTOR["verifier_key"].replace("+46c892da+", "+46c892db+"),
        VECTOR["verifier_key"].replace("+46c892da+", "+46C892DA+"),
        VECTOR["verifier_key"].replace("+AQ", "+Ag"),
        VECTOR["verifier_key"][:-1],
        "a b" + VECTOR["verifier_key"][len(NAME) :],
    ],
)
def test_bad_verifier_keys(vkey: str) -> None:
    with pytest.raises(EncodingError):
        parse_verifier_key(vkey)


def test_b64std() -> None:
    for data in (b"", b"a", b"ab", b"abc", bytes(range(256))):
        assert b64std_decode(b64std_encode(data)) == data
    for bad in ("a", "ab", "abc", "YQ", "YR==", "YWJ=", "Y W==", "YQ==\n", "-_8=", "YQ=="[:3]):
        with pytest.raises(EncodingError):
            b64std_decode(bad)
    with pytest.raises(EncodingError):
        b64std_decode("YQ==", length=2)


@settings(max_examples=examples(40), deadline=None)
@given(
    text=st.text(
        st.characters(codec="utf-8", exclude_categories=["Cc"]) | st.just("\n"), max_size=200
    ).map(lambda t: t + "\n"),
    seed=st.binary(min_size=32, max_size=32),
)
def test_round_trip(text: str, seed: bytes) -> None:
    key = SigningKey(seed)
    note = sign_note(text, NAME, key)
    assert open_note(note, NAME, key.public_key) == text
    assert open_note(note.encode("utf-8"), NAME, key.public_key) == text
