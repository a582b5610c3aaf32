"""The shipped curated sample, in the release's folder format.

Sources (reviewable JSONL written by the maintainers) live in ``data/sources/``; the folder
``data/falsereject_sample/`` is built from them by :func:`build_sample` with the same writer
the builders use, so ``load_dataset(SAMPLE_DIR, "test")`` behaves like the Hub release.
A test checks that the committed folder is up to date with its sources.

Rebuild after editing a source::

    python -m falsereject.sample
"""

from __future__ import annotations

import sys
from pathlib import Path

from falsereject import __version__
from falsereject.dataset import SAMPLE_DIR, make_row, render_card, write_dataset_folder
from falsereject.files import read_jsonl
from falsereject.taxonomy import CATEGORIES

SOURCES = Path(__file__).parent / "data" / "sources"
SAMPLE_VERSION = "0.1.0"


def sample_configs(sources: Path = SOURCES) -> dict[str, dict[str, list[dict]]]:
    test = [
        make_row(r["prompt"], r["category"], "benign", source="falsereject-sample")
        for r in read_jsonl(sources / "test_benign.jsonl")
    ]
    harmful = [
        make_row(r["prompt"], r["category"], "harmful", source="falsereject-sample")
        for r in read_jsonl(sources / "harmful.jsonl")
    ]
    train = [
        make_row(
            r["prompt"],
            r.get("category"),
            r["prompt_label"],
            instruct_response=r["instruct_response"],
            source="falsereject-sample",
        )
        for r in read_jsonl(sources / "train_instruct.jsonl")
    ]
    return {"test": {"test": test}, "harmful": {"test": harmful}, "instruct": {"train": train}}


def build_sample(out_dir: str | Path = SAMPLE_DIR) -> Path:
    configs = sample_configs()
    counts = {c: {s: len(rows) for s, rows in splits.items()} for c, splits in configs.items()}
    per_category = {
        str(cid): sum(1 for r in configs["test"]["test"] if r["category"] == cid) for cid in CATEGORIES
    }
    card = render_card(
        "sample_card.md.j2",
        counts=counts,
        per_category=per_category,
        categories=CATEGORIES,
        version=SAMPLE_VERSION,
    )
    manifest = {
        "name": "falsereject-sample",
        "version": SAMPLE_VERSION,
        "builder": f"falsereject.sample ({__version__})",
        "license": "cc-by-4.0",
        "kind": "curated sample (hand-written), not the full FalseReject release",
        "counts": counts,
        "per_category": {"test": per_category},
    }
    return write_dataset_folder(out_dir, configs, card=card, manifest=manifest)


if __name__ == "__main__":
    path = build_sample(sys.argv[1] if len(sys.argv) > 1 else SAMPLE_DIR)
    print(f"wrote {path}")
