"""Stage 1, seeds: harmful prompts with a category id, from the shipped file, a local file or the Hub.

Every seed becomes ``{"seed_id", "prompt", "category", "source"}``; ``seed_id`` is a hash of
the normalised prompt, so the same seed keeps its id (and its finished work) across runs,
sources and orderings. Exact duplicate prompts are merged (first source wins).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from falsereject.builder.config import SeedsConfig, SeedSource
from falsereject.dataset import row_id
from falsereject.errors import UserError
from falsereject.files import FORMATS, is_hub_id, read_rows
from falsereject.taxonomy import resolve

SHIPPED_SEEDS = Path(__file__).resolve().parents[1] / "data" / "sources" / "seeds.jsonl"


def _read_hub(source: SeedSource) -> list[dict[str, Any]]:
    from datasets import load_dataset

    try:
        ds = load_dataset(source.path, source.config_name, split=source.split, revision=source.revision)
    except Exception as exc:  # noqa: BLE001 - offline, gated, missing split...
        raise UserError(
            f"seeds: cannot load Hub dataset {source.path!r} (revision {source.revision}, split {source.split}): "
            f"{type(exc).__name__}: {str(exc)[:200]}. Check the id, log in for gated sets, or use a local file"
        ) from None
    return ds.to_list()


def read_source(source: SeedSource) -> list[dict[str, Any]]:
    """Raw rows of one source (before column/category mapping)."""
    if source.path == "shipped":
        return read_rows(SHIPPED_SEEDS, "seed file")
    local = Path(source.path)
    if local.exists():
        return read_rows(local, "seed file")
    if local.suffix.lower() in FORMATS or not is_hub_id(source.path):
        raise UserError(f"seeds: {source.path!r} is neither an existing file nor a Hub id ORG/NAME")
    return _read_hub(source)


def _matches(row: dict[str, Any], filters: dict[str, Any]) -> bool:
    for column, wanted in filters.items():
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if row.get(column) not in allowed:
            return False
    return True


def _text(value: Any) -> str:
    if isinstance(value, list):  # e.g. SORRY-Bench's `turns`
        value = value[0] if value else ""
    return str(value or "").strip()


def map_rows(source: SeedSource, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply column mapping, filters and category mapping; bad categories are UserErrors."""
    name = source.name or ("falsereject-seeds" if source.path == "shipped" else source.path)
    prompt_col = source.columns.get("prompt", "prompt")
    cat_col = source.columns.get("category", "category")
    if rows and prompt_col not in rows[0]:
        raise UserError(
            f"seeds {source.path}: no column {prompt_col!r} (columns: {sorted(rows[0])}); set columns.prompt"
        )
    out, unmapped = [], Counter()
    for row in rows:
        if not _matches(row, source.filters):
            continue
        prompt = _text(row.get(prompt_col))
        if not prompt:
            continue
        label = row.get(cat_col)
        label = source.default_category if label in (None, "") else label
        mapped = source.category_map.get(str(label), label) if source.category_map else label
        try:
            cid = resolve(mapped) if mapped is not None else None
        except UserError:
            cid = None
        if cid is None:
            unmapped[str(label)] += 1
            continue
        out.append(
            {"seed_id": row_id(prompt, prefix="seed"), "prompt": prompt, "category": cid, "source": name}
        )
    if unmapped:
        shown = ", ".join(f"{k!r} ({v})" for k, v in unmapped.most_common(8))
        raise UserError(
            f"seeds {source.path}: category label(s) {shown} are not categories 1-44; "
            "map them with category_map (label -> id or name) or set default_category"
        )
    return out


def load_seeds(config: SeedsConfig) -> list[dict[str, Any]]:
    """All seeds of all sources, deduplicated, filtered and capped, in a stable order."""
    seeds: dict[str, dict[str, Any]] = {}
    for source in config.sources:
        for seed in map_rows(source, read_source(source)):
            seeds.setdefault(seed["seed_id"], seed)
    rows = list(seeds.values())
    if config.categories:
        keep = {resolve(c) for c in config.categories}
        rows = [r for r in rows if r["category"] in keep]
    if config.per_category is not None:
        taken: Counter = Counter()
        capped = []
        for r in rows:
            if taken[r["category"]] < config.per_category:
                taken[r["category"]] += 1
                capped.append(r)
        rows = capped
    if config.limit is not None:
        rows = rows[: config.limit]
    if not rows:
        raise UserError(
            "seeds: no seed prompts left after loading and filtering; check seeds.sources and filters"
        )
    return rows
