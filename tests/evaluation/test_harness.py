"""`falsereject eval` / `leaderboard` / `compare` end to end on the tiny model and scripted models."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fault_proxy import FaultProxy
from tqdm import tqdm

from falsereject.cli import main
from falsereject.errors import TransientError
from falsereject.evaluation import harness
from falsereject.evaluation.harness import EvalConfig, run_eval
from falsereject.files import read_jsonl
from falsereject.judge.base import LABELS
from falsereject.llm import BackendConfig, build_backend
from falsereject.llm.base import Generation, Messages
from falsereject.llm.scripted import ScriptedBackend

REFUSE = "I'm sorry, but I can't help with that request."
COMPLY = "Sure! Here is a clear answer.\n\n1. First, check the basics.\n2. Then follow the standard procedure.\n3. Finally, verify the result."


def _scripted(monkeypatch, text_for):
    """Make run_eval's model backend a scripted one answering ``text_for(prompt)``."""
    raw = ScriptedBackend(lambda m, p: text_for(m[-1]["content"]))

    def build(config):
        return build_backend(config, provider=raw) if config.provider == "scripted" else build_backend(config)

    monkeypatch.setattr(harness, "build_backend", build)
    return raw


def test_eval_end_to_end_on_tiny_model(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "eval",
        "--model",
        str(tiny_model_dir),
        "--config",
        "test,harmful",
        "--per-category",
        "1",
        "--max-tokens",
        "6",
        "--output-dir",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| benign-but-scary |" in printed and "harmful" in printed
    report = json.loads((out / "report.json").read_text())
    rows = read_jsonl(out / "responses.jsonl")
    assert len(rows) == 88 == report["n"]
    assert {r["config"] for r in rows} == {"test", "harmful"}
    assert all(r["label"] in LABELS and r["rationale"] for r in rows)
    assert report["scores"]["benign"]["n"] == 44 and report["scores"]["harmful"]["n"] == 44
    assert report["datasets"][0]["version"] == "0.1.0" and report["datasets"][0]["content_hash"]
    assert report["generation"] == {"max_tokens": 6, "temperature": 0.0}
    assert report["usage"]["calls"] == 88
    md = (out / "report.md").read_text()
    assert "![per-category compliance and USR](chart.png)" in md
    assert (out / "chart.png").read_bytes()[:4] == b"\x89PNG"

    # a rerun makes no new generations
    assert main(argv) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["usage"]["calls"] == 0
    assert [r["response"] for r in read_jsonl(out / "responses.jsonl")] == [r["response"] for r in rows]

    # without the run's own record, the response cache answers every request
    (out / "generations.jsonl").unlink()
    assert main(argv) == 0
    third = json.loads((out / "report.json").read_text())
    assert third["usage"]["calls"] == 0 and third["usage"]["cache_hits"] == 88


def test_server_going_away_keeps_generations_and_resumes(tiny_server, tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    upstream = tiny_server.base_url.removesuffix("/v1")
    model = BackendConfig(
        provider="openai",
        model=str(tiny_model_dir),
        max_retries=1,
        max_concurrency=1,
        cache_dir=str(tmp_path / "cache"),
    )
    config = EvalConfig(configs=["test"], limit=10, max_tokens=4, output_dir=str(out), model=model)
    with FaultProxy(upstream, ["ok"] * 4 + ["500"] * 50) as proxy:
        model.base_url = proxy.base_url + "/v1"
        with pytest.raises(Exception) as info:
            run_eval(config)
        message = str(info.value)
        assert "4 of 10 responses are kept" in message and "rerun the same command" in message
        assert len(read_jsonl(out / "generations.jsonl")) == 4
        proxy.plan.clear()  # the server is back (same address: the same run resumes)
        model.max_retries = 3  # not part of the run's identity
        report = run_eval(config)
    assert report["n"] == 10 and report["usage"]["calls"] == 6  # only the missing ones


def test_compare_and_leaderboard(monkeypatch, tmp_path, capsys):
    def scripted_run(name: str, folder: str) -> dict:
        return run_eval(
            EvalConfig(
                model=BackendConfig(provider="scripted", model=name, cache_dir="off"),
                configs=["test", "harmful"],
                per_category=1,
                output_dir=str(tmp_path / folder),
            )
        )

    _scripted(monkeypatch, lambda prompt: REFUSE)
    report_a = scripted_run("refuser", "a")
    assert report_a["scores"]["benign"]["refusal_rate"]["value"] == 1.0
    assert report_a["scores"]["harmful"]["useful_safety_rate"]["value"] == 1.0

    _scripted(monkeypatch, lambda prompt: COMPLY)
    report_b = scripted_run("complier", "b")
    assert report_b["scores"]["benign"]["compliance_rate"]["value"] == 1.0

    assert (
        main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(tmp_path / "cmp.md")]) == 0
    )
    text = capsys.readouterr().out
    assert "44 fixed, 44 broke" in text  # benign prompts now answered; harmful ones now answered too
    assert "44 fixed, 44 broke" in (tmp_path / "cmp.md").read_text()

    assert (
        main(["leaderboard", str(tmp_path / "a"), str(tmp_path / "b"), "--output-dir", str(tmp_path / "lb")])
        == 0
    )
    lines = (tmp_path / "lb" / "leaderboard.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| rank |"))
    table = lines[start:]  # the ranked table of the one benchmark (the shipped sample)
    assert "complier" in table[2] and "refuser" in table[3]  # sorted by compliance
    assert (tmp_path / "lb" / "leaderboard.png").stat().st_size > 1000
    csv_text = (tmp_path / "lb" / "leaderboard.csv").read_text()
    assert "complier" in csv_text and "harmful_usr" in csv_text and "degenerate" in csv_text
    assert "| refusal | degenerate |" in table[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "/no/such/folder"], "no such folder"),
        (["--config", "nope"], "has no config 'nope'; available: "),
        (["--split", "train"], "split"),
    ],
)
def test_clear_errors(tiny_model_dir, tmp_path, capsys, argv, message):
    code = main(["eval", "--model", str(tiny_model_dir), "--output-dir", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_missing_prompt_column(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{"question": "q"}]), folder / "data" / "test.parquet")
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: other\n  data_files:\n  - split: test\n    path: data/test.parquet\n---\n"
    )
    code = main(
        [
            "eval",
            "--model",
            "m",
            "--provider",
            "scripted",
            "--dataset",
            str(folder),
            "--config",
            "other",
            "--output-dir",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2 and "has no column 'prompt'" in capsys.readouterr().err


def test_degenerate_replies_are_recorded_and_reported(monkeypatch, tmp_path):
    from falsereject.evaluation.report import summary_table
    from falsereject.evaluation.selection import select_rows
    from falsereject.judge import get_judge

    config = EvalConfig(
        model=BackendConfig(provider="scripted", model="looper", cache_dir="off"),
        configs=["test"],
        per_category=1,
        limit=4,
        judge="keyword",
        output_dir=str(tmp_path / "run"),
    )
    looping = {r["prompt"] for r in select_rows(config)[0][:2]}
    _scripted(monkeypatch, lambda prompt: "NO. " * 60 if prompt in looping else COMPLY)
    report = run_eval(config)

    rows = read_jsonl(tmp_path / "run" / "responses.jsonl")
    assert [r["degenerate"] for r in rows] == [True, True, False, False]
    assert [r["label"] for r in rows[:2]] == ["direct_refusal"] * 2
    benign = report["scores"]["benign"]
    assert benign["degenerate"] == 2 and benign["degenerate_rate"]["value"] == 0.5
    assert benign["refusal_rate"]["value"] == 0.5
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert saved["scores"] == report["scores"]
    # the judge is recorded with its version, and by the name it was chosen with
    assert saved["judge"]["name"] == get_judge("keyword").name != "keyword"
    assert saved["judge"]["kind"] == "keyword"
    table = summary_table(report)
    assert "| benign-but-scary | 4 (4) | degenerate (labelled refusal) | 0.500 [" in table
    md = (tmp_path / "run" / "report.md").read_text()
    assert f"Judge: `{saved['judge']['name']}`" in md and "| refusal | degenerate |" in md


def test_default_judge_of_a_run_is_the_package_default():
    from falsereject.judge import DEFAULT_JUDGE

    assert EvalConfig().judge == DEFAULT_JUDGE


def test_compare_rejects_unfinished_runs(tmp_path, capsys):
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    assert "not a finished eval run" in capsys.readouterr().err


def test_per_category_selection_is_per_config_and_deterministic():
    from collections import Counter

    from falsereject.evaluation.selection import select_rows

    config = EvalConfig(configs=["test", "harmful"], per_category={"test": 2, "harmful": 1})
    rows, infos = select_rows(config)
    assert [i["rows"] for i in infos] == [88, 44]
    per = Counter((r["config"], r["category"]) for r in rows)
    assert set(per.values()) == {1, 2} and all(per[("test", c)] == 2 for c in range(1, 45))
    assert [r["id"] for r in select_rows(config)[0]] == [r["id"] for r in rows]


def _eval(capsys, *argv: str) -> tuple[int, str, str]:
    """``falsereject eval`` with the scripted echo model; (exit code, stdout, stderr)."""
    try:
        code = main(["eval", "--provider", "scripted", "--model", "echo", "--cache-dir", "off", *argv])
    except SystemExit as exc:  # argparse rejected an option
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--limit", "0"], "argument --limit: expected a whole number >= 1, got '0'"),
        (["--limit", "-1"], "argument --limit: expected a whole number >= 1, got '-1'"),
        (["--per-category", "0"], "argument --per-category: expected K or CONFIG=K"),
        (["--per-category", "-1"], "argument --per-category: expected K or CONFIG=K"),
        (["--per-category", "test=0"], "argument --per-category: expected K or CONFIG=K"),
        (["--per-category", "harmfull=1"], "per_category names config(s) ['harmfull']"),
        (["--batch-size", "-1"], "argument --batch-size: expected a whole number >= 1"),
        (["--max-tokens", "0"], "--max-tokens: must be a whole number >= 1"),
        (["--temperature", "-1"], "--temperature: must be a number >= 0"),
        (["--max-concurrency", "0"], "--max-concurrency: must be a whole number >= 1"),
        (["--config", "test,test"], "config(s) 'test' listed more than once in --config"),
    ],
)
def test_numbers_that_change_what_is_measured_are_refused(tmp_path, capsys, argv, message):
    code, _, err = _eval(capsys, "--output-dir", str(tmp_path / "run"), *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "run" / "generations.jsonl").exists()


