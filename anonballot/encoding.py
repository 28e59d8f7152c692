"""Encodings of protocol section 2: canonical JSON, base64url, identifiers, labels, times.

Every hashed or signed JSON value is its JCS bytes (RFC 8785, through the ``rfc8785``
package) with two extra rules: every string is Unicode NFC and every number is an integer.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import re
import threading
import unicodedata
from collections.abc import Mapping
from typing import TypeAlias, cast

import rfc8785

from .errors import EncodingError

__all__ = [
    "JSONValue",
    "b64u_decode",
    "b64u_encode",
    "check_id",
    "check_label",
    "check_time",
    "is_nfc",
    "jcs",
    "jcs_checked",
    "parse_canonical",
    "parse_json",
    "parse_time",
    "sha256",
]

JSONValue: TypeAlias = dict[str, "JSONValue"] | list["JSONValue"] | str | int | bool | None
"""A value made of dict (str keys), list, str, int, bool and None: what :func:`parse_json`
returns, and what the ``to_json`` methods build. Parsed JSON is narrowed with ``isinstance``
by the parser of the document it is (``Manifest.from_json``, ``parse_leaf``, ...)."""

_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_B64U_RE = re.compile(r"[A-Za-z0-9_-]*")
_TAG_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def is_nfc(text: str) -> bool:
    return unicodedata.is_normalized("NFC", text)


_MAX_SAFE = 2**53 - 1


def _check_value(value: object, path: str, depth: int = 0) -> bool:
    """Raise unless ``value`` may be canonicalized; return True if every key is ASCII."""
    ascii_keys = _quick_check(value, depth)
    if ascii_keys is None:  # something to reject (with its path) or a less common type
        return _check_value_slow(value, path, depth)
    return ascii_keys


def _quick_check(value: object, depth: int) -> bool | None:
    """:func:`_check_value` for plain dict, list, str, int, bool and None, without building a
    path per node: whether every key is ASCII, or None when the value needs the full walk."""
    # ``type(x) is C`` on each branch rather than once into a local: mypy narrows only the
    # former, and CPython 3.11 specializes it so that it costs no more than the local.
    if type(value) is str:
        return True if value.isascii() or is_nfc(value) else None
    if type(value) is dict:
        if depth >= MAX_DEPTH:
            return None
        ascii_keys = True
        for key, item in value.items():
            if type(key) is not str:
                return None
            if not key.isascii():
                if not is_nfc(key):
                    return None
                ascii_keys = False
            if type(item) is str:
                if not item.isascii() and not is_nfc(item):
                    return None
            else:
                inner = _quick_check(item, depth + 1)
                if inner is None:
                    return None
                ascii_keys = ascii_keys and inner
        return ascii_keys
    if type(value) is list:
        if depth >= MAX_DEPTH:
            return None
        ascii_keys = True
        for item in value:
            inner = _quick_check(item, depth + 1)
            if inner is None:
                return None
            ascii_keys = ascii_keys and inner
        return ascii_keys
    if type(value) is int:
        return True if -_MAX_SAFE <= value <= _MAX_SAFE else None
    if value is None or type(value) is bool:
        return True
    return None


def _check_value_slow(value: object, path: str, depth: int) -> bool:
    if isinstance(value, str):
        if not value.isascii() and not is_nfc(value):
            raise EncodingError(f"{path}: string is not Unicode NFC")
        return True
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        if not -_MAX_SAFE <= value <= _MAX_SAFE:
            raise EncodingError(f"{path}: integer {value} is outside the I-JSON range")
        return True
    if isinstance(value, float):
        raise EncodingError(f"{path}: numbers must be integers, found {value!r}")
    ascii_keys = True
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_DEPTH:
        raise EncodingError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError(f"{path}: object keys must be strings")
            if not key.isascii():
                ascii_keys = False
                if not is_nfc(key):
                    raise EncodingError(f"{path}: key {key!r} is not Unicode NFC")
            ascii_keys = _check_value_slow(item, path + "." + key, depth + 1) and ascii_keys
        return ascii_keys
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            ascii_keys = _check_value_slow(item, f"{path}[{i}]", depth + 1) and ascii_keys
        return ascii_keys
    raise EncodingError(f"{path}: {type(value).__name__} is not a JSON value")


def jcs(value: object) -> bytes:
    """The RFC 8785 canonical bytes of ``value``; NFC strings and integers only.

    When every object key is ASCII, the standard library's sorted compact ``json.dumps``
    produces exactly the JCS bytes (same member order, same string escapes, integers only),
    and it is several times faster than the general ``rfc8785`` path used otherwise.
    The two are compared by a property test.
    """
    if _check_value(value, "$"):
        return jcs_checked(value)
    try:
        # _check_value has admitted it: made of JSON values only (tuples and mappings other
        # than dict among them, which rfc8785 takes as arrays and objects too).
        return bytes(rfc8785.dumps(cast(JSONValue, value)))
    except (rfc8785.CanonicalizationError, ValueError, TypeError) as exc:
        raise EncodingError(f"cannot canonicalize: {exc}") from exc


# Built once: json.dumps and json.loads with arguments build an encoder, or a decoder and its
# scanner, on every call, which costs about as much as encoding a small document.
_JCS_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def jcs_checked(value: object) -> bytes:
    """:func:`jcs` of a value already known to pass its checks with ASCII keys only (str
    keys, NFC strings, integers in the I-JSON range, bool, None): without walking it again."""
    try:
        return _JCS_ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodingError("cannot canonicalize: string is not valid Unicode") from exc


def _reject_constant(name: str) -> None:
    raise EncodingError(f"JSON constant {name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise EncodingError(f"duplicate key {key!r} in JSON object")
            seen.add(key)
    return out


def _reject_float(text: str) -> None:
    raise EncodingError(f"numbers must be integers, found {text}")


def _parse_int(text: str) -> int:
    # Integers in the I-JSON safe range only (protocol section 2.1). Checking the digit count
    # first also keeps int() from raising a bare ValueError on a huge literal (Python's
    # 4300-digit limit): a ballot holding a 5000-digit number must open as not_canonical
    # (section 7.3), not escape as another error.
    if len(text.lstrip("-")) > 16 or not -_MAX_SAFE <= (value := int(text)) <= _MAX_SAFE:
        raise EncodingError(f"integer {text[:20]} is outside the I-JSON range")
    return value


MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted anywhere (a ballot needs 5 levels).

A fixed limit, rather than Python's recursion limit, so that every process and every
implementation sorts the same bytes the same way."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _check_depth(text: str) -> None:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot be deeper than the number of openers
    # The strings out first (their brackets do not nest), in one pass of the regex engine,
    # then the brackets left: a national manifest (11 MB) in a third of the time a walk of
    # every string and bracket took.
    depth = 0
    for piece in _BRACKET.findall(_STRING.sub("", text)):
        if piece in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise EncodingError(f"JSON nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


_DECODERS = threading.local()


def _decoder() -> json.JSONDecoder:
    """This thread's strict decoder (its scanner keeps state while it runs: one per thread)."""
    decoder: json.JSONDecoder | None = getattr(_DECODERS, "decoder", None)
    if decoder is None:
        decoder = json.JSONDecoder(
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            parse_float=_reject_float,
            parse_int=_parse_int,
        )
        _DECODERS.decoder = decoder
    return decoder


