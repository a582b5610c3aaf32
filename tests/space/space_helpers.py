"""Helpers for the Space tests: launch the app on 127.0.0.1; columns on the tiny test model or
on :class:`WordStream`, a streaming backend whose speed and length the test sets."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from falsereject.judge import get_judge  # noqa: E402
from falsereject.llm import Backend, BackendConfig, Generation  # noqa: E402
from falsereject.space import CachedAnswers, ColumnConfig, SpaceApp, SpaceConfig  # noqa: E402
from falsereject.space.cached import CachedAnswer  # noqa: E402
from falsereject.testing import free_port  # noqa: E402

SECRET = "sk-falsereject-test-SENTINEL-0123456789"
SECRET_ENV = "FALSEREJECT_TEST_SPACE_KEY"
REFUSAL = "I'm sorry, but I can't assist with that."
HELPFUL = "To stop a hung Python process, find its id with ps and then run kill on it."


@dataclass
class Running:
    app: SpaceApp
    url: str


@contextmanager
def running(
    config: SpaceConfig, setup: Callable[[SpaceApp], None] | None = None, **kwargs: Any
) -> Iterator[Running]:
    """Build and launch the app on a free loopback port (``setup`` may swap its backends
    first); close it afterwards."""
    app = SpaceApp(config, **kwargs)
    if setup is not None:
        setup(app)
    demo = app.build()
    port = free_port()
    demo.queue(**app.queue_kwargs()).launch(
        prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **app.launch_kwargs()
    )
    try:
        yield Running(app, f"http://127.0.0.1:{port}/")
    finally:
        demo.close()


def tiny_column(model_dir, title: str, **backend) -> ColumnConfig:
    generation = {"max_tokens": 24, "temperature": 0}
    return ColumnConfig(
        title=title,
        backend=BackendConfig(model=str(model_dir), generation=generation, cache_dir="off", **backend),
    )


def dead_column(port: int) -> ColumnConfig:
    """An OpenAI-compatible backend on a closed port, with a (sentinel) API key in the env."""
    return ColumnConfig(
        title="Remote model (server down)",
        backend=BackendConfig(
            provider="openai",
            model="remote-model",
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key_env=SECRET_ENV,
            max_retries=0,
            timeout=5,
            cache_dir="off",
        ),
    )


class WordStream(Backend):
    """Streams ``text`` a word every ``delay`` seconds, at most ``max_tokens`` words (a word is
    a token here: :meth:`count_tokens`). Counts its calls, the words it sent, and the streams
    that were closed before their end (a cancelled request)."""

    provider = "wordstream"

    def __init__(self, text: str, delay: float = 0.0):
        super().__init__("wordstream")
        self.text, self.delay = text, delay
        self.calls = self.sent = self.closed_early = 0
        self.requests: list[list[dict[str, str]]] = []

    async def agenerate(self, messages, **params) -> Generation:
        self.calls += 1
        return Generation(texts=[self.text], finish_reasons=["stop"], model=self.model)

    async def astream(self, messages, **params):
        self.calls += 1
        self.requests.append(messages)
        words = self.text.split(" ")[: int(params.get("max_tokens") or 10**6)]
        finished = False
        try:
            for i, word in enumerate(words):
                await asyncio.sleep(self.delay)
                self.sent += 1
                yield ("" if i == 0 else " ") + word
            finished = True
        finally:
            if not finished:
                self.closed_early += 1

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def stream_config(max_tokens: int = 64, **space) -> SpaceConfig:
    """Two columns to be replaced by :class:`WordStream` (see :func:`use_streams`)."""

    def column(title: str, short: str, **backend) -> ColumnConfig:
        generation = {"max_tokens": max_tokens}
        cfg = BackendConfig(
            provider="scripted", model=short, cache_dir="off", generation=generation, **backend
        )
        return ColumnConfig(title=title, short=short, backend=cfg)

    space.setdefault("preload", False)
    space.setdefault("cached_examples", None)
    return SpaceConfig(
        left=column("Base model", "Base"),
        right=column("Same model + a system prompt", "Prompted", system_prompt="Be helpful."),
        **space,
    )


def use_streams(*streams: WordStream) -> Callable[[SpaceApp], None]:
    def setup(app: SpaceApp) -> None:
        for column, stream in zip(app.columns, streams, strict=True):
            column.raw = column.backend = stream

    return setup


def judged_cache(app: SpaceApp, answers: tuple[str, str], cut: bool = False) -> CachedAnswers:
    """Cached answers to every example of ``app``: the given text per column, really judged."""
    judge = get_judge("keyword")
    records = []
    for ex in app.bank.examples:
        for key, answer in zip(app.keys, answers, strict=True):
            (v,) = judge.judge([ex.prompt], [answer])
            n = len(answer.split())
            records.append(
                CachedAnswer(ex.id, ex.prompt, key, answer, n, n, cut, v.label, v.rationale, v.judge)
            )
    return CachedAnswers(records)
