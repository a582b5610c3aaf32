"""The FalseReject build: seeds -> graphs -> generator/discriminator -> refusal validation ->
orchestrator -> dedup/leakage -> split -> responses -> annotation -> release.

``build(config)`` runs every stage that has work left and writes the dataset folder.
Stages run one after another; inside a stage every pending row is in flight at once, up
to ``max_concurrency`` LLM calls across all roles (:mod:`falsereject.builder.runner`).
Finished rows live in ``<work_dir>/<NN>-<stage>-<hash>/records.jsonl`` (append-only,
keyed by stable ids), so a killed run restarts where it stopped and ends with the rows an
uninterrupted run gives. Drops are logged with reasons in ``<work_dir>/build.log``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from falsereject import __version__
from falsereject.builder import agents, annotation, dedup, release, responses, splits, validation
from falsereject.builder.backends import CallBound, RoleBackends
from falsereject.builder.config import BuilderConfig, backend_identity, models_manifest
from falsereject.builder.graph import from_node_link
from falsereject.builder.prompts import load_template
from falsereject.builder.report import Report
from falsereject.builder.runner import run_stage
from falsereject.builder.seeds import load_seeds
from falsereject.builder.store import StageStore, fingerprint_hash
from falsereject.dataset import row_id
from falsereject.files import write_atomic
from falsereject.llm import Backend, run_sync

log = logging.getLogger("falsereject.builder")


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
        c = config
        names = {
            "graph": c.graph.template,
            "generator": c.adversarial.generator_template,
            "discriminator": c.adversarial.discriminator_template,
            "orchestrator": c.orchestrator.template,
            "instruct": c.responses.instruct_template,
            "cot": c.responses.cot_template,
            "tbr": c.responses.tbr_template,
        }
        self.templates = {role: load_template(name) for role, name in names.items()}
        self.stores: dict[str, str] = {}

    # -- helpers -------------------------------------------------------------------------
    def judge(self) -> Any:
        if self._judge is None:
            from falsereject.judge import get_judge

            backend = self.roles.get("judge") if self.config.validation.judge_model else None
            self._judge = get_judge(self.config.validation.judge, backend=backend)
        return self._judge

    def _identity(self, role: str) -> dict[str, Any]:
        return backend_identity(self.roles.config_of(role))

    def _judge_identity(self) -> dict[str, Any]:
        jm = self.config.validation.judge_model
        return {"judge": self.config.validation.judge, "model": backend_identity(jm) if jm else None}

    async def _stage(
        self,
        number: int,
        name: str,
        fingerprint: dict[str, Any],
        items,
        fn,
        report: Report,
        category_of,
        strip=(),
    ):
        store = StageStore(self.work, number, name, {"stage": name, **fingerprint})
        self.stores[name] = store.dir.name
        try:
            run = await run_stage(
                store,
                items,
                fn,
                workers=self.config.row_workers,
                progress=self.config.progress,
                max_errors=self.config.max_errors,
            )
        finally:
            store.close()
        records = {}
        for rec in store.records({k for k, _ in items}):
            for f in strip:
                rec.pop(f, None)
            records[rec["key"]] = rec
        report.add(name, len(items), list(records.values()), category_of, run)
        if run.errors:
            log.warning(
                "stage %s: %d row(s) failed and stay pending (rerun to retry): %s",
                name,
                run.errors,
                run.error_samples,
            )
        return store, {k: r for k, r in records.items() if r["status"] == "ok"}

    # -- the run -------------------------------------------------------------------------
    async def arun(self) -> BuildResult:
        cfg, t = self.config, self.templates
        start = time.perf_counter()
        self.work.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.work / "build.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        self.bound = CallBound(cfg.max_concurrency)
        self.roles = RoleBackends(cfg, self.bound, self.providers)
        try:
            return await self._run(cfg, t, start)
        finally:
            await self.roles.aclose()
            log.removeHandler(handler)
            handler.close()

    async def _run(self, cfg: BuilderConfig, t, start: float) -> BuildResult:
        report, roles = Report(), self.roles
        # 1. seeds
        seeds = load_seeds(cfg.seeds)
        write_atomic(self.work / "01-seeds.jsonl", _jsonl(seeds))
        seed_by_id = {s["seed_id"]: s for s in seeds}
        for s in seeds:
            report.count(s["category"], "seeds")

        def cat_of_key(rec: dict[str, Any]) -> int:
            return seed_by_id[rec["key"].split(".")[0]]["category"]

        # 2. entity graphs
        fp = {
            "template": t["graph"].sha256,
            "extractor": self._identity("extractor"),
            "graph": dataclasses.asdict(cfg.graph),
            "json_attempts": cfg.max_json_attempts,
        }
        store, graphs = await self._stage(
            2, "graph", fp, [(s["seed_id"], s) for s in seeds],
            lambda s: agents.extract_graph(s, roles.get("extractor"), t["graph"], cfg), report, cat_of_key,
        )  # fmt: skip
        # 3. generator <-> discriminator
        adv_cfg = {k: v for k, v in dataclasses.asdict(cfg.adversarial).items() if k != "candidates_per_seed"}
        fp = {
            "upstream": store.hash, "generator": self._identity("generator"), "discriminator": self._identity("discriminator"),
            "templates": [t["generator"].sha256, t["discriminator"].sha256], "adversarial": adv_cfg, "json_attempts": cfg.max_json_attempts,
        }  # fmt: skip
        items = []
        for s in seeds:
            if s["seed_id"] in graphs:
                data = graphs[s["seed_id"]]["graph"]
                g = from_node_link(data)
                for k in range(cfg.adversarial.candidates_per_seed):
                    items.append((f"{s['seed_id']}.{k}", {"seed": s, "graph": data, "nx": g, "attempt": k}))
        templates = {"generator": t["generator"], "discriminator": t["discriminator"]}
        store, cands = await self._stage(
            3, "adversarial", fp, items,
            lambda it: agents.adversarial_candidate(it, roles.get("generator"), roles.get("discriminator"), templates, cfg),
            report, cat_of_key,
        )  # fmt: skip
        # 4. refusal validation
        pool = {p.name: p for p in cfg.validation.pool}
        fp = {
            "upstream": store.hash, "pool": {n: backend_identity(p.backend) for n, p in pool.items()},
            "judge": self._judge_identity(), "min_refusals": cfg.validation.min_refusals,
            "max_response_chars": cfg.validation.max_response_chars,
        }  # fmt: skip
        items = [(k, {"query": c["query"]}) for k, c in cands.items()]

        async def validate(it: dict[str, Any]) -> dict[str, Any]:
            targets = {n: roles.get(f"target:{n}") for n in pool}
            return await validation.validate_candidate(it, targets, self.judge(), cfg)

        store, valid = await self._stage(
            4, "validation", fp, items, validate, report, cat_of_key, strip=("responses",)
        )
        # 5. orchestrator
        fp = {"upstream": store.hash, "template": t["orchestrator"].sha256, "orchestrator": self._identity("orchestrator"),
              "recategorize": cfg.orchestrator.allow_recategorize, "json_attempts": cfg.max_json_attempts}  # fmt: skip
        items = [
            (k, {"key": k, "query": v["query"], "category": cat_of_key(v), "refused_by": v["refused_by"]})
            for k, v in valid.items()
        ]
        store, decided = await self._stage(
            5, "orchestrator", fp, items,
            lambda it: agents.orchestrate(it, roles.get("orchestrator"), t["orchestrator"], cfg), report, cat_of_key,
        )  # fmt: skip
        # 6. dedup + leakage
        references = dedup.load_reference_prompts(cfg.dedup.reference)
        candidates = [
            {"key": k, "query": valid[k]["query"], "category": d["category"]} for k, d in decided.items()
        ]
        kept, dropped = dedup.dedup(
            candidates, cfg.dedup, seeds=[s["prompt"] for s in seeds], references=references
        )
        fp = {"upstream": store.hash, "dedup": dataclasses.asdict(cfg.dedup), "n_reference": len(references)}
        dedup_dir = self.work / f"06-dedup-{fingerprint_hash(fp)}"
        dedup_dir.mkdir(parents=True, exist_ok=True)
        self.stores["dedup"] = dedup_dir.name
        decisions = [{"key": c["key"], "status": "ok", "id": row_id(c["query"])} for c in kept] + dropped
        write_atomic(dedup_dir / "records.jsonl", _jsonl(sorted(decisions, key=lambda r: r["key"])))
        report.add("dedup", len(candidates), decisions, cat_of_key)
        # 6b. join each row's provenance; split by row id
        rows = []
        for c in kept:
            k, seed = c["key"], seed_by_id[c["key"].split(".")[0]]
            rows.append({
                "id": row_id(c["query"]), "query": c["query"], "category": c["category"], "seed_id": seed["seed_id"],
                "source": seed["source"], "strategy": cands[k]["steer"]["strategy"], "rounds": len(cands[k]["rounds"]),
                "round_history": cands[k]["rounds"],
                "refused_by": valid[k]["refused_by"], "graph": graphs[seed["seed_id"]]["graph"],
                "orchestrator_reason": decided[k]["reason"],
            })  # fmt: skip
        rows.sort(key=lambda r: (r["category"], r["id"]))
        by_split = splits.assign(rows, cfg.split)
        cat_of_id = {r["id"]: r["category"] for r in rows}
        # 7. responses (train rows only: the test split is prompts only)
        kinds = list(cfg.responses.kinds)
        fp = {
            "responder": self._identity("responder"), "templates": {k: t[k].sha256 for k in kinds},
            "responses": dataclasses.asdict(cfg.responses), "judge": self._judge_identity() if cfg.responses.drop_refusals else None,
        }  # fmt: skip
        items = [(r["id"], {"query": r["query"]}) for r in by_split["train"]] if kinds else []
        rtemplates = {k: t[k] for k in kinds}
        _, answered = await self._stage(
            7, "responses", fp, items,
            lambda it: responses.write_responses(it, roles.get("responder"), rtemplates, self.judge(), cfg),
            report, lambda rec: cat_of_id[rec["key"]],
        )  # fmt: skip
        train = [
            {**r, **answered.get(r["id"], {})} for r in by_split["train"] if r["id"] in answered or not kinds
        ]
        test = by_split["test"]
        # 8. annotation + release
        return self._release(cfg, seeds, train, test, report, start)

    def _release(self, cfg: BuilderConfig, seeds, train, test, report: Report, start: float) -> BuildResult:
        sheet = annotation.export_sheet(
            [release.schema_row(r) for r in test],
            self.work / "annotation" / "sheet-blank.csv",
            cfg.annotation.annotators,
        )
        agreed_ids, agree = annotation.apply_labels(
            test, Path(cfg.annotation.labels or self.work / "annotation" / "labels.jsonl"), sheet
        )
        for r in train:
            report.count(r["category"], "accepted")
        for r in test:
            if agreed_ids is None or r["id"] in agreed_ids:
                report.count(r["category"], "accepted")
        kinds = list(cfg.responses.kinds)
        configs = release.release_configs(
            train,
            test,
            seeds,
            kinds=kinds,
            agreed_ids=agreed_ids,
            include_harmful=cfg.release.include_harmful_seeds,
        )
        accepted = len(train) + len(configs.get("test", {}).get("test", []))
        data = report.as_dict(accepted)
        counts = {c: {s: len(r) for s, r in sp.items()} for c, sp in configs.items()}
        manifest = {
            "name": cfg.release.name,
            "version": cfg.release.version,
            "license": cfg.release.license,
            "builder": f"falsereject {__version__} (builders/falsereject.py)",
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "complete": report.pending == 0,
            "counts": counts,
            "empty_configs": [
                c
                for c in [*kinds, "test", "harmful"]
                if c not in counts and (c != "harmful" or cfg.release.include_harmful_seeds)
            ],
            "models": models_manifest(cfg),
            "judge": self._judge_identity(),
            "prompt_templates": {
                n: {"file": tpl.path.name, "sha256": tpl.sha256} for n, tpl in self.templates.items()
            },
            "stage_folders": self.stores,
            "report": data,
            "usage": {
                "this_run": self.roles.usage(),
                "bound": {"max_concurrency": self.bound.limit, "peak_in_flight": self.bound.peak},
            },
            "annotation": agree,
            "leakage": {
                "train_test_near_duplicates": dedup.cross_leaks(
                    [r["query"] for r in train], [r["query"] for r in test], cfg.dedup
                ),
                "reference_prompts": len(cfg.dedup.reference),
            },
            "config": dataclasses.asdict(cfg),
        }
        context = {"manifest": manifest, "report": data, "counts": counts, "kinds": kinds, "cfg": cfg}
        out = release.write_release(
            cfg.output_dir,
            configs,
            card_template=cfg.release.card_template,
            card_context=context,
            manifest=manifest,
        )
        manifest = json.loads((out / "manifest.json").read_text())
        if cfg.release.push_to_hub:
            url = release.push_to_hub(out, cfg.release.push_to_hub, private=cfg.release.private)
            log.info("pushed to %s", url)
            manifest["pushed_to"] = url
        return BuildResult(out, manifest, data, Report.render(data), counts, time.perf_counter() - start)

    def run(self) -> BuildResult:
        return run_sync(self.arun())


def build(
    config: BuilderConfig, *, providers: dict[str, Backend] | None = None, judge: Any = None
) -> BuildResult:
    """Run (or resume) the whole build for ``config``; returns the folder, manifest and report."""
    return Pipeline(config, providers=providers, judge=judge).run()
