"""Streaming from the transformers provider (the tiny model): same text as agenerate, batched."""

from __future__ import annotations

import asyncio
import time

import pytest

from falsereject.llm import BackendConfig, build_backend
from falsereject.llm.registry import create_provider
from falsereject.llm.scripted import ScriptedBackend

USER = [{"role": "user", "content": "How do I kill a Python process?"}]
SYSTEM = [{"role": "system", "content": "Be helpful."}, *USER]


@pytest.fixture(scope="module")
def raw(tiny_model_dir):
    return create_provider(BackendConfig(model=str(tiny_model_dir), cache_dir="off"))


async def collect(backend, messages, **params) -> tuple[list[str], float]:
    pieces = [piece async for piece in backend.astream(messages, **params)]
    return pieces, time.monotonic()


def test_a_stream_is_the_generated_text_in_pieces(raw):
    async def run():
        pieces, _ = await collect(raw, USER, max_tokens=24)
        return pieces, await raw.agenerate(USER, max_tokens=24)

    pieces, gen = asyncio.run(run())
    assert len(pieces) > 1 and all(pieces)
    assert "".join(pieces) == gen.text


def test_concurrent_streams_are_one_batch_with_the_batched_text(raw, monkeypatch):
    raw.load()
    batches = []
    generate = raw.local.model.generate

    def counting_generate(**kwargs):
        batches.append(kwargs["input_ids"].shape[0])
        return generate(**kwargs)

    monkeypatch.setattr(raw.local.model, "generate", counting_generate)

    async def run():
        (a, _), (b, _) = await asyncio.gather(
            collect(raw, USER, max_tokens=24), collect(raw, SYSTEM, max_tokens=24)
        )
        gens = await asyncio.gather(raw.agenerate(USER, max_tokens=24), raw.agenerate(SYSTEM, max_tokens=24))
        return a, b, gens

    a, b, gens = asyncio.run(run())
    assert batches == [2, 2]  # the two streams, then the two agenerate calls, one batch each
    assert ["".join(a), "".join(b)] == [g.text for g in gens]


def test_stop_strings_cut_the_stream(raw):
    async def run():
        full, _ = await collect(raw, USER, max_tokens=24)
        text = "".join(full)
        stop = text.split()[2]
        cut, _ = await collect(raw, USER, max_tokens=24, stop=[stop])
        return text, stop, "".join(cut)

    text, stop, cut = asyncio.run(run())
    assert stop not in cut and text.startswith(cut) and len(cut) < len(text)


def test_a_finished_row_ends_its_stream_before_the_batch_ends(raw):
    async def run():
        # same params, so one batch: the first row stops at once, the other runs 200 tokens
        first = asyncio.create_task(collect(raw, USER, max_tokens=200, stop=["stop"]))
        second = asyncio.create_task(collect(raw, SYSTEM, max_tokens=200, stop=["stop"]))
        (a, a_end), (b, b_end) = await asyncio.gather(first, second)
        return a, a_end, b, b_end

    a, a_end, b, b_end = asyncio.run(run())
    assert "".join(b) and a_end < b_end


def test_closing_a_stream_stops_generation(raw):
    async def run():
        before = raw.usage.completion_tokens
        agen = raw.astream(USER, max_tokens=5000)
        first = await agen.__anext__()
        await agen.aclose()
        await asyncio.sleep(0.5)
        return first, raw.usage.completion_tokens - before

    start = time.monotonic()
    first, tokens = asyncio.run(run())
    assert first and tokens < 5000 and time.monotonic() - start < 60


def test_other_backends_stream_in_one_piece():
    backend = build_backend(BackendConfig(provider="scripted", model="echo", cache_dir="off"))

    async def run():
        return [p async for p in backend.astream(USER)], [
            p async for p in ScriptedBackend("hi").astream(USER)
        ]

    assert asyncio.run(run()) == ([USER[0]["content"]], ["hi"])


def test_two_models_loading_at_once_both_work(tiny_model_dir, tmp_path):
    """Two backends loading in two threads at once (the Space's two columns) both load real
    weights: transformers' from_pretrained is not thread-safe, so the provider serialises loads."""
    from falsereject.testing import build_tiny_chat_model

    other = build_tiny_chat_model(tmp_path / "other", seed=1)
    a, b = (create_provider(BackendConfig(model=str(d), cache_dir="off")) for d in (tiny_model_dir, other))

    async def run():
        return await asyncio.gather(collect(a, USER, max_tokens=8), collect(b, USER, max_tokens=8))

    (pa, _), (pb, _) = asyncio.run(run())
    assert "".join(pa) and "".join(pb) and "".join(pa) != "".join(pb)
