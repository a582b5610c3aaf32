"""Session fixtures: a tiny random chat model and a real `transformers serve` of it.

Every test session runs offline (HF_HUB_OFFLINE=1) with its response caches in a temp dir;
the embedded model's files stay in the user's model cache so they are built only once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from falsereject.embedded import models_dir  # noqa: E402

os.environ.setdefault("FALSEREJECT_MODELS", str(models_dir()))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    old = os.environ.get("FALSEREJECT_CACHE")
    os.environ["FALSEREJECT_CACHE"] = str(tmp_path_factory.mktemp("falsereject-cache"))
    yield
    if old is None:
        os.environ.pop("FALSEREJECT_CACHE", None)
    else:
        os.environ["FALSEREJECT_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from falsereject.testing import build_tiny_chat_model

    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))


@pytest.fixture(scope="session")
def tiny_server(tiny_model_dir):
    """A real OpenAI-compatible server (`transformers serve`) of the tiny model on loopback."""
    from falsereject.testing import LocalServer

    with LocalServer(tiny_model_dir) as server:
        yield server
