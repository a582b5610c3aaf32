"""The release rows: each row kept by dedup, joined with its provenance from every stage,
and split into train and test by its id (:mod:`falsereject.builder.splits`).

The join reads the records of stages 2-6; stage 7 writes responses for the train rows, and
the release (:mod:`falsereject.builder.release`) turns rows into dataset rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any

from falsereject.builder import splits
from falsereject.builder.stage import Build
from falsereject.builder.stages import adversarial, dedup, graph, orchestrator, validation
from falsereject.builder.stages.adversarial import Round


@dataclass(frozen=True, slots=True)
class Row:
    """A benign-but-scary prompt with its provenance (the release's columns)."""

    id: str
    query: str
    category: int  # the orchestrator's final category
    seed_id: str
    source: str  # the seed's source
    strategy: str  # the graph view that steered the generator
    round_history: list[Round]
    refused_by: list[str]
    graph: dict[str, Any]  # the seed's entity graph, node-link JSON
    orchestrator_reason: str
    responses: dict[str, str] = field(default_factory=dict)  # kind (instruct/cot/tbr) -> text

    @property
    def rounds(self) -> int:
        return len(self.round_history)

    def with_responses(self, responses: dict[str, str]) -> Row:
        return replace(self, responses=responses)


def joined(b: Build) -> list[Row]:
    """Every row dedup kept, with its provenance; sorted by (category, id)."""
    graphs, cands = b.ok(graph.STAGE), b.ok(adversarial.STAGE)
    valid, decided = b.ok(validation.STAGE), b.ok(orchestrator.STAGE)
    rows = []
    for key, kept in b.ok(dedup.STAGE).items():
        seed, cand, decision = b.seed_of(key), cands[key], decided[key]
        rows.append(
            Row(
                id=kept.id,
                query=valid[key].query,
                category=decision.category,
                seed_id=seed.seed_id,
                source=seed.source,
                strategy=cand.steer.strategy,
                round_history=cand.rounds,
                refused_by=valid[key].refused_by,
                graph=graphs[seed.seed_id].graph,
                orchestrator_reason=decision.reason,
            )
        )
    rows.sort(key=lambda r: (r.category, r.id))
    return rows


def by_split(b: Build) -> dict[str, list[Row]]:
    """The joined rows grouped into ``train`` and ``test`` (computed once per build)."""
    return splits.assign(b.once(joined), b.config.split, id_of=attrgetter("id"))


def by_id(b: Build) -> dict[str, Row]:
    return {r.id: r for r in b.once(joined)}
