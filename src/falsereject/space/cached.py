"""Precomputed, judged answers to the Space's examples: shown at once, no generation needed.

The file (``cached_examples.jsonl`` next to the Space's ``config.yaml``) has one record per
(example, column): the model's real answer, made by :func:`main` (``spaces/cache_examples.py``)
with the same column configs the Space runs, and the judge's label of it. A record is matched
to a column by :func:`column_key` (the model, its runtime and precision, the system prompt),
so a column that now runs another model, or the same one on another runtime, never shows
answers it would not give; its examples then say that no precomputed answer exists. The file
may hold answers for several runtimes (e.g. ``onnx`` where ONNX Runtime GenAI is installed,
``transformers`` elsewhere). The file is append-only and keyed, so an interrupted
run resumes where it stopped::

    python spaces/cache_examples.py                 # every example, both columns
    python spaces/cache_examples.py --limit 10      # the first 10 examples only (rerun for more)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from falsereject.dataset import REPO_ROOT
from falsereject.embedded import GGUF_SHA256
from falsereject.errors import UserError
from falsereject.files import append_jsonl, read_jsonl, repair_jsonl_tail
from falsereject.space.config import ColumnConfig, SpaceConfig

log = logging.getLogger(__name__)

SCHEMA = "falsereject-space-cache/v1"
SPACE_DIR = REPO_ROOT / "spaces" / "falsereject_demo"
#: what a cached answer that hit its token limit says (its label is provisional)
CUT_CACHED = "cut at {tokens:,} tokens"
_WEIGHT_SUFFIXES = {".safetensors", ".bin", ".json", ".gguf", ".jinja"}


def _model_identity(config: ColumnConfig) -> str:
    """The model a column runs, independent of where its files live (names and sizes only)."""
    backend = config.backend
    if backend.model == "embedded":
        return f"embedded:{GGUF_SHA256[:16]}"
    folder = Path(backend.model)
    if backend.provider != "openai" and folder.is_dir():
        digest = hashlib.sha256()
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix in _WEIGHT_SUFFIXES:
                digest.update(f"{f.name}:{f.stat().st_size}".encode())
        return f"folder:{digest.hexdigest()[:16]}"  # not its name: a shipped copy is the same model
    return f"{backend.provider}:{backend.model}:{backend.gguf_file or ''}"


def column_key(config: ColumnConfig) -> str:
    """What makes two columns give the same answers: the model, the runtime and precision it
    runs on (the same weights on another runtime give other answers), the system prompt and
    the temperature; not the title, the token limit or where the files live."""
    backend = config.backend
    ident = {
        "model": _model_identity(config),
        "runtime": "" if backend.provider == "openai" else f"{backend.provider}:{backend.dtype}",
        "system_prompt": backend.system_prompt or "",
        "temperature": float(backend.generation.get("temperature") or 0.0),
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CachedAnswer:
    example_id: str
    prompt: str
    column_key: str
    answer: str
    tokens: int
    max_tokens: int
    cut: bool  # stopped at max_tokens: the label is provisional
    label: str
    rationale: str
    judge: str
    runtime: str = ""

    @classmethod
    def from_record(cls, row: dict[str, Any]) -> CachedAnswer:
        fields = cls.__dataclass_fields__
        return cls(**{k: row[k] for k in fields if k in row})


class CachedAnswers:
    """The records of a cache file, by (example id, column key); later records win."""

    def __init__(self, records: list[CachedAnswer] | None = None, path: Path | None = None):
        self.path = path
        self.answers: dict[tuple[str, str], CachedAnswer] = {}
        for record in records or []:
            self.answers[(record.example_id, record.column_key)] = record

    @classmethod
    def load(cls, path: str | Path | None) -> CachedAnswers:
        """The file at ``path``; an absent file is an empty cache (logged), a bad one a UserError."""
        if path is None:
            return cls()
        path = Path(path)
        if not path.is_file():
            log.warning("no cached examples at %s: the examples will have no precomputed answers", path)
            return cls(path=path)
        records = []
        for i, row in enumerate(read_jsonl(path), start=1):
            if row.get("schema") != SCHEMA:
                raise UserError(f"{path} record {i}: schema {row.get('schema')!r}, expected {SCHEMA!r}")
            try:
                records.append(CachedAnswer.from_record(row))
            except TypeError as exc:
                raise UserError(
                    f"{path} record {i}: {exc}; regenerate with spaces/cache_examples.py"
                ) from None
        return cls(records, path)

    def get(self, example_id: str, key: str) -> CachedAnswer | None:
        return self.answers.get((example_id, key))

    def __len__(self) -> int:
        return len(self.answers)


def cache_path(config: SpaceConfig, config_dir: Path | None) -> Path | None:
    """Where ``config.cached_examples`` is: relative to the YAML's folder (else the cwd)."""
    if not config.cached_examples:
        return None
    path = Path(config.cached_examples).expanduser()
    return path if path.is_absolute() else (config_dir or Path.cwd()) / path


