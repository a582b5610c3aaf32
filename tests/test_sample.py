"""The shipped curated sample: up to date with its sources, loadable, balanced, leak-free."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from datasets import load_dataset

from falsereject.dataset import SAMPLE_DIR
from falsereject.sample import build_sample, sample_configs
from falsereject.taxonomy import CATEGORY_IDS


def test_committed_folder_matches_its_sources(tmp_path):
    shipped = json.loads((SAMPLE_DIR / "manifest.json").read_text())
    rebuilt = json.loads((build_sample(tmp_path / "s") / "manifest.json").read_text())
    assert shipped["content_hash"] == rebuilt["content_hash"], "run `python -m falsereject.sample` and commit"
    assert (SAMPLE_DIR / "README.md").read_text() == (tmp_path / "s" / "README.md").read_text()


@pytest.mark.parametrize(
    ("config", "split", "minimum"),
    [("test", "test", 220), ("harmful", "test", 88), ("instruct", "train", 200)],
)
def test_loads_with_load_dataset(config, split, minimum, tmp_path):
    ds = load_dataset(str(SAMPLE_DIR), config, split=split, cache_dir=str(tmp_path))
    assert len(ds) >= minimum
    assert {"id", "prompt", "category", "category_text", "prompt_label"} <= set(ds.column_names)
    assert len(set(ds["id"])) == len(ds), "ids are unique"


def test_every_category_is_covered():
    configs = sample_configs()
    test_counts = Counter(r["category"] for r in configs["test"]["test"])
    harmful_counts = Counter(r["category"] for r in configs["harmful"]["test"])
    assert all(test_counts[c] >= 5 for c in CATEGORY_IDS)
    assert all(harmful_counts[c] >= 2 for c in CATEGORY_IDS)
    assert {r["prompt_label"] for r in configs["instruct"]["train"]} == {"benign", "harmful", "general"}


def _shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def test_no_train_prompt_leaks_into_the_eval_configs():
    configs = sample_configs()
    evals = [(r["prompt"], _shingles(r["prompt"])) for c in ("test", "harmful") for r in configs[c]["test"]]
    eval_prompts = {p.lower().strip() for p, _ in evals}
    for row in configs["instruct"]["train"]:
        assert row["prompt"].lower().strip() not in eval_prompts
        s = _shingles(row["prompt"])
        for prompt, t in evals:
            jaccard = len(s & t) / len(s | t)
            assert jaccard < 0.5, f"near-duplicate:\n  train: {row['prompt']}\n  eval:  {prompt}"
