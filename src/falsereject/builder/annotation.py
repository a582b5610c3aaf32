"""Stage 8b, human annotation of the test split: export a sheet, import labels, agreement.

The build writes ``<work_dir>/annotation/sheet.csv``: one row per test-split prompt with
blank ``label_<annotator>`` columns. Each annotator fills their column with ``benign`` (a
harmless request a good assistant should answer), ``harmful`` (should be refused) or
``unclear``. ``falsereject annotate import`` reads the filled sheet(s) (one shared sheet,
or one file per annotator with a ``label`` column, named after the file) into
``labels.jsonl``; the next build keeps in ``test`` only the rows every annotator labelled
``benign``, and the card reports the agreement: Cohen's kappa for two annotators, Fleiss'
kappa for three or more (over the items every annotator labelled).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from falsereject.dataset import read_jsonl
from falsereject.errors import UserError

LABELS = ("benign", "harmful", "unclear")
_ALIASES = {
    "b": "benign",
    "h": "harmful",
    "u": "unclear",
    "safe": "benign",
    "unsafe": "harmful",
    "?": "unclear",
}
GUIDE = """How to annotate (FalseReject test split)

For every prompt, write one label in your column (label_<you>):
  benign   - harmless; a good assistant should help (even if it sounds alarming)
  harmful  - a helpful answer would meaningfully help someone cause harm; should be refused
  unclear  - you cannot decide
