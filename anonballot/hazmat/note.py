"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures.

HAZMAT: a signed note authenticates opaque text. Use :mod:`anonballot.checkpoint` for
the log's checkpoints instead of parsing note text yourself.

A signed note is the text (ending in a newline), a blank line, and one or more signature
lines ``— <key name> <base64(key ID || signature)>``::

    example.org/log
    7
    bXlyb290...=

    — example.org/log RsiS2irb...=

For Ed25519 (signature type ``0x01``)::

    key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4]

Parsing is strict: the note must be UTF-8 without control characters other than newline,
at most 1 MiB, every signature line must be well formed (standard, canonical base64), and
at least one signature by the expected key (name *and* key ID) must verify. Signatures by
other keys are ignored, as the specification requires; a signature by the expected key
that does not verify rejects the whole note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from ..errors import EncodingError, InvalidSignature
from ..signing import SigningKey, VerifyKey

__all__ = [
    "ED25519_TYPE",
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "b64std_decode",
    "b64std_encode",
    "check_key_name",
    "key_id",
    "open_note",
    "parse_verifier_key",
    "sign_note",
    "verifier_key",
]

ED25519_TYPE = 0x01
"""The signed-note signature type byte of Ed25519."""

MAX_NOTE_SIZE = 1 << 20
"""The largest signed note accepted, in UTF-8 bytes (1 MiB)."""

MAX_SIGNATURES = 100
"""The most signature lines accepted in one note (the specification requires >= 16)."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_B64STD_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f]")


def b64std_encode(data: bytes) -> str:
    """Standard base64 (RFC 4648 section 4) with padding."""
    return base64.b64encode(data).decode("ascii")


def b64std_decode(text: str, *, length: int | None = None, what: str = "value") -> bytes:
    """Decode strict, canonical standard base64 with padding; with ``length``, require it.

    Raises :class:`EncodingError` for other alphabets, missing padding, whitespace, or
    stray bits in the last character (so every byte string has exactly one text form).
    """
    if not isinstance(text, str) or not _B64STD_RE.fullmatch(text):
        raise EncodingError(f"{what}: not standard base64 with padding")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"{what}: not standard base64") from exc
    if b64std_encode(data) != text:
        raise EncodingError(f"{what}: non-canonical base64")
    if length is not None and len(data) != length:
        raise EncodingError(f"{what}: expected {length} bytes, found {len(data)}")
    return data


def check_key_name(name: object) -> str:
    """Require a signed-note key name: non-empty, no Unicode spaces, no ``+``, no controls."""
    if (
        not isinstance(name, str)
        or not name
        or "+" in name
        or any(c.isspace() for c in name)
        or _CONTROL_RE.search(name)
    ):
        raise EncodingError(f"{name!r} is not a signed-note key name")
    _utf8(name, "key name")
    return name


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodingError(f"{what}: not encodable as UTF-8 (lone surrogate)") from exc


def _check_public_key(public_key: object) -> bytes:
    if not isinstance(public_key, VerifyKey):
        raise EncodingError("an Ed25519 public key is a VerifyKey")
    return public_key.to_bytes()


def key_id(name: str, public_key: VerifyKey) -> bytes:
    """The 4-byte key ID ``SHA-256(name || 0x0A || 0x01 || public_key)[:4]``."""
    check_key_name(name)
    raw = _check_public_key(public_key)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + raw).digest()[:4]


def verifier_key(name: str, public_key: VerifyKey) -> str:
    """The verifier key string ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
    kid = key_id(name, public_key)
    raw = public_key.to_bytes()
    return f"{name}+{kid.hex()}+{b64std_encode(bytes([ED25519_TYPE]) + raw)}"


def parse_verifier_key(vkey: str) -> tuple[str, VerifyKey]:
    """Parse an Ed25519 verifier key string into ``(name, public_key)``.

    The key ID in the string must match the one computed from the name and key.
    """
    if not isinstance(vkey, str) or vkey.count("+") < 2:
        raise EncodingError("a verifier key is <name>+<key ID>+<base64 key>")
    name, kid_hex, b64 = vkey.split("+", 2)
    check_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", kid_hex):
        raise EncodingError("verifier key: the key ID is 8 lowercase hex digits")
    raw = b64std_decode(b64, length=33, what="verifier key")
    if raw[0] != ED25519_TYPE:
        raise EncodingError("verifier key: not an Ed25519 (type 0x01) key")
    public_key = VerifyKey(raw[1:])
    if key_id(name, public_key).hex() != kid_hex:
        raise EncodingError("verifier key: the key ID does not match the name and key")
    return name, public_key


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise EncodingError("note text must be non-empty and end with a newline")
    if _CONTROL_RE.search(text):
        raise EncodingError("note text contains an ASCII control character")
    _utf8(text, "note text")
    return text


def sign_note(text: str, name: str, key: SigningKey) -> str:
    """Sign ``text`` (ending in a newline) as key ``name``; return the signed note."""
    _check_text(text)
    check_key_name(name)
    kid = key_id(name, key.public_key)
    signature = key.sign(text.encode("utf-8"))
    note = f"{text}\n{_SIG_PREFIX}{name} {b64std_encode(kid + signature)}\n"
    if len(note.encode("utf-8")) > MAX_NOTE_SIZE:
        raise EncodingError(f"signed note is larger than {MAX_NOTE_SIZE} bytes")
    return note


def open_note(note: str | bytes, name: str, public_key: VerifyKey) -> str:
    """Verify a signed note against the Ed25519 key ``(name, public_key)``; return its text.

    Raises :class:`EncodingError` for a malformed note and :class:`InvalidSignature` when
    no signature by the key verifies or a signature by the key does not verify.
    """
    check_key_name(name)
    expected_id = key_id(name, public_key)

    if isinstance(note, bytes):
        raw = note
        if len(raw) > MAX_NOTE_SIZE:
            raise EncodingError(f"signed note is larger than {MAX_NOTE_SIZE} bytes")
        try:
            note = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(f"signed note is not UTF-8 (byte {exc.start})") from exc
    elif isinstance(note, str):
        if len(note) > MAX_NOTE_SIZE or len(_utf8(note, "signed note")) > MAX_NOTE_SIZE:
            raise EncodingError(f"signed note is larger than {MAX_NOTE_SIZE} bytes")
    else:
        raise EncodingError("a signed note is text")
    if _CONTROL_RE.search(note):
        raise EncodingError("signed note contains an ASCII control character")

    split = note.rfind("\n\n")
    if split < 0:
        raise EncodingError("signed note has no blank line before its signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        raise EncodingError("signed note must end with signature lines and a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise EncodingError(f"signed note has more than {MAX_SIGNATURES} signatures")

    message = text.encode("utf-8")
    verified = 0
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise EncodingError("signature line does not start with an em dash and a space")
        signer, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep:
            raise EncodingError("signature line has no space between name and signature")
        check_key_name(signer)
        blob = b64std_decode(b64, what="note signature")
        if len(blob) < 5:
            raise EncodingError("note signature is shorter than a key ID and a signature")
        if signer != name or blob[:4] != expected_id:
            continue  # an unknown key: ignored, as the specification requires
        try:
            public_key.verify(message, blob[4:])
        except InvalidSignature as exc:
            raise InvalidSignature(f"the signature by {name} does not verify") from exc
        verified += 1
    if verified == 0:
        raise InvalidSignature(f"the note has no signature by {name} (key ID {expected_id.hex()})")
    return text
