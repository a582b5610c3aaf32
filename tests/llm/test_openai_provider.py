"""The `openai` provider against a real `transformers serve` process on loopback."""

from __future__ import annotations

import time

import pytest
from fault_proxy import FaultProxy

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


# --- timeouts and addresses no retry can fix --------------------------------------------------

_NO_UPSTREAM = "http://127.0.0.1:9"  # the fault actions used below never forward


@pytest.mark.timeout(30)
def test_server_that_accepts_and_never_answers_fails_fast():
    events = []
    with FaultProxy(_NO_UPSTREAM, ["hang"] * 10) as proxy:
        backend = build_backend(_config(proxy.base_url + "/v1", "m", timeout=0.5, max_retries=1))
        backend.add_retry_listener(events.append)
        start = time.monotonic()
        with pytest.raises(BackendError) as info:
            backend.generate([[{"role": "user", "content": "hi"}]])
        elapsed = time.monotonic() - start
        backend.close()
    message = str(info.value)
    assert elapsed < 5, f"a silent server held the call {elapsed:.1f} s with timeout=0.5"
    assert proxy.base_url in message and "no complete reply within 0.5 s" in message
    assert "--timeout" in message and "gave up after 2 attempts" in message
    assert proxy.seen == ["hang", "hang"]
    assert backend.usage.retries == 1 and backend.usage.failures == 1
    assert [(e.attempt, e.max_attempts) for e in events] == [(1, 2)]
    assert "no complete reply" in events[0].error and proxy.base_url in str(events[0])


@pytest.mark.timeout(30)
def test_timeout_bounds_the_whole_reply_not_each_read():
    """A server that trickles a byte every 0.1 s never trips a per-read timeout."""
    with FaultProxy(_NO_UPSTREAM, ["trickle"], slow_seconds=8, trickle_interval=0.1) as proxy:
        backend = build_backend(_config(proxy.base_url + "/v1", "m", timeout=0.6, max_retries=0))
        start = time.monotonic()
        with pytest.raises(BackendError, match=r"no complete reply within 0\.6 s"):
            backend.generate([[{"role": "user", "content": "hi"}]])
        elapsed = time.monotonic() - start
        backend.close()
    assert elapsed < 4, f"a trickling server held the call {elapsed:.1f} s with timeout=0.6"


def _unaccepting_port(stack: list) -> int:
    """A loopback port whose accept queue is full: new connections hang in the handshake."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    stack.append(server)
    port = server.getsockname()[1]
    for _ in range(8):
        client = socket.socket()
        client.settimeout(0.3)
        stack.append(client)
        try:
            client.connect(("127.0.0.1", port))
        except OSError:
            return port
    pytest.skip("this OS accepts past a full listen backlog: no way to stall a connect here")


@pytest.mark.timeout(30)
def test_connect_timeout_is_separate_and_short():
    sockets: list = []
    try:
        port = _unaccepting_port(sockets)
        backend = build_backend(
            _config(f"http://127.0.0.1:{port}/v1", "m", connect_timeout=0.3, timeout=20, max_retries=0)
        )
        start = time.monotonic()
        with pytest.raises(BackendError, match=r"no connection within 0\.3 s") as info:
            backend.generate([[{"role": "user", "content": "hi"}]])
        assert time.monotonic() - start < 5
        assert f"127.0.0.1:{port}" in str(info.value)
        backend.close()
    finally:
        for s in sockets:
            s.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "not a valid URL"),
        ("http://127.0.0.1:99999/v1", "Port out of range"),
        ("not a url", "not an http(s) URL"),
        ("ftp://127.0.0.1/v1", "must be http or https"),
        ("localhost:8000/v1", "did you mean http://localhost:8000/v1"),
        ("http:///v1", "names no host"),
        ("http://127.0.0.1:0/v1", "port 0"),
        ("http://[::1]x/v1", "Invalid port"),
        ("http://xn--/v1", "not a valid URL"),
        ("http://host\x7f/v1", "non-printable"),
    ],
)
def test_bad_base_url_fails_at_once_naming_the_field(url, problem):
    start = time.monotonic()
    with pytest.raises(UserError) as info:
        build_backend(_config(url, "m"))
    message = str(info.value)
    assert message.startswith("base_url: ")
    assert problem in message and repr(url) in message
    assert time.monotonic() - start < 1


def test_base_url_changed_after_the_config_was_built_is_still_checked():
    config = _config("http://127.0.0.1:8000/v1", "m")
    config.base_url = "not a url"
    with pytest.raises(UserError, match=r"base_url: 'not a url' is not an http\(s\) URL"):
        build_backend(config)
