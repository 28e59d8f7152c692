"""The server's write paths: work in groups, group commit, blind signing in processes.

A cast's leaf is checked (parse, token, voter signature) and then committed, each stage in
groups (:class:`Groups`): whatever queued up while the previous group was being handled
goes in the next one, so one thread hop and, for commits, one transaction and one fsync
serve many requests. Every answer is given only after the commit that holds it returned:
the store made it durable together with the checkpoint that covers it.

An issuance (:class:`Issuer`) is checked, blind-signed and committed the same way. The RSA
signature (about 3 ms for a 3072-bit key, holding the GIL) runs in a small pool of worker
processes (:class:`BlindSigners`), so that issuance uses every core while the event loop
keeps answering. Requests for one invitation code run one after the other, so a code is
signed for at most once even when a client sends its request many times at once.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Generic, TypeVar

from anonballot.codes import code_hash
from anonballot.engine import IssueRequest, Round
from anonballot.errors import AnonBallotError
from anonballot.leaf import Leaf
from anonballot.receipt import Receipt
from anonballot.tokens import IssuerKey

__all__ = [
    "SIGNING_PROCESSES_ENV",
    "BlindSigners",
    "CastBatcher",
    "Groups",
    "Issuer",
    "default_signers",
    "stop_signers_at_shutdown",
]

T = TypeVar("T")
R = TypeVar("R")

Answers = list[R | AnonBallotError]
"""One answer per item of a group: its result, or the error that refused only that item."""


class Groups(Generic[T, R]):
    """Queues items and hands them to ``run`` in groups, on up to ``lanes`` groups at once.

    ``run`` answers each item of a group; if it raises (a store that failed: nothing of the
    group is on disk), every request of the group gets the exception. A free lane takes an
    even share of the queue (at most ``max_batch`` items), so a second lane starts on half
    of what waits rather than on one item.
    """

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[Answers[R]]],
        *,
        max_batch: int = 256,
        lanes: int = 1,
    ) -> None:
        self.run = run
        self.max_batch = max_batch
        self.lanes = max(1, lanes)
        self._queue: list[tuple[T, asyncio.Future[R | AnonBallotError]]] = []
        self._drainers: list[asyncio.Task[None]] = []

    @classmethod
    def in_thread(
        cls, run: Callable[[Sequence[T]], Answers[R]], *, max_batch: int = 256
    ) -> Groups[T, R]:
        """Groups handed to the blocking ``run`` in a thread, one group at a time."""

        async def threaded(items: list[T]) -> Answers[R]:
            return await asyncio.to_thread(run, items)

        return cls(threaded, max_batch=max_batch)

    async def submit(self, item: T) -> R:
        """Wait until ``item``'s group is handled; its result, or its refusal raised."""
        future: asyncio.Future[R | AnonBallotError] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        # A drainer that saw an empty queue has returned (done() is true at once, while its
        # done callbacks run only later): count the live ones, or the item could wait for
        # a drainer that has already gone.
        self._drainers = [task for task in self._drainers if not task.done()]
        if len(self._drainers) < self.lanes:
            self._drainers.append(asyncio.create_task(self._drain()))
        result = await future
        if isinstance(result, AnonBallotError):
            raise result
        return result

    async def _drain(self) -> None:
        while self._queue:
            size = min(self.max_batch, -(-len(self._queue) // self.lanes))
            batch, self._queue = self._queue[:size], self._queue[size:]
            try:
                answers = await self.run([item for item, _ in batch])
            except BaseException as exc:  # nobody in the batch is answered (or on disk)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)


def each(check: Callable[[T], R]) -> Callable[[Sequence[T]], Answers[R]]:
    """``check`` applied to each item of a group; a refusal answers only its own item."""

    def run(items: Sequence[T]) -> Answers[R]:
        out: Answers[R] = []
        for item in items:
            try:
                out.append(check(item))
            except AnonBallotError as exc:
                out.append(exc)
        return out

    return run


class CastBatcher:
    """The casts of one round: leaves checked in groups, then committed in groups.

    Both stages run in threads, one hop per group rather than per request (what a request
    costs the event loop matters at a thousand casts a second), and concurrently: one
    group is checked while the one before it is being committed.
    """

    def __init__(self, engine: Round, *, max_batch: int = 256) -> None:
        self.engine = engine
        self._checks: Groups[bytes, Leaf] = Groups.in_thread(
            each(engine.check_leaf), max_batch=max_batch
        )
        self._commits: Groups[Leaf, Receipt] = Groups.in_thread(engine.commit, max_batch=max_batch)

    async def cast(self, leaf: bytes) -> Receipt:
        """Check ``leaf`` and wait until it is durably on the board; its receipt, or the
        refusal raised."""
        return await self._commits.submit(await self._checks.submit(leaf))

    async def submit(self, leaf: Leaf) -> Receipt:
        """Commit a leaf checked already (:meth:`Round.check_leaf`)."""
        return await self._commits.submit(leaf)


# -- blind signing in worker processes -------------------------------------------------------

SIGNING_PROCESSES_ENV = "ANONBALLOT_SIGNING_PROCESSES"
"""How many worker processes sign token requests; ``0`` signs in threads of the server
process. The default is one per core on a machine with more than one core."""

SIGNING_CHUNK = 8
"""Most token requests sent to a worker at once (about 25 ms of work at 3072 bits): fewer
round trips to the workers, while a chunk still finishes soon after its first request."""

_worker_keys: dict[str, IssuerKey] = {}


def _watch_parent(parent: int) -> None:
    """Exit when the server process is gone (a worker outlives a ``kill -9`` otherwise)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _init_worker(parent: int) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _sign_many(pems: dict[str, bytes], items: list[tuple[str, bytes]]) -> Answers[bytes]:
    """In a worker: ``BlindSign`` of each (key id, blinded); keys are loaded once per worker."""
    out: Answers[bytes] = []
    for key_id, blinded in items:
        key = _worker_keys.get(key_id)
        if key is None:
            # the server's own key, every signature verified by sign_blinded (check=False)
            key = _worker_keys[key_id] = IssuerKey.from_pem(pems[key_id], check=False)
        try:
            out.append(key.sign_blinded(blinded))
        except AnonBallotError as exc:
            out.append(exc)
    return out


def _sign_one(item: tuple[IssuerKey, bytes]) -> bytes:
    key, blinded = item
    return key.sign_blinded(blinded)


def _sign_here(items: Sequence[tuple[IssuerKey, bytes]]) -> Answers[bytes]:
    return each(_sign_one)(items)


class BlindSigners:
    """RFC 9474 ``BlindSign`` in a pool of ``processes`` worker processes (or in threads).

    The workers are started on first use; each request carries the issuer keys it needs
    (a worker loads each key once). A pool whose worker died is replaced by a new one.
    """

    def __init__(self, processes: int | None = None) -> None:
        if processes is None:
            configured = os.environ.get(SIGNING_PROCESSES_ENV, "").strip()
            cores = os.cpu_count() or 1
            processes = int(configured) if configured else (cores if cores > 1 else 0)
        self.processes = max(0, processes)
        self._pool: cf.ProcessPoolExecutor | None = None
        self._pems: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._atexit = False

    def _executor(self) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = cf.ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(os.getpid(),),
                )
                if not self._atexit:  # stop the workers in order when the server stops
                    atexit.register(self.shutdown)
                    self._atexit = True
            return self._pool

    def _pem(self, key: IssuerKey) -> tuple[str, bytes]:
        key_id = key.key_id
        pem = self._pems.get(key_id)
        if pem is None:
            pem = self._pems[key_id] = key.to_pem()
        return key_id, pem

    async def sign_many(self, items: list[tuple[IssuerKey, bytes]]) -> Answers[bytes]:
        """The blind signature of each (issuer key, blinded message), or its refusal."""
        if not self.processes:
            return await asyncio.to_thread(_sign_here, items)
        pems: dict[str, bytes] = {}
        payload = []
        for key, blinded in items:
            key_id, pem = self._pem(key)
            pems[key_id] = pem
            payload.append((key_id, blinded))
        pool = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _sign_many, pems, payload)
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(_sign_here, items)

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_default_signers: BlindSigners | None = None


def default_signers() -> BlindSigners:
    """The process's one :class:`BlindSigners` (shared by every app of the process)."""
    global _default_signers
    if _default_signers is None:
        _default_signers = BlindSigners()
    return _default_signers


@contextlib.asynccontextmanager
async def stop_signers_at_shutdown(app: object) -> AsyncIterator[None]:
    """A Starlette lifespan: the blind-signing worker processes stop with the server."""
    try:
        yield
    finally:
        if _default_signers is not None:
            await asyncio.to_thread(_default_signers.shutdown)


class Issuer:
    """Token issuance for one round: checks, blind signatures and commits, each in groups."""

    def __init__(
        self, engine: Round, signers: BlindSigners | None = None, *, max_batch: int = 256
    ) -> None:
        self.engine = engine
        self.signers = signers or default_signers()
        self._checks: Groups[tuple[str, bytes], IssueRequest | bytes] = Groups.in_thread(
            each(lambda request: engine.check_issue(*request)), max_batch=max_batch
        )
        self._signatures: Groups[tuple[IssuerKey, bytes], bytes] = Groups(
            self.signers.sign_many, max_batch=SIGNING_CHUNK, lanes=self.signers.processes
        )
        self._commits: Groups[tuple[IssueRequest, bytes], bytes] = Groups.in_thread(
            engine.commit_issuances, max_batch=max_batch
        )
        self._inflight: dict[bytes, asyncio.Event] = {}

    async def issue(self, code: str, blinded: bytes) -> bytes:
        """The blind signature for ``code``'s request ``blinded``, once it is on disk.

        The same request again gets the same answer, another one for the same code
        :class:`~anonballot.errors.Conflict` (``code_used``).
        """
        try:
            key = code_hash(code)
        except AnonBallotError:  # refused by the checks, with the state checked first
            return await self._issue(code, blinded)
        while (pending := self._inflight.get(key)) is not None:
            await pending.wait()
        done = self._inflight[key] = asyncio.Event()
        try:
            return await self._issue(code, blinded)
        finally:
            del self._inflight[key]
            done.set()

    async def _issue(self, code: str, blinded: bytes) -> bytes:
        checked = await self._checks.submit((code, blinded))
        if isinstance(checked, bytes):
            return checked
        issuer = self.engine.issuer_key(checked.ward)
        blind_sig = await self._signatures.submit((issuer, blinded))
        return await self._commits.submit((checked, blind_sig))
