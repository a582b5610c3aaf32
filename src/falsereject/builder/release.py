"""Stage 8, release: rows -> annotation sheet -> configs -> manifest -> a Hub-ready folder (+ push).

Configs (see :mod:`falsereject.dataset`): ``instruct``/``cot``/``tbr`` (train rows, one
response column each), ``test`` (test-split prompts; only the annotators' agreed-benign rows
once labels are imported) and ``harmful`` (the seeds: genuinely harmful contrast prompts).
A config with no rows is left out (``datasets`` 5 cannot load an empty parquet split).
Every row also carries its provenance: ``seed_id``, ``source``, ``strategy`` (the graph
view that steered it), ``rounds`` and ``round_history`` (JSON: each generator query with the
discriminator's verdict and feedback), ``refused_by``, ``graph`` (node-link JSON) and
``orchestrator_reason``.

:func:`publish` does all of it at the end of a build; :func:`build_manifest` is the one
place the manifest is made. The folder is written next to the old one and swapped in, so a killed release never leaves
a half-written folder. ``push_to_hub`` uploads it with ``huggingface_hub`` (token from the
environment, e.g. ``HF_TOKEN``; never written anywhere).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from falsereject import __version__
from falsereject.builder import annotation
from falsereject.builder.config import BuilderConfig, models_manifest
from falsereject.builder.dedup import cross_leaks
from falsereject.builder.prompts import PromptTemplate
from falsereject.builder.report import Report
from falsereject.builder.rows import Row
from falsereject.builder.stage import Build, Seed
from falsereject.dataset import make_row, render_card, write_dataset_folder
from falsereject.errors import UserError

log = logging.getLogger("falsereject.builder")

PROVENANCE = (
    "seed_id",
    "source",
    "strategy",
    "rounds",
    "round_history",
    "refused_by",
    "graph",
    "orchestrator_reason",
)


def schema_row(row: Row, **extra: Any) -> dict[str, Any]:
    """A release row (:func:`falsereject.dataset.make_row`) from a build row and its provenance."""
    return make_row(
        row.query,
        row.category,
        "benign",
        id=row.id,
        seed_id=row.seed_id,
        source=row.source,
        strategy=row.strategy,
        rounds=row.rounds,
        refused_by=[str(x) for x in row.refused_by],
        graph=json.dumps(row.graph, sort_keys=True, ensure_ascii=False),
        round_history=json.dumps([r.to_json() for r in row.round_history], ensure_ascii=False),
        orchestrator_reason=row.orchestrator_reason,
        **extra,
    )


def release_configs(
    train: list[Row],
    test: list[Row],
    seeds: list[Seed],
    *,
    kinds: list[str],
    agreed_ids: set[str] | None,
    include_harmful: bool,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """config -> split -> rows. ``agreed_ids=None``: no annotation yet (all test rows, pending)."""
    configs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for kind in kinds:
        col = f"{kind}_response"
        configs[kind] = {"train": [schema_row(r, **{col: r.responses[kind]}) for r in train]}
    if agreed_ids is None:
        configs["test"] = {"test": [schema_row(r, annotation="pending") for r in test]}
    else:
        configs["test"] = {
            "test": [schema_row(r, annotation="agreed_benign") for r in test if r.id in agreed_ids]
        }
    if include_harmful:
        configs["harmful"] = {
            "test": [
                make_row(s.prompt, s.category, "harmful", seed_id=s.seed_id, source=s.source) for s in seeds
            ]
        }
    # `datasets` cannot load a parquet split with no rows: an empty config is left out
    # (the manifest lists it under `empty_configs`).
    return {c: splits for c, splits in configs.items() if all(splits.values())}


def build_manifest(
    config: BuilderConfig,
    counts: dict[str, dict[str, int]],
    report: dict[str, Any],
    *,
    complete: bool,
    judge: dict[str, Any],
    templates: dict[str, PromptTemplate],
    stage_folders: dict[str, str],
    usage: dict[str, Any],
    annotation: dict[str, Any],
    leaks: int,
) -> dict[str, Any]:
    """``manifest.json`` (less ``content_hash``, added when the folder is written)."""
    cfg = config
    return {
        "name": cfg.release.name,
        "version": cfg.release.version,
        "license": cfg.release.license,
        "builder": f"falsereject {__version__} (builders/falsereject.py)",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "complete": complete,
        "counts": counts,
        "empty_configs": [
            c
            for c in [*cfg.responses.kinds, "test", "harmful"]
            if c not in counts and (c != "harmful" or cfg.release.include_harmful_seeds)
        ],
        "models": models_manifest(cfg),
        "judge": judge,
        "prompt_templates": {n: {"file": t.path.name, "sha256": t.sha256} for n, t in templates.items()},
        "stage_folders": stage_folders,
        "report": report,
        "usage": usage,
        "annotation": annotation,
        "leakage": {"train_test_near_duplicates": leaks, "reference_prompts": len(cfg.dedup.reference)},
        "config": dataclasses.asdict(cfg),
    }


@dataclass
class Published:
    output_dir: Path
    manifest: dict[str, Any]
    report: dict[str, Any]
    counts: dict[str, dict[str, int]]


def publish(
    b: Build, train: list[Row], test: list[Row], report: Report, *, usage: dict[str, Any]
) -> Published:
    """The end of a build: annotation sheet and labels, configs, manifest, card, folder, push."""
    cfg = b.config
    sheet_rows = [schema_row(r) for r in test]
    sheet = annotation.export_sheet(
        sheet_rows, cfg.work_path / "annotation" / "sheet-blank.csv", cfg.annotation.annotators
    )
    labels = Path(cfg.annotation.labels or cfg.work_path / "annotation" / "labels.jsonl")
    agreed_ids, agree = annotation.apply_labels(sheet_rows, labels, sheet)
    for r in train:
        report.count(r.category, "accepted")
    for r in test:
        if agreed_ids is None or r.id in agreed_ids:
            report.count(r.category, "accepted")
    kinds = list(cfg.responses.kinds)
    configs = release_configs(
        train,
        test,
        b.seeds,
        kinds=kinds,
        agreed_ids=agreed_ids,
        include_harmful=cfg.release.include_harmful_seeds,
    )
    data = report.as_dict(len(train) + len(configs.get("test", {}).get("test", [])))
    counts = {c: {s: len(r) for s, r in sp.items()} for c, sp in configs.items()}
    manifest = build_manifest(
        cfg, counts, data, complete=report.pending == 0, judge=b.judge_identity(), templates=b.templates,
        stage_folders=b.folders, usage=usage, annotation=agree,
        leaks=cross_leaks([r.query for r in train], [r.query for r in test], cfg.dedup),
    )  # fmt: skip
    context = {"manifest": manifest, "report": data, "counts": counts, "kinds": kinds, "cfg": cfg}
    out = write_release(
        cfg.output_dir,
        configs,
        card_template=cfg.release.card_template,
        card_context=context,
        manifest=manifest,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    if cfg.release.push_to_hub:
        url = push_to_hub(out, cfg.release.push_to_hub, private=cfg.release.private)
        log.info("pushed to %s", url)
        manifest["pushed_to"] = url
    return Published(out, manifest, data, counts)


def write_release(
    out_dir: str | Path,
    configs: dict[str, Any],
    *,
    card_template: str,
    card_context: dict[str, Any],
    manifest: dict[str, Any],
) -> Path:
    """Render the card and write the folder; the previous folder is replaced in one swap."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise UserError(
            f"output_dir {out} exists and is not a falsereject dataset folder; choose another --output-dir"
        )
    card = render_card(card_template, **card_context)
    tmp = out.with_name(f".{out.name}.new")
    old = out.with_name(f".{out.name}.old")
    for p in (tmp, old):
        if p.exists():
            shutil.rmtree(p)
    write_dataset_folder(tmp, configs, card=card, manifest=manifest)
    content_address(tmp)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)
    return out


