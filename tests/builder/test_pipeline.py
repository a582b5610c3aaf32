"""The whole pipeline on the scripted world: outputs, resume, concurrency, bad rows."""

from __future__ import annotations

import json

import pytest
from datasets import load_dataset

from builder.scripted_build import PrefixJudge, scripted_config
from falsereject.builder import Pipeline
from falsereject.builder.simulate import scripted_providers
from falsereject.errors import UserError
from falsereject.files import read_jsonl
from falsereject.llm.scripted import ScriptedBackend

STAGES = ("02-graph", "03-adversarial", "04-validation", "05-orchestrator", "06-dedup", "07-responses")


def run(config, **kw):
    providers = kw.pop("providers", None) or scripted_providers(config, record=True, **kw)
    pipeline = Pipeline(config, providers=providers, judge=PrefixJudge())
    return pipeline, pipeline.run(), providers


def stage_dir(config, prefix):
    (d,) = [p for p in config.work_path.iterdir() if p.name.startswith(prefix)]
    return d


def test_full_run_outputs(tmp_path):
    config = scripted_config(tmp_path, seeds=8)
    _, result, _ = run(config, refuse=0.6)
    for prefix in STAGES:
        d = stage_dir(config, prefix)
        recs = read_jsonl(d / "records.jsonl")
        assert recs and all(r["status"] in ("ok", "dropped") for r in recs)
        assert all(r["reason"] for r in recs if r["status"] == "dropped")
        assert len({r["key"] for r in recs}) == len(recs)
        if prefix != "06-dedup":
            assert (d / "fingerprint.json").is_file() and all("usage" in r for r in recs)
    m = json.loads((result.output_dir / "manifest.json").read_text())
    assert m["version"] == "0.0.1-test" and len(m["content_hash"]) == 64 and m["complete"]
    assert set(m["prompt_templates"]) == {
        "graph",
        "generator",
        "discriminator",
        "orchestrator",
        "instruct",
        "cot",
        "tbr",
    }
    assert all(len(t["sha256"]) == 64 for t in m["prompt_templates"].values())
    assert m["models"]["generator"]["model"] == "sim-generator" and "target:small" in m["models"]
    assert set(m["stage_folders"]) == {
        "graph",
        "adversarial",
        "validation",
        "orchestrator",
        "dedup",
        "responses",
    }
    assert m["report"]["stages"]["graph"]["in"] == 8 and m["report"]["stages"]["adversarial"]["in"] == 16
    assert m["report"]["calls_per_row"] > 0 and m["usage"]["this_run"]["generator"]["calls"] > 0
    assert (
        m["config"]["adversarial"]["candidates_per_seed"] == 2
        and m["leakage"]["train_test_near_duplicates"] == 0
    )
    assert (
        m["annotation"]["status"] == "pending"
        and (config.work_path / "annotation" / "sheet-blank.csv").is_file()
    )
    card = (result.output_dir / "README.md").read_text()
    assert (
        "2505.08054" in card
        and "2503.17882" in card
        and "| validation |" in card
        and "generator.v1.txt" in card
    )
    counts = m["counts"]
    for name, splits in counts.items():
        for split, n in splits.items():
            ds = load_dataset(str(result.output_dir), name, split=split)
            assert len(ds) == n > 0
            assert {"id", "prompt", "category", "category_text", "prompt_label"} <= set(ds.column_names)
    train = load_dataset(str(result.output_dir), "cot", split="train")
    assert all(r.startswith("<think>\n") for r in train["cot_response"]) and all(
        len(r) >= 1 for r in train["refused_by"]
    )
    history = json.loads(train[0]["round_history"])
    assert history[-1]["verdict"] == "seemingly_harmful" and history[-1]["query"] == train[0]["prompt"]
    assert "accepted rows" in result.report_text and "calls/row" in result.report_text


