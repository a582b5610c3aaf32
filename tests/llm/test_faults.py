"""Retries, Retry-After, timeouts and cut connections through a fault-injecting proxy."""

from __future__ import annotations

import time

import pytest
from fault_proxy import FaultProxy

from falsereject.errors import BackendError
from falsereject.llm import BackendConfig, build_backend


def _backend(proxy: FaultProxy, model: str, **kw):
    config = BackendConfig(
        provider="openai",
        model=model,
        base_url=proxy.base_url + "/v1",
        cache_dir="off",
        generation={"max_tokens": 4},
        **kw,
    )
    return build_backend(config)


def test_every_answer_comes_back_through_faults(tiny_server, tiny_model_dir):
    """Each fault costs one retry; the counters agree with what the server saw.

    The client timeout applies to every request, so a healthy answer from the real model
    that is slower than it (a loaded machine) is one more timeout and one more retry. The
    counts are therefore checked against the requests the proxy saw, not a fixed number:
    ``hang`` (unlike a late answer) does not load the model while others wait on it.
    """
    upstream = tiny_server.base_url.removesuffix("/v1")
    plan = ["429", "500", "cut", "hang", "500", "429"]
    events = []
    with FaultProxy(upstream, plan, retry_after=0.2) as proxy:
        backend = _backend(proxy, str(tiny_model_dir), timeout=3, max_retries=6, max_concurrency=2)
        backend.add_retry_listener(events.append)
        gens = backend.generate([[{"role": "user", "content": f"question {i}"}] for i in range(6)])
        backend.close()
    assert len(gens) == 6 and all(g.text for g in gens)
    assert proxy.seen[: len(plan)] == plan, "every fault was served"
    attempts = len(proxy.seen)
    assert attempts >= 6 + len(plan)
    assert backend.usage.calls == attempts
    assert backend.usage.retries == attempts - 6 == len(events), "one retry per failed attempt"
    assert backend.usage.failures == 0


def test_retry_after_is_honoured(tiny_server, tiny_model_dir):
    upstream = tiny_server.base_url.removesuffix("/v1")
    with FaultProxy(upstream, ["429", "429"], retry_after=1.0) as proxy:
        backend = _backend(proxy, str(tiny_model_dir), max_retries=3)
        start = time.monotonic()
        backend.generate([[{"role": "user", "content": "hi"}]])
        elapsed = time.monotonic() - start
        backend.close()
    assert elapsed >= 2.0, "two Retry-After: 1 answers must wait at least 2 s"
    assert backend.usage.retries == 2


def test_persistent_failure_ends_in_clear_error(tiny_server, tiny_model_dir):
    upstream = tiny_server.base_url.removesuffix("/v1")
    with FaultProxy(upstream, ["500"] * 10) as proxy:
        backend = _backend(proxy, str(tiny_model_dir), max_retries=2)
        with pytest.raises(BackendError) as info:
            backend.generate([[{"role": "user", "content": "hi"}]])
        backend.close()
    message = str(info.value)
    assert proxy.base_url in message and "HTTP 500" in message and "3 attempts" in message
    assert backend.usage.failures == 1


def test_client_errors_are_not_retried(tiny_server, tiny_model_dir):
    backend = build_backend(
        BackendConfig(
            provider="openai",
            model=str(tiny_model_dir),
            base_url=tiny_server.base_url + "/nope",
            cache_dir="off",
        )
    )
    with pytest.raises(BackendError, match="HTTP 404"):
        backend.generate([[{"role": "user", "content": "hi"}]])
    assert backend.usage.retries == 0
