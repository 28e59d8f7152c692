"""The leaf parser's fast path (a pattern for canonical leaves) agrees with the general one.

:func:`anonballot.leaf.parse_leaf` first tries :func:`anonballot.leaf._parse_fast`, which
either returns exactly the leaf the general parser would or declines (None), leaving the
general parser to accept or to give the precise reason. These tests compare the two on
valid leaves and on many byte-level and field-level corruptions of one.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from _hypothesis import examples
from _jsonview import obj
from conftest import RoundFactory
from hypothesis import given, settings
from hypothesis import strategies as st

import anonballot.leaf as leaf_module
from anonballot.encoding import jcs, parse_json
from anonballot.errors import AnonBallotError
from anonballot.leaf import parse_leaf
from anonballot.manifest import Manifest

INTERESTING = b'-_+/=" \\,:{}[]01Aaz!\x00\xc3\xa9\x7f\n'
"""Bytes worth putting anywhere: base64url and standard base64 letters, JSON syntax,
white space, control bytes and non-ASCII."""


@pytest.fixture(scope="module")
def case(make_round: RoundFactory) -> tuple[Manifest, list[bytes]]:
    demo = make_round(wards=2, voters=2, seed=7)
    leaves = [demo.voter(i)[1] for i in (0, 2)]  # one leaf of each ward
    return demo.manifest, leaves


def _outcome(parse: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        leaf = parse()
    except AnonBallotError as exc:
        return ("error", type(exc).__name__, exc.code, exc.detail)
    return (
        "leaf",
        leaf.raw,
        leaf.round,
        leaf.ward,
        leaf.token,
        leaf.ballot,
        leaf.voter_sig,
        leaf.voter_key,
        leaf.signed_bytes(),
        leaf.value,
    )


def _both(data: bytes, manifest: Manifest, mid: str | None = None) -> tuple[Any, Any]:
    fast = _outcome(lambda: parse_leaf(data, manifest, mid))
    with mock.patch.object(leaf_module, "_parse_fast", return_value=None):
        general = _outcome(lambda: parse_leaf(data, manifest, mid))
    return fast, general


def test_valid_leaves_take_the_fast_path(case: tuple[Manifest, list[bytes]]) -> None:
    manifest, leaves = case
    for data in leaves:
        assert leaf_module._parse_fast(data, manifest, manifest.mid) is not None
        fast, general = _both(data, manifest)
        assert fast[0] == "leaf"
        assert fast == general


def test_fast_leaf_verifies(case: tuple[Manifest, list[bytes]]) -> None:
    manifest, leaves = case
    for data in leaves:
        leaf = parse_leaf(data, manifest)
        leaf.verify_token(manifest)
        leaf.verify_voter_sig()
        member = b',"voter_sig":"' + obj(leaf.value)["voter_sig"].encode("ascii") + b'"'
        assert leaf.signed_bytes() == data.replace(member, b"", 1)


def test_other_round_and_odd_mid(case: tuple[Manifest, list[bytes]]) -> None:
    manifest, leaves = case
    other = ("y" if manifest.mid[0] == "x" else "x") + manifest.mid[1:]  # always another mid
    for mid in (other, "é", manifest.mid + "A"):
        fast, general = _both(leaves[0], manifest, mid)
        assert fast == general
        assert fast[0] == "error"


@settings(max_examples=examples(400), deadline=None)
@given(data=st.data())
def test_byte_corruptions_agree(case: tuple[Manifest, list[bytes]], data: st.DataObject) -> None:
    manifest, leaves = case
    leaf = bytearray(data.draw(st.sampled_from(leaves)))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(leaf) - 1))
        byte = data.draw(st.sampled_from(INTERESTING))
        action = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "replace":
            leaf[where] = byte
        elif action == "insert":
            leaf.insert(where, byte)
        else:
            del leaf[where]
    fast, general = _both(bytes(leaf), manifest)
    assert fast == general


def _b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


FIELDS = ["ct", "nonce", "share", "msg", "sig", "voter_sig", "round", "ward"]


@settings(max_examples=examples(300), deadline=None)
@given(data=st.data())
def test_field_corruptions_agree(case: tuple[Manifest, list[bytes]], data: st.DataObject) -> None:
    """Re-encoded leaves (so still canonical JSON) with one field changed: lengths, stray
    bits in the last character, padding, other alphabets, other rounds and wards."""
    manifest, leaves = case
    value = obj(parse_json(data.draw(st.sampled_from(leaves))))
    name = data.draw(st.sampled_from(FIELDS))
    holder: Any
    key: str | int
    if name in ("ct", "nonce"):
        holder, key = value["ballot"], name
    elif name == "share":
        holder = value["ballot"]["shares"]
        key = data.draw(st.integers(0, len(holder) - 1))
    elif name in ("msg", "sig"):
        holder, key = value["token"], name
    else:
        holder, key = value, name
    text: str = holder[key]
    edit = data.draw(
        st.sampled_from(
            ["stray", "pad", "plus", "drop", "add", "empty", "bytes", "other", "number"]
        )
    )
    if edit == "stray" and len(text) % 4 in (2, 3):
        last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        new = text[:-1] + last[(last.index(text[-1]) + data.draw(st.integers(1, 3))) % 64]
    elif edit == "pad":
        new = text + "=" * data.draw(st.integers(1, 2))
    elif edit == "plus":
        new = text.replace("-", "+").replace("_", "/") if ("-" in text or "_" in text) else "+"
    elif edit == "drop":
        new = text[: -data.draw(st.integers(1, 4))]
    elif edit == "add":
        new = text + data.draw(st.sampled_from(["A", "AA", "AAA", "AAAA", "-", "_"]))
    elif edit == "empty":
        new = ""
    elif edit == "bytes":
        new = _b64u(data.draw(st.binary(min_size=0, max_size=600)))
    elif edit == "other":
        new = data.draw(st.sampled_from(["bo-de", "x", "é", "BO-DE", "w1", manifest.mid[::-1]]))
    else:
        holder[key] = data.draw(st.integers(-2, 2))
        new = None
    if new is not None:
        holder[key] = new
    shares = value["ballot"]["shares"]
    count = data.draw(st.sampled_from(["keep", "keep", "fewer", "more"]))
    if count == "fewer":
        shares.pop()
    elif count == "more":
        shares.append(shares[0])
    encoded = jcs(value)
    fast, general = _both(encoded, manifest)
    assert fast == general
    if data.draw(st.booleans()):
        # the same with the key order broken: no longer canonical
        reordered = b"{" + encoded[1:-1].split(b',"round"', 1)[-1]
        fast, general = _both(reordered, manifest)
        assert fast == general
