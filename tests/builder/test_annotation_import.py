"""`falsereject annotate import`: human labels are validated, merged and never lost."""

from __future__ import annotations

import csv
import json

import pytest
from datasets import load_dataset

from builder.scripted_build import PrefixJudge, write_config
from falsereject import cli
from falsereject.builder import build, load_builder_config
from falsereject.builder.simulate import scripted_providers


@pytest.fixture
def built(tmp_path):
    """(config path, test-split rows of the exported sheet) of a small finished build."""
    path = write_config(tmp_path)
    config = load_builder_config(path)
    build(config, providers=scripted_providers(config, refuse=1.0), judge=PrefixJudge())
    sheet = tmp_path / "sheet.csv"
    assert (
        cli.main(["annotate", "export", "--config", str(path), "--names", "ann,bob", "--out", str(sheet)])
        == 0
    )
    with open(sheet, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 3
    return path, rows


def fill(path, rows, **columns):
    """Write ``rows`` with label columns set from ``columns`` (name -> list of labels)."""
    out = [{**r, **{f"label_{n}": labs[i] for n, labs in columns.items()}} for i, r in enumerate(rows)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    return str(path)


def snapshot(tmp_path):
    """Bytes of every file of the release folder and the labels file."""
    files = sorted((tmp_path / "out").rglob("*")) + [tmp_path / "out.work" / "annotation" / "labels.jsonl"]
    return {str(f): f.read_bytes() for f in files if f.is_file()}


def run(capsys, *argv):
    rc = cli.main(["annotate", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


def test_header_only_sheet_with_no_rebuild_keeps_the_labels(built, tmp_path, capsys):
    path, rows = built
    n = len(rows)
    good = fill(tmp_path / "good.csv", rows, ann=["benign"] * n, bob=["benign"] * n)
    assert run(capsys, "import", "--config", str(path), "--no-rebuild", good)[0] == 0
    before = snapshot(tmp_path)
    (tmp_path / "header.csv").write_text("id,category,category_text,prompt,label_ann,label_bob,notes\n")
    rc, _, err = run(capsys, "import", "--config", str(path), "--no-rebuild", str(tmp_path / "header.csv"))
    assert rc == 2 and "header.csv" in err and "no labels" in err
    assert snapshot(tmp_path) == before


def test_all_blank_sheet_leaves_the_release_alone(built, tmp_path, capsys):
    path, rows = built
    before = snapshot(tmp_path)
    blank = fill(tmp_path / "blank.csv", rows, ann=[""] * len(rows), bob=[""] * len(rows))
    rc, _, err = run(capsys, "import", "--config", str(path), blank)
    assert rc == 2 and "blank.csv" in err and "no labels" in err
    assert snapshot(tmp_path) == before
    assert len(load_dataset(str(tmp_path / "out"), "test", split="test")) == len(rows)


def test_first_annotator_alone_does_not_empty_the_test_config(built, tmp_path, capsys):
    path, rows = built
    before = {k: v for k, v in snapshot(tmp_path).items() if "labels.jsonl" not in k}
    ann = fill(tmp_path / "ann.csv", rows, ann=["benign"] * len(rows), bob=[""] * len(rows))
    rc, out, _ = run(capsys, "import", "--config", str(path), ann)
    assert rc == 0 and "not rebuilding" in out and "labels.jsonl" in out
    assert {k: v for k, v in snapshot(tmp_path).items() if "labels.jsonl" not in k} == before
    bob = fill(
        tmp_path / "bob.csv", rows, ann=[""] * len(rows), bob=["harmful"] + ["benign"] * (len(rows) - 1)
    )
    rc, out, _ = run(capsys, "import", "--config", str(path), bob)
    assert rc == 0 and f"test keeps {len(rows) - 1} agreed-benign prompts" in out
    assert len(load_dataset(str(tmp_path / "out"), "test", split="test")) == len(rows) - 1


def test_non_utf8_sheet_is_one_clear_error(built, tmp_path, capsys):
    path, rows = built
    before = snapshot(tmp_path)
    sheet = tmp_path / "latin.csv"
    sheet.write_bytes(f"id,label_ann\n{rows[0]['id']},b\u00e9nin\n".encode("latin-1"))
    rc, _, err = run(capsys, "import", "--config", str(path), str(sheet))
    assert rc == 2 and "latin.csv" in err and "UTF-8" in err
    assert snapshot(tmp_path) == before
    assert run(capsys, "agreement", str(sheet))[0] == 2


def test_conflicting_duplicate_ids_are_listed_not_resolved(built, tmp_path, capsys):
    path, rows = built
    n = len(rows)
    sheet = fill(
        tmp_path / "dup.csv", rows + [rows[0]], ann=["benign"] * n + ["harmful"], bob=["benign"] * (n + 1)
    )
    before = snapshot(tmp_path)
    for argv in (["agreement", sheet], ["import", "--config", str(path), sheet]):
        rc, out, err = run(capsys, *argv)
        assert rc == 2 and rows[0]["id"] in err and "dup.csv:2" in err and f"dup.csv:{n + 2}" in err
        assert "kappa" not in out
    assert snapshot(tmp_path) == before


def test_same_annotator_in_two_imports_needs_supersede(built, tmp_path, capsys):
    path, rows = built
    n = len(rows)
    first = fill(tmp_path / "first.csv", rows, ann=["benign"] * n, bob=["benign"] * n)
    assert run(capsys, "import", "--config", str(path), first)[0] == 0
    before = snapshot(tmp_path)
    again = fill(tmp_path / "again.csv", rows, ann=["harmful"] + ["benign"] * (n - 1), bob=[""] * n)
    rc, _, err = run(capsys, "import", "--config", str(path), again)
    assert rc == 2 and "again.csv:2" in err and "first.csv" in err and "--supersede" in err
    assert snapshot(tmp_path) == before
    rc, out, _ = run(capsys, "import", "--config", str(path), "--supersede", again)
    assert rc == 0 and "superseded 1" in out and f"test keeps {n - 1} agreed-benign prompts" in out
    log = [
        json.loads(x)
        for x in (tmp_path / "out.work" / "annotation" / "labels.jsonl").read_text().splitlines()
    ]
    assert len(log) == 2 * n + 1 and log[-1]["supersedes"]["label"] == "benign"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["annotation"]["raw_agreement"] == round((n - 1) / n, 4)


def test_help_documents_the_policy(capsys):
    with pytest.raises(SystemExit):
        cli.main(["annotate", "import", "--help"])
    out = capsys.readouterr().out
    assert "--supersede" in out and "conflict" in out and "append" in out