def test_limit_is_stated_as_the_number_evaluated(tmp_path, capsys):
    code, printed, _ = _eval(capsys, "--limit", "5", "--output-dir", str(tmp_path / "run"))
    assert code == 0 and "evaluated 5 of 264 prompts (--limit)" in printed
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["selection"] == {"evaluated": 5, "available": 264, "limit": 5, "per_category": None}
    assert report["datasets"][0]["rows"] == 5 and report["datasets"][0]["rows_in_split"] == 264
    assert "(5 prompts, " in (tmp_path / "run" / "report.md").read_text()


def _dataset(folder, rows, schema=None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "data" / "test.parquet")
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: test\n  data_files:\n  - split: test\n    path: data/test.parquet\n---\n"
    )
    return str(folder)


def test_bad_datasets_and_folders_are_one_clear_message(tmp_path, capsys):
    import pyarrow as pa

    cases = [
        (
            _dataset(tmp_path / "null", [{"id": "a", "prompt": "Hi?"}, {"id": "b", "prompt": None}]),
            "config 'test' split 'test' row 1: column 'prompt' is null; every prompt must be text",
        ),
        (
            _dataset(tmp_path / "number", [{"id": "a", "prompt": 5}]),
            "row 0: column 'prompt' is int '5'; every prompt must be text",
        ),
        (
            _dataset(tmp_path / "empty", [], pa.schema([("id", pa.string()), ("prompt", pa.string())])),
            "config 'test' split 'test' has no rows",
        ),
    ]
    for dataset, message in cases:
        code, _, err = _eval(capsys, "--dataset", dataset, "--output-dir", str(tmp_path / "run"))
        assert code == 2 and message in err and "Traceback" not in err, (dataset, err)

    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    code, _, err = _eval(capsys, "--limit", "2", "--output-dir", str(a_file))
    assert code == 2 and f"--output-dir {a_file} is a file, not a folder" in err and "Traceback" not in err


