"""Stage 8b: annotation sheet export/import and agreement (Cohen's / Fleiss' kappa)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from falsereject.builder.annotation import (
    agreement,
    apply_labels,
    cohen_kappa,
    export_sheet,
    fleiss_kappa,
    import_labels,
    read_sheets,
)
from falsereject.builder.labels_log import load_labels, save_labels
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


# --- imports must never lose or silently overwrite human labels -------------------------


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_conflicting_duplicate_id_within_a_sheet_is_refused(tmp_path):
    # last-one-wins read fr-0 as harmful/harmful: kappa 0.4 instead of -0.5 (first row wins)
    sheet = write(tmp_path / "s.csv", "id,label_ann,label_bob\nfr-0,benign,harmful\nfr-1,benign,benign\n"
                  "fr-2,harmful,benign\nfr-0,harmful,harmful\n")  # fmt: skip
    with pytest.raises(UserError) as err:
        read_sheets([sheet])
    msg = str(err.value)
    assert "conflict" in msg and "fr-0" in msg and "s.csv:2" in msg and "s.csv:5" in msg
    # ann's two cells are listed; bob's agree with each other (no conflict)
    assert (
        "s.csv:2 column label_ann says 'benign'" in msg and "s.csv:5 column label_ann says 'harmful'" in msg
    )
    assert "label_bob" not in msg
    # a repeated row that agrees with itself is no conflict
    write(tmp_path / "t.csv", "id,label_ann\nfr-0,benign\nfr-0,b\n")
    assert read_sheets([tmp_path / "t.csv"]) == {"fr-0": {"ann": "benign"}}


def test_same_annotator_in_two_sheets_with_different_labels_is_refused(tmp_path):
    shared = write(
        tmp_path / "shared.csv", "id,label_ann,label_bob\nfr-0,benign,benign\nfr-1,harmful,benign\n"
    )
    (tmp_path / "late").mkdir()
    own = write(tmp_path / "late" / "ann.csv", "id,label\nfr-0,harmful\nfr-1,harmful\n")
    with pytest.raises(UserError) as err:
        read_sheets([shared, own])
    msg = str(err.value)
    assert "fr-0" in msg and "shared.csv:2" in msg and "ann.csv:2" in msg and "fr-1" not in msg
    # the same labels given twice (shared sheet + own sheet) are fine
    write(own, "id,label\nfr-0,benign\n")
    assert read_sheets([shared, own])["fr-0"] == {"ann": "benign", "bob": "benign"}


def test_sheet_encoding_and_header_are_validated(tmp_path):
    latin = write(tmp_path / "latin.csv", "id,label_ann\nfr-0,benign\nfr-1,b\u00e9nin\n", "latin-1")
    with pytest.raises(UserError, match=r"latin.csv.*not UTF-8"):
        read_sheets([latin])
    # Excel's "CSV UTF-8" starts with a byte-order mark: the id column is still found
    bom = write(tmp_path / "bom.csv", "\ufeffid,label_ann\nfr-0,benign\n")
    assert read_sheets([bom]) == {"fr-0": {"ann": "benign"}}
    dup = write(tmp_path / "dup.csv", "id,label_ann,label_ann\nfr-0,benign,harmful\n")
    with pytest.raises(UserError, match=r"dup.csv.*label_ann.*twice"):
        read_sheets([dup])
    # an unquoted comma shifts cells into the wrong column: refused, not read askew
    shifted = write(tmp_path / "shifted.csv", "id,prompt,label_ann\nfr-0,how do I, kill a process,benign\n")
    with pytest.raises(UserError, match=r"shifted.csv:2.*4 cells.*3"):
        read_sheets([shifted])
    for name, text in {"empty.csv": "", "header.csv": "id,label_ann,label_bob\n",
                       "blank.csv": "id,label_ann,label_bob\nfr-0,,\nfr-1, ,\n"}.items():  # fmt: skip
        with pytest.raises(UserError, match=rf"{name}.*no labels"):
            read_sheets([write(tmp_path / name, text)])


def test_ids_are_checked_against_the_test_split(tmp_path):
    sheet = write(tmp_path / "s.csv", "id,label_ann\nfr-0,benign\nfr-9,benign\n,harmful\n")
    with pytest.raises(UserError) as err:
        read_sheets([sheet], known_ids={"fr-0", "fr-1"})
    assert "s.csv:3" in str(err.value) and "fr-9" in str(err.value) and "s.csv:4" in str(err.value)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_imports_are_append_only_and_record_provenance(tmp_path):
    labels = tmp_path / "labels.jsonl"
    ann = write(tmp_path / "ann.csv", "id,label\nfr-0,benign\nfr-1,harmful\n")
    bob = write(tmp_path / "bob.csv", "id,label\nfr-0,benign\nfr-1,benign\n")
    first = import_labels([ann], labels)
    assert first.added == 2 and load_labels(labels) == {"fr-0": {"ann": "benign"}, "fr-1": {"ann": "harmful"}}
    before = labels.read_bytes()
    second = import_labels([bob], labels)
    assert second.added == 2 and labels.read_bytes().startswith(before)  # nothing rewritten
    rows = _lines(labels)
    assert len(rows) == 4
    for r in rows:
        assert {"id", "annotator", "label", "imported_at", "imported_by", "import", "sheet", "row"} <= set(r)
    assert rows[2]["sheet"] == str(bob.resolve()) and rows[2]["row"] == 2 and rows[2]["annotator"] == "bob"
    assert rows[0]["import"] != rows[2]["import"]
    # importing the same sheet again adds nothing and does not touch the file
    again = before = labels.read_bytes()
    assert import_labels([bob], labels).added == 0 and labels.read_bytes() == again
    # kappa comes from the merged labels of both imports
    assert agreement(load_labels(labels))["kappa"] == agreement(read_sheets([ann, bob]))["kappa"]


def test_conflict_with_an_earlier_import_is_refused_unless_superseded(tmp_path):
    labels = tmp_path / "labels.jsonl"
    import_labels([write(tmp_path / "s1.csv", "id,label_ann,label_bob\nfr-0,benign,benign\nfr-1,harmful,harmful\n")], labels)  # fmt: skip
    before = labels.read_bytes()
    fix = write(tmp_path / "s2.csv", "id,label_ann\nfr-0,harmful\nfr-1,harmful\n")
    with pytest.raises(UserError) as err:
        import_labels([fix], labels)
    msg = str(err.value)
    assert "s2.csv:2" in msg and "s1.csv" in msg and "fr-0" in msg and "--supersede" in msg
    assert labels.read_bytes() == before
    assert agreement(load_labels(labels))["kappa"] == 1.0
    result = import_labels([fix], labels, supersede=True)
    assert result.added == 1 and result.superseded == 1 and labels.read_bytes().startswith(before)
    last = _lines(labels)[-1]
    assert last["label"] == "harmful" and last["supersedes"]["label"] == "benign"
    assert last["supersedes"]["sheet"].endswith("s1.csv")
    merged = load_labels(labels)
    assert merged["fr-0"] == {"ann": "harmful", "bob": "benign"}
    assert agreement(merged)["raw_agreement"] == 0.5


def test_nothing_is_written_when_any_sheet_is_bad(tmp_path):
    labels = tmp_path / "labels.jsonl"
    good = write(tmp_path / "good.csv", "id,label_ann\nfr-0,benign\n")
    bad = write(tmp_path / "bad.csv", "id,label_bob\nfr-0,toxic\n")
    with pytest.raises(UserError, match=r"bad.csv:2 column label_bob"):
        import_labels([good, bad], labels)
    assert not labels.exists()
    with pytest.raises(UserError, match="not test prompts"):
        import_labels([good], labels, known_ids={"fr-1"})
    assert not labels.exists()


def test_legacy_labels_file_is_kept_and_a_hand_edited_conflict_is_reported(tmp_path):
    labels = tmp_path / "labels.jsonl"
    legacy = '{"id": "fr-0", "labels": {"ann": "benign", "bob": "harmful"}}\n'
    labels.write_text(legacy)
    import_labels([write(tmp_path / "cyd.csv", "id,label\nfr-0,benign\n")], labels)
    assert labels.read_text().startswith(legacy)
    assert load_labels(labels) == {"fr-0": {"ann": "benign", "bob": "harmful", "cyd": "benign"}}
    with pytest.raises(UserError, match="--supersede"):
        save_labels({"fr-0": {"bob": "benign"}}, labels)
    with open(labels, "a") as fh:  # a conflicting line added by hand, not marked as superseding
        fh.write('{"id": "fr-0", "annotator": "bob", "label": "benign"}\n')
    with pytest.raises(UserError, match=r"labels.jsonl:3.*bob.*fr-0"):
        load_labels(labels)


def test_labels_of_other_rows_leave_the_test_split_pending(tmp_path):
    labels = tmp_path / "labels.jsonl"
    save_labels({"fr-9": {"ann": "benign", "bob": "benign"}}, labels)
    test = [{"id": "fr-0"}, {"id": "fr-1"}]
    agreed, block = apply_labels(test, labels, tmp_path / "sheet.csv")
    assert agreed is None and block["status"] == "pending"  # not "imported" with an empty `test`
    save_labels({"fr-0": {"ann": "benign", "bob": "benign"}}, labels)
    agreed, block = apply_labels(test, labels, tmp_path / "sheet.csv")
    assert agreed == {"fr-0"} and block["status"] == "imported" and block["test_rows_kept"] == 1


def test_jsonl_sheets_are_validated_like_csv(tmp_path):
    good = write(tmp_path / "ann.jsonl", '{"id": "fr-0", "label": "b"}\n{"id": "fr-1", "label": null}\n')
    assert read_sheets([good]) == {"fr-0": {"ann": "benign"}}
    bad = write(
        tmp_path / "bob.jsonl", '{"id": "fr-0", "label": "harmful"}\n{"id": "fr-0", "label": "benign"}\n'
    )
    with pytest.raises(UserError, match=r"bob.jsonl:1 column label says 'harmful'; .*bob.jsonl:2"):
        read_sheets([bad])


def test_a_concurrent_import_is_refused_not_interleaved(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    labels = tmp_path / "labels.jsonl"
    sheet = write(tmp_path / "ann.csv", "id,label\nfr-0,benign\n")
    with open(tmp_path / ".labels.jsonl.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UserError, match="another import"):
            import_labels([sheet], labels)
    assert not labels.exists()
    assert import_labels([sheet], labels).added == 1
