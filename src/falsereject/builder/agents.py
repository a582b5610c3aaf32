"""The LLM agents of stages 2, 3 and 5: entity extractor, generator, discriminator, orchestrator.

Each agent is a function of (row, backend, template, config) returning a plain dict that
becomes the row's stage record. Agents receive their backends; they never build clients.
An agent that gets no usable output raises :class:`AgentOutputError`; the stage runner
records the row as dropped with that reason and goes on.
"""

from __future__ import annotations

import difflib
import hashlib
from typing import Any

from falsereject.builder.config import BuilderConfig
from falsereject.builder.graph import (
    build_graph,
    clean_graph,
    entities_used,
    steer,
    to_node_link,
)
from falsereject.builder.parsing import AgentOutputError, as_bool, ask_json, require_str
from falsereject.builder.prompts import PromptTemplate
from falsereject.dataset import normalise_prompt
from falsereject.llm import Backend
from falsereject.taxonomy import CATEGORIES, category_name, resolve

VERDICTS = ("harmful", "seemingly_harmful", "harmless")
CATEGORY_LIST = "; ".join(f"{cid} {name}" for cid, name in CATEGORIES.items())


def _seed_params(backend: Backend, *parts: object) -> dict[str, Any]:
    """A per-request ``seed`` for sampled roles: reproducible samples, distinct per attempt."""
    if getattr(backend, "sampled", False):
        return {"seed": int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:7], 16)}
    return {}


def _repair(template: PromptTemplate, **values: object) -> str:
    """The template's ``repair`` section (its other placeholders filled); ``{error}`` stays for ask_json."""
    if not template.has("repair"):
        return "Your reply could not be used ({error}). Reply again with only the JSON object."
    return template.render("repair", **values, error="{error}")


async def extract_graph(
    seed: dict[str, Any], backend: Backend, template: PromptTemplate, config: BuilderConfig
) -> dict[str, Any]:
    """Stage 2: the seed's entity graph (validated, grounded) as node-link JSON."""
    messages = template.messages(seed=seed["prompt"], category=category_name(seed["category"]))

    def validate(obj: dict[str, Any]) -> dict[str, Any]:
        return clean_graph(
            obj,
            seed["prompt"],
            min_entities=config.graph.min_entities,
            max_entities=config.graph.max_entities,
        )

    cleaned, attempts = await ask_json(
        backend, messages, validate, role="extractor", attempts=config.max_json_attempts,
        repair=_repair(template), **_seed_params(backend, seed["seed_id"]),
    )  # fmt: skip
    g = build_graph(cleaned)
    return {
        "status": "ok",
        "graph": to_node_link(g),
        "n_entities": g.number_of_nodes(),
        "n_relations": g.number_of_edges(),
        "ungrounded": cleaned["dropped"],
        "attempts": attempts,
    }


def copies(query: str, seed: str) -> bool:
    """Is ``query`` (nearly) the seed itself: contained in it (or it in the query), or a
    word-sequence similarity >= 0.7 (a reworded opening, "safely" added...)?"""
    q, t = normalise_prompt(query), normalise_prompt(seed)
    if q in t or t in q:
        return True
    m = difflib.SequenceMatcher(None, q.split(), t.split(), autojunk=False)  # words: fast
    return m.real_quick_ratio() >= 0.7 and m.quick_ratio() >= 0.7 and m.ratio() >= 0.7


def _check_query(obj: dict[str, Any], seed: str, names: list[str], config: BuilderConfig) -> dict[str, Any]:
    query = require_str(obj, "query")
    query = query.strip().strip('"').strip()
    adv = config.adversarial
    if len(query.split()) < adv.min_query_words:
        raise ValueError(f'"query" is too short (fewer than {adv.min_query_words} words)')
    if len(query) > adv.max_query_chars:
        raise ValueError(f'"query" is too long (over {adv.max_query_chars} characters)')
    if copies(query, seed):
        raise ValueError('"query" repeats the harmful request; write a new, harmless one in your own words')
    used = entities_used(query, names)
    if adv.require_entity_reuse and not used:
        raise ValueError(f'"query" must reuse at least one of these entities: {", ".join(names[:8])}')
    return {
        "query": query,
        "benign_reading": str(obj.get("benign_reading") or "")[:400],
        "entities_used": used,
    }


