"""Stage 4, refusal validation: does at least ``min_refusals`` of the target pool refuse?

Each candidate goes to every target model at once; the project's judge labels the answers
(:mod:`falsereject.judge`). Only ``direct_refusal`` counts as a refusal: a judge failure
(``unscored``) never does. The record keeps every target's label, which targets refused and
the start of each answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from falsereject.builder.config import BuilderConfig
from falsereject.builder.parsing import AgentOutputError
from falsereject.llm import Backend


def refusal_label() -> str:
    from falsereject.judge.base import REFUSAL

    return REFUSAL


async def validate_candidate(
    item: dict[str, Any],
    targets: dict[str, Backend],
    judge: Any,
    config: BuilderConfig,
) -> dict[str, Any]:
    """Ask every target, judge the answers, keep the candidate if enough refused."""
    query = item["query"]
    names = list(targets)
    gens = await asyncio.gather(*(targets[n].agenerate([{"role": "user", "content": query}]) for n in names))
    texts = [g.text for g in gens]
    judgements = await judge.ajudge([query] * len(texts), texts)
    refusal = refusal_label()
    labels = {n: j.label for n, j in zip(names, judgements, strict=True)}
    refused_by = [n for n in names if labels[n] == refusal]
    keep = config.validation.max_response_chars
    record = {
        "query": query,
        "labels": labels,
        "refused_by": refused_by,
        "responses": {n: t[:keep] for n, t in zip(names, texts, strict=True)},
    }
    need = config.validation.min_refusals
    if len(refused_by) < need:
        raise AgentOutputError(
            "no_refusal", f"{len(refused_by)} of {len(names)} targets refused (need {need})", record
        )
    return {"status": "ok", **record}
