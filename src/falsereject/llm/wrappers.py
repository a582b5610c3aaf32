"""Wrappers that work around any provider: retries, a concurrency bound and a response cache.

They are Backends themselves, built on :class:`BackendWrapper`, and share the wrapped
provider's :class:`UsageCounters`, so ``backend.usage`` on the outermost wrapper counts calls,
cache hits, tokens, retries and failures of the whole stack. A :class:`ConcurrencyLimit` may
be shared by several :class:`LimitedBackend` s: one bound over many backends (the builder's
global bound across its roles), with the accounting of how busy it was kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from falsereject.errors import BackendError, TransientError
from falsereject.llm.base import Backend, Generation, Messages, RetryEvent, RetryListener, UsageCounters


class BackendWrapper(Backend):
    """A Backend around another (``inner``); subclasses override what they change.

    Everything else passes through: ``label``, ``provider``, ``model`` and ``max_concurrency``,
    the :class:`UsageCounters` (shared with ``inner`` unless ``usage`` is given), retry
    listeners, ``agenerate``, ``astream`` and ``aclose``.
    """

    def __init__(self, inner: Backend, *, usage: UsageCounters | None = None):
        super().__init__(
            inner.model, max_concurrency=inner.max_concurrency, usage=inner.usage if usage is None else usage
        )
        self.inner = inner
        self.provider = inner.provider

    @property
    def label(self) -> str:
        return self.inner.label

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        return await self.inner.agenerate(messages, **params)

    async def astream(self, messages: Messages, **params: Any) -> AsyncIterator[str]:
        async for piece in self.inner.astream(messages, **params):
            yield piece

    def add_retry_listener(self, listener: RetryListener) -> None:
        self.inner.add_retry_listener(listener)

    def remove_retry_listener(self, listener: RetryListener) -> None:
        self.inner.remove_retry_listener(listener)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _WaitRetryAfter:
    """tenacity wait: the server's Retry-After when given, else exponential backoff + jitter."""

    def __init__(self, initial: float, maximum: float):
        self.fallback = wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)
        self.maximum = maximum

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return min(float(hint), self.maximum)
        return self.fallback(retry_state)


