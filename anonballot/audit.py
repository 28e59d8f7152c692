"""The auditor: checks A1 to A13 of protocol section 9 on a round record.

:func:`audit_record` streams ``board.jsonl`` once and spreads the per-leaf work (parsing,
token and signature checks, leaf hashes, decryption and counting) over worker processes. It
returns an :class:`AuditReport`; :func:`render_report` turns it into text for people.

Its memory does not grow with the board: what grows with the ballots goes to anonymous
temporary files (:mod:`anonballot.spill`), at most a few bytes per byte of the board: the
voter keys' 8-byte prefixes for A5 (partitioned, each partition checked for repeats at the
end), the recomputed comments and invalid ballots (:class:`~anonballot.tally.RecomputedResults`).
The issuance ledger is scanned a block at a time when it is in canonical form
(:meth:`~anonballot.statements.IssuanceLedger.scan`), and results.json compared with the
recomputed JCS as both stream by, its signature verified over the streamed bytes
(:meth:`~anonballot.signing.VerifyKey.verify_chunks`). A file in another form, or one that
differs, takes the full check, which reads it whole (at most
:data:`~anonballot.record.MAX_FILE_SIZE`) to say precisely what is wrong.

Exit status (:attr:`AuditReport.exit_status`): 0 when no check fails, 1 when any fails.
A source that is not a round record at all raises :class:`~anonballot.errors.RecordError`
(exit status 2), and so does a file the record reader will not read whole (code
``too_large``: larger than it may be, or a zip member that inflates like a zip bomb): such a
record was not judged. The board is read up to one line past the most it can hold and pass.

The public part of a restricted round's record (protocol sections 4.2 and 9.2: no
releases, no results) is audited as far as it goes: A1 to A9 and A13 run, A10 to A12 are
"not checked", and the report is not :attr:`~AuditReport.complete`.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .checkpoint import Checkpoint
from .encoding import JSONValue, b64u_decode, jcs, parse_json
from .errors import (
    AnonBallotError,
    EncodingError,
    InputError,
    InvalidSignature,
    OpenError,
    RecordError,
    VerificationError,
)
from .hazmat.merkle import CompactRange, leaf_hash
from .hazmat.note import b64std_decode
from .leaf import Leaf, parse_leaf
from .manifest import Manifest
from .opening import LeafOpener
from .record import Record
from .spill import DuplicateFinder
from .statements import CloseStatement, IssuanceLedger, Results
from .tally import RecomputedResults, TallyBuilder
from .trustee import TrusteeSecret, verify_release
from .witness import verify_cosignature

__all__ = [
    "CHECKS",
    "CONFIDENTIAL_CHECKS",
    "NEEDS_CONFIDENTIAL",
    "AuditReport",
    "CheckResult",
    "LeafChecker",
    "LeafChecks",
    "SlipsCheck",
    "audit_record",
    "check_slips",
    "render_report",
    "span",
]

CHECKS: dict[str, str] = {
    "A1": "manifest signature and structure",
    "A2": "every leaf is canonical JCS, v and round right, ward known",
    "A3": "every token verifies under its ward's issuer key",
    "A4": "every voter_sig verifies",
    "A5": "no voter public key appears twice",
    "A6": "the board's Merkle root equals the final checkpoint's, whose signature verifies",
    "A7": "every earlier checkpoint given is consistent with the final one",
    "A8": "close statement: signature, size and root; ledger hash matches issuance.json",
    "A9": "per ward: ballots <= issued == ledger entries <= eligible",
    "A10": "releases: signatures, keys derive the manifest keys, at least threshold",
    "A11": "decryption and validation of every ballot",
    "A12": "the recomputed results equal results.json, whose signature verifies",
    "A13": "a quorum of the manifest's witnesses validly cosigned the final checkpoint",
}

CONFIDENTIAL_CHECKS = ("A10", "A11", "A12")
"""The checks that need the confidential part of a restricted round (protocol section 9.2)."""

NEEDS_CONFIDENTIAL = "needs the confidential part (the trustees' releases and the results)"
"""Why a check of :data:`CONFIDENTIAL_CHECKS` was not run on a public part."""

MAX_LISTED = 50
"""Failures listed per check; the count covers all of them."""

CHUNK = 256
"""Leaves per unit of work sent to a worker process."""


@dataclass
class CheckResult:
    id: str
    title: str
    passed: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)
    """Names that go with the counts (A13: the witnesses whose cosignature verifies)."""
    failures: list[dict[str, JSONValue]] = field(default_factory=list)
    failure_count: int = 0
    checked: bool = True
    """False when the check could not run on what the record holds (:meth:`skip`)."""
    detail: str | None = None
    """Why the check was not run."""

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"`` or ``"not_checked"``."""
        if not self.checked:
            return "not_checked"
        return "passed" if self.passed else "failed"

    def skip(self, detail: str) -> None:
        """Leave the check out: neither passed nor failed. ``passed`` is False, so that a
        reader of the report who knows only that field never takes it for a pass."""
        self.checked = False
        self.passed = False
        self.detail = detail

    def fail(self, detail: str, *, leaf_index: int | None = None, file: str | None = None) -> None:
        self.passed = False
        self.failure_count += 1
        # A failure of a whole file (a damaged board, a missing statement) is always listed:
        # past the cap of per-leaf failures it would otherwise be the one thing not said.
        if len(self.failures) < MAX_LISTED or (file is not None and leaf_index is None):
            entry: dict[str, JSONValue] = {"detail": detail}
            if leaf_index is not None:
                entry["leaf_index"] = leaf_index
            if file is not None:
                entry["file"] = file
            self.failures.append(entry)

    def to_json(self) -> dict[str, JSONValue]:
        value: dict[str, JSONValue] = {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "passed": self.passed,
            "counts": dict(self.counts),
            "failure_count": self.failure_count,
            "failures": list(self.failures),
        }
        if self.names:
            value["names"] = {k: list(v) for k, v in self.names.items()}
        if self.detail is not None:
            value["detail"] = self.detail
        return value


