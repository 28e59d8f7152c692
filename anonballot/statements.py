"""The documents the organizer publishes at close and after the tally, as types.

- :class:`CloseStatement`: the signed close statement (protocol section 7.1).
- :class:`IssuanceLedger`: the issuance ledger ``L`` (section 8); it is not signed, but the
  close statement binds it by its hash.
- :class:`Results`: the signed results (section 7.5).

Each has ``build(...)`` (from what the engine knows), ``to_json()`` (the protocol's JSON
value) and a parser that checks the shape against the round's manifest and raises an
:class:`~anonballot.errors.AnonBallotError`: the signed documents verify the organizer's
signature first (section 2.4). Nothing else in the package parses these documents.

The auditor reports every problem of a document, not only the first: it passes a
``problems`` list, which collects the problems that still leave a usable document (another
round's id, a count missing, an unsorted ledger); without it the first problem raises.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .checkpoint import Checkpoint
from .encoding import JSONValue, b64u_decode, b64u_encode, jcs, sha256
from .errors import EncodingError, InvalidProof, StatementError
from .manifest import Manifest
from .signing import SigningKey, sign_object, verify_object
from .spill import DuplicateFinder

__all__ = [
    "CloseStatement",
    "CriteriaCounts",
    "DistrictResult",
    "InvalidBallot",
    "IssuanceLedger",
    "LedgerScan",
    "Results",
    "RoleResult",
    "SubjectResult",
    "WardCounts",
]

_PSEUDONYM = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")
"""The canonical base64url of 32 bytes (the last character carries 4 bits and 2 zero bits):
most ledger entries match it, and only the others need a full decode for the message."""

CriteriaCounts = Mapping[str, Mapping[str, int]]
"""Criterion id to scale level (or abstain) id to a number of ratings."""


def _problem(problems: list[str] | None, detail: str) -> None:
    """Record a problem that leaves the document usable, or raise it."""
    if problems is None:
        raise StatementError(detail)
    problems.append(detail)


def _object(value: object, keys: Iterable[str], detail: str) -> dict[str, object]:
    if not isinstance(value, dict) or set(value) != set(keys):
        raise StatementError(detail)
    return value


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StatementError(f"{what}: expected an integer >= 0")
    return value


def _hash(value: object, what: str) -> bytes:
    try:
        return b64u_decode(value, length=32, what=what)
    except EncodingError as exc:
        raise StatementError(exc.detail) from exc


# -- the issuance ledger (section 8) ------------------------------------------------------------


@dataclass(frozen=True)
class IssuanceLedger:
    """``L``: per ward, the pseudonyms of the roster entries that were served a token."""

    round: str
    wards: Mapping[str, tuple[str, ...]]
    digest: bytes = field(default=b"", compare=False)
    """``SHA-256(JCS(L))`` of the document as published (what the close statement binds)."""

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", self.hash_of(self.to_json()))

    @classmethod
    def build(cls, manifest: Manifest, served: Iterable[tuple[str, str]]) -> IssuanceLedger:
        """The ledger of ``served`` ``(ward, pseudonym)`` pairs: every manifest ward, each
        list sorted by code point (so that it says nothing about the order of issuance)."""
        wards: dict[str, list[str]] = {w.id: [] for w in manifest.wards}
        for ward, pseudonym in served:
            wards[ward].append(pseudonym)
        return cls(manifest.mid, {w: tuple(sorted(p)) for w, p in wards.items()})

    @property
    def counts(self) -> dict[str, int]:
        """The number of entries per ward: the close statement's ``issued``."""
        return {ward: len(entries) for ward, entries in self.wards.items()}

    def to_json(self) -> dict[str, JSONValue]:
        return {"round": self.round, "wards": {w: list(p) for w, p in self.wards.items()}}

    @staticmethod
    def hash_of(value: object) -> bytes:
        """``SHA-256(JCS(value))``; :class:`EncodingError` when ``value`` has no JCS."""
        return sha256(jcs(value))

    @classmethod
    def from_json(
        cls, value: object, manifest: Manifest, *, problems: list[str] | None = None
    ) -> IssuanceLedger:
        """Parse ``issuance.json`` with the rules of section 8 (check A8 of section 9.2).

        With ``problems``, a ledger for another round, an unsorted list, a malformed or
        repeated pseudonym, or a ward whose entries are not a list of text (counted as empty)
        are recorded there instead of raised.
        """
        digest = cls.hash_of(value)
        ledger = _object(
            value, ("round", "wards"), "the ledger has exactly the keys round and wards"
        )
        if ledger["round"] != manifest.mid:
            _problem(problems, "the ledger is for another round")
        wards = ledger["wards"]
        if not isinstance(wards, dict) or set(wards) != {w.id for w in manifest.wards}:
            raise StatementError("the ledger does not list exactly the manifest's wards")
        out: dict[str, tuple[str, ...]] = {}
        seen: set[str] = set()
        for ward, entries in wards.items():
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                _problem(problems, f"ledger entries of {ward} are not a list of text")
                out[ward] = ()
                continue
            if entries != sorted(entries):
                _problem(problems, f"ledger entries of {ward} are not sorted")
            for entry in entries:
                if not _PSEUDONYM.fullmatch(entry):  # b64u_decode says what is wrong
                    try:
                        b64u_decode(entry, length=32, what="pseudonym")
                    except EncodingError as exc:
                        _problem(problems, f"{ward}: {exc.detail}")
                if entry in seen:
                    _problem(problems, f"{ward}: pseudonym {entry} appears twice")
                seen.add(entry)
            out[ward] = tuple(entries)
        round_id = ledger["round"] if isinstance(ledger["round"], str) else ""
        return cls(round_id, out, digest)

    @staticmethod
    def scan(stream: _Readable, manifest: Manifest) -> LedgerScan | None:
        """Read ``issuance.json`` from ``stream`` a block at a time, for the auditor (A8,
        A9): its hash and its entries per ward, in memory that does not grow with it.

        This accepts only a ledger in its canonical form (the JCS bytes, as the engine
        writes it) that :meth:`from_json` would take without a problem: this round, every
        ward in JCS order, each list sorted, each pseudonym canonical base64url of 32 bytes
        and in no other place. A pseudonym seen twice is found through
        :class:`~anonballot.spill.DuplicateFinder` (temporary files). None for anything
        else: the caller then parses the whole document to say what is wrong with it.
        """
        return _LedgerScanner(stream, manifest).run()

    def check(self, close: CloseStatement) -> None:
        """Raise :class:`InvalidProof` unless the close statement binds this ledger: its
        ``issuance_ledger`` is this document's hash and its ``issued`` these counts."""
        if close.issuance_ledger != self.digest:
            raise InvalidProof(
                "the ledger's hash differs from close.issuance_ledger", code="ledger_mismatch"
            )
        if dict(close.issued) != self.counts:
            raise InvalidProof(
                "close.issued differs from the ledger's entries", code="ledger_mismatch"
            )