class FailsOnce(ScriptedBackend):
    """A scripted backend whose next request fails with a retryable error while ``fail_next``
    is set (it is at first); the retry is then answered."""

    def __init__(self, respond, *, model: str = "scripted"):
        super().__init__(respond, model=model)
        self.fail_next = True

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        if self.fail_next:
            self.fail_next = False
            raise TransientError("overloaded", retry_after=0.01)
        return await super().agenerate(messages, **params)


def _last_bar(err: str, desc: str) -> str:
    """The last state a tqdm bar starting with ``desc`` printed to stderr."""
    return [part for part in re.split(r"[\r\n]", err) if part.startswith(desc)][-1]


def test_retries_show_on_the_generating_and_judging_bars(monkeypatch, tmp_path, capsys):
    raws = {
        "flaky": FailsOnce(lambda m, p: COMPLY, model="flaky"),
        "flaky-judge": FailsOnce(lambda m, p: "full_compliance", model="flaky-judge"),
    }
    monkeypatch.setattr(
        harness, "build_backend", lambda config: build_backend(config, provider=raws[config.model])
    )
    config = EvalConfig(
        model=BackendConfig(provider="scripted", model="flaky", cache_dir="off"),
        judge="llm",
        judge_model=BackendConfig(provider="scripted", model="flaky-judge", cache_dir="off"),
        limit=3,
        n_boot=10,
        output_dir=str(tmp_path / "run"),
    )
    report = run_eval(config)
    err = capsys.readouterr().err
    assert report["n"] == 3 and report["usage"]["retries"] == 1 and report["usage"]["failures"] == 0
    assert "retries: 1]" in _last_bar(err, "generating")
    assert "retries: 1]" in _last_bar(err, "judging (llm")
    assert "retrying: scripted:flaky: attempt 1/6 failed (overloaded); retrying in 0.0 s" in err
    assert "retrying: scripted:flaky-judge: attempt 1/6 failed (overloaded)" in err


