"""Receipts (protocol section 6.7) and every check a participant can make with one.

A receipt is
``{"round": mid, "leaf_index": i, "leaf_hash": b64u, "checkpoint": note, "inclusion": [..]}``.
It proves that a leaf is on the board as of a signed checkpoint; anyone can build one for
any public leaf, so it proves inclusion, not authorship.

:func:`verify_receipt` runs every check a participant can make, against a
:class:`ReceiptSource` (a server, or a round record through :class:`RecordSource`), and
returns a :class:`ReceiptReport` that a command line or a web page only renders.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from .checkpoint import Checkpoint
from .encoding import JSONValue, b64u_decode, b64u_encode, parse_json
from .errors import (
    AnonBallotError,
    EncodingError,
    InvalidProof,
    NotFound,
    OpenError,
    RecordError,
)
from .hazmat.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from .leaf import parse_leaf
from .manifest import Manifest
from .opening import LeafOpener
from .record import Record
from .statements import CloseStatement, Results
from .trustee import TrusteeSecret, verify_release

__all__ = [
    "CHECK_IDS",
    "MAX_RECEIPT",
    "TLOG_PROOF_HEADER",
    "CountedAs",
    "Receipt",
    "ReceiptCheck",
    "ReceiptReport",
    "ReceiptSource",
    "RecordSource",
    "check_consistent",
    "normalize_receipt_code",
    "read_receipt",
    "receipt_code",
    "receipt_for_code",
    "verify_receipt",
    "with_checkpoint",
]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
"""The first line of a receipt written as a c2sp.org/tlog-proof (protocol section 6.7)."""

MAX_RECEIPT = 64 * 1024
"""A receipt of a board of a billion leaves is about 2 KB; anything larger is not one."""


def receipt_code(leaf_hash_bytes: bytes) -> str:
    """The code shown to people: the first 20 hex digits of the leaf hash, groups of four."""
    digits = leaf_hash_bytes.hex()[:20]
    return "-".join(digits[i : i + 4] for i in range(0, 20, 4))


@dataclass(frozen=True)
class Receipt:
    round: str
    leaf_index: int
    leaf_hash: bytes
    checkpoint: str
    inclusion: tuple[bytes, ...]

    @property
    def code(self) -> str:
        return receipt_code(self.leaf_hash)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "round": self.round,
            "leaf_index": self.leaf_index,
            "leaf_hash": b64u_encode(self.leaf_hash),
            "checkpoint": self.checkpoint,
            "inclusion": [b64u_encode(p) for p in self.inclusion],
        }

    @classmethod
    def from_json(cls, value: object) -> Receipt:
        keys = {"round", "leaf_index", "leaf_hash", "checkpoint", "inclusion"}
        if not isinstance(value, dict) or set(value) != keys:
            raise EncodingError(
                "a receipt has exactly round, leaf_index, leaf_hash, checkpoint and inclusion",
                code="bad_receipt",
            )
        index = value["leaf_index"]
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise EncodingError("receipt leaf_index: expected an integer >= 0", code="bad_receipt")
        if not isinstance(value["round"], str) or not isinstance(value["checkpoint"], str):
            raise EncodingError("receipt: round and checkpoint are text", code="bad_receipt")
        proof = value["inclusion"]
        if not isinstance(proof, list):
            raise EncodingError("receipt inclusion: expected a list", code="bad_receipt")
        return cls(
            value["round"],
            index,
            b64u_decode(value["leaf_hash"], length=32, what="leaf_hash"),
            value["checkpoint"],
            tuple(b64u_decode(p, length=32, what="inclusion proof") for p in proof),
        )

    def to_tlog_proof(self) -> str:
        """The receipt as a c2sp.org/tlog-proof@v1 file (protocol section 6.7): its ``extra``
        line carries the round's ``mid`` and the leaf hash (32 bytes each), which the
        verifier checks, not trusts; the checkpoint follows verbatim."""
        extra = base64.b64encode(b64u_decode(self.round, length=32, what="round") + self.leaf_hash)
        proof = [base64.b64encode(p).decode("ascii") for p in self.inclusion]
        head = [TLOG_PROOF_HEADER, f"extra {extra.decode('ascii')}", f"index {self.leaf_index}"]
        checkpoint = self.checkpoint if self.checkpoint.endswith("\n") else self.checkpoint + "\n"
        return "\n".join([*head, *proof, ""]) + "\n" + checkpoint

    @classmethod
    def from_tlog_proof(cls, text: str) -> Receipt:
        """Parse a receipt written by :meth:`to_tlog_proof` (a c2sp.org/tlog-proof@v1 whose
        ``extra`` is the round's ``mid`` and the leaf hash). The proof is checked by
        :meth:`verify`, as for a JSON receipt."""

        def bad(why: str) -> EncodingError:
            return EncodingError(f"tlog-proof: {why}", code="bad_receipt")

        head, sep, checkpoint = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or not checkpoint or lines[0] != TLOG_PROOF_HEADER:
            raise bad(f"expected {TLOG_PROOF_HEADER}, index and proof lines, an empty line and "
                      "the checkpoint")  # fmt: skip
        if len(lines) < 3 or not lines[1].startswith("extra "):
            raise bad("an anonballot receipt carries the round and the leaf hash in its extra line")
        try:
            extra = base64.b64decode(lines[1][len("extra ") :], validate=True)
        except ValueError:
            raise bad("the extra line is not base64") from None
        if len(extra) != 64:
            raise bad("the extra line holds the round's mid and the leaf hash (64 bytes)")
        index = lines[2].removeprefix("index ")
        if not lines[2].startswith("index ") or not _decimal(index):
            raise bad("expected the line index N (an ASCII decimal, no leading zero)")
        proof = []
        for line in lines[3:]:
            try:
                node = base64.b64decode(line, validate=True)
            except ValueError:
                raise bad("an inclusion proof line is not base64") from None
            if len(node) != 32:
                raise bad("an inclusion proof line is not a SHA-256 hash")
            proof.append(node)
        return cls(b64u_encode(extra[:32]), int(index), extra[32:], checkpoint, tuple(proof))

    def verify(self, manifest: Manifest, leaf: bytes | None = None) -> Checkpoint:
        """Check the checkpoint signature and the inclusion proof; return the checkpoint.

        With ``leaf``, also check that the receipt is for exactly those bytes.
        """
        if self.round != manifest.mid:
            raise InvalidProof("the receipt is for another round", code="wrong_round")
        if leaf is not None and leaf_hash(leaf) != self.leaf_hash:
            raise InvalidProof("the receipt is for another leaf")
        checkpoint = Checkpoint.parse(self.checkpoint, manifest.origin, manifest.log_key)
        verify_inclusion(
            self.leaf_hash, self.leaf_index, checkpoint.size, self.inclusion, checkpoint.root
        )
        return checkpoint


def _decimal(text: str) -> bool:
    return text == "0" or (text[:1] in "123456789" and text.isascii() and text.isdecimal())


def read_receipt(data: bytes) -> Receipt:
    """A receipt file as the booth or ``anonballot vote`` writes it: JSON (section 6.7) or
    a c2sp.org/tlog-proof (``.tlog-proof``)."""
    if len(data) > MAX_RECEIPT:
        raise EncodingError(f"a receipt is at most {MAX_RECEIPT} bytes", code="bad_receipt")
    if data.startswith(b"c2sp.org/tlog-proof"):  # any version: from_tlog_proof says which
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError("tlog-proof: not UTF-8 text", code="bad_receipt") from None
        return Receipt.from_tlog_proof(text)
    return Receipt.from_json(parse_json(data))


def normalize_receipt_code(code: str) -> str:
    """A receipt code as written down: any case, spaces or dashes; InputError otherwise."""
    digits = "".join(c for c in code.lower() if c not in " -\t")
    if len(digits) != 20 or any(c not in "0123456789abcdef" for c in digits):
        raise EncodingError(
            "a receipt code is 20 hex digits (five groups of four, e.g. 5325-b155-d3ed-52f1-fe53)",
            code="bad_receipt",
        )
    return "-".join(digits[i : i + 4] for i in range(0, 20, 4))


def receipt_for_code(
    code: str, manifest: Manifest, checkpoint: str, leaf_hashes: Sequence[bytes]
) -> Receipt:
    """Find the ballot whose receipt code is ``code`` among ``leaf_hashes``, every leaf hash
    of the board of the signed ``checkpoint`` (its level-0 tiles, protocol section 6.8),
    and build its receipt (section 6.7) from them: the lookup is made here, so whoever
    served the hashes does not learn which code is checked.

    The hashes must rebuild the checkpoint's root exactly (else :class:`InvalidProof`);
    :class:`NotFound` when no ballot of that board has the code.
    """
    wanted = normalize_receipt_code(code)
    head = Checkpoint.parse(checkpoint, manifest.origin, manifest.log_key)
    if len(leaf_hashes) != head.size:
        raise InvalidProof(f"{len(leaf_hashes)} leaf hashes for a board of {head.size}")
    tree = MerkleTree(leaf_hashes)
    if head.size and tree.root() != head.root:
        raise InvalidProof("the leaf hashes do not rebuild the signed checkpoint's root")
    found = [i for i, h in enumerate(leaf_hashes) if receipt_code(h) == wanted]
    if not found:
        raise NotFound(f"no ballot on the board of {head.size} has the receipt code {wanted}")
    index = found[0]  # two leaves sharing 80 bits of their hash: never in practice
    proof = tuple(tree.inclusion_proof(index, head.size))
    return Receipt(manifest.mid, index, leaf_hashes[index], checkpoint, proof)


def with_checkpoint(
    receipt: Receipt, manifest: Manifest, checkpoint: str, inclusion: Sequence[bytes]
) -> Receipt:
    """The receipt's ballot proven in a later checkpoint of the same board: typically one
    its witnesses have cosigned (protocol section 6.9), so that the receipt, and its
    tlog-proof, carry their cosignatures. Raises :class:`InvalidProof` (or
    :class:`~anonballot.errors.InvalidSignature`) unless ``inclusion`` proves the ballot in
    the signed ``checkpoint``."""
    later = Receipt(receipt.round, receipt.leaf_index, receipt.leaf_hash, checkpoint,
                    tuple(inclusion))  # fmt: skip
    later.verify(manifest)
    return later


def check_consistent(older: Checkpoint, newer: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raise :class:`InvalidProof` unless ``newer`` extends ``older``."""
    if older.size == newer.size:
        if older.root != newer.root:
            raise InvalidProof("two checkpoints of the same size with different roots")
        return
    if older.size == 0:
        return  # every tree extends the empty tree
    verify_consistency(older.size, newer.size, proof, older.root, newer.root)


# -- every check a participant can make ---------------------------------------------------------


class ReceiptSource(Protocol):
    """Where the round's published data comes from: a server (the CLI reads it over HTTP), a
    round record (:class:`RecordSource`) or anything else that serves the same documents."""

    def signed_manifest(self) -> object:
        """The signed manifest (protocol section 4)."""
        ...

    def checkpoint(self) -> str | bytes:
        """The latest signed checkpoint; after close, the final one (section 6.6)."""
        ...

    def consistency_proof(self, old: int, new: int) -> Sequence[bytes]:
        """The consistency proof of the tree of ``old`` leaves in that of ``new`` leaves."""
        ...

    def close_statement(self) -> object | None:
        """The signed close statement (section 7.1), None before close."""
        ...

    def leaf(self, index: int) -> bytes:
        """The leaf at ``index`` of the board, its exact bytes."""
        ...

    def releases(self) -> Sequence[object]:
        """Every trustee release published (section 7.2)."""
        ...

    def results(self) -> object | None:
        """The signed results (section 7.5), None before the tally."""
        ...


CHECK_IDS = ("manifest", "inclusion", "consistency", "close", "counted")
"""The checks of a receipt, in the order they run; each needs the ones before it."""


@dataclass(frozen=True)
class ReceiptCheck:
    """One check of a receipt: which, whether it passed, and what it found."""

    id: str
    passed: bool
    detail: str = ""
    code: str | None = None
    """The error code of a failure (for example ``wrong_round``)."""


@dataclass(frozen=True)
class CountedAs:
    """How the receipt's ballot was counted (protocol section 7.3): its ward and either the
    valid ballot's answers or the reason code of an invalid ballot."""

    ward: str
    answers: Mapping[str, Mapping[str, Mapping[str, str]]] | None
    """Subject id to ``{"ratings": {...}, "comments": {...}}`` of a valid ballot."""
    reason: str | None


@dataclass
class ReceiptReport:
    """The outcome of :func:`verify_receipt`. Checks stop at the first failure."""

    receipt: Receipt
    checks: list[ReceiptCheck] = field(default_factory=list)
    manifest: Manifest | None = None
    receipt_size: int | None = None
    """The size of the receipt's checkpoint (after the inclusion check)."""
    board_size: int | None = None
    """The size of the latest or final checkpoint (after the consistency check)."""
    closed: bool = False
    """True when the round was closed: ``board_size`` is then the final board's."""
    counted: CountedAs | None = None
    """How the ballot was counted, after the tally."""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failure(self) -> ReceiptCheck | None:
        return next((c for c in self.checks if not c.passed), None)

    @property
    def tallied(self) -> bool:
        return self.counted is not None

    def to_json(self) -> dict[str, JSONValue]:
        counted: JSONValue = None
        if self.counted is not None:
            counted = {
                "ward": self.counted.ward,
                "valid": self.counted.reason is None,
                "reason": self.counted.reason,
            }
        return {
            "receipt": self.receipt.to_json(),
            "code": self.receipt.code,
            "passed": self.passed,
            "checks": [
                {"id": c.id, "passed": c.passed, "detail": c.detail, "code": c.code}
                for c in self.checks
            ],
            "receipt_size": self.receipt_size,
            "board_size": self.board_size,
            "closed": self.closed,
            "counted": counted,
        }


class _Failed(Exception):
    def __init__(self, detail: str, code: str | None = None) -> None:
        self.detail, self.code = detail, code


def verify_receipt(receipt: Receipt, source: ReceiptSource) -> ReceiptReport:
    """Run every check a participant can make with ``receipt`` against ``source``.

    1. ``manifest``: the source's signed manifest verifies and is the receipt's round.
    2. ``inclusion``: the receipt's checkpoint verifies and the inclusion proof holds
       (protocol section 6.7).
    3. ``consistency``: the latest (after close, the final) checkpoint verifies and extends
       the receipt's checkpoint (section 6.6): the board was not rewritten since.
    4. ``close``: after close, the close statement verifies and names the final checkpoint's
       size and root, so the receipt's checkpoint is a prefix of the closed board (7.1).
    5. ``counted``: after the tally, "counted as cast": the leaf at the receipt's index is the
       receipt's leaf, the results verify and are for the closed board, the valid releases are
       the trustees they name, and opening the leaf (section 7.3) gives the outcome the
       results publish.

    Any error of the source's data fails the running check; later checks do not run.
    """
    report = ReceiptReport(receipt)
    check_id = CHECK_IDS[0]
    try:
        manifest = Manifest.from_signed(source.signed_manifest())
        report.manifest = manifest
        if manifest.mid != receipt.round:
            raise _Failed("the manifest is not the receipt's round", "wrong_round")
        report.checks.append(ReceiptCheck(check_id, True, manifest.round_id))

        check_id = "inclusion"
        mine = receipt.verify(manifest)
        report.receipt_size = mine.size
        report.checks.append(ReceiptCheck(check_id, True, f"board of {mine.size}"))

        # The close statement is read before the checkpoint: a round that closes in between
        # then shows its final checkpoint, never a close statement beyond the checkpoint.
        check_id = "close"
        signed_close = source.close_statement()
        check_id = "consistency"
        latest = Checkpoint.parse(source.checkpoint(), manifest.origin, manifest.log_key)
        if latest.size < mine.size:
            raise _Failed(
                f"the latest checkpoint has {latest.size} leaves, fewer than the receipt's "
                f"{mine.size}: the board was cut"
            )
        proof = source.consistency_proof(mine.size, latest.size) if mine.size else []
        check_consistent(mine, latest, proof)
        report.board_size = latest.size
        report.checks.append(ReceiptCheck(check_id, True, f"board of {latest.size}"))

        if signed_close is None:
            return report
        check_id = "close"
        close = CloseStatement.from_signed(signed_close, manifest)
        close.check_final(latest)
        report.closed = True
        report.checks.append(ReceiptCheck(check_id, True, f"board of {close.tree_size}"))

        check_id = "counted"
        signed_results = source.results()
        if signed_results is None:
            return report
        report.counted = _counted(receipt, manifest, close, source, signed_results)
        outcome = report.counted.reason or "valid"
        report.checks.append(ReceiptCheck(check_id, True, outcome))
    except _Failed as exc:
        report.checks.append(ReceiptCheck(check_id, False, exc.detail, exc.code))
    except AnonBallotError as exc:
        report.checks.append(ReceiptCheck(check_id, False, exc.detail, exc.code))
    return report


def _counted(
    receipt: Receipt,
    manifest: Manifest,
    close: CloseStatement,
    source: ReceiptSource,
    signed_results: object,
) -> CountedAs:
    results = Results.from_signed(signed_results, manifest)
    results.check_close(close)
    raw = source.leaf(receipt.leaf_index)
    if leaf_hash(raw) != receipt.leaf_hash:
        raise _Failed(f"leaf {receipt.leaf_index} is not the receipt's leaf")
    secrets: list[TrusteeSecret] = []
    for obj in source.releases():
        try:
            secrets.append(verify_release(obj, manifest))
        except AnonBallotError:
            continue  # a release that does not count (the audit reports it, check A10)
    secrets.sort(key=lambda s: s.index)
    if tuple(s.id for s in secrets) != results.trustees:
        raise _Failed("the valid releases are not the trustees the results name")
    if len(secrets) < manifest.threshold:
        raise _Failed("fewer valid releases than the threshold")
    leaf = parse_leaf(raw, manifest)
    published = [e.reason for e in results.invalid if e.leaf_index == receipt.leaf_index]
    try:
        ballot = LeafOpener(manifest, secrets, manifest.mid).open(leaf)
        reason = None
    except OpenError as exc:
        ballot, reason = None, exc.code
    if published != ([reason] if reason else []):
        raise _Failed(
            "the published results disagree with the opened ballot "
            f"(opened: {reason or 'valid'}; results: {', '.join(published) or 'valid'})"
        )
    answers = None
    if ballot is not None:
        # A valid ballot (validate_ballot): each answer's ratings and comments map ids to text.
        answers = cast("Mapping[str, Mapping[str, Mapping[str, str]]]", ballot["answers"])
    return CountedAs(leaf.ward, answers, reason)


class RecordSource:
    """A round record (protocol section 9.1) as the source of :func:`verify_receipt`.

    The board is read once, keeping the leaf hashes (32 bytes per leaf) for the proofs, and
    never past one line more than the final checkpoint's size: a longer board fails all the
    same, however long a hostile record makes it.
    """

    def __init__(self, record: Record) -> None:
        self.record = record
        self._tree: MerkleTree | None = None

    def _board(self, size: int) -> MerkleTree:
        if self._tree is None:
            tree = MerkleTree()
            for line in self.record.board(max_lines=size + 1):
                if not line.endswith(b"\n"):
                    raise RecordError(f"board line {tree.size} is cut short")
                tree.append(leaf_hash(line[:-1]))
            self._tree = tree
        return self._tree

    def signed_manifest(self) -> object:
        value: object = parse_json(self.record.read("manifest.json"))
        return value

    def checkpoint(self) -> str | bytes:
        return self.record.read("checkpoint.txt")

    def consistency_proof(self, old: int, new: int) -> Sequence[bytes]:
        tree = self._board(new)
        if tree.size > new:
            raise InvalidProof(f"the board has more leaves than the final checkpoint's {new}")
        if tree.size != new:
            raise InvalidProof(f"the board has {tree.size} leaves, the final checkpoint {new}")
        return tree.consistency_proof(old, new)

    def close_statement(self) -> object | None:
        if not self.record.exists("close.json"):
            return None
        value: object = parse_json(self.record.read("close.json"))
        return value

    def leaf(self, index: int) -> bytes:
        for i, line in enumerate(self.record.board(max_lines=index + 1)):
            if i == index:
                return line.removesuffix(b"\n")
        raise NotFound(f"the board has no leaf {index}", code="unknown_leaf")

    def releases(self) -> Sequence[object]:
        names = [n for n in self.record.names("releases") if n.endswith(".json")]
        return [parse_json(self.record.read(name)) for name in names]

    def results(self) -> object | None:
        if not self.record.exists("results.json"):
            return None
        value: object = parse_json(self.record.read("results.json"))
        return value