@dataclass(frozen=True)
class LedgerScan:
    """What :meth:`IssuanceLedger.scan` found in a canonical, valid ledger."""

    digest: bytes
    """``SHA-256`` of the document (its JCS bytes): what the close statement binds."""
    counts: dict[str, int]
    """Entries per ward (every ward of the manifest)."""
    entries: int
    """Entries in all (no pseudonym appears twice)."""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


_ENTRY_LENGTH = 46
"""A ledger entry in canonical form with the comma after it: ``"<43 characters>",``."""
_ENTRIES = re.compile(rb'(?:"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]",)*')
_LAST_ENTRY = re.compile(rb'"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]"\]')
_B64U_INDEX = bytes(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".find(bytes([c])) % 64
    for c in range(256)
)
"""A base64url character's value (0 to 63): the first character of a pseudonym chooses its
partition, so that partitions are even whatever the pseudonyms."""


class _LedgerScanner:
    BLOCK = 1024 * 1024

    def __init__(self, stream: _Readable, manifest: Manifest) -> None:
        self.stream = stream
        self.manifest = manifest
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.over = False
        self.hash = hashlib.sha256()
        # A ledger with more entries than the round's eligible participants fails A9 in
        # any case: past the bytes of that many entries this scan stops, and the caller's
        # full parse (of at most MAX_FILE_SIZE) says what is wrong.
        self.limit = _ENTRY_LENGTH * sum(w.eligible for w in manifest.wards) + 1024 * (
            len(manifest.wards) + 1
        )
        self.read = 0

    def _more(self) -> bool:
        """Read another block (False at the end of the stream, or past the limit)."""
        if self.eof:
            return False
        data = self.stream.read(self.BLOCK)
        self.read += len(data)
        if not data or self.read > self.limit:
            self.eof = True
            self.over = self.read > self.limit
            return False
        self.hash.update(data)
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def _expect(self, text: bytes) -> bool:
        while len(self.buf) - self.pos < len(text):
            if not self._more():
                return False
        if not self.buf.startswith(text, self.pos):
            return False
        self.pos += len(text)
        return True

    def run(self) -> LedgerScan | None:
        wards = sorted((w.id for w in self.manifest.wards), key=lambda k: k.encode("utf-16-be"))
        if not self._expect(b'{"round":' + jcs(self.manifest.mid) + b',"wards":{'):
            return None
        # partitions by the first character's value: at most 64
        parts = 1
        while parts < 64 and parts * 65536 < self.manifest_size_hint():
            parts *= 2
        finder = DuplicateFinder(43, parts)
        shift = 6 - (parts.bit_length() - 1)
        counts: dict[str, int] = {}
        try:
            for i, ward in enumerate(wards):
                if not self._expect((b"," if i else b"") + jcs(ward) + b":["):
                    return None
                count = self._entries(finder, shift)
                if count is None:
                    return None
                counts[ward] = count
            if not self._expect(b"}}") or self.pos != len(self.buf) or self._more() or self.over:
                return None
            entries, repeated = finder.finish()
        finally:
            finder.close()
        if repeated:
            return None
        return LedgerScan(self.hash.digest(), counts, entries)

    def manifest_size_hint(self) -> int:
        return sum(w.eligible for w in self.manifest.wards)

    def _entries(self, finder: DuplicateFinder, shift: int) -> int | None:
        """One ward's list after its ``[``, up to and with its ``]``: the entries counted,
        sorted and each canonical, their text handed to ``finder`` by partition."""
        while len(self.buf) - self.pos < 1:
            if not self._more():
                return None
        if self.buf[self.pos] == 0x5D:  # "]": no entry
            self.pos += 1
            return 0
        count = 0
        last = b""
        while True:
            m = _ENTRIES.match(self.buf, self.pos)  # never None: it matches ""
            end = self.pos if m is None else m.end()
            if end > self.pos:
                block = self.buf[self.pos + 1 : end - 2].split(b'","')
                if not self._sorted(last, block):
                    return None
                self._partition(finder, block, shift)
                last = block[-1]
                count += len(block)
                self.pos = end
            if len(self.buf) - self.pos >= _ENTRY_LENGTH or self.eof:
                break  # what follows is not another entry and its comma: the last one
            self._more()
        final = _LAST_ENTRY.match(self.buf, self.pos)
        if final is None:
            return None
        entry = self.buf[self.pos + 1 : final.end() - 2]
        if not self._sorted(last, [entry]):
            return None
        self._partition(finder, [entry], shift)
        self.pos = final.end()
        return count + 1

    @staticmethod
    def _sorted(last: bytes, block: list[bytes]) -> bool:
        """Strictly increasing (sorted, and a repeat within the ward is not)."""
        if last and not last < block[0]:
            return False
        return all(a < b for a, b in itertools.pairwise(block))

    @staticmethod
    def _partition(finder: DuplicateFinder, block: list[bytes], shift: int) -> None:
        if shift == 6:
            finder.add(0, b"".join(block))
            return
        parts: dict[int, list[bytes]] = {}
        index = _B64U_INDEX
        for entry in block:
            parts.setdefault(index[entry[0]] >> shift, []).append(entry)
        for part, entries in parts.items():
            finder.add(part, b"".join(entries))


