"""Micro-batching: concurrent single requests in, batches out (the local providers' queue).

A provider with a batched call (``model.generate`` on a padded batch, vLLM's ``LLM.chat`` on a
list) but callers that send one request at a time (``agenerate``, ``astream``) puts each
request into a :class:`MicroBatcher` and awaits its future. A worker task on the caller's event
loop then, over and over:

1. waits :data:`WAIT_S` (10 ms) for concurrent callers to join, unless a full batch
   (``max_batch`` requests) is already waiting;
2. cuts a batch: the oldest request and the next ones with the same **batching key**, up to
   ``max_batch`` (``None``: no limit). The key is :func:`batch_key`: the request's generation
   params as sorted JSON, so only requests with identical params share a batch;
3. runs ``run_batch(items, params)`` in a worker thread (the event loop stays free to queue
   the next batch) and hands each caller its result, or the batch's exception.

Requests whose caller has gone (a cancelled future) are left out of the batch. Each event loop
gets its own queue and worker (``generate()`` runs a fresh loop per call; the Space and a
thread with ``run_sync`` may run two at once), so a future is only ever resolved on its own
loop.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: seconds the worker waits for concurrent callers before it cuts a batch: long enough for
#: callers started together (``asyncio.gather``, the Space's two columns) to arrive, short
#: next to generating even one token of a batch
WAIT_S = 0.01


def batch_key(params: dict[str, Any]) -> str:
    """The batching key: requests share a batch only when this is equal (identical params)."""
    return json.dumps(params, sort_keys=True, default=str)


@dataclass(eq=False)
class _Pending(Generic[Item]):
    item: Item
    params: dict[str, Any]
    key: str
    future: asyncio.Future = field(repr=False)


@dataclass(eq=False)
class _Lane:
    """One event loop's queue and its worker task."""

    pending: list[_Pending] = field(default_factory=list)
    worker: asyncio.Task | None = None


class MicroBatcher(Generic[Item, Result]):
    """Collects requests for up to :data:`WAIT_S` or ``max_batch`` items and runs them in batches.

    ``run_batch(items, params)`` (called in a worker thread) gets the items of one batch and
    the params they share, and returns one result per item, in order.
    """

    def __init__(
        self,
        run_batch: Callable[[list[Item], dict[str, Any]], Sequence[Result]],
        *,
        max_batch: int | None,
        wait_s: float = WAIT_S,
    ):
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lane] = weakref.WeakKeyDictionary()

    def submit(self, item: Item, params: dict[str, Any]) -> asyncio.Future[Result]:
        """Queue ``item`` (run with ``params``); the future resolves when its batch has run.

        Cancel the future to withdraw the request (a caller that is no longer waiting).
        """
        loop = asyncio.get_running_loop()
        lane = self._lanes.get(loop)
        if lane is None:
            lane = self._lanes[loop] = _Lane()
        future = loop.create_future()
        lane.pending.append(_Pending(item, params, batch_key(params), future))
        if lane.worker is None or lane.worker.done():
            lane.worker = loop.create_task(self._drain(lane))
        return future

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.pending:
                if self.max_batch is None or len(lane.pending) < self.max_batch:
                    await asyncio.sleep(self.wait_s)  # let concurrent callers join the batch
                batch = self._cut(lane)
                if batch:
                    await self._run(batch)
        finally:
            lane.worker = None  # a finished task keeps its loop alive, and so this lane

    def _cut(self, lane: _Lane) -> list[_Pending]:
        key = lane.pending[0].key
        batch = [p for p in lane.pending if p.key == key][: self.max_batch]
        taken = set(map(id, batch))
        lane.pending = [p for p in lane.pending if id(p) not in taken]
        return [p for p in batch if not p.future.done()]  # cancelled callers

    async def _run(self, batch: list[_Pending]) -> None:
        try:
            results = await asyncio.to_thread(self.run_batch, [p.item for p in batch], batch[0].params)
        except Exception as exc:  # noqa: BLE001 - handed to every waiter
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        for p, result in zip(batch, results, strict=True):
            if not p.future.done():
                p.future.set_result(result)
