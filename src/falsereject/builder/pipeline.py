"""The FalseReject build: seeds -> graphs -> generator/discriminator -> refusal validation ->
orchestrator -> dedup/leakage -> split -> responses -> annotation -> release.

``build(config)`` runs every stage of :data:`STAGES` in order, each where it has work left,
then writes the dataset folder (:func:`falsereject.builder.release.publish`). Each stage is
declared in its own module (:mod:`falsereject.builder.stages`; the
:class:`~falsereject.builder.stage.Stage` type says what a declaration holds). Inside a
stage every pending row is in flight at once, up to ``max_concurrency`` LLM calls across all
roles (:mod:`falsereject.builder.runner`). Finished rows live in
``<work_dir>/<NN>-<stage>-<hash>/records.jsonl`` (append-only, keyed by stable ids), so a
killed run restarts where it stopped and ends with the rows an uninterrupted run gives.
Drops are logged with reasons in ``<work_dir>/build.log``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from falsereject.builder import release
from falsereject.builder.backends import RoleBackendPool
from falsereject.builder.config import BuilderConfig
from falsereject.builder.prompts import load_template
from falsereject.builder.report import Outcome, Report
from falsereject.builder.runner import StageRun, run_stage
from falsereject.builder.seeds import load_seeds
from falsereject.builder.stage import Build, Dropped, Seed, Stage
from falsereject.builder.stages import adversarial, dedup, graph, orchestrator, responses, validation
from falsereject.builder.store import StageStore, fingerprint_hash
from falsereject.files import write_atomic
from falsereject.llm import Backend, ConcurrencyLimit, run_sync

log = logging.getLogger("falsereject.builder")

#: the stages, in the order they run (a stage reads only the records of stages before it)
STAGES: tuple[Stage[Any, Any], ...] = (
    graph.STAGE,
    adversarial.STAGE,
    validation.STAGE,
    orchestrator.STAGE,
    dedup.STAGE,
    responses.STAGE,
)
#: what the release takes from the stages: (train rows with their responses, test rows)
RELEASE_ROWS = responses.release_rows


@dataclass
class BuildResult:
    output_dir: Path
    manifest: dict[str, Any]
    report: dict[str, Any]
    report_text: str
    counts: dict[str, dict[str, int]]
    seconds: float


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True, default=str) + "\n" for r in rows)


class Pipeline:
    def __init__(
        self, config: BuilderConfig, *, providers: dict[str, Backend] | None = None, judge: Any = None
    ):
        self.config = config
        self.providers = providers
        self._judge = judge
        self.work = config.work_path
        names = {role: name for stage in STAGES for role, name in stage.templates(config).items()}
        self.templates = {role: load_template(name) for role, name in names.items()}

    async def arun(self) -> BuildResult:
        start = time.perf_counter()
        self.work.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.work / "build.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        self.bound = ConcurrencyLimit(self.config.max_concurrency)
        self.roles = RoleBackendPool(self.config, self.bound, self.providers)
        try:
            return await self._run(start)
        finally:
            await self.roles.aclose()
            log.removeHandler(handler)
            handler.close()

    async def _run(self, start: float) -> BuildResult:
        seeds = [Seed.from_json(s) for s in load_seeds(self.config.seeds)]
        write_atomic(self.work / "01-seeds.jsonl", _jsonl([s.to_json() for s in seeds]))
        b = Build(self.config, self.roles, self.templates, seeds, judge=self._judge)
        report = Report()
        for s in seeds:
            report.count(s.category, "seeds")
        for stage in STAGES:
            await self._stage(stage, b, report)
        train, test = RELEASE_ROWS(b)
        usage = {
            "this_run": self.roles.usage(),
            "bound": {"max_concurrency": self.bound.limit, "peak_in_flight": self.bound.peak},
        }
        done = release.publish(b, train, test, report, usage=usage)
        return BuildResult(
            done.output_dir,
            done.manifest,
            done.report,
            Report.render(done.report),
            done.counts,
            time.perf_counter() - start,
        )

    async def _stage(self, stage: Stage[Any, Any], b: Build, report: Report) -> None:
        """Run one stage, read its records back (typed) into ``b`` and count them in ``report``."""
        items = stage.items(b)
        run = None
        if stage.row is not None:
            store, run = await self._rows(stage, b, items)
            folder, digest, lines = store.dir.name, store.hash, store.records({k for k, _ in items})
        else:
            folder, digest, lines = self._batch(stage, b, items)
        ok: dict[str, Any] = {}
        outcomes = []
        for line in lines:  # streamed: a line's on-disk-only fields are never all in memory at once
            outcomes.append(Outcome.of(stage.category(b, line["key"]), line))
            if line["status"] == "ok":
                ok[line["key"]] = stage.record.from_json(line)
        report.add(stage.name, len(items), outcomes, run)
        b.finish(stage, folder, digest, ok)

    async def _rows(
        self, stage: Stage[Any, Any], b: Build, items: list[tuple[str, Any]]
    ) -> tuple[StageStore, StageRun]:
        """Run a row stage on its items that have no record yet (resumable row by row)."""
        store = StageStore(self.work, stage.number, stage.name, {"stage": stage.name, **stage.fingerprint(b)})
        row = stage.row
        try:
            run = await run_stage(
                store,
                items,
                lambda item: row(b, item),
                workers=self.config.row_workers,
                progress=self.config.progress,
                max_errors=self.config.max_errors,
            )
        finally:
            store.close()
        if run.errors:
            log.warning(
                "stage %s: %d row(s) failed and stay pending (rerun to retry): %s",
                stage.name,
                run.errors,
                run.error_samples,
            )
        return store, run

    def _batch(
        self, stage: Stage[Any, Any], b: Build, items: list[tuple[str, Any]]
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """Decide all items at once and rewrite the stage's records (redone on every run)."""
        # hashed without the "stage" key a row stage's folder has: the names of existing folders stay
        digest = fingerprint_hash(stage.fingerprint(b))
        folder = self.work / f"{stage.number:02d}-{stage.name}-{digest}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for key, result in sorted(stage.batch(b, items).items()):
            if isinstance(result, Dropped):
                lines.append(
                    {"key": key, "status": "dropped", "reason": result.reason, "detail": result.detail}
                )
            else:
                lines.append({"key": key, "status": "ok", **result.to_json()})
        write_atomic(folder / "records.jsonl", _jsonl(lines))
        return folder.name, digest, lines

    def run(self) -> BuildResult:
        return run_sync(self.arun())


def build(
    config: BuilderConfig, *, providers: dict[str, Backend] | None = None, judge: Any = None
) -> BuildResult:
    """Run (or resume) the whole build for ``config``; returns the folder, manifest and report."""
    return Pipeline(config, providers=providers, judge=judge).run()
