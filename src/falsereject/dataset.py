"""The release's row schema and its Hub-ready folder format (one module for builders and sample).

A FalseReject dataset is a folder (or Hub repo) that ``datasets.load_dataset`` reads with no
loading script::

    README.md                      dataset card; its YAML ``configs:`` names every config/split
    manifest.json                  version, content hash, counts, builder config, models, usage
    data/<config>/<split>.parquet  one parquet file per (config, split)

Configs and their columns (every config also has ``id``, ``prompt``, ``category``,
``category_text``, ``prompt_label``):

=========  ======================================================================
instruct   ``instruct_response`` (structured, context-aware answer)      train
cot        ``cot_response`` (``<think>...</think>`` then the same answer)  train
tbr        ``tbr_response`` (Think-Before-Refusal reflection, then answer) train
test       benign-but-scary prompts (human-annotated in the full release)  test
harmful    genuinely harmful contrast prompts (safety side of the eval)    test
=========  ======================================================================

Extra columns (provenance: seed, graph, rounds, refusing models...) are allowed and kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from falsereject.errors import UserError
from falsereject.files import is_hub_id
from falsereject.taxonomy import category_name, resolve

BASE_COLUMNS = ("id", "prompt", "category", "category_text", "prompt_label")
CONFIG_COLUMNS: dict[str, tuple[str, ...]] = {
    "instruct": (*BASE_COLUMNS, "instruct_response"),
    "cot": (*BASE_COLUMNS, "cot_response"),
    "tbr": (*BASE_COLUMNS, "tbr_response"),
    "test": BASE_COLUMNS,
    "harmful": BASE_COLUMNS,
}
PROMPT_LABELS = ("benign", "harmful", "general")
REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = Path(__file__).parent / "data" / "falsereject_sample"


def normalise_prompt(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def row_id(prompt: str, prefix: str = "fr") -> str:
    """A stable id: a hash of the normalised prompt (same prompt -> same id, everywhere)."""
    return f"{prefix}-{hashlib.sha256(normalise_prompt(prompt).encode()).hexdigest()[:16]}"


def make_row(
    prompt: str, category: int | str | None, prompt_label: str = "benign", **extra: Any
) -> dict[str, Any]:
    """A schema row; ``category`` may be an id, a name, or None for general rows."""
    if prompt_label not in PROMPT_LABELS:
        raise UserError(f"prompt_label {prompt_label!r}: expected one of {PROMPT_LABELS}")
    cid = resolve(category) if category is not None else None
    return {
        "id": extra.pop("id", None) or row_id(prompt),
        "prompt": prompt,
        "category": cid,
        "category_text": category_name(cid) if cid is not None else "",
        "prompt_label": prompt_label,
        **extra,
    }


def content_hash(configs: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    digest = hashlib.sha256()
    for config in sorted(configs):
        for split in sorted(configs[config]):
            for row in configs[config][split]:
                digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode())
    return digest.hexdigest()


def _check_rows(config: str, rows: list[dict[str, Any]]) -> None:
    need = CONFIG_COLUMNS.get(config, BASE_COLUMNS)
    for i, row in enumerate(rows):
        missing = [c for c in need if c not in row]
        if missing:
            raise UserError(f"config {config!r} row {i}: missing column(s) {missing}")


def write_dataset_folder(
    out_dir: str | Path,
    configs: dict[str, dict[str, list[dict[str, Any]]]],
    *,
    card: str,
    manifest: dict[str, Any],
) -> Path:
    """Write parquet shards + README card (with YAML ``configs:``) + manifest.json.

    ``configs`` maps config -> split -> rows. ``card`` is the card's markdown body; the
    YAML header is generated here so that it always matches the files written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    yaml_configs = []
    for config, splits in configs.items():
        data_files = []
        for split, rows in splits.items():
            _check_rows(config, rows)
            rel = f"data/{config}/{split}.parquet"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            table = (
                pa.Table.from_pylist(rows)
                if rows
                else pa.table({c: [] for c in CONFIG_COLUMNS.get(config, BASE_COLUMNS)})
            )
            pq.write_table(table, out / rel, compression="zstd")
            data_files.append({"split": split, "path": rel})
        yaml_configs.append({"config_name": config, "data_files": data_files})
    import yaml

    header = yaml.safe_dump(
        {
            "license": manifest.get("license", "cc-by-4.0"),
            "language": ["en"],
            "task_categories": ["text-generation"],
            "tags": ["over-refusal", "safety", "alignment", "falsereject"],
            "configs": yaml_configs,
        },
        sort_keys=False,
    )
    (out / "README.md").write_text(f"---\n{header}---\n\n{card.strip()}\n", encoding="utf-8")
    manifest = {**manifest, "content_hash": content_hash(configs)}
    manifest.setdefault("counts", {c: {s: len(r) for s, r in sp.items()} for c, sp in configs.items()})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
    return out


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The ``manifest.json`` of a dataset folder (version, content hash, counts...), if it has one."""
    manifest = Path(folder) / "manifest.json"
    return json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else None


def render_card(template: str, **context: Any) -> str:
    """Render ``dataset_cards/<template>`` (Jinja2) with ``context``."""
    import jinja2

    folder = REPO_ROOT / "dataset_cards"
    if not (folder / template).is_file():
        raise UserError(f"card template {folder / template} not found (run from a checkout of the repo)")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder), keep_trailing_newline=True, undefined=jinja2.StrictUndefined
    )
    return env.get_template(template).render(**context)


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a library's error log for a call whose failure is raised as one clear message."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


#: what to do when the Hub cannot be reached, in each harness that reads datasets
LOCAL_COPY_HINT = (
    "No Hub access here? Download a copy of the repository and give its folder instead "
    '(falsereject eval --dataset DIR; lm_eval --metadata \'{"dataset": "DIR"}\'; inspect eval -T dataset=DIR)'
)


def read_split(
    path: str,
    config: str | None,
    split: str,
    *,
    revision: str | None = None,
    data_files: list[str] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and column names of one split, read with ``datasets.load_dataset``.

    ``path`` is a local folder or a Hub id; ``config`` a config its card declares, or
    ``None`` with ``data_files`` (paths inside ``path``) for a repository whose card declares
    none. Errors (unreadable file, unknown split, missing files, zero rows) are one
    :class:`UserError` naming the dataset, config and split.
    """
    from datasets import load_dataset
    from datasets.exceptions import DatasetGenerationError

    local = Path(path)
    part = f"config {config!r}" if config is not None else f"files {', '.join(data_files or [])}"
    where = f"dataset {path!r} {part} split {split!r}"
    # A local folder is read through a throw-away cache: datasets 5.2 keys the cache of a
    # README-declared config by its name only, so a folder rebuilt in place would otherwise
    # be served stale (and fail its split-size check). These folders are small.
    with tempfile.TemporaryDirectory(prefix="falsereject-ds-") as tmp:
        kwargs: dict[str, Any] = {"cache_dir": tmp, "keep_in_memory": True} if local.exists() else {}
        if data_files is not None:
            kwargs["data_files"] = {split: list(data_files)}
        try:
            with _quiet("datasets"):  # a file it cannot read: logged, then raised (reported below)
                ds = load_dataset(path, config, split=split, revision=revision, **kwargs)
        except ValueError as exc:
            raise UserError(f"dataset {path!r} {part}: {exc}") from None
        except FileNotFoundError as exc:
            raise UserError(f"{where}: {str(exc)[:300]}") from None
        except ConnectionError as exc:  # datasets: no network, or offline mode and not in its cache
            raise UserError(f"{where}: {str(exc)[:200]}. {LOCAL_COPY_HINT}") from None
        except DatasetGenerationError as exc:
            cause = exc.__cause__ or exc
            if "BatchSize must be greater than 0" in str(cause):  # pyarrow on a zero-row parquet file
                raise UserError(
                    f"{where} has no rows: there is nothing to evaluate (check its data file)"
                ) from None
            raise UserError(f"{where} cannot be read: {type(cause).__name__}: {str(cause)[:200]}") from None
        rows, columns = ds.to_list(), ds.column_names
    if not rows:
        raise UserError(f"{where} has no rows: there is nothing to evaluate (check its data file)")
    return rows, columns


