"""Witnesses: C2SP ``cosignature/v1`` cosignatures and the ``add-checkpoint`` protocol.

A witness (https://c2sp.org/tlog-witness) keeps, for each log it follows, the latest
checkpoint it verified, and cosigns a new checkpoint only when a consistency proof shows that
it extends that one. Two witnesses that cosigned the same size with different roots, or one
that would have to cosign a tree that does not extend what it saw, expose a log showing
different boards to different people (a split view).

A cosignature (https://c2sp.org/tlog-cosignature, the Ed25519 ``cosignature/v1`` type) is a
signed-note signature line ``— <witness name> base64(key ID || timestamp || signature)``::

    key ID    = SHA-256(<name> || 0x0A || 0x04 || Ed25519 public key)[:4]
    timestamp = u64, big-endian: POSIX seconds when it was made (at most 2^63 - 1)
    signature = Ed25519(witness key, "cosignature/v1\\n" || "time <timestamp>\\n" || body)

where ``body`` is the checkpoint's note text (its three lines, without signatures). The
witness's verifier key is ``<name>+<hex key ID>+base64(0x04 || public key)``.

:class:`Witness` runs ``add-checkpoint`` over a :class:`WitnessStore` (the latest note per
origin); the HTTP endpoint and the durable store are the server's (``anonballot.server.
witness``). Its refusals are this library's errors, each for one status of the spec:

- :class:`~anonballot.errors.NotFound`: the origin is not a log the witness follows (404);
- :class:`~anonballot.errors.InvalidSignature`: no valid signature by the log's key (403);
- :class:`SizeConflict`: the old size is not the witness's, or the same size with another
  root (409; its ``size`` is the witness's);
- :class:`~anonballot.errors.InvalidProof`: the consistency proof does not verify (422);
- :class:`~anonballot.errors.InputError`: a malformed body, or an old size larger than the
  checkpoint's (400).
"""

from __future__ import annotations

import hashlib
import re
import struct
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .checkpoint import MAX_TREE_SIZE, Checkpoint
from .errors import Conflict, EncodingError, InputError, InvalidProof, InvalidSignature, NotFound
from .hazmat.merkle import HASH_SIZE, verify_consistency
from .hazmat.note import b64std_decode, b64std_encode, check_key_name, parse_verifier_key
from .signing import SIGNATURE_LENGTH, SigningKey, VerifyKey

__all__ = [
    "COSIGNATURE_TYPE",
    "MAX_PROOF_LINES",
    "MAX_TIMESTAMP",
    "AddCheckpoint",
    "Cosignature",
    "MemoryWitnessStore",
    "PolicyWitness",
    "SizeConflict",
    "Witness",
    "WitnessKey",
    "WitnessPolicy",
    "WitnessStore",
    "WitnessVerifier",
    "cosignature_message",
    "cosigners",
    "verify_cosignature",
]

COSIGNATURE_TYPE = 0x04
"""The signature type byte of Ed25519 ``cosignature/v1`` (key IDs and verifier keys)."""

MAX_TIMESTAMP = (1 << 63) - 1
"""The largest timestamp a cosignature may carry."""

MAX_PROOF_LINES = 63
"""The most consistency proof lines an ``add-checkpoint`` request may hold."""

PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
"""How a witness key file's line starts (the form of Go's ``note`` signer keys)."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_DECIMAL_RE = re.compile(r"0|[1-9][0-9]{0,19}")
_KEY_ID_RE = re.compile(r"[0-9a-f]{8}")


def _key_id(name: str, public_key: VerifyKey) -> bytes:
    check_key_name(name)
    raw = name.encode("utf-8") + b"\n" + bytes([COSIGNATURE_TYPE]) + public_key.to_bytes()
    return hashlib.sha256(raw).digest()[:4]


def _check_timestamp(timestamp: object) -> int:
    if (
        not isinstance(timestamp, int)
        or isinstance(timestamp, bool)
        or not 0 <= timestamp <= MAX_TIMESTAMP
    ):
        raise EncodingError(
            f"a cosignature timestamp is an integer from 0 to 2^63-1: {timestamp!r}"
        )
    return timestamp


def cosignature_message(body: str, timestamp: int) -> bytes:
    """The message a ``cosignature/v1`` signs: the header line, the time line, the body."""
    _check_timestamp(timestamp)
    if not isinstance(body, str) or not body.endswith("\n"):
        raise EncodingError("a checkpoint body ends with a newline")
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def _note_body(note: str) -> str:
    """The text of a signed note: everything before the blank line of its signatures."""
    if not isinstance(note, str):
        raise EncodingError("a checkpoint note is text")
    split = note.rfind("\n\n")
    if split < 0:
        raise EncodingError("the checkpoint note has no blank line before its signatures")
    return note[: split + 1]


@dataclass(frozen=True)
class WitnessVerifier:
    """A witness's public identity: its name and Ed25519 cosigning key."""

    name: str
    public_key: VerifyKey

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.public_key, VerifyKey):
            raise EncodingError("a witness's public key is a VerifyKey")

    @property
    def key_id(self) -> bytes:
        """``SHA-256(name || 0x0A || 0x04 || public key)[:4]``."""
        return _key_id(self.name, self.public_key)

    def vkey(self) -> str:
        """The verifier key ``<name>+<hex key ID>+<base64(0x04 || public key)>``."""
        raw = bytes([COSIGNATURE_TYPE]) + self.public_key.to_bytes()
        return f"{self.name}+{self.key_id.hex()}+{b64std_encode(raw)}"

    @classmethod
    def parse(cls, vkey: str) -> WitnessVerifier:
        """A ``cosignature/v1`` verifier key; its key ID must match its name and key."""
        if not isinstance(vkey, str) or vkey.count("+") < 2:
            raise EncodingError("a witness's verifier key is <name>+<key ID>+<base64 key>")
        name, kid_hex, b64 = vkey.split("+", 2)
        check_key_name(name)
        if not _KEY_ID_RE.fullmatch(kid_hex):
            raise EncodingError("witness verifier key: the key ID is 8 lowercase hex digits")
        raw = b64std_decode(b64, length=33, what="witness verifier key")
        if raw[0] != COSIGNATURE_TYPE:
            raise EncodingError("witness verifier key: not a cosignature/v1 (type 0x04) key")
        verifier = cls(name, VerifyKey(raw[1:]))
        if verifier.key_id.hex() != kid_hex:
            raise EncodingError("witness verifier key: the key ID does not match the name and key")
        return verifier


@dataclass(frozen=True)
class Cosignature:
    """One ``cosignature/v1`` signature line, parsed (not verified)."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.key_id, bytes) or len(self.key_id) != 4:
            raise EncodingError("a key ID is 4 bytes")
        _check_timestamp(self.timestamp)
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_LENGTH:
            raise EncodingError(f"an Ed25519 signature is {SIGNATURE_LENGTH} bytes")

    def line(self) -> str:
        """``— <name> base64(key ID || u64 timestamp || signature)`` and a newline."""
        blob = self.key_id + struct.pack(">Q", self.timestamp) + self.signature
        return f"{_SIG_PREFIX}{self.name} {b64std_encode(blob)}\n"

    @classmethod
    def parse(cls, line: str) -> Cosignature:
        """A signature line (with or without its newline) of 4 + 8 + 64 bytes."""
        if not isinstance(line, str):
            raise EncodingError("a cosignature is a line of text")
        line = line.removesuffix("\n")
        if not line.startswith(_SIG_PREFIX) or "\n" in line:
            raise EncodingError("a cosignature line starts with an em dash and a space")
        name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep:
            raise EncodingError("a cosignature line has a space between name and signature")
        blob = b64std_decode(b64, length=4 + 8 + SIGNATURE_LENGTH, what="cosignature")
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        return cls(name, blob[:4], timestamp, blob[12:])


def verify_cosignature(note: str, cosignature: str, witness: WitnessVerifier | str) -> int:
    """Check a witness's cosignature line on a checkpoint note; return its timestamp.

    ``note`` is the signed checkpoint (its signatures are not checked here), ``witness`` the
    witness's verifier key. Raises :class:`InvalidSignature` when the line is not by that
    witness (name and key ID) or does not verify, :class:`EncodingError` when malformed.
    """
    if isinstance(witness, str):
        witness = WitnessVerifier.parse(witness)
    cosig = Cosignature.parse(cosignature)
    if cosig.name != witness.name or cosig.key_id != witness.key_id:
        raise InvalidSignature(f"the cosignature is not by the witness {witness.name}")
    message = cosignature_message(_note_body(note), cosig.timestamp)
    try:
        witness.public_key.verify(message, cosig.signature)
    except InvalidSignature as exc:
        raise InvalidSignature(f"the cosignature by {witness.name} does not verify") from exc
    return cosig.timestamp


MAX_WITNESSES = 32
"""The most witnesses a round's policy may name."""