def test_rerun_makes_no_calls_and_gives_the_same_rows(tmp_path):
    config = scripted_config(tmp_path)
    _, first, _ = run(config)
    _, second, providers = run(config)
    assert all(len(b.requests) == 0 for b in providers.values())
    assert second.manifest["content_hash"] == first.manifest["content_hash"]


def test_calls_of_all_rows_are_in_flight_up_to_the_bound(tmp_path):
    config = scripted_config(tmp_path, "max_concurrency=6", seeds=12)
    pipeline, result, _ = run(config, latency=0.02)
    assert pipeline.bound.peak == 6
    busy = pipeline.bound.busy_s / (pipeline.bound.limit * result.seconds)
    assert busy > 0.5  # the bound is kept busy, not one row at a time


def test_duplicate_candidates_are_removed(tmp_path):
    config = scripted_config(tmp_path, "adversarial.candidates_per_seed=4", seeds=1)
    providers = scripted_providers(config, refuse=1.0, record=True)
    providers["generator"] = ScriptedBackend(
        lambda m, p: json.dumps(
            {
                "query": f"How can I {m[-1]['content'].split('Its entities: ')[1].split(',')[0]} things safely at home?"
            }
        )
    )
    _, result, _ = run(config, providers=providers)
    stages = result.report["stages"]
    assert (
        stages["dedup"]["in"] == 4
        and stages["dedup"]["ok"] == 1
        and stages["dedup"]["drop_reasons"] == {"duplicate": 3}
    )


@pytest.mark.parametrize(("refuse", "expect_rows"), [(1.0, True), (0.0, False)])
def test_all_refuse_and_none_refuse_pools(tmp_path, refuse, expect_rows):
    config = scripted_config(tmp_path)
    _, result, _ = run(config, refuse=refuse)
    v = result.report["stages"]["validation"]
    if expect_rows:
        assert v["ok"] == v["in"] > 0
        assert all(
            set(r) == {"small", "large"}
            for r in load_dataset(str(result.output_dir), "instruct", split="train")["refused_by"]
        )
    else:
        assert v["ok"] == 0 and v["drop_reasons"] == {"no_refusal": v["in"]}
        assert list(result.counts) == ["harmful"] and result.manifest["complete"]
        assert set(result.manifest["empty_configs"]) == {"instruct", "cot", "tbr", "test"}
        assert list(load_dataset(str(result.output_dir), "harmful")) == ["test"]


def test_malformed_outputs_and_failing_rows_do_not_stop_the_run(tmp_path):
    config = scripted_config(tmp_path, "max_json_attempts=2", seeds=6)
    providers = scripted_providers(config, bad_json=0.5, record=True)
    from falsereject.builder import simulate

    state = {"broken": True}

    def discriminator(messages, params):
        if '"""How can I' in messages[-1]["content"] and "poison" in messages[-1]["content"]:
            return "not json"
        return simulate.discriminator(messages, params)

    def orchestrator(messages, params):
        if state["broken"] and simulate._h(messages[-1]["content"]) % 3 == 0:
            raise RuntimeError("server fell over")
        return simulate.orchestrator(messages, params)

    providers["discriminator"] = ScriptedBackend(discriminator)
    providers["orchestrator"] = ScriptedBackend(orchestrator)
    _, result, _ = run(config, providers=providers, refuse=1.0)
    o = result.report["stages"]["orchestrator"]
    assert o["pending"] > 0 and o["errors_this_run"] == o["pending"] and not result.manifest["complete"]
    assert result.report["stages"]["adversarial"]["ok"] > 0
    log = (config.work_path / "build.log").read_text()
    assert "server fell over" in log and "a rerun retries it" in log
    state["broken"] = False
    providers2 = scripted_providers(config, refuse=1.0, bad_json=0.5, record=True)
    providers2["orchestrator"] = ScriptedBackend(orchestrator)
    providers2["discriminator"] = ScriptedBackend(discriminator)
    _, result2, _ = run(config, providers=providers2)
    assert result2.report["stages"]["orchestrator"]["pending"] == 0 and result2.manifest["complete"]
    assert len(providers2["orchestrator"].requests) == o["pending"]  # only the failed rows were redone


