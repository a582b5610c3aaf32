"""Stage 8, release: configs, the manifest, the folder swap, and the Hub push (mocked: nothing leaves the machine)."""

from __future__ import annotations

import json

import pytest

from falsereject.builder import release
from falsereject.builder.config import load_builder_config
from falsereject.builder.prompts import load_template
from falsereject.builder.rows import Row
from falsereject.builder.stage import Seed
from falsereject.builder.stages.adversarial import Round
from falsereject.errors import UserError

ROUND = Round(1, "benign but scary prompt", "harmless", ["ex"], "seemingly_harmful", "ok")


def row(i, **responses):
    return Row(id=f"fr-{i}", query=f"benign but scary prompt {i}", category=12, seed_id="seed-1", source="s",
               strategy="ego", round_history=[ROUND], refused_by=["small"], graph={"nodes": []},
               orchestrator_reason="ok", responses=responses)  # fmt: skip


SEEDS = [Seed("seed-1", "hack my ex", 12, "s")]


def test_configs_columns_and_agreed_test_rows():
    train = [row(i, instruct="a", cot="<think>\nr\n</think>\n\na", tbr="t") for i in range(3)]
    test = [row(10), row(11)]
    configs = release.release_configs(
        train, test, SEEDS, kinds=["instruct", "cot", "tbr"], agreed_ids=None, include_harmful=True
    )
    assert sorted(configs) == ["cot", "harmful", "instruct", "tbr", "test"]
    r = configs["instruct"]["train"][0]
    assert r["prompt"] == "benign but scary prompt 0" and r["category_text"] == "System Intrusion/Hacking"
    assert r["prompt_label"] == "benign" and r["graph"] == '{"nodes": []}' and "cot_response" not in r
    assert r["rounds"] == 1 and json.loads(r["round_history"]) == [
        {"round": 1, "query": "benign but scary prompt", "benign_reading": "harmless", "entities_used": ["ex"],
         "verdict": "seemingly_harmful", "feedback": "ok"}
    ]  # fmt: skip
    assert configs["cot"]["train"][0]["cot_response"].startswith("<think>")
    assert [x["annotation"] for x in configs["test"]["test"]] == ["pending", "pending"]
    assert configs["harmful"]["test"][0]["prompt_label"] == "harmful"
    agreed = release.release_configs(
        train, test, SEEDS, kinds=["instruct"], agreed_ids={"fr-11"}, include_harmful=False
    )
    assert (
        [x["id"] for x in agreed["test"]["test"]] == ["fr-11"]
        and "harmful" not in agreed
        and "cot" not in agreed
    )


def test_empty_configs_are_left_out():
    configs = release.release_configs(
        [], [], SEEDS, kinds=["instruct"], agreed_ids=None, include_harmful=True
    )
    assert list(configs) == ["harmful"]


def test_manifest_names_what_made_the_release():
    cfg = load_builder_config(None, ["responses.kinds=[instruct]", "release.version=1.2.3"])
    templates = {"graph": load_template("graph.v1")}
    m = release.build_manifest(
        cfg, {"instruct": {"train": 3}}, {"stages": {}}, complete=True, judge={"judge": "keyword", "model": None},
        templates=templates, stage_folders={"graph": "02-graph-abc"}, usage={}, annotation={"status": "pending"},
        leaks=0,
    )  # fmt: skip
    assert m["version"] == "1.2.3" and m["complete"] and m["stage_folders"] == {"graph": "02-graph-abc"}
    assert m["empty_configs"] == ["test", "harmful"]  # instruct has rows; harmful seeds are on by default
    assert m["prompt_templates"]["graph"] == {"file": "graph.v1.txt", "sha256": templates["graph"].sha256}
    assert m["leakage"] == {"train_test_near_duplicates": 0, "reference_prompts": 0}
    assert m["config"]["release"]["version"] == "1.2.3" and "content_hash" not in m


def _write(out, n):
    configs = release.release_configs(
        [row(i, instruct="a") for i in range(n)],
        [],
        SEEDS,
        kinds=["instruct"],
        agreed_ids=None,
        include_harmful=False,
    )
    return release.write_release(out, configs, card_template="sample_card.md.j2",
                                 card_context={"counts": {"test": {"test": 0}, "harmful": {"test": 0}, "instruct": {"train": n}},
                                               "per_category": {"1": 1}, "version": "x"}, manifest={"version": "x"})  # fmt: skip


def test_folder_is_swapped_whole(tmp_path):
    out = tmp_path / "ds"
    _write(out, 2)
    (out / "data" / "stale.txt").write_text("old")
    _write(out, 3)
    assert not (out / "data" / "stale.txt").exists() and (out / "manifest.json").is_file()
    assert not list(tmp_path.glob(".ds.*"))


def test_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(UserError, match="not a falsereject dataset folder"):
        _write(tmp_path / "mine", 1)


def test_push_needs_a_token(tmp_path, monkeypatch):
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(UserError, match="HF_TOKEN"):
        release.push_to_hub(tmp_path, "org/name")


def test_push_uploads_the_folder_and_writes_no_token(tmp_path, monkeypatch):
    calls = []

    class FakeApi:
        def create_repo(self, repo_id, **kw):
            calls.append(("create", repo_id, kw))

        def upload_folder(self, **kw):
            calls.append(("upload", kw["repo_id"], kw))

    import huggingface_hub

    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    out = tmp_path / "ds"
    _write(out, 1)
    url = release.push_to_hub(out, "org/falsereject", private=True)
    assert url == "https://huggingface.co/datasets/org/falsereject"
    assert calls[0] == (
        "create",
        "org/falsereject",
        {"repo_type": "dataset", "private": True, "exist_ok": True},
    )
    assert calls[1][2]["folder_path"] == str(out) and calls[1][2]["repo_type"] == "dataset"
    assert all("hf_secret_value" not in p.read_text(errors="ignore") for p in out.rglob("*") if p.is_file())
