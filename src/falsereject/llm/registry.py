"""Provider registry: a name -> a factory building the raw provider from a BackendConfig.

Providers register themselves with :func:`register`; their modules are imported lazily so
that ``import falsereject`` never pulls torch, vLLM or httpx.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from falsereject.errors import UserError
from falsereject.llm.base import Backend
from falsereject.llm.config import BackendConfig

Factory = Callable[[BackendConfig], Backend]

#: provider name -> module that registers it on import
_MODULES = {
    "openai": "falsereject.llm.openai_provider",
    "transformers": "falsereject.llm.transformers_provider",
    "vllm": "falsereject.llm.vllm_provider",
    "onnx": "falsereject.llm.onnx_provider",
    "scripted": "falsereject.llm.scripted",
}
_FACTORIES: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        _FACTORIES[name] = factory
        return factory

    return deco


def providers() -> list[str]:
    return sorted(set(_MODULES) | set(_FACTORIES))


def create_provider(config: BackendConfig) -> Backend:
    """Build the bare provider (no cache/retry wrappers) named by ``config.provider``."""
    name = config.provider
    if name not in _FACTORIES and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _FACTORIES:
        raise UserError(f"unknown provider {name!r}: choose one of {', '.join(providers())}")
    return _FACTORIES[name](config)
