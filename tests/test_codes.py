"""Invitation codes and ledger pseudonyms (anonballot.codes; protocol sections 5.1 and 8)."""

from __future__ import annotations

import hashlib
import random

import pytest
from _hypothesis import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.codes import (
    ALPHABET,
    code_hash,
    format_code,
    generate_code,
    normalize_code,
    pseudonym,
)
from anonballot.encoding import b64u_decode, b64u_encode
from anonballot.errors import InputError

CODE = "7K3M9QXR2D4F8HJW"
MID = "q2Zz0l3TQ5xw0dH0Kj7yGmMvvo3OJfI3mY3T1s0Qk8c"


def test_alphabet_is_crockford() -> None:
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32


@pytest.mark.parametrize(
    "typed",
    [
        "7K3M9QXR2D4F8HJW",
        "7k3m9qxr2d4f8hjw",
        "7K3M-9QXR-2D4F-8HJW",
        "7k3m 9qxr\t2d4f-8hjw",
        " 7K3M--9QXR 2D4F 8HJW ",
    ],
)
def test_normalize_case_dashes_spaces(typed: str) -> None:
    assert normalize_code(typed) == CODE


def test_normalize_maps_lookalikes() -> None:
    assert normalize_code("OoIiLl0011223344") == "0011110011223344"
    assert normalize_code("O000-0000-0000-000o") == "0" * 16
    assert code_hash("IL11-1111-1111-11i1") == code_hash("1" * 16)


@pytest.mark.parametrize(
    "typed",
    [
        "7K3M9QXR2D4F8HJU",  # U is not in the alphabet
        "7K3M9QXR2D4F8HJ",  # 15 characters
        "7K3M9QXR2D4F8HJW0",  # 17 characters
        "",
        "----------------",
        "7K3M_9QXR2D4F8HJW",
        "7K3M.9QXR.2D4F.8HJW",
        "7K3M9QXR2D4F8HJ\u00a0W",  # no-break space is not a separator
        "7K3M9QXR2D4F8HJ\nW",
        "７K3M9QXR2D4F8HJW",  # fullwidth digit
        "ßßßßßßßß",  # upper() would make this "SSSSSSSSSSSSSSSS"
        "ıııııııııııııııı",  # dotless i; upper() would make it "I" and then 1
        "ſſſſſſſſſſſſſſſſ",  # long s; upper() would make it "S"
    ],
)
def test_normalize_rejects(typed: str) -> None:
    with pytest.raises(InputError) as info:
        normalize_code(typed)
    assert info.value.code == "bad_code"


@pytest.mark.parametrize("value", [None, 1234567890123456, b"7K3M9QXR2D4F8HJW"])
def test_normalize_rejects_non_text(value: object) -> None:
    with pytest.raises(InputError):
        normalize_code(value)


def test_format() -> None:
    assert format_code(CODE) == "7K3M-9QXR-2D4F-8HJW"
    assert format_code("7k3m 9qxr 2d4f 8hjw") == "7K3M-9QXR-2D4F-8HJW"
    with pytest.raises(InputError):
        format_code("7K3M")


def test_code_hash_is_r7() -> None:
    expected = hashlib.sha256(b"anonballot/v1/code\x00" + CODE.encode()).digest()
    assert code_hash(CODE) == expected
    assert code_hash("7k3m-9qxr-2d4f-8hjw") == expected
    assert len(expected) == 32


def test_pseudonym_is_r7() -> None:
    data = b"anonballot/v1/pseudonym\x00" + MID.encode() + b"\x00" + CODE.encode()
    expected = b64u_encode(hashlib.sha256(data).digest())
    assert pseudonym(MID, CODE) == expected
    assert pseudonym(MID, "7k3m-9qxr-2d4f-8hjw") == expected
    assert len(b64u_decode(expected)) == 32
    # Bound to the round and to the code, and unrelated to the stored code hash.
    assert pseudonym(MID + "x", CODE) != expected
    assert pseudonym(MID, "7K3M9QXR2D4F8HJX") != expected
    assert b64u_decode(expected) != code_hash(CODE)


@settings(deadline=None, max_examples=examples(100))
@given(st.integers(min_value=0, max_value=2**80 - 1))
def test_generate_code_is_the_80_bits_most_significant_first(bits: int) -> None:
    code = generate_code(lambda n: bits)
    assert len(code) == 16
    assert set(code) <= set(ALPHABET)
    value = 0
    for ch in code:
        value = value * 32 + ALPHABET.index(ch)
    assert value == bits
    assert normalize_code(code) == code
    assert normalize_code(format_code(code).lower()) == code


def test_generate_code_random() -> None:
    codes = {generate_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 16
        assert set(code) <= set(ALPHABET)
    rng = random.Random(7)
    assert generate_code(rng.getrandbits) == generate_code(random.Random(7).getrandbits)
    assert generate_code(lambda n: 0) == "0" * 16
    assert generate_code(lambda n: 2**80 - 1) == "Z" * 16


@settings(deadline=None, max_examples=examples(100))
@given(st.integers(min_value=0, max_value=2**80 - 1), st.data())
def test_hash_and_pseudonym_ignore_how_a_code_is_typed(bits: int, data: st.DataObject) -> None:
    code = generate_code(lambda n: bits)
    typed = "".join(
        data.draw(st.sampled_from([ch, ch.lower()] + (["O", "o"] if ch == "0" else [])))
        + data.draw(st.sampled_from(["", "-", " ", "\t"]))
        for ch in code
    )
    assert code_hash(typed) == code_hash(code)
    assert pseudonym(MID, typed) == pseudonym(MID, code)