@dataclass
class AuditReport:
    record: str
    round_id: str | None
    mid: str | None
    checks: dict[str, CheckResult]
    recomputed: RecomputedResults | None = None
    """The recomputed results (when the tally could be recomputed): the counts in memory,
    the comments and invalid ballots read back from temporary files when asked for."""

    @property
    def results(self) -> dict[str, JSONValue] | None:
        """The recomputed results as one JSON value, comments included: built on each call,
        in memory (about as large as results.json). :attr:`recomputed` reads them in parts."""
        return None if self.recomputed is None else self.recomputed.to_json()

    @property
    def passed(self) -> bool:
        """No check failed. With :attr:`complete` False, this speaks for the checks run."""
        return all(c.status != "failed" for c in self.checks.values())

    @property
    def complete(self) -> bool:
        """Every check ran: False for the public part of a restricted round."""
        return all(c.checked for c in self.checks.values())

    @property
    def exit_status(self) -> int:
        return 0 if self.passed else 1

    def failed(self) -> list[str]:
        return [c.id for c in self.checks.values() if c.status == "failed"]

    def not_checked(self) -> list[str]:
        return [c.id for c in self.checks.values() if not c.checked]

    def to_json(self, *, streamed: bool = False) -> dict[str, JSONValue]:
        """The report as a JSON value. With ``streamed``, its results are
        :meth:`RecomputedResults.streamed_json`: for one ``json.dump`` with an indent,
        which writes the comments from disk without holding them all."""
        return {
            "record": self.record,
            "round_id": self.round_id,
            "mid": self.mid,
            "passed": self.passed,
            "complete": self.complete,
            "checks": [c.to_json() for c in self.checks.values()],
            "results": (
                self.recomputed.streamed_json()
                if streamed and self.recomputed is not None
                else self.results
            ),
        }


# -- the per-leaf work, run in worker processes -------------------------------------------------


@dataclass
class LeafChecks:
    """What :meth:`LeafChecker.check` found in a run of leaves: the failures of A2 to A4
    by check (``(leaf index, detail)``, at most ``MAX_LISTED`` each, and their counts), each
    leaf's voter key (None when it did not parse), the ballots by ward, the tally's part."""

    start: int
    failures: dict[str, list[tuple[int, str]]]
    failure_counts: dict[str, int]
    voter_keys: list[bytes | None]
    """Empty when the checker partitions the keys' prefixes (:attr:`prefixes`)."""
    wards: dict[str, int]
    tally: TallyBuilder | None
    leaf_hashes: bytes = b""
    """With ``partitions`` (an audit's worker): the RFC 9162 leaf hash of each line, 32
    bytes each, and :attr:`subtree` the root of them all when they are a power of two."""
    subtree: bytes | None = None
    prefixes: dict[int, bytes] = field(default_factory=dict)
    """With ``partitions``: the first 8 bytes of each voter key, by partition (its first
    byte's top bits), for the audit's :class:`~anonballot.spill.DuplicateFinder` (A5)."""


