"""``scripted``: a deterministic backend for unit tests, benchmarks and dry runs.

It answers from a function of the messages (or a list of canned answers in turn), after an
optional fixed latency. Agents' logic is tested against it; real parts (servers, models)
are tested with the real providers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from typing import Any

from falsereject.llm.base import Backend, Generation, Messages, check_messages
from falsereject.llm.config import BackendConfig
from falsereject.llm.registry import register

Responder = Callable[[Messages, dict[str, Any]], str]


class ScriptedBackend(Backend):
    provider = "scripted"

    def __init__(
        self,
        respond: Responder | Iterable[str] | str = "OK",
        *,
        model: str = "scripted",
        latency: float = 0.0,
        max_concurrency: int = 64,
    ):
        super().__init__(model, max_concurrency=max_concurrency)
        if isinstance(respond, str):
            text = respond
            self._respond: Responder = lambda _m, _p: text
        elif callable(respond):
            self._respond = respond
        else:
            cycle = itertools.cycle(list(respond))
            self._respond = lambda _m, _p: next(cycle)
        self.latency = latency
        self.requests: list[Messages] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        check_messages(messages)
        self.requests.append(messages)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            n = int(params.get("n") or 1)
            texts = [self._respond(messages, params) for _ in range(n)]
        finally:
            self.in_flight -= 1
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return Generation(
            texts=texts,
            finish_reasons=["stop"] * n,
            model=self.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=sum(len(t.split()) for t in texts),
        )


@register("scripted")
def _factory(config: BackendConfig) -> Backend:
    # From config, the scripted backend echoes the last user message (dry runs).
    return ScriptedBackend(lambda m, _p: m[-1]["content"], model=config.model)
