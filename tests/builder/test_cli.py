"""`falsereject build`, `builders/falsereject.py` and `falsereject annotate export|import|agreement`."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

from datasets import load_dataset

from builder.scripted_build import PrefixJudge, write_config
from falsereject import cli
from falsereject.builder import build, load_builder_config
from falsereject.builder.simulate import scripted_providers

ROOT = Path(__file__).resolve().parents[2]


def test_build_command_runs_the_pipeline(tmp_path, capsys):
    # the config's own `scripted` provider echoes prompts: every seed is dropped at the graph
    # stage (echoed text names no entity of the seed), and the run still completes
    path = write_config(tmp_path)
    assert (
        cli.main(
            ["build", "--config", str(path), "--output-dir", str(tmp_path / "elsewhere"), "--limit", "2"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "graph" in out and "wrote" in out and str(tmp_path / "elsewhere") in out
    manifest = json.loads((tmp_path / "elsewhere" / "manifest.json").read_text())
    assert manifest["report"]["stages"]["graph"]["in"] == 2 and list(manifest["counts"]) == ["harmful"]
    assert (tmp_path / "elsewhere.work" / "build.log").is_file()


def test_entry_point_script_reports_bad_config_in_one_line(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("fr_builder_script", ROOT / "builders" / "falsereject.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--config", str(write_config(tmp_path)), "--set", "adversarial.turns=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) turns" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_annotation_round_trip(tmp_path, capsys):
    path = write_config(tmp_path)
    config = load_builder_config(path)
    first = build(config, providers=scripted_providers(config, refuse=1.0), judge=PrefixJudge())
    n_test = first.counts["test"]["test"]
    assert n_test >= 3

    sheet = tmp_path / "sheet.csv"
    assert (
        cli.main(["annotate", "export", "--config", str(path), "--names", "ann,bob", "--out", str(sheet)])
        == 0
    )
    with open(sheet, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_test and {"label_ann", "label_bob"} <= set(rows[0])
    for i, row in enumerate(rows):
        row["label_ann"] = "benign"
        row["label_bob"] = "harmful" if i == 0 else "benign"
    with open(sheet, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    assert cli.main(["annotate", "agreement", str(sheet)]) == 0
    assert '"kappa_kind": "cohen"' in capsys.readouterr().out
    assert cli.main(["annotate", "import", "--config", str(path), str(sheet)]) == 0
    assert f"test keeps {n_test - 1} agreed-benign prompts" in capsys.readouterr().out
    out = tmp_path / "out"
    test = load_dataset(str(out), "test", split="test")
    assert (
        len(test) == n_test - 1
        and rows[0]["id"] not in test["id"]
        and set(test["annotation"]) == {"agreed_benign"}
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["annotation"]["status"] == "imported" and manifest["annotation"]["kappa_kind"] == "cohen"
    assert manifest["content_hash"] != first.manifest["content_hash"]
    assert "Cohen's kappa" in (out / "README.md").read_text()


def test_import_rejects_ids_of_another_build(tmp_path):
    path = write_config(tmp_path)
    config = load_builder_config(path)
    build(config, providers=scripted_providers(config), judge=PrefixJudge())
    (tmp_path / "other.csv").write_text("id,label_a,label_b\nfr-0000,benign,benign\n")
    assert cli.main(["annotate", "import", "--config", str(path), str(tmp_path / "other.csv")]) == 2