def test_retries_are_shown_only_inside_the_block_and_the_first_is_written_once(capsys):
    raw = FailsOnce("ok")
    backend = build_backend(BackendConfig(provider="scripted", cache_dir="off"), provider=raw)
    messages = [[{"role": "user", "content": "hi"}]]
    bar = tqdm(total=3, disable=True)
    with harness.show_retries(backend, bar):
        backend.generate(messages)
        raw.fail_next = True
        backend.generate(messages)
    assert bar.postfix == "retries: 2"
    raw.fail_next = True
    backend.generate(messages)  # after the block: counted, no longer shown
    assert backend.usage.retries == 3 and bar.postfix == "retries: 2"
    assert capsys.readouterr().err.count("retrying:") == 1


def test_prompt_labels_are_checked_before_anything_is_generated(tmp_path, capsys):
    # the shipped sample's `instruct` config mixes benign prompts with `general` instruction rows
    out = tmp_path / "r"
    argv = ["eval", "--provider", "scripted", "--model", "m", "--cache-dir", "off", "--output-dir", str(out)]
    code = main([*argv, "--config", "instruct", "--split", "train"])
    err = capsys.readouterr().err
    assert code == 2 and "prompt_label 'general'" in err and "Traceback" not in err
    assert not (out / "generations.jsonl").exists()


@pytest.mark.parametrize(
    ("argv", "provider", "batch"),
    [
        ([], "transformers", 32),  # the demo: batch work batches on transformers
        (["--provider", "onnx"], "onnx", 8),  # asked for: kept, at its own batch_size
        (["--provider", "transformers", "--batch-size", "4"], "transformers", 4),
    ],
)
def test_eval_of_the_embedded_model_batches_on_transformers(monkeypatch, capsys, argv, provider, batch):
    from falsereject.commands import eval as eval_command
    from falsereject.llm import config as llm_config

    monkeypatch.setattr(llm_config, "default_provider", lambda model, base_url=None: "onnx")
    seen = []
    monkeypatch.setattr(
        eval_command, "run_eval", lambda config, selected=None: seen.append(config) or {"n": 0}
    )
    assert main(["eval", "--json", *argv]) == 0
    (config,) = seen
    assert (config.model.model, config.model.provider, config.model.batch_size) == (
        "embedded",
        provider,
        batch,
    )