def content_address(folder: Path) -> None:
    """Put a digest of each parquet file into its name (and into the card's ``configs:``).

    ``datasets`` caches a local folder under a hash of its card's YAML, not of the files: a
    rebuilt folder with the same YAML (e.g. after importing annotations) would load the old,
    cached rows. With content in the file names, changed data means changed YAML.
    """
    import hashlib

    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8")
    end = text.index("\n---\n", 3) + 1
    header, body = text[:end], text[end:]
    for f in sorted((folder / "data").glob("*/*.parquet")):
        rel = f.relative_to(folder).as_posix()
        digest = hashlib.sha256(f.read_bytes()).hexdigest()[:12]
        new = f"{rel[: -len('.parquet')]}-{digest}.parquet"
        f.rename(folder / new)
        header = header.replace(f"path: {rel}\n", f"path: {new}\n")
    readme.write_text(header + body, encoding="utf-8")


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool = True) -> str:
    """Upload ``folder`` as dataset repo ``repo_id``; returns the repo URL."""
    import os

    from huggingface_hub import HfApi

    if not (os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")):
        from huggingface_hub import get_token

        if not get_token():
            raise UserError("--push-to-hub needs a Hugging Face token: set HF_TOKEN (or run `hf auth login`)")
    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="dataset",
            commit_message="falsereject builder release",
        )
    except Exception as exc:  # noqa: BLE001 - network, auth, permissions
        raise UserError(f"push to {repo_id} failed: {type(exc).__name__}: {str(exc)[:300]}") from None
    return f"https://huggingface.co/datasets/{repo_id}"