# -- the close statement (section 7.1) ----------------------------------------------------------


@dataclass(frozen=True)
class CloseStatement:
    """The organizer's statement of the final board and of the tokens issued per ward."""

    round: str
    tree_size: int
    root: bytes
    issued: Mapping[str, int]
    """Every manifest ward: the number of its roster entries that were served a token."""
    issuance_ledger: bytes
    """``SHA-256(JCS(L))`` of the issuance ledger."""

    @classmethod
    def build(cls, final: Checkpoint, ledger: IssuanceLedger) -> CloseStatement:
        """The statement of the final checkpoint and the ledger."""
        return cls(ledger.round, final.size, final.root, ledger.counts, ledger.digest)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "round": self.round,
            "tree_size": self.tree_size,
            "root": b64u_encode(self.root),
            "issued": dict(self.issued),
            "issuance_ledger": b64u_encode(self.issuance_ledger),
        }

    def sign(self, organizer: SigningKey) -> dict[str, JSONValue]:
        """``{"close": ..., "signature": ...}`` (section 2.4)."""
        return sign_object("close", self.to_json(), organizer)

    @classmethod
    def from_signed(
        cls, obj: object, manifest: Manifest, *, problems: list[str] | None = None
    ) -> CloseStatement:
        """Verify the organizer's signature and parse the statement (check A8).

        With ``problems``, a statement for another round or whose ``issued`` does not list
        exactly the manifest's wards with a count each is recorded there (only the counts
        given are kept) instead of raised.
        """
        value = verify_object(obj, "close", manifest.organizer_key)
        keys = ("round", "tree_size", "root", "issued", "issuance_ledger")
        close = _object(value, keys, "the close statement does not have exactly its five keys")
        if close["round"] != manifest.mid:
            _problem(problems, "the close statement is for another round")
        issued = close["issued"]
        wards = [w.id for w in manifest.wards]
        if not isinstance(issued, dict) or set(issued) != set(wards):
            _problem(problems, "close.issued does not list exactly the manifest's wards")
        counts: dict[str, int] = {}
        for ward, n in issued.items() if isinstance(issued, dict) else ():
            if isinstance(n, int) and not isinstance(n, bool) and n >= 0:
                counts[ward] = n
            elif ward in wards:
                _problem(problems, f"close.issued[{ward}]: expected an integer >= 0")
        return cls(
            close["round"] if isinstance(close["round"], str) else "",
            _count(close["tree_size"], "close.tree_size"),
            _hash(close["root"], "close.root"),
            counts,
            _hash(close["issuance_ledger"], "close.issuance_ledger"),
        )

    def check_final(self, final: Checkpoint) -> None:
        """Raise :class:`InvalidProof` unless ``final`` is the checkpoint of the closed board."""
        if self.tree_size != final.size or self.root != final.root:
            raise InvalidProof(
                "the close statement's size and root are not the final checkpoint's",
                code="close_mismatch",
            )


