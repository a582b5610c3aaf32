"""LLM backends: one interface, many providers, the same wrappers around each.

>>> from falsereject.llm import BackendConfig, build_backend
>>> backend = build_backend(BackendConfig(provider="openai", model="m", base_url="http://127.0.0.1:8000/v1"))
>>> # backend.generate([[{"role": "user", "content": "Hi"}]], max_tokens=32)

``build_backend`` stacks: defaults/system prompt -> response cache -> concurrency bound ->
retries -> provider. ``backend.usage`` counts the whole stack (``usage.retries``: attempts
retried so far); ``backend.add_retry_listener(fn)`` calls ``fn(RetryEvent)`` at each retry.
A layer of your own subclasses :class:`BackendWrapper` (everything it does not override passes
through); :class:`LimitedBackend` with a shared :class:`ConcurrencyLimit` bounds several
stacks together.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from falsereject.llm.base import Backend, Generation, Messages, RetryEvent, UsageCounters, run_sync
from falsereject.llm.config import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, BackendConfig, BackendConfigError
from falsereject.llm.registry import create_provider, providers, register
from falsereject.llm.wrappers import (
    BackendWrapper,
    CachedBackend,
    ConcurrencyLimit,
    LimitedBackend,
    RetryingBackend,
)

__all__ = [
    "Backend",
    "BackendConfig",
    "BackendConfigError",
    "BackendWrapper",
    "ConcurrencyLimit",
    "Generation",
    "LimitedBackend",
    "Messages",
    "RetryEvent",
    "UsageCounters",
    "add_backend_arguments",
    "backend_config_from_arguments",
    "build_backend",
    "folder_fingerprint",
    "providers",
    "register",
    "run_sync",
]


class ConfiguredBackend(BackendWrapper):
    """Applies the config's default generation params and optional system prompt."""

    def __init__(self, inner: Backend, config: BackendConfig):
        super().__init__(inner)
        self.config = config

    def _configure(self, messages: Messages, params: dict[str, Any]) -> tuple[Messages, dict[str, Any]]:
        merged = {**self.config.generation, **{k: v for k, v in params.items() if v is not None}}
        if self.config.system_prompt and messages[0].get("role") != "system":
            messages = [{"role": "system", "content": self.config.system_prompt}, *messages]
        return messages, merged

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        messages, params = self._configure(messages, params)
        return await self.inner.agenerate(messages, **params)

    async def astream(self, messages: Messages, **params: Any) -> AsyncIterator[str]:
        messages, params = self._configure(messages, params)
        async for piece in self.inner.astream(messages, **params):
            yield piece


def default_cache_dir() -> Path:
    from falsereject.embedded import cache_root

    return cache_root() / "llm"


def folder_fingerprint(model: str) -> str:
    """``@<hash>`` of a local model folder's weight/config files (name, size, mtime), else ``""``.

    The cache key must change when a folder is retrained in place, or a fine-tuned model
    would be answered from its previous version's cache; an eval run's identity records it
    for the same reason (:mod:`falsereject.evaluation.run_identity`).
    """
    folder = Path(model)
    if not folder.is_dir():
        return ""
    import hashlib

    digest = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix in {".safetensors", ".bin", ".json", ".gguf", ".jinja"}:
            st = f.stat()
            digest.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return "@" + digest.hexdigest()[:16]


def build_backend(config: BackendConfig, *, provider: Backend | None = None) -> Backend:
    """The full stack for ``config``; ``provider`` replaces the raw provider (tests)."""
    config.validate()  # fields may have been changed since the config was built
    raw = provider or create_provider(config)
    stack: Backend = RetryingBackend(raw, max_retries=config.max_retries)
    stack = LimitedBackend(stack, config.max_concurrency)
    if (config.cache_dir or "").lower() not in ("off", "none", "false"):
        cache_dir = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
        model_id = config.model if not config.gguf_file else f"{config.model}::{config.gguf_file}"
        model_id += folder_fingerprint(config.model)
        if config.provider == "onnx":  # quantised weights: answers of their own
            from falsereject.llm.onnx_model import precision_for

            model_id += f"::onnx-{precision_for(config.dtype)}"
        stack = CachedBackend(stack, cache_dir / "responses.sqlite", model_id=model_id)
    return ConfiguredBackend(stack, config)


def add_backend_arguments(
    parser: argparse.ArgumentParser, prefix: str = "", *, default_model: str | None = None
) -> None:
    """Add ``--{prefix}model/provider/base-url/...`` options describing one backend."""
    group = parser.add_argument_group(f"{prefix.rstrip('-') or 'model'} backend")
    p = f"--{prefix}"
    group.add_argument(f"{p}model", default=default_model, help="model id, local folder, or 'embedded'")
    group.add_argument(f"{p}provider", default=None, choices=providers(), help="backend provider")
    group.add_argument(
        f"{p}base-url", default=None, help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1"
    )
    group.add_argument(f"{p}api-key-env", default=None, help="name of the env var holding the API key")
    group.add_argument(f"{p}gguf-file", default=None, help="GGUF file inside the model folder/repo")
    group.add_argument(f"{p}max-concurrency", type=int, default=None, help="requests in flight")
    group.add_argument(
        f"{p}timeout",
        type=float,
        default=None,
        help=f"seconds one request may take, from connecting to the end of the reply (default "
        f"{DEFAULT_TIMEOUT:g}; connecting alone: {DEFAULT_CONNECT_TIMEOUT:g}); raise it for slow "
        "servers or long answers",
    )
    group.add_argument(
        f"{p}max-retries",
        type=int,
        default=None,
        help="retries of a failed request (429, 5xx, timeout, lost connection) before giving up (default 5)",
    )
    group.add_argument(f"{p}max-tokens", type=int, default=None, help="max new tokens per response")
    group.add_argument(f"{p}temperature", type=float, default=None, help="0 = greedy (default)")
    group.add_argument(f"{p}system-prompt", default=None, help="optional system prompt")
    group.add_argument(f"{p}cache-dir", default=None, help="response cache folder ('off' disables)")


def backend_config_from_arguments(
    args: argparse.Namespace, prefix: str = "", **defaults: Any
) -> BackendConfig:
    """Build a BackendConfig from :func:`add_backend_arguments` options (``prefix`` with '_')."""

    def get(name: str) -> Any:
        return getattr(args, f"{prefix}{name}", None)

    model = get("model") or defaults.pop("model", "embedded")
    provider = get("provider") or defaults.pop("provider", None)  # None: BackendConfig's default
    base_url = get("base_url")
    generation = dict(defaults.pop("generation", {}))
    if get("max_tokens") is not None:
        generation["max_tokens"] = get("max_tokens")
    if get("temperature") is not None:
        generation["temperature"] = get("temperature")
    fields: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "base_url": base_url,
        "generation": generation,
    }
    for name in (
        "api_key_env",
        "gguf_file",
        "max_concurrency",
        "timeout",
        "max_retries",
        "system_prompt",
        "cache_dir",
    ):
        if get(name) is not None:
            fields[name] = get(name)
    try:
        return BackendConfig(**{**defaults, **fields})
    except BackendConfigError as exc:  # name the flag the user typed
        raise exc.for_flag(prefix.replace("_", "-")) from None
