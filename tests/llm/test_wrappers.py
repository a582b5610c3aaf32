"""The wrappers around every provider: retries shown as they happen, pass-through, a shared bound."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from falsereject.errors import BackendError, TransientError
from falsereject.llm import (
    BackendConfig,
    BackendWrapper,
    ConcurrencyLimit,
    LimitedBackend,
    RetryEvent,
    build_backend,
)
from falsereject.llm.base import Backend, Generation, Messages
from falsereject.llm.scripted import ScriptedBackend


class Flaky(Backend):
    """Fails the first ``failures`` calls with a retryable error, then answers."""

    provider = "flaky"

    def __init__(self, failures: int):
        super().__init__("flaky")
        self.failures = failures
        self.attempts = 0

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise TransientError(f"overloaded #{self.attempts}", retry_after=0.01)
        return Generation(texts=["ok"], finish_reasons=["stop"], model=self.model)


def _stack(failures: int, max_retries: int):
    config = BackendConfig(provider="scripted", cache_dir="off", max_retries=max_retries)
    return build_backend(config, provider=Flaky(failures))


def test_every_retry_is_announced_to_listeners_through_the_whole_stack():
    backend = _stack(failures=2, max_retries=5)
    events: list[RetryEvent] = []
    shown: list[int] = []
    backend.add_retry_listener(events.append)
    backend.add_retry_listener(lambda _e: shown.append(backend.usage.retries))
    (gen,) = backend.generate([[{"role": "user", "content": "hi"}]])
    assert gen.text == "ok"
    assert [(e.attempt, e.max_attempts) for e in events] == [(1, 6), (2, 6)]
    assert [e.error for e in events] == ["overloaded #1", "overloaded #2"]
    assert all(e.backend == "flaky:flaky" and 0 <= e.wait <= 0.05 for e in events)
    assert "attempt 1/6 failed (overloaded #1); retrying in 0.0 s" in str(events[0])
    assert shown == [1, 2], "the counter is already up to date when a listener runs"
    assert backend.usage.retries == 2 and backend.usage.failures == 0


def test_removed_listener_hears_nothing_and_giving_up_names_attempts():
    backend = _stack(failures=10, max_retries=1)
    events: list[RetryEvent] = []
    backend.add_retry_listener(events.append)
    backend.remove_retry_listener(events.append)
    backend.remove_retry_listener(events.append)  # twice is fine
    with pytest.raises(BackendError, match="gave up after 2 attempts: overloaded #2"):
        backend.generate([[{"role": "user", "content": "hi"}]])
    assert events == [] and backend.usage.retries == 1 and backend.usage.failures == 1


def test_no_retries_allowed_says_one_attempt():
    backend = _stack(failures=1, max_retries=0)
    with pytest.raises(BackendError, match="gave up after 1 attempt: overloaded #1"):
        backend.generate([[{"role": "user", "content": "hi"}]])
    assert backend.usage.retries == 0


class Streaming(Backend):
    """Streams its answer in three pieces; records whether it was closed."""

    provider = "streaming"

    def __init__(self):
        super().__init__("s")
        self.closed = False

    @property
    def label(self) -> str:
        return "streaming server (s)"

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        return Generation(texts=["one two three"], finish_reasons=["stop"], model=self.model)

    async def astream(self, messages: Messages, **params: Any):
        for piece in ("one", " two", " three"):
            yield piece

    async def aclose(self) -> None:
        self.closed = True


def test_a_wrapper_passes_through_what_it_does_not_override():
    inner = Streaming()
    wrapper = BackendWrapper(inner)

    async def run():
        pieces = [p async for p in wrapper.astream([{"role": "user", "content": "hi"}])]
        await wrapper.aclose()
        return pieces

    assert asyncio.run(run()) == ["one", " two", " three"] and inner.closed
    assert wrapper.label == "streaming server (s)" and wrapper.usage is inner.usage


def test_the_full_stack_answers_a_stream_whole_through_its_layers(tmp_path):
    """Defaults apply, and the cache answers the second stream (no native stream below it)."""
    inner = Streaming()
    backend = build_backend(BackendConfig(provider="scripted", cache_dir=str(tmp_path)), provider=inner)

    async def stream():
        return [p async for p in backend.astream([{"role": "user", "content": "hi"}])]

    assert [asyncio.run(stream()) for _ in range(2)] == [["one two three"]] * 2
    assert backend.usage.calls == 1 and backend.usage.cache_hits == 1


def test_one_limit_shared_by_several_backends_bounds_them_together():
    limit = ConcurrencyLimit(3)
    raws = [ScriptedBackend("x", latency=0.05) for _ in range(2)]
    backends = [LimitedBackend(raw, limit) for raw in raws]

    async def run():
        await asyncio.gather(
            *(b.agenerate([{"role": "user", "content": str(i)}]) for i in range(10) for b in backends)
        )

    start = time.perf_counter()
    asyncio.run(run())
    wall = time.perf_counter() - start
    assert limit.peak == 3 and limit.calls == 20 and limit.in_flight == 0
    assert sum(raw.max_in_flight for raw in raws) >= 3
    assert 20 * 0.05 <= limit.busy_s <= 3 * wall + 0.01  # busy time: 20 calls of 50 ms, 3 at a time
