"""The ``vllm`` provider's queue, on a stand-in for vLLM (no GPU here): one ``LLM.chat`` per params."""

from __future__ import annotations

import asyncio
import sys
import types
from types import SimpleNamespace

from falsereject.llm import BackendConfig
from falsereject.llm.vllm_provider import VLLMBackend


class FakeLLM:
    """Answers each conversation with its last message, upper-cased; records each chat call."""

    def __init__(self):
        self.calls: list[tuple[int, dict]] = []

    def chat(self, conversations, sampling, use_tqdm=False, **kwargs):
        self.calls.append((len(conversations), sampling))
        return [
            SimpleNamespace(
                prompt_token_ids=[1, 2],
                outputs=[SimpleNamespace(text=c[-1]["content"].upper(), finish_reason="stop", token_ids=[3])],
            )
            for c in conversations
        ]


def test_concurrent_calls_are_one_chat_call_per_params(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(SamplingParams=lambda **kw: kw))
    backend = VLLMBackend(BackendConfig(provider="vllm", model="m", cache_dir="off"))
    llm = FakeLLM()
    monkeypatch.setattr(backend, "load", lambda: llm)

    async def run():
        calls = [backend.agenerate([{"role": "user", "content": f"q{i}"}], max_tokens=4) for i in range(20)]
        calls += [backend.agenerate([{"role": "user", "content": "hot"}], temperature=0.5)]
        return await asyncio.gather(*calls)

    gens = asyncio.run(run())
    assert [g.text for g in gens] == [f"Q{i}" for i in range(20)] + ["HOT"]
    assert [(n, s["max_tokens"], s["temperature"]) for n, s in llm.calls] == [(20, 4, 0.0), (1, 256, 0.5)]
