"""The agents' backends: one per role, built lazily, sharing providers and one global bound.

* Every role (``extractor``, ``generator``, ``discriminator``, ``orchestrator``,
  ``responder``, ``target:<name>``, ``judge``) gets the normal stack of
  :func:`falsereject.llm.build_backend` (defaults -> cache -> per-backend limit -> retries).
* Roles with the same model (same :meth:`BackendConfig.provider_key`) share one raw provider,
  so the embedded model is loaded once and a ``transformers`` provider batches across roles.
* Under every stack (below the cache: cache hits take no slot), a
  :class:`~falsereject.llm.LimitedBackend` holding the pool's one
  :class:`~falsereject.llm.ConcurrencyLimit` caps LLM calls in flight across all roles
  (``max_concurrency``) and measures busy time (the benchmark's achieved concurrency).
* Over every stack, a :class:`RoleBackend` counts calls/cache hits/tokens per role and into
  the :class:`UsageCounters` of the row being processed (a context variable), so each stage record
  carries its own cost. :class:`RoleBackendPool` builds and keeps them.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any

from falsereject.builder.config import BuilderConfig
from falsereject.llm import (
    Backend,
    BackendConfig,
    BackendWrapper,
    ConcurrencyLimit,
    Generation,
    LimitedBackend,
    Messages,
    UsageCounters,
    build_backend,
)
from falsereject.llm.registry import create_provider

ROW_METER: contextvars.ContextVar[UsageCounters | None] = contextvars.ContextVar(
    "falsereject_row_meter", default=None
)


class RoleBackend(BackendWrapper):
    """The backend one agent role talks to: counts its own usage and the current row's."""

    def __init__(self, role: str, stack: Backend, config: BackendConfig):
        super().__init__(stack, usage=UsageCounters())
        self.role, self.config = role, config

    @property
    def sampled(self) -> bool:
        return float(self.config.generation.get("temperature") or 0) > 0

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        gen = await self.inner.agenerate(messages, **params)
        self.usage.record(gen)
        meter = ROW_METER.get()
        if meter is not None:
            meter.record(gen)
        return gen

    #: a stream is answered whole, through agenerate, so that it is counted
    astream = Backend.astream


class RoleBackendPool:
    """Builds each role's :class:`RoleBackend` on first use, all under one global ``bound``.

    ``providers`` maps role -> raw provider (tests, benchmark).
    """

    def __init__(
        self, config: BuilderConfig, bound: ConcurrencyLimit, providers: dict[str, Backend] | None = None
    ):
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
            stack = build_backend(config, provider=LimitedBackend(raw, self.bound))
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
