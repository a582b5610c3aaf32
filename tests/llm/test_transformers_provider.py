"""The `transformers` provider on the tiny model: micro-batching, params, chat templates."""

from __future__ import annotations

import pytest

from falsereject.errors import UserError
from falsereject.llm import BackendConfig, build_backend
from falsereject.llm.transformers_provider import TransformersBackend

PROMPTS = [f"How do I stop process number {i} on my server?" for i in range(8)]


def _raw(model_dir, **kw) -> TransformersBackend:
    return TransformersBackend(BackendConfig(model=str(model_dir), cache_dir="off", **kw))


def _count_generate_calls(backend: TransformersBackend, monkeypatch) -> list[int]:
    backend.load()
    sizes: list[int] = []
    original = backend.local.model.generate

    def spy(*args, **kwargs):
        sizes.append(kwargs["input_ids"].shape[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(backend.local.model, "generate", spy)
    return sizes


def test_concurrent_requests_are_batched(tiny_model_dir, monkeypatch):
    raw = _raw(tiny_model_dir, batch_size=4, max_concurrency=8)
    sizes = _count_generate_calls(raw, monkeypatch)
    backend = build_backend(
        BackendConfig(model=str(tiny_model_dir), cache_dir="off", max_concurrency=8), provider=raw
    )
    gens = backend.generate([[{"role": "user", "content": p}] for p in PROMPTS], max_tokens=6)
    assert len(gens) == 8 and all(g.completion_tokens <= 6 for g in gens)
    assert sizes == [4, 4], "8 concurrent requests with batch_size 4 must run as two batches of 4"


def test_batched_greedy_matches_one_at_a_time(tiny_model_dir):
    raw = _raw(tiny_model_dir, batch_size=8)
    msgs = [
        [{"role": "user", "content": p}]
        for p in ["short", "a much longer prompt about processes and signals"]
    ]
    batched = [g.text for g in raw.generate(msgs, max_tokens=8)]
    single = [raw.generate([m], max_tokens=8)[0].text for m in msgs]
    assert batched == single


def test_n_samples_seed_and_stop(tiny_model_dir):
    raw = _raw(tiny_model_dir)
    msgs = [[{"role": "user", "content": "tell me something"}]]
    a = raw.generate(msgs, max_tokens=12, temperature=1.0, n=3, seed=1)[0]
    b = raw.generate(msgs, max_tokens=12, temperature=1.0, n=3, seed=1)[0]
    assert len(a.texts) == 3 and a.texts == b.texts
    full = raw.generate(msgs, max_tokens=12)[0].text
    assert len(full) > 2
    stop = full[len(full) // 2 :][:2]
    cut = raw.generate(msgs, max_tokens=12, stop=[stop])[0]
    assert stop not in cut.text and cut.finish_reasons == ["stop"]


def test_missing_chat_template_is_a_clear_error(tiny_model_dir, tmp_path):
    import shutil

    plain = tmp_path / "plain"
    shutil.copytree(tiny_model_dir, plain)
    (plain / "chat_template.jinja").unlink()
    raw = _raw(plain)
    with pytest.raises(UserError, match="no chat template"):
        raw.load()
    # ... and a template given in the config fixes it
    from falsereject.testing import CHATML_TEMPLATE

    fixed = _raw(plain, chat_template=CHATML_TEMPLATE)
    assert fixed.generate([[{"role": "user", "content": "hi"}]], max_tokens=3)[0].completion_tokens > 0


def test_unknown_model_is_a_clear_error(tmp_path):
    raw = _raw(tmp_path / "does-not-exist")
    with pytest.raises(UserError, match="cannot load model"):
        raw.load()
