"""The SQLite response cache and the concurrency bound, around a scripted provider."""

from __future__ import annotations

import asyncio

from falsereject.llm import BackendConfig, build_backend
from falsereject.llm.scripted import ScriptedBackend

MSGS = [[{"role": "user", "content": f"prompt {i}"}] for i in range(5)]


def _stack(tmp_path, raw=None, **kw):
    raw = raw or ScriptedBackend(lambda m, p: f"answer to {m[-1]['content']} t={p.get('temperature')}")
    return build_backend(BackendConfig(provider="scripted", cache_dir=str(tmp_path), **kw), provider=raw), raw


def test_second_identical_run_makes_no_backend_call(tmp_path):
    backend, raw = _stack(tmp_path)
    first = [g.text for g in backend.generate(MSGS, max_tokens=16)]
    assert len(raw.requests) == 5
    backend.close()
    # a new process/instance over the same cache folder
    backend2, raw2 = _stack(tmp_path)
    second = backend2.generate(MSGS, max_tokens=16)
    assert [g.text for g in second] == first
    assert len(raw2.requests) == 0
    assert backend2.usage.cache_hits == 5 and backend2.usage.calls == 0
    assert all(g.cached for g in second)


def test_changed_param_misses(tmp_path):
    backend, raw = _stack(tmp_path)
    backend.generate(MSGS[:1], max_tokens=16)
    backend.generate(MSGS[:1], max_tokens=32)
    backend.generate([[{"role": "system", "content": "be brief"}, *MSGS[0]]], max_tokens=16)
    assert len(raw.requests) == 3


def test_sampled_requests_need_seed_or_index_to_be_cached(tmp_path):
    backend, raw = _stack(tmp_path)
    backend.generate(MSGS[:1], temperature=0.7)
    backend.generate(MSGS[:1], temperature=0.7)
    assert len(raw.requests) == 2  # unseeded samples are never collapsed
    backend.generate(MSGS[:1], temperature=0.7, sample_index=0)
    backend.generate(MSGS[:1], temperature=0.7, sample_index=1)
    backend.generate(MSGS[:1], temperature=0.7, sample_index=0)
    assert len(raw.requests) == 4  # index 0 hit the cache the second time
    backend.generate(MSGS[:1], temperature=0.7, seed=3)
    backend.generate(MSGS[:1], temperature=0.7, seed=3)
    assert len(raw.requests) == 5


def test_sample_index_is_not_sent_to_the_provider(tmp_path):
    seen = []
    raw = ScriptedBackend(lambda m, p: seen.append(dict(p)) or "x")
    backend, _ = _stack(tmp_path, raw)
    backend.generate(MSGS[:1], temperature=0.5, sample_index=2)
    assert "sample_index" not in seen[0] and seen[0]["temperature"] == 0.5


def test_config_defaults_and_system_prompt_are_applied(tmp_path):
    seen = []
    raw = ScriptedBackend(lambda m, p: seen.append((m, dict(p))) or "x")
    backend, _ = _stack(tmp_path, raw, system_prompt="You are careful.", generation={"max_tokens": 7})
    backend.generate(MSGS[:1])
    messages, params = seen[0]
    assert messages[0] == {"role": "system", "content": "You are careful."}
    assert params["max_tokens"] == 7


def test_concurrency_bound_is_respected(tmp_path):
    raw = ScriptedBackend("x", latency=0.05, max_concurrency=100)
    backend = build_backend(
        BackendConfig(provider="scripted", cache_dir="off", max_concurrency=3), provider=raw
    )

    async def many():
        # callers outside agenerate_many's own semaphore still share the wrapper's bound
        await asyncio.gather(*(backend.agenerate([{"role": "user", "content": str(i)}]) for i in range(20)))

    asyncio.run(many())
    assert raw.max_in_flight == 3


def test_on_result_streams_results_as_they_finish(tmp_path):
    backend, _ = _stack(tmp_path)
    got = {}
    backend.generate(MSGS, on_result=lambda i, g: got.__setitem__(i, g.text))
    assert sorted(got) == list(range(5)) and got[3].startswith("answer to prompt 3")


def test_a_model_folder_retrained_in_place_misses_the_cache(tmp_path):
    import os

    folder = tmp_path / "model"
    folder.mkdir()
    weights = folder / "model.safetensors"
    weights.write_bytes(b"v1")

    def stack():
        raw = ScriptedBackend("x")
        config = BackendConfig(provider="scripted", model=str(folder), cache_dir=str(tmp_path / "c"))
        return build_backend(config, provider=raw), raw

    b1, raw1 = stack()
    b1.generate(MSGS[:1])
    b2, raw2 = stack()
    b2.generate(MSGS[:1])
    assert len(raw2.requests) == 0  # same weights: cached
    weights.write_bytes(b"version 2")
    os.utime(weights, ns=(1, 1))
    b3, raw3 = stack()
    b3.generate(MSGS[:1])
    assert len(raw3.requests) == 1  # new weights: asked again
