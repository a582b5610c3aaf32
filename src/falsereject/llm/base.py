"""The one backend interface every agent, judge, harness and the Space talks to.

A backend turns chat ``messages`` (a list of ``{"role", "content"}`` dicts) into a
:class:`Generation`. Providers implement :meth:`Backend.agenerate`; batching providers
(``transformers``, ``vllm``) group concurrent calls into batches themselves, so callers only
ever need ``agenerate`` (one request) or ``generate`` (many requests, bounded concurrency).

Generation parameters use OpenAI names everywhere: ``max_tokens``, ``temperature`` (0 =
greedy), ``top_p``, ``n``, ``seed``, ``stop``. ``sample_index`` is not sent to providers:
the cache uses it to tell apart repeated samples of the same request.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

Message = dict[str, str]
Messages = list[Message]

#: Parameters every provider understands (others are rejected with a clear error).
KNOWN_PARAMS = frozenset({"max_tokens", "temperature", "top_p", "n", "seed", "stop", "sample_index"})


@dataclass
class Generation:
    """The result of one request: ``n`` texts (usually one) plus bookkeeping."""

    texts: list[str]
    finish_reasons: list[str]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False

    @property
    def text(self) -> str:
        return self.texts[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "texts": self.texts,
            "finish_reasons": self.finish_reasons,
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, cached: bool = False) -> Generation:
        return cls(
            texts=list(data["texts"]),
            finish_reasons=list(data["finish_reasons"]),
            model=data["model"],
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
            cached=cached,
        )


@dataclass
class UsageCounters:
    """What a run cost; shared by a backend and its wrappers, printed at the end of runs."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    failures: int = 0

    def add(self, gen: Generation) -> None:
        self.prompt_tokens += gen.prompt_tokens
        self.completion_tokens += gen.completion_tokens

    def record(self, gen: Generation) -> None:
        """Count one answered request: a call (or a cache hit) and its tokens."""
        self.calls += 1
        self.cache_hits += int(gen.cached)
        self.add(gen)

    def merge(self, other: UsageCounters) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def summary(self) -> str:
        return (
            f"{self.calls} calls, {self.cache_hits} cache hits, "
            f"{self.prompt_tokens}+{self.completion_tokens} tokens, "
            f"{self.retries} retries, {self.failures} failures"
        )


@dataclass(frozen=True)
class RetryEvent:
    """One failed attempt that will be retried (what a progress bar shows as "retries: N").

    ``attempt`` failed out of at most ``max_attempts``; the next starts in ``wait`` seconds.
    """

    backend: str
    attempt: int
    max_attempts: int
    wait: float
    error: str

    def __str__(self) -> str:
        return (
            f"{self.backend}: attempt {self.attempt}/{self.max_attempts} failed ({self.error}); "
            f"retrying in {self.wait:.1f} s"
        )


RetryListener = Callable[[RetryEvent], None]


def check_messages(messages: Messages) -> None:
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of {'role', 'content'} dicts")
    for m in messages:
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"bad chat message {m!r}: expected a dict with 'role' and 'content'")


class Backend(ABC):
    """Abstract chat backend. Subclasses implement :meth:`agenerate`."""

    provider: str = "abstract"

    def __init__(self, model: str, *, max_concurrency: int = 8, usage: UsageCounters | None = None):
        self.model = model
        self.max_concurrency = max(1, int(max_concurrency))
        self.usage = usage if usage is not None else UsageCounters()

    @property
    def label(self) -> str:
        """Human-readable ``provider:model`` name (used in errors and reports)."""
        return f"{self.provider}:{self.model}"

    @abstractmethod
    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        """Answer one chat request."""

    def add_retry_listener(self, listener: RetryListener) -> None:  # noqa: B027 - optional hook
        """Call ``listener(event)`` (a :class:`RetryEvent`) before every retry of this backend.

        ``usage.retries`` counts them; the listener is for showing them as they happen, e.g.
        ``backend.add_retry_listener(lambda e: bar.set_postfix(retries=backend.usage.retries))``.
        It runs on the event loop: keep it quick. Wrappers pass it down to their retry layer;
        a backend without one never retries, so this base version keeps nothing.
        """

    def remove_retry_listener(self, listener: RetryListener) -> None:  # noqa: B027
        """Stop calling ``listener`` (no error when it was never added)."""

    async def astream(self, messages: Messages, **params: Any) -> AsyncIterator[str]:
        """Yield the answer to one chat request in pieces, as it is produced (first choice).

        Providers that can stream (``transformers``) override this. The default answers with
        :meth:`agenerate` (so wrappers, retries and the cache all apply) and yields the whole
        text once: every backend can be streamed from, some just in one piece.
        """
        gen = await self.agenerate(messages, **params)
        yield gen.text

    async def agenerate_many(
        self,
        batch: Sequence[Messages],
        *,
        on_result: Callable[[int, Generation], None] | None = None,
        **params: Any,
    ) -> list[Generation]:
        """Answer many requests with at most ``max_concurrency`` in flight.

        ``on_result(i, generation)`` is called as each finishes (progress bars, appending
        results to disk), so a run that dies half-way keeps what it had.
        """
        sem = asyncio.Semaphore(self.max_concurrency)
        results: list[Generation | None] = [None] * len(batch)

        async def one(i: int, messages: Messages) -> None:
            async with sem:
                gen = await self.agenerate(messages, **params)
            results[i] = gen
            if on_result is not None:
                on_result(i, gen)

        tasks = [asyncio.ensure_future(one(i, m)) for i, m in enumerate(batch)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
        return results  # type: ignore[return-value]

    def generate(
        self,
        batch: Sequence[Messages],
        *,
        on_result: Callable[[int, Generation], None] | None = None,
        **params: Any,
    ) -> list[Generation]:
        """Synchronous, batched: ``agenerate_many`` run on a fresh event loop."""
        return run_sync(self.agenerate_many(batch, on_result=on_result, **params))

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release clients/sessions; safe to call twice."""

    def close(self) -> None:
        run_sync(self.aclose())


def run_sync(coro):
    """Run ``coro`` to completion from sync code (also inside a thread with no loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside a running loop (e.g. a notebook): run in a helper thread.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
