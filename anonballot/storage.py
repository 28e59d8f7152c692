"""The storage protocol the round engine runs on, and its in-memory implementation.

The engine keeps all round state behind :class:`RoundStore`; the reference server implements
it over SQLite. What a store keeps about a cast ballot is the leaf's bytes and its voter key
(the spent-token index), nothing else: no time, no address, no request data. Nor may the
way it stores invitations and issuances keep the order in which they came: that order
follows the roster and, in a round whose windows overlap, the order of the ballots on the
board (docs/threat-model.md#what-the-database-keeps says what each back end must do).

Every mutating method is atomic: it either takes effect whole or not at all. ``append_leaf``
stores the leaf together with the checkpoint that covers it; a store may acknowledge only
once both are durable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

from .errors import Conflict

__all__ = ["Issuance", "MemoryStore", "RoundStore"]


@dataclass(frozen=True)
class Issuance:
    """One served token request; the ledger keeps ``ward`` and ``pseudonym`` of it."""

    ward: str
    pseudonym: str
    blinded: bytes
    blind_sig: bytes


class RoundStore(Protocol):
    """Persistent state of one round."""

    def atomic(self) -> AbstractContextManager[object]:
        """Group several writes so that they take effect together or not at all."""
        ...

    def locked(
        self, purpose: Literal["append", "issue", "state"]
    ) -> AbstractContextManager[object]:
        """Like :meth:`atomic`, holding the round's lock for ``purpose`` against every other
        engine on the same store (other threads, processes or server instances): "append"
        (one writer of the board at a time, from reading its size to storing the leaves and
        their checkpoint), "issue" (issuances, which may run together but not while the
        state changes), "state" (open, close, tally: alone). Reads inside see every write
        the others committed before."""
        ...

    def get_state(self) -> str: ...

    def set_state(self, state: str) -> None: ...

    def get_document(self, name: str) -> bytes | None:
        """A named document: manifest, close, issuance, results, release/<trustee>, config."""
        ...

    def put_document(self, name: str, data: bytes) -> None: ...

    def document_names(self, prefix: str) -> list[str]: ...

    def get_secret(self, name: str) -> bytes | None:
        """A private key of the round (organizer, log, issuer/<ward>)."""
        ...

    def put_secret(self, name: str, data: bytes) -> None: ...

    def add_invitations(self, entries: list[tuple[bytes, str]]) -> None:
        """Add roster entries as (code hash, ward); a code hash seen before is a Conflict."""
        ...

    def invitation_ward(self, code_hash: bytes) -> str | None: ...

    def invitation_counts(self) -> dict[str, int]: ...

    def get_issuance(self, code_hash: bytes) -> Issuance | None: ...

    def add_issuance(self, code_hash: bytes, issuance: Issuance) -> None:
        """Record an issuance; Conflict if the code hash was already served."""
        ...

    def add_issuances(self, entries: list[tuple[bytes, Issuance]]) -> list[Issuance]:
        """Record (code hash, issuance) pairs in one atomic step (a group commit). For each
        entry, the issuance held for its code hash afterwards: its own, or the one recorded
        earlier (for an earlier entry of the same code hash too)."""
        ...

    def issuance_counts(self) -> dict[str, int]:
        """Issuances per ward (a turnout's look-up: not every issuance read)."""
        ...

    def issuances(self) -> Iterator[Issuance]:
        """Every issuance, in an order that says nothing of when it was served (by code hash:
        protocol section 5.3's ledger sorts them again)."""
        ...

    def forget_issuance_answers(self) -> None:
        """Delete the blinded messages and their answers, kept only so that a retried token
        request gets the same answer while issuance is open, and leave nothing at rest of
        them or of the order in which issuances came (docs/threat-model.md). Idempotent;
        the engine calls it once the issuance window has ended, and at close."""
        ...

    def leaf_count(self) -> int: ...

    def leaves(self, start: int, end: int) -> Iterator[bytes]: ...

    def spent_index(self, voter_key: bytes) -> int | None: ...

    def spent_indices(self, voter_keys: Sequence[bytes]) -> dict[bytes, int]:
        """The board index of each of ``voter_keys`` already spent (a group's look-up)."""
        ...

    def append_leaf(self, leaf: bytes, voter_key: bytes, checkpoint: str) -> int:
        """Append a leaf and the checkpoint that covers it, atomically; return its index."""
        ...

    def append_leaves(self, entries: list[tuple[bytes, bytes]], checkpoint: str) -> int:
        """Append (leaf, voter key) pairs and the checkpoint covering them in one atomic
        step (a group commit); return the first index. Conflict if a voter key is spent."""
        ...

    def latest_checkpoint(self) -> str | None: ...

    def checkpoint_at(self, size: int) -> str | None:
        """The checkpoint signed for tree size ``size``, if one was."""
        ...

    def checkpoint_covering(self, index: int) -> str | None:
        """The checkpoint of the smallest stored tree that holds leaf ``index``: the one
        stored with the group that appended it (what its receipt was given with)."""
        ...

    def put_checkpoint(self, size: int, checkpoint: str) -> None:
        """Store a checkpoint signed without a new leaf (the empty tree at open)."""
        ...

    def cosign_checkpoint(self, size: int, checkpoint: str) -> None:
        """Replace the stored checkpoint of ``size`` by the same note with more signatures
        (witnesses' cosignatures, protocol section 6.9); the caller checked the text."""
        ...


class MemoryStore:
    """A :class:`RoundStore` in memory, for tests, simulations and embedding."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state = "draft"
        self._documents: dict[str, bytes] = {}
        self._secrets: dict[str, bytes] = {}
        self._invitations: dict[bytes, str] = {}
        self._issuances: dict[bytes, Issuance] = {}
        self._leaves: list[bytes] = []
        self._spent: dict[bytes, int] = {}
        self._checkpoints: dict[int, str] = {}

    def atomic(self) -> AbstractContextManager[object]:
        """Writes in memory cannot be torn by a crash: the process and the store go together."""
        return self._lock

    def locked(
        self, purpose: Literal["append", "issue", "state"]
    ) -> AbstractContextManager[object]:
        """One lock for every purpose: the store lives in one process."""
        return self._lock

    def get_state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        self._state = state

    def get_document(self, name: str) -> bytes | None:
        return self._documents.get(name)

    def put_document(self, name: str, data: bytes) -> None:
        self._documents[name] = data

    def document_names(self, prefix: str) -> list[str]:
        return sorted(n for n in self._documents if n.startswith(prefix))

    def get_secret(self, name: str) -> bytes | None:
        return self._secrets.get(name)

    def put_secret(self, name: str, data: bytes) -> None:
        self._secrets[name] = data

    def add_invitations(self, entries: list[tuple[bytes, str]]) -> None:
        with self._lock:
            seen = set()
            for code_hash, _ in entries:
                if code_hash in self._invitations or code_hash in seen:
                    raise Conflict("an invitation code appears twice", code="duplicate_code")
                seen.add(code_hash)
            self._invitations.update(entries)

    def invitation_ward(self, code_hash: bytes) -> str | None:
        return self._invitations.get(code_hash)

    def invitation_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for ward in self._invitations.values():
            counts[ward] = counts.get(ward, 0) + 1
        return counts

    def get_issuance(self, code_hash: bytes) -> Issuance | None:
        return self._issuances.get(code_hash)

    def add_issuance(self, code_hash: bytes, issuance: Issuance) -> None:
        with self._lock:
            if code_hash in self._issuances:
                raise Conflict("this invitation code was already served", code="code_used")
            self._issuances[code_hash] = issuance

    def add_issuances(self, entries: list[tuple[bytes, Issuance]]) -> list[Issuance]:
        with self._lock:
            return [self._issuances.setdefault(h, issuance) for h, issuance in entries]

    def issuance_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for issuance in list(self._issuances.values()):
            counts[issuance.ward] = counts.get(issuance.ward, 0) + 1
        return counts

    def issuances(self) -> Iterator[Issuance]:
        return iter([self._issuances[h] for h in sorted(self._issuances)])

    def forget_issuance_answers(self) -> None:
        with self._lock:
            self._issuances = {
                h: Issuance(i.ward, i.pseudonym, b"", b"")
                for h, i in sorted(self._issuances.items())
            }

    def leaf_count(self) -> int:
        return len(self._leaves)

    def leaves(self, start: int, end: int) -> Iterator[bytes]:
        return iter(self._leaves[start:end])

    def spent_index(self, voter_key: bytes) -> int | None:
        return self._spent.get(voter_key)

    def spent_indices(self, voter_keys: Sequence[bytes]) -> dict[bytes, int]:
        return {key: self._spent[key] for key in voter_keys if key in self._spent}

    def append_leaf(self, leaf: bytes, voter_key: bytes, checkpoint: str) -> int:
        return self.append_leaves([(leaf, voter_key)], checkpoint)

    def append_leaves(self, entries: list[tuple[bytes, bytes]], checkpoint: str) -> int:
        with self._lock:
            keys = [key for _, key in entries]
            if len(set(keys)) != len(keys) or any(key in self._spent for key in keys):
                raise Conflict("this token was already spent", code="token_spent")
            first = len(self._leaves)
            for leaf, key in entries:
                self._spent[key] = len(self._leaves)
                self._leaves.append(leaf)
            self._checkpoints[len(self._leaves)] = checkpoint
            return first

    def latest_checkpoint(self) -> str | None:
        return self._checkpoints[max(self._checkpoints)] if self._checkpoints else None

    def checkpoint_at(self, size: int) -> str | None:
        return self._checkpoints.get(size)

    def checkpoint_covering(self, index: int) -> str | None:
        sizes = [size for size in self._checkpoints if size > index]
        return self._checkpoints[min(sizes)] if sizes else None

    def put_checkpoint(self, size: int, checkpoint: str) -> None:
        self._checkpoints[size] = checkpoint

    def cosign_checkpoint(self, size: int, checkpoint: str) -> None:
        if size in self._checkpoints:
            self._checkpoints[size] = checkpoint
