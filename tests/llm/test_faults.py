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
    upstream = tiny_server.base_url.removesuffix("/v1")
    plan = ["429", "500", "cut", "slow", "500", "429"]
    with FaultProxy(upstream, plan, retry_after=0.2, slow_seconds=3) as proxy:
        backend = _backend(proxy, str(tiny_model_dir), timeout=1.5, max_retries=6, max_concurrency=2)
        gens = backend.generate([[{"role": "user", "content": f"question {i}"}] for i in range(6)])
        backend.close()
    assert len(gens) == 6 and all(g.text for g in gens)
    assert backend.usage.retries == len(plan)
    assert backend.usage.failures == 0
    assert backend.usage.calls == 6 + len(plan)


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
