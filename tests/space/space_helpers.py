"""Helpers for the Space tests: launch the app on 127.0.0.1, columns on the tiny test model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from falsereject.llm import BackendConfig  # noqa: E402
from falsereject.space import ColumnConfig, SpaceApp, SpaceConfig  # noqa: E402
from falsereject.testing import free_port  # noqa: E402

SECRET = "sk-falsereject-test-SENTINEL-0123456789"
SECRET_ENV = "FALSEREJECT_TEST_SPACE_KEY"


@dataclass
class Running:
    app: SpaceApp
    url: str


@contextmanager
def running(config: SpaceConfig) -> Iterator[Running]:
    """Build and launch the app on a free loopback port; close it afterwards."""
    app = SpaceApp(config)
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