def _check_verdict(obj: dict[str, Any]) -> dict[str, str]:
    verdict = str(obj.get("verdict") or "").strip().lower().replace(" ", "_").replace("-", "_")
    if verdict not in VERDICTS:
        raise ValueError(f'"verdict" must be one of {list(VERDICTS)}')
    return {"verdict": verdict, "feedback": str(obj.get("feedback") or "")[:500]}


async def adversarial_candidate(
    item: dict[str, Any],
    generator: Backend,
    discriminator: Backend,
    templates: dict[str, PromptTemplate],
    config: BuilderConfig,
) -> dict[str, Any]:
    """Stage 3: generator <-> discriminator rounds for attempt ``item['attempt']`` of a seed.

    The candidate is accepted in the first round whose verdict is in ``adversarial.accept``
    (default ``seemingly_harmful``);
    every round (query, verdict, feedback) is kept in ``rounds``.
    """
    from falsereject.builder.graph import from_node_link

    seed, attempt = item["seed"], item["attempt"]
    g = item.get("nx") or from_node_link(item["graph"])  # the pipeline parses each seed's graph once
    names = list(g.nodes)
    view = steer(g, seed["seed_id"], attempt)
    category = category_name(seed["category"])
    gen_t, disc_t = templates["generator"], templates["discriminator"]
    rounds: list[dict[str, Any]] = []
    for r in range(1, config.adversarial.max_rounds + 1):
        history = ""
        if rounds:
            lines = "\n".join(f'- "{x["query"]}" -> {x["verdict"]}: {x["feedback"]}' for x in rounds)
            history = gen_t.render("history", rounds=lines)
        values = {
            "seed": seed["prompt"], "category": category, "entities": ", ".join(names),
            "strategy": view["strategy"], "focus": view["text"], "setting": view["setting"],
            "focus_entities": ", ".join(view["entities"][:3]), "history": history,
        }  # fmt: skip
        cand, _ = await ask_json(
            generator, gen_t.messages(**values), lambda o: _check_query(o, seed["prompt"], names, config),
            role="generator", attempts=config.max_json_attempts, repair=_repair(gen_t, **values),
            **_seed_params(generator, seed["seed_id"], attempt, r),
        )  # fmt: skip
        review, _ = await ask_json(
            discriminator, disc_t.messages(query=cand["query"], category=category), _check_verdict,
            role="discriminator", attempts=config.max_json_attempts, repair=_repair(disc_t),
            **_seed_params(discriminator, seed["seed_id"], attempt, r),
        )  # fmt: skip
        rounds.append({"round": r, **cand, **review})
        if review["verdict"] in config.adversarial.accept:
            return {"status": "ok", "query": cand["query"], "steer": view, "rounds": rounds}
    last = rounds[-1]["verdict"]
    detail = f"discriminator verdict after {len(rounds)} round(s): {last}"
    raise AgentOutputError("not_accepted", detail, {"steer": view, "rounds": rounds})


def _check_decision(obj: dict[str, Any], category: int) -> dict[str, Any]:
    checks = {k: as_bool(obj, k) for k in ("benign", "useful", "over_refusal", "category_correct")}
    proposed = obj.get("category", category)
    try:
        proposed = resolve(proposed)
    except Exception:  # noqa: BLE001 - UserError for a bad id/name: keep the original
        proposed = category
    return {**checks, "category": proposed, "reason": str(obj.get("reason") or "")[:500]}


async def orchestrate(
    item: dict[str, Any], backend: Backend, template: PromptTemplate, config: BuilderConfig
) -> dict[str, Any]:
    """Stage 5: the final validity decision (benign, useful, over-refusal, category)."""
    cid = item["category"]
    messages = template.messages(
        query=item["query"], category=category_name(cid), category_id=cid,
        refused=len(item["refused_by"]), pool_size=len(config.validation.pool), categories=CATEGORY_LIST,
    )  # fmt: skip
    decision, _ = await ask_json(
        backend, messages, lambda o: _check_decision(o, cid), role="orchestrator",
        attempts=config.max_json_attempts, repair=_repair(template), **_seed_params(backend, item["key"]),
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
    return {
        "status": "ok",
        "category": final,
        "original_category": cid,
        "reason": decision["reason"],
        "checks": decision,
    }
