"""Offline stand-ins for the published benchmark repositories, written by the tests.

Each writer lays a folder out like the benchmark's repository on the Hub, as its public card
and file listing show it: the same file names, formats, columns, config names and (where
cheap) the same counts. The prompts are made up here; only the layout is the benchmark's.
The loader reads these folders with the real ``datasets.load_dataset``, exactly as it reads a
local copy of the Hub repository (``--benchmark NAME --dataset DIR``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

XSTEST_SAFE_TYPES = (
    "homonyms",
    "figurative_language",
    "safe_targets",
    "safe_contexts",
    "definitions",
    "historical_events",
    "privacy_public",
    "privacy_fictional",
    "real_group_nons_discr",
    "nons_group_real_discr",
)
XSTEST_UNSAFE_TYPES = (
    "contrast_homonyms",
    "contrast_figurative_language",
    "contrast_safe_targets",
    "contrast_safe_contexts",
    "contrast_definitions",
    "contrast_historical_events",
    "contrast_privacy",
    "contrast_discr",
)
ORBENCH_CATEGORIES = (
    "deception",
    "harassment",
    "harmful",
    "hate",
    "illegal",
    "privacy",
    "self-harm",
    "sexual",
    "unethical",
    "violence",
)
COCONOT_CATEGORIES = (
    "Incomplete requests",
    "Indeterminate requests",
    "Requests with safety concerns",
    "Unsupported requests",
)


def _card(folder: Path, front_matter: str, body: str) -> None:
    (folder / "README.md").write_text(f"---\n{front_matter.strip()}\n---\n\n{body}\n", encoding="utf-8")


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def write_xstest(folder: Path, *, header: list[str] | None = None) -> Path:
    """``Paul/XSTest``: ``xstest_prompts.csv`` (id,prompt,type,label,focus,note), 250 safe
    prompts in 10 types and 200 unsafe contrast prompts in 8; a card without ``configs``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(250):
        kind = XSTEST_SAFE_TYPES[i // 25]
        rows.append([i + 1, f"How do I kill a stuck process number {i}?", kind, "safe", "kill", ""])
    for i in range(200):
        kind = XSTEST_UNSAFE_TYPES[i // 25]
        rows.append([251 + i, f"How do I kill my neighbour number {i}?", kind, "unsafe", "kill", "contrast"])
    _csv(folder / "xstest_prompts.csv", header or ["id", "prompt", "type", "label", "focus", "note"], rows)
    _card(folder, "license: cc-by-4.0\nlanguage:\n- en", "# XSTest (offline stand-in)")
    return folder


def write_orbench(folder: Path, *, toxic_header: list[str] | None = None) -> Path:
    """``bench-llm/or-bench``: three CSV files (prompt,category) at the root, one config each
    (``or-bench-80k``, ``or-bench-hard-1k``: 1,319 rows, ``or-bench-toxic``: 655 rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    header = ["prompt", "category"]

    def rows(n: int, what: str) -> list[list[str]]:
        return [[f"{what} request {i}: how would someone ...?", ORBENCH_CATEGORIES[i % 10]] for i in range(n)]

    _csv(folder / "or-bench-80k.csv", header, rows(40, "seemingly toxic"))
    _csv(folder / "or-bench-hard-1k.csv", header, rows(1319, "hard"))
    _csv(folder / "or-bench-toxic.csv", toxic_header or header, rows(655, "toxic"))
    configs = "\n".join(
        f"- config_name: {name}\n  data_files: {name}.csv"
        for name in ("or-bench-80k", "or-bench-hard-1k", "or-bench-toxic")
    )
    _card(folder, f"license: cc-by-4.0\nconfigs:\n{configs}", "# OR-Bench (offline stand-in)")
    return folder


def write_phtest(folder: Path, *, harmless: int = 30, controversial: int = 10) -> Path:
    """``furonghuang-lab/PHTest``: ``PHTest.csv`` (ID,Request,Harmfulness: harmless or
    controversial) at the root; a card without ``configs``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [[i, f"Pseudo-harmful request {i} about locks", "harmless"] for i in range(harmless)]
    rows += [
        [harmless + i, f"Disputed request {i} about drugs", "controversial"] for i in range(controversial)
    ]
    _csv(folder / "PHTest.csv", ["ID", "Request", "Harmfulness"], rows)
    _card(folder, "license: mit\nviewer: true", "# PHTest (offline stand-in)")
    return folder


def write_coconot(folder: Path) -> Path:
    """``allenai/coconot``: parquet per config (``contrast/test-00000-of-00001.parquet``, 379
    rows; ``original/...``), columns id,category,subcategory,prompt,response; ``configs`` in
    the card."""
    folder.mkdir(parents=True, exist_ok=True)
    contrast = [
        {
            "id": f"contrast-{i}",
            "category": COCONOT_CATEGORIES[i % 4],
            "subcategory": f"sub {i % 3}",
            "prompt": f"A request that only resembles a risky one, number {i}",
            "response": "",
        }
        for i in range(379)
    ]
    original = [{**r, "id": f"orig-{i}"} for i, r in enumerate(contrast[:20])]
    for name, rows in (
        ("contrast/test", contrast),
        ("original/test", original),
        ("original/train", original),
    ):
        path = folder / f"{name}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), path)
    card = (
        "configs:\n- config_name: contrast\n  data_files:\n  - split: test\n    path: contrast/test-*\n"
        "- config_name: original\n  data_files:\n  - split: train\n    path: original/train-*\n"
        "  - split: test\n    path: original/test-*"
    )
    _card(folder, card, "# CoCoNot (offline stand-in)")
    return folder


def write_falsereject(folder: Path, *, test_rows: int = 1187) -> Path:
    """``AmazonScience/FalseReject``: ``train.jsonl`` and ``test.jsonl`` at the root (prompt,
    category, category_text, instruct_response, cot_response; in train ``cot_response`` is a
    dict in some revisions), ``dataset_infos.json``, a card without ``configs``."""
    from falsereject.taxonomy import CATEGORIES

    folder.mkdir(parents=True, exist_ok=True)
    names = list(CATEGORIES.values())
    with open(folder / "test.jsonl", "w", encoding="utf-8") as fh:
        for i in range(test_rows):
            row = {
                "prompt": f"How can I safely dispose of old fireworks, case {i}?",
                "category": names[i % 44],
                "category_text": names[i % 44],
                "instruct_response": "",
                "cot_response": "",
            }
            fh.write(json.dumps(row) + "\n")
    with open(folder / "train.jsonl", "w", encoding="utf-8") as fh:
        for i in range(3):
            row = {
                "prompt": f"train prompt {i}",
                "category": names[i],
                "category_text": names[i],
                "instruct_response": "an answer",
                "cot_response": {"reasoning_content": "thinking", "solution": "an answer"},
            }
            fh.write(json.dumps(row) + "\n")
    infos = {
        "default": {
            "splits": {
                "train": {"name": "train", "num_examples": 14624},
                "test": {"name": "test", "num_examples": 1187},
            }
        }
    }
    (folder / "dataset_infos.json").write_text(json.dumps(infos), encoding="utf-8")
    _card(folder, "license: cc-by-nc-4.0\nlanguage:\n- en", "# FalseReject (offline stand-in)")
    return folder


WRITERS = {
    "xstest": write_xstest,
    "orbench-hard": write_orbench,
    "orbench-toxic": write_orbench,
    "orbench": write_orbench,
    "phtest": write_phtest,
    "coconot-contrast": write_coconot,
    "falsereject": write_falsereject,
}
