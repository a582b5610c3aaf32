"""Stage 6, dedup and leakage: exact and near-duplicate removal (MinHash LSH).

* exact: same normalised prompt (same row id);
* near: estimated Jaccard similarity of character ``shingle_chars``-grams >= ``threshold``
  (``datasketch`` MinHash + LSH for candidates, the MinHash estimate to confirm);
* leakage: no candidate may nearly copy a harmful seed (``against_seeds``) or any prompt of
  the ``reference`` files (e.g. a published test split, an eval benchmark).

Candidates are processed in key order and the first of a group is kept, so the result is
the same whatever order the earlier stages finished in. Since every near-duplicate pair of
the run is removed before the split, no train row nearly copies a test row;
:func:`cross_leaks` checks that again on the final splits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datasketch import MinHash, MinHashLSH

from falsereject.builder.config import DedupConfig
from falsereject.dataset import normalise_prompt, row_id
from falsereject.errors import UserError
from falsereject.files import read_rows

_NON_WORD = re.compile(r"[^a-z0-9 ]+")


def shingles(text: str, k: int) -> list[bytes]:
    norm = " ".join(_NON_WORD.sub(" ", text.lower()).split())
    if len(norm) <= k:
        return [norm.encode()]
    return sorted({norm[i : i + k].encode() for i in range(len(norm) - k + 1)})


class NearDupIndex:
    """MinHash LSH over texts; ``match(text)`` is the first indexed key similar enough."""

    def __init__(self, config: DedupConfig):
        self.config = config
        # LSH only proposes candidates (confirmed with the MinHash estimate below); a very high
        # threshold leaves LSH too few bands, so it proposes at a lower one then.
        lsh_threshold = config.threshold
        while True:
            try:
                self.lsh = MinHashLSH(threshold=lsh_threshold, num_perm=config.num_perm)
                break
            except ValueError:
                if lsh_threshold <= 0.1:
                    raise
                lsh_threshold -= 0.05
        self.hashes: dict[str, MinHash] = {}

    def minhashes(self, texts: list[str]) -> list[MinHash]:
        k = self.config.shingle_chars
        return MinHash.bulk([shingles(t, k) for t in texts], num_perm=self.config.num_perm, seed=1)

    def match(self, m: MinHash) -> str | None:
        hits = [key for key in self.lsh.query(m) if self.hashes[key].jaccard(m) >= self.config.threshold]
        return min(hits) if hits else None

    def add(self, key: str, m: MinHash) -> None:
        if key not in self.hashes:
            self.hashes[key] = m
            self.lsh.insert(key, m)


def load_reference_prompts(paths: Iterable[str]) -> list[str]:
    """Prompts of reference files (.jsonl/.csv/.parquet with a ``prompt`` column) or dataset folders."""
    import pyarrow.parquet as pq

    prompts: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(path.glob("data/**/*.parquet")) or sorted(path.glob("**/*.parquet"))
            if not files:
                raise UserError(f"dedup.reference {path}: a folder with no parquet files")
            for f in files:
                table = pq.read_table(f)
                if "prompt" in table.column_names:
                    prompts += [p for p in table.column("prompt").to_pylist() if p]
        elif path.is_file():
            prompts += [str(r["prompt"]) for r in read_rows(path, "dedup.reference") if r.get("prompt")]
        else:
            raise UserError(f"dedup.reference {path}: no such file or folder")
    return prompts


def dedup(
    candidates: list[dict[str, Any]],
    config: DedupConfig,
    *,
    seeds: list[str] = (),
    references: list[str] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split ``candidates`` (dicts with ``key`` and ``query``) into (kept, drop records)."""
    ordered = sorted(candidates, key=lambda c: c["key"])
    ref_index = NearDupIndex(config)
    ref_texts = [("seed", s) for s in (seeds if config.against_seeds else [])] + [
        ("ref", r) for r in references
    ]
    ref_exact = {}
    for (kind, text), m in zip(ref_texts, ref_index.minhashes([t for _, t in ref_texts]), strict=True):
        key = f"{kind}:{row_id(text)}"
        ref_exact.setdefault(normalise_prompt(text), key)
        ref_index.add(key, m)
    index = NearDupIndex(config)
    seen: dict[str, str] = {}
    kept, dropped = [], []
    for cand, m in zip(ordered, index.minhashes([c["query"] for c in ordered]), strict=True):
        norm = normalise_prompt(cand["query"])
        reason, dup_of = None, None
        if norm in ref_exact or (dup_of := ref_index.match(m)):
            dup_of = dup_of or ref_exact[norm]
            reason = "copies_seed" if dup_of.startswith("seed:") else "leak_reference"
        elif norm in seen:
            reason, dup_of = "duplicate", seen[norm]
        elif dup_of := index.match(m):
            reason = "near_duplicate"
        if reason:
            dropped.append(
                {"key": cand["key"], "status": "dropped", "reason": reason, "detail": f"similar to {dup_of}"}
            )
            continue
        seen[norm] = cand["key"]
        index.add(cand["key"], m)
        kept.append(cand)
    return kept, dropped


def cross_leaks(train: list[str], test: list[str], config: DedupConfig) -> int:
    """How many train prompts nearly copy a test prompt (0 after :func:`dedup`)."""
    if not train or not test:
        return 0
    index = NearDupIndex(config)
    for i, m in enumerate(index.minhashes(test)):
        index.add(f"t{i}", m)
    return sum(1 for m in index.minhashes(train) if index.match(m))