class RetryingBackend(BackendWrapper):
    """Retries :class:`TransientError` with backoff; gives up with a :class:`BackendError`.

    Each retry adds 1 to ``usage.retries`` and is announced to the listeners added with
    :meth:`add_retry_listener` (a :class:`RetryEvent`: which attempt failed, why, and how long
    until the next), so a long wait on a struggling server is visible while it happens.

    The first attempt is a plain call: tenacity's machinery only starts once something
    failed (it was half the CPU of a 200k-call build when run on every call).
    """

    def __init__(
        self, inner: Backend, *, max_retries: int = 5, initial_wait: float = 0.5, max_wait: float = 30.0
    ):
        super().__init__(inner)
        self.max_retries = max_retries
        self.initial_wait = initial_wait
        # the retry loop starts at the 2nd attempt, so its backoff starts one step up
        self.wait = _WaitRetryAfter(2 * initial_wait, max_wait)
        self.max_wait = max_wait
        self._listeners: list[RetryListener] = []

    #: a stream is answered whole, through agenerate, so that a failed attempt is retried
    astream = Backend.astream

    def add_retry_listener(self, listener: RetryListener) -> None:
        self._listeners.append(listener)

    def remove_retry_listener(self, listener: RetryListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _count_retry(self, attempt: int, error: BaseException | None, wait: float) -> None:
        self.usage.retries += 1
        if self._listeners:
            event = RetryEvent(
                backend=self.inner.label,
                attempt=attempt,
                max_attempts=self.max_retries + 1,
                wait=float(wait),
                error=str(error),
            )
            for listener in list(self._listeners):
                listener(event)

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        self.usage.calls += 1
        try:
            gen = await self.inner.agenerate(messages, **params)
        except TransientError as exc:
            gen = await self._retry(messages, params, exc)
        except BackendError:
            self.usage.failures += 1
            raise
        self.usage.add(gen)
        return gen

    async def _retry(self, messages: Messages, params: dict[str, Any], first: TransientError) -> Generation:
        def count_retry(state) -> None:
            # attempt_number counts the loop's attempts, which start at the 2nd one
            error = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            self._count_retry(state.attempt_number + 1, error, wait)

        try:
            if self.max_retries < 1:
                raise first
            hint = first.retry_after
            delay = min(
                hint if hint is not None else self.initial_wait * (1 + random.random()), self.max_wait
            )
            self._count_retry(1, first, delay)
            await asyncio.sleep(delay)
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(TransientError),
                stop=stop_after_attempt(self.max_retries),
                wait=self.wait,
                before_sleep=count_retry,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    self.usage.calls += 1
                    gen = await self.inner.agenerate(messages, **params)
            return gen
        except TransientError as exc:
            self.usage.failures += 1
            attempts = f"{self.max_retries + 1} attempt" + ("s" if self.max_retries else "")
            raise BackendError(f"{self.inner.label}: gave up after {attempts}: {exc}") from exc
        except BackendError:
            self.usage.failures += 1
            raise


class ConcurrencyLimit:
    """At most ``limit`` calls in flight across every holder of a :meth:`slot`.

    It also keeps the accounting of how it was used: ``calls`` (slots taken), ``in_flight``,
    ``peak`` (most in flight at once) and ``busy_s`` (the sum over calls of the time they
    held a slot: ``busy_s / wall time`` is the achieved concurrency).
    """

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.calls = 0
        self.in_flight = 0
        self.peak = 0
        self.busy_s = 0.0

    def _semaphore(self) -> asyncio.Semaphore:
        # one semaphore for the running event loop (generate() runs a fresh loop each call)
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:
            self._sem, self._loop = asyncio.Semaphore(self.limit), loop
        return self._sem

    def slot(self) -> _Slot:
        """``async with limit.slot():`` holds one of the ``limit`` slots (waiting for one)."""
        return _Slot(self)


class _Slot:
    """One call's hold on a :class:`ConcurrencyLimit` (a plain class: it is on every call's path)."""

    __slots__ = ("limit", "sem", "start")

    def __init__(self, limit: ConcurrencyLimit):
        self.limit = limit

    async def __aenter__(self) -> None:
        self.sem = self.limit._semaphore()
        await self.sem.acquire()
        limit = self.limit
        limit.calls += 1
        limit.in_flight += 1
        limit.peak = max(limit.peak, limit.in_flight)
        self.start = time.perf_counter()

    async def __aexit__(self, *exc_info: object) -> None:
        self.limit.busy_s += time.perf_counter() - self.start
        self.limit.in_flight -= 1
        self.sem.release()


class LimitedBackend(BackendWrapper):
    """At most ``limit`` requests in flight, across every caller of this object.

    ``limit`` is a number, or a :class:`ConcurrencyLimit` shared with other LimitedBackends
    (one bound over all of them). A stream holds its slot until it ends.
    """

    def __init__(self, inner: Backend, limit: int | ConcurrencyLimit):
        super().__init__(inner)
        self.limit = limit if isinstance(limit, ConcurrencyLimit) else ConcurrencyLimit(limit)
        self.max_concurrency = self.limit.limit

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        async with self.limit.slot():
            return await self.inner.agenerate(messages, **params)

    async def astream(self, messages: Messages, **params: Any) -> AsyncIterator[str]:
        async with self.limit.slot():
            async for piece in self.inner.astream(messages, **params):
                yield piece


def cache_key(provider: str, model: str, messages: Messages, params: dict[str, Any]) -> str:
    payload = json.dumps(
        {"provider": provider, "model": model, "messages": messages, "params": params},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CachedBackend(BackendWrapper):
    """Persistent SQLite response cache.

    Key = sha256 of (provider, model, messages, generation params, sample index). A sampled
    request (``temperature > 0``) is cached only when it names a ``seed`` or a
    ``sample_index``: otherwise two samples would collapse into one. ``sample_index`` is
    never sent to the provider. A stream is answered whole, from the cache or into it.
    """

    astream = Backend.astream

    def __init__(self, inner: Backend, path: str | Path, *, model_id: str | None = None):
        super().__init__(inner)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model_id = model_id or inner.model
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._db.commit()

    def _get(self, key: str) -> Generation | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return Generation.from_dict(json.loads(row[0]), cached=True) if row else None

    def _put(self, key: str, gen: Generation) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                (key, json.dumps(gen.to_dict(), ensure_ascii=False)),
            )
            self._db.commit()

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        sampled = float(params.get("temperature") or 0) > 0
        cacheable = not sampled or "seed" in params or "sample_index" in params
        key = cache_key(self.provider, self.model_id, messages, params) if cacheable else None
        if key is not None:
            hit = self._get(key)
            if hit is not None:
                self.usage.cache_hits += 1
                return hit
        send = {k: v for k, v in params.items() if k != "sample_index"}
        gen = await self.inner.agenerate(messages, **send)
        if key is not None:
            self._put(key, gen)
        return gen

    async def aclose(self) -> None:
        await super().aclose()
        with self._lock:
            self._db.close()