class LeafChecker:
    """The checks of single leaves (A2 shape, round and ward; A3 token; A4 voter_sig), as an
    audit's worker makes them and as ``anonballot monitor`` makes them on new leaves: it
    knows the manifest and, when A10 passed, the releases (then it also tallies)."""

    def __init__(
        self,
        signed_manifest: bytes,
        secrets: Sequence[TrusteeSecret] | None,
        partitions: int | None = None,
        *,
        manifest: Manifest | None = None,
    ) -> None:
        """``manifest``: the signed manifest already parsed and checked (an audit's own
        process: a national round's manifest is not held twice)."""
        self.manifest = manifest or Manifest.from_signed(parse_json(signed_manifest))
        self.mid = self.manifest.mid
        self.opener = LeafOpener(self.manifest, secrets, self.mid) if secrets is not None else None
        self.shift = None if partitions is None else DuplicateFinder(8, partitions).shift

    def check(self, start: int, lines: Sequence[bytes]) -> LeafChecks:
        failures: dict[str, list[tuple[int, str]]] = {}
        counts: dict[str, int] = {}
        keys: list[bytes | None] = []
        wards: dict[str, int] = {}
        tally = TallyBuilder(self.manifest) if self.opener is not None else None

        def fail(check: str, index: int, detail: str) -> None:
            counts[check] = counts.get(check, 0) + 1
            listed = failures.setdefault(check, [])
            if len(listed) < MAX_LISTED:
                listed.append((index, detail))

        # One check at a time over the whole chunk (each failure list stays in leaf order):
        # a tight loop over one primitive runs faster than the primitives interleaved.
        parsed: list[tuple[int, Leaf]] = []
        shift = self.shift
        prefixes: dict[int, bytearray] = {}
        for offset, line in enumerate(lines):
            index = start + offset
            if not line.endswith(b"\n"):
                fail("A2", index, "line has no final newline or is too long")
                if shift is None:
                    keys.append(None)
                continue
            try:
                leaf = parse_leaf(line[:-1], self.manifest, self.mid)
            except AnonBallotError as exc:
                fail("A2", index, exc.detail)
                if shift is None:
                    keys.append(None)
                continue
            if shift is None:
                keys.append(leaf.voter_key.to_bytes())
            else:
                key = leaf.voter_key.to_bytes()
                part = prefixes.get(key[0] >> shift)
                if part is None:
                    part = prefixes[key[0] >> shift] = bytearray()
                part += key[:8]
            wards[leaf.ward] = wards.get(leaf.ward, 0) + 1
            parsed.append((index, leaf))
        for index, leaf in parsed:
            try:
                leaf.verify_token(self.manifest)
            except AnonBallotError as exc:
                fail("A3", index, exc.detail)
        for index, leaf in parsed:
            try:
                leaf.verify_voter_sig()
            except AnonBallotError as exc:
                fail("A4", index, exc.detail)
        if tally is not None and self.opener is not None:
            tally.add_all(parsed, self.opener)
        if shift is None:
            return LeafChecks(start, failures, counts, keys, wards, tally)
        # an audit's worker: what the main process would do per leaf is done here
        if tally is not None:
            tally.pack_comments()
        hashes = [leaf_hash(line[:-1] if line.endswith(b"\n") else line) for line in lines]
        subtree = None
        if len(hashes) & (len(hashes) - 1) == 0 and hashes:
            tree = CompactRange()
            for h in hashes:
                tree.append(h)
            subtree = tree.root()
        return LeafChecks(
            start, failures, counts, keys, wards, tally, b"".join(hashes), subtree,
            {p: bytes(b) for p, b in prefixes.items()},
        )  # fmt: skip


_WORKER: LeafChecker | None = None


def _init_worker(
    signed_manifest: bytes, secrets: Sequence[TrusteeSecret] | None, partitions: int | None
) -> None:
    global _WORKER
    _WORKER = LeafChecker(signed_manifest, secrets, partitions)


def _check_in_worker(start: int, lines: Sequence[bytes]) -> LeafChecks:
    if _WORKER is None:
        raise RuntimeError("worker not initialised")
    return _WORKER.check(start, lines)


def _chunks(lines: Iterator[bytes]) -> Iterator[tuple[int, list[bytes]]]:
    start = 0
    batch: list[bytes] = []
    for line in lines:
        batch.append(line)
        if len(batch) == CHUNK:
            yield start, batch
            start += len(batch)
            batch = []
    if batch:
        yield start, batch


# -- the audit ------------------------------------------------------------------------------------


def _unless_too_large(exc: AnonBallotError) -> None:
    """Raise ``exc`` again when the reader refused to read on (``too_large``): the record
    is then not judged at all (exit 2), rather than failing one check."""
    if isinstance(exc, RecordError) and exc.code == "too_large":
        raise exc


Progress = Callable[[int, int], None]
"""Called with (bytes of the board read so far, total bytes)."""


