"""Which prompts a run evaluates: read from a dataset folder or Hub id, or through a benchmark
entry (named, or mapped by hand); cut per category and by ``--limit``; labels checked before
anything is generated; and the warning for a run without harmful prompts."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from falsereject.dataset import load_rows
from falsereject.errors import UserError
from falsereject.evaluation.benchmarks import load_benchmark, looks_like, registry_version
from falsereject.files import json_sha256
from falsereject.scoring import parse_prompt_label

if TYPE_CHECKING:
    from falsereject.evaluation.harness import EvalConfig


def select_rows(config: EvalConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The prompts to evaluate, and per config its dataset info (``rows``: how many of them)."""
    rows, infos, _ = select(config)
    return rows, infos


def _read(
    config: EvalConfig,
) -> tuple[list[tuple[list[dict[str, Any]], dict[str, Any]]], dict[str, Any] | None]:
    """Per config (or benchmark part) its rows and info; and the benchmark record (None: none)."""
    bench = config.bench()
    if bench is None:
        return [
            load_rows(config.dataset, name, config.split, revision=config.revision) for name in config.configs
        ], None
    loaded = load_benchmark(
        bench,
        local=config.dataset if config.benchmark is not None else None,
        revision=config.revision,
    )
    for note in loaded.notes:
        print(f"note: {note}")
    record = {
        "name": bench.name,
        "title": bench.title,
        "source": loaded.source["path"],
        "hub": bench.hub,
        "local_copy": loaded.source["local"] and bench.package is None,
        "revision": loaded.source["revision"],
        "resolved_revision": loaded.source["resolved_revision"],
        "url": bench.url,
        "license": bench.license,
        "citation": bench.citation,
        "pair": bench.pair,
        "categories": loaded.categories,
        "registry_version": registry_version() if config.benchmark is not None else None,
        "mapping_sha256": json_sha256(bench.mapping()),
        "notes": loaded.notes,
    }
    return loaded.parts, record


def select(config: EvalConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any] | None]:
    """:func:`select_rows`, and the benchmark record of a run through a benchmark entry (with
    ``harmful_defined``: whether the source has harmful prompts, before --limit)."""
    rows, infos = [], []
    parts, record = _read(config)
    harmful_defined = False
    for name, (part, info) in zip(config.configs, parts, strict=True):
        in_split = len(part)
        for row in part:
            row["config"] = name
        harmful_defined = harmful_defined or any(_side(r) == "harmful" for r in part)
        k = config.per_category.get(name) if isinstance(config.per_category, dict) else config.per_category
        if k is not None:  # K of every category of every side (a part may hold both sides)
            by_cat: dict[Any, list[dict[str, Any]]] = {}
            for row in sorted(part, key=lambda r: str(r["id"])):
                by_cat.setdefault((_side(row), row.get("category")), []).append(row)
            part = [r for cat in sorted(by_cat, key=str) for r in by_cat[cat][:k]]
        rows.extend(part)
        infos.append({**info, "rows_in_split": in_split, "selected": len(part)})
    left_out: list[dict[str, Any]] = []
    if config.limit is not None:
        rows, left_out = rows[: config.limit], rows[config.limit :]
    counts = Counter(r["config"] for r in rows)
    for info in infos:
        info["rows"] = counts[info["config"]]
    if not rows:
        raise UserError("no prompts selected: check --dataset/--config/--split/--limit")
    for row in rows:  # before any generation: a bad label must not surface after an hour's work
        try:
            parse_prompt_label(row.get("prompt_label"))
        except UserError as exc:
            raise UserError(
                f"config {row['config']!r}, id {row['id']!r}: {exc} (eval scores benign and harmful "
                "prompts; this config holds other rows)"
            ) from None
    _note_sides_cut(rows, left_out)
    meta = {"harmful_defined": harmful_defined, "record": record}
    return rows, infos, meta


def _side(row: dict[str, Any]) -> str:
    """The side of a row (benign, harmful, controversial), "unlabelled" for a bad label (reported
    later, with its row)."""
    try:
        return parse_prompt_label(row.get("prompt_label"))
    except UserError:
        return "unlabelled"


def _note_sides_cut(rows: list[dict[str, Any]], left_out: list[dict[str, Any]]) -> None:
    """Say so when ``--limit`` (the first N prompts, in the source's order) cut a whole side away:
    such a run reports no figure for that side, and an ordered benchmark loses it quickly."""
    kept = {_side(r) for r in rows}
    lost = Counter(side for side in map(_side, left_out) if side not in kept)
    if lost:
        sides = ", ".join(f"{n} {s}" for s, n in sorted(lost.items()))
        print(
            f"note: --limit {len(rows)} keeps the first {len(rows)} prompts, all {', '.join(sorted(kept))}: "
            f"no {'/'.join(sorted(lost))} side is evaluated ({sides} prompts left out). "
            "--per-category K takes K prompts of every category of every side instead"
        )


def warn_one_sided(config: EvalConfig, rows: list[dict[str, Any]], meta: dict[str, Any]) -> str | None:
    """The warning for a run without harmful prompts (None: it has some)."""
    if meta["harmful_defined"]:
        return None
    record = meta["record"]
    only = "so this run measures over-refusal only, not safety"
    if config.benchmark is not None:
        pair = f": pair it with --benchmark {record['name']},{record['pair']}" if record.get("pair") else ""
        return f"note: benchmark {record['name']!r} has no harmful prompts as published, {only}{pair}"
    text = (
        "warning: no harmful side is defined: every prompt is scored as benign-but-scary, "
        f"{only}. Add --config harmful, or name the column that says which prompts are harmful with "
        "--label-column COLUMN --harmful-values VALUE[,VALUE...]"
    )
    columns = set(rows[0]) - {"config", "prompt_label", "category_text"} if rows else set()
    like = looks_like(columns) if config.dataset else None
    if like is not None:
        text += (
            f". This dataset has the published columns of {like.title} ({', '.join(sorted(columns))}): "
            f"--benchmark {like.name} --dataset {config.dataset} reads it with its published mapping"
        )
    return text
