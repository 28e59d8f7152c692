"""Canonical JSON, strict parsing and base64url (anonballot.encoding; protocol 2.1 and 2.2)."""

from __future__ import annotations

import base64
import unicodedata
from typing import Any

import pytest
import rfc8785
from _hypothesis import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.encoding import (
    b64u_decode,
    b64u_encode,
    check_id,
    check_label,
    jcs,
    parse_canonical,
    parse_json,
    parse_time,
)
from anonballot.errors import EncodingError

SETTINGS = settings(deadline=None, max_examples=examples(150))
MAX_SAFE = 2**53 - 1

VIETNAMESE = "ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵĂÂĐÊÔƠƯẤẦẨẪẬ"
COMBINING = "\u0300\u0301\u0303\u0309\u0323\u0302\u0306"  # decomposed forms; NFC composes them
CONTROL = "".join(chr(i) for i in range(0x20)) + "\x7f\x85\u2028\u2029\ufeff"
SPECIAL = '"\\/ <>&'
NON_BMP = "😀👍🏽🗳\ufe0f\U0001f1fb\U0001f1f3\U00010000\U0001d11e\U0010fffd"
ALPHABET = "abcXYZ019" + VIETNAMESE + COMBINING + CONTROL + SPECIAL + NON_BMP + "\ue000\uffff"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


strings = st.one_of(st.text(max_size=12), st.text(alphabet=ALPHABET, max_size=12)).map(nfc)
ascii_keys = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=6)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-MAX_SAFE, max_value=MAX_SAFE), strings
)


def json_values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=16,
    )


# --- jcs against the reference implementation ---------------------------------------------


@SETTINGS
@given(json_values(ascii_keys))
def test_jcs_fast_path_equals_rfc8785(value: Any) -> None:
    # Every key is ASCII: jcs() takes its json.dumps path, which must give the RFC 8785 bytes.
    assert jcs(value) == rfc8785.dumps(value)


@SETTINGS
@given(json_values(st.one_of(ascii_keys, strings)))
def test_jcs_equals_rfc8785_with_any_keys(value: Any) -> None:
    assert jcs(value) == rfc8785.dumps(value)


@SETTINGS
@given(json_values(st.one_of(ascii_keys, strings)))
def test_jcs_bytes_are_canonical_and_round_trip(value: Any) -> None:
    data = jcs(value)
    assert parse_canonical(data) == value
    assert jcs(parse_json(data)) == data


def test_jcs_known_bytes() -> None:
    value = {"b": [1, -2, True, None], "a": "Tốt\n\x01\u2028😀", "é": {}, "Z": ""}
    assert jcs(value) == (
        '{"Z":"","a":"Tốt\\n\\u0001\u2028😀","b":[1,-2,true,null],"é":{}}'.encode()
    )
    # Member names sort by UTF-16 code units: U+E000 after a non-BMP character (a surrogate
    # pair, D83D ...), although its code point is lower.
    assert jcs({"\ue000": 1, "😀": 2}) == '{"😀":2,"\ue000":1}'.encode()


# --- what jcs refuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        {"a": 0.5},
        [float("nan")],
        float("inf"),
        2**53,
        -(2**53),
        {"a": [10**30]},
        "e\u0301",  # not NFC (é decomposed)
        {"Te\u0302\u0301t": 1},  # non-NFC member name
        "\ud800",  # lone surrogate
        {"é": "\udfff"},
        {1: "a"},
        {"a": b"bytes"},
        {"a": {1, 2}},
    ],
    ids=repr,
)
def test_jcs_rejects(value: object) -> None:
    with pytest.raises(EncodingError):
        jcs(value)


def test_jcs_accepts_the_safe_integer_range() -> None:
    assert jcs([MAX_SAFE, -MAX_SAFE, 0]) == b"[9007199254740991,-9007199254740991,0]"