# -- making the file -------------------------------------------------------------------------
def _record(example, key: str, title: str, gen, max_tokens: int, verdict, runtime: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "example_id": example.id,
        "prompt": example.prompt,
        "prompt_label": example.prompt_label,
        "column_key": key,
        "column_title": title,
        "answer": gen.text,
        "tokens": int(gen.completion_tokens or 0),
        "max_tokens": max_tokens,
        "cut": (gen.finish_reasons or ["stop"])[0] == "length",
        "label": verdict.label,
        "rationale": verdict.rationale,
        "judge": verdict.judge,
        "runtime": runtime,
        "made": time.strftime("%Y-%m-%d"),
    }


async def fill(
    config: SpaceConfig,
    columns,
    examples,
    path: Path,
    *,
    max_tokens: int | None = None,
) -> int:
    """Answer and judge every (example, column) missing from ``path`` (columns: the Space's
    :class:`~falsereject.space.columns.Column` list); each record is appended as soon as it is
    judged, so a killed run keeps what it made. Returns the number written."""
    from falsereject.space.compare import LiveJudge

    if path.exists():
        repair_jsonl_tail(path)
    have = CachedAnswers.load(path) if path.exists() else CachedAnswers()
    judge = LiveJudge(config).load()
    if judge is None:
        raise UserError(f"judge {config.judge!r} cannot be built; see the log")
    for column in columns:
        if column.backend is None:
            raise UserError(f"column {column.title!r} cannot be built; see the log above")
    keys = [column_key(column.config) for column in columns]
    # example by example (both columns), so that an interrupted run leaves whole comparisons
    jobs = [
        (ex, column, key)
        for ex in examples
        for column, key in zip(columns, keys, strict=True)
        if have.get(ex.id, key) is None
    ]
    log.info("%d answer(s) to make (%d already cached) into %s", len(jobs), len(have), path)
    done = 0
    started = time.monotonic()

    async def one(ex, column, key):
        nonlocal done
        budget = int(max_tokens or column.config.backend.generation.get("max_tokens") or 256)
        messages = [{"role": "user", "content": ex.prompt}]
        gen = await column.backend.agenerate(messages, max_tokens=budget)
        (verdict,) = await judge.ajudge([ex.prompt], [gen.text])
        runtime = column.config.backend.provider
        append_jsonl(path, [_record(ex, key, column.title, gen, budget, verdict, runtime)])
        done += 1
        log.info(
            "%d/%d %s | %s: %s (%d tokens, %.0f s so far)",
            done,
            len(jobs),
            ex.id,
            column.title[:40],
            verdict.label,
            gen.completion_tokens or 0,
            time.monotonic() - started,
        )

    await asyncio.gather(*(one(*job) for job in jobs))
    return done


def main(argv: list[str] | None = None) -> None:
    from falsereject.space.columns import build_columns
    from falsereject.space.config import load_space_config
    from falsereject.space.examples import ExampleBank

    parser = argparse.ArgumentParser(description="Precompute the Space's judged example answers.")
    parser.add_argument("--config", default=str(SPACE_DIR / "config.yaml"), help="the Space's YAML")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    parser.add_argument("--out", default=None, help="cache file (default: the config's cached_examples)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N examples")
    parser.add_argument("--max-tokens", type=int, default=None, help="default: each column's max_tokens")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        config = load_space_config(args.config, args.set)
        folder = Path(args.config).parent
        columns = build_columns((config.left, config.right), [Path.cwd(), folder, REPO_ROOT])
        examples = ExampleBank.load(config).examples
        examples = examples[: args.limit] if args.limit else examples
        out = Path(args.out) if args.out else cache_path(config, folder)
        if out is None:
            raise UserError("the config has no cached_examples file: pass --out PATH")
        written = asyncio.run(fill(config, columns, examples, out, max_tokens=args.max_tokens))
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"wrote {written} answer(s) to {out}")
