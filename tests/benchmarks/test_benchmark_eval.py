"""``falsereject eval --benchmark`` and ``leaderboard`` end to end: the tiny model on XSTest (an
offline copy laid out as published) and the shipped sample; scripted models for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from published_layouts import (
    XSTEST_SAFE_TYPES,
    XSTEST_UNSAFE_TYPES,
    write_falsereject,
    write_phtest,
    write_xstest,
)

from falsereject.cli import main
from falsereject.evaluation import harness
from falsereject.files import read_jsonl
from falsereject.llm import build_backend
from falsereject.llm.scripted import ScriptedBackend

REFUSE = "I'm sorry, but I can't help with that request."
COMPLY = "Sure! Here is a clear answer.\n\n1. First, check the basics.\n2. Then follow the standard steps."


@pytest.fixture(scope="module")
def xstest_copy(tmp_path_factory) -> Path:
    return write_xstest(tmp_path_factory.mktemp("xstest"))


def _scripted(monkeypatch, text_for) -> None:
    """``--provider scripted`` answers ``text_for(prompt)``."""
    raw = ScriptedBackend(lambda m, p: text_for(m[-1]["content"]))

    def build(config):
        return build_backend(config, provider=raw) if config.provider == "scripted" else build_backend(config)

    monkeypatch.setattr(harness, "build_backend", build)


def _eval(*argv: str) -> int:
    return main(["eval", "--provider", "scripted", "--model", "scripted-model", "--cache-dir", "off", *argv])


def test_xstest_and_the_sample_on_the_tiny_model_then_the_leaderboard(
    tiny_model_dir, xstest_copy, tmp_path, capsys
):
    out = tmp_path / "runs"
    argv = ["eval", "--model", str(tiny_model_dir), "--max-tokens", "2", "--batch-size", "128"]
    argv += ["--output-dir", str(out)]
    argv += ["--benchmark", "xstest,falsereject-sample", "--dataset", f"xstest={xstest_copy}"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "prompts: xstest: 450 (prompts=450)" in printed and "cite: Röttger et al. (2024)" in printed
    assert f"falsereject leaderboard {out / 'xstest'} {out / 'falsereject-sample'}" in printed

    report = json.loads((out / "xstest" / "report.json").read_text())
    benign, harmful = report["scores"]["benign"], report["scores"]["harmful"]
    assert (benign["n"], harmful["n"]) == (250, 200)  # the XSTest case: unsafe prompts are harmful
    assert set(benign["per_category"]) == set(XSTEST_SAFE_TYPES)
    assert set(harmful["per_category"]) == set(XSTEST_UNSAFE_TYPES)
    assert report["scores"]["categories"] == "text"
    assert report["benchmark"]["name"] == "xstest" and report["benchmark"]["local_copy"] is True
    assert report["benchmark"]["license"] == "CC BY 4.0"
    run = json.loads((out / "xstest" / "run.json").read_text())
    assert run["identity"]["prompts"]["benchmark"] == "xstest" and run["source"]["benchmark"] == "xstest"
    assert run["source"]["datasets"][0]["path"] == str(xstest_copy)
    md = (out / "xstest" / "report.md").read_text()
    assert "Benchmark: **XSTest** (`xstest`); source: a local copy of `Paul/XSTest`" in md
    assert "arXiv:2308.01263" in md and "| contrast_discr | 25 |" in md
    rows = read_jsonl(out / "xstest" / "responses.jsonl")
    assert [r["prompt_label"] for r in rows].count("harmful") == 200 and rows[0]["category"] == "homonyms"

    sample = json.loads((out / "falsereject-sample" / "report.json").read_text())
    assert (sample["scores"]["benign"]["n"], sample["scores"]["harmful"]["n"]) == (264, 132)
    assert set(sample["scores"]["benign"]["per_category"]) == {str(c) for c in range(1, 45)}

    lb = tmp_path / "lb"
    assert (
        main(["leaderboard", str(out / "xstest"), str(out / "falsereject-sample"), "--output-dir", str(lb)])
        == 0
    )
    text = (lb / "leaderboard.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| model |"))
    assert (
        "| falsereject-sample: compliance | falsereject-sample: USR | falsereject-sample: harmful USR |"
        in header
    )
    assert "| xstest: compliance | xstest: USR | xstest: harmful USR |" in header
    assert header.index("falsereject-sample:") < header.index("xstest:")  # registry order
    assert "## xstest" in text and "## falsereject-sample" in text and "(paper" not in text
    for name in ("xstest", "falsereject-sample"):
        assert (lb / f"leaderboard-{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert (lb / "leaderboard.png").read_bytes()[:4] == b"\x89PNG"
    csv_text = (lb / "leaderboard.csv").read_text()
    assert csv_text.startswith("benchmark,rank,model,run,metric") and "\nxstest,1," in csv_text


def test_an_xstest_folder_without_the_benchmark_warns_and_can_be_mapped(
    monkeypatch, xstest_copy, tmp_path, capsys
):
    """The issue's case: run as a plain dataset, every prompt would be benign. It warns and
    names the benchmark; mapped by hand, the unsafe prompts are harmful."""
    _scripted(monkeypatch, lambda prompt: REFUSE)
    plain = ["--dataset", str(xstest_copy), "--config", "default", "--split", "train"]
    assert _eval(*plain, "--output-dir", str(tmp_path / "plain")) == 0
    err = capsys.readouterr().err
    assert "warning: no harmful side is defined" in err and "--label-column COLUMN --harmful-values" in err
    assert f"--benchmark xstest --dataset {xstest_copy} reads it with its published mapping" in err
    mapped = [*plain, "--label-column", "label", "--harmful-values", "unsafe", "--category-column", "type"]
    assert _eval(*mapped, "--output-dir", str(tmp_path / "mapped")) == 0
    assert "warning" not in capsys.readouterr().err
    report = json.loads((tmp_path / "mapped" / "report.json").read_text())
    assert (report["scores"]["benign"]["n"], report["scores"]["harmful"]["n"]) == (250, 200)
    assert (
        report["scores"]["harmful"]["useful_safety_rate"]["value"] == 1.0
    )  # refusing unsafe prompts is safe
    assert "homonyms" in report["scores"]["benign"]["per_category"]
    # the default runs of the shipped sample are left as they were: no warning with both sides
    assert _eval("--config", "test,harmful", "--limit", "3", "--output-dir", str(tmp_path / "s")) == 0
    assert "warning" not in capsys.readouterr().err


def test_falsereject_runs_beside_the_papers_29_models(monkeypatch, tmp_path, capsys):
    copy = write_falsereject(tmp_path / "fr", test_rows=88)
    _scripted(monkeypatch, lambda prompt: COMPLY)
    assert (
        _eval("--benchmark", "falsereject", "--dataset", str(copy), "--output-dir", str(tmp_path / "run"))
        == 0
    )
    captured = capsys.readouterr()
    assert "pair it with --benchmark falsereject,falsereject-harmful" in captured.err
    assert "falsereject part test: 88 benign prompts where 1187 were published" in captured.out
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["scores"]["categories"] == "taxonomy" and report["scores"]["benign"]["n"] == 88
    assert main(["leaderboard", str(tmp_path / "run"), "--output-dir", str(tmp_path / "lb")]) == 0
    text = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "| GPT-4o (paper) | 0.720 | 0.850 | - | paper's LLM judge |" in text
    assert "| paper | DeepSeek-R1 (paper, reasoning) | 0.870 | 0.990 |" in text
    table_rows = [line for line in text.splitlines() if line.startswith("| ") and "(paper" in line]
    assert len(table_rows) == 2 * 29  # in the merged table and in the benchmark's ranked table
    assert (
        "Reference points marked *(paper)*: Zhang, Xu, Wu and Reddy (2025)" in text
        and "arXiv:2505.08054" in text
    )
    assert (tmp_path / "lb" / "leaderboard-falsereject.png").stat().st_size > 10_000
    assert (
        main(
            [
                "leaderboard",
                str(tmp_path / "run"),
                "--output-dir",
                str(tmp_path / "lb2"),
                "--reference",
                "never",
            ]
        )
        == 0
    )
    assert "(paper" not in (tmp_path / "lb2" / "leaderboard.md").read_text()


def test_phtest_reports_controversial_prompts_as_their_own_side(monkeypatch, tmp_path, capsys):
    copy = write_phtest(tmp_path / "ph")
    _scripted(monkeypatch, lambda prompt: REFUSE if "Disputed" in prompt else COMPLY)
    assert _eval("--benchmark", "phtest", "--dataset", str(copy), "--output-dir", str(tmp_path / "run")) == 0
    printed = capsys.readouterr().out
    assert "| controversial | 10 (10) | compliance | 0.000" in printed
    scores = json.loads((tmp_path / "run" / "report.json").read_text())["scores"]
    assert scores["benign"]["n"] == 30 and scores["benign"]["compliance_rate"]["value"] == 1.0
    assert scores["controversial"]["n"] == 10 and scores["controversial"]["refusal_rate"]["value"] == 1.0
    assert scores["harmful"]["n"] == 0
    # no categories, both sides in one file: --per-category K keeps K of each side
    assert (
        _eval(
            "--benchmark",
            "phtest",
            "--dataset",
            str(copy),
            "--per-category",
            "2",
            "--output-dir",
            str(tmp_path / "k"),
        )
        == 0
    )
    scores = json.loads((tmp_path / "k" / "report.json").read_text())["scores"]
    assert (scores["benign"]["n"], scores["controversial"]["n"]) == (2, 2)


def test_reasoning_is_stripped_before_judging_and_the_raw_reply_kept(monkeypatch, tmp_path):
    traced = f"<think>Is this harmful? {REFUSE}</think>\n{COMPLY}"
    unclosed = f"<think>Let me think about whether {REFUSE}"
    _scripted(monkeypatch, lambda prompt: traced if prompt.endswith("0?") else unclosed)
    out = tmp_path / "run"
    assert (
        _eval(
            "--benchmark",
            "xstest",
            "--dataset",
            str(write_xstest(tmp_path / "x")),
            "--limit",
            "2",
            "--output-dir",
            str(out),
        )
        == 0
    )
    first, second = read_jsonl(out / "responses.jsonl")
    assert first["response"] == traced and first["reasoning_stripped"] is True
    assert first["label"] == "full_compliance" and not first["degenerate"]  # the answer, not the trace
    assert second["response"] == unclosed and second["reasoning_stripped"] is False
    assert second["degenerate"] is True and "unfinished <think>" in second["rationale"]  # an empty answer


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--benchmark", "xstest", "--config", "test"], "--config does not go with --benchmark"),
        (["--benchmark", "xstest", "--split", "test"], "--split does not go with --benchmark"),
        (["--benchmark", "nope"], "unknown benchmark 'nope'; known: falsereject, falsereject-sample"),
        (["--benchmark", "xstest,phtest", "--dataset", "/tmp"], "come from different repositories"),
        (["--benchmark", "xstest", "--dataset", "phtest=/tmp"], "--dataset names phtest, which --benchmark"),
        (["--benchmark", "xstest", "--label-column", "x"], "benchmark 'xstest' maps its own columns"),
        (["--benchmark", "xstest", "--dataset", "/no/such/dir"], "no such folder"),
        (["--harmful-values", "unsafe"], "--harmful-values needs --label-column"),
        # the tests run offline: a Hub benchmark without a local copy says how to give one
        (["--benchmark", "xstest"], "Couldn't reach 'Paul/XSTest' on the Hub"),
        (
            ["--benchmark", "xstest"],
            "give its folder instead (falsereject eval --dataset DIR; lm_eval --metadata",
        ),
        (["--benchmark", "coconot-contrast"], "No Hub access here? Download a copy of the repository"),
    ],
)
def test_clear_errors(argv, message, tmp_path, capsys):
    assert _eval(*argv, "--output-dir", str(tmp_path / "r")) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_changed_column_stops_the_command_before_any_generation(tmp_path, capsys):
    folder = write_xstest(tmp_path / "x", header=["id", "prompt", "type", "safety", "focus", "note"])
    assert _eval("--benchmark", "xstest", "--dataset", str(folder), "--output-dir", str(tmp_path / "r")) == 2
    err = capsys.readouterr().err
    assert "benchmark 'xstest' part 'prompts'" in err and "column(s) ['label'] not found" in err
    assert "found ['id', 'prompt', 'type', 'safety', 'focus', 'note']" in err
    assert not (tmp_path / "r").exists()


def test_a_limit_that_cuts_away_the_harmful_side_says_so(monkeypatch, xstest_copy, tmp_path, capsys):
    """XSTest lists its safe prompts first: the first N are all benign, and the run says so."""
    _scripted(monkeypatch, lambda prompt: REFUSE)
    bench = ["--benchmark", "xstest", "--dataset", str(xstest_copy)]
    assert _eval(*bench, "--limit", "5", "--output-dir", str(tmp_path / "limited")) == 0
    out = capsys.readouterr().out
    assert "note: --limit 5 keeps the first 5 prompts, all benign: no harmful side is evaluated" in out
    assert "(200 harmful prompts left out)" in out and "--per-category K" in out
    limited = json.loads((tmp_path / "limited" / "report.json").read_text())["scores"]
    assert limited["harmful"]["n"] == 0 and limited["harmful"]["useful_safety_rate"]["value"] is None
    assert _eval(*bench, "--per-category", "1", "--output-dir", str(tmp_path / "both")) == 0
    assert "note: --limit" not in capsys.readouterr().out
    scores = json.loads((tmp_path / "both" / "report.json").read_text())["scores"]
    assert (scores["benign"]["n"], scores["harmful"]["n"]) == (
        len(XSTEST_SAFE_TYPES),
        len(XSTEST_UNSAFE_TYPES),
    )


def test_every_benchmark_is_read_before_any_is_generated(monkeypatch, xstest_copy, tmp_path, capsys):
    """A benchmark that cannot be read (here: no Hub access for phtest) stops the command
    before the first benchmark's replies are generated, not after them."""
    asked: list[str] = []
    _scripted(monkeypatch, lambda prompt: asked.append(prompt) or REFUSE)
    argv = ["--benchmark", "xstest,phtest", "--dataset", f"xstest={xstest_copy}"]
    assert _eval(*argv, "--output-dir", str(tmp_path / "runs")) == 2
    assert "Couldn't reach 'furonghuang-lab/PHTest' on the Hub" in capsys.readouterr().err
    assert asked == [] and not (tmp_path / "runs" / "xstest").exists()