def audit_record(
    source: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Run checks A1 to A13 on the record at ``source`` (a folder or a ``.zip``)."""
    with Record(source) as record:
        return _Audit(record, workers, progress).run()


class _Audit:
    def __init__(self, record: Record, workers: int | None, progress: Progress | None) -> None:
        self.record = record
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.progress = progress
        self.checks = {cid: CheckResult(cid, title) for cid, title in CHECKS.items()}
        self.manifest: Manifest | None = None
        self.final_note: str | None = None
        """The text of ``checkpoint.txt`` once it verified as the final checkpoint (A13)."""
        self.board_error: str | None = None
        self.max_lines: int | None = None
        """How many board lines are read: one more than the final checkpoint's size (or,
        without a usable one, than the round's eligible participants, since A9 needs
        ballots <= eligible), so that a longer board fails however long it is."""

    def c(self, cid: str) -> CheckResult:
        return self.checks[cid]

    def _json(self, name: str, check: str) -> JSONValue:
        try:
            return parse_json(self.record.read(name))
        except AnonBallotError as exc:
            _unless_too_large(exc)
            self.c(check).fail(exc.detail, file=name)
            return None

    def run(self) -> AuditReport:
        signed_manifest_bytes = self.record.read("manifest.json")
        manifest = self._a1(signed_manifest_bytes)
        if manifest is None:
            for cid in list(CHECKS)[1:]:
                self.c(cid).fail(
                    "not checked: the manifest (A1) is not usable", file="manifest.json"
                )
            return AuditReport(str(self.record.source), None, None, self.checks)
        self.manifest = manifest
        mid = manifest.mid
        final = self._final_checkpoint(manifest)
        self._a13(manifest)
        bound = final.size if final is not None else sum(w.eligible for w in manifest.wards)
        self.max_lines = bound + 1
        earlier = self._earlier_checkpoints(manifest)
        close = self._close_statement(manifest)
        ledger = self._ledger(manifest, close)
        public_part = self._is_public_part(manifest)
        secrets = None if public_part else self._a10(manifest)

        board = self._board(signed_manifest_bytes, secrets, earlier)
        size, root, ward_ballots, tally = board

        # A6: the board's root and size against the final checkpoint
        a6 = self.c("A6")
        a6.counts["leaves"] = size
        if final is None and size > bound:
            a6.fail(
                f"board.jsonl has more than {bound} lines (the round's eligible participants): "
                "not read further",
                file="board.jsonl",
            )
        if final is not None:
            # every failure names the file it is about (protocol section 9.2: leaf index or file)
            if final.size != size:
                lines = f"more than {bound}" if size > bound else str(size)
                a6.fail(
                    f"the final checkpoint has size {final.size}, the board {lines} leaves",
                    file="checkpoint.txt",
                )
            elif final.root != root:
                a6.fail(
                    "the board's Merkle root differs from the final checkpoint's root",
                    file="checkpoint.txt",
                )
        # A8: the close statement against the board
        a8 = self.c("A8")
        if close is not None:
            if close.tree_size != size:
                a8.fail(
                    f"close.tree_size is {close.tree_size}, the board has {size}",
                    file="close.json",
                )
            if close.root != root:
                a8.fail("close.root differs from the board's root", file="close.json")
        self._a9(manifest, close, ledger, ward_ballots)
        results = None
        a11 = self.c("A11")
        if public_part:
            for cid in CONFIDENTIAL_CHECKS:
                self.c(cid).skip(NEEDS_CONFIDENTIAL)
        elif tally is None:
            a11.fail("not checked: fewer valid releases than the threshold (A10)", file="releases")
            self.c("A12").fail(
                "not checked: the tally cannot be recomputed without A11", file="results.json"
            )
        else:
            a11.counts["valid"] = sum(tally.valid.values())
            a11.counts["invalid"] = tally.invalid_count
            for index, reason in tally.first_invalid(MAX_LISTED):
                a11.failures.append({"leaf_index": index, "detail": reason})
            results = tally.recomputed(
                mid=mid,
                tree_size=size,
                root=root,
                trustees=[s.id for s in secrets or []],
                issued=close.issued if close is not None else {},
            )
            self._a12(manifest, results)
        return AuditReport(str(self.record.source), manifest.round_id, mid, self.checks, results)

    def _is_public_part(self, manifest: Manifest) -> bool:
        """The record is the public part of a restricted round: no release, no results.

        Only a manifest that restricts its results makes a missing confidential part
        acceptable (protocol section 9.2); a public round's record without releases or
        results fails A10 to A12 as a broken record does.
        """
        return (
            manifest.restricted
            and not any(n.endswith(".json") for n in self.record.names("releases"))
            and not self.record.exists("results.json")
        )

    # -- the small files -------------------------------------------------------------------------

    def _a1(self, data: bytes) -> Manifest | None:
        a1 = self.c("A1")
        try:
            manifest = Manifest.from_signed(parse_json(data))
        except AnonBallotError as exc:
            a1.fail(exc.detail, file="manifest.json")
            return None
        a1.counts = {
            "wards": len(manifest.wards),
            "subjects": len(manifest.subjects),
            "trustees": len(manifest.trustees),
            "threshold": manifest.threshold,
        }
        return manifest

    def _final_checkpoint(self, manifest: Manifest) -> Checkpoint | None:
        try:
            data = self.record.read("checkpoint.txt")
            checkpoint = Checkpoint.parse(data, manifest.origin, manifest.log_key)
        except AnonBallotError as exc:
            _unless_too_large(exc)
            self.c("A6").fail(exc.detail, file="checkpoint.txt")
            return None
        self.final_note = data.decode("utf-8")  # the parse above checked that it is UTF-8
        return checkpoint

    def _a13(self, manifest: Manifest) -> None:
        """The final checkpoint's cosignatures against the manifest's witnesses.

        A signature line is by a named witness when its name and key ID are that witness's
        (as a signed-note verifier tells signers apart); such a line must verify. Lines by
        other keys are ignored. Earlier checkpoints (``checkpoints/*.txt``) are not looked at:
        their cosignatures, if any, vouch for what A7 already ties to the final board.
        """
        a13 = self.c("A13")
        policy = manifest.witnesses
        if policy is None:
            a13.counts = {"witnesses": 0}
            return
        a13.counts = {"witnesses": len(policy.witnesses), "quorum": policy.quorum}
        note = self.final_note
        if note is None:
            a13.fail("not checked: the final checkpoint (A6) is not usable", file="checkpoint.txt")
            return
        by_key = {(w.name, w.verifier.key_id): w for w in policy.witnesses}
        cosigned: set[str] = set()
        # The note verified as a checkpoint: every signature line is well formed, and the
        # three lines of its body come first (the first blank line ends them).
        for line in note[note.index("\n\n") + 2 : -1].split("\n"):
            name, _, b64 = line[2:].partition(" ")
            witness = by_key.get((name, b64std_decode(b64, what="note signature")[:4]))
            if witness is None:
                continue  # an unknown key: ignored, as for any signed note
            try:
                verify_cosignature(note, line, witness.verifier)
            except (InvalidSignature, EncodingError):
                a13.fail(
                    f"the cosignature line by the witness {witness.name} does not verify",
                    file="checkpoint.txt",
                )
                continue
            cosigned.add(witness.name)
        names = [w.name for w in policy.witnesses if w.name in cosigned]
        a13.counts["cosigned"] = len(names)
        a13.names = {"cosigned": names}
        if len(names) < policy.quorum:
            a13.fail(
                f"{len(names)} of the manifest's witnesses cosigned the final checkpoint, "
                f"the quorum is {policy.quorum}",
                file="checkpoint.txt",
            )

    def _earlier_checkpoints(self, manifest: Manifest) -> list[tuple[str, Checkpoint]]:
        out = []
        for name in self.record.names("checkpoints"):
            if not name.endswith(".txt"):
                continue  # only checkpoints/*.txt are checkpoints (protocol section 9.1)
            try:
                cp = Checkpoint.parse(self.record.read(name), manifest.origin, manifest.log_key)
            except AnonBallotError as exc:
                _unless_too_large(exc)
                self.c("A7").fail(exc.detail, file=name)
                continue
            out.append((name, cp))
        self.c("A7").counts["checkpoints"] = len(out)
        return out

    def _close_statement(self, manifest: Manifest) -> CloseStatement | None:
        a8 = self.c("A8")
        signed = self._json("close.json", "A8")
        if signed is None:
            return None
        problems: list[str] = []
        try:
            close = CloseStatement.from_signed(signed, manifest, problems=problems)
        except AnonBallotError as exc:
            a8.fail(exc.detail, file="close.json")
            return None
        for detail in problems:
            a8.fail(detail, file="close.json")
        return close

    def _ledger(self, manifest: Manifest, close: CloseStatement | None) -> dict[str, int] | None:
        """Check issuance.json (A8) and return its number of entries per ward (for A9).

        A canonical, valid ledger is read a block at a time (:meth:`IssuanceLedger.scan`);
        anything else is parsed whole, to report each of its problems."""
        a8 = self.c("A8")
        scan = None
        if self.record.exists("issuance.json"):
            try:
                with self.record.stream("issuance.json") as stream:
                    scan = IssuanceLedger.scan(stream, manifest)
            except AnonBallotError as exc:
                _unless_too_large(exc)  # a damaged member: the full path says so
        if scan is not None:
            if close is not None and close.issuance_ledger != scan.digest:
                a8.fail(
                    "the ledger's hash differs from close.issuance_ledger", file="issuance.json"
                )
            a8.counts["ledger_entries"] = scan.entries
            return scan.counts
        value = self._json("issuance.json", "A8")
        if value is None:
            return None
        try:
            digest = IssuanceLedger.hash_of(value)
        except EncodingError as exc:
            a8.fail(exc.detail, file="issuance.json")
            return None
        if close is not None and close.issuance_ledger != digest:
            a8.fail("the ledger's hash differs from close.issuance_ledger", file="issuance.json")
        problems: list[str] = []
        try:
            ledger: IssuanceLedger | None = IssuanceLedger.from_json(
                value, manifest, problems=problems
            )
        except AnonBallotError as exc:
            problems.append(exc.detail)
            ledger = None
        for detail in problems:
            a8.fail(detail, file="issuance.json")
        if ledger is None:
            return None
        a8.counts["ledger_entries"] = len({e for es in ledger.wards.values() for e in es})
        return ledger.counts

    def _a10(self, manifest: Manifest) -> list[TrusteeSecret] | None:
        a10 = self.c("A10")
        secrets: dict[int, TrusteeSecret] = {}
        for name in self.record.names("releases"):
            if not name.endswith(".json"):
                continue  # only releases/*.json are releases (protocol section 9.1)
            obj = self._json(name, "A10")
            if obj is None:
                continue
            try:
                secret = verify_release(obj, manifest, manifest.mid)
            except AnonBallotError as exc:
                a10.fail(exc.detail, file=name)
                continue
            if name != f"releases/{secret.id}.json":
                a10.fail(f"the release of {secret.id} is filed under another name", file=name)
                continue
            secrets[secret.index] = secret
        a10.counts = {"valid_releases": len(secrets), "threshold": manifest.threshold}
        if len(secrets) < manifest.threshold:
            a10.fail(
                f"{len(secrets)} valid releases, the threshold is {manifest.threshold}",
                file="releases",
            )
            return None
        return [secrets[i] for i in sorted(secrets)]

    # -- the board -------------------------------------------------------------------------------

    def _board(
        self,
        signed_manifest: bytes,
        secrets: list[TrusteeSecret] | None,
        earlier: list[tuple[str, Checkpoint]],
    ) -> tuple[int, bytes, dict[str, int], TallyBuilder | None]:
        a2, a3, a4, a5, a7 = (self.c(c) for c in ("A2", "A3", "A4", "A5", "A7"))
        total_bytes = self.record.board_size_bytes()
        done_bytes = 0
        tree = CompactRange()
        wanted: dict[int, list[tuple[str, Checkpoint]]] = {}
        for name, cp in earlier:
            wanted.setdefault(cp.size, []).append((name, cp))
        if 0 in wanted:
            for name, cp in wanted.pop(0):
                self._compare_prefix(name, cp, tree.root())
        # A5: the voter keys' first 8 bytes go to temporary files by partition; a prefix
        # seen twice is confirmed on whole keys in a second pass (_confirm_duplicates)
        partitions = DuplicateFinder.for_count(self.max_lines or 0)
        finder = DuplicateFinder(8, partitions)
        ward_ballots: dict[str, int] = {}
        tally = (
            TallyBuilder(self.manifest, spill=True)
            if secrets is not None and self.manifest
            else None
        )

        sizes = sorted(wanted)  # the earlier checkpoints' sizes still to reach, in order

        def absorb(result: LeafChecks, lines: list[bytes]) -> None:
            nonlocal done_bytes
            n = len(lines)
            done_bytes += sum(map(len, lines))
            while sizes and sizes[0] <= tree.size:
                sizes.pop(0)
            if (
                result.subtree is not None
                and tree.size % n == 0
                and not (sizes and sizes[0] < tree.size + n)
            ):
                # a complete subtree, and no earlier checkpoint ends inside it
                tree.append_subtree(result.subtree, n.bit_length() - 1)
            else:
                hashes = result.leaf_hashes
                for i in range(0, 32 * n, 32):
                    tree.append(hashes[i : i + 32])
                    if tree.size in wanted:
                        for name, cp in wanted.pop(tree.size):
                            self._compare_prefix(name, cp, tree.root())
            if tree.size in wanted:
                for name, cp in wanted.pop(tree.size):
                    self._compare_prefix(name, cp, tree.root())
            for part, blob in result.prefixes.items():
                finder.add(part, blob)
            for ward, n in result.wards.items():
                ward_ballots[ward] = ward_ballots.get(ward, 0) + n
            for check, listed in result.failures.items():
                target = self.c(check)
                for index, detail in listed:
                    target.fail(detail, leaf_index=index)
                target.failure_count += result.failure_counts[check] - len(listed)
            if tally is not None and result.tally is not None:
                result.tally.manifest = tally.manifest
                tally.merge(result.tally)
            if self.progress is not None:
                self.progress(done_bytes, total_bytes)

        chunks = _chunks(self._board_lines())
        if self.workers <= 1:
            checker = LeafChecker(signed_manifest, secrets, partitions, manifest=self.manifest)
            for start, lines in chunks:
                absorb(checker.check(start, lines), lines)
        else:
            ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
            if os.name == "posix":
                # the forkserver imports the library once, and the workers forked from it
                # start with it (ignored when this process's forkserver already runs)
                ctx.set_forkserver_preload(["anonballot.audit"])
            with cf.ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker,
                initargs=(signed_manifest, secrets, partitions),
            ) as pool:  # fmt: skip
                window: deque[tuple[cf.Future[LeafChecks], list[bytes]]] = deque()
                for start, lines in chunks:
                    window.append((pool.submit(_check_in_worker, start, lines), lines))
                    if len(window) >= 4 * self.workers:
                        future, done = window.popleft()
                        absorb(future.result(), done)
                while window:
                    future, done = window.popleft()
                    absorb(future.result(), done)

        if self.board_error is not None:
            a2.fail(self.board_error, file="board.jsonl")
        size = tree.size
        for name, cp in (item for items in wanted.values() for item in items):
            a7.fail(
                f"checkpoint of size {cp.size} is beyond the final board of {size} leaves",
                file=name,
            )
        distinct, suspects = finder.finish()
        if suspects:
            self._confirm_duplicates(suspects)
        a2.counts["leaves"] = size
        a3.counts["failed"] = a3.failure_count
        a4.counts["failed"] = a4.failure_count
        a5.counts["voter_keys"] = distinct
        return size, tree.root(), ward_ballots, tally

    def _board_lines(self) -> Iterator[bytes]:
        """The board's lines; a missing or damaged board.jsonl fails A2 instead of raising.

        A record without board.jsonl (or with a damaged zip member) is still a round record
        with a missing or broken file (protocol section 9.2): exit 1, reported at A2 (and
        A6 by its size), not exit 2 as for something that is not a record at all.
        """
        if not self.record.exists("board.jsonl"):
            self.board_error = "the record has no board.jsonl"
            return
        try:
            yield from self.record.board(max_lines=self.max_lines)
        except RecordError as exc:
            _unless_too_large(exc)
            # reported after the last chunk is absorbed, so that the report does not
            # depend on how many chunks the workers still held
            self.board_error = exc.detail

    def _results_file_matches(self, manifest: Manifest, recomputed: RecomputedResults) -> bool:
        """True when results.json is byte for byte the canonical signed object of the
        recomputed results, with a signature that verifies: A12 then passes. The file is
        compared as it is read with the recomputed JCS as it is produced (comments merged
        from disk), and the signature verified over the file's bytes as they are read
        again: memory does not grow with the results. Otherwise (a file in another form, a
        difference, a signature this streaming check cannot tell) the full check of
        :meth:`_a12` runs and says what is wrong."""
        head, before_signature = b'{"results":', b',"signature":"'
        if not self.record.exists("results.json"):
            return False
        try:
            length = 0
            with self.record.stream("results.json") as stream:
                if _read_exact(stream, len(head)) != head:
                    return False
                for piece in recomputed.iter_jcs():
                    if _read_exact(stream, len(piece)) != piece:
                        return False
                    length += len(piece)
                # the signature (86 characters of base64url), the end, and no byte more
                tail = _read_exact(stream, len(before_signature) + 86 + 3)
            if not (
                len(tail) == len(before_signature) + 88
                and tail.startswith(before_signature)
                and tail.endswith(b'"}')
            ):
                return False
            signature = b64u_decode(tail[len(before_signature) : -2].decode("ascii"), length=64)
            with self.record.stream("results.json") as stream:
                _read_exact(stream, len(head))
                return manifest.organizer_key.verify_chunks(_read_chunks(stream, length), signature)
        except (AnonBallotError, UnicodeDecodeError) as exc:
            if isinstance(exc, AnonBallotError):
                _unless_too_large(exc)
            return False

    def _compare_prefix(self, name: str, cp: Checkpoint, root: bytes) -> None:
        if cp.root != root:
            self.c("A7").fail(
                f"checkpoint of size {cp.size} is not a prefix of the final board", file=name
            )

    def _confirm_duplicates(self, suspects: set[bytes]) -> None:
        """Second pass for the rare 8-byte prefix collisions: compare whole voter keys."""
        if self.manifest is None:
            return
        first: dict[bytes, int] = {}
        try:
            lines = enumerate(self.record.board(max_lines=self.max_lines))
            for index, line in lines:
                if not line.endswith(b"\n"):
                    continue  # A2 rejected such a line in the first pass; skip it here too
                try:
                    leaf = parse_leaf(line[:-1], self.manifest, self.manifest.mid)
                except AnonBallotError:
                    continue
                key = leaf.voter_key.to_bytes()
                if key[:8] not in suspects:
                    continue
                if key in first:
                    self.c("A5").fail(
                        f"voter key already used by leaf {first[key]}", leaf_index=index
                    )
                else:
                    first[key] = index
        except RecordError:
            pass  # a damaged board: the first pass already failed A2 at the same place

    # -- counts and results ----------------------------------------------------------------------

    def _a9(
        self,
        manifest: Manifest,
        close: CloseStatement | None,
        ledger: dict[str, int] | None,
        ward_ballots: dict[str, int],
    ) -> None:
        a9 = self.c("A9")
        if close is None or ledger is None:
            a9.fail(
                "not checked: the close statement or the ledger is not usable (A8)",
                file="close.json" if close is None else "issuance.json",
            )
            return
        for ward in manifest.wards:
            ballots = ward_ballots.get(ward.id, 0)
            issued = close.issued.get(ward.id)
            entries = ledger.get(ward.id, 0)
            if issued is None:
                a9.fail(f"{ward.id}: close.issued has no count", file="close.json")
                continue
            if not ballots <= issued == entries <= ward.eligible:
                a9.fail(
                    f"{ward.id}: ballots {ballots}, issued {issued}, ledger entries {entries}, "
                    f"eligible {ward.eligible}",
                    file="close.json",
                )
        a9.counts = {
            "ballots": sum(ward_ballots.values()),
            "issued": sum(close.issued.values()),
            "eligible": sum(w.eligible for w in manifest.wards),
        }

    def _a12(self, manifest: Manifest, recomputed: RecomputedResults) -> None:
        a12 = self.c("A12")
        if self._results_file_matches(manifest, recomputed):
            return
        # The full check: results.json parsed whole (at most MAX_FILE_SIZE), its signature
        # verified over its JCS, the recomputed results built whole to say what differs.
        signed = self._json("results.json", "A12")
        if signed is None:
            return
        try:
            published = Results.signed_value(signed, manifest)
            same = jcs(published) == b"".join(recomputed.iter_jcs())
        except (VerificationError, EncodingError, OpenError) as exc:
            a12.fail(exc.detail, file="results.json")
            return
        if not same:
            a12.fail(
                "results.json differs from the recomputed results"
                + _first_difference(published, recomputed.to_json()),
                file="results.json",
            )


def _read_exact(stream: _Readable, n: int) -> bytes:
    """``n`` bytes of ``stream``, fewer only at its end."""
    data = stream.read(n)
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n and (more := stream.read(n - got)):
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _read_chunks(stream: _Readable, n: int, block: int = 1024 * 1024) -> Iterator[bytes]:
    """The next ``n`` bytes of ``stream`` in pieces of at most ``block``."""
    while n > 0:
        data = stream.read(min(n, block))
        if not data:
            raise RecordError("results.json: shorter on a second reading", code="bad_record")
        n -= len(data)
        yield data


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _first_difference(published: object, recomputed: object, path: str = "") -> str:
    """A short pointer to where two JSON values first differ."""
    if isinstance(published, dict) and isinstance(recomputed, dict):
        for key in sorted(set(published) | set(recomputed)):
            if key not in published or key not in recomputed:
                return f" (at {path}.{key}: present in only one)"
            if published[key] != recomputed[key]:
                return _first_difference(published[key], recomputed[key], f"{path}.{key}")
        return ""
    if isinstance(published, list) and isinstance(recomputed, list):
        if len(published) != len(recomputed):
            return f" (at {path}: {len(published)} entries, recomputed {len(recomputed)})"
        for i, (a, b) in enumerate(zip(published, recomputed, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
        return ""
    return f" (at {path or '$'}: {published!r} published, {recomputed!r} recomputed)"


def render_report(report: AuditReport) -> str:
    """A plain-text rendering of a report, one line per check."""
    lines = [f"Audit of {report.record}"]
    if report.round_id:
        lines.append(f"round {report.round_id} (mid {report.mid})")
    for check in report.checks.values():
        mark = {"passed": "PASS", "failed": "FAIL", "not_checked": "----"}[check.status]
        counts = ", ".join(f"{k} {v}" for k, v in check.counts.items())
        lines.append(f"{check.id:>4} {mark}  {check.title}" + (f"  [{counts}]" if counts else ""))
        for key, names in check.names.items():
            lines.append(f"        {key}: {', '.join(names) or '-'}")
        if not check.checked:
            lines.append(f"        not checked: {check.detail}")
        elif not check.passed or check.id == "A11":
            for failure in check.failures[:10]:
                where = (
                    f"leaf {failure['leaf_index']}" if "leaf_index" in failure
                    else str(failure.get("file", ""))
                )  # fmt: skip
                lines.append(f"        {where}: {failure['detail']}".rstrip())
            hidden = check.failure_count - min(len(check.failures), 10)
            if not check.passed and hidden > 0:
                lines.append(f"        ... and {hidden} more")
    skipped = report.not_checked()
    if not report.passed:
        verdict = "FAILED " + ", ".join(report.failed())
    elif skipped:
        ran = [cid for cid in report.checks if cid not in skipped]
        verdict = f"{span(ran)} pass; {span(skipped)} not checked"
    else:
        verdict = "all checks pass"
    lines.append("RESULT: " + verdict)
    if skipped:
        lines.append(
            f"This record is the public part of a restricted round: {span(skipped)} "
            "need the confidential part (the trustees' releases and the results), which only "
            "holders of an access token receive. Audit the full record to check the tally."
        )
    return "\n".join(lines)


def span(ids: Sequence[str], to: str = "to") -> str:
    """``A1 to A9`` for a run of more than two consecutive checks (``to`` in the reader's
    language), runs and single checks joined by commas: ``A1 to A9, A13``, ``A1, A3``."""
    order = list(CHECKS)
    runs: list[list[str]] = []
    for cid in ids:
        if runs and order.index(cid) == order.index(runs[-1][-1]) + 1:
            runs[-1].append(cid)
        else:
            runs.append([cid])
    return ", ".join(f"{run[0]} {to} {run[-1]}" if len(run) > 2 else ", ".join(run) for run in runs)


@dataclass(frozen=True)
class SlipsCheck:
    """The printed invitation codes against a round's issuance ledger (docs/threat-model.md,
    "A minting issuer"): every pseudonym in the ledger must be one of a printed code of its
    ward; a printed code whose pseudonym is not there was never used."""

    printed: int
    used: int
    unknown: dict[str, int]
    """Per ward: ledger pseudonyms of no printed code of that ward (tokens minted for no one,
    or slips missing from the file)."""
    unused: dict[str, list[str]]
    """Per ward: the participant labels (the CSV's ``participant``) whose code was not used."""

    @property
    def passed(self) -> bool:
        return not any(self.unknown.values())


def check_slips(
    source: str | os.PathLike[str], slips: Iterable[tuple[str, str, str]]
) -> SlipsCheck:
    """Compare the printed ``slips`` (ward, participant, code) with the issuance ledger of
    the record at ``source``: each code's pseudonym (protocol section 8) is computed here,
    so the codes go nowhere."""
    from .codes import normalize_code, pseudonym

    with Record(source) as record:
        manifest = Manifest.from_signed(parse_json(record.read("manifest.json")))
        ledger = IssuanceLedger.from_json(parse_json(record.read("issuance.json")), manifest)
    wards = {w.id for w in manifest.wards}
    mine: dict[str, dict[str, str]] = {w: {} for w in wards}
    printed = 0
    for ward, participant, code in slips:
        if ward not in wards:
            raise InputError(f"the slips name ward {ward!r}, which is not in the round")
        printed += 1
        mine[ward][pseudonym(manifest.mid, normalize_code(code))] = participant
    unknown: dict[str, int] = {}
    unused: dict[str, list[str]] = {}
    used = 0
    for ward in sorted(wards):
        entries = set(ledger.wards.get(ward, ()))
        unknown[ward] = len(entries - set(mine[ward]))
        used += len(entries & set(mine[ward]))
        unused[ward] = sorted(p for ps, p in mine[ward].items() if ps not in entries)
    return SlipsCheck(printed, used, unknown, unused)