@dataclass(frozen=True)
class PolicyWitness:
    """One witness of a round's policy: who it is and where it takes checkpoints."""

    verifier: WitnessVerifier
    url: str
    """Its ``add-checkpoint`` prefix: requests go to ``<url>/add-checkpoint``."""

    def __post_init__(self) -> None:
        _check_url(self.url)

    @property
    def name(self) -> str:
        return self.verifier.name

    def to_json(self) -> dict[str, str]:
        return {"vkey": self.verifier.vkey(), "url": self.url}


def _check_url(url: object) -> None:
    if (
        not isinstance(url, str)
        or not re.fullmatch(r"https?://[\x21-\x7e]{1,500}", url)
        or url.endswith("/")
        or any(c in url for c in '?#"<>\\')
    ):
        raise EncodingError(
            "a witness's URL is an http(s) address without spaces, query, fragment or a "
            "final slash, e.g. https://witness.example/ban-kiem-phieu-1"
        )


@dataclass(frozen=True)
class WitnessPolicy:
    """The witnesses a round names and how many must cosign (``M.witnesses``, protocol
    section 6.9, in the manner of c2sp.org/tlog-policy): a checkpoint is *vouched for*
    when at least ``quorum`` of them cosigned it."""

    witnesses: tuple[PolicyWitness, ...]
    quorum: int

    def __post_init__(self) -> None:
        if not 1 <= len(self.witnesses) <= MAX_WITNESSES:
            raise EncodingError(f"witnesses: expected 1 to {MAX_WITNESSES} witnesses")
        names = [w.name for w in self.witnesses]
        if len(set(names)) != len(names):
            raise EncodingError("witnesses: two witnesses have the same name")
        if isinstance(self.quorum, bool) or not 1 <= self.quorum <= len(self.witnesses):
            raise EncodingError(
                f"witnesses.quorum: expected 1..{len(self.witnesses)} (the number of witnesses)"
            )

    def to_json(self) -> dict[str, object]:
        return {"quorum": self.quorum, "list": [w.to_json() for w in self.witnesses]}

    @classmethod
    def from_json(cls, value: object) -> WitnessPolicy:
        if not isinstance(value, dict) or set(value) != {"quorum", "list"}:
            raise EncodingError('witnesses: expected {"quorum": n, "list": [...]}')
        entries = value["list"]
        if not isinstance(entries, list):
            raise EncodingError("witnesses.list: expected a list")
        witnesses = []
        for i, entry in enumerate(entries[: MAX_WITNESSES + 1]):
            if not isinstance(entry, dict) or set(entry) != {"vkey", "url"}:
                raise EncodingError(f'witnesses.list[{i}]: expected {{"vkey": ..., "url": ...}}')
            try:
                witnesses.append(PolicyWitness(WitnessVerifier.parse(entry["vkey"]), entry["url"]))
            except EncodingError as exc:
                raise EncodingError(f"witnesses.list[{i}]: {exc.detail}") from exc
        quorum = value["quorum"]
        if isinstance(quorum, bool) or not isinstance(quorum, int):
            raise EncodingError("witnesses.quorum: expected an integer")
        return cls(tuple(witnesses), quorum)

    def cosigners(self, note: str) -> tuple[PolicyWitness, ...]:
        """The witnesses of this policy whose cosignature on ``note`` verifies (the log's
        own signature is not checked here); any other signature line is ignored."""
        return cosigners(note, self.witnesses)

    def vouched(self, note: str) -> bool:
        return len(self.cosigners(note)) >= self.quorum

    def bad_cosigners(self, note: str) -> tuple[PolicyWitness, ...]:
        """The witnesses of this policy with a ``cosignature/v1`` line on ``note`` that names
        them (their name and key ID) but does not verify: a forged or damaged cosignature,
        never a mere absence. Lines of other keys are not looked at."""
        lines = _signature_lines(note)
        bad = []
        for witness in self.witnesses:
            for line in lines:
                try:
                    cosig = Cosignature.parse(line)
                except EncodingError:
                    continue  # the log's own signature, or another kind of line
                if cosig.name != witness.name or cosig.key_id != witness.verifier.key_id:
                    continue
                try:
                    verify_cosignature(note, line, witness.verifier)
                except (InvalidSignature, EncodingError):
                    bad.append(witness)
                    break
        return tuple(bad)


