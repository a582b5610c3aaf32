"""Fixtures for the Space: the app launched on 127.0.0.1, on the tiny test model or on
word-streaming test backends with judged cached answers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from space_helpers import (
    HELPFUL,
    REFUSAL,
    SECRET,
    SECRET_ENV,
    Running,
    WordStream,
    dead_column,
    judged_cache,
    running,
    stream_config,
    tiny_column,
    use_streams,
)

from falsereject.space import SpaceConfig
from falsereject.testing import free_port


@pytest.fixture(scope="module")
def tiny_space(tiny_model_dir) -> Iterator[Running]:
    """Both columns on the tiny model (the right one with a system prompt), the keyword judge."""
    config = SpaceConfig(
        left=tiny_column(tiny_model_dir, "Tiny model"),
        right=tiny_column(tiny_model_dir, "Tiny model + system prompt", system_prompt="Be helpful."),
        max_prompt_chars=200,
        request_timeout=120,
        seed=0,
        preload=False,
        cached_examples=None,
    )
    with running(config) as r:
        yield r


@pytest.fixture(scope="module")
def dead_space(tiny_model_dir) -> Iterator[Running]:
    """Left: the tiny model; right: a server that is down."""
    os.environ[SECRET_ENV] = SECRET
    config = SpaceConfig(
        left=tiny_column(tiny_model_dir, "Tiny model"),
        right=dead_column(free_port()),
        request_timeout=60,
        preload=False,
        cached_examples=None,
    )
    try:
        with running(config) as r:
            yield r
    finally:
        os.environ.pop(SECRET_ENV, None)


class StreamSpace(Running):
    streams: tuple[WordStream, WordStream]


def _stream_space(delay: float, max_tokens: int, words: int) -> Iterator[StreamSpace]:
    long = " ".join(["This answer explains how processes are stopped safely"] * (words // 8 + 1)).split(" ")
    streams = (WordStream(REFUSAL, delay), WordStream(" ".join(long[:words]), delay))

    def setup(app):
        use_streams(*streams)(app)
        app.cached = judged_cache(app, (REFUSAL, HELPFUL))

    with running(stream_config(max_tokens=max_tokens, seed=0), setup) as r:
        space = StreamSpace(r.app, r.url)
        space.streams = streams
        yield space


@pytest.fixture(scope="module")
def stream_space() -> Iterator[StreamSpace]:
    """Word-streaming columns (left refuses; right writes 40 words, a word per 0.1 s, cut at 24
    words), one comparison at a time, every example cached."""
    yield from _stream_space(delay=0.1, max_tokens=24, words=40)
