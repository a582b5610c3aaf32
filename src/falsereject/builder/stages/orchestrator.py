"""Stage 5, orchestrator: the final decision on a validated candidate.

The orchestrator checks that the query is benign, useful and a clear over-refusal trigger,
and that its category is right (it may move it to another category when
``allow_recategorize``); the checks in ``orchestrator.require`` gate the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from falsereject.builder.agents import agent_row, repair_prompt, seed_params
from falsereject.builder.config import BuilderConfig
from falsereject.builder.parsing import AgentOutputError, as_bool, ask_json
from falsereject.builder.prompts import PromptTemplate
from falsereject.builder.stage import Build, Record, Stage
from falsereject.builder.stages import validation
from falsereject.llm import Backend
from falsereject.taxonomy import CATEGORIES, category_name, resolve

CATEGORY_LIST = "; ".join(f"{cid} {name}" for cid, name in CATEGORIES.items())


@dataclass(frozen=True, slots=True)
class Candidate:
    """A validated candidate: the item of this stage."""

    key: str
    query: str
    category: int
    refused_by: list[str]


@dataclass(frozen=True, slots=True)
class Decision(Record):
    category: int  # the final category
    original_category: int
    reason: str
    checks: dict[str, Any]  # benign, useful, over_refusal, category_correct, category, reason


def _check_decision(obj: dict[str, Any], category: int) -> dict[str, Any]:
    checks = {k: as_bool(obj, k) for k in ("benign", "useful", "over_refusal", "category_correct")}
    proposed = obj.get("category", category)
    try:
        proposed = resolve(proposed)
    except Exception:  # noqa: BLE001 - UserError for a bad id/name: keep the original
        proposed = category
    return {**checks, "category": proposed, "reason": str(obj.get("reason") or "")[:500]}


async def orchestrate(
    item: Candidate, backend: Backend, template: PromptTemplate, config: BuilderConfig
) -> Decision:
    """The final validity decision (benign, useful, over-refusal, category)."""
    cid = item.category
    messages = template.messages(
        query=item.query, category=category_name(cid), category_id=cid,
        refused=len(item.refused_by), pool_size=len(config.validation.pool), categories=CATEGORY_LIST,
    )  # fmt: skip
    decision, _ = await ask_json(
        backend, messages, lambda o: _check_decision(o, cid), role="orchestrator",
        attempts=config.max_json_attempts, repair=repair_prompt(template), **seed_params(backend, item.key),
    )  # fmt: skip
    final = cid
    if not decision["category_correct"]:
        if config.orchestrator.allow_recategorize and decision["category"] != cid:
            final = decision["category"]
        else:
            raise AgentOutputError(
                "orchestrator_rejected", f"category {cid} judged wrong: {decision['reason']}"
            )
    failed = [k for k in config.orchestrator.require if not decision[k]]
    if failed:
        raise AgentOutputError("orchestrator_rejected", f"not {', '.join(failed)}: {decision['reason']}")
    return Decision(category=final, original_category=cid, reason=decision["reason"], checks=decision)


def _fingerprint(b: Build) -> dict[str, Any]:
    c = b.config
    return {
        "upstream": b.upstream(validation.STAGE),
        "template": b.templates["orchestrator"].sha256,
        "orchestrator": b.identity("orchestrator"),
        "recategorize": c.orchestrator.allow_recategorize,
        "json_attempts": c.max_json_attempts,
    }


def _items(b: Build) -> list[tuple[str, Candidate]]:
    return [
        (k, Candidate(k, v.query, b.seed_of(k).category, v.refused_by))
        for k, v in b.ok(validation.STAGE).items()
    ]


STAGE: Stage[Candidate, Decision] = Stage(
    number=5, name="orchestrator", record=Decision, fingerprint=_fingerprint, items=_items,
    row=agent_row(orchestrate, "orchestrator", "orchestrator"),
    templates=lambda c: {"orchestrator": c.orchestrator.template},
)  # fmt: skip