def cosigners(note: str, witnesses: Sequence[PolicyWitness]) -> tuple[PolicyWitness, ...]:
    """The witnesses among ``witnesses`` with a valid ``cosignature/v1`` line on ``note``."""
    lines = _signature_lines(note)
    found = []
    for witness in witnesses:
        for line in lines:
            try:
                verify_cosignature(note, line, witness.verifier)
            except (InvalidSignature, EncodingError):
                continue
            found.append(witness)
            break
    return tuple(found)


def _signature_lines(note: str) -> list[str]:
    body = _note_body(note)
    return [line for line in note[len(body) + 1 :].split("\n") if line]


@dataclass(frozen=True)
class WitnessKey:
    """A witness's Ed25519 cosigning key under its name."""

    name: str
    key: SigningKey = field(repr=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.key, SigningKey):
            raise EncodingError("a witness key is an Ed25519 SigningKey")

    @classmethod
    def generate(cls, name: str) -> WitnessKey:
        return cls(name, SigningKey.generate())

    @property
    def verifier(self) -> WitnessVerifier:
        return WitnessVerifier(self.name, self.key.public_key)

    def vkey(self) -> str:
        """The public verifier key (``cosignature/v1``, type 0x04)."""
        return self.verifier.vkey()

    def cosign(self, checkpoint_note: str, timestamp: int) -> str:
        """The cosignature line on a checkpoint note (signatures are not checked here)."""
        body = _note_body(checkpoint_note)
        signature = self.key.sign(cosignature_message(body, timestamp))
        return Cosignature(self.name, self.verifier.key_id, timestamp, signature).line()

    def private_text(self) -> str:
        """The key file's line: ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 || seed)``."""
        raw = bytes([COSIGNATURE_TYPE]) + self.key.seed
        return (
            f"{PRIVATE_KEY_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{b64std_encode(raw)}\n"
        )

    @classmethod
    def from_private_text(cls, text: str) -> WitnessKey:
        """The key of its key file line (:meth:`private_text`); raises :class:`EncodingError`."""
        line = text.strip() if isinstance(text, str) else ""
        rest = line.removeprefix(PRIVATE_KEY_PREFIX)
        if rest == line or rest.count("+") < 2:
            raise EncodingError("not a witness key: PRIVATE+KEY+<name>+<key ID>+<base64 key>")
        name, kid_hex, b64 = rest.split("+", 2)  # base64 holds "+" too
        if not _KEY_ID_RE.fullmatch(kid_hex):
            raise EncodingError("witness key: the key ID is 8 lowercase hex digits")
        raw = b64std_decode(b64, length=33, what="witness key")
        if raw[0] != COSIGNATURE_TYPE:
            raise EncodingError("not a cosignature/v1 (type 0x04) witness key")
        key = cls(name, SigningKey(raw[1:]))
        if key.verifier.key_id.hex() != kid_hex:
            raise EncodingError("witness key: the key ID does not match the name and key")
        return key


def log_key(origin: str, vkey: str) -> VerifyKey:
    """A log's signed-note verifier key, whose key name must be its origin."""
    name, public_key = parse_verifier_key(vkey)
    if name != origin:
        raise EncodingError(f"the log's key is named {name!r}, not its origin {origin!r}")
    return public_key


@dataclass(frozen=True)
class AddCheckpoint:
    """An ``add-checkpoint`` request body, parsed: old size, proof, checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """``old <size>\\n``, up to 63 base64 hash lines, an empty line, the note."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"the request is not UTF-8 (byte {exc.start})") from exc
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise InputError("the request has no empty line before the checkpoint")
        lines = head.split("\n")
        old = lines[0].removeprefix("old ")
        if old == lines[0] or not _DECIMAL_RE.fullmatch(old) or int(old) > MAX_TREE_SIZE:
            raise InputError("the request's first line is not `old <size>` (decimal, uint64)")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise InputError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            proof = tuple(
                b64std_decode(line, length=HASH_SIZE, what="proof line") for line in lines[1:]
            )
        except EncodingError as exc:
            raise InputError(exc.detail) from exc
        return cls(int(old), proof, note)

    def encode(self) -> bytes:
        """The request body (the log's side: what :meth:`parse` reads)."""
        if len(self.proof) > MAX_PROOF_LINES:
            raise InputError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        lines = [f"old {self.old_size}", *(b64std_encode(p) for p in self.proof)]
        return ("\n".join(lines) + "\n\n" + self.note).encode("utf-8")