# -- the results (section 7.5) ------------------------------------------------------------------


@dataclass(frozen=True)
class WardCounts:
    eligible: int
    issued: int
    ballots: int
    """Leaves of the ward on the board, valid or not."""
    valid: int
    invalid: int

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "eligible": self.eligible,
            "issued": self.issued,
            "ballots": self.ballots,
            "valid": self.valid,
            "invalid": self.invalid,
        }


@dataclass(frozen=True)
class SubjectResult:
    ward: str
    role: str
    ballots: int
    """The valid ballots of the subject's ward."""
    criteria: CriteriaCounts
    comments: Mapping[str, tuple[str, ...]]
    """Comment field id to its texts, stripped and sorted by code point (section 7.4)."""

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "ward": self.ward,
            "role": self.role,
            "ballots": self.ballots,
            "criteria": _criteria_json(self.criteria),
            "comments": {name: list(texts) for name, texts in self.comments.items()},
        }


@dataclass(frozen=True)
class RoleResult:
    subjects: int
    ballots: int
    criteria: CriteriaCounts

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "subjects": self.subjects,
            "ballots": self.ballots,
            "criteria": _criteria_json(self.criteria),
        }


@dataclass(frozen=True)
class DistrictResult:
    ballots: int
    criteria: CriteriaCounts

    def to_json(self) -> dict[str, JSONValue]:
        return {"ballots": self.ballots, "criteria": _criteria_json(self.criteria)}


