"""The offline preset's mechanics against a real `transformers serve` of the tiny random model.

The tiny model's text is noise, so these tests assert mechanics, not content: every stage
runs over real HTTP, noise is dropped with logged reasons (never a crash), the folder has
its manifest and card, and `load_dataset(folder, config)` works for every config.
"""

from __future__ import annotations

import json
from pathlib import Path

from datasets import get_dataset_config_names, load_dataset

from falsereject.builder import Pipeline, load_builder_config, simulate
from falsereject.files import read_jsonl
from falsereject.llm.scripted import ScriptedBackend

ROOT = Path(__file__).resolve().parents[2]
PRESET = ROOT / "builders" / "configs" / "offline.yaml"


def served(server, model_dir, max_tokens=16) -> str:
    return (
        f"{{provider: openai, model: '{model_dir}', base_url: '{server.base_url}', max_concurrency: 4, "
        f"max_retries: 1, timeout: 60, generation: {{max_tokens: {max_tokens}, temperature: 0}}}}"
    )


def preset(tmp_path, server, model_dir, *extra):
    b = served(server, model_dir)
    overrides = [
        f"output_dir={tmp_path / 'out'}",
        "progress=false",
        "seeds.categories=[12, 18, 40]",  # the preset takes all 44: three keep the tests quick
        *[f"models.{r}={b}" for r in ("generator", "discriminator", "orchestrator", "responder")],
        f"validation.pool=[{{name: tiny-a, backend: {b}}}, {{name: tiny-b, backend: {served(server, model_dir, 8)}}}]",
        *extra,
    ]
    return load_builder_config(PRESET, overrides)


def check_folder(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    names = get_dataset_config_names(str(out))
    assert sorted(names) == sorted(manifest["counts"])
    for name in names:
        ds = load_dataset(str(out), name)
        assert {split: len(d) for split, d in ds.items()} == manifest["counts"][name]
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and "2505.08054" in card
    return manifest


def test_offline_preset_all_roles_on_the_tiny_server(tmp_path, tiny_server, tiny_model_dir):
    config = preset(tmp_path, tiny_server, tiny_model_dir, "max_json_attempts=2")
    pipeline = Pipeline(config)  # the real judge (keyword), real HTTP for every role
    result = pipeline.run()
    work = config.work_path
    graph = read_jsonl(next(work.glob("02-graph-*/records.jsonl")))
    assert len(graph) == 3  # 3 categories x 1 seed
    for rec in graph:
        assert rec["status"] == "ok" or (rec["reason"] == "invalid_output" and "extractor" in rec["detail"])
        assert rec["usage"]["calls"] >= 1
    for stage in ("03-adversarial", "04-validation", "05-orchestrator", "06-dedup", "07-responses"):
        assert len(list(work.glob(f"{stage}-*"))) == 1
    assert "dropped" in (work / "build.log").read_text()
    manifest = check_folder(result.output_dir)
    assert manifest["complete"] and manifest["report"]["stages"]["graph"]["calls"] >= 3
    assert manifest["usage"]["this_run"]["extractor"]["calls"] >= 3
    assert manifest["models"]["target:tiny-a"]["provider"] == "openai"
    assert "harmful" in manifest["counts"]


def test_offline_preset_text_roles_on_the_tiny_server_reach_the_release(
    tmp_path, tiny_server, tiny_model_dir
):
    """JSON agents scripted, pool and responder served over HTTP: rows flow through every stage."""
    config = preset(
        tmp_path, tiny_server, tiny_model_dir,
        "seeds.per_category=2", "validation.min_refusals=0", "responses.drop_refusals=false",
        "responses.min_chars=1", "split.test_fraction=0.5",
    )  # fmt: skip
    providers = {
        "extractor": ScriptedBackend(simulate.extractor),
        "generator": ScriptedBackend(simulate.make_generator()),
        "discriminator": ScriptedBackend(simulate.discriminator),
        "orchestrator": ScriptedBackend(simulate.orchestrator),
    }
    result = Pipeline(config, providers=providers).run()
    stages = result.report["stages"]
    assert stages["graph"]["ok"] == 6 and stages["validation"]["ok"] == stages["validation"]["in"] > 0
    assert stages["responses"]["calls"] > 0
    manifest = check_folder(result.output_dir)
    assert {"instruct", "cot", "tbr", "test", "harmful"} <= set(manifest["counts"])
    row = load_dataset(str(result.output_dir), "cot", split="train")[0]
    assert row["cot_response"].startswith("<think>\n") and "</think>\n\n" in row["cot_response"]
    assert json.loads(row["graph"])["nodes"] and row["strategy"] in ("ego", "path", "context")
    labels = read_jsonl(next(config.work_path.glob("04-validation-*/records.jsonl")))[0]["labels"]
    assert set(labels) == {"tiny-a", "tiny-b"}
