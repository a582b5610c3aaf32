"""The wrappers around every provider: retries are counted and shown as they happen."""

from __future__ import annotations

from typing import Any

import pytest

from falsereject.errors import BackendError, TransientError
from falsereject.llm import BackendConfig, RetryEvent, build_backend
from falsereject.llm.base import Backend, Generation, Messages


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
