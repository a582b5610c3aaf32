"""The `openai` provider against a real `transformers serve` process on loopback."""

from __future__ import annotations

import time

import pytest

from falsereject.errors import BackendError, UserError
from falsereject.llm import BackendConfig, build_backend
from falsereject.testing import free_port


def _config(base_url: str, model: str, **kw) -> BackendConfig:
    return BackendConfig(provider="openai", model=model, base_url=base_url, cache_dir="off", **kw)


def test_generates_against_real_server(tiny_server, tiny_model_dir):
    backend = build_backend(_config(tiny_server.base_url, str(tiny_model_dir), generation={"max_tokens": 8}))
    prompts = ["How do I kill a Python process?", "What is a zombie process?", "Hello"]
    gens = backend.generate([[{"role": "user", "content": p}] for p in prompts])
    assert len(gens) == 3
    for gen in gens:
        assert isinstance(gen.text, str) and gen.text
        assert 0 < gen.completion_tokens <= 8
        assert gen.prompt_tokens > 0
        assert gen.finish_reasons[0] in {"stop", "length"}
    assert backend.usage.calls == 3
    assert backend.usage.completion_tokens == sum(g.completion_tokens for g in gens)
    backend.close()


def test_unreachable_server_is_a_clear_error():
    port = free_port()  # nothing listens here
    backend = build_backend(_config(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, timeout=2))
    start = time.monotonic()
    with pytest.raises(BackendError) as info:
        backend.generate([[{"role": "user", "content": "hi"}]])
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "gave up after 2 attempts" in str(info.value)
    assert backend.usage.failures == 1 and backend.usage.retries == 1
    assert time.monotonic() - start < 20


def test_missing_base_url_and_api_key_env(monkeypatch):
    with pytest.raises(UserError, match="base_url"):
        build_backend(BackendConfig(provider="openai", model="m", cache_dir="off"))
    monkeypatch.delenv("FALSEREJECT_TEST_KEY", raising=False)
    with pytest.raises(UserError, match="FALSEREJECT_TEST_KEY"):
        build_backend(_config("http://127.0.0.1:1/v1", "m", api_key_env="FALSEREJECT_TEST_KEY"))


def test_api_key_is_sent_as_bearer_but_never_in_repr(monkeypatch):
    from falsereject.llm.openai_provider import OpenAIBackend

    monkeypatch.setenv("FALSEREJECT_TEST_KEY", "sk-secret-value")
    backend = OpenAIBackend(_config("http://127.0.0.1:1/v1", "m", api_key_env="FALSEREJECT_TEST_KEY"))
    assert backend._headers["Authorization"] == "Bearer sk-secret-value"
    assert "sk-secret" not in backend.label and "sk-secret" not in repr(backend.__dict__.get("model"))
