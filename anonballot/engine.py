"""The round engine: a state machine over a :class:`~anonballot.storage.RoundStore`.

::

    draft --open()--> open --close()--> closed --tally()--> tallied

In ``draft`` the organizer adds roster entries (invitation codes, stored hashed). ``open``
freezes and signs the manifest (roster counts and the wards' fresh issuer keys included).
While open, the engine issues one token per roster entry and accepts leaves with every check
of protocol section 6, answering with receipts. ``close`` signs the final checkpoint, the
close statement and the issuance ledger; trustees' releases are then accepted, and
``tally`` decrypts and counts exactly as section 7.

The engine stores nothing about a cast but the leaf (and its voter key, the spent-token
index): no time, no address, no session.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import typing  # typing.cast by its full name: "cast" here is casting a ballot
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from .board import Board
from .checkpoint import Checkpoint
from .codes import code_hash, normalize_code, pseudonym
from .encoding import JSONValue, jcs, parse_json, parse_time
from .errors import AnonBallotError, Conflict, InputError, NotFound, StateError
from .hazmat.merkle import MerkleTree
from .hazmat.note import verifier_key
from .hazmat.tiles import TilePath, encode_entry_bundle, entries_range, tile_hashes
from .leaf import MAX_LEAF_SIZE, Leaf, check_leaves_fit, parse_leaf
from .manifest import Manifest, RoundConfig
from .opening import LeafOpener
from .receipt import Receipt
from .signing import SigningKey
from .statements import CloseStatement, IssuanceLedger, Results
from .storage import Issuance, RoundStore
from .tally import TallyBuilder
from .tokens import IssuerKey
from .trustee import verify_release

__all__ = ["STATES", "IssueRequest", "Round"]

STATES = ("draft", "open", "closed", "tallied")

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class IssueRequest:
    """A token request that passed every check but its signature (:meth:`Round.check_issue`)."""

    code_hash: bytes
    ward: str
    pseudonym: str
    blinded: bytes


def _size_of(note: str) -> int:
    """The tree size of a checkpoint this engine signed (its second line)."""
    return int(note.split("\n", 2)[1])


def _ward_of(leaf: bytes) -> str:
    """The ward of a stored (canonical) leaf: its last member, so no full parse is needed."""
    return leaf.rsplit(b'"ward":"', 1)[-1][:-2].decode("ascii", "replace")


def _check_leaves_fit(config: RoundConfig, sig_sizes: dict[str, int]) -> None:
    """Refuse a round whose largest valid ballot would not fit in a leaf (protocol sections
    4.2 and 6.3): a participant could fill in the form and find the ballot refused."""
    subjects: dict[str, list[str]] = {w.id: [] for w in config.district.wards}
    for subject in config.district.subjects:
        subjects[subject.ward].append(subject.id)
    check_leaves_fit(
        config.questionnaire, subjects, trustees=len(config.trustees), sig_sizes=sig_sizes
    )


def _spent() -> Conflict:
    return Conflict("this token was already spent on another ballot", code="token_spent")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Round:
    """One round of a district, run on a store."""

    def __init__(self, store: RoundStore, *, clock: Clock = _utcnow) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.RLock()
        self._manifest: Manifest | None = None
        self._board: Board | None = None
        self._issuers: dict[str, IssuerKey] = {}
        self._log: SigningKey | None = None
        self._cast: dict[str, int] = {}
        self._forgotten = False
        self._cosigned: dict[int, str] = {}
        """The newest checkpoint with the witnesses' cosignatures, while the round is open:
        in memory only (see :meth:`add_cosignatures`)."""
        if store.get_document("manifest") is not None:
            self._load_open_round()

    # -- creation and draft ------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        store: RoundStore,
        config: RoundConfig,
        *,
        organizer: SigningKey,
        log: SigningKey | None = None,
        key_bits: int = 3072,
        issuer_keys: dict[str, IssuerKey] | None = None,
        clock: Clock = _utcnow,
    ) -> Round:
        """A new round in ``draft`` with fresh issuer keys (one per ward, never reused)."""
        if store.get_document("config") is not None:
            raise Conflict("this store already holds a round", code="round_exists")
        keys = {
            ward.id: (issuer_keys or {}).get(ward.id) or IssuerKey.generate(key_bits)
            for ward in config.district.wards
        }
        _check_leaves_fit(config, {w: k.public_key.modulus_bytes for w, k in keys.items()})
        with store.atomic():  # a crash leaves either no round or a whole draft
            store.put_document("config", jcs(config.to_json()))
            store.put_secret("organizer", organizer.seed)
            store.put_secret("log", (log or organizer).seed)
            for ward_id, key in keys.items():
                store.put_secret(f"issuer/{ward_id}", key.to_pem())
            store.set_state("draft")
        return cls(store, clock=clock)

    @property
    def state(self) -> str:
        return self.store.get_state()

    @property
    def config(self) -> RoundConfig:
        data = self.store.get_document("config")
        if data is None:
            raise NotFound("no round in this store", code="unknown_round")
        return RoundConfig.from_json(parse_json(data))

    def _secret_key(self, name: str) -> SigningKey:
        seed = self.store.get_secret(name)
        if seed is None:
            raise NotFound(f"the round has no {name} key", code="missing_key")
        return SigningKey(seed)

    def witness_log_line(self) -> str:
        """``ORIGIN=VKEY``: the round's log as a witness follows it (``anonballot witness
        serve --log``), its origin and its signed-note verifier key (protocol section 6.9)."""
        origin = self.config.origin
        return f"{origin}={verifier_key(origin, self._secret_key('log').public_key)}"

    def add_invitations(self, entries: Iterable[tuple[str, str]]) -> int:
        """Add roster entries as (invitation code, ward id); only in draft. Returns the count."""
        wards = {w.id for w in self.config.district.wards}
        rows = []
        for code, ward in entries:
            if ward not in wards:
                raise NotFound(f"ward {ward!r} is not in this round", code="unknown_ward")
            rows.append((code_hash(code), ward))
        # In an order of no meaning: the entries come in roster order, and a store that kept
        # the order of arrival would rank each code hash back to a name (docs/threat-model.md).
        secrets.SystemRandom().shuffle(rows)
        # Under the lock, with the state checked inside it: open() reads the roster counts
        # under the same lock, so no entry can slip in after ``eligible`` is frozen.
        with self._lock:
            self._require("draft")
            self.store.add_invitations(rows)
        return len(rows)

    def open(self, *, booth: Mapping[str, str] | None = None) -> dict[str, JSONValue]:
        """Freeze and sign the manifest; sign the empty tree's checkpoint.

        ``booth``: the files the server serves to participants, by path, to b64u(SHA-256)
        of their bytes as served (``M.booth``, protocol section 4.2), pinned for monitors."""
        with self._lock:
            self._require("draft")
            config = self.config
            issuers = self._load_issuers([w.id for w in config.district.wards])
            organizer = self._secret_key("organizer")
            log = self._secret_key("log")
            _check_leaves_fit(config, {w: k.public_key.modulus_bytes for w, k in issuers.items()})
            manifest = Manifest.build(
                config,
                eligible=self.store.invitation_counts(),
                issuer_keys={w: k.public_key for w, k in issuers.items()},
                organizer_key=organizer.public_key,
                log_key=log.public_key,
                booth=booth,
            )
            signed = manifest.sign(organizer)
            # Check the manifest by the rules every reader applies before storing anything:
            # Manifest.build does not check them all (e.g. two wards given the same issuer
            # key), and a stored manifest that no reader accepts would make every later load
            # of the round fail.
            Manifest.from_signed(signed)
            empty = Checkpoint(manifest.origin, 0, Board(manifest).tree.root(0))
            # the manifest is published with the open state, once (the "state" lock: another
            # engine on the store may be opening the round too)
            with self.store.locked("state"):
                self._require("draft")
                self.store.put_document("manifest", jcs(signed))
                self.store.put_checkpoint(0, empty.sign(log))
                self.store.set_state("open")
            self._issuers = issuers
            self._load_open_round()
            return signed

    # -- the open round ------------------------------------------------------------------------

    def _load_issuers(self, wards: list[str]) -> dict[str, IssuerKey]:
        issuers = {}
        for ward in wards:
            pem = self.store.get_secret(f"issuer/{ward}")
            if pem is None:
                raise NotFound(f"no issuer key for ward {ward}", code="missing_key")
            # made by this engine and stored by it; every signature is verified (check=False)
            issuers[ward] = IssuerKey.from_pem(pem, check=False)
        return issuers

    def _load_open_round(self) -> None:
        data = self.store.get_document("manifest")
        if data is None:
            raise StateError("the round has not been opened", code="round_not_open")
        manifest = Manifest.from_signed(parse_json(data))
        board = Board(manifest)
        cast: dict[str, int] = {}
        count = self.store.leaf_count()
        for leaf in self.store.leaves(0, count):
            board.append(leaf)
            ward = _ward_of(leaf)
            cast[ward] = cast.get(ward, 0) + 1
        self._cast = cast
        self._manifest = manifest
        self._board = board
        # the issuer keys are loaded when a ward's first token request comes (issuer_key)
        self._log = self._secret_key("log")

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._load_opened_elsewhere()
        if self._manifest is None:
            raise StateError("the round has not been opened", code="round_not_open")
        return self._manifest

    @property
    def board(self) -> Board:
        if self._board is None:
            self._load_opened_elsewhere()
        if self._board is None:
            raise StateError("the round has not been opened", code="round_not_open")
        return self._board

    def _load_opened_elsewhere(self) -> None:
        """Load the round if another engine on the store (another server instance) opened it
        after this one was made."""
        with self._lock:
            if self._manifest is None and self.store.get_document("manifest") is not None:
                self._load_open_round()

    @property
    def mid(self) -> str:
        return self.manifest.mid

    def signed_manifest(self) -> dict[str, JSONValue]:
        data = self.store.get_document("manifest")
        if data is None:
            raise StateError("the round has not been opened", code="round_not_open")
        # An object: open() stored the signed manifest it had checked.
        return typing.cast("dict[str, JSONValue]", parse_json(data))

    def _require(self, *states: str) -> None:
        state = self.state
        if state not in states:
            raise StateError(
                f"the round is {state}; this needs it {' or '.join(states)}",
                code="round_not_open" if "open" in states else "wrong_state",
            )

    def ward_for_code(self, code: str) -> str:
        """The ward of an invitation code (the booth needs it before blinding)."""
        ward = self.store.invitation_ward(code_hash(code))
        if ward is None:
            raise NotFound("this invitation code is not on the roster", code="unknown_code")
        return ward

    def issue(self, code: str, blinded: bytes) -> bytes:
        """Blind-sign for a roster entry, once; the same ``blinded`` again gets the same answer.

        This is :meth:`check_issue`, the ward's issuer key's signature and
        :meth:`commit_issuances` in a row. A server runs the three steps apart: the checks
        concurrently, the signatures in other processes and the commits in groups.
        """
        checked = self.check_issue(code, blinded)
        if isinstance(checked, bytes):
            return checked
        blind_sig = self.issuer_key(checked.ward).sign_blinded(blinded)
        result = self.commit_issuances([(checked, blind_sig)])[0]
        if isinstance(result, AnonBallotError):
            raise result
        return result

    def check_issue(self, code: str, blinded: bytes) -> IssueRequest | bytes:
        """Every check of a token request before its signature; needs no lock.

        Returns the request to sign, or the earlier answer when this code already received
        a token for this same ``blinded``; raises :class:`Conflict` (``code_used``) when it
        received one for another request.
        """
        self._require("open")
        manifest = self.manifest
        if not manifest.issuance.contains(self.clock()):
            raise StateError("token issuance is not open now", code="outside_window")
        normalized = normalize_code(code)
        h = code_hash(normalized)
        ward = self.ward_for_code(normalized)
        # before anything is looked up or stored: a bad request leaves the code unspent
        manifest.issuer_key(ward).check_blinded(blinded)
        existing = self.store.get_issuance(h)
        if existing is not None:
            return self._same_request(existing, blinded)
        return IssueRequest(h, ward, pseudonym(self.mid, normalized), blinded)

    def issuer_key(self, ward: str) -> IssuerKey:
        """The issuer key of ``ward`` in the open round (what signs its token requests),
        loaded from the store the first time it is asked for: a national round's 10,000
        keys are not all read when the round is loaded."""
        self.manifest.ward(ward)
        key = self._issuers.get(ward)
        if key is None:
            with self._lock:
                key = self._issuers.get(ward) or self._load_issuers([ward])[ward]
                self._issuers[ward] = key
        return key

    def commit_issuances(
        self, signed: Sequence[tuple[IssueRequest, bytes] | AnonBallotError]
    ) -> list[bytes | AnonBallotError]:
        """Record signed token requests (request, blind signature) in one store transaction.

        Errors in ``signed`` pass through. A request whose code was served meanwhile (by an
        earlier entry, or by another engine on the same store) gets the earlier answer if it
        is the same request, else :class:`Conflict`. The state is checked under the lock,
        as :meth:`commit` does: :meth:`close` builds the ledger under it, so no token can be
        recorded (and handed out) after the ledger and the close statement's counts were
        signed. The answers are given only after the store has made the issuances durable.
        """
        with self._lock, self.store.locked("issue"):
            try:
                self._require("open")
            except StateError as exc:
                return [exc for _ in signed]
            entries = []
            for item in signed:
                if not isinstance(item, AnonBallotError):
                    request, blind_sig = item
                    issuance = Issuance(request.ward, request.pseudonym, request.blinded, blind_sig)
                    entries.append((request.code_hash, issuance))
            held = iter(self.store.add_issuances(entries) if entries else [])
            out: list[bytes | AnonBallotError] = []
            for item in signed:
                if isinstance(item, AnonBallotError):
                    out.append(item)
                    continue
                try:
                    out.append(self._same_request(next(held), item[0].blinded))
                except Conflict as exc:
                    out.append(exc)
            return out

    @staticmethod
    def _same_request(existing: Issuance, blinded: bytes) -> bytes:
        if existing.blinded == blinded:
            return existing.blind_sig
        raise Conflict(
            "this invitation code already received a token for another request", code="code_used"
        )

    def cast(self, leaf: bytes) -> Receipt:
        """Accept a leaf after every check of section 6 and return its receipt."""
        result = self.commit([self.check_leaf(leaf)])[0]
        if isinstance(result, AnonBallotError):
            raise result
        return result

    def cast_many(self, leaves: Sequence[bytes]) -> list[Receipt | AnonBallotError]:
        """Cast several leaves in one commit (one transaction, one checkpoint).

        Each entry of the answer is the leaf's receipt or the error that refused it; one bad
        leaf does not affect the others.
        """
        checked: list[Leaf | AnonBallotError] = []
        for leaf in leaves:
            try:
                checked.append(self.check_leaf(leaf))
            except AnonBallotError as exc:
                checked.append(exc)
        return self.commit(checked)

    def check_leaf(self, leaf: bytes) -> Leaf:
        """Every check of a cast that needs no lock: parse, window, token, voter signature.

        Servers run it concurrently, then :meth:`commit` the checked leaves in groups.
        """
        self._require("open")
        manifest = self.manifest
        # The cap of protocol section 6.3 applies to what is cast, not to what is read.
        parsed = parse_leaf(leaf, manifest, self.mid, max_size=MAX_LEAF_SIZE)
        if not manifest.voting.contains(self.clock()):
            raise StateError("voting is not open now", code="outside_window")
        parsed.verify_token(manifest)
        parsed.verify_voter_sig()
        return parsed

    def commit(self, checked: Sequence[Leaf | AnonBallotError]) -> list[Receipt | AnonBallotError]:
        """Append checked leaves: spent-token check, one checkpoint, one store transaction.

        Errors in ``checked`` pass through. A leaf whose token is already spent gets the
        earlier receipt if it is the identical leaf, else :class:`Conflict`. The answers are
        given only after the store has made the leaves and their checkpoint durable.
        """
        # The store's "append" lock from the state check and the board's size to the stored
        # group: engines in other processes or server instances append one after the other,
        # each to the board as the one before left it, so checkpoints never fork.
        with self._lock, self.store.locked("append"):
            try:
                self._require("open")
            except StateError as exc:
                return [exc for _ in checked]
            board = self._sync_board()
            out: list[Receipt | AnonBallotError | int] = []
            fresh: list[tuple[bytes, bytes]] = []
            in_batch: dict[bytes, int] = {}
            note, size = "", board.size
            spent_before = self.store.spent_indices(
                [item.voter_key.to_bytes() for item in checked if isinstance(item, Leaf)]
            )
            for item in checked:
                if isinstance(item, AnonBallotError):
                    out.append(item)
                    continue
                key = item.voter_key.to_bytes()
                earlier = in_batch.get(key)
                if earlier is not None:
                    same = fresh[earlier][0] == item.raw
                    out.append(board.size + earlier if same else _spent())
                    continue
                spent = spent_before.get(key)
                if spent is not None:
                    try:
                        out.append(self._resubmission(spent, item.raw))
                    except AnonBallotError as exc:
                        out.append(exc)
                    continue
                in_batch[key] = len(fresh)
                fresh.append((item.raw, key))
                out.append(board.size + len(fresh) - 1)
            if fresh:
                first = board.size
                for leaf, _ in fresh:
                    board.append(leaf)
                note = board.checkpoint().sign(self._log_key())
                try:
                    self.store.append_leaves(fresh, note)
                except BaseException:
                    board.tree.truncate(first)  # the store refused: nothing of it was kept
                    raise
                for leaf, _ in fresh:
                    ward = _ward_of(leaf)
                    self._cast[ward] = self._cast.get(ward, 0) + 1
                size = first + len(fresh)
            return [
                board.receipt(item, note, size) if isinstance(item, int) else item for item in out
            ]

    def _sync_board(self) -> Board:
        """The board, brought up to the store first if it holds leaves this engine did not
        append.

        Call with the lock held (and, to append, the store's "append" lock). Another engine
        on the same store (another server instance, or one made before a restart) may have
        appended: a stale tree would give receipts with out-of-range indices on a
        resubmission and, worse, sign a checkpoint over a tree that is not the store's,
        inconsistent with the other engine's (protocol section 6.6). Only the missing leaves
        are read and added: two instances taking turns must not rebuild a million-leaf tree.
        """
        board = self.board
        count = self.store.leaf_count()
        if board.size < count:  # appended by another engine: add them, not rebuild
            for leaf in self.store.leaves(board.size, count):
                board.append(leaf)
                ward = _ward_of(leaf)
                self._cast[ward] = self._cast.get(ward, 0) + 1
        elif board.size > count:
            self._load_open_round()
            board = self.board
        return board

    def _resubmission(self, index: int, leaf: bytes) -> Receipt:
        """The receipt of a leaf cast again, byte for byte the one it got when it was
        appended (protocol section 6.4): its index, the checkpoint stored with the group
        that appended it (the smallest stored tree that holds it) and that tree's proof."""
        stored = next(self.store.leaves(index, index + 1))
        if stored != leaf:
            raise Conflict("this token was already spent on another ballot", code="token_spent")
        note = self.store.checkpoint_covering(index) or self.checkpoint()
        # the proof is for the size of the checkpoint it is given with
        manifest = self.manifest
        size = Checkpoint.parse(note, manifest.origin, manifest.log_key).size
        return self.board.receipt(index, note, size)

    def _log_key(self) -> SigningKey:
        if self._log is None:
            raise StateError("the round has not been opened", code="round_not_open")
        return self._log

    def turnout(self) -> dict[str, JSONValue]:
        """Per ward: eligible, tokens issued and ballots cast (counts only)."""
        manifest = self.manifest
        issued = self.store.issuance_counts()
        with self._lock:
            self._sync_board()
            cast = dict(self._cast)
        wards: dict[str, JSONValue] = {
            w.id: {"eligible": w.eligible, "issued": issued.get(w.id, 0), "cast": cast.get(w.id, 0)}
            for w in manifest.wards
        }
        return {
            "round_id": manifest.round_id,
            "state": self.state,
            "wards": wards,
            "total": {
                "eligible": sum(w.eligible for w in manifest.wards),
                "issued": sum(issued.values()),
                "cast": sum(cast.values()),
            },
        }

    def checkpoint(self) -> str:
        """The latest signed checkpoint, with the witnesses' cosignatures collected for it."""
        note = self.store.latest_checkpoint()
        if note is None:
            raise StateError("the round has not been opened", code="round_not_open")
        cosigned = self._cosigned.get(_size_of(note))
        return cosigned if cosigned is not None and cosigned.startswith(note) else note

    def add_cosignatures(self, size: int, lines: Sequence[str]) -> str:
        """Add witnesses' cosignature lines to the checkpoint of ``size`` (protocol section
        6.9) and return it with them. A line counts only when it is a valid
        ``cosignature/v1`` by a witness the manifest names that the note does not already
        carry; anything else is left out.

        While the round is open they are kept in memory, with the newest checkpoint only:
        a cosignature dates the board's size, and a store that kept one for every size the
        witnesses saw would keep when each stretch of ballots was cast (docs/threat-model.md,
        "What the database keeps"). A restarted server gets them again within seconds. The
        final checkpoint's are stored, at the close or when they arrive after it: the round
        record carries them (check A13).
        """
        policy = self.manifest.witnesses
        if policy is None:
            raise StateError("the round names no witnesses", code="wrong_state")
        with self._lock:
            stored = self.store.checkpoint_at(size)
            if stored is None:
                raise NotFound(f"the board has no checkpoint of size {size}")
            note = self._cosigned.get(size, stored)
            have = {w.name for w in policy.cosigners(note)}
            added = []
            for line in lines:
                line = line.removesuffix("\n") + "\n"
                new = [w for w in policy.cosigners(note + line) if w.name not in have]
                if new:
                    have.update(w.name for w in new)
                    added.append(line)
            if added:
                note += "".join(added)
                if self.state == "open":
                    self._cosigned = {size: note}
                else:
                    self.store.cosign_checkpoint(size, note)
            return note

    def published(self) -> tuple[str, int]:
        """The latest signed checkpoint and its tree size: what the log publishes.

        The board in memory may hold more leaves (a group being committed); only those the
        latest checkpoint covers are on disk and signed (protocol section 6.4).
        """
        note = self.checkpoint()
        # The store's own note, signed by this engine: its second line is the tree size
        # (protocol section 6.6), read without verifying the signature again.
        return note, int(note.split("\n", 2)[1])

    def board_size(self) -> int:
        """The number of leaves on the board as stored (by this or any other engine on the
        store): what reads may ask for."""
        return self.store.leaf_count()

    def tree(self, size: int) -> MerkleTree:
        """The board's tree, holding at least ``size`` leaves (brought up to the store first
        if another engine on the same store appended them)."""
        tree = self._tree_of(size)
        if tree.size < size:
            raise StateError(f"the board has {tree.size} leaves, not {size}", code="wrong_state")
        return tree

    def tile(self, tile: TilePath, size: int | None = None) -> bytes:
        """A C2SP tlog-tiles hash tile or entry bundle of the board of ``size`` leaves (by
        default the published size, :meth:`published`), protocol section 6.8.

        Raises :class:`NotFound` (``tile_not_found``) for a tile that board does not hold
        whole, and (``entry_too_large``) for an entry bundle with a leaf too large for it.
        """
        if size is None:
            size = self.published()[1]
        if not tile.is_entries:
            return tile_hashes(self.tree(size), tile, size)
        start, end = entries_range(tile, size)
        try:
            return encode_entry_bundle(self.store.leaves(start, end))
        except InputError as exc:
            # Only a board made before leaves were capped (protocol section 6.3) can hold
            # one; the leaf is still served by the JSON API and the round record.
            raise NotFound(
                f"{tile.path()}: {exc.detail} (a leaf cast before the cap of protocol section "
                "6.3; read it from the leaves of the API or the round record)",
                code="entry_too_large",
            ) from exc

    def leaves(self, start: int, end: int) -> Iterator[bytes]:
        count = self.store.leaf_count()
        if not 0 <= start <= end <= count:
            raise InputError(f"leaves: expected 0 <= start <= end <= {count}", code="bad_range")
        return self.store.leaves(start, end)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return self._tree_of(size).inclusion_proof(index, size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return self._tree_of(new).consistency_proof(old, new)

    def _tree_of(self, size: int) -> MerkleTree:
        """The board's tree, brought up to the store first if it holds fewer than ``size``
        leaves (another instance appended them); a size beyond the store's is the tree's
        own error."""
        board = self.board
        if board.size < size:
            with self._lock:
                board = self._sync_board()
        return board.tree

    # -- close, releases, tally -------------------------------------------------------------------

    def close(self) -> CloseStatement:
        """Sign the final checkpoint, the close statement and the issuance ledger."""
        with self._lock:
            statement = self._close()
            self.store.forget_issuance_answers()  # out of the transaction: it may rewrite a file
            self._forgotten = True
            return statement

    def _close(self) -> CloseStatement:
        # The "state" lock: no other engine appends or issues from here to the closed state.
        with self.store.locked("state"):
            self._require("open")
            manifest = self.manifest
            ledger = IssuanceLedger.build(
                manifest, ((i.ward, i.pseudonym) for i in self.store.issuances())
            )
            board = self._sync_board()
            final = board.checkpoint()
            final_note = (
                None if self.store.checkpoint_at(final.size) else final.sign(self._log_key())
            )
            statement = CloseStatement.build(final, ledger)
            signed = statement.sign(self._secret_key("organizer"))
            cosigned = self._cosigned.pop(final.size, None)
            with self.store.atomic():  # no close statement without the closed state
                if final_note is not None:
                    self.store.put_checkpoint(final.size, final_note)
                elif cosigned is not None:  # the witnesses' cosignatures of the final board
                    self.store.cosign_checkpoint(final.size, cosigned)
                self.store.put_document("issuance", jcs(ledger.to_json()))
                self.store.put_document("close", jcs(signed))
                self.store.set_state("closed")
            return statement

    def forget_issuance_answers(self) -> bool:
        """Once the issuance window has ended, delete what was kept only for retried token
        requests, and the order of issuance at rest (:meth:`RoundStore.forget_issuance_answers`).

        A server calls it from time to time (no request waits for it); ``close`` does it too.
        True when done now or before, False while issuance is still open.
        """
        with self._lock:
            if self._forgotten:
                return True
            if self.state == "draft":
                return False
            if self.state == "open" and self.clock() < parse_time(self.manifest.issuance.closes):
                return False
            self.store.forget_issuance_answers()
            self._forgotten = True
            return True

    def close_statement(self) -> CloseStatement:
        """The signed close statement of the closed round (protocol section 7.1), verified."""
        data = self.store.get_document("close")
        if data is None:
            raise StateError("the round is not closed yet", code="round_not_closed")
        return CloseStatement.from_signed(parse_json(data), self.manifest)

    def issuance_ledger(self) -> IssuanceLedger:
        """The issuance ledger of the closed round (protocol section 8)."""
        data = self.store.get_document("issuance")
        if data is None:
            raise StateError("the round is not closed yet", code="round_not_closed")
        return IssuanceLedger.from_json(parse_json(data), self.manifest)

    def results(self) -> Results:
        """The signed results of the tallied round (protocol section 7.5), verified."""
        data = self.store.get_document("results")
        if data is None:
            raise StateError("the round is not tallied yet", code="round_not_tallied")
        return Results.from_signed(parse_json(data), self.manifest)

    def add_release(self, release: object) -> str:
        """Accept a trustee's release if it verifies; return the trustee id."""
        self._require("closed")
        secret = verify_release(release, self.manifest, self.mid)
        self.store.put_document(f"release/{secret.id}", jcs(release))
        return secret.id

    def releases(self) -> dict[str, dict[str, JSONValue]]:
        out = {}
        for name in self.store.document_names("release/"):
            data = self.store.get_document(name)
            if data is not None:
                # An object: add_release stored it after verify_release accepted it.
                release = typing.cast("dict[str, JSONValue]", parse_json(data))
                out[name.removeprefix("release/")] = release
        return out

    def tally(self) -> Results:
        """Decrypt every leaf with the valid releases, count, and sign the results."""
        with self._lock:
            self._require("closed")
            manifest = self.manifest
            secrets = sorted(
                (verify_release(r, manifest, self.mid) for r in self.releases().values()),
                key=lambda s: s.index,
            )
            if len(secrets) < manifest.threshold:
                raise StateError(
                    f"{len(secrets)} of {manifest.threshold} trustee releases; "
                    "the tally needs at least the threshold",
                    code="not_enough_releases",
                )
            close = self.close_statement()
            opener = LeafOpener(manifest, secrets, self.mid)
            builder = TallyBuilder(manifest)
            size = close.tree_size
            for index, data in enumerate(self.store.leaves(0, size)):
                builder.add(index, parse_leaf(data, manifest, self.mid), opener)
            results = builder.results(
                mid=self.mid,
                tree_size=size,
                root=self.tree(size).root(size),
                trustees=[s.id for s in secrets],
                issued=close.issued,
            )
            signed = results.sign(self._secret_key("organizer"))
            with self.store.locked("state"):
                if self.state == "tallied":  # by another engine meanwhile: its results stand
                    return self.results()
                self._require("closed")
                self.store.put_document("results", jcs(signed))
                self.store.set_state("tallied")
            return results

    def record_files(self, *, public_only: bool = False) -> dict[str, bytes]:
        """The round record's files but the board (protocol section 9), under ``<round_id>/``.

        The whole record once tallied; with ``public_only``, once closed, the public part
        (no releases, no results: protocol section 9.1), which a restricted round shows to
        everyone.
        """
        if public_only:
            self._require("closed", "tallied")
        else:
            self._require("tallied")
        files: dict[str, bytes] = {}
        documents = [
            ("manifest", "manifest.json"),
            ("close", "close.json"),
            ("issuance", "issuance.json"),
        ]
        if not public_only:
            documents.append(("results", "results.json"))
        for name, path in documents:
            data = self.store.get_document(name)
            if data is None:
                raise StateError(f"the round has no {name} yet", code="wrong_state")
            files[path] = data
        final = self.store.checkpoint_at(self.close_statement().tree_size)
        if final is None:
            raise StateError("the final checkpoint is missing", code="wrong_state")
        files["checkpoint.txt"] = final.encode("utf-8")
        if not public_only:
            for trustee, release in self.releases().items():
                files[f"releases/{trustee}.json"] = jcs(release)
        return files

    def board_leaves(self) -> Iterator[bytes]:
        """The leaves of the closed board, in order (streamed from the store)."""
        return self.store.leaves(0, self.close_statement().tree_size)