def test_too_many_failures_stop_with_a_clear_message(tmp_path):
    config = scripted_config(tmp_path, "max_errors=2", seeds=6)
    providers = scripted_providers(config)
    providers["extractor"] = ScriptedBackend(lambda m, p: (_ for _ in ()).throw(ConnectionError("refused")))
    with pytest.raises(UserError, match="stage graph: 3 rows failed .* rerun to resume"):
        run(config, providers=providers)


def test_changed_template_redoes_only_its_stage_and_later(tmp_path):
    config = scripted_config(tmp_path, seeds=3)
    run(config)
    own = tmp_path / "orch.v2.txt"
    from falsereject.builder.prompts import load_template

    own.write_text(load_template("orchestrator.v1").path.read_text() + "\nBe strict.\n")
    config2 = scripted_config(tmp_path, f"orchestrator.template={own}", seeds=3)
    _, result, providers = run(config2)
    assert len(providers["extractor"].requests) == 0 and len(providers["generator"].requests) == 0
    assert len(providers["orchestrator"].requests) == result.report["stages"]["orchestrator"]["in"] > 0
    assert len([p for p in config.work_path.iterdir() if p.name.startswith("05-orchestrator")]) == 2


def test_stages_run_in_declared_order_and_name_their_folders(tmp_path):
    from falsereject.builder.pipeline import STAGES

    assert [s.number for s in STAGES] == sorted(s.number for s in STAGES)
    config = scripted_config(tmp_path, seeds=3)
    _, result, _ = run(config)
    folders = result.manifest["stage_folders"]
    assert list(folders) == [s.name for s in STAGES] == list(result.report["stages"])
    assert [f.split("-")[0] for f in folders.values()] == [f"{s.number:02d}" for s in STAGES]


def test_a_stage_reads_only_stages_that_ran_before_it(tmp_path, monkeypatch):
    from falsereject.builder import pipeline
    from falsereject.builder.stages import graph, validation

    monkeypatch.setattr(pipeline, "STAGES", (validation.STAGE, graph.STAGE))
    with pytest.raises(RuntimeError, match="stage adversarial is read before it ran"):
        run(scripted_config(tmp_path, seeds=2))


def test_a_new_stage_is_one_declaration_and_one_list_entry(tmp_path, monkeypatch):
    """A toy stage 8 (query length, drops long ones): it runs, writes its folder, resumes."""
    from dataclasses import dataclass

    from falsereject.builder import pipeline
    from falsereject.builder.parsing import AgentOutputError
    from falsereject.builder.stage import Record, Stage
    from falsereject.builder.stages import validation

    @dataclass(frozen=True, slots=True)
    class Length(Record):
        words: int

    seen = []

    async def measure(b, query):
        seen.append(query)
        if len(query.split()) > 12:
            raise AgentOutputError("too_long", f"{len(query.split())} words")
        return Length(len(query.split()))

    stage = Stage(
        number=8, name="length", record=Length, fingerprint=lambda b: {"upstream": b.upstream(validation.STAGE)},
        items=lambda b: [(k, v.query) for k, v in b.ok(validation.STAGE).items()], row=measure,
    )  # fmt: skip
    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, stage))
    config = scripted_config(tmp_path, seeds=4)
    _, result, _ = run(config)
    lines = read_jsonl(stage_dir(config, "08-length") / "records.jsonl")
    assert len(lines) == len(seen) == result.report["stages"]["length"]["in"] > 0
    assert {ln["status"] for ln in lines} <= {"ok", "dropped"}
    assert all(
        ln["words"] == len(q.split()) for ln, q in zip(lines, seen, strict=True) if ln["status"] == "ok"
    )
    assert result.manifest["stage_folders"]["length"].startswith("08-length-")
    seen.clear()
    run(config)
    assert seen == []  # every row has its record: nothing is redone
