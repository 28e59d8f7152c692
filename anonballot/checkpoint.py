"""Signed tree heads of the ballot board: C2SP tlog-checkpoint notes.

A checkpoint (https://c2sp.org/tlog-checkpoint) is a signed note whose text is exactly::

    <origin>
    <tree size, decimal, no leading zeros>
    <root hash, standard base64>

signed with Ed25519 by the log key whose key name is the origin. The protocol defines no
extension lines, so :meth:`Checkpoint.parse` rejects any.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import EncodingError
from .hazmat.merkle import HASH_SIZE
from .hazmat.note import b64std_decode, b64std_encode, check_key_name, open_note, sign_note
from .signing import SigningKey, VerifyKey

__all__ = ["MAX_TREE_SIZE", "Checkpoint"]

MAX_TREE_SIZE = (1 << 64) - 1
"""RFC 9162 tree sizes are unsigned 64-bit integers."""

_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: its origin, tree size and RFC 9162 root hash."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if (
            not isinstance(self.origin, str)
            or not self.origin
            or "\n" in self.origin
            or self.origin != self.origin.strip()
        ):
            raise EncodingError(f"checkpoint origin {self.origin!r} is not a single trimmed line")
        # The origin is also the key name of the log's signature line, so it must be a
        # valid signed-note key name (no spaces, no "+").
        check_key_name(self.origin)
        if (
            not isinstance(self.size, int)
            or isinstance(self.size, bool)
            or not 0 <= self.size <= MAX_TREE_SIZE
        ):
            raise EncodingError(f"checkpoint size {self.size!r} is not a uint64")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise EncodingError(f"checkpoint root must be {HASH_SIZE} bytes")

    def text(self) -> str:
        """The checkpoint's note text (three lines, each ending in a newline)."""
        return f"{self.origin}\n{self.size}\n{b64std_encode(self.root)}\n"

    def sign(self, key: SigningKey) -> str:
        """The signed note of this checkpoint, signed by ``key`` with key name = origin."""
        return sign_note(self.text(), self.origin, key)

    @classmethod
    def parse(cls, note: str | bytes, origin: str, log_key: VerifyKey) -> Checkpoint:
        """Verify a signed checkpoint from the log ``origin`` with public key ``log_key``.

        Raises :class:`~anonballot.errors.InvalidSignature` when the log's signature is
        missing or bad, :class:`~anonballot.errors.EncodingError` for a malformed note or
        checkpoint body (wrong origin, non-canonical size or root, extra lines).
        """
        text = open_note(note, origin, log_key)
        lines = text.split("\n")
        # The text ends in "\n", so a v1 checkpoint splits into exactly 3 lines and "".
        # C2SP allows extension lines after the root hash; this protocol defines none, so
        # any extra line is rejected rather than silently ignored (it would be signed but
        # unaudited data).
        if len(lines) != 4 or lines[3] != "":
            raise EncodingError("a checkpoint is exactly three lines: origin, size, root")
        origin_line, size_line, root_line = lines[:3]
        if origin_line != origin:
            raise EncodingError(f"checkpoint origin {origin_line!r} is not the expected {origin!r}")
        if not _SIZE_RE.fullmatch(size_line):
            raise EncodingError(f"checkpoint size {size_line!r} is not a canonical decimal")
        size = int(size_line)
        if size > MAX_TREE_SIZE:
            raise EncodingError(f"checkpoint size {size_line} is larger than a uint64")
        root = b64std_decode(root_line, length=HASH_SIZE, what="checkpoint root")
        return cls(origin=origin_line, size=size, root=root)
