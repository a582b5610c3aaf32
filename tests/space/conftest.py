"""Fixtures for the Space: the app launched on 127.0.0.1 with the tiny test model."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from space_helpers import SECRET, SECRET_ENV, Running, dead_column, running, tiny_column

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
    )
    try:
        with running(config) as r:
            yield r
    finally:
        os.environ.pop(SECRET_ENV, None)
