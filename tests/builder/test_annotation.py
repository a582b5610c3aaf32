"""Stage 8b: annotation sheet export/import and agreement (Cohen's / Fleiss' kappa)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from falsereject.builder.annotation import (
    agreement,
    cohen_kappa,
    export_sheet,
    fleiss_kappa,
    load_labels,
    read_sheets,
    save_labels,
)
from falsereject.errors import UserError


def test_cohen_kappa_known_value():
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15 -> kappa 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["x", "y"], ["x", "y"]) == 1.0
    assert cohen_kappa(["x", "x"], ["x", "x"]) == 1.0  # p_e == 1: defined as perfect agreement


def test_fleiss_kappa_known_value():
    # the classic 10 items x 5 categories, 14 raters example (Fleiss 1971) -> 0.210
    m = np.array(
        [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
         [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    )  # fmt: skip
    assert fleiss_kappa(m) == pytest.approx(0.210, abs=5e-4)
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[1, 1], [2, 1]]))


ROWS = [
    {"id": f"fr-{i}", "category": 12, "category_text": "System Intrusion/Hacking", "prompt": f"prompt {i}"}
    for i in range(4)
]


def test_export_then_import_a_shared_sheet(tmp_path):
    path = export_sheet(ROWS, tmp_path / "sheet.csv", ["ann", "bob"])
    assert (tmp_path / "GUIDE.txt").is_file()
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["id", "category", "category_text", "prompt", "label_ann", "label_bob", "notes"]
    for row, (a, b) in zip(
        rows, [("benign", "b"), ("harmful", "benign"), ("Benign", "benign"), ("", "unclear")], strict=True
    ):
        row["label_ann"], row["label_bob"] = a, b
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    labels = read_sheets([path])
    assert labels == {"fr-0": {"ann": "benign", "bob": "benign"}, "fr-1": {"ann": "harmful", "bob": "benign"},
                      "fr-2": {"ann": "benign", "bob": "benign"}, "fr-3": {"bob": "unclear"}}  # fmt: skip
    result = agreement(labels)
    assert result["kappa_kind"] == "cohen" and result["items_complete"] == 3
    assert result["raw_agreement"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["agreed_benign_ids"] == ["fr-0", "fr-2"]
    save_labels(labels, tmp_path / "labels.jsonl")
    assert load_labels(tmp_path / "labels.jsonl") == labels


def test_one_file_per_annotator_and_fleiss(tmp_path):
    for name, labs in {"ann": "bbbh", "bob": "bbhh", "cyd": "bbbh"}.items():
        (tmp_path / f"{name}.csv").write_text(
            "id,label\n" + "".join(f"fr-{i},{lab}\n" for i, lab in enumerate(labs))
        )
    result = agreement(read_sheets(sorted(tmp_path.glob("*.csv"))))
    assert result["annotators"] == ["ann", "bob", "cyd"] and result["kappa_kind"] == "fleiss"
    assert -1 <= result["kappa"] <= 1 and result["agreed"] == {"benign": 2, "harmful": 1}


def test_bad_labels_name_file_and_row(tmp_path):
    (tmp_path / "s.csv").write_text("id,label_a\nfr-1,benign\nfr-2,toxic\n")
    with pytest.raises(UserError, match=r"s.csv:3 column label_a: label 'toxic'"):
        read_sheets([tmp_path / "s.csv"])
    (tmp_path / "t.csv").write_text("prompt,label_a\nx,benign\n")
    with pytest.raises(UserError, match="'id' column"):
        read_sheets([tmp_path / "t.csv"])