def parse_json(data: bytes | str) -> JSONValue:
    """Parse strict JSON: UTF-8, no duplicate keys, no NaN or Infinity, integers only
    (in the I-JSON safe range), nested at most :data:`MAX_DEPTH` levels."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    else:
        text = data
    _check_depth(text)
    try:
        if text.startswith("\ufeff"):  # as json.loads does
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value: JSONValue = _decoder().decode(text)  # its hooks admit JSON values only
        return value
    except json.JSONDecodeError as exc:
        raise EncodingError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise EncodingError("JSON nested too deeply") from exc


def parse_canonical(data: bytes) -> JSONValue:
    """Parse ``data`` and require that it is exactly its own JCS bytes."""
    value = parse_json(data)
    if jcs(value) != data:
        raise EncodingError("JSON is not in canonical form (RFC 8785, NFC)")
    return value


def b64u_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: object, *, length: int | None = None, what: str = "value") -> bytes:
    """Decode strict base64url without padding; with ``length``, require that many bytes.

    Non-canonical encodings (stray bits in the last character) are rejected so that every
    byte string has exactly one text form.
    """
    if not isinstance(text, str):
        raise EncodingError(f"{what}: expected a base64url string")
    if not _B64U_RE.fullmatch(text) or len(text) % 4 == 1:
        raise EncodingError(f"{what}: not base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"{what}: not base64url") from exc
    if b64u_encode(data) != text:
        raise EncodingError(f"{what}: non-canonical base64url")
    if length is not None and len(data) != length:
        raise EncodingError(f"{what}: expected {length} bytes, found {len(data)}")
    return data


def check_id(value: object, what: str = "identifier") -> str:
    """Require a protocol identifier ``[a-z0-9][a-z0-9-]{0,63}``."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise EncodingError(f"{what}: {value!r} is not an identifier ([a-z0-9][a-z0-9-]{{0,63}})")
    return value


def check_label(value: object, what: str = "label") -> dict[str, str]:
    """Require a label: an object from language tag to non-empty NFC text, with ``vi``."""
    if not isinstance(value, dict) or not value:
        raise EncodingError(f"{what}: expected an object from language tag to text")
    for tag, text in value.items():
        if not _TAG_RE.fullmatch(tag):
            raise EncodingError(f"{what}: {tag!r} is not a language tag")
        if not isinstance(text, str) or not text.strip() or not is_nfc(text):
            raise EncodingError(f"{what}.{tag}: expected non-empty NFC text")
    if "vi" not in value:
        raise EncodingError(f"{what}: the Vietnamese text (vi) is required")
    return dict(value)


def parse_time(value: object, what: str = "time") -> _dt.datetime:
    """Parse an RFC 3339 time with an explicit offset."""
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", value
    ):
        raise EncodingError(f"{what}: {value!r} is not an RFC 3339 time with offset")
    try:
        return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EncodingError(f"{what}: {value!r} is not a valid time") from exc


def check_time(value: object, what: str = "time") -> str:
    parse_time(value, what)
    return str(value)
