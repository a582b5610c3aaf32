"""Stage 6, dedup and leakage: one decision over all the orchestrator's rows at once.

Exact and near duplicates, copies of a seed and of the ``dedup.reference`` prompts are
dropped (:mod:`falsereject.builder.dedup`); the first of a group, in key order, is kept.
It is cheap and depends on every row, so it is redone on every run (a batch stage).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from falsereject.builder.dedup import dedup, load_reference_prompts
from falsereject.builder.stage import Build, Dropped, Record, Stage
from falsereject.builder.stages import orchestrator, validation
from falsereject.dataset import row_id


@dataclass(frozen=True, slots=True)
class Kept(Record):
    id: str  # the release row's id: a hash of the normalised query


def references(b: Build) -> list[str]:
    """The prompts of ``dedup.reference`` (loaded once per build: ``b.once(references)``)."""
    return load_reference_prompts(b.config.dedup.reference)


def _fingerprint(b: Build) -> dict[str, Any]:
    return {
        "upstream": b.upstream(orchestrator.STAGE),
        "dedup": dataclasses.asdict(b.config.dedup),
        "n_reference": len(b.once(references)),
    }


def _items(b: Build) -> list[tuple[str, str]]:
    valid = b.ok(validation.STAGE)
    return [(k, valid[k].query) for k in b.ok(orchestrator.STAGE)]


def _run(b: Build, items: list[tuple[str, str]]) -> dict[str, Kept | Dropped]:
    kept, dropped = dedup(
        [{"key": k, "query": q} for k, q in items],
        b.config.dedup,
        seeds=[s.prompt for s in b.seeds],
        references=b.once(references),
    )
    out: dict[str, Kept | Dropped] = {c["key"]: Kept(row_id(c["query"])) for c in kept}
    out.update((d["key"], Dropped(d["reason"], d["detail"])) for d in dropped)
    return out


STAGE: Stage[str, Kept] = Stage(
    number=6, name="dedup", record=Kept, fingerprint=_fingerprint, items=_items, batch=_run
)
