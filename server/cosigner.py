"""Collecting the witnesses' cosignatures (protocol section 6.9): the log's side of
c2sp.org/tlog-witness.

A round whose manifest names witnesses (``M.witnesses``) has its newest checkpoint sent to
each of them with ``POST <url>/add-checkpoint`` and a consistency proof from the size that
witness last cosigned; the ``cosignature/v1`` lines they answer are checked and added to the
stored checkpoint (:meth:`~anonballot.engine.Round.add_cosignatures`), which is what
``/log/{round_id}/checkpoint``, the receipts given after it and the round record carry.

It runs in one thread of its own, off the cast path: a commit only calls :meth:`Cosigner.
notify` (a set and an event). A round is pushed at most every :attr:`Cosigner.INTERVAL`
seconds while casts arrive, so a busy board is cosigned every few seconds, not at every
group commit; a closed round at once (its final checkpoint is the one the record keeps), and
again after :attr:`Cosigner.RETRY` seconds, doubling up to :attr:`Cosigner.RETRY_MAX`, until
every witness has cosigned it. An unreachable witness delays its cosignature, never a cast.

A witness answers 409 with its own size when it holds another one than the server thought
(the server restarted, or another process pushed): the push is made again from that size. A
witness whose size is larger than the board's, or that refuses the consistency proof, saw a
different board: that is logged as an error (a split view, or a database restored from an
old copy) and the witness is left alone until the next start.

Several instances on one PostgreSQL database (``serve --database``) each run a cosigner. An
instance learns of the ballots the others append only from the database, so every
:attr:`INTERVAL` its cosigner looks whether an open round's newest checkpoint is one it has
not pushed, and pushes it: each instance serves a cosigned checkpoint within seconds, and
keeps the cosignatures in its own memory as one instance does (docs/threat-model.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg

from ..engine import Round
from ..witness import AddCheckpoint, PolicyWitness
from .errors import one_line
from .service import Service

__all__ = ["Cosigner"]

logger = logging.getLogger(__name__)

MAX_ANSWER = 16 * 1024
"""The most bytes of a witness's answer read: a few signature lines."""


@dataclass
class _Pending:
    due: float
    delay: float


