"""Stage 8c: configs, the folder swap, and the Hub push (mocked: nothing leaves the machine)."""

from __future__ import annotations

import pytest

from falsereject.builder import release
from falsereject.errors import UserError


def row(i, **kw):
    return {"id": f"fr-{i}", "query": f"benign but scary prompt {i}", "category": 12, "seed_id": "seed-1", "source": "s",
            "strategy": "ego", "rounds": 1, "refused_by": ["small"], "graph": {"nodes": []}, "orchestrator_reason": "ok", **kw}  # fmt: skip


SEEDS = [{"seed_id": "seed-1", "prompt": "hack my ex", "category": 12, "source": "s"}]


def test_configs_columns_and_agreed_test_rows():
    train = [
        row(i, instruct_response="a", cot_response="<think>\nr\n</think>\n\na", tbr_response="t")
        for i in range(3)
    ]
    test = [row(10), row(11)]
    configs = release.release_configs(
        train, test, SEEDS, kinds=["instruct", "cot", "tbr"], agreed_ids=None, include_harmful=True
    )
    assert sorted(configs) == ["cot", "harmful", "instruct", "tbr", "test"]
    r = configs["instruct"]["train"][0]
    assert r["prompt"] == "benign but scary prompt 0" and r["category_text"] == "System Intrusion/Hacking"
    assert r["prompt_label"] == "benign" and r["graph"] == '{"nodes": []}' and "cot_response" not in r
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


def _write(out, n):
    configs = release.release_configs(
        [row(i, instruct_response="a") for i in range(n)],
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
