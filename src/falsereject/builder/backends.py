"""The agents' backends: one per role, built lazily, sharing providers and one global bound.

* Every role (``extractor``, ``generator``, ``discriminator``, ``orchestrator``,
  ``responder``, ``target:<name>``, ``judge``) gets the normal stack of
  :func:`falsereject.llm.build_backend` (defaults -> cache -> per-backend limit -> retries).
* Roles with the same model (provider, model, server...) share one raw provider, so the
  embedded model is loaded once and a ``transformers`` provider batches across roles.
* Under every stack, a :class:`CallBound` caps LLM calls in flight across all roles
  (``max_concurrency``) and measures busy time (the benchmark's achieved concurrency).
* Over every stack, a :class:`RoleBackend` counts calls/cache hits/tokens per role and into
  the :class:`UsageCounters` of the row being processed (a context variable), so each stage record
  carries its own cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from typing import Any

from falsereject.builder.config import BuilderConfig
from falsereject.llm import Backend, BackendConfig, Generation, Messages, UsageCounters, build_backend
from falsereject.llm.registry import create_provider

ROW_METER: contextvars.ContextVar[UsageCounters | None] = contextvars.ContextVar(
    "falsereject_row_meter", default=None
)


class CallBound:
    """At most ``limit`` calls in flight across every role; tracks busy time and peak."""

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.calls = 0
        self.in_flight = 0
        self.peak = 0
        self.busy_s = 0.0  # sum over calls of time spent holding a slot

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:
            self._sem, self._loop = asyncio.Semaphore(self.limit), loop
        return self._sem

    async def run(self, inner: Backend, messages: Messages, params: dict[str, Any]) -> Generation:
        async with self._semaphore():
            self.calls += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            start = time.perf_counter()
            try:
                return await inner.agenerate(messages, **params)
            finally:
                self.busy_s += time.perf_counter() - start
                self.in_flight -= 1


class _Bounded(Backend):
    """A raw provider behind the global bound (below the cache: cache hits take no slot)."""

    def __init__(self, inner: Backend, bound: CallBound):
        super().__init__(inner.model, max_concurrency=inner.max_concurrency, usage=inner.usage)
        self.inner, self.bound, self.provider = inner, bound, inner.provider

    @property
    def label(self) -> str:
        return self.inner.label

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        return await self.bound.run(self.inner, messages, params)

    def add_retry_listener(self, listener) -> None:
        self.inner.add_retry_listener(listener)

    def remove_retry_listener(self, listener) -> None:
        self.inner.remove_retry_listener(listener)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RoleBackend(Backend):
    """The backend an agent talks to: counts its own usage and the current row's."""

    def __init__(self, role: str, stack: Backend, config: BackendConfig):
        super().__init__(stack.model, max_concurrency=stack.max_concurrency, usage=UsageCounters())
        self.role, self.stack, self.config, self.provider = role, stack, config, stack.provider

    @property
    def label(self) -> str:
        return self.stack.label

    @property
    def sampled(self) -> bool:
        return float(self.config.generation.get("temperature") or 0) > 0

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        gen = await self.stack.agenerate(messages, **params)
        self.usage.calls += 1
        self.usage.cache_hits += int(gen.cached)
        self.usage.add(gen)
        meter = ROW_METER.get()
        if meter is not None:
            meter.record(gen)
        return gen

    def add_retry_listener(self, listener) -> None:
        self.stack.add_retry_listener(listener)

    def remove_retry_listener(self, listener) -> None:
        self.stack.remove_retry_listener(listener)

    async def aclose(self) -> None:
        await self.stack.aclose()


class RoleBackends:
    """Builds role backends on first use. ``providers`` maps role -> raw provider (tests, benchmark)."""

    def __init__(self, config: BuilderConfig, bound: CallBound, providers: dict[str, Backend] | None = None):
        self.config, self.bound = config, bound
        self.overrides = dict(providers or {})
        self._raw: dict[str, Backend] = {}
        self._roles: dict[str, RoleBackend] = {}

    def config_of(self, role: str) -> BackendConfig:
        m = self.config.models
        if role == "extractor":
            return m.extractor or m.generator
        if role in ("generator", "discriminator", "orchestrator", "responder"):
            return getattr(m, role)
        if role.startswith("target:"):
            name = role.split(":", 1)[1]
            for target in self.config.validation.pool:
                if target.name == name:
                    return target.backend
        if role == "judge" and self.config.validation.judge_model is not None:
            return self.config.validation.judge_model
        raise KeyError(f"no backend configured for role {role!r}")

    def _override(self, role: str) -> Backend | None:
        if role in self.overrides:
            return self.overrides[role]
        if role == "extractor" and self.config.models.extractor is None:
            return self.overrides.get("generator")
        return None

    def get(self, role: str) -> RoleBackend:
        if role not in self._roles:
            config = self.config_of(role)
            raw = self._override(role)
            if raw is None:
                key = config.provider_key()
                if key not in self._raw:
                    self._raw[key] = create_provider(config)
                raw = self._raw[key]
            stack = build_backend(config, provider=_Bounded(raw, self.bound))
            self._roles[role] = RoleBackend(role, stack, config)
        return self._roles[role]

    def usage(self) -> dict[str, dict[str, int]]:
        return {role: rb.usage.as_dict() for role, rb in sorted(self._roles.items())}

    def labels(self) -> dict[str, str]:
        return {role: rb.label for role, rb in sorted(self._roles.items())}

    async def aclose(self) -> None:
        for rb in self._roles.values():
            with contextlib.suppress(Exception):  # closing is best effort
                await rb.aclose()