def load_rows(
    dataset: str | Path | None, config: str, split: str, *, revision: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Load (rows, info) of ``config``/``split`` from a folder or Hub id with ``load_dataset``.

    ``dataset=None`` is the shipped sample. ``info`` has the dataset path, version and hash.
    """
    from datasets import get_dataset_config_names

    path = str(dataset) if dataset else str(SAMPLE_DIR)
    local = Path(path)
    if dataset and not local.exists() and not is_hub_id(path):
        raise UserError(f"dataset {path!r}: no such folder, and not a Hub id of the form ORG/NAME")
    try:
        names = get_dataset_config_names(path)
    except Exception as exc:  # noqa: BLE001 - network, missing repo, bad card
        raise UserError(f"cannot open dataset {path!r}: {type(exc).__name__}: {str(exc)[:200]}") from None
    if config not in names:
        raise UserError(f"dataset {path!r} has no config {config!r}; available: {', '.join(names)}")
    where = f"dataset {path!r} config {config!r} split {split!r}"
    rows, columns = read_split(path, config, split, revision=revision)
    if "prompt" not in columns:
        raise UserError(f"dataset {path!r} config {config!r} has no column 'prompt' (columns: {columns})")
    info: dict[str, Any] = {"path": path, "config": config, "split": split, "revision": revision}
    if manifest := read_manifest(local):
        info.update(version=manifest.get("version"), content_hash=manifest.get("content_hash"))
    first_row_of: dict[Any, int] = {}
    duplicates: list[str] = []
    for i, row in enumerate(rows):
        prompt = row["prompt"]
        if not isinstance(prompt, str):
            got = "null" if prompt is None else f"{type(prompt).__name__} {str(prompt)[:40]!r}"
            raise UserError(f"{where} row {i}: column 'prompt' is {got}; every prompt must be text")
        if not prompt.strip():
            raise UserError(f"{where} row {i}: empty prompt")
        if row.get("id") in (None, ""):
            row["id"] = row_id(prompt)
        first = first_row_of.setdefault(row["id"], i)
        if first != i:
            duplicates.append(f"id {row['id']!r} on rows {first} and {i}")
        row.setdefault("prompt_label", "harmful" if config == "harmful" else "benign")
        if row.get("category") is not None:
            row["category"] = resolve(row["category"])
    if duplicates:
        more = f" (and {len(duplicates) - 5} more)" if len(duplicates) > 5 else ""
        raise UserError(
            f"{where}: column 'id' repeats: {'; '.join(duplicates[:5])}{more}. Every row needs its own "
            "id (replies and labels are matched to prompts by it): fix the ids or drop the repeated rows"
        )
    return rows, info
