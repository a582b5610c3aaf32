"""What the LLM agents of stages 2, 3 and 5 share (extractor, generator, discriminator, orchestrator).

Each agent is a function of (row, backend, template, config) returning its stage's record.
Agents receive their backends; they never build clients. An agent that gets no usable
output raises :class:`~falsereject.builder.parsing.AgentOutputError`; the stage runner
records the row as dropped with that reason and goes on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from falsereject.builder.config import BuilderConfig
from falsereject.builder.prompts import PromptTemplate
from falsereject.llm import Backend

if TYPE_CHECKING:
    from falsereject.builder.stage import Build

I = TypeVar("I")  # noqa: E741 - a stage's item type
R = TypeVar("R")


def seed_params(backend: Backend, *parts: object) -> dict[str, Any]:
    """A per-request ``seed`` for sampled roles: reproducible samples, distinct per attempt."""
    if getattr(backend, "sampled", False):
        return {"seed": int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:7], 16)}
    return {}


def repair_prompt(template: PromptTemplate, **values: object) -> str:
    """The template's ``repair`` section (its other placeholders filled); ``{error}`` stays for ask_json."""
    if not template.has("repair"):
        return "Your reply could not be used ({error}). Reply again with only the JSON object."
    return template.render("repair", **values, error="{error}")


def agent_row(
    agent: Callable[[I, Backend, PromptTemplate, BuilderConfig], Awaitable[R]], role: str, template: str
) -> Callable[[Build, I], Awaitable[R]]:
    """A stage's ``row`` function: ``agent(item, backend, template, config)`` with the build's
    backend for ``role`` and its prompt template ``template``."""
    return lambda b, item: agent(item, b.backend(role), b.templates[template], b.config)
