"""Stage 3, generator <-> discriminator: ``candidates_per_seed`` attempts per seed graph.

Each attempt gets its own view of the graph (:func:`falsereject.builder.graph.steer`); the
generator writes a benign query that reuses the graph's entities, the discriminator judges
whether it is harmful, only seemingly harmful or harmless and sends feedback, for up to
``max_rounds`` rounds. Every round is kept (the release's ``round_history``).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from falsereject.builder.agents import repair_prompt, seed_params
from falsereject.builder.config import BuilderConfig
from falsereject.builder.graph import entities_used, from_node_link, steer
from falsereject.builder.parsing import AgentOutputError, ask_json, require_str
from falsereject.builder.prompts import PromptTemplate
from falsereject.builder.stage import Build, Record, Seed, Stage
from falsereject.builder.stages import graph
from falsereject.dataset import normalise_prompt
from falsereject.llm import Backend
from falsereject.taxonomy import category_name

VERDICTS = ("harmful", "seemingly_harmful", "harmless")


@dataclass(frozen=True, slots=True)
class Attempt:
    """Attempt ``attempt`` of a seed: the item of this stage."""

    seed: Seed
    graph: dict[str, Any]  # node-link JSON
    attempt: int
    parsed: nx.MultiDiGraph | None = None  # the graph parsed, shared by a seed's attempts


@dataclass(frozen=True, slots=True)
class View(Record):
    """The view of the graph that steers an attempt (:func:`falsereject.builder.graph.steer`)."""

    strategy: str  # ego | path | context
    entities: list[str]
    text: str
    setting: str
    context: str | None = None  # the context strategy's setting

    def to_json(self) -> dict[str, Any]:
        data = Record.to_json(self)
        if self.context is None:
            del data["context"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> View:
        return cls(data["strategy"], data["entities"], data["text"], data["setting"], data.get("context"))


@dataclass(frozen=True, slots=True)
class Round(Record):
    """One generator query and the discriminator's verdict on it."""

    round: int
    query: str
    benign_reading: str
    entities_used: list[str]
    verdict: str
    feedback: str


@dataclass(frozen=True, slots=True)
class CandidateRecord(Record):
    query: str  # the accepted query (the last round's)
    steer: View
    rounds: list[Round]

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "steer": self.steer.to_json(),
            "rounds": [r.to_json() for r in self.rounds],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CandidateRecord:
        return cls(data["query"], View.from_json(data["steer"]), [Round.from_json(r) for r in data["rounds"]])


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
    item: Attempt,
    generator: Backend,
    discriminator: Backend,
    templates: dict[str, PromptTemplate],
    config: BuilderConfig,
) -> CandidateRecord:
    """Generator <-> discriminator rounds for one attempt of a seed.

    The candidate is accepted in the first round whose verdict is in ``adversarial.accept``
    (default ``seemingly_harmful``); every round (query, verdict, feedback) is kept.
    """
    seed, attempt = item.seed, item.attempt
    g = item.parsed if item.parsed is not None else from_node_link(item.graph)
    names = list(g.nodes)
    view = View.from_json(steer(g, seed.seed_id, attempt))
    category = category_name(seed.category)
    gen_t, disc_t = templates["generator"], templates["discriminator"]
    rounds: list[Round] = []
    for r in range(1, config.adversarial.max_rounds + 1):
        history = ""
        if rounds:
            lines = "\n".join(f'- "{x.query}" -> {x.verdict}: {x.feedback}' for x in rounds)
            history = gen_t.render("history", rounds=lines)
        values = {
            "seed": seed.prompt, "category": category, "entities": ", ".join(names),
            "strategy": view.strategy, "focus": view.text, "setting": view.setting,
            "focus_entities": ", ".join(view.entities[:3]), "history": history,
        }  # fmt: skip
        cand, _ = await ask_json(
            generator, gen_t.messages(**values), lambda o: _check_query(o, seed.prompt, names, config),
            role="generator", attempts=config.max_json_attempts, repair=repair_prompt(gen_t, **values),
            **seed_params(generator, seed.seed_id, attempt, r),
        )  # fmt: skip
        review, _ = await ask_json(
            discriminator, disc_t.messages(query=cand["query"], category=category), _check_verdict,
            role="discriminator", attempts=config.max_json_attempts, repair=repair_prompt(disc_t),
            **seed_params(discriminator, seed.seed_id, attempt, r),
        )  # fmt: skip
        rounds.append(Round(round=r, **cand, **review))
        if review["verdict"] in config.adversarial.accept:
            return CandidateRecord(query=cand["query"], steer=view, rounds=rounds)
    detail = f"discriminator verdict after {len(rounds)} round(s): {rounds[-1].verdict}"
    raise AgentOutputError(
        "not_accepted", detail, {"steer": view.to_json(), "rounds": [x.to_json() for x in rounds]}
    )


def _fingerprint(b: Build) -> dict[str, Any]:
    c, t = b.config, b.templates
    adversarial = {k: v for k, v in dataclasses.asdict(c.adversarial).items() if k != "candidates_per_seed"}
    return {
        "upstream": b.upstream(graph.STAGE),
        "generator": b.identity("generator"),
        "discriminator": b.identity("discriminator"),
        "templates": [t["generator"].sha256, t["discriminator"].sha256],
        "adversarial": adversarial,
        "json_attempts": c.max_json_attempts,
    }


def _items(b: Build) -> list[tuple[str, Attempt]]:
    """``<seed_id>.<k>`` for each attempt of each seed that has a graph (parsed once per seed)."""
    graphs = b.ok(graph.STAGE)
    items = []
    for s in b.seeds:
        if s.seed_id in graphs:
            data = graphs[s.seed_id].graph
            g = from_node_link(data)
            for k in range(b.config.adversarial.candidates_per_seed):
                items.append((f"{s.seed_id}.{k}", Attempt(s, data, k, g)))
    return items


def _run(b: Build, item: Attempt) -> Awaitable[CandidateRecord]:
    templates = {"generator": b.templates["generator"], "discriminator": b.templates["discriminator"]}
    return adversarial_candidate(
        item, b.backend("generator"), b.backend("discriminator"), templates, b.config
    )


STAGE: Stage[Attempt, CandidateRecord] = Stage(
    number=3, name="adversarial", record=CandidateRecord, fingerprint=_fingerprint, items=_items, row=_run,
    templates=lambda c: {
        "generator": c.adversarial.generator_template, "discriminator": c.adversarial.discriminator_template,
    },
)  # fmt: skip
