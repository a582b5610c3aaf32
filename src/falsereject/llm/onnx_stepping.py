"""Stepping live ONNX Runtime GenAI generators in turn: the ``onnx`` provider's scheduler.

Each request is one conversation in its own generator (no padded batches, see
:mod:`~falsereject.llm.onnx_provider`). Worker threads take requests from one queue and step
their live generators in turn, a token each, calling the request's ``on_token`` with every new
token and ``on_end`` once with a finish reason (``stop``, ``length``, ``cancelled``) or the
error. Both callbacks run in the worker thread.

Threads (:func:`threads_and_workers`): by default one worker on the runtime's own thread pool
(all cores); ``FALSEREJECT_ONNX_THREADS=T`` runs generators on T threads and ``cores // T``
workers side by side.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from falsereject.errors import UserError

#: seconds a worker thread waits for a new request before it ends (they restart on demand)
IDLE_S = 1.0
#: the environment variable setting the threads one generator runs on (``0``: the runtime's
#: own pool over all cores, one worker: the default, see :func:`threads_and_workers`)
THREADS_ENV = "FALSEREJECT_ONNX_THREADS"
DEFAULT_THREADS = 0


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_and_workers(max_active: int) -> tuple[int, int]:
    """(threads per generator, 0 = the runtime's default; workers stepping generators at once).

    Unset: one worker on the runtime's thread pool (all cores). Measured on the idle 2-core
    machine (``benchmarks/bench_backends.py --parts embedded --runtimes onnx:int4,onnx:int4@1``):
    one worker on the runtime's pool 24.3 tokens/s for one stream and 18.1 for 8 at once; two
    workers on one thread each 25.3 and 19.3, the same within this machine's noise. Steps of
    two workers do not add up (ONNX Runtime GenAI 0.18's Python binding appears to hold the
    GIL while it steps), so the default is the simpler one worker. (On a machine shared with
    other jobs, one thread per generator was faster: set ``FALSEREJECT_ONNX_THREADS=1``.)
    """
    raw = os.environ.get(THREADS_ENV, "").strip()
    try:
        threads = int(raw) if raw else DEFAULT_THREADS
    except ValueError:
        threads = -1
    if threads < 0:
        raise UserError(f"{THREADS_ENV}={raw!r}: expected a whole number of threads >= 0 (0 = all cores)")
    return threads, max(1, min(cores() // threads, max_active)) if threads else 1


class Startable(Protocol):
    """What the stepper needs from a model: its eos ids and a way to start a generator."""

    eos_ids: frozenset[int]

    def load(self) -> Startable: ...

    def start(self, request: Request) -> Any: ...


@dataclass(eq=False)
class Request:
    """One sequence to generate; ``on_token``/``on_end`` run in the worker thread."""

    prompt: list[int]
    params: dict[str, Any]
    seed: int | None
    on_token: Callable[[int], bool]  # False: stop this sequence now
    on_end: Callable[[str | BaseException], None]  # a finish reason, or the error
    cancelled: threading.Event = field(default_factory=threading.Event)
    generator: Any = None
    produced: int = 0


class Stepper:
    """Worker threads that step live generators in turn, one token each.

    ``workers`` threads share one queue and keep at most ``max_active`` generators live among
    them; a worker takes a new request only while it has no more live than the least busy
    other worker, so two requests go to two workers (two cores), not one after the other.
    """

    def __init__(self, model: Startable, max_active: int, workers: int = 1):
        self.model = model
        self.max_active = max_active
        self.workers = max(1, workers)
        self._queue: queue.Queue[Request] = queue.Queue()
        self._lock = threading.Lock()
        self._live: dict[int, int] = {}  # worker number -> its live generators
        self._numbers = itertools.count()

    def submit(self, request: Request) -> None:
        with self._lock:
            start = len(self._live) < self.workers
            if start:  # counted before the request is visible, so that it spreads to this worker
                number = next(self._numbers)
                self._live[number] = 0
            self._queue.put(request)
            if start:
                threading.Thread(
                    target=self._run, args=(number,), name=f"onnx-generate-{number}", daemon=True
                ).start()

    def _may_take(self, me: int, live: int) -> bool:
        if sum(self._live.values()) >= self.max_active:
            return False
        others = [n for k, n in list(self._live.items()) if k != me]
        return not others or live <= min(others)

    def _run(self, me: int) -> None:
        active: list[Request] = []
        while True:
            while self._may_take(me, len(active)):
                try:
                    request = self._queue.get(timeout=IDLE_S) if not active else self._queue.get_nowait()
                except queue.Empty:
                    break
                if self._begin(request):
                    active.append(request)
                    self._live[me] = len(active)
            if not active:
                with self._lock:
                    if self._queue.empty():
                        del self._live[me]
                        return
                if not self._may_take(me, 0):
                    time.sleep(0.005)  # everything is taken by the other workers
                continue
            active = [r for r in active if self._step(r)]
            self._live[me] = len(active)

    def _begin(self, request: Request) -> bool:
        if request.cancelled.is_set():
            return self._end(request, "cancelled")
        try:
            request.generator = self.model.load().start(request)
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            return self._end(request, exc)
        return True

    def _step(self, r: Request) -> bool:
        """Generate one token of ``r``; False when ``r`` has ended."""
        if r.cancelled.is_set():
            return self._end(r, "cancelled")
        try:
            r.generator.generate_next_token()
            token = int(r.generator.get_next_tokens()[0])
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            return self._end(r, exc)
        if token in self.model.eos_ids:
            return self._end(r, "stop")
        r.produced += 1
        try:
            keep = r.on_token(token)
        except Exception as exc:  # noqa: BLE001 - a caller's callback must not stop the worker
            return self._end(r, exc)
        if not keep:
            return self._end(r, "stop")
        if r.generator.is_done():
            return self._end(r, "length")
        return True

    @staticmethod
    def _end(r: Request, outcome: str | BaseException) -> bool:
        r.generator = None  # frees its KV cache now
        with contextlib.suppress(RuntimeError):  # the caller's event loop has closed: nobody waits
            r.on_end(outcome)
        return False