@dataclass(frozen=True)
class InvalidBallot:
    leaf_index: int
    reason: str
    """The reason code of section 7.3 (:data:`anonballot.opening.OPEN_REASONS`)."""

    def to_json(self) -> dict[str, JSONValue]:
        return {"leaf_index": self.leaf_index, "reason": self.reason}


def _criteria_json(criteria: CriteriaCounts) -> dict[str, JSONValue]:
    return {c: dict(levels) for c, levels in criteria.items()}


@dataclass(frozen=True)
class Results:
    """The counts of a tallied round, per ward, subject, role and for the district."""

    round: str
    tree_size: int
    root: bytes
    trustees: tuple[str, ...]
    """The trustees whose releases counted, in manifest order."""
    wards: Mapping[str, WardCounts]
    subjects: Mapping[str, SubjectResult]
    roles: Mapping[str, RoleResult]
    district: DistrictResult
    invalid: tuple[InvalidBallot, ...]
    """Every invalid ballot, sorted by leaf index."""

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "round": self.round,
            "tree_size": self.tree_size,
            "root": b64u_encode(self.root),
            "trustees": list(self.trustees),
            "wards": {w: c.to_json() for w, c in self.wards.items()},
            "subjects": {s: r.to_json() for s, r in self.subjects.items()},
            "roles": {r: v.to_json() for r, v in self.roles.items()},
            "district": self.district.to_json(),
            "invalid": [i.to_json() for i in self.invalid],
        }

    def sign(self, organizer: SigningKey) -> dict[str, JSONValue]:
        """``{"results": ..., "signature": ...}`` (section 2.4)."""
        return sign_object("results", self.to_json(), organizer)

    def reason(self, leaf_index: int) -> str | None:
        """The published reason code of the ballot at ``leaf_index``, None when it is valid."""
        for entry in self.invalid:
            if entry.leaf_index == leaf_index:
                return entry.reason
        return None

    @staticmethod
    def signed_value(obj: object, manifest: Manifest) -> JSONValue:
        """The value of signed results whose organizer signature verifies, not parsed: what
        the auditor compares as JCS bytes with its own recomputation (check A12)."""
        value: JSONValue = verify_object(obj, "results", manifest.organizer_key)
        return value

    @classmethod
    def from_signed(cls, obj: object, manifest: Manifest) -> Results:
        """Verify the organizer's signature and parse the results (section 7.5)."""
        return cls.from_json(cls.signed_value(obj, manifest), manifest)

    @classmethod
    def from_json(cls, value: object, manifest: Manifest) -> Results:
        """Parse a results value: exactly the members of section 7.5, every ward, subject,
        role, criterion, level and comment field of ``manifest``, and counts as integers."""
        keys = ("round", "tree_size", "root", "trustees", "wards", "subjects", "roles")
        r = _object(
            value, (*keys, "district", "invalid"), "the results do not have exactly their members"
        )
        if r["round"] != manifest.mid:
            raise StatementError("the results are for another round", code="wrong_round")
        q = manifest.questionnaire
        levels = set(q.answer_ids)
        criteria_ids = {c.id for c in q.criteria}

        def criteria(v: object, what: str) -> dict[str, dict[str, int]]:
            c = _object(v, criteria_ids, f"{what}: expected every criterion")
            out: dict[str, dict[str, int]] = {}
            for cid, per_level in c.items():
                o = _object(per_level, levels, f"{what}.{cid}: expected every level")
                out[cid] = {lv: _count(n, f"{what}.{cid}.{lv}") for lv, n in o.items()}
            return out

        trustees = r["trustees"]
        known = {t.id for t in manifest.trustees}
        if not isinstance(trustees, list) or not all(t in known for t in trustees):
            raise StatementError("results.trustees: expected trustee ids of the manifest")
        wards = _object(r["wards"], {w.id for w in manifest.wards}, "results.wards: every ward")
        ward_counts = {}
        for wid, v in wards.items():
            o = _object(v, ("eligible", "issued", "ballots", "valid", "invalid"), f"wards.{wid}")
            ward_counts[wid] = WardCounts(
                **{k: _count(n, f"wards.{wid}.{k}") for k, n in o.items()}
            )
        subjects = _object(
            r["subjects"], {s.id for s in manifest.subjects}, "results.subjects: every subject"
        )
        subject_results = {}
        fields = {c.id for c in q.comments}
        for s in manifest.subjects:
            what = f"subjects.{s.id}"
            o = _object(subjects[s.id], ("ward", "role", "ballots", "criteria", "comments"), what)
            if o["ward"] != s.ward or o["role"] != s.role:
                raise StatementError(f"{what}: ward and role differ from the manifest's")
            comments = _object(o["comments"], fields, f"{what}.comments: every comment field")
            texts: dict[str, tuple[str, ...]] = {}
            for name, listed in comments.items():
                if not isinstance(listed, list) or not all(isinstance(t, str) for t in listed):
                    raise StatementError(f"{what}.comments.{name}: expected a list of text")
                texts[name] = tuple(listed)
            subject_results[s.id] = SubjectResult(
                s.ward,
                s.role,
                _count(o["ballots"], f"{what}.ballots"),
                criteria(o["criteria"], f"{what}.criteria"),
                texts,
            )
        roles = _object(r["roles"], {x.id for x in manifest.roles}, "results.roles: every role")
        role_results = {}
        for rid, v in roles.items():
            o = _object(v, ("subjects", "ballots", "criteria"), f"roles.{rid}")
            role_results[rid] = RoleResult(
                _count(o["subjects"], f"roles.{rid}.subjects"),
                _count(o["ballots"], f"roles.{rid}.ballots"),
                criteria(o["criteria"], f"roles.{rid}.criteria"),
            )
        d = _object(r["district"], ("ballots", "criteria"), "results.district")
        invalid = r["invalid"]
        if not isinstance(invalid, list):
            raise StatementError("results.invalid: expected a list")
        entries = []
        for i, v in enumerate(invalid):
            o = _object(v, ("leaf_index", "reason"), f"results.invalid[{i}]")
            if not isinstance(o["reason"], str):
                raise StatementError(f"results.invalid[{i}].reason: expected a reason code")
            entries.append(InvalidBallot(_count(o["leaf_index"], "leaf_index"), o["reason"]))
        return cls(
            manifest.mid,
            _count(r["tree_size"], "results.tree_size"),
            _hash(r["root"], "results.root"),
            tuple(str(t) for t in trustees),
            ward_counts,
            subject_results,
            role_results,
            DistrictResult(
                _count(d["ballots"], "district.ballots"),
                criteria(d["criteria"], "district.criteria"),
            ),
            tuple(entries),
        )

    def check_close(self, close: CloseStatement) -> None:
        """Raise :class:`InvalidProof` unless these are the results of the closed board."""
        if self.tree_size != close.tree_size or self.root != close.root:
            raise InvalidProof("the results are not for the closed board", code="close_mismatch")