class Cosigner:
    """Pushes the rounds' checkpoints to their witnesses from a thread of its own."""

    INTERVAL = 2.0
    """Least seconds between two pushes of one open round."""
    RETRY = 5.0
    """Seconds before a round whose witnesses did not all cosign is pushed again."""
    RETRY_MAX = 300.0
    """The longest wait between two tries (the delay doubles from :attr:`RETRY`)."""
    TIMEOUT = 10.0
    """Seconds a witness has to answer one request."""

    def __init__(
        self,
        service: Service,
        *,
        on_cosigned: Callable[[str], None] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.service = service
        self.on_cosigned = on_cosigned
        self._client = client
        self._sizes: dict[tuple[str, str], int] = {}  # (round, witness) -> its size
        self._refused: set[tuple[str, str]] = set()  # witnesses that saw another board
        self._pending: dict[str, _Pending] = {}
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._busy = False
        self._thread: threading.Thread | None = None
        self._pushed: dict[str, int] = {}  # round -> the size this instance last pushed
        self._swept = 0.0

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; every round that is not a draft is looked at once."""
        for round_id, state in self.service.round_ids():
            if state != "draft":
                self.notify(round_id, urgent=True)
        self._thread = threading.Thread(target=self._run, name="cosigner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.TIMEOUT + 5)
        if self._client is not None:
            self._client.close()

    def notify(self, round_id: str, *, urgent: bool = False) -> None:
        """The round's board or state changed: push its newest checkpoint soon (at once
        when ``urgent``, else no sooner than :attr:`INTERVAL` after the last push)."""
        now = time.monotonic()
        due = now if urgent else max(now, self._last.get(round_id, 0.0) + self.INTERVAL)
        with self._lock:
            pending = self._pending.get(round_id)
            if pending is None or due < pending.due:
                self._pending[round_id] = _Pending(due, self.RETRY)
        self._wake.set()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no push is due now or running (tests); False on timeout."""

        def idle() -> bool:
            now = time.monotonic()
            return not self._busy and all(p.due > now + 0.5 for p in self._pending.values())

        with self._idle:
            return self._idle.wait_for(idle, timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                now = time.monotonic()
                due = [r for r, p in self._pending.items() if p.due <= now]
                waits = [p.due - now for p in self._pending.values() if p.due > now]
                taken = {r: self._pending.pop(r) for r in due}
                self._busy = bool(taken)
            for round_id, pending in sorted(taken.items()):
                self._last[round_id] = time.monotonic()
                try:
                    done = self.push(round_id)
                except psycopg.OperationalError as exc:  # the database away: tried again
                    logger.warning("round %s's checkpoint: %s", round_id, one_line(exc))
                    done = False
                except Exception:  # never stops the server: tried again later
                    logger.exception("sending round %s's checkpoint to its witnesses", round_id)
                    done = False
                if not done:
                    with self._lock:
                        delay = min(pending.delay * 2, self.RETRY_MAX)
                        later = _Pending(time.monotonic() + pending.delay, delay)
                        current = self._pending.get(round_id)
                        if current is None or later.due < current.due:
                            self._pending[round_id] = later
            with self._idle:
                self._busy = False
                self._idle.notify_all()
            if self.service.shared and time.monotonic() - self._swept >= self.INTERVAL:
                self._sweep()
                continue
            if not taken:
                wait = min(waits, default=self.RETRY_MAX)
                self._wake.wait(min(wait, self.INTERVAL) if self.service.shared else wait)
                self._wake.clear()

    def _sweep(self) -> None:
        """Notify the open rounds whose newest checkpoint another instance signed."""
        self._swept = time.monotonic()
        try:
            for round_id, state in self.service.round_ids():
                if state != "open" or round_id in self._pending:
                    continue
                engine = self.service.round(round_id)
                if engine.manifest.witnesses is None:
                    continue
                if engine.published()[1] != self._pushed.get(round_id):
                    self.notify(round_id)
        except psycopg.OperationalError as exc:  # the database away: looked at next time
            logger.warning("looking for checkpoints other instances signed: %s", one_line(exc))

    # -- one push ------------------------------------------------------------------------

    def push(self, round_id: str) -> bool:
        """Send the round's newest checkpoint to every witness that has not cosigned it;
        True when nothing is left to do (every witness cosigned, or the round names none)."""
        engine = self.service.round(round_id)
        if engine.state == "draft":
            return True
        policy = engine.manifest.witnesses
        if policy is None:
            return True
        note, size = engine.published()
        self._pushed[round_id] = size
        have = {w.name for w in policy.cosigners(note)}
        lines = []
        for witness in policy.witnesses:
            if witness.name in have or (round_id, witness.name) in self._refused:
                continue
            line = self._push_one(engine, round_id, witness, note, size)
            if line is not None:
                lines.append(line)
        if lines:
            stored = engine.add_cosignatures(size, lines)
            have = {w.name for w in policy.cosigners(stored)}
            if self.on_cosigned is not None:
                self.on_cosigned(round_id)
        return all(w.name in have or (round_id, w.name) in self._refused for w in policy.witnesses)

    def _push_one(
        self, engine: Round, round_id: str, witness: PolicyWitness, note: str, size: int
    ) -> str | None:
        """One witness's cosignature line on ``note``, or None (logged)."""
        key = (round_id, witness.name)
        old = self._sizes.get(key, 0)
        for _ in range(3):  # a 409 gives the witness's size: then once more from it
            if old > size:
                self._refuse(key, f"it holds a board of {old} leaves, this one has {size}")
                return None
            proof = engine.consistency_proof(old, size) if 0 < old < size else []
            body = AddCheckpoint(old, tuple(proof), note).encode()
            try:
                status, text = self._post(witness.url + "/add-checkpoint", body)
            except httpx.HTTPError as exc:
                logger.warning(
                    "witness %s (%s) for round %s: %s", witness.name, witness.url, round_id, exc
                )
                return None
            if status == 200:
                self._sizes[key] = size
                return _line_of(text, witness)
            if status == 409 and text.strip().isdecimal() and len(text) < 30:
                theirs = int(text.strip())
                if theirs == old:  # it holds this size, with another root
                    self._refuse(key, f"it holds another board of {old} leaves")
                    return None
                old = self._sizes[key] = theirs
                continue
            if status == 422 or status == 409:
                self._refuse(key, f"it refused the consistency proof ({status}: {text[:200]})")
                return None
            logger.warning(
                "witness %s for round %s answered %s: %s",
                witness.name,
                round_id,
                status,
                text[:200],
            )
            return None
        return None

    def _refuse(self, key: tuple[str, str], why: str) -> None:
        self._refused.add(key)
        logger.error(
            "witness %s of round %s saw a different board: %s. Either the database was "
            "restored from an older copy, or someone showed the witness another board",
            key[1],
            key[0],
            why,
        )

    def _post(self, url: str, body: bytes) -> tuple[int, str]:
        if self._client is None:
            self._client = httpx.Client(timeout=self.TIMEOUT, follow_redirects=False)
        with self._client.stream("POST", url, content=body) as answer:
            data = b""
            for chunk in answer.iter_bytes():
                data += chunk
                if len(data) > MAX_ANSWER:
                    raise httpx.DecodingError(f"the answer is longer than {MAX_ANSWER} bytes")
            return answer.status_code, data.decode("utf-8", errors="replace")


def _line_of(text: str, witness: PolicyWitness) -> str | None:
    """The cosignature line of ``witness`` in an answer (other lines are left out); the
    engine checks it before storing it."""
    for line in text.split("\n"):
        if line.startswith(f"\u2014 {witness.name} "):
            return line + "\n"
    logger.warning("witness %s answered without its cosignature line", witness.name)
    return None
