"""Invitation codes and the issuance ledger's pseudonyms (protocol sections 5 and 8).

A code is 80 random bits written as 16 Crockford base32 characters, printed
``XXXX-XXXX-XXXX-XXXX``. Input is case-insensitive, ignores ``-`` and spaces, and maps
``O`` to ``0`` and ``I``/``L`` to ``1``. Servers store only :func:`code_hash` of a code.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from .encoding import b64u_encode, sha256
from .errors import InputError

__all__ = ["code_hash", "format_code", "generate_code", "normalize_code", "pseudonym"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MAP = {c: c for c in ALPHABET} | {"O": "0", "I": "1", "L": "1"}


def generate_code(randbits: Callable[[int], int] = secrets.randbits) -> str:
    """A fresh code, normalized (16 characters, no dashes)."""
    value = randbits(80)
    return "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(16)))


def normalize_code(text: object) -> str:
    """The 16-character normal form of a typed or scanned code; :class:`InputError` if bad."""
    if not isinstance(text, str):
        raise InputError("an invitation code is text", code="bad_code")
    if not text.isascii():
        # Checked before upper(): Unicode case mapping turns "ß" into "SS", "ı" into "I" and
        # "ſ" into "S", so non-ASCII text could otherwise pass as a code. Protocol section
        # 5.1 allows only the ASCII alphabet (with O, I, L, "-", spaces and tabs).
        raise InputError("an invitation code has only letters and digits", code="bad_code")
    out = []
    for ch in text.upper():
        if ch in "- \t":
            continue
        mapped = _MAP.get(ch)
        if mapped is None:
            raise InputError(
                f"an invitation code has only letters and digits, not {ch!r}", code="bad_code"
            )
        out.append(mapped)
    if len(out) != 16:
        raise InputError(
            f"an invitation code has 16 characters, this one has {len(out)}", code="bad_code"
        )
    return "".join(out)


def format_code(code: str) -> str:
    """``XXXX-XXXX-XXXX-XXXX``, as printed on slips."""
    c = normalize_code(code)
    return "-".join(c[i : i + 4] for i in range(0, 16, 4))


def code_hash(code: str) -> bytes:
    """What a server stores in place of the code (32 bytes)."""
    return sha256(b"anonballot/v1/code\x00" + normalize_code(code).encode("ascii"))


def pseudonym(mid: str, code: str) -> str:
    """The ledger entry of a code in round ``mid`` (protocol section 8)."""
    data = b"anonballot/v1/pseudonym\x00" + mid.encode("ascii") + b"\x00"
    return b64u_encode(sha256(data + normalize_code(code).encode("ascii")))
