"""Stage 2, entity graphs: the extractor turns each seed into a grounded entity graph.

The graph (node-link JSON, :mod:`falsereject.builder.graph`) keeps only entities whose
words occur in the seed; too few of them drops the seed after ``max_json_attempts``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from falsereject.builder.agents import agent_row, repair_prompt, seed_params
from falsereject.builder.config import BuilderConfig
from falsereject.builder.graph import build_graph, clean_graph, to_node_link
from falsereject.builder.parsing import ask_json
from falsereject.builder.prompts import PromptTemplate
from falsereject.builder.stage import Build, Record, Seed, Stage
from falsereject.llm import Backend
from falsereject.taxonomy import category_name


@dataclass(frozen=True, slots=True)
class GraphRecord(Record):
    graph: dict[str, Any]  # node-link JSON
    n_entities: int
    n_relations: int
    ungrounded: list[str]  # entity names the seed does not contain (dropped)
    attempts: int


async def extract_graph(
    seed: Seed, backend: Backend, template: PromptTemplate, config: BuilderConfig
) -> GraphRecord:
    """The seed's entity graph (validated, grounded)."""
    messages = template.messages(seed=seed.prompt, category=category_name(seed.category))

    def validate(obj: dict[str, Any]) -> dict[str, Any]:
        return clean_graph(
            obj,
            seed.prompt,
            min_entities=config.graph.min_entities,
            max_entities=config.graph.max_entities,
        )

    cleaned, attempts = await ask_json(
        backend, messages, validate, role="extractor", attempts=config.max_json_attempts,
        repair=repair_prompt(template), **seed_params(backend, seed.seed_id),
    )  # fmt: skip
    g = build_graph(cleaned)
    return GraphRecord(
        graph=to_node_link(g),
        n_entities=g.number_of_nodes(),
        n_relations=g.number_of_edges(),
        ungrounded=cleaned["dropped"],
        attempts=attempts,
    )


def _fingerprint(b: Build) -> dict[str, Any]:
    return {
        "template": b.templates["graph"].sha256,
        "extractor": b.identity("extractor"),
        "graph": dataclasses.asdict(b.config.graph),
        "json_attempts": b.config.max_json_attempts,
    }


STAGE: Stage[Seed, GraphRecord] = Stage(
    number=2, name="graph", record=GraphRecord, fingerprint=_fingerprint,
    items=lambda b: [(s.seed_id, s) for s in b.seeds], row=agent_row(extract_graph, "extractor", "graph"),
    templates=lambda c: {"graph": c.graph.template},
)  # fmt: skip