class SizeConflict(Conflict):
    """The witness holds another size for the log (or the same size with another root)."""

    code = "size_conflict"

    def __init__(self, detail: str, size: int) -> None:
        super().__init__(detail)
        self.size = size


class WitnessStore(Protocol):
    """The latest cosigned checkpoint note of each log (durable in the server's store)."""

    def latest(self, origin: str) -> str | None:
        """The stored note of ``origin``, or None."""
        ...

    def replace(self, origin: str, expected_size: int | None, size: int, note: str) -> None:
        """Store ``note`` (of tree ``size``) for ``origin`` durably, atomically with a check
        that the stored size is still ``expected_size`` (None: nothing stored); otherwise
        raise :class:`SizeConflict` with the stored size."""
        ...


class MemoryWitnessStore:
    """A :class:`WitnessStore` in memory (tests)."""

    def __init__(self) -> None:
        self._notes: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def latest(self, origin: str) -> str | None:
        stored = self._notes.get(origin)
        return stored[1] if stored else None

    def replace(self, origin: str, expected_size: int | None, size: int, note: str) -> None:
        with self._lock:
            stored = self._notes.get(origin)
            current = stored[0] if stored else None
            if current != expected_size:
                raise SizeConflict("the witness's checkpoint changed meanwhile", current or 0)
            self._notes[origin] = (size, note)


def _stored_checkpoint(note: str) -> Checkpoint:
    """A note the witness verified when it stored it (its signature is not checked again:
    a log's key may be rotated without losing what the witness saw under the old one)."""
    origin, size, root = _note_body(note).split("\n")[:3]
    return Checkpoint(origin, int(size), b64std_decode(root, length=HASH_SIZE))


class Witness:
    """The witness's side of ``add-checkpoint``: verify, store, then cosign."""

    def __init__(self, key: WitnessKey, logs: Mapping[str, VerifyKey], store: WitnessStore):
        for origin, public_key in logs.items():
            Checkpoint(origin, 0, bytes(HASH_SIZE))  # the origin is a valid one
            if not isinstance(public_key, VerifyKey):
                raise EncodingError(f"the key of log {origin} is not a VerifyKey")
        self.key = key
        # kept, not copied: a mapping that changes (a file of logs re-read) is followed
        self.logs = logs
        self.store = store

    def add_checkpoint(self, body: bytes, timestamp: int) -> str:
        """Answer one request: the cosignature line(s), once the checkpoint is stored."""
        request = AddCheckpoint.parse(body)
        checkpoint = self._verified(request.note)
        origin = checkpoint.origin
        if request.old_size > checkpoint.size:
            raise InputError(
                f"the old size {request.old_size} is larger than the checkpoint's {checkpoint.size}"
            )
        stored_note = self.store.latest(origin)
        stored = _stored_checkpoint(stored_note) if stored_note is not None else None
        stored_size = stored.size if stored is not None else 0
        if request.old_size != stored_size:
            raise SizeConflict(
                f"the witness's checkpoint of {origin} has size {stored_size}, not "
                f"{request.old_size}",
                stored_size,
            )
        self._check_proof(request.proof, stored, checkpoint)
        self.store.replace(
            origin, stored.size if stored is not None else None, checkpoint.size, request.note
        )
        return self.key.cosign(request.note, timestamp)

    def _verified(self, note: str) -> Checkpoint:
        origin = note.split("\n", 1)[0]
        public_key = self.logs.get(origin)
        if public_key is None:
            raise NotFound(f"the witness does not follow the log {origin[:100]!r}")
        try:
            return Checkpoint.parse(note, origin, public_key)
        except InvalidSignature:
            raise
        except EncodingError as exc:
            raise InputError(f"the checkpoint: {exc.detail}") from exc

    @staticmethod
    def _check_proof(proof: Sequence[bytes], old: Checkpoint | None, new: Checkpoint) -> None:
        if old is None or old.size == 0:
            if proof:
                raise InvalidProof("the consistency proof from size 0 must be empty")
            if old is not None and new.size == 0 and old.root != new.root:
                raise SizeConflict("another root for the same size 0", 0)
            return
        if old.size == new.size:
            if proof:
                raise InvalidProof("the consistency proof between equal sizes must be empty")
            if old.root != new.root:
                raise SizeConflict(
                    f"the witness holds another root for size {old.size} of {old.origin}",
                    old.size,
                )
            return
        verify_consistency(old.size, new.size, proof, old.root, new.root)
