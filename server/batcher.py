"""Group commit for casts: several checked leaves per transaction and per checkpoint.

Each request checks its leaf on its own (parse, token, signature: the expensive part, run
concurrently) and then waits here. One writer at a time commits everything that queued up
while the previous commit was on disk, so one fsync serves many requests and the latency of
a cast stays about one commit.
"""

from __future__ import annotations

import asyncio

from anonballot.board import Receipt
from anonballot.engine import Round
from anonballot.errors import AnonBallotError
from anonballot.leaf import Leaf

__all__ = ["CastBatcher"]


class CastBatcher:
    """Queues checked leaves of one round and commits them in groups."""

    def __init__(self, engine: Round, *, max_batch: int = 256) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: list[tuple[Leaf, asyncio.Future[Receipt | AnonBallotError]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, leaf: Leaf) -> Receipt:
        """Wait until ``leaf`` is durably on the board; its receipt, or the refusal raised."""
        future: asyncio.Future[Receipt | AnonBallotError] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.append((leaf, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        result = await future
        if isinstance(result, AnonBallotError):
            raise result
        return result

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            leaves = [leaf for leaf, _ in batch]
            try:
                answers = await asyncio.to_thread(self.engine.commit, leaves)
            except BaseException as exc:  # the store failed: nobody in the batch is on disk
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
