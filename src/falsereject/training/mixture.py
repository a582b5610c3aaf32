"""A seeded, exactly counted mixture of chat datasets for SFT.

A mixture is a list of sources; each is a Hub id or a local folder (``load_dataset`` reads
both, offline for folders), with a config, split and revision, and takes either a
``fraction`` of that source's rows or an exact number of ``rows``. Rows are drawn at random
with the mixture's seed (never oversampled), turned into chat ``messages`` and shuffled
together. What was used is recorded exactly (:class:`SourceRecord`) for the model card.

In a recipe YAML (``recipes/<model>/sft/config_<variant>.yaml``)::

    dataset_mixture:
      seed: 42
      sources:
        - path: allenai/tulu-3-sft-mixture        # an existing `messages` column
          rows: 50000
        - path: falsereject/falsereject           # prompt + response columns -> user/assistant
          config: instruct
          prompt_column: prompt
          response_column: instruct_response

Formatting: ``messages_column`` (a list of ``{role, content}`` or ShareGPT ``{from, value}``
turns), or ``prompt_column`` + ``response_column`` (one user turn, one assistant turn);
``system_column`` / ``system_prompt`` add a system turn. With none given the columns are
guessed: ``messages``, ``conversations``, ``<config>_response`` + ``prompt``, or
``prompt`` + ``response``/``completion``. ``path: falsereject-sample`` is the curated sample
shipped in the package (:data:`falsereject.dataset.SAMPLE_DIR`).

TRL's own ``DatasetMixtureConfig``/``get_dataset`` (trl 1.16) is not used: it cannot pin a
``revision``, its ``fraction`` is a share of the whole mixture filled with each dataset's
*first* rows, and it neither takes exact row counts nor turns columns into ``messages``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from falsereject.config import from_dict
from falsereject.dataset import SAMPLE_DIR, read_manifest
from falsereject.errors import UserError
from falsereject.files import is_hub_id

SAMPLE_ALIAS = "falsereject-sample"
ROLE_ALIASES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}


@dataclass
class Source:
    """One dataset of the mixture; YAML keys are these fields."""

    path: str
    config: str | None = None
    split: str = "train"
    revision: str | None = None
    fraction: float | None = None
    rows: int | None = None
    messages_column: str | None = None
    prompt_column: str | None = None
    response_column: str | None = None
    system_column: str | None = None
    system_prompt: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.fraction is not None and self.rows is not None:
            raise ValueError(f"source {self.path!r}: set `fraction` or `rows`, not both")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise ValueError(f"source {self.path!r}: fraction must be in (0, 1], got {self.fraction}")
        if self.rows is not None and self.rows < 1:
            raise ValueError(f"source {self.path!r}: rows must be >= 1, got {self.rows}")
        if self.messages_column and (self.prompt_column or self.response_column):
            raise ValueError(
                f"source {self.path!r}: set `messages_column` or `prompt_column`/`response_column`, not both"
            )
        if bool(self.prompt_column) != bool(self.response_column):
            raise ValueError(f"source {self.path!r}: `prompt_column` and `response_column` go together")

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.path + (f" ({self.config})" if self.config else "")


@dataclass
class Mixture:
    """The ``dataset_mixture`` block of a recipe."""

    sources: list[Source]
    seed: int = 42
    eval_rows: int = 0

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("`sources` is empty: list at least one dataset")
        if self.eval_rows < 0:
            raise ValueError(f"eval_rows must be >= 0, got {self.eval_rows}")


@dataclass
class SourceRecord:
    """What one source contributed, exactly (for the model card)."""

    name: str
    path: str
    config: str | None
    split: str
    revision: str | None
    version: str | None
    available: int
    selected: int
    used: int
    dropped: int = 0
    columns: str = ""


@dataclass
class BuiltMixture:
    train: Any  # datasets.Dataset with one column, `messages`
    eval: Any | None
    records: list[SourceRecord] = field(default_factory=list)
    seed: int = 42

    @property
    def total(self) -> int:
        return sum(r.used for r in self.records)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "train_rows": len(self.train),
            "eval_rows": len(self.eval) if self.eval is not None else 0,
            "sources": [asdict(r) for r in self.records],
        }


def parse_mixture(data: dict[str, Any] | Mixture, *, where: str = "dataset_mixture") -> Mixture:
    """A :class:`Mixture` from its YAML mapping; unknown keys and bad values are UserErrors."""
    if isinstance(data, Mixture):
        return data
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping with `sources:` (a list of datasets), got {data!r}")
    return from_dict(Mixture, data, where=where)


def resolve_path(path: str) -> str:
    if path == SAMPLE_ALIAS:
        if not SAMPLE_DIR.is_dir():
            raise UserError(
                f"the shipped sample folder {SAMPLE_DIR} is missing: run `python -m falsereject.sample`"
            )
        return str(SAMPLE_DIR)
    return path


def _version(path: str, revision: str | None) -> str | None:
    """A local folder's manifest version (+ content hash), or a Hub dataset's commit when reachable."""
    if Path(path).is_dir():
        if manifest := read_manifest(path):
            version, digest = manifest.get("version"), (manifest.get("content_hash") or "")[:12]
            return f"{version} (content {digest})" if digest else version
        return None
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return revision
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(path, revision=revision).sha
    except Exception:  # noqa: BLE001 - offline or private: the revision asked for is what we know
        return revision


def _load(source: Source, where: str):
    import datasets

    path = resolve_path(source.path)
    if not Path(path).exists() and not is_hub_id(path):
        raise UserError(
            f"{where}: path {source.path!r} is neither a folder nor a Hub id of the form ORG/NAME"
        )
    try:
        ds = datasets.load_dataset(path, source.config, split=source.split, revision=source.revision)
    except Exception as exc:  # noqa: BLE001 - missing config/split, network, bad files
        raise UserError(
            f"{where}: cannot load {source.path!r} (config {source.config!r}, split {source.split!r}): "
            f"{type(exc).__name__}: {str(exc)[:300]}"
        ) from None
    return path, ds


def _columns(source: Source, columns: list[str], where: str) -> dict[str, str | None]:
    """Which columns hold the conversation: explicit, else guessed from the names."""
    cols = {
        "messages": source.messages_column,
        "prompt": source.prompt_column,
        "response": source.response_column,
        "system": source.system_column,
    }
    if not (cols["messages"] or cols["prompt"]):
        if "messages" in columns:
            cols["messages"] = "messages"
        elif "conversations" in columns:
            cols["messages"] = "conversations"
        elif "prompt" in columns and f"{source.config}_response" in columns:
            cols["prompt"], cols["response"] = "prompt", f"{source.config}_response"
        elif "prompt" in columns and ({"response", "completion"} & set(columns)):
            cols["prompt"] = "prompt"
            cols["response"] = "response" if "response" in columns else "completion"
        else:
            raise UserError(
                f"{where}: cannot tell which columns hold the conversation (columns: {', '.join(columns)}); "
                "set `messages_column`, or `prompt_column` and `response_column`"
            )
    for key, col in cols.items():
        if col and col not in columns:
            raise UserError(f"{where}: no column {col!r} (for {key}); columns are {', '.join(columns)}")
    return cols


def to_messages(
    row: dict[str, Any], cols: dict[str, str | None], system_prompt: str | None = None
) -> list[dict[str, str]]:
    """One row -> a list of ``{role, content}`` turns (ShareGPT ``from``/``value`` turns included)."""
    if cols.get("messages"):
        turns = []
        for turn in row[cols["messages"]] or []:
            role = turn.get("role", turn.get("from"))
            content = turn.get("content", turn.get("value"))
            turns.append(
                {
                    "role": ROLE_ALIASES.get(str(role).lower(), str(role)),
                    "content": "" if content is None else str(content),
                }
            )
    else:
        turns = [
            {"role": "user", "content": str(row[cols["prompt"]] or "")},
            {"role": "assistant", "content": str(row[cols["response"]] or "")},
        ]
    system = (row.get(cols["system"]) if cols.get("system") else None) or system_prompt
    if system and not (turns and turns[0]["role"] == "system"):
        turns = [{"role": "system", "content": str(system)}, *turns]
    return turns


def is_trainable(messages: list[dict[str, str]]) -> bool:
    """A conversation worth training on: a user turn and a non-empty assistant turn."""
    roles = [m["role"] for m in messages]
    return "user" in roles and any(m["role"] == "assistant" and m["content"].strip() for m in messages)


def build_mixture(mixture: Mixture | dict[str, Any], *, where: str = "dataset_mixture") -> BuiltMixture:
    """Load, sample, format and shuffle every source; record the exact counts."""
    import datasets

    mixture = parse_mixture(mixture, where=where)
    features = datasets.Features(
        {"messages": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")})}
    )
    parts, records = [], []
    for i, source in enumerate(mixture.sources):
        at = f"{where}.sources[{i}]"
        path, ds = _load(source, at)
        available = len(ds)
        if source.rows is not None:
            if source.rows > available:
                raise UserError(
                    f"{at}: asks for rows={source.rows} but {source.label} has only {available} rows"
                )
            selected = source.rows
        elif source.fraction is not None:
            selected = max(1, round(source.fraction * available))
        else:
            selected = available
        cols = _columns(source, ds.column_names, at)
        ds = ds.shuffle(seed=mixture.seed).select(range(selected))
        ds = ds.map(
            lambda row, c=cols, s=source.system_prompt: {"messages": to_messages(row, c, s)},
            remove_columns=ds.column_names,
            features=features,
            desc=f"formatting {source.label}",
        )
        ds = ds.filter(lambda row: is_trainable(row["messages"]), desc=f"checking {source.label}")
        if len(ds) == 0:
            raise UserError(
                f"{at}: no row of {source.label} has both a user turn and a non-empty assistant turn"
            )
        used = [c for c in (cols["messages"], cols["prompt"], cols["response"], cols["system"]) if c]
        records.append(
            SourceRecord(
                name=source.label,
                path=source.path,
                config=source.config,
                split=source.split,
                revision=source.revision,
                version=_version(path, source.revision),
                available=available,
                selected=selected,
                used=len(ds),
                dropped=selected - len(ds),
                columns=", ".join(used),
            )
        )
        parts.append(ds)
    combined = datasets.concatenate_datasets(parts).shuffle(seed=mixture.seed)
    eval_ds = None
    if mixture.eval_rows:
        if mixture.eval_rows >= len(combined):
            raise UserError(
                f"{where}: eval_rows={mixture.eval_rows} leaves no training rows (mixture has {len(combined)})"
            )
        eval_ds = combined.select(range(len(combined) - mixture.eval_rows, len(combined)))
        combined = combined.select(range(len(combined) - mixture.eval_rows))
    return BuiltMixture(train=combined, eval=eval_ds, records=records, seed=mixture.seed)
