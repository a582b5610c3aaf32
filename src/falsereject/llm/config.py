"""A backend, fully described by one small dataclass (one YAML block)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from falsereject.llm.base import KNOWN_PARAMS


@dataclass
class BackendConfig:
    """Where generations come from.

    ``model: embedded`` (with the ``transformers`` provider) is the registry-installed
    default model (Qwen2.5-Coder-0.5B-Instruct GGUF, see :mod:`falsereject.embedded`).
    ``generation`` holds default generation params (``max_tokens``, ``temperature``, ...).
    ``cache_dir``: ``None`` = the user cache (``~/.cache/falsereject/llm``); ``"off"`` = no cache.
    """

    provider: str = "transformers"
    model: str = "embedded"
    base_url: str | None = None
    api_key_env: str | None = None
    gguf_file: str | None = None
    chat_template: str | None = None
    system_prompt: str | None = None
    max_concurrency: int = 8
    batch_size: int = 8
    timeout: float = 120.0
    max_retries: int = 5
    dtype: str = "auto"
    device: str | None = None
    cache_dir: str | None = None
    generation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.generation) - KNOWN_PARAMS
        if unknown:
            raise ValueError(
                f"generation: unknown parameter(s) {sorted(unknown)}; known: {sorted(KNOWN_PARAMS)}"
            )
        if self.max_concurrency < 1 or self.batch_size < 1:
            raise ValueError("max_concurrency and batch_size must be >= 1")
