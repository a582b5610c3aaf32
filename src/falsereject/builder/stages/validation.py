"""Stage 4, refusal validation: does at least ``min_refusals`` of the target pool refuse?

Each candidate goes to every target model at once; the project's judge labels the answers
(:mod:`falsereject.judge`). Only ``direct_refusal`` counts as a refusal: a judge failure
(``unscored``) never does. The record keeps every target's label, which targets refused and
the start of each answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from falsereject.builder.config import BuilderConfig, backend_identity
from falsereject.builder.parsing import AgentOutputError
from falsereject.builder.stage import Build, Record, Stage, on_disk_only
from falsereject.builder.stages import adversarial
from falsereject.judge.base import REFUSAL
from falsereject.llm import Backend


@dataclass(frozen=True, slots=True)
class ValidationRecord(Record):
    query: str
    labels: dict[str, str]  # target name -> judge label
    refused_by: list[str]
    responses: dict[str, str] = on_disk_only()  # target name -> start of its answer


async def validate_candidate(
    query: str,
    targets: dict[str, Backend],
    judge: Any,
    config: BuilderConfig,
) -> ValidationRecord:
    """Ask every target, judge the answers, keep the candidate if enough refused."""
    names = list(targets)
    gens = await asyncio.gather(*(targets[n].agenerate([{"role": "user", "content": query}]) for n in names))
    texts = [g.text for g in gens]
    judgements = await judge.ajudge([query] * len(texts), texts)
    labels = {n: j.label for n, j in zip(names, judgements, strict=True)}
    keep = config.validation.max_response_chars
    record = ValidationRecord(
        query=query,
        labels=labels,
        refused_by=[n for n in names if labels[n] == REFUSAL],
        responses={n: t[:keep] for n, t in zip(names, texts, strict=True)},
    )
    need = config.validation.min_refusals
    if len(record.refused_by) < need:
        raise AgentOutputError(
            "no_refusal",
            f"{len(record.refused_by)} of {len(names)} targets refused (need {need})",
            record.to_json(),
        )
    return record


def _fingerprint(b: Build) -> dict[str, Any]:
    v = b.config.validation
    return {
        "upstream": b.upstream(adversarial.STAGE),
        "pool": {p.name: backend_identity(p.backend) for p in v.pool},
        "judge": b.judge_identity(),
        "min_refusals": v.min_refusals,
        "max_response_chars": v.max_response_chars,
    }


def _run(b: Build, query: str) -> Awaitable[ValidationRecord]:
    targets = {p.name: b.backend(f"target:{p.name}") for p in b.config.validation.pool}
    return validate_candidate(query, targets, b.judge(), b.config)


STAGE: Stage[str, ValidationRecord] = Stage(
    number=4, name="validation", record=ValidationRecord, fingerprint=_fingerprint, row=_run,
    items=lambda b: [(k, c.query) for k, c in b.ok(adversarial.STAGE).items()],
)  # fmt: skip