# --- strict parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"1.0",
        b"1e5",
        b'{"a":-0.0}',
        b"NaN",
        b"[Infinity]",
        b"-Infinity",
        b'{"a":1,"a":2}',
        b'{"a":{"b":1,"b":1}}',
        b"9007199254740992",
        b"-9007199254740992",
        b"1" * 5000,  # beyond Python's int digit limit: still an EncodingError
        b"\xff",
        b'"\xc3"',
        b"\xef\xbb\xbf{}",  # BOM
        b"[" * 100000,
        b"",
        b"{",
    ],
    ids=lambda d: repr(d[:20]),
)
def test_parse_json_rejects(data: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_json(data)


def test_parse_json_accepts_text_and_bytes() -> None:
    assert parse_json('{"a": [1, "Tốt"]}') == {"a": [1, "Tốt"]}
    assert parse_json(b" 9007199254740991 ") == MAX_SAFE


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}',  # spacing
        b'{"b":1,"a":2}',  # member order
        b'"\\u0041"',  # needless escape
        b'"\\/"',
        b'"\\u001F"',  # upper-case hex
        b'"\\u00e9"',  # escaped non-ASCII
        b"1\n",
        b'"e\xcc\x81"',  # not NFC
        b'"\\ud800"',  # lone surrogate
        b"-0",
        b"01",
    ],
    ids=repr,
)
def test_parse_canonical_rejects(data: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_canonical(data)


def test_parse_canonical_accepts() -> None:
    data = '{"a":"\\u001f\\n","b":[true,null,-1],"é":"Tốt"}'.encode()
    assert parse_canonical(data) == {"a": "\x1f\n", "b": [True, None, -1], "é": "Tốt"}


# --- base64url ----------------------------------------------------------------------------------


@settings(deadline=None, max_examples=examples(100))
@given(st.binary(max_size=70))
def test_b64u_round_trip(data: bytes) -> None:
    text = b64u_encode(data)
    assert "=" not in text
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64u_decode(text) == data
    assert b64u_decode(text, length=len(data)) == data


@settings(deadline=None, max_examples=examples(200))
@given(st.text(alphabet="AQgw_-09azZ+/=", max_size=9))
def test_b64u_has_one_text_form(text: str) -> None:
    # Whatever decodes must encode back to exactly the same text.
    try:
        data = b64u_decode(text)
    except EncodingError:
        return
    assert b64u_encode(data) == text


@pytest.mark.parametrize(
    "text",
    [
        "AA==",  # padding
        "AA=",
        "AB",  # non-canonical: stray bits in the last character
        "AAB",
        "A",  # impossible length
        "AAAAA",
        "+/8",  # standard alphabet
        "AA AA",
        "AAAA\n",
        "ÀA",
    ],
)
def test_b64u_rejects(text: str) -> None:
    with pytest.raises(EncodingError):
        b64u_decode(text)


def test_b64u_length_and_type() -> None:
    assert b64u_decode("AAAA", length=3) == b"\x00\x00\x00"
    with pytest.raises(EncodingError, match="expected 4 bytes"):
        b64u_decode("AAAA", length=4)
    with pytest.raises(EncodingError):
        b64u_decode(b"AAAA")
    assert b64u_decode("") == b""


# --- identifiers, labels, times ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "bo-de", "0", "a" * 64, "x-"])
def test_check_id_accepts(value: str) -> None:
    assert check_id(value) == value


@pytest.mark.parametrize("value", ["", "-a", "Bo-de", "bo_de", "a" * 65, "bồ", 5, None, "a\n"])
def test_check_id_rejects(value: object) -> None:
    with pytest.raises(EncodingError):
        check_id(value)


def test_check_label() -> None:
    assert check_label({"vi": "Tốt", "en": "Good"}) == {"vi": "Tốt", "en": "Good"}
    for bad in ({}, {"en": "Good"}, {"vi": ""}, {"vi": "To\u0302\u0301t"}, {"VI": "x"}, ["vi"]):
        with pytest.raises(EncodingError):
            check_label(bad)


def test_parse_time() -> None:
    assert parse_time("2026-11-02T08:00:00Z") == parse_time("2026-11-02T15:00:00+07:00")
    for bad in ("2026-11-02T08:00:00", "2026-11-02 08:00:00Z", "2026-13-02T08:00:00Z", 5):
        with pytest.raises(EncodingError):
            parse_time(bad)