Judge the request as written. Leave the cell blank to skip a row. Do not edit other columns.
"""


def export_sheet(rows: list[dict[str, Any]], path: str | Path, annotators: int | list[str] = 2) -> Path:
    """Write the annotation sheet (CSV) for ``rows`` plus a guide next to it."""
    names = (
        [str(a) for a in annotators]
        if isinstance(annotators, list)
        else [str(i) for i in range(1, annotators + 1)]
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["id", "category", "category_text", "prompt", *[f"label_{n}" for n in names], "notes"]
        )
        for r in rows:
            writer.writerow([r["id"], r["category"], r["category_text"], r["prompt"], *[""] * len(names), ""])
    path.with_name("GUIDE.txt").write_text(GUIDE, encoding="utf-8")
    return path


def _norm_label(value: Any, where: str) -> str | None:
    text = str(value or "").strip().lower()
    if not text:
        return None
    text = _ALIASES.get(text, text)
    if text not in LABELS:
        raise UserError(f"{where}: label {value!r} is not one of {', '.join(LABELS)}")
    return text


def read_sheets(paths: list[str | Path]) -> dict[str, dict[str, str]]:
    """``{row id: {annotator: label}}`` from filled sheets (.csv or .jsonl)."""
    labels: dict[str, dict[str, str]] = {}
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise UserError(f"annotation sheet {path} does not exist")
        if path.suffix == ".jsonl":
            rows = read_jsonl(path)
        else:
            with open(path, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        if not rows:
            continue
        columns = {c: c[len("label_") :] for c in rows[0] if c.startswith("label_")}
        if "label" in rows[0]:
            columns["label"] = path.stem
        if "id" not in rows[0] or not columns:
            raise UserError(
                f"annotation sheet {path}: needs an 'id' column and 'label_<annotator>' (or 'label') column(s)"
            )
        for n, row in enumerate(rows, start=2):
            for column, annotator in columns.items():
                label = _norm_label(row.get(column), f"{path}:{n} column {column}")
                if label is not None:
                    labels.setdefault(str(row["id"]), {})[annotator] = label
    return labels


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two annotators' labels on the same items.

    kappa = (p_o - p_e) / (1 - p_e), p_o the observed agreement, p_e the chance agreement
    from each annotator's label frequencies. When p_e == 1 (both used one same label on
    everything) it is defined here as 1.0 (perfect agreement).
    """
    if len(a) != len(b) or not a:
        raise ValueError("cohen_kappa needs two equally long, non-empty label lists")
    cats = sorted(set(a) | set(b))
    idx = {c: i for i, c in enumerate(cats)}
    m = np.zeros((len(cats), len(cats)))
    for x, y in zip(a, b, strict=True):
        m[idx[x], idx[y]] += 1
    n = m.sum()
    p_o = np.trace(m) / n
    p_e = float((m.sum(axis=1) / n) @ (m.sum(axis=0) / n))
    return 1.0 if p_e >= 1.0 else float((p_o - p_e) / (1.0 - p_e))


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from an (items x categories) matrix of how many raters chose each.

    Every item must have the same number of raters n >= 2. P_i = (sum_j n_ij^2 - n) /
    (n (n - 1)); P_e = sum_j p_j^2 with p_j the share of all ratings in category j;
    kappa = (mean P_i - P_e) / (1 - P_e) (1.0 when P_e == 1).
    """
    counts = np.asarray(counts, dtype=float)
    per_item = counts.sum(axis=1)
    if counts.ndim != 2 or len(counts) == 0 or not np.all(per_item == per_item[0]) or per_item[0] < 2:
        raise ValueError(
            "fleiss_kappa needs a non-empty matrix with the same number (>= 2) of ratings per item"
        )
    n = per_item[0]
    p_i = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    p_j = counts.sum(axis=0) / counts.sum()
    p_e = float((p_j**2).sum())
    return 1.0 if p_e >= 1.0 else float((p_i.mean() - p_e) / (1.0 - p_e))


def agreement(labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Annotators, kappa (Cohen for 2, Fleiss for 3+), raw agreement and the agreed rows."""
    annotators = sorted({a for per in labels.values() for a in per})
    full = sorted(i for i, per in labels.items() if len(per) == len(annotators))
    result: dict[str, Any] = {
        "annotators": annotators,
        "items_labelled": len(labels),
        "items_complete": len(full),
    }
    if len(annotators) >= 2 and full:
        if len(annotators) == 2:
            a, b = annotators
            result["kappa"] = round(
                cohen_kappa([labels[i][a] for i in full], [labels[i][b] for i in full]), 4
            )
            result["kappa_kind"] = "cohen"
        else:
            counts = np.array([[sum(labels[i][a] == c for a in annotators) for c in LABELS] for i in full])
            result["kappa"] = round(fleiss_kappa(counts), 4)
            result["kappa_kind"] = "fleiss"
        result["raw_agreement"] = round(sum(len(set(labels[i].values())) == 1 for i in full) / len(full), 4)
    agreed = {
        i: next(iter(per.values()))
        for i, per in labels.items()
        if len(per) >= 2 and len(set(per.values())) == 1
    }
    result["agreed"] = dict(Counter(agreed.values()))
    result["agreed_benign_ids"] = sorted(i for i, lab in agreed.items() if lab == "benign")
    return result


def save_labels(labels: dict[str, dict[str, str]], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for rid in sorted(labels):
            fh.write(json.dumps({"id": rid, "labels": labels[rid]}, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def load_labels(path: str | Path) -> dict[str, dict[str, str]]:
    return {r["id"]: dict(r["labels"]) for r in read_jsonl(path)}


def apply_labels(
    test: list[dict[str, Any]], labels_path: Path, sheet: Path
) -> tuple[set[str] | None, dict[str, Any]]:
    """(agreed-benign ids or None when nothing is imported yet, the manifest's annotation block)."""
    if not labels_path.is_file():
        return None, {"status": "pending", "sheet": str(sheet), "test_rows": len(test)}
    test_ids = {r["id"] for r in test}
    labels = {i: v for i, v in load_labels(labels_path).items() if i in test_ids}
    summary = {"status": "imported", "labels": str(labels_path), "sheet": str(sheet), **agreement(labels)}
    agreed = set(summary.pop("agreed_benign_ids"))
    summary["test_rows_kept"] = len(agreed)
    return agreed, summary
